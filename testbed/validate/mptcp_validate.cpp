#include "validate/mptcp_validate.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <string_view>
#include <tuple>

#include "validate/exported.hpp"
#include "validate/fsm.hpp"

namespace fc::validate {

namespace fs = std::filesystem;

namespace {

const std::string kWorkload = "workload", kFullInfo = "mptcp_full_info", kMonitor = "pm_monitor",
                  kPcap = "pcap";

// An identifier the matching needs; a missing one matches nothing.
double last(const AgentConn& c, const std::string& k) { return last_of(c, k).value.value_or(NAN); }
std::optional<double> info(const MptcpTruth& t, const std::string& k) {
    for (const std::string& name : {k, "mptcpi_" + k})
        if (auto it = t.info.find(name); it != t.info.end()) return it->second;
    return std::nullopt;
}

class MptcpRep {
  public:
    MptcpRep(const Manifest& m, const std::vector<MptcpTruth>& truth,
             const std::vector<const AgentConn*>& conns,
             const std::vector<const AgentConn*>& subflows,
             const std::vector<const AgentConn*>& plain, Result& r)
        : m_(m), truth_(truth), conns_(conns), subflows_(subflows), plain_(plain), r_(r) {}

    const std::vector<const AgentConn*>& claimed() const { return claimed_; }

    void run() {
        load_monitor();
        std::set<const AgentConn*> used;
        for (const auto& t : truth_) {
            const HostInfo* h = m_.host(t.host);
            if (!h) throw InputError(t.file + ": host '" + t.host + "' is not in " + m_.path);
            if (!h->agent) continue;
            const AgentConn* c = match(t, *h, used);
            // A passive side that fell back before its MPTCP socket existed
            // (a data segment overtook the MP_CAPABLE third ACK,
            // subflow_syn_recv_sock()) is a plain TCP connection to the
            // kernel, so to its agent too (explore-375).
            if (!c && t.fallback && !t.token) {
                if (const AgentConn* p = match_plain(t, *h)) {
                    claimed_.push_back(p);
                    add(t, p, "mptcp_connection", kWorkload, 1, 1,
                        "fell back before the MPTCP socket existed: a plain TCP connection");
                    if (t.outcome == "ok")
                        add(t, p, "close_cause", kWorkload,
                            static_cast<double>(10 * p->profiles.back().end_state +
                                                p->profiles.back().close_cause),
                            41, "value = 10*end_state + close_cause");
                    continue;
                }
            }
            add(t, c, "mptcp_connection", kWorkload, c ? 1 : 0, 1,
                c ? "" : "no MPTCP connection record with token " + std::to_string(t.token));
            if (!c) continue;
            used.insert(c);
            compare(t, *c, *h);
        }
        for (const auto* c : conns_) report_orphan(*c, used.count(c) > 0);
        // Every marked subflow names a connection record of its agent.
        for (const auto* s : subflows_) {
            const double id = last(*s, "mptcp_conn_id");
            const bool known = std::any_of(conns_.begin(), conns_.end(), [&](const AgentConn* c) {
                return c->observation_domain == s->observation_domain &&
                       static_cast<double>(c->flow_id) == id;
            });
            Detail d = base(s->key());
            d.kpi = "subflow_linked";
            d.source = kWorkload;
            d.exported = known ? 1 : 0;
            d.truth = 1;
            if (!known) d.note = "subflow " + s->key() + " names no connection record";
            r_.details.push_back(std::move(d));
        }
    }

  private:
    const Manifest& m_;
    const std::vector<MptcpTruth>& truth_;
    const std::vector<const AgentConn*>& conns_;
    const std::vector<const AgentConn*>& subflows_;
    const std::vector<const AgentConn*>& plain_;
    std::vector<const AgentConn*> claimed_;  // of plain_, by a fallen-back truth
    Result& r_;
    std::map<std::string, std::vector<MptcpEvent>> monitor_;  // by host
    std::set<std::pair<std::string, std::string>> skipped_;

