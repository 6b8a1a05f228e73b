// Matching truth connections to agent connections, the comparisons of the
// TCP KPI table, and the verdicts. See FORMATS.md, "Validation output".
#include "validate/validate.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <functional>
#include <optional>
#include <set>
#include <sstream>
#include <string_view>

#include "impair/log.hpp"
#include "validate/dns_validate.hpp"
#include "validate/inputs.hpp"
#include "validate/mptcp_validate.hpp"

namespace fc::validate {
namespace fs = std::filesystem;

namespace {

// FSM states and close causes as the profiles carry them (docs/ipfix-fields.md).
enum State : int64_t {
    kNew = 1,
    kEstablished = 2,
    kFinished = 4,
    kNetErr = 5,
    kProtoErr = 6,
    kDesync = 7
};
enum Cause : int64_t {
    kFin = 1,
    kRstSent = 2,
    kRstReceived = 3,
    kTimeout = 4,
    kRefused = 5,
    kUnreachable = 6,
    kOther = 9
};

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

// The rows of the TCP KPI table; each must be compared by some source somewhere.
const std::vector<std::pair<std::string, std::vector<std::string>>> kCoverage = {
    {"sent_received",
     {"bytes_acked", "bytes_received", "bytes_sent", "segs_out", "segs_in", "data_segs_out",
      "data_segs_in"}},
    {"retransmitted", {"bytes_retrans", "retrans_segs", "syn_retrans"}},
    {"lost", {"lost_segs", "lost_out_end"}},
    {"rtt", {"srtt_us", "rttvar_us", "min_rtt_us", "rtt_mean_us", "rtt_samples"}},
    {"duplicates", {"dup_segs_in"}},
    {"out_of_order", {"ooo_segs_in", "ooo_dist_mean"}},
    {"stalls", {"rto_stalls"}},
    {"dsack_reordering", {"dsack_dups", "reord_seen"}},
    {"close_cause", {"close_cause", "close"}},
};

constexpr int64_t kSecond = 1'000'000'000;

bool overlaps_more(int64_t a0, int64_t a1, int64_t b0, int64_t b1, int64_t& best) {
    const int64_t ov = std::min(a1, b1) - std::max(a0, b0);
    if (ov > best) {
        best = ov;
        return true;
    }
    return false;
}

// Connection 4-tuple in the order the agent writes it (local first).
std::string tuple_key(const std::string& local, int64_t lport, const std::string& remote,
                      int64_t rport) {
    return local + "|" + std::to_string(lport) + "|" + remote + "|" + std::to_string(rport);
}

std::string addr_text(uint8_t ip_version, const uint8_t* a) {
    char buf[INET6_ADDRSTRLEN] = "";
    if (ip_version == 4) inet_ntop(AF_INET, a, buf, sizeof buf);
    if (ip_version == 6) inet_ntop(AF_INET6, a, buf, sizeof buf);
    return normalise_addr(buf);
}

// The impairment log reduced to what the lost_segs comparison needs: per
// (4-tuple as sent, direction) the arrival times and the dropped data packets.
struct LogIndex {
    struct Packet {
        uint64_t t_in_ns, t_out_ns;  // t_out 0 when dropped
        uint32_t dropped_data;       // packets with payload the engine dropped
        uint32_t dropped_any;        // packets of any kind (ACKs too) dropped
    };
    std::map<std::string, std::vector<Packet>> by_tuple_dir;
};

LogIndex index_log(const impair::LogFile& log) {
    LogIndex idx;
    for (const auto& r : log.records) {
        if (r.proto != 6 || (r.ip_version != 4 && r.ip_version != 6)) continue;
        const std::string key = tuple_key(addr_text(r.ip_version, r.src), r.sport,
                                          addr_text(r.ip_version, r.dst), r.dport) +
                                "|" + std::to_string(r.dir);
        const bool dropped = r.action == static_cast<uint8_t>(impair::Action::dropped);
        idx.by_tuple_dir[key].push_back({r.t_in_ns, dropped ? 0 : r.t_out_ns,
                                         dropped && r.payload_len > 0 ? r.count : 0,
                                         dropped ? r.count : 0});
    }
    // Records are written as decisions complete; order them by arrival so
    // that a departure earlier than a predecessor's shows reordering.
    for (auto& [k, v] : idx.by_tuple_dir)
        std::stable_sort(v.begin(), v.end(),
                         [](const auto& a, const auto& b) { return a.t_in_ns < b.t_in_ns; });
    return idx;
}

std::optional<double> sum_kpi(const AgentConn& c, const std::string& kpi) {
    double s = 0;
    for (const auto& p : c.profiles) {
        const auto it = p.kpi.find(kpi);
        if (it == p.kpi.end()) return std::nullopt;
        s += it->second;
    }
    return s;
}

std::optional<double> last_kpi(const AgentConn& c, const std::string& kpi) {
    const auto& p = c.profiles.back().kpi;
    const auto it = p.find(kpi);
    if (it == p.end()) return std::nullopt;
    return it->second;
}

// Σ mean·weight / Σ weight over the windows with samples.
std::optional<double> weighted_mean(const AgentConn& c, const std::string& mean,
                                    const std::string& weight) {
    double num = 0, den = 0;
    for (const auto& p : c.profiles) {
        const auto m = p.kpi.find(mean), w = p.kpi.find(weight);
        if (m == p.kpi.end() || w == p.kpi.end()) return std::nullopt;
        num += m->second * w->second;
        den += w->second;
    }
    if (den <= 0) return std::nullopt;
    return num / den;
}

bool terminal(int64_t state) {
    return state == kFinished || state == kNetErr || state == kProtoErr;
}

// Defects of a connection's profile chain; empty when complete.
std::vector<std::string> chain_defects(const AgentConn& c) {
    std::vector<std::string> d;
    const auto& ps = c.profiles;
    for (size_t k = 0; k < ps.size(); ++k) {
        if (ps[k].profile_seq != static_cast<int64_t>(k))
            d.push_back("profile_seq " + std::to_string(ps[k].profile_seq) + " where " +
                        std::to_string(k) + " expected");
        if (ps[k].end_state == kDesync) d.push_back("DESYNC at profile " + std::to_string(k));
        if (k + 1 < ps.size() && ps[k].window_end_ns != ps[k + 1].window_start_ns)
            d.push_back("window gap between profiles " + std::to_string(k) + " and " +
                        std::to_string(k + 1));
    }
    if (ps.front().start_state != kNew) d.push_back("first profile does not start in NEW");
    if (!terminal(ps.back().end_state))
        d.push_back("last profile ends in state " + std::to_string(ps.back().end_state) +
                    ", not terminal");
    return d;
}

// Expected (end state, close cause) of the terminal profile; state 0 = NETWORK
// or PROTOCOL_ERROR both accepted (errno outside the table).
std::optional<std::pair<int64_t, int64_t>> expected_close(const TruthConn& t) {
    if (t.outcome == "refused") return std::pair{kProtoErr, kRefused};
    if (t.outcome == "unreachable") return std::pair{kNetErr, kUnreachable};
    if (t.outcome == "timeout") return std::pair{kNetErr, kTimeout};
    if (t.outcome == "aborted" || t.closed_by == "rst_sent") return std::pair{kProtoErr, kRstSent};
    if (t.outcome == "reset" || t.closed_by == "rst_received")
        return std::pair{kProtoErr, kRstReceived};
    if (t.outcome == "ok" && t.closed_by == "fin") return std::pair{kFinished, kFin};
    if (t.outcome == "error") return std::pair{int64_t{0}, kOther};
    return std::nullopt;
}

// What a capture can tell about the close: 1 FIN both ways, 2 a reset, 0 neither.
int64_t close_category_of_cause(int64_t cause) {
    if (cause == kFin) return 1;
    if (cause == kRstSent || cause == kRstReceived || cause == kRefused) return 2;
    return 0;
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
    std::set<std::string> warned_;

    void warn_once(const std::string& msg) {
        if (warned_.insert(msg).second) r_.warnings.push_back(msg);
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
            if (overlaps_more(t.t_start_ns, t.t_end_ns, p0.window_start_ns,
                              c->profiles.back().window_end_ns, best_overlap))
                best = c;
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
        Detail d = base(t, c);
        d.kpi = kpi;
        d.source = source;
        d.exported = exported;
        d.truth = truth;
        d.note = std::move(note);
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
            if (truth == t.tcp_info->end()) continue;  // older kernel: field absent
            const auto exported = k.last ? last_kpi(c, k.kpi) : sum_kpi(c, k.kpi);
            if (!exported) continue;  // column absent: coverage rows say so
            // The kernel's min_rtt is ~0U until the first RTT sample (a
            // connect() refused or unreachable before any ACK); the agent
            // exports that as 0.
            if (std::string_view(k.field) == "min_rtt" && truth->second == 4294967295.0) {
                add(t, &c, k.kpi, kTcpInfo, *exported, 0, "no RTT sample (tcpi_min_rtt ~0U)");
                continue;
            }
            add(t, &c, k.kpi, kTcpInfo, *exported, truth->second);
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
        int64_t state = want->first;
        if (state == 0) state = (last.end_state == kNetErr) ? kNetErr : kProtoErr;
        add(t, &c, "close_cause", kWorkload, exported,
            static_cast<double>(10 * state + want->second), "value = 10*end_state + close_cause");
    }

    // The workload read the clock just before bind() and connect(); the
    // agent's opening window starts when the socket enters SYN_SENT. (A
    // passive opener's window start is derived from its first RTT sample,
    // so only active opens are compared.)
    void compare_open(const TruthConn& t, const AgentConn& c) {
        const auto& p0 = c.profiles.front();
        if (t.role != "client" || p0.start_state != kNew || t.t_start_ns <= 0 || !t.t_start_connect)
            return;
        add(t, &c, "window_start_ns", kWorkload,
            static_cast<double>(p0.window_start_ns - t.t_start_ns), 0,
            "offset of the opening window's start from the connect() call (ns)");
    }

    const Capture* capture(const std::string& stem) {
        const std::string path = (fs::path(m_.dir) / (stem + ".json")).string();
        auto it = captures_.find(path);
        if (it == captures_.end()) {
            std::optional<Capture> c;
            if (!fs::exists(path)) {
                warn_once(path + ": missing, its comparisons skipped");
            } else {
                c = read_capture(path);
                if (c->pcap_drops > 0) {
                    warn_once(path + ": pcap_drops " + std::to_string(c->pcap_drops) +
                              " > 0, capture skipped");
                    c.reset();
                }
            }
            it = captures_.emplace(path, std::move(c)).first;
        }
        return it->second ? &*it->second : nullptr;
    }

    // The capture entry of t's connection: local side first when `local_is_client`.
    static const CaptureConn* find_in(const Capture& cap, const TruthConn& t,
                                      bool& local_is_client) {
        const CaptureConn* best = nullptr;
        int64_t best_overlap = INT64_MIN;
        for (const auto& e : cap.connections) {
            const bool fwd = e.client == t.local && e.cport == t.lport && e.server == t.remote &&
                             e.sport == t.rport;
            const bool rev = e.server == t.local && e.sport == t.lport && e.client == t.remote &&
                             e.cport == t.rport;
            if (!fwd && !rev) continue;
            if (overlaps_more(t.t_start_ns, t.t_end_ns, e.first_ns, e.last_ns, best_overlap)) {
                best = &e;
                local_is_client = fwd;
            }
        }
        return best;
    }

    void compare_captures(const TruthConn& t, const AgentConn& c) {
        for (const auto& l : m_.links) {
            if (!l.impaired) continue;
            for (const char* side : {"a", "b"}) {
                if ((side[0] == 'a' ? l.a : l.b) != t.host) continue;
                const auto stem = l.captures.find(side);
                if (stem == l.captures.end() || stem->second.empty()) continue;
                const Capture* cap = capture(stem->second);
                if (!cap) continue;
                bool local_is_client = false;
                const CaptureConn* e = find_in(*cap, t, local_is_client);
                if (!e) continue;
                compare_capture(t, c, *e, local_is_client);
                return;  // one capture point per connection
            }
        }
    }

    void compare_capture(const TruthConn& t, const AgentConn& c, const CaptureConn& e,
                         bool local_is_client) {
        const DirStats& out = local_is_client ? e.c2s : e.s2c;
        const DirStats& in = local_is_client ? e.s2c : e.c2s;
        const bool client = t.role == "client";
        // SYNs (client) or SYN-ACKs (server) sent more than once.
        const double opens = client ? e.syn : e.synack;
        const double syn_rtx = opens > 0 ? opens - 1 : 0;

        if (auto v = sum_kpi(c, "data_segs_out"))
            add(t, &c, "data_segs_out", kPcap, *v, out.data_segs);
        // The agent's retrans_segs (total_retrans) counts SYN and FIN
        // retransmissions too.
        if (auto v = sum_kpi(c, "retrans_segs"))
            add(t, &c, "retrans_segs", kPcap, *v, out.retrans_segs + syn_rtx + out.fin_retrans,
                "pcap data + SYN + bare FIN retransmissions");
        if (auto v = sum_kpi(c, "syn_retrans"); v && opens > 0)
            add(t, &c, "syn_retrans", kPcap, *v, syn_rtx);
        if (auto v = sum_kpi(c, "dup_segs_in")) add(t, &c, "dup_segs_in", kPcap, *v, in.dup_segs);
        if (auto v = sum_kpi(c, "ooo_segs_in")) add(t, &c, "ooo_segs_in", kPcap, *v, in.ooo_segs);
        if (auto v = weighted_mean(c, "ooo_dist_mean", "ooo_dist_samples");
            v && in.ooo_dist_samples > 0)
            add(t, &c, "ooo_dist_mean", kPcap, *v, in.ooo_dist_mean);
        // RTT: the agent counts the kernel's RTT callback, which fires once
        // per round trip; the capture emulates that sampling (rtt_rounds).
        // A passive opener's first round (SYN-ACK -> ACK) happens before the
        // agent can see the socket, so it is taken out of the truth.
        if (out.rounds_samples && out.rounds_mean_us) {
            double n = *out.rounds_samples, mean = *out.rounds_mean_us;
            if (!client && out.rounds_first_us && n > 1) {
                mean = (mean * n - *out.rounds_first_us) / (n - 1);
                n -= 1;
            } else if (!client && out.rounds_first_us) {
                n = 0;
            } else if (client && out.rounds_first_us && e.handshake_ns && t.t_start_ns > 0 &&
                       t.t_start_connect) {
                // The kernel times the SYN from when TCP sent it, inside
                // connect(); the wire sees it only once the neighbour (ARP,
                // NDP) is resolved. So the first round runs from the
                // workload's connect() call to the SYN-ACK's arrival.
                const double from_connect =
                    (static_cast<double>(e.first_ns - t.t_start_ns) + *e.handshake_ns) / 1e3;
                mean = mean + (from_connect - *out.rounds_first_us) / n;
            }
            // Rounds whose ACK covered resent data are timed by the kernel
            // from SACK blocks or timestamps, which the capture analysis
            // does not reproduce: those connections' means are not judged.
            if (n >= 3 && out.rounds_skipped_retrans == 0)
                if (auto v = weighted_mean(c, "rtt_mean_us", "rtt_samples"))
                    add(t, &c, "rtt_mean_us", kPcap, *v, mean, "per-round samples");
            // Rounds whose ACK covered retransmitted data use SACK or
            // timestamp RTTs in the kernel; the capture cannot, so counts
            // are compared only without them.
            if (out.rounds_skipped_retrans == 0 && n >= 1)
                if (auto v = sum_kpi(c, "rtt_samples"))
                    add(t, &c, "rtt_samples", kPcap, *v, n, "rounds with an RTT sample");
        }
        // The opening window ends when the SYN-ACK reaches the client: the
        // capture at the client's end saw it a few microseconds earlier.
        const auto& p0 = c.profiles.front();
        if (client && local_is_client && e.handshake_ns && p0.start_state == kNew &&
            p0.end_state == kEstablished)
            add(t, &c, "window_end_ns", kPcap,
                static_cast<double>(p0.window_end_ns - e.first_ns) - *e.handshake_ns, 0,
                "offset of the opening window's end from the SYN-ACK's arrival (ns)");
        // FINs both ways mean an orderly close; a reset after them hits a
        // connection already gone (a late duplicate, say).
        const double seen = (e.c2s.fin > 0 && e.s2c.fin > 0) ? 1
                            : (e.c2s.rst + e.s2c.rst) > 0    ? 2
                                                             : 0;
        add(t, &c, "close", kPcap,
            static_cast<double>(close_category_of_cause(c.profiles.back().close_cause)), seen,
            "1 FIN both ways, 2 reset, 0 neither");
    }

    const LogIndex* log_index(const std::string& rel) {
        const std::string path = (fs::path(m_.dir) / rel).string();
        auto it = logs_.find(path);
        if (it == logs_.end()) {
            std::optional<LogIndex> idx;
            if (!fs::exists(path)) {
                warn_once(path + ": missing, lost_segs not compared on this link");
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
        const auto exported = sum_kpi(c, "lost_segs");
        if (!exported) return;
        // An RTO marks everything outstanding lost, packets still queued in
        // a deep bottleneck included: not comparable with the drops either.
        if (t.tcp_info) {
            const auto rto = t.tcp_info->find("total_rto");
            if (rto != t.tcp_info->end() && rto->second > 0) return;
        }
        for (const auto& l : m_.links) {
            if (!l.impaired || l.log.empty() || (l.a != t.host && l.b != t.host)) continue;
            const LogIndex* idx = log_index(l.log);
            if (!idx) continue;
            const int dir = l.a == t.host ? 0 : 1;  // the direction leaving the host
            const std::string out_key = tuple_key(t.local, t.lport, t.remote, t.rport);
            const std::string in_key = tuple_key(t.remote, t.rport, t.local, t.lport);
            const auto out = idx->by_tuple_dir.find(out_key + "|" + std::to_string(dir));
            if (out == idx->by_tuple_dir.end()) continue;  // connection not on this link
            const auto in = idx->by_tuple_dir.find(in_key + "|" + std::to_string(1 - dir));
            // The 4-tuple could recur in a later connection: keep to this one's lifetime.
            auto mine = [&](const LogIndex::Packet& p) {
                const auto t_in = static_cast<int64_t>(p.t_in_ns);
                return t_in >= t.t_start_ns - kSecond && t_in <= t.t_end_ns + kSecond;
            };
            double dropped = 0, reverse_dropped = 0;
            bool seen = false, reordered = false;
            auto scan = [&](const std::vector<LogIndex::Packet>& ps, bool outgoing) {
                uint64_t last_out = 0;
                for (const auto& p : ps) {
                    if (!mine(p)) continue;
                    if (outgoing) {
                        seen = true;
                        dropped += p.dropped_data;
                    } else {
                        reverse_dropped += p.dropped_any;
                    }
                    if (p.t_out_ns) {
                        if (p.t_out_ns < last_out) reordered = true;
                        last_out = std::max(last_out, p.t_out_ns);
                    }
                }
            };
            scan(out->second, true);
            if (in != idx->by_tuple_dir.end()) scan(in->second, false);
            if (!seen || reordered || reverse_dropped > 0) return;
            add(t, &c, "lost_segs", kImplog, *exported, dropped,
                "data packets the link dropped (no reordering, no ACK loss)");
            return;
        }
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

std::vector<std::string> find_manifests(const std::string& run_dir) {
    if (!fs::is_directory(run_dir)) throw InputError(run_dir + ": not a directory");
    std::vector<std::string> out;
    for (const auto& exp : fs::directory_iterator(run_dir)) {
        if (!exp.is_directory()) continue;
        for (const auto& rep : fs::directory_iterator(exp.path())) {
            const auto name = rep.path().filename().string();
            if (!rep.is_directory() || name.rfind("rep-", 0) != 0) continue;
            const auto m = rep.path() / "manifest.json";
            if (fs::exists(m)) out.push_back(m.string());
        }
    }
    std::sort(out.begin(), out.end());
    if (out.empty()) throw InputError(run_dir + ": no */rep-*/manifest.json");
    return out;
}

Tolerance resolve(const std::map<std::string, Tolerance>& overrides, const std::string& kpi,
                  const std::string& source) {
    Tolerance t = default_tolerance(kpi, source);
    auto it = overrides.find(kpi + "/" + source);
    if (it == overrides.end()) it = overrides.find(kpi);
    if (it != overrides.end()) {
        if (!std::isnan(it->second.abs)) t.abs = it->second.abs;
        if (!std::isnan(it->second.rel)) t.rel = it->second.rel;
        if (!std::isnan(it->second.share)) t.share = it->second.share;
    }
    return t;
}

// Nearest-rank quantile of sorted values.
double quantile(const std::vector<double>& sorted, double q) {
    if (sorted.empty()) return 0;
    const auto rank = static_cast<size_t>(std::ceil(q * static_cast<double>(sorted.size())));
    return sorted[std::clamp<size_t>(rank, 1, sorted.size()) - 1];
}

Row make_row(const std::string& experiment, const std::string& protocol, const std::string& kpi,
             const std::string& source) {
    Row row;
    row.experiment = experiment;
    row.protocol = protocol;
    row.kpi = kpi;
    row.source = source;
    return row;
}

void judge(Result& r, bool require_coverage,
           const std::map<std::string, std::map<std::string, Tolerance>>& tolerances,
           const std::set<std::string>& agent_experiments,
           const std::set<std::string>& dns_experiments,
           const std::set<std::string>& mptcp_experiments) {
    using Key = std::tuple<std::string, std::string, std::string, std::string>;
    std::map<Key, std::vector<Detail*>> groups;
    // Every experiment with agents must show its connections' chains, orphans and closes.
    for (const auto& e : agent_experiments)
        for (const char* kpi : {"profile_chain", "orphan_profiles", "close_cause"})
            groups[{e, "tcp", kpi, kWorkload}];
    // ... and every DNS experiment with agents a profile for each lookup.
    for (const auto& e : dns_experiments) groups[{e, "dns", "lookup_profile", kWorkload}];
    // ... and every MPTCP experiment a connection record for each connection.
    for (const auto& e : mptcp_experiments) groups[{e, "mptcp", "mptcp_connection", kWorkload}];
    for (auto& d : r.details) groups[{d.experiment, d.protocol, d.kpi, d.source}].push_back(&d);

    for (auto& [key, ds] : groups) {
        const auto& [experiment, protocol, kpi, source] = key;
        Row row = make_row(experiment, protocol, kpi, source);
        const auto tol_it = tolerances.find(experiment);
        row.tolerance = resolve(
            tol_it == tolerances.end() ? std::map<std::string, Tolerance>{} : tol_it->second, kpi,
            source);
        std::vector<double> errors;
        for (auto* d : ds) {
            d->within = row.tolerance.within(d->exported, d->truth);
            row.within_tolerance += d->within;
            errors.push_back(d->abs_error());
        }
        row.compared = static_cast<int64_t>(ds.size());
        std::sort(errors.begin(), errors.end());
        row.median_abs_error = quantile(errors, 0.5);
        row.p95_abs_error = quantile(errors, 0.95);
        const double needed = row.tolerance.share * static_cast<double>(row.compared);
        row.pass = row.compared > 0 && static_cast<double>(row.within_tolerance) >= needed - 1e-9;
        if (row.compared == 0)
            row.note = "no comparisons";
        else if (row.within_tolerance < row.compared)
            row.note = std::to_string(row.compared - row.within_tolerance) + " outside tolerance";
        r.rows.push_back(row);
    }

    std::vector<std::tuple<std::string, std::string, std::vector<std::string>>> coverage;
    if (!agent_experiments.empty() || (dns_experiments.empty() && mptcp_experiments.empty()))
        for (const auto& [group, kpis] : kCoverage) coverage.emplace_back("tcp", group, kpis);
    if (!dns_experiments.empty())
        for (const auto& [group, kpis] : kDnsCoverage) coverage.emplace_back("dns", group, kpis);
    if (!mptcp_experiments.empty())
        for (const auto& [group, kpis] : kMptcpCoverage)
            coverage.emplace_back("mptcp", group, kpis);
    for (const auto& [protocol, group, kpis] : coverage) {
        Row row = make_row("*", protocol, "coverage:" + group, "any");
        std::set<std::string> by;
        for (const auto& d : r.details) {
            if (d.protocol != protocol) continue;
            if (std::find(kpis.begin(), kpis.end(), d.kpi) == kpis.end()) continue;
            ++row.compared;
            row.within_tolerance += d.within;
            by.insert(d.kpi + "/" + d.source);
        }
        row.pass = row.compared > 0;
        for (const auto& s : by) row.note += (row.note.empty() ? "" : " ") + s;
        if (!row.pass && !require_coverage) {
            r.not_covered.push_back(group);
            continue;
        }
        if (!row.pass) row.note = "no source compared this KPI in the run";
        r.rows.push_back(row);
    }
}

}  // namespace

bool Tolerance::within(double exported, double truth) const {
    return std::fabs(exported - truth) <= std::max(abs, rel * std::fabs(truth)) + 1e-9;
}

std::string Tolerance::to_string() const {
    std::ostringstream s;
    s << "abs=" << abs << " rel=" << rel << " share=" << share;
    return s.str();
}

double Detail::abs_error() const { return std::fabs(exported - truth); }

bool Result::all_pass() const {
    return std::all_of(rows.begin(), rows.end(), [](const Row& r) { return r.pass; });
}

Tolerance default_tolerance(const std::string& kpi, const std::string& source) {
    // TCP_INFO is read from the very socket whose counters the agent samples,
    // the truth line and the completeness checks are exact by construction.
    // Window boundaries against clocks read elsewhere (the workload's call,
    // the SYN-ACK's device timestamp): the stack is microseconds away.
    if (kpi == "window_end_ns" || kpi == "window_start_ns") return {1e6, 0, 1.0};
    // DNS: the tool's clock readings around getaddrinfo and the capture's
    // device timestamps are microseconds from the probes; every count, size
    // and code is exact.
    if (kpi == "dns_latency_us") return {1000, 0.02, 1.0};
    if (kpi == "dns_lat_first_us" || kpi == "dns_lat_last_us") return {1000, 0.05, 1.0};
    if (kpi.rfind("dns_", 0) == 0 || kpi == "query_profile" || kpi == "orphan_queries" ||
        kpi == "lookup_profile")
        return {0, 0, 1.0};
    // MPTCP: data-level counters are the kernel's own (MPTCP_FULL_INFO), join
    // counts the path manager's and the wire's.
    // A subflow's TCP_INFO is read before its FIN, which bytes_acked and
    // bytes_received count: one byte apart at most.
    if (kpi == "subflow_bytes_acked" || kpi == "subflow_bytes_received") return {1, 0, 1.0};
    if (kpi.rfind("mptcp_", 0) == 0 || kpi.rfind("subflow_", 0) == 0) return {0, 0, 1.0};
    if (source != kPcap && source != kImplog) return {0, 0, 1.0};
    if (source == kImplog) {
        // The kernel marks segments lost by heuristics (RACK, SACK scoreboard):
        // a tail loss repaired by a probe is never marked, a reordered segment
        // may be marked spuriously. A loose bound still catches a wrong counter.
        return {2, 0.25, 1.0};
    }
    // The capture sees the wire, a few microseconds and a qdisc away from the
    // socket, and emulates the receiver from the segments it saw.
    // Same sampling rule, a device and a socket apart: microseconds, plus
    // rounds the kernel measured by SACK or timestamps where the capture
    // could not (Karn).
    if (kpi == "rtt_mean_us") return {500, 0.10, 1.0};
    if (kpi == "rtt_samples") return {2, 0.10, 1.0};
    if (kpi == "ooo_dist_mean") return {1500, 0.25, 1.0};            // one MSS of disagreement
    if (kpi == "syn_retrans" || kpi == "close") return {0, 0, 1.0};  // unambiguous on the wire
    // data_segs_out, retrans_segs, dup_segs_in, ooo_segs_in: sequence-space
    // emulation and the kernel's per-skb counting disagree on TLPs and
    // partially acknowledged segments.
    return {2, 0.10, 1.0};
}

Result validate_run(const std::string& run_dir, bool require_coverage) {
    Result r;
    r.run_dir = run_dir;
    std::vector<Manifest> manifests;
    for (const auto& path : find_manifests(run_dir)) manifests.push_back(read_manifest(path));

    std::map<std::string, std::map<std::string, Tolerance>> tolerances;
    std::set<std::string> experiments, agent_experiments, dns_experiments, mptcp_experiments;
    bool any_agent = false;
    for (const auto& m : manifests) {
        experiments.insert(m.experiment);
        tolerances.emplace(m.experiment, m.tolerances);  // the first repetition's
        bool tcp = false, dns = false, mptcp = false;
        for (const auto& [name, type] : m.workload_types)
            (type == "dns" ? dns : type == "mptcp" ? mptcp : tcp) = true;
        // A plain-TCP peer of an MPTCP workload (fallback) writes TCP truth.
        if (!m.truth_files.empty()) tcp = true;
        for (const auto& h : m.hosts)
            if (h.agent) {
                any_agent = true;
                if (tcp || (!dns && !mptcp)) agent_experiments.insert(m.experiment);
                if (dns) dns_experiments.insert(m.experiment);
                if (mptcp) mptcp_experiments.insert(m.experiment);
            }
    }
    std::vector<AgentConn> agent;
    std::vector<DnsProfile> dns_agent;
    if (any_agent) agent = read_profiles((fs::path(run_dir) / "profiles.sqlite").string());
    if (!dns_experiments.empty())
        dns_agent = read_dns_profiles((fs::path(run_dir) / "profiles.sqlite").string());
    std::vector<AgentConn> mptcp_agent;
    if (!mptcp_experiments.empty())
        mptcp_agent = read_mptcp_profiles((fs::path(run_dir) / "profiles.sqlite").string());

    for (const auto& m : manifests) {
        std::vector<TruthConn> truth;
        std::vector<DnsLookupTruth> dns_truth;
        std::vector<DnsServerQuery> dns_server;
        for (const auto& f : m.truth_files) {
            auto lines = read_truth((fs::path(m.dir) / f).string());
            truth.insert(truth.end(), lines.begin(), lines.end());
        }
        for (const auto& f : m.dns_client_truth) {
            auto lines = read_dns_truth((fs::path(m.dir) / f).string());
            dns_truth.insert(dns_truth.end(), lines.begin(), lines.end());
        }
        for (const auto& f : m.dns_server_truth) {
            auto lines = read_dns_server_truth((fs::path(m.dir) / f).string());
            dns_server.insert(dns_server.end(), lines.begin(), lines.end());
        }
        if (dns_experiments.count(m.experiment)) {
            std::vector<const DnsProfile*> mine;
            for (const auto& p : dns_agent)
                for (const auto& h : m.hosts)
                    if (h.agent && h.observation_domain == p.observation_domain) mine.push_back(&p);
            validate_dns_rep(m, dns_truth, dns_server, mine, r);
        }
        // MPTCP subflows are judged with their connection, not as plain TCP.
        const auto is_subflow = [](const AgentConn& c) {
            const auto& kpi = c.profiles.back().kpi;
            const auto it = kpi.find("mptcp_subflow");
            return it != kpi.end() && it->second != 0;
        };
        std::vector<const AgentConn*> mine, subflows, mptcp_conns;
        for (const auto& c : agent)
            for (const auto& h : m.hosts)
                if (h.agent && h.observation_domain == c.observation_domain)
                    (is_subflow(c) ? subflows : mine).push_back(&c);
        for (const auto& c : mptcp_agent)
            for (const auto& h : m.hosts)
                if (h.agent && h.observation_domain == c.observation_domain)
                    mptcp_conns.push_back(&c);
        if (mptcp_experiments.count(m.experiment)) {
            std::vector<MptcpTruth> mp;
            for (const auto& f : m.mptcp_truth) {
                auto lines = read_mptcp_truth((fs::path(m.dir) / f).string());
                mp.insert(mp.end(), lines.begin(), lines.end());
            }
            validate_mptcp_rep(m, mp, mptcp_conns, subflows, r);
        }
        r.truth_connections += static_cast<int64_t>(truth.size());
        r.agent_connections += static_cast<int64_t>(mine.size());
        RepValidator(m, std::move(truth), mine, r).run();
    }
    r.experiments = static_cast<int>(experiments.size());
    r.repetitions = static_cast<int>(manifests.size());
    judge(r, require_coverage, tolerances, agent_experiments, dns_experiments, mptcp_experiments);
    return r;
}

}  // namespace fc::validate
