// The TCP validator: matching truth connections to agent connections and
// the comparisons of the TCP KPI table. See FORMATS.md, "Validation output".
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <limits>
#include <optional>
#include <set>
#include <sstream>
#include <string_view>

#include "impair/log.hpp"
#include "validate/exported.hpp"
#include "validate/fsm.hpp"
#include "validate/link_drops.hpp"
#include "validate/tcp_validate.hpp"

namespace fc::validate {
namespace fs = std::filesystem;

namespace {

const char* const kTcpInfo = "tcp_info";
const char* const kPcap = "pcap";
const char* const kImplog = "impairment_log";
const char* const kWorkload = "workload";

// Agent KPI column -> tcp_info field; `last` = value at the last profile's
// window end rather than the sum over the connection's windows.
struct TcpInfoKpi {
    const char* kpi;
    const char* field;
    bool last;
};
constexpr TcpInfoKpi kTcpInfoKpis[] = {
    {"bytes_acked", "bytes_acked", false},
    {"bytes_received", "bytes_received", false},
    {"bytes_sent", "bytes_sent", false},
    {"bytes_retrans", "bytes_retrans", false},
    {"segs_out", "segs_out", false},
    {"segs_in", "segs_in", false},
    {"data_segs_out", "data_segs_out", false},
    {"data_segs_in", "data_segs_in", false},
    {"retrans_segs", "total_retrans", false},
    {"ooo_segs_in", "rcv_ooopack", false},
    {"rto_stalls", "total_rto", false},
    {"dsack_dups", "dsack_dups", false},
    {"reord_seen", "reord_seen", false},
    {"srtt_us", "rtt", true},
    {"rttvar_us", "rttvar", true},
    {"min_rtt_us", "min_rtt", true},
    {"lost_out_end", "lost", true},
};

bool overlaps_more(int64_t a0, int64_t a1, int64_t b0, int64_t b1, int64_t& best) {
    const int64_t ov = std::min(a1, b1) - std::max(a0, b0);
    if (ov > best) {
        best = ov;
        return true;
    }
    return false;
}

class RepValidator {
  public:
    RepValidator(const Manifest& m, std::vector<TruthConn> truth,
                 const std::vector<const AgentConn*>& agent, Result& r)
        : m_(m), truth_(std::move(truth)), agent_(agent), r_(r) {}

    void run() {
        std::vector<const AgentConn*> paired(truth_.size(), nullptr);
        std::set<const AgentConn*> used;
        // Earlier connections first, so that a reused 4-tuple pairs in time order.
        std::vector<size_t> order(truth_.size());
        for (size_t i = 0; i < order.size(); ++i) order[i] = i;
        std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
            return truth_[a].t_start_ns < truth_[b].t_start_ns;
        });
        for (size_t i : order) {
            const auto* h = m_.host(truth_[i].host);
            if (!h)
                throw InputError(truth_[i].file + ": host '" + truth_[i].host + "' is not in " +
                                 m_.path + " hosts[]");
            if (!h->agent) continue;
            paired[i] = match(truth_[i], *h, used);
            if (paired[i]) used.insert(paired[i]);
        }
        for (size_t i = 0; i < truth_.size(); ++i) {
            if (!m_.host(truth_[i].host)->agent) continue;
            compare_connection(truth_[i], paired[i]);
        }
        for (const auto* c : agent_) report_orphan(*c, used.count(c) > 0);
    }

  private:
    const Manifest& m_;
    std::vector<TruthConn> truth_;
    const std::vector<const AgentConn*>& agent_;
    Result& r_;
    std::map<std::string, std::optional<Capture>> captures_;
    std::map<std::string, std::optional<LogIndex>> logs_;
    std::set<std::pair<std::string, std::string>> skipped_;

    // An input or comparison that was due and could not be made, once each.
    void skip_once(const std::string& key, const std::string& what) {
        if (skipped_.insert({key, what}).second)
            r_.skips.push_back({m_.experiment, m_.repetition, "tcp", key, what});
    }

