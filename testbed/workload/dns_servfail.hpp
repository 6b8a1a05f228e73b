// flowcorder workload dns-servfail: the upstream that dnsmasq forwards the
// experiment's `servfail` names to. dnsmasq 2.90 has no option that answers
// SERVFAIL itself (an unreachable upstream gives REFUSED, a silent one no
// answer at all) but passes an upstream's SERVFAIL on, so this answers every
// query with SERVFAIL. It listens on the server namespace's loopback only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "workload/endpoint.hpp"

namespace fc::workload::dns {

// The SERVFAIL answer to one query: its id, opcode, RD bit and question,
// QR and RA set, RCODE 2, no records. nullopt if `query` is not a query
// with one complete question (then nothing is sent).
std::optional<std::vector<uint8_t>> servfail_reply(const uint8_t* query, size_t len);

// Serves until SIGTERM/SIGINT; prints "ready" once bound. Returns the exit status.
int run_servfail_responder(const Endpoint& listen);

}  // namespace fc::workload::dns
