// flowcorder agent: probes -> FSM -> profiles -> IPFIX (and/or JSON lines).
#include <signal.h>

#include <atomic>
#include <cstdio>
#include <memory>
#include <optional>

#include "commands.hpp"
#include "core/clock.hpp"
#include "core/sink.hpp"
#include "dns/dns_probes.hpp"
#include "dns/dns_profiler.hpp"
#include "ipfix/exporter.hpp"
#include "mptcp/mptcp_profiler.hpp"
#include "tcp/tcp_probes.hpp"
#include "tcp/tcp_profiler.hpp"

namespace fc::cli {

namespace {

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

struct AgentOptions {
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

class CountingSink final : public ProfileSink {
  public:
    explicit CountingSink(ProfileSink& next) : next_(next) {}
    void emit(const ipfix::Record& r) override {
        ++count;
        next_.emit(r);
    }
    uint64_t count = 0;

  private:
    ProfileSink& next_;
};

ipfix::Record stats_record(const tcp::ProbeStats& ps, uint64_t profiles, uint64_t dropped,
                           uint64_t desyncs) {
    using ipfix::FieldKey;
    ipfix::Record r;
    r.tmpl = ipfix::TemplateKey::AGENT_STATS;
    r.set(FieldKey::STATS_TIME_NS, WallClock::now_ns());
    r.set(FieldKey::STAT_EVENTS, ps.get(FC_STAT_EVENTS));
    r.set(FieldKey::STAT_EVENTS_LOST, ps.get(FC_STAT_EVENTS_LOST));
    r.set(FieldKey::STAT_TABLE_FULL, ps.get(FC_STAT_TABLE_FULL));
    r.set(FieldKey::STAT_PROFILES, profiles);
    r.set(FieldKey::STAT_PROFILES_DROPPED, dropped);
    r.set(FieldKey::STAT_DESYNC, desyncs);
    return r;
}

void print_stats(const tcp::ProbeStats& ps, uint64_t profiles, const ipfix::ExporterStats* es,
                 size_t tracked) {
    std::fprintf(stderr,
                 "flowcorder agent: %zu open connections, %llu profiles, kernel events %llu "
                 "(lost %llu), table full %llu, untracked closes %llu",
                 tracked, static_cast<unsigned long long>(profiles),
                 static_cast<unsigned long long>(ps.get(FC_STAT_EVENTS)),
                 static_cast<unsigned long long>(ps.get(FC_STAT_EVENTS_LOST)),
                 static_cast<unsigned long long>(ps.get(FC_STAT_TABLE_FULL)),
                 static_cast<unsigned long long>(ps.get(FC_STAT_NOT_TRACKED)));
    if (es)
        std::fprintf(stderr, ", exported %llu, dropped %llu, send errors %llu",
                     static_cast<unsigned long long>(es->records_sent),
                     static_cast<unsigned long long>(es->records_dropped),
                     static_cast<unsigned long long>(es->send_errors));
    std::fprintf(stderr, "\n");
}

int run_agent(const AgentOptions& o) {
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
    CountingSink counted(tee);

    tcp::ProbeOptions popts;
    popts.netns_inode = o.netns.empty() ? 0 : tcp::resolve_netns_inode(o.netns);
    popts.max_connections = o.max_connections;
    popts.ooo_distance = !o.no_ooo_distance;
    popts.naive_per_segment = o.naive;
    popts.cgroup_path = o.cgroup;
    popts.mptcp = o.mptcp;

    WallClock clock;
    tcp::TcpProfiler profiler(clock, counted);
    mptcp::MptcpProfiler mptcp_profiler(clock, counted);
    tcp::TcpProbes probes(
        popts, [&](const fc_tcp_event& e) { profiler.on_event(e); },
        [&](const fc_mptcp_event& e) { mptcp_profiler.on_event(e); });
    if (!o.quiet)
        std::fprintf(
            stderr,
            "flowcorder agent: TCP probes attached (sockops on %s; RTT %s; duplicate detection "
            "%s; out-of-order distance %s); watching %s; exporting to %s\n",
            probes.capabilities().cgroup_path.c_str(),
            probes.capabilities().rtt_samples ? "per sample" : "srtt per ACK (kernel < 6.10)",
            probes.capabilities().duplicate_detection ? "on" : "OFF (kernel < 6.11)",
            popts.ooo_distance ? "on" : "off",
            o.netns.empty() ? "every network namespace" : ("netns " + o.netns).c_str(),
            o.collector.empty() ? "stdout" : o.collector.c_str());
    if (!o.quiet && o.mptcp)
        std::fprintf(stderr,
                     "flowcorder agent: MPTCP connections tracked (inet_sock_set_state on the "
                     "MPTCP socket; subflows marked on their TCP profiles)\n");

    std::unique_ptr<dns::DnsProfiler> dns_profiler;
    std::unique_ptr<dns::DnsProbes> dns_probes;
    if (o.dns) {
        dns::DnsOptions dopts;
        dopts.hash_names = o.dns_names == "hash";
        dopts.hash_key = o.dns_hash_key;
        dns_profiler = std::make_unique<dns::DnsProfiler>(clock, counted, dopts);
        dns::DnsProbeOptions dp;
        dp.netns_inode = popts.netns_inode;
        dp.cgroup_path = o.cgroup;
        dp.libc_path = o.libc;
        dns_probes = std::make_unique<dns::DnsProbes>(
            dp, [&](const fc_dns_lookup_event& e) { dns_profiler->on_lookup(e); },
            [&](const fc_dns_packet_event& e) { dns_profiler->on_packet(e); });
        if (!o.quiet)
            std::fprintf(stderr,
                         "flowcorder agent: DNS probes attached (uprobes on getaddrinfo in %s; "
                         "UDP/53 on cgroup %s); names exported %s\n",
                         dns_probes->libc_path().c_str(), dns_probes->cgroup_path().c_str(),
                         dopts.hash_names ? "as keyed hashes only" : "in clear");
    }

    const uint64_t start = WallClock::mono_now_ns();
    uint64_t last_sweep = start, last_stats = start;
    const auto secs = [](double s) { return static_cast<uint64_t>(s * 1e9); };
    auto export_stats = [&] {
        const tcp::ProbeStats ps = probes.stats();
        std::optional<ipfix::ExporterStats> es;
        if (exporter) {
            es = exporter->stats();
            exporter->submit(stats_record(ps, counted.count, es->records_dropped,
                                          profiler.desyncs() + mptcp_profiler.counters().desyncs));
        }
        if (!o.quiet) print_stats(ps, counted.count, es ? &*es : nullptr, profiler.tracked());
        if (!o.quiet && o.mptcp) {
            const auto& mc = mptcp_profiler.counters();
            std::fprintf(stderr,
                         "flowcorder agent: MPTCP: %zu open connections, %llu opened (%llu fell "
                         "back to TCP), %llu subflows joined, %llu subflows closed, %llu "
                         "subflows of untracked connections\n",
                         mptcp_profiler.tracked(), static_cast<unsigned long long>(mc.connections),
                         static_cast<unsigned long long>(mc.fallbacks),
                         static_cast<unsigned long long>(mc.joins),
                         static_cast<unsigned long long>(mc.subflow_closes),
                         static_cast<unsigned long long>(ps.get(FC_STAT_MP_NOT_TRACKED)));
        }
        if (!o.quiet && dns_probes) {
            const auto ds = dns_probes->stats();
            const auto& dc = dns_profiler->counters();
            std::fprintf(stderr,
                         "flowcorder agent: DNS: %llu lookups, %llu queries (%llu answered, %zu "
                         "waiting), %llu unmatched replies, %llu unparsable messages, %llu "
                         "events lost\n",
                         static_cast<unsigned long long>(dc.lookups),
                         static_cast<unsigned long long>(dc.queries),
                         static_cast<unsigned long long>(dc.replies), dns_profiler->open_queries(),
                         static_cast<unsigned long long>(dc.unmatched_replies),
                         static_cast<unsigned long long>(dc.malformed),
                         static_cast<unsigned long long>(ds.get(FC_DNS_STAT_EVENTS_LOST)));
        }
    };

    while (!g_stop) {
        probes.poll(dns_probes ? 20 : 100);
        if (dns_probes) dns_probes->poll();
        const uint64_t now = WallClock::mono_now_ns();
        if (now - last_sweep >= secs(2)) {
            profiler.sweep([&](uint64_t sk) { return probes.kernel_tracks(sk); });
            mptcp_profiler.sweep([&](uint64_t sk) { return probes.kernel_tracks(sk); });
            if (dns_profiler) dns_profiler->sweep(now);
            last_sweep = now;
        }
        if (o.stats_interval_s > 0 && now - last_stats >= secs(o.stats_interval_s)) {
            export_stats();
            last_stats = now;
        }
        if (exporter) exporter->tick();
        if (o.duration_s > 0 && now - start >= secs(o.duration_s)) break;
    }

    probes.poll(0);
    if (dns_probes) dns_probes->poll();
    const size_t open = profiler.tracked() + mptcp_profiler.tracked();
    profiler.finish_all();  // open connections: DESYNC, flowEndReason "forced end"
    mptcp_profiler.finish_all();
    if (dns_profiler) dns_profiler->finish_all();
    export_stats();
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
    if (!o.quiet && open > 0)
        std::fprintf(
            stderr, "flowcorder agent: %zu connections still open at exit ended as DESYNC\n", open);
    return 0;
}

}  // namespace

void add_agent_command(CLI::App& app) {
    auto o = std::make_shared<AgentOptions>();
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