    const AgentConn* match(const TruthConn& t, const HostInfo& h,
                           const std::set<const AgentConn*>& used) const {
        const AgentConn* best = nullptr;
        int64_t best_overlap = INT64_MIN;
        for (const auto* c : agent_) {
            const auto& p0 = c->profiles.front();
            if (c->observation_domain != h.observation_domain || used.count(c)) continue;
            if (p0.src != t.local || p0.dst != t.remote || p0.sport != t.lport ||
                p0.dport != t.rport)
                continue;
            // Equal overlaps (a reused 4-tuple inside a coarse truth interval,
            // as http's ±1 s): the earliest unused one, so that truths taken
            // in time order pair in time order.
            const int64_t ov = std::min(t.t_end_ns, c->profiles.back().window_end_ns) -
                               std::max(t.t_start_ns, p0.window_start_ns);
            if (ov > best_overlap ||
                (best && ov == best_overlap &&
                 p0.window_start_ns < best->profiles.front().window_start_ns)) {
                best_overlap = ov;
                best = c;
            }
        }
        return best;
    }

    Detail base(const TruthConn& t, const AgentConn* c) const {
        Detail d;
        d.experiment = m_.experiment;
        d.repetition = m_.repetition;
        d.protocol = "tcp";
        d.host = t.host;
        d.workload = t.workload;
        d.conn = t.conn;
        d.role = t.role;
        if (c) d.agent_key = c->key();
        return d;
    }

    void add(const TruthConn& t, const AgentConn* c, const std::string& kpi,
             const std::string& source, double exported, double truth, std::string note = "") {
        add(t, c, kpi, source, Exported{exported, ""}, truth, std::move(note));
    }
    // A value the profiles may lack: then the comparison fails as not exported.
    void add(const TruthConn& t, const AgentConn* c, const std::string& kpi,
             const std::string& source, const Exported& exported, double truth,
             std::string note = "") {
        Detail d = base(t, c);
        d.kpi = kpi;
        d.source = source;
        d.truth = truth;
        d.note = std::move(note);
        set_exported(d, exported);
        r_.details.push_back(std::move(d));
    }

    void compare_connection(const TruthConn& t, const AgentConn* c) {
        if (!c) {
            add(t, nullptr, "profile_chain", kWorkload, 1, 0, "no agent connection");
            return;
        }
        const auto defects = chain_defects(*c);
        std::string note;
        for (const auto& s : defects) note += (note.empty() ? "" : "; ") + s;
        add(t, c, "profile_chain", kWorkload, static_cast<double>(defects.size()), 0, note);
        // Sums over a broken chain are meaningless: its failure is the finding.
        if (!defects.empty()) return;
        compare_tcp_info(t, *c);
        compare_close(t, *c);
        compare_open(t, *c);
        compare_captures(t, *c);
        compare_logs(t, *c);
    }

    void compare_tcp_info(const TruthConn& t, const AgentConn& c) {
        if (!t.tcp_info || !t.tcp_info_at_close) return;
        for (const auto& k : kTcpInfoKpis) {
            const auto truth = t.tcp_info->find(k.field);
            if (truth == t.tcp_info->end()) {  // the kernel's struct tcp_info is shorter
                skip_once(std::string(k.kpi) + "/" + kTcpInfo,
                          std::string("tcpi_") + k.field + " absent from " + t.file);
                continue;
            }
            const auto exported = k.last ? last_of(c, k.kpi) : sum_of(c, k.kpi);
            // The kernel's min_rtt is ~0U until the first RTT sample (a
            // connect() refused or unreachable before any ACK); the agent
            // exports that as 0.
            if (std::string_view(k.field) == "min_rtt" && truth->second == 4294967295.0) {
                add(t, &c, k.kpi, kTcpInfo, exported, 0, "no RTT sample (tcpi_min_rtt ~0U)");
                continue;
            }
            add(t, &c, k.kpi, kTcpInfo, exported, truth->second);
        }
    }

    void compare_close(const TruthConn& t, const AgentConn& c) {
        const auto want = expected_close(t);
        const auto& last = c.profiles.back();
        const double exported = static_cast<double>(10 * last.end_state + last.close_cause);
        if (!want) {
            add(t, &c, "close_cause", kWorkload, exported, -1,
                "no expectation for outcome " + t.outcome + " closed_by " + t.closed_by);
            return;
        }
        int64_t state = want->first, cause = want->second;
        if (state == 0) state = (last.end_state == kNetErr) ? kNetErr : kProtoErr;
        std::string note = "value = 10*end_state + close_cause";
        // The application closed after the FINs crossed, but its own FIN was
        // never acknowledged when the peer gave up and reset: the socket (in
        // LAST_ACK or CLOSING) ended by that reset, after the application
        // could see anything. Only the capture at the host's end tells.
        bool local_is_client = false;
        if (state == kFinished) {
            if (const CaptureConn* e = host_capture(t, c, local_is_client)) {
                const DirStats& in = local_is_client ? e->s2c : e->c2s;
                if (in.rst_live.value_or(0) > 0) {
                    state = kProtoErr;
                    cause = kRstReceived;
                    note += "; the peer's reset reached the socket after the application closed";
                }
            }
        }
        add(t, &c, "close_cause", kWorkload, exported, static_cast<double>(10 * state + cause),
            note);
    }

