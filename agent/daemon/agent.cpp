#include "daemon/agent.hpp"

#include <optional>

namespace fc::daemon {
namespace {

uint64_t secs(double s) { return static_cast<uint64_t>(s * 1e9); }

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

unsigned long long ull(uint64_t v) { return static_cast<unsigned long long>(v); }

}  // namespace

Agent::Agent(const AgentOptions& options, ProfileSink& sink, ipfix::Exporter* exporter,
             std::FILE* log)
    : o_(options),
      exporter_(exporter),
      log_(log),
      counted_(sink),
      tcp_(clock_, counted_),
      mptcp_(clock_, counted_) {
    tcp::ProbeOptions p;
    p.netns_inode = o_.netns_inode;
    p.max_connections = o_.max_connections;
    p.ooo_distance = o_.ooo_distance;
    p.naive_per_segment = o_.naive_per_segment;
    p.cgroup_path = o_.cgroup_path;
    p.mptcp = o_.mptcp;
    p.tracepoint_programs = o_.tracepoint_programs;
    tcp_probes_ = std::make_unique<tcp::TcpProbes>(
        p, [this](const fc_tcp_event& e) { tcp_.on_event(e); },
        [this](const fc_mptcp_event& e) { mptcp_.on_event(e); });
    if (o_.dns) {
        dns_ = std::make_unique<dns::DnsProfiler>(clock_, counted_, o_.dns_profile);
        dns::DnsProbeOptions d;
        d.netns_inode = o_.netns_inode;
        d.cgroup_path = o_.cgroup_path;
        d.libc_path = o_.libc_path;
        dns_probes_ = std::make_unique<dns::DnsProbes>(
            d, [this](const fc_dns_lookup_event& e) { dns_->on_lookup(e); },
            [this](const fc_dns_packet_event& e) { dns_->on_packet(e); });
    }
    print_start();
}

Agent::~Agent() = default;

// Tools parse these lines (the harness waits for "... attached"): keep them.
void Agent::print_start() const {
    if (!log_) return;
    const auto& caps = tcp_probes_->capabilities();
    std::fprintf(
        log_,
        "flowcorder agent: TCP probes attached (sockops on %s; RTT %s; duplicate "
        "detection %s; out-of-order distance %s); watching %s; exporting to %s\n",
        caps.cgroup_path.c_str(), caps.rtt_samples ? "per sample" : "srtt per ACK (kernel < 6.10)",
        caps.duplicate_detection ? "on" : "OFF (kernel < 6.11)", o_.ooo_distance ? "on" : "off",
        o_.netns_label.empty() ? "every network namespace" : ("netns " + o_.netns_label).c_str(),
        o_.exporting_to.c_str());
    if (o_.mptcp)
        std::fprintf(log_,
                     "flowcorder agent: MPTCP connections tracked (inet_sock_set_state on the "
                     "MPTCP socket; subflows marked on their TCP profiles)\n");
    if (dns_probes_)
        std::fprintf(log_,
                     "flowcorder agent: DNS probes attached (uprobes on getaddrinfo in %s; "
                     "UDP/53 on cgroup %s); names exported %s\n",
                     dns_probes_->libc_path().c_str(), dns_probes_->cgroup_path().c_str(),
                     o_.dns_profile.hash_names ? "as keyed hashes only" : "in clear");
}

void Agent::export_stats() {
    const tcp::ProbeStats ps = tcp_probes_->stats();
    std::optional<ipfix::ExporterStats> es;
    if (exporter_) {
        es = exporter_->stats();
        exporter_->submit(stats_record(ps, counted_.count, es->records_dropped,
                                       tcp_.desyncs() + mptcp_.counters().desyncs));
    }
    if (!log_) return;
    std::fprintf(log_,
                 "flowcorder agent: %zu open connections, %llu profiles, kernel events %llu "
                 "(lost %llu), table full %llu, untracked closes %llu, probe runs skipped by "
                 "recursion %llu, events caught by second programs %llu",
                 tcp_.tracked(), ull(counted_.count), ull(ps.get(FC_STAT_EVENTS)),
                 ull(ps.get(FC_STAT_EVENTS_LOST)), ull(ps.get(FC_STAT_TABLE_FULL)),
                 ull(ps.get(FC_STAT_NOT_TRACKED)), ull(ps.recursion_misses),
                 ull(ps.get(FC_STAT_NESTED_CAUGHT)));
    if (es)
        std::fprintf(log_, ", exported %llu, dropped %llu, send errors %llu", ull(es->records_sent),
                     ull(es->records_dropped), ull(es->send_errors));
    std::fprintf(log_, "\n");
    if (o_.mptcp) {
        const auto& mc = mptcp_.counters();
        std::fprintf(log_,
                     "flowcorder agent: MPTCP: %zu open connections, %llu opened (%llu fell "
                     "back to TCP), %llu subflows joined, %llu subflows closed, %llu subflows "
                     "of untracked connections\n",
                     mptcp_.tracked(), ull(mc.connections), ull(mc.fallbacks), ull(mc.joins),
                     ull(mc.subflow_closes), ull(ps.get(FC_STAT_MP_NOT_TRACKED)));
    }
    if (dns_probes_) {
        const auto ds = dns_probes_->stats();
        const auto& dc = dns_->counters();
        std::fprintf(log_,
                     "flowcorder agent: DNS: %llu lookups, %llu queries (%llu answered, %zu "
                     "waiting), %llu unmatched replies, %llu unparsable messages, %llu events "
                     "lost\n",
                     ull(dc.lookups), ull(dc.queries), ull(dc.replies), dns_->open_queries(),
                     ull(dc.unmatched_replies), ull(dc.malformed),
                     ull(ds.get(FC_DNS_STAT_EVENTS_LOST)));
    }
}

AgentEnd Agent::run(const std::atomic<bool>& stop) {
    const auto kernel_has = [this](uint64_t sk) { return tcp_probes_->kernel_tracks(sk); };
    const int poll_ms = static_cast<int>(o_.poll_timeout().count());
    const uint64_t start = WallClock::mono_now_ns();
    uint64_t last_sweep = start, last_stats = start;
    while (!stop) {
        tcp_probes_->poll(poll_ms);
        if (dns_probes_) dns_probes_->poll();
        const uint64_t now = WallClock::mono_now_ns();
        if (now - last_sweep >= secs(2)) {
            tcp_.sweep(kernel_has);
            mptcp_.sweep(kernel_has);
            if (dns_) dns_->sweep(now);
            last_sweep = now;
        }
        if (o_.stats_interval_s > 0 && now - last_stats >= secs(o_.stats_interval_s)) {
            export_stats();
            last_stats = now;
        }
        if (exporter_) exporter_->tick();
        if (o_.duration_s > 0 && now - start >= secs(o_.duration_s)) break;
    }
    tcp_probes_->poll(0);
    if (dns_probes_) dns_probes_->poll();
    AgentEnd end;
    end.open_at_exit = tcp_.tracked() + mptcp_.tracked();
    tcp_.finish_all();  // open connections: DESYNC, flowEndReason "forced end"
    mptcp_.finish_all();
    if (dns_) dns_->finish_all();
    export_stats();
    return end;
}

}  // namespace fc::daemon
