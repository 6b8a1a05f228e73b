// Topology builders: they turn an experiment's hosts, routers, switches,
// plain links and routes into network namespaces, bridges, veth pairs,
// addresses and routes, and remove them again. Two builders make the same
// thing from the same file: the native one (iproute2, here) and Mininet's
// (testbed/mininet/build_topology.py). Impaired links are not theirs: the
// harness puts the impairment engine between two nodes either builder made.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "experiment.hpp"
#include "common/process.hpp"

namespace fc::harness {

using common::Child;  // common/process.hpp

// Names of what a run creates: everything starts with "fc-tb-" so that
// `flowcorder clean` can find a crashed run's leftovers.
struct Naming {
    std::string tag;  // per repetition, a few hex digits
    std::string netns(const std::string& node) const { return "fc-tb-" + tag + "-" + node; }
    static std::string dev_a(const Link& l) { return "fc-" + l.name + "-a"; }
    static std::string dev_b(const Link& l) { return "fc-" + l.name + "-b"; }
};
inline constexpr const char* kNetnsPrefix = "fc-tb-";

class TopologyBuilder {
  public:
    virtual ~TopologyBuilder() = default;
    // Namespaces for every node (switches get a bridge), plain links with
    // their addresses; not routes (they may go through impaired links).
    virtual void build(const Experiment& x, const Naming& n) = 0;
    // Removes everything build() made; safe to call after a partial build.
    virtual void teardown() = 0;
    virtual std::string kind() const = 0;
};

std::unique_ptr<TopologyBuilder> make_native_builder();
// Runs testbed/mininet/build_topology.py (path given) with /usr/bin/python3.
std::unique_ptr<TopologyBuilder> make_mininet_builder(const std::string& script,
                                                      const std::string& log_dir);

// Shared by both builders and the harness.
void set_sysctl(const std::string& netns, const std::string& key, const std::string& value);
void add_address(const std::string& netns, const std::string& dev, const std::string& cidr);
void add_route(const std::string& netns, const Route& r);
// A switch is a namespace holding one Linux bridge named after the switch.
void attach_to_bridge(const std::string& netns, const std::string& dev, const std::string& bridge);
// Base sysctls of every node: no IPv6 DAD delay, forwarding on routers.
void configure_node(const std::string& netns, const Node& node);
std::vector<std::string> leftover_namespaces();  // fc-tb-* in /var/run/netns
void delete_netns(const std::string& name);
uint64_t netns_inode(const std::string& name);

}  // namespace fc::harness
