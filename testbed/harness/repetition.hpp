// One repetition of one experiment: builds its topology, starts the links,
// captures, agents and servers, runs its workloads within their budget,
// stops everything in reverse order and writes the truth and the manifest.
// Split by phase: repetition.cpp (build, teardown), repetition_observers.cpp
// (captures, agents, monitors, their orderly end), repetition_workloads.cpp
// (clients, servers and their truth).
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "budget.hpp"
#include "dns_workload.hpp"
#include "experiment.hpp"
#include "http_workload.hpp"
#include "mptcp_monitor.hpp"
#include "run_support.hpp"
#include "runner.hpp"
#include "topology.hpp"

namespace fc::harness {

class Repetition {
    using json = nlohmann::json;

  public:
    Repetition(const RunOptions& o, const Experiment& x, uint32_t rep,
               const std::filesystem::path& dir, uint16_t collector_port, uint32_t& next_domain,
               const std::string& progress);
    // Returns problems found (empty = the repetition ran as declared).
    std::vector<std::string> run();

  private:
    struct Pending {
        const Workload* w;
        std::vector<std::unique_ptr<Child>> cs;  // http: one ab per concurrent slot
        bool started = false, done = false;
    };
    struct HttpServer {
        const Workload* w;
        HttpPaths paths;
        std::unique_ptr<Child> nginx;
        std::optional<uint64_t> ab_complete;  // ab's "Complete requests"
    };

    std::string log(const std::string& name) const { return (dir_ / "logs" / (name + ".log")); }
    std::string fc() const { return o_.flowcorder; }
    void write_manifest() { std::ofstream(dir_ / "manifest.json") << manifest_.dump(2) << "\n"; }
    static std::string last_line(std::string s);
    static std::string tail_of(const std::string& path);

    // ---- repetition.cpp: topology, links, budget, teardown ----
    void build();
    static void must(const std::vector<std::string>& argv);
    std::vector<std::string> endpoint_add_argv(const MptcpEndpoint& e) const;
    // MPTCP on in every namespace, the path managers' limits and the
    // endpoints that exist from the start (the others are added on schedule).
    void configure_mptcp();
    void start_link(const Link& l, size_t index, json& lj);
    void record_budget();
    void teardown();

    // ---- repetition_observers.cpp: captures, agents, monitors, their end ----
    void start_observers();
    // Does any link corrupt packets, from the start or after a change?
    bool corrupts() const;
    bool has_dns() const;
    void stop_all(std::vector<std::string>& problems);
    // Every record an agent exported is in the store before the repetition
    // counts as recorded: "lost" is computed, never assumed.
    void check_stored(std::vector<std::string>& problems);
    // TCP sockets of the agents' hosts that still have a transition to come
    // (not listening, not in TIME_WAIT: the agent saw their close already).
    std::vector<std::string> open_connections() const;
    // A socket retransmitting ("timer:(on,...,N)", N RTOs in a row) into a
    // path that died has no transition coming before TCP gives up: not waited
    // for. On a merely lossy path it has (a FIN resent through a loss burst).
    static bool backing_off(const std::string& ss_line);
    // Whether the socket (ss's local and peer address:port) belongs to a
    // workload a dead path may carry (budget.hpp).
    bool on_dead_path(const std::string& ss_line) const;
    // Stop the agents only once every connection has made its last
    // transition, instead of sleeping and hoping it did.
    // Bounded by the longest silence a live path plausibly causes (a last
    // FIN resent through a loss burst), at least 10 s.
    void wait_connections_closed();
    void analyse_captures(std::vector<std::string>& problems);

    // ---- repetition_workloads.cpp: clients, servers, their truth ----
    std::string dns_truth_path(const Workload& w, bool server) const;
    // bulk/rr/churn truth: truth/<host>-<workload>-<role>[-mptcp].jsonl (a
    // plain-TCP server of an MPTCP workload writes the TCP file).
    std::string truth_path(const Workload& w, bool server) const;
    std::vector<std::string> in_netns(const std::string& node) const;
    int64_t silence_ns(const std::string& workload) const;
    // The deadline passed: the clients still running abort what they have
    // open (SIGTERM: RST, truth lines with outcome "aborted"), so their
    // connections are validated for what they did; SIGKILL only if one hangs.
    void abort_overdue(std::vector<Pending>& clients, std::vector<std::string>& problems);
    void run_workloads(std::vector<std::string>& problems);
    HttpServer* http_server(const Workload& w);
    // nginx in the server's namespace, configured from the repetition's
    // directory (nothing of the system's /etc/nginx is read).
    void start_nginx(const Workload& w);
    // Ready once the pid file is written and the socket listens (checked
    // with ss, not a connection: the agent would see that connection).
    void wait_nginx_ready(HttpServer& h, std::chrono::milliseconds timeout);
    // ab's connect() calls are not timed, so a client's first RTT sample
    // must not include address resolution: one ping resolves the neighbours
    // (ICMP: no connection for the agents) before the workloads start.
    void warm_neighbours();
    // The ab processes' summaries, added up.
    void check_ab(const Workload& w, const std::vector<std::unique_ptr<Child>>& abs,
                  std::vector<std::string>& problems);
    // After nginx stopped (its log is complete): access log -> truth of both sides.
    void write_http_truth(std::vector<std::string>& problems);
    // After dnsmasq stopped (its log is flushed): the server's truth, and the
    // client's checked for completeness.
    void write_dns_truth(std::vector<std::string>& problems);

    const RunOptions& o_;
    const Experiment& x_;
    uint32_t rep_;
    std::filesystem::path dir_;
    uint16_t collector_port_;
    uint32_t& next_domain_;
    Progress progress_;
    Naming naming_;
    uint64_t seed_;
    json manifest_;
    std::unique_ptr<TopologyBuilder> builder_;
    std::map<std::string, uint32_t> domains_;
    std::map<std::string, std::string> controls_;
    std::vector<std::string> capture_stems_;
    // Declared in start order: destroyed (stopped) in reverse.
    std::vector<std::unique_ptr<Child>> links_, captures_, agents_, servers_;
    std::vector<HttpServer> http_;  // after servers_: stopped first
    std::vector<std::unique_ptr<DnsServer>> dns_;
    std::vector<std::unique_ptr<MptcpMonitor>> monitors_;
    std::set<size_t> endpoints_added_, endpoints_removed_;
    bool stopped_ = false;
    Budget budget_;
    int64_t deadline_ns_ = 0;
};

}  // namespace fc::harness
