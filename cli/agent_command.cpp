// flowcorder agent: probes -> FSM -> profiles -> IPFIX (and/or JSON lines).
#include <signal.h>

#include <atomic>
#include <cstdio>
#include <memory>
#include <optional>

#include "commands.hpp"
#include "core/sink.hpp"
#include "daemon/agent.hpp"
#include "ipfix/exporter.hpp"
#include "tcp/tcp_probes.hpp"

namespace fc::cli {

namespace {

// Set by SIGINT/SIGTERM; the agent's loop stops on it.
std::atomic<bool> g_stop{false};

void on_signal(int) { g_stop = true; }

void install_stop_handlers() {
    struct sigaction sa {};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;  // no SA_RESTART: let poll() return at once
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
}

struct CommandOptions {
    std::string collector;
    bool stdout_json = false;
    std::string netns;
    uint32_t observation_domain = 1;
    uint32_t enterprise = ipfix::kDefaultEnterpriseNumber;
    uint32_t max_connections = 65536;
    bool no_ooo_distance = false;
    bool naive = false;
    double duration_s = 0;
    double stats_interval_s = 10;
    std::string cgroup;
    bool quiet = false;
    bool dns = false;
    std::string dns_names = "plain";
    std::string dns_hash_key;
    std::string libc;
    bool mptcp = false;
};

class ExporterSink final : public ProfileSink {
  public:
    explicit ExporterSink(ipfix::Exporter& e) : exporter_(e) {}
    void emit(const ipfix::Record& r) override { exporter_.submit(r); }