    // The workload read the clock just before connect() and again when it
    // returned: the agent's SYN_SENT stamp lies between the two. The verdict
    // is containment (the value, clamped into the bracket, is the truth): a
    // workload preempted before connect() or woken late moves a bound, not
    // the event. (A passive opener's window start is derived from its first
    // RTT sample, so only active opens are compared.)
    void compare_open(const TruthConn& t, const AgentConn& c) {
        const auto& p0 = c.profiles.front();
        if (t.role != "client" || p0.start_state != kNew || t.t_start_ns <= 0 || !t.t_start_connect)
            return;
        const int64_t returned = t.t_connected_ns.value_or(t.t_end_ns);
        const double offset = static_cast<double>(p0.window_start_ns - t.t_start_ns);
        add(t, &c, "window_start_ns", kWorkload, offset,
            nearest_in(offset, 0.0, static_cast<double>(returned - t.t_start_ns)),
            "offset of the opening window's start from the connect() call (ns); true: the "
            "same, clamped to [connect() called, connect() returned]");
    }

    const Capture* capture(const std::string& stem) {
        const std::string path = (fs::path(m_.dir) / (stem + ".json")).string();
        auto it = captures_.find(path);
        if (it == captures_.end()) {
            std::optional<Capture> c;
            if (!fs::exists(path)) {
                skip_once(kPcap, path + ": missing");
            } else {
                c = read_capture(path);
                // An incomplete capture would make every count it gives wrong.
                if (c->pcap_drops > 0) {
                    skip_once(kPcap, path + ": pcap_drops " + std::to_string(c->pcap_drops));
                    c.reset();
                }
            }
            it = captures_.emplace(path, std::move(c)).first;
        }
        return it->second ? &*it->second : nullptr;
    }

    // The capture entry of t's connection: local side first when `local_is_client`.
    // Matched on the agent connection's own interval, which is exact where the
    // truth's may be coarse (http's ±1 s) and a 4-tuple may recur within it.
    static const CaptureConn* find_in(const Capture& cap, const TruthConn& t, const AgentConn& c,
                                      bool& local_is_client) {
        const CaptureConn* best = nullptr;
        int64_t best_overlap = INT64_MIN;
        for (const auto& e : cap.connections) {
            const bool fwd = e.client == t.local && e.cport == t.lport && e.server == t.remote &&
                             e.sport == t.rport;
            const bool rev = e.server == t.local && e.sport == t.lport && e.client == t.remote &&
                             e.cport == t.rport;
            if (!fwd && !rev) continue;
            if (overlaps_more(c.profiles.front().window_start_ns, c.profiles.back().window_end_ns,
                              e.first_ns, e.last_ns, best_overlap)) {
                best = &e;
                local_is_client = fwd;
            }
        }
        return best;
    }

    // The connection as captured at the host's end of an impaired link (one
    // capture point per connection), or null.
    const CaptureConn* host_capture(const TruthConn& t, const AgentConn& c, bool& local_is_client) {
        for (const auto& l : m_.links) {
            if (!l.impaired) continue;
            for (const char* side : {"a", "b"}) {
                if ((side[0] == 'a' ? l.a : l.b) != t.host) continue;
                const auto stem = l.captures.find(side);
                if (stem == l.captures.end() || stem->second.empty()) continue;
                const Capture* cap = capture(stem->second);
                if (!cap) continue;
                if (const CaptureConn* e = find_in(*cap, t, c, local_is_client)) return e;
            }
        }
        return nullptr;
    }

    void compare_captures(const TruthConn& t, const AgentConn& c) {
        bool local_is_client = false;
        if (const CaptureConn* e = host_capture(t, c, local_is_client))
            compare_capture(t, c, *e, local_is_client);
    }