    Detail base(const std::string& key) const {
        Detail d;
        d.experiment = m_.experiment;
        d.repetition = m_.repetition;
        d.protocol = "mptcp";
        d.agent_key = key;
        return d;
    }
    void add(const MptcpTruth& t, const AgentConn* c, const std::string& kpi,
             const std::string& source, double exported, double truth, std::string note = "") {
        add(t, c, kpi, source, Exported{exported, ""}, truth, std::move(note));
    }
    void add(const MptcpTruth& t, const AgentConn* c, const std::string& kpi,
             const std::string& source, const Exported& exported, double truth,
             std::string note = "") {
        Detail d = base(c ? c->key() : "");
        d.host = t.host;
        d.workload = t.workload;
        d.conn = t.conn;
        d.role = t.role;
        d.kpi = kpi;
        d.source = source;
        d.truth = truth;
        d.note = std::move(note);
        set_exported(d, exported);
        r_.details.push_back(std::move(d));
    }

    void skip(const std::string& key, const std::string& what) {
        if (skipped_.insert({key, what}).second)
            r_.skips.push_back({m_.experiment, m_.repetition, "mptcp", key, what});
    }

    // A connection record of the repetition's agents without an MPTCP connection of the workload.
    void report_orphan(const AgentConn& c, bool paired) {
        Detail d = base(c.key());
        for (const auto& h : m_.hosts)
            if (h.agent && h.observation_domain == c.observation_domain) d.host = h.name;
        d.kpi = "orphan_connections";
        d.source = kWorkload;
        d.exported = paired ? 0 : 1;
        const auto& p = c.profiles.front();
        if (!paired)
            d.note = "no MPTCP truth for " + p.src + ":" + std::to_string(p.sport) + " -> " +
                     p.dst + ":" + std::to_string(p.dport);
        r_.details.push_back(std::move(d));
    }

    void load_monitor() {
        for (const auto& [host, rel] : m_.mptcp_monitor) {
            const std::string path = (fs::path(m_.dir) / rel).string();
            if (fs::exists(path))
                monitor_[host] = read_mptcp_monitor(path);
            else
                skip(kMonitor, path + ": missing");
        }
    }

    const AgentConn* match(const MptcpTruth& t, const HostInfo& h,
                           const std::set<const AgentConn*>& used) const {
        for (const auto* c : conns_) {
            if (c->observation_domain != h.observation_domain || used.count(c)) continue;
            if (t.token && last(*c, "mptcp_token") == static_cast<double>(t.token)) return c;
        }
        // Without a token (fallback before MP_CAPABLE completed): the 4-tuple.
        for (const auto* c : conns_) {
            if (c->observation_domain != h.observation_domain || used.count(c)) continue;
            for (const auto& p : c->profiles)
                if (p.src == t.local && p.sport == t.lport && p.dst == t.remote &&
                    p.dport == t.rport)
                    return c;
        }
        return nullptr;
    }

    const AgentConn* match_plain(const MptcpTruth& t, const HostInfo& h) const {
        for (const auto* c : plain_) {
            if (c->observation_domain != h.observation_domain) continue;
            if (std::find(claimed_.begin(), claimed_.end(), c) != claimed_.end()) continue;
            const auto& p = c->profiles.front();
            if (p.src == t.local && p.sport == t.lport && p.dst == t.remote && p.dport == t.rport)
                return c;
        }
        return nullptr;
    }

