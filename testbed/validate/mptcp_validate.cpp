#include "validate/mptcp_validate.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <string_view>
#include <tuple>

namespace fc::validate {

namespace fs = std::filesystem;

const std::vector<std::pair<std::string, std::vector<std::string>>> kMptcpCoverage = {
    {"mptcp_data_level",
     {"mptcp_bytes_sent", "mptcp_bytes_received", "mptcp_bytes_acked", "mptcp_bytes_retrans"}},
    {"mptcp_subflows",
     {"mptcp_joins", "mptcp_sf_closes", "mptcp_subflows_max", "subflow_marked", "subflow_linked"}},
    {"mptcp_fallback", {"mptcp_fallback", "close_cause"}},
    {"mptcp_subflow_tcp",
     {"subflow_data_segs_out", "subflow_data_segs_in", "subflow_bytes_sent",
      "subflow_bytes_retrans", "subflow_bytes_acked", "subflow_bytes_received"}},
};

namespace {

const std::string kWorkload = "workload", kFullInfo = "mptcp_full_info", kMonitor = "pm_monitor",
                  kPcap = "pcap";
constexpr int64_t kNew = 1, kFinished = 4, kNetErr = 5, kProtoErr = 6, kDesync = 7;

double sum(const AgentConn& c, const std::string& k) {
    double s = 0;
    for (const auto& p : c.profiles)
        if (auto it = p.kpi.find(k); it != p.kpi.end()) s += it->second;
    return s;
}
double last(const AgentConn& c, const std::string& k) {
    const auto& kpi = c.profiles.back().kpi;
    const auto it = kpi.find(k);
    return it == kpi.end() ? NAN : it->second;
}
std::optional<double> info(const MptcpTruth& t, const std::string& k) {
    for (const std::string& name : {k, "mptcpi_" + k})
        if (auto it = t.info.find(name); it != t.info.end()) return it->second;
    return std::nullopt;
}

class MptcpRep {
  public:
    MptcpRep(const Manifest& m, const std::vector<MptcpTruth>& truth,
             const std::vector<const AgentConn*>& conns,
             const std::vector<const AgentConn*>& subflows, Result& r)
        : m_(m), truth_(truth), conns_(conns), subflows_(subflows), r_(r) {}

    void run() {
        load_monitor();
        std::set<const AgentConn*> used;
        for (const auto& t : truth_) {
            const HostInfo* h = m_.host(t.host);
            if (!h) throw InputError(t.file + ": host '" + t.host + "' is not in " + m_.path);
            if (!h->agent) continue;
            const AgentConn* c = match(t, *h, used);
            add(t, c, "mptcp_connection", kWorkload, c ? 1 : 0, 1,
                c ? "" : "no MPTCP connection record with token " + std::to_string(t.token));
            if (!c) continue;
            used.insert(c);
            compare(t, *c, *h);
        }
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
    Result& r_;
    std::map<std::string, std::vector<MptcpEvent>> monitor_;  // by host

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
        Detail d = base(c ? c->key() : "");
        d.host = t.host;
        d.workload = t.workload;
        d.conn = t.conn;
        d.role = t.role;
        d.kpi = kpi;
        d.source = source;
        d.exported = exported;
        d.truth = truth;
        d.note = std::move(note);
        r_.details.push_back(std::move(d));
    }