    void compare_capture(const TruthConn& t, const AgentConn& c, const CaptureConn& e,
                         bool local_is_client) {
        const DirStats& out = local_is_client ? e.c2s : e.s2c;
        const DirStats& in = local_is_client ? e.s2c : e.c2s;
        const bool client = t.role == "client";
        // SYNs (client) or SYN-ACKs (server) sent more than once.
        const double opens = client ? e.syn : e.synack;
        const double syn_rtx = opens > 0 ? opens - 1 : 0;

        add(t, &c, "data_segs_out", kPcap, sum_of(c, "data_segs_out"), out.data_segs);
        // The agent's retrans_segs (total_retrans) counts SYN and FIN
        // retransmissions too.
        add(t, &c, "retrans_segs", kPcap, sum_of(c, "retrans_segs"),
            out.retrans_segs + syn_rtx + out.fin_retrans,
            "pcap data + SYN + bare FIN retransmissions");
        if (opens > 0) add(t, &c, "syn_retrans", kPcap, sum_of(c, "syn_retrans"), syn_rtx);
        add(t, &c, "dup_segs_in", kPcap, sum_of(c, "dup_segs_in"), in.dup_segs);
        add(t, &c, "ooo_segs_in", kPcap, sum_of(c, "ooo_segs_in"), in.ooo_segs);
        // Out-of-order data on the wire: the agent must have measured distances too.
        if (in.ooo_dist_samples > 0)
            add(t, &c, "ooo_dist_mean", kPcap,
                weighted_mean_of(c, "ooo_dist_mean", "ooo_dist_samples"), in.ooo_dist_mean);
        // RTT: the agent counts the kernel's RTT callback, which fires once
        // per round trip. Where a round ends depends on when the kernel
        // processed an ACK, which the capture cannot see (an ACK waits in
        // the socket's backlog while the application sends), so the capture
        // gives the rounds' possible sequences (capture/round_bound.hpp):
        // the agent's count is at most the longest, and its mean at least
        // the smallest mean of a sequence as long as its count. Each kernel
        // sample runs from the segment's send stamp, taken before the
        // interface sees it, to the ACK's processing, after the interface
        // queued it: never shorter than the capture's time, and longer by
        // the host's own latency (0.56 ms on a busy host in tcp-bottleneck),
        // for which no source gives a truth: so bounds, not values. A
        // passive opener's handshake round happens before its agent sees
        // the socket; the capture leaves it out.
        if (out.rounds_min_sum_us && !out.rounds_min_sum_us->empty()) {
            const auto& sums = *out.rounds_min_sum_us;
            const Exported count = sum_of(c, "rtt_samples");
            const double most = static_cast<double>(sums.size());
            add(t, &c, "rtt_samples", kPcap, count,
                count.value ? std::min(*count.value, most) : most,
                "at most the longest sequence of rounds the capture allows: " +
                    std::to_string(sums.size()));
            if (count.value && *count.value >= 1) {
                const double k = std::min(*count.value, most);
                const double least = sums[static_cast<size_t>(k) - 1] / k;
                const Exported agent = weighted_mean_of(c, "rtt_mean_us", "rtt_samples");
                add(t, &c, "rtt_mean_us", kPcap, agent,
                    agent.value
                        ? nearest_in(*agent.value, least, std::numeric_limits<double>::infinity())
                        : least,
                    "at least the smallest mean of that many rounds the capture allows: " +
                        std::to_string(std::lround(least)) + " us");
            }
        }
        // The opening window starts (SYN_SENT) before the client's interface
        // sends the SYN, and ends (ESTABLISHED) after the SYN-ACK reached it
        // and before connect() returned. The capture stamps a packet where the
        // interface queues it; the stack takes it up later, after a softirq
        // that a busy core can delay by milliseconds: so bounds, not offsets.
        const auto& p0 = c.profiles.front();
        if (client && local_is_client && p0.start_state == kNew && t.t_start_connect) {
            const double before_syn = static_cast<double>(p0.window_start_ns - e.first_ns);
            add(t, &c, "window_start_ns", kPcap, before_syn, std::min(before_syn, 0.0),
                "offset of the opening window's start from the SYN's capture stamp (ns); true: "
                "the same, at most 0");
        }
        if (client && local_is_client && e.handshake_ns && p0.start_state == kNew &&
            p0.end_state == kEstablished) {
            // In integers: a double holds today's epoch ns only to 256 ns.
            const int64_t synack = e.first_ns + std::llround(*e.handshake_ns);
            const double after = static_cast<double>(p0.window_end_ns - synack);
            // Only the workload's own clock reads around connect() bound it
            // from above (the http client's come from ab's coarse log).
            const double hi = t.t_connected_ns && t.t_start_connect
                                  ? static_cast<double>(*t.t_connected_ns - synack)
                                  : std::numeric_limits<double>::infinity();
            add(t, &c, "window_end_ns", kPcap, after, nearest_in(after, 0.0, hi),
                "offset of the opening window's end from the SYN-ACK's capture stamp (ns); true: "
                "the same, clamped to [SYN-ACK captured, connect() returned]");
        }
        if (out.resends) compare_degraded(t, c, *out.resends);
        // FINs both ways mean an orderly close, unless a reset reached a
        // socket still there (a FIN never acknowledged); a reset after them
        // hits a connection already gone (a late duplicate, say).
        const bool live_reset = e.c2s.rst_live.value_or(0) + e.s2c.rst_live.value_or(0) > 0;
        const double seen = live_reset                         ? 2
                            : (e.c2s.fin > 0 && e.s2c.fin > 0) ? 1
                            : (e.c2s.rst + e.s2c.rst) > 0      ? 2
                                                               : 0;
        add(t, &c, "close", kPcap,
            static_cast<double>(close_category_of_cause(c.profiles.back().close_cause)), seen,
            "1 FIN both ways, 2 reset, 0 neither");
    }