    void compare(const MptcpTruth& t, const AgentConn& c, const HostInfo& h) {
        const auto defects = chain_defects(c);
        std::string note;
        for (const auto& s : defects) note += (note.empty() ? "" : "; ") + s;
        add(t, &c, "profile_chain", kWorkload, static_cast<double>(defects.size()), 0, note);
        const auto& ps = c.profiles;

        // A connection that fell back has no MPTCP_FULL_INFO: nothing due.
        for (const char* k : {"bytes_sent", "bytes_received", "bytes_acked", "bytes_retrans"}) {
            const std::string kpi = std::string("mptcp_") + k;
            if (auto v = info(t, k))
                add(t, &c, kpi, kFullInfo, sum_of(c, kpi), *v);
            else if (!t.fallback)
                skip(kpi + "/" + kFullInfo, std::string("mptcpi_") + k + " absent from " + t.file);
        }
        add(t, &c, "mptcp_fallback", kFullInfo, last_of(c, "mptcp_fallback"), t.fallback ? 1 : 0);
        // An orderly end: FINISHED (4) by DATA_FIN/FIN (cause 1).
        if (t.outcome == "ok")
            add(t, &c, "close_cause", kWorkload,
                static_cast<double>(10 * ps.back().end_state + ps.back().close_cause), 41,
                "value = 10*end_state + close_cause");

        // Joins, closes and the most subflows at once: the path manager's
        // events for this token while the connection was open.
        // Every agent host of an MPTCP experiment has its monitor (a missing file is skipped at
        // load).
        if (t.token && !t.fallback && !m_.mptcp_monitor.count(t.host))
            skip(kMonitor, "no monitor of " + t.host + " in " + m_.path);
        // SF_CLOSED's subflows, and when the connection's CLOSED came.
        using Tuple = std::tuple<std::string, int64_t, std::string, int64_t>;  // this host's view
        std::set<Tuple> reported_closed;
        int64_t closed_ns = t.t_end_ns;
        std::optional<double> monitor_closes;
        if (auto it = monitor_.find(t.host); it != monitor_.end() && t.token && !t.fallback) {
            double joins = 0, closes = 0, now = 1, most = 1;
            for (const auto& e : it->second) {
                if (e.token != t.token) continue;
                if (e.event == "CLOSED") {
                    closed_ns = e.t_ns;
                    break;
                }
                if (e.event == "SF_ESTABLISHED") {
                    ++joins;
                    most = std::max(most, ++now);
                } else if (e.event == "SF_CLOSED") {
                    ++closes;
                    --now;
                    reported_closed.insert({e.saddr, e.sport, e.daddr, e.dport});
                }
            }
            monitor_closes = closes;
            add(t, &c, "mptcp_joins", kMonitor, sum_of(c, "mptcp_joins"), joins,
                "SF_ESTABLISHED events of the connection's token");
            add(t, &c, "mptcp_subflows_max", kMonitor, max_of(c, "mptcp_subflows_max"), most,
                "the most subflows established at once, from the events");
        }
        // ... and the MP_JOIN handshakes the captures saw for it: a join SYN
        // names the token of the end it joins, this one's or its peer's. A
        // join counts once its handshake completed: SYN, SYN-ACK and the
        // joining end's third ACK. A SYN still on its way when the connection
        // closed (explore-101), or answered after it closed (explore-218),
        // never made a subflow. Where this host answered the join (the SYN
        // names its token), it also took the third ACK in: it answers with
        // the fourth ACK, or resets a join arriving after its DATA_FIN
        // (mptcp_can_accept_new_subflow(), explore-379).
        std::set<int64_t> tokens;
        if (t.token) tokens.insert(t.token);
        for (const auto& p : truth_)
            if (p.workload == t.workload && p.conn == t.conn && p.role != t.role && p.token)
                tokens.insert(p.token);
        double captured = 0;
        bool any_capture = false;
        // Joins that ended before the connection's CLOSED with no SF_CLOSED.
        std::set<Tuple> ended_unreported;
        std::set<std::tuple<std::string, int64_t, std::string, int64_t>> seen;
        for (const auto& l : m_.links)
            for (const auto& [side, stem] : l.captures) {
                if ((side == "a" ? l.a : l.b) != t.host) continue;
                const std::string path = (fs::path(m_.dir) / (stem + ".json")).string();
                if (!fs::exists(path)) {
                    skip(kPcap, path + ": missing");
                    continue;
                }
                const Capture cap = read_capture(path);
                if (cap.pcap_drops > 0) {
                    skip(kPcap, path + ": pcap_drops " + std::to_string(cap.pcap_drops));
                    continue;
                }
                any_capture = true;
                for (const auto& cc : cap.connections)
                    if (cc.mptcp == "join" && cc.synack > 0 &&
                        (!cc.c2s.packets || *cc.c2s.packets - cc.c2s.rst >= 2) &&
                        (cc.mptcp_join_token != t.token || !cc.s2c.packets ||
                         *cc.s2c.packets - cc.s2c.rst >= 2) &&
                        tokens.count(cc.mptcp_join_token) &&
                        seen.insert({cc.client, cc.cport, cc.server, cc.sport}).second) {
                        ++captured;
                        // Reset (a join closed by FINs is the path
                        // manager's own doing, and reported).
                        const bool ended = cc.c2s.rst > 0 || cc.s2c.rst > 0;
                        // The SYN names the token of the end it joins.
                        const bool mine = cc.mptcp_join_token != t.token;
                        const Tuple sf = mine ? Tuple{cc.client, cc.cport, cc.server, cc.sport}
                                              : Tuple{cc.server, cc.sport, cc.client, cc.cport};
                        if (ended && cc.last_ns < closed_ns && !reported_closed.count(sf))
                            ended_unreported.insert(sf);
                    }
            }
        if (any_capture && !t.fallback && !tokens.empty())
            add(t, &c, "mptcp_joins", kPcap, sum_of(c, "mptcp_joins"), captured,
                "MP_JOIN handshakes answered for the connection's tokens, captured at the host's "
                "ends");
        // The path manager reports a subflow's close only if the connection
        // is still ESTABLISHED when its worker gets to the closed subflow
        // (mptcp_close_ssk()); the agent counts one that closed while the
        // connection was ESTABLISHED. A join the peer reset at once, closing
        // right after its data (explore-2090), falls in between: the
        // capture's joins reset before CLOSED unreported may count.
        if (monitor_closes) {
            const Exported closes = sum_of(c, "mptcp_sf_closes");
            const double hi = *monitor_closes + static_cast<double>(ended_unreported.size());
            add(t, &c, "mptcp_sf_closes", kMonitor, closes,
                closes.value ? nearest_in(*closes.value, *monitor_closes, hi) : *monitor_closes,
                "SF_CLOSED events before the connection's CLOSED, up to that plus the joins the "
                "capture shows reset before it unreported");
        }

        // Each subflow alive at the end: marked with this connection, and its
        // data segments as the subflow's own TCP_INFO counted them.
        for (const auto& sf : t.subflows) {
            const AgentConn* s = nullptr;
            for (const auto* a : subflows_) {
                if (a->observation_domain != h.observation_domain) continue;
                const auto& p0 = a->profiles.front();
                if (p0.src == sf.local && p0.sport == sf.lport && p0.dst == sf.remote &&
                    p0.dport == sf.rport)
                    s = a;
            }
            // Marked: the connection's flowId and its token (as MPTCP_INFO says).
            const bool marked =
                s && last(*s, "mptcp_conn_id") == static_cast<double>(c.flow_id) &&
                (!t.token || last(*s, "mptcp_token") == static_cast<double>(t.token));
            add(t, s, "subflow_marked", kWorkload, marked ? 1 : 0, 1,
                s ? ""
                  : "no marked TCP profile for subflow " + sf.local + ":" +
                        std::to_string(sf.lport));
            if (!s) continue;
            // TCP_INFO was read before close: the subflow FINs came later,
            // so only data-carrying segment counts are exact.
            if (!sf.final) continue;  // a snapshot from before the end: not comparable
            // A subflow with data still outstanding at the read (a failed
            // path) goes on retransmitting after it: its data_segs_out is
            // not final yet.
            const auto unacked = sf.tcp_info.find("unacked");
            const bool settled = unacked != sf.tcp_info.end() && unacked->second == 0;
            // Payload counters are final once nothing is outstanding; the
            // byte counters that count a FIN (acked, received) may grow by it.
            for (const char* k : {"data_segs_out", "data_segs_in", "bytes_sent", "bytes_retrans",
                                  "bytes_acked", "bytes_received"}) {
                const std::string_view key(k);
                const bool outgoing = key == "data_segs_out" || key == "bytes_sent" ||
                                      key == "bytes_retrans" || key == "bytes_acked";
                if (outgoing && !settled) continue;
                const std::string kpi = std::string("subflow_") + k;
                if (auto it = sf.tcp_info.find(k); it != sf.tcp_info.end())
                    add(t, s, kpi, kFullInfo, sum_of(*s, k), it->second,
                        key == "bytes_acked" || key == "bytes_received"
                            ? "TCP_INFO before the subflow's FIN, which these count"
                            : "");
                else
                    skip(kpi + "/" + kFullInfo, std::string("tcpi_") + k + " absent from " +
                                                    t.file + " (subflow " + sf.local + ":" +
                                                    std::to_string(sf.lport) + ")");
            }
        }
    }
};

}  // namespace

std::vector<const AgentConn*> validate_mptcp_rep(const Manifest& m,
                                                 const std::vector<MptcpTruth>& truth,
                                                 const std::vector<const AgentConn*>& connections,
                                                 const std::vector<const AgentConn*>& subflows,
                                                 const std::vector<const AgentConn*>& plain,
                                                 Result& r) {
    MptcpRep rep(m, truth, connections, subflows, plain, r);
    rep.run();
    return rep.claimed();
}

}  // namespace fc::validate
