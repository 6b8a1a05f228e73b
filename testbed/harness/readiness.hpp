// When is a topology ready to carry traffic? Not when `ip link set up`
// returns. The kernel finishes bringing a veth up in its linkwatch work,
// which runs at most once a second for "non-urgent" devices, and a veth
// whose peer has the same ifindex is one (every first veth of a fresh
// namespace is ifindex 2). Until that work runs the interface has no
// carrier, and IPv6 has neither its link-local address nor its ff00::/8
// route: a neighbour solicitation arriving then is routed like unicast and
// dropped (IP_INNOROUTES on a router, IP_INADDRERRORS on a host), so the
// first IPv6 SYN of a run waits a second for its retransmission. Seen on
// tcp-unreachable in 9 of 15 loaded runs, found with the skb:kfree_skb and
// neigh:* tracepoints.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace fc::harness {

// Why the first interface of one namespace is not ready, from `ip -j addr
// show` and `ip -j -6 route show table local type multicast` of that
// namespace; nullopt when every addressed interface is. An interface with
// an address must be operationally UP; one with a global IPv6 address must
// also have a link-local address, no tentative address and its multicast
// route. Interfaces without addresses (bridges, bridge ports, lo) are not
// judged.
std::optional<std::string> not_ready_reason(const nlohmann::json& addrs,
                                            const nlohmann::json& multicast_routes);

// Polls the namespaces until every one is ready; returns the seconds it
// waited. Throws std::runtime_error naming the namespace, interface and
// reason if they are not ready within timeout_s.
double wait_until_ready(const std::vector<std::string>& netns, double timeout_s);

}  // namespace fc::harness