    // DEGRADED is the sender in Recovery or Loss (tcp_set_ca_state()). The
    // only resend a sender makes outside them is a tail loss probe, which
    // resends the highest sequence sent: every other resend captured at the
    // host lies in a DEGRADED episode (consecutive DEGRADED windows), its
    // stamp to 5 us of the window (the agent's clock offset). The other way
    // round holds no more than loosely: Recovery may be entered and left
    // without a resend, when pacing, TSQ or the window held it back and the
    // segment "lost" to reordering arrived meanwhile (tcp-reorder shows it).
    void compare_degraded(const TruthConn& t, const AgentConn& c,
                          const std::vector<DirStats::Resend>& resends) {
        constexpr int64_t kSlack = 5'000;
        std::vector<std::pair<int64_t, int64_t>> episodes;
        bool in_episode = false;
        for (const auto& p : c.profiles) {
            const bool degraded = p.start_state == kDegraded;
            if (degraded && in_episode)
                episodes.back().second = p.window_end_ns;
            else if (degraded)
                episodes.emplace_back(p.window_start_ns, p.window_end_ns);
            in_episode = degraded;
        }
        double lossy = 0, covered = 0;
        std::string outside;  // where the first few uncovered ones fell, for the failing row
        int shown = 0;
        for (const auto& r : resends) {
            if (r.tail) continue;
            ++lossy;
            const bool in = std::any_of(episodes.begin(), episodes.end(), [&](const auto& ep) {
                return r.ts_ns >= ep.first - kSlack && r.ts_ns <= ep.second + kSlack;
            });
            covered += in;
            if (!in && shown++ < 3) outside += "; " + place_of(r.ts_ns, c, episodes);
        }
        if (lossy > 0)
            add(t, &c, "resends_in_degraded", kPcap, covered, lossy,
                "resends other than tail probes captured from the host; exported: those inside "
                "the agent's DEGRADED episodes" +
                    (outside.empty() ? std::string() : "; outside" + outside));
    }

    // Where a resend outside every DEGRADED episode fell: the window holding
    // it (state) and its distance to the nearest episode, in microseconds.
    static std::string place_of(int64_t ts, const AgentConn& c,
                                const std::vector<std::pair<int64_t, int64_t>>& episodes) {
        std::string where = "outside every window";
        for (const auto& p : c.profiles)
            if (ts >= p.window_start_ns && ts <= p.window_end_ns)
                where = "in a window from state " + std::to_string(p.start_state) + " to " +
                        std::to_string(p.end_state) + " (profile " + std::to_string(p.profile_seq) +
                        ")";
        std::optional<int64_t> nearest;
        for (const auto& [from, to] : episodes) {
            const int64_t d = ts < from ? ts - from : ts - to;
            if (!nearest || std::llabs(d) < std::llabs(*nearest)) nearest = d;
        }
        char buf[64] = "no episode";
        if (nearest)
            std::snprintf(buf, sizeof buf, "%+.1f us from the nearest episode", *nearest / 1e3);
        return std::to_string(ts) + " " + where + ", " + buf;
    }