  private:
    ipfix::Exporter& exporter_;
};

int run_agent(const CommandOptions& o) {
    if (o.collector.empty() && !o.stdout_json) {
        std::fprintf(stderr, "flowcorder agent: give --collector URL, --stdout, or both\n");
        return 2;
    }
    install_stop_handlers();

    std::unique_ptr<ipfix::Exporter> exporter;
    std::unique_ptr<ExporterSink> exporter_sink;
    JsonLinesSink json(stdout);
    TeeSink tee;
    if (!o.collector.empty()) {
        ipfix::ExporterConfig cfg;
        cfg.url = o.collector;
        cfg.observation_domain = o.observation_domain;
        cfg.enterprise_number = o.enterprise;
        exporter = std::make_unique<ipfix::Exporter>(cfg);
        exporter_sink = std::make_unique<ExporterSink>(*exporter);
        tee.add(exporter_sink.get());
    }
    if (o.stdout_json) tee.add(&json);

    daemon::AgentOptions a;
    a.netns_inode = o.netns.empty() ? 0 : tcp::resolve_netns_inode(o.netns);
    a.netns_label = o.netns;
    a.exporting_to = o.collector.empty() ? "stdout" : o.collector;
    a.max_connections = o.max_connections;
    a.ooo_distance = !o.no_ooo_distance;
    a.naive_per_segment = o.naive;
    a.cgroup_path = o.cgroup;
    a.mptcp = o.mptcp;
    a.dns = o.dns;
    a.dns_profile.hash_names = o.dns_names == "hash";
    a.dns_profile.hash_key = o.dns_hash_key;
    a.libc_path = o.libc;
    a.stats_interval_s = o.stats_interval_s;
    a.duration_s = o.duration_s;
    daemon::Agent agent(a, tee, exporter.get(), o.quiet ? nullptr : stderr);
    const daemon::AgentEnd end = agent.run(g_stop);

    // Nothing leaves silently: every record is on the wire, or the exit
    // line says how many were not (the harness compares it with the store).
    if (exporter) {
        const bool drained = exporter->drain(std::chrono::seconds(10));
        const auto es = exporter->stats();
        std::fprintf(stderr,
                     "flowcorder agent: exit: %llu records exported, %llu dropped, %llu not sent\n",
                     static_cast<unsigned long long>(es.records_sent),
                     static_cast<unsigned long long>(es.records_dropped),
                     static_cast<unsigned long long>(es.records_submitted - es.records_sent -
                                                     es.records_dropped));
        if (!drained) return 1;
    }
    if (!o.quiet && end.open_at_exit > 0)
        std::fprintf(stderr,
                     "flowcorder agent: %zu connections still open at exit ended as DESYNC\n",
                     end.open_at_exit);
    return 0;
}

}  // namespace

void add_agent_command(CLI::App& app) {
    auto o = std::make_shared<CommandOptions>();
    CLI::App* sub = app.add_subcommand(
        "agent",
        "Watch TCP connections (and with --dns, name resolution; with --mptcp, MPTCP "
        "connections) with eBPF probes and export a "
        "performance profile on every state transition (needs root)");
    sub->add_option("--collector", o->collector,
                    "IPFIX collector: udp://HOST:PORT or tcp://HOST:PORT (tcp queues while the "
                    "collector is unreachable)");
    sub->add_flag("--stdout", o->stdout_json, "Also print every profile as a JSON line on stdout");
    sub->add_option("--netns", o->netns,
                    "Watch one network namespace: a name in /var/run/netns, a path such as "
                    "/proc/PID/ns/net, or an inode number (default: all)");
    sub->add_option("--observation-domain", o->observation_domain, "IPFIX observation domain id")
        ->capture_default_str();
    sub->add_option("--enterprise", o->enterprise,
                    "Private enterprise number of Flowcorder's own fields (default 32473, "
                    "IANA's documentation number)")
        ->capture_default_str();
    sub->add_option("--max-connections", o->max_connections,
                    "Size of the kernel connection table; connections beyond it are counted, "
                    "not tracked")
        ->capture_default_str()
        ->check(CLI::Range(1u, 1u << 24));
    sub->add_flag("--no-ooo-distance", o->no_ooo_distance,
                  "Do not measure out-of-order distances (saves a callback per slow-path segment)");
    sub->add_option("--duration", o->duration_s,
                    "Stop after this many seconds (default: until Ctrl-C)")
        ->check(CLI::NonNegativeNumber);
    sub->add_option("--stats-interval", o->stats_interval_s,
                    "Seconds between agent statistics records and lines (0: only at exit)")
        ->capture_default_str()
        ->check(CLI::NonNegativeNumber);
    sub->add_option("--cgroup", o->cgroup,
                    "cgroup-v2 directory for the sockops probe (default: the mount point)");
    sub->add_flag("--quiet", o->quiet, "No progress lines on stderr");
    sub->add_flag("--naive", o->naive,
                  "Overhead evaluation only: also read every connection's state on each "
                  "received segment (raw tracepoint tcp_probe), as a naive per-segment agent "
                  "would; the profiles are unchanged, only the cost grows");
    sub->add_flag("--dns", o->dns,
                  "Also profile name resolution: every getaddrinfo() call of the C library "
                  "(uprobes) and every DNS query over UDP port 53 (cgroup_skb)");
    sub->add_option("--dns-names", o->dns_names,
                    "plain: export looked-up names; hash: export only a keyed hash of each "
                    "name (HMAC-SHA256, see --dns-hash-key)")
        ->capture_default_str()
        ->check(CLI::IsMember({"plain", "hash"}));
    sub->add_option("--dns-hash-key", o->dns_hash_key,
                    "Key of the name hash (default: random, so hashes do not link across "
                    "agent runs)");
    sub->add_flag("--mptcp", o->mptcp,
                  "Also profile MPTCP connections (templates mptcp4/mptcp6) and mark their "
                  "subflows' TCP profiles with the connection's id and token");
    sub->add_option("--libc", o->libc,
                    "C library whose getaddrinfo to probe (default: the one this agent runs on)");
    sub->callback([o] {
        int rc = 0;
        try {
            rc = run_agent(*o);
        } catch (const std::exception& e) {
            std::fprintf(stderr, "flowcorder agent: %s\n", e.what());
            rc = 1;
        }
        if (rc != 0) throw CLI::RuntimeError(rc);
    });
}

}  // namespace fc::cli