    void load_monitor() {
        for (const auto& [host, rel] : m_.mptcp_monitor) {
            const std::string path = (fs::path(m_.dir) / rel).string();
            if (fs::exists(path)) monitor_[host] = read_mptcp_monitor(path);
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

    void compare(const MptcpTruth& t, const AgentConn& c, const HostInfo& h) {
        // The chain: NEW first, contiguous windows, a terminal end.
        std::string defects;
        const auto& ps = c.profiles;
        if (ps.front().start_state != kNew) defects += "first profile not NEW; ";
        for (size_t k = 0; k < ps.size(); ++k) {
            if (ps[k].profile_seq != static_cast<int64_t>(k)) defects += "sequence gap; ";
            if (ps[k].end_state == kDesync) defects += "DESYNC; ";
            if (k + 1 < ps.size() && ps[k].window_end_ns != ps[k + 1].window_start_ns)
                defects += "window gap; ";
        }
        const int64_t end = ps.back().end_state;
        if (end != kFinished && end != kNetErr && end != kProtoErr) defects += "not terminal; ";
        add(t, &c, "profile_chain", kWorkload, defects.empty() ? 0 : 1, 0, defects);

        for (const char* k : {"bytes_sent", "bytes_received", "bytes_acked", "bytes_retrans"})
            if (auto v = info(t, k))
                add(t, &c, std::string("mptcp_") + k, kFullInfo, sum(c, std::string("mptcp_") + k),
                    *v);
        add(t, &c, "mptcp_fallback", kFullInfo, last(c, "mptcp_fallback"), t.fallback ? 1 : 0);
        // An orderly end: FINISHED (4) by DATA_FIN/FIN (cause 1).
        if (t.outcome == "ok")
            add(t, &c, "close_cause", kWorkload,
                static_cast<double>(10 * ps.back().end_state + ps.back().close_cause), 41,
                "value = 10*end_state + close_cause");

        // Joins, closes and the most subflows at once: the path manager's
        // events for this token while the connection was open.
        if (auto it = monitor_.find(t.host); it != monitor_.end() && t.token && !t.fallback) {
            double joins = 0, closes = 0, now = 1, most = 1;
            for (const auto& e : it->second) {
                if (e.token != t.token) continue;
                if (e.event == "CLOSED") break;
                if (e.event == "SF_ESTABLISHED") {
                    ++joins;
                    most = std::max(most, ++now);
                } else if (e.event == "SF_CLOSED") {
                    ++closes;
                    --now;
                }
            }
            add(t, &c, "mptcp_joins", kMonitor, sum(c, "mptcp_joins"), joins,
                "SF_ESTABLISHED events of the connection's token");
            add(t, &c, "mptcp_sf_closes", kMonitor, sum(c, "mptcp_sf_closes"), closes,
                "SF_CLOSED events before the connection's CLOSED");
            double exported_most = 0;
            for (const auto& p : c.profiles)
                if (auto k = p.kpi.find("mptcp_subflows_max"); k != p.kpi.end())
                    exported_most = std::max(exported_most, k->second);
            add(t, &c, "mptcp_subflows_max", kMonitor, exported_most, most,
                "the most subflows established at once, from the events");
        }
        // ... and the MP_JOIN handshakes the captures saw for it: a join SYN
        // names the token of the end it joins, this one's or its peer's.
        std::set<int64_t> tokens;
        if (t.token) tokens.insert(t.token);
        for (const auto& p : truth_)
            if (p.workload == t.workload && p.conn == t.conn && p.role != t.role && p.token)
                tokens.insert(p.token);
        double captured = 0;
        bool any_capture = false;
        std::set<std::tuple<std::string, int64_t, std::string, int64_t>> seen;
        for (const auto& l : m_.links)
            for (const auto& [side, stem] : l.captures) {
                if ((side == "a" ? l.a : l.b) != t.host) continue;
                const std::string path = (fs::path(m_.dir) / (stem + ".json")).string();
                if (!fs::exists(path)) continue;
                const Capture cap = read_capture(path);
                if (cap.pcap_drops > 0) continue;
                any_capture = true;
                for (const auto& cc : cap.connections)
                    if (cc.mptcp == "join" && tokens.count(cc.mptcp_join_token) &&
                        seen.insert({cc.client, cc.cport, cc.server, cc.sport}).second)
                        ++captured;
            }
        if (any_capture && !t.fallback && !tokens.empty())
            add(t, &c, "mptcp_joins", kPcap, sum(c, "mptcp_joins"), captured,
                "SYNs with MP_JOIN for the connection's tokens, captured at the host's ends");

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
            const bool marked = s && last(*s, "mptcp_conn_id") == static_cast<double>(c.flow_id) &&
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
                if (auto it = sf.tcp_info.find(k); it != sf.tcp_info.end())
                    add(t, s, std::string("subflow_") + k, kFullInfo, sum(*s, k), it->second,
                        key == "bytes_acked" || key == "bytes_received"
                            ? "TCP_INFO before the subflow's FIN, which these count"
                            : "");
            }
        }
    }
};

}  // namespace

void validate_mptcp_rep(const Manifest& m, const std::vector<MptcpTruth>& truth,
                        const std::vector<const AgentConn*>& connections,
                        const std::vector<const AgentConn*>& subflows, Result& r) {
    MptcpRep(m, truth, connections, subflows, r).run();
}

}  // namespace fc::validate