    const LogIndex* log_index(const std::string& rel) {
        const std::string path = (fs::path(m_.dir) / rel).string();
        auto it = logs_.find(path);
        if (it == logs_.end()) {
            std::optional<LogIndex> idx;
            if (!fs::exists(path)) {
                skip_once(kImplog, path + ": missing");
            } else {
                try {
                    idx = index_log(impair::read_log(path));
                } catch (const std::exception& e) {
                    throw InputError(path + ": " + e.what());
                }
            }
            it = logs_.emplace(path, std::move(idx)).first;
        }
        return it->second ? &*it->second : nullptr;
    }

    // The kernel's lost counter is what the sender marked lost. It equals
    // what the link dropped only when the sender could tell: with ACKs
    // dropped, after an RTO (which marks everything in flight) or with
    // packets reordered (RACK marks the late ones) it counts more, by
    // design. Those connections are not compared; the others must match.
    void compare_logs(const TruthConn& t, const AgentConn& c) {
        // An RTO marks everything outstanding lost, packets still queued in
        // a deep bottleneck included: not comparable with the drops either.
        if (t.tcp_info) {
            const auto rto = t.tcp_info->find("total_rto");
            if (rto != t.tcp_info->end() && rto->second > 0) return;
        }
        // Never established (no TCP_INFO to say): a timed-out open marked
        // each SYN lost at its RTO, and the log's drops count data packets.
        if (!t.t_connected_ns) return;
        // Every impaired link the connection crosses; the 4-tuple could
        // recur in a later connection: keep to this one's lifetime as its
        // agent saw it (exact, where the truth's may be coarse).
        std::vector<const LogIndex*> logs;
        for (const auto& l : m_.links)
            if (l.impaired && !l.log.empty())
                if (const LogIndex* idx = log_index(l.log)) logs.push_back(idx);
        LinkDrops d = drops_of(logs, t.local, t.lport, t.remote, t.rport,
                               c.profiles.front().window_start_ns, c.profiles.back().window_end_ns);
        // The engine's log shows only its own sends' order, and packets
        // reorder elsewhere too (explore-1211: no impairment, the engine's
        // sends in order, yet tcpi_reord_seen 75 and 57 marks for no drop;
        // where is not established: a sender transmits from process context
        // and from ACK processing, on either CPU, into per-CPU backlogs). The
        // sender's own count of the reordering it detected says so wherever
        // it happened.
        if (t.tcp_info && t.tcp_info_at_close)
            if (const auto r = t.tcp_info->find("reord_seen");
                r != t.tcp_info->end() && r->second > 0)
                d.reordered = true;
        if (!d.seen || d.reordered || d.reverse_dropped > 0) return;
        // A mark is spurious when the data was only late: with an RTT of
        // 100 us RACK waits a quarter of min_rtt, and a host or an engine a
        // millisecond behind is enough (tcp-clean under load). The resend
        // then reaches the receiver as a duplicate, which it reports with a
        // DSACK: the marks lie between the drops and the drops plus the
        // DSACKs the sender received.
        double dsacks = 0;
        if (t.tcp_info && t.tcp_info_at_close)
            if (const auto d = t.tcp_info->find("dsack_dups"); d != t.tcp_info->end())
                dsacks = d->second;
        const Exported lost = sum_of(c, "lost_segs");
        add(t, &c, "lost_segs", kImplog, lost,
            lost.value ? nearest_in(*lost.value, d.dropped, d.dropped + dsacks) : d.dropped,
            "data packets the links dropped or corrupted (no reordering, no ACK loss), up to "
            "that plus the DSACKs the sender received (marks of data only late)");
    }

    void report_orphan(const AgentConn& c, bool paired) {
        Detail d;
        d.experiment = m_.experiment;
        d.repetition = m_.repetition;
        d.protocol = "tcp";
        for (const auto& h : m_.hosts)
            if (h.agent && h.observation_domain == c.observation_domain) d.host = h.name;
        d.agent_key = c.key();
        d.kpi = "orphan_profiles";
        d.source = kWorkload;
        d.exported = paired ? 0 : 1;
        d.truth = 0;
        const auto& p = c.profiles.front();
        if (!paired)
            d.note = "no truth connection for " + p.src + ":" + std::to_string(p.sport) + " -> " +
                     p.dst + ":" + std::to_string(p.dport);
        r_.details.push_back(std::move(d));
    }
};

}  // namespace

void validate_tcp_rep(const Manifest& m, std::vector<TruthConn> truth,
                      const std::vector<const AgentConn*>& agent, Result& r) {
    RepValidator(m, std::move(truth), agent, r).run();
}

}  // namespace fc::validate
