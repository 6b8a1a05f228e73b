// An experiment file (TOML, experiments/**/*.toml): the topology, the
// agents, the workloads, repetitions and validation tolerances. Parsing
// checks everything a run would trip over later (names, references,
// addresses, netem specifications, sizes), so a bad file stops the run before
// anything is created. Every error names the file, the line and the field.
// The annotated example is experiments/README.md.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace fc::harness {

class ExperimentError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

enum class NodeKind { host, router, switch_ };

struct Node {
    std::string name;
    NodeKind kind = NodeKind::host;
    bool agent = false;
    std::map<std::string, std::string> sysctls;  // "net.ipv4.tcp_ecn" = "1"
};

struct LinkChange {
    int64_t at_ns = 0;  // since the workloads started
    std::optional<std::string> a_to_b, b_to_a;
};

struct Link {
    std::string name;
    std::string a, b;                         // node names
    std::vector<std::string> a_addr, b_addr;  // CIDR, IPv4 or IPv6
    std::string a_to_b, b_to_a;               // netem specifications ("" = none)
    std::vector<LinkChange> changes;
    bool impaired = false;  // through the impairment engine (else a plain veth)
    bool capture = false;   // libpcap on both ends (impaired links only)
    int mtu = 1500;
};

struct Route {
    std::string node;
    std::string to;   // CIDR or "default"
    std::string via;  // gateway, or "" with type unreachable/blackhole
    std::string type = "unicast";
};

// bulk, rr, churn: `flowcorder workload`; http: nginx serves a file of
// `response` bytes, ApacheBench fetches it `connections` times (one request
// per connection), the truth comes from nginx's access log; dns: dnsmasq
// serves the fc.test zone, `flowcorder workload dns-client` looks names up
// with getaddrinfo() (truth: its lookups and dnsmasq's query log).
enum class WorkloadType { bulk, rr, churn, http, dns };

const char* workload_type_name(WorkloadType t);

struct Workload {
    std::string name;
    WorkloadType type = WorkloadType::bulk;
    std::string client, server;
    std::string server_addr;  // the address the client connects to
    uint16_t port = 0;
    bool listen = true;  // false: nobody listens (a refused connection)
    uint32_t connections = 1, concurrency = 1;
    uint64_t bytes = 1 << 20;
    std::string direction = "up";
    uint64_t request = 100, response = 1000;
    uint32_t requests = 10;
    int64_t start_ns = 0;
    std::string expect = "ok";
    int64_t user_timeout_ns = 0;  // 0: the kernel's default
    int64_t connect_timeout_ns = 10'000'000'000;
    // dns (port is 53; `listen = false` runs no server and drops queries
    // silently, so lookups time out)
    std::vector<std::string> names;     // looked up in this order, round robin
    std::vector<std::string> servfail;  // names the server answers SERVFAIL for
    uint32_t lookups = 0;               // default: one per name
    std::string family = "any";         // any | 4 | 6 (getaddrinfo's ai_family)
    int resolver_timeout_s = 1;         // resolv.conf options timeout:
    int resolver_attempts = 2;          // resolv.conf options attempts:
    int64_t interval_ns = 50'000'000;   // pause between lookups
    // bulk, rr, churn: "tcp" or "mptcp" (IPPROTO_MPTCP sockets on both
    // sides; server_mptcp = false makes the server plain TCP: a fallback)
    std::string protocol = "tcp";
    bool server_mptcp = true;
    // bulk, rr, churn: TCP_CONGESTION on both sides ("": the namespace's
    // default, bbr here; a new namespace's sysctl refuses cubic, setsockopt not)
    std::string congestion;
    bool mptcp() const { return protocol == "mptcp"; }
};

// [[mptcp_endpoint]]: `ip mptcp endpoint add` in a host's namespace, before
// the workloads start or `at` after they started.
struct MptcpEndpoint {
    std::string host;
    std::string addr;                     // an address of that host (no prefix length)
    std::string dev;                      // the link interface holding addr unless given
    std::vector<std::string> flags;       // subflow | signal | backup | fullmesh
    std::optional<int64_t> at_ns;         // since the workloads started
    std::optional<int64_t> remove_at_ns;  // deleted then (its subflows close); needs id
    int id = 0;                           // 0: the kernel picks one
};

// [[mptcp_limits]]: `ip mptcp limits set` in a host's namespace.
struct MptcpLimits {
    std::string host;
    std::optional<int> subflows, add_addr_accepted;
};

struct Tolerance {
    double abs = 0, rel = 0, share = 1.0;
};

struct Experiment {
    std::string file;  // as given
    std::string name, description;
    uint64_t seed = 1;
    uint32_t repetitions = 1;
    int64_t timeout_ns = 0;  // per repetition; 0: derived from the experiment (budget.hpp)
    std::string collector_transport = "tcp";
    std::vector<Node> nodes;
    std::vector<Link> links;
    std::vector<Route> routes;
    std::vector<Workload> workloads;
    std::map<std::string, Tolerance> tolerances;  // "kpi" or "kpi/source"
    // [validation] skip: comparisons the validator may skip, "source" or
    // "kpi/source" -> why (else a skipped one fails the run).
    std::map<std::string, std::string> skips;
    std::vector<MptcpEndpoint> mptcp_endpoints;
    std::vector<MptcpLimits> mptcp_limits;

    bool has_mptcp() const;

    const Node* node(const std::string& name) const;
};

Experiment parse_experiment_file(const std::string& path);
Experiment parse_experiment_text(const std::string& text, const std::string& path_for_errors);

}  // namespace fc::harness
