// Coverage: every KPI the validator can judge has its own suite-level row,
// which fails when the KPI was due somewhere in the run and nothing compared
// it. A group row (DESIGN.md's table rows) passes only when every member does.
#include <algorithm>
#include <map>
#include <set>

#include "validate/verdict.hpp"

namespace fc::validate {

namespace {

using D = Due;

// Whether each KPI is due, and why. Sources: tcp_info, pcap, impairment_log,
// workload, server_log, mptcp_full_info, pm_monitor.
const std::vector<CoverageKpi> kKpis = {
    // TCP: sent and received
    {"tcp", "sent_received", "bytes_acked", D::with_source, "tcp_info", false,
     "every connection with TCP_INFO at close compares it"},
    {"tcp", "sent_received", "bytes_received", D::with_source, "tcp_info", false,
     "every connection with TCP_INFO at close compares it"},
    {"tcp", "sent_received", "bytes_sent", D::with_source, "tcp_info", false,
     "every connection with TCP_INFO at close compares it"},
    {"tcp", "sent_received", "segs_out", D::with_source, "tcp_info", false,
     "every connection with TCP_INFO at close compares it"},
    {"tcp", "sent_received", "segs_in", D::with_source, "tcp_info", false,
     "every connection with TCP_INFO at close compares it"},
    {"tcp", "sent_received", "data_segs_out", D::with_source, "tcp_info", false,
     "every connection with TCP_INFO at close compares it (and every captured one)"},
    {"tcp", "sent_received", "data_segs_in", D::with_source, "tcp_info", false,
     "every connection with TCP_INFO at close compares it"},
    // TCP: retransmitted, lost
    {"tcp", "retransmitted", "bytes_retrans", D::with_source, "tcp_info", true,
     "needs a retransmission (a loss experiment)"},
    {"tcp", "retransmitted", "retrans_segs", D::with_source, "tcp_info", true,
     "needs a retransmission (a loss experiment)"},
    {"tcp", "retransmitted", "syn_retrans", D::with_source, "pcap", true,
     "needs a SYN or SYN-ACK lost and resent"},
    {"tcp", "lost", "lost_segs", D::with_source, "impairment_log", true,
     "needs a data packet dropped on a connection without reordering, ACK loss or RTO"},
    {"tcp", "lost", "lost_out_end", D::with_source, "tcp_info", true,
     "needs segments still marked lost at close (a path failing mid-transfer)"},
    // TCP: the DEGRADED state (Recovery or Loss) against the resends captured
    {"tcp", "degraded", "resends_in_degraded", D::suite, "", true,
     "needs a resend other than a tail probe captured at its host (a loss experiment)"},
    // TCP: RTT
    {"tcp", "rtt", "srtt_us", D::with_source, "tcp_info", false,
     "every connection with TCP_INFO at close compares it"},
    {"tcp", "rtt", "rttvar_us", D::with_source, "tcp_info", false,
     "every connection with TCP_INFO at close compares it"},
    {"tcp", "rtt", "min_rtt_us", D::with_source, "tcp_info", false,
     "every connection with TCP_INFO at close compares it"},
    {"tcp", "rtt", "rtt_mean_us", D::suite, "", false,
     "needs a captured connection with 3 RTT rounds, none over resent data"},
    {"tcp", "rtt", "rtt_samples", D::suite, "", false,
     "needs a captured connection with no round over resent data (heavy loss may leave none)"},
    // TCP: duplicates, out of order, stalls, DSACK and reordering
    {"tcp", "duplicates", "dup_segs_in", D::with_source, "pcap", true,
     "needs a data segment received twice (duplication, a spurious retransmission)"},
    {"tcp", "out_of_order", "ooo_segs_in", D::with_source, "tcp_info", true,
     "needs a segment arriving above rcv_nxt (reordering or loss)"},
    {"tcp", "out_of_order", "ooo_dist_mean", D::suite, "", true,
     "needs out-of-order data arriving at a captured end"},
    {"tcp", "stalls", "rto_stalls", D::suite, "", true,
     "needs an RTO; tcpi_total_rto exists from Linux 6.7"},
    {"tcp", "dsack_reordering", "dsack_dups", D::with_source, "tcp_info", true,
     "needs a duplicate the peer reports with a DSACK"},
    {"tcp", "dsack_reordering", "reord_seen", D::with_source, "tcp_info", true,
     "needs reordering the sender detects"},
    // TCP: close, completeness, the opening window's bounds
    {"tcp", "close_cause", "close_cause", D::always, "", false,
     "every agent connection's end is judged against the workload's outcome"},
    {"tcp", "close_cause", "close", D::with_source, "pcap", false,
     "every captured connection's FIN/RST is compared"},
    {"tcp", "completeness", "profile_chain", D::always, "", false,
     "every truth connection of an agent host needs a complete chain"},
    {"tcp", "completeness", "orphan_profiles", D::always, "", false,
     "every agent connection needs a truth connection"},
    {"tcp", "window_bounds", "window_start_ns", D::suite, "", false,
     "needs an active open timed by flowcorder workload (ab's are not)"},
    {"tcp", "window_bounds", "window_end_ns", D::suite, "", false,
     "needs an established connection captured at the client's end"},

    // DNS: the resolver view (one profile per getaddrinfo() call)
    {"dns", "dns_resolver", "lookup_profile", D::always, "", false,
     "every lookup of an agent host needs a profile"},
    {"dns", "dns_resolver", "orphan_lookups", D::always, "", false,
     "every lookup profile needs a lookup of the tool"},
    {"dns", "dns_resolver", "dns_outcome", D::always, "", true,
     "needs a failing lookup (NXDOMAIN, SERVFAIL, timeout)"},
    {"dns", "dns_resolver", "dns_gai_error", D::always, "", true,
     "needs a failing lookup (NXDOMAIN, SERVFAIL, timeout)"},
    {"dns", "dns_resolver", "dns_v4_addrs", D::always, "", true,
     "needs an answer with IPv4 addresses"},
    {"dns", "dns_resolver", "dns_v6_addrs", D::always, "", true,
     "needs an answer with IPv6 addresses"},
    {"dns", "dns_resolver", "dns_latency_us", D::always, "", false,
     "every matched lookup compares it"},
    {"dns", "dns_resolver", "window_start_ns", D::always, "", false,
     "every matched lookup compares it"},
    // DNS: the wire view (one profile per query)
    {"dns", "dns_wire", "query_profile", D::with_source, "pcap", false,
     "every query captured leaving an agent host needs a profile"},
    {"dns", "dns_wire", "orphan_queries", D::with_source, "pcap", false,
     "every query profile of a captured host needs a captured query"},
    {"dns", "dns_wire", "dns_attempts", D::with_source, "pcap", false,
     "every matched query compares it"},
    {"dns", "dns_wire", "dns_query_bytes", D::with_source, "pcap", false,
     "every matched query compares it"},
    {"dns", "dns_wire", "dns_reply_bytes", D::with_source, "pcap", false,
     "every matched query compares it"},
    {"dns", "dns_wire", "dns_rcode", D::with_source, "pcap", true,
     "needs an error reply (NXDOMAIN, SERVFAIL)"},
    {"dns", "dns_wire", "dns_answers", D::with_source, "pcap", true,
     "needs a reply with answer records"},
    {"dns", "dns_wire", "dns_lat_first_us", D::suite, "", false, "needs a query that got a reply"},
    {"dns", "dns_wire", "dns_lat_last_us", D::suite, "", false, "needs a query that got a reply"},
    {"dns", "dns_wire", "dns_delivered", D::suite, "", false,
     "needs a listening server's query log"},
    // DNS: the two views linked
    {"dns", "dns_views_linked", "dns_link", D::with_source, "pcap", false,
     "every matched query of a matched lookup compares it"},
    {"dns", "dns_views_linked", "dns_queries", D::with_source, "pcap", false,
     "every matched lookup of a captured host compares it"},

    // MPTCP: the connection record
    {"mptcp", "mptcp_completeness", "mptcp_connection", D::always, "", false,
     "every MPTCP connection of an agent host needs a record"},
    {"mptcp", "mptcp_completeness", "orphan_connections", D::always, "", false,
     "every connection record needs an MPTCP connection of the workload"},
    {"mptcp", "mptcp_completeness", "profile_chain", D::always, "", false,
     "every matched record's chain is checked"},
    {"mptcp", "mptcp_data_level", "mptcp_bytes_sent", D::suite, "", false,
     "needs a connection that did not fall back (a fallback has no MPTCP_FULL_INFO)"},
    {"mptcp", "mptcp_data_level", "mptcp_bytes_received", D::suite, "", false,
     "needs a connection that did not fall back (a fallback has no MPTCP_FULL_INFO)"},
    {"mptcp", "mptcp_data_level", "mptcp_bytes_acked", D::suite, "", false,
     "needs a connection that did not fall back (a fallback has no MPTCP_FULL_INFO)"},
    {"mptcp", "mptcp_data_level", "mptcp_bytes_retrans", D::suite, "", true,
     "needs a data-level retransmission or reinjection (a path failing)"},
    {"mptcp", "mptcp_subflows", "mptcp_joins", D::with_source, "pm_monitor", true,
     "needs a subflow joining (MP_JOIN)"},
    {"mptcp", "mptcp_subflows", "mptcp_sf_closes", D::with_source, "pm_monitor", true,
     "needs a subflow closing while its connection lives (an endpoint removed)"},
    {"mptcp", "mptcp_subflows", "mptcp_subflows_max", D::with_source, "pm_monitor", false,
     "every matched connection with monitor events compares it"},
    {"mptcp", "mptcp_subflows", "subflow_marked", D::suite, "", false,
     "needs a connection that did not fall back: its subflows in MPTCP_FULL_INFO"},
    {"mptcp", "mptcp_subflows", "subflow_linked", D::always, "", false,
     "every marked subflow names a connection record"},
    {"mptcp", "mptcp_fallback", "mptcp_fallback", D::always, "", true,
     "needs a server without MPTCP (a fallback)"},
    {"mptcp", "mptcp_fallback", "close_cause", D::suite, "", false,
     "needs an MPTCP connection closed in order"},
    // MPTCP: each subflow's TCP counters
    {"mptcp", "mptcp_subflow_tcp", "subflow_data_segs_out", D::suite, "", false,
     "needs a subflow alive and settled at the final MPTCP_FULL_INFO read"},
    {"mptcp", "mptcp_subflow_tcp", "subflow_data_segs_in", D::suite, "", false,
     "needs a subflow alive at the final MPTCP_FULL_INFO read"},
    {"mptcp", "mptcp_subflow_tcp", "subflow_bytes_sent", D::suite, "", false,
     "needs a subflow alive and settled at the final MPTCP_FULL_INFO read"},
    {"mptcp", "mptcp_subflow_tcp", "subflow_bytes_acked", D::suite, "", false,
     "needs a subflow alive and settled at the final MPTCP_FULL_INFO read"},
    {"mptcp", "mptcp_subflow_tcp", "subflow_bytes_received", D::suite, "", false,
     "needs a subflow alive at the final MPTCP_FULL_INFO read"},
    {"mptcp", "mptcp_subflow_tcp", "subflow_bytes_retrans", D::suite, "", true,
     "needs a subflow retransmission, settled at the final read"},
};

// What the details say about one KPI of one protocol.
struct Seen {
    int64_t compared = 0, within = 0, nonzero = 0, missing = 0;
    std::set<std::string> sources;
};

Row kpi_row(const CoverageKpi& k, const Seen& s, bool due, bool needs_nonzero) {
    Row row;
    row.experiment = "*";
    row.protocol = k.protocol;
    row.kpi = k.kpi;
    row.source = "coverage";
    row.compared = s.compared;
    row.within_tolerance = s.within;
    row.pass = !due || (s.compared > 0 && (!needs_nonzero || s.nonzero > 0));
    for (const auto& src : s.sources) row.note += (row.note.empty() ? "" : " ") + src;
    if (s.compared > 0) row.note += "; " + std::to_string(s.nonzero) + " with a non-zero truth";
    if (s.missing > 0) row.note += "; " + std::to_string(s.missing) + " not exported";
    if (!row.pass)
        row.note = (s.compared == 0 ? "not compared in the run: "
                                    : "compared only against zero truths: ") +
                   std::string(k.reason) + (s.missing ? " (" + row.note + ")" : "");
    return row;
}

}  // namespace

const std::vector<CoverageKpi>& coverage_kpis() { return kKpis; }

void add_coverage_rows(Result& r, const RunPlan& plan) {
    std::map<std::pair<std::string, std::string>, Seen> seen;  // (protocol, kpi)
    std::set<std::pair<std::string, std::string>> used;        // (protocol, source)
    for (const auto& d : r.details) {
        used.insert({d.protocol, d.source});
        auto& s = seen[{d.protocol, d.kpi}];
        if (d.missing) {
            ++s.missing;  // due but not exported: its own row fails, it covers nothing
            continue;
        }
        ++s.compared;
        s.within += d.within;
        s.nonzero += d.truth != 0;
        s.sources.insert(d.source);
    }
    std::map<std::pair<std::string, std::string>, Row> groups;  // (protocol, group)
    std::vector<Row> kpi_rows;
    for (const auto& k : kKpis) {
        const auto e = plan.experiments.find(k.protocol);
        if (e == plan.experiments.end() || e->second.empty()) continue;
        const Seen& s = seen[{k.protocol, k.kpi}];
        const bool due = k.due == Due::always || plan.require_coverage ||
                         (k.due == Due::with_source && used.count({k.protocol, k.source}));
        if (!due && s.compared == 0) {
            r.not_covered.push_back(std::string(k.protocol) + ":" + k.kpi);
            continue;
        }
        Row row = kpi_row(k, s, due, plan.require_coverage && k.exercised);
        auto [g, fresh] = groups.try_emplace({k.protocol, k.group});
        if (fresh) {
            g->second.experiment = "*";
            g->second.protocol = k.protocol;
            g->second.kpi = std::string("coverage:") + k.group;
            g->second.source = "any";
            g->second.pass = true;
        }
        g->second.compared += row.compared;
        g->second.within_tolerance += row.within_tolerance;
        if (!row.pass) {
            g->second.pass = false;
            g->second.note += (g->second.note.empty() ? "not covered: " : " ") + row.kpi;
        }
        kpi_rows.push_back(std::move(row));
    }
    for (auto& [key, g] : groups) {
        if (g.pass) g.note = "every KPI of the group covered";
        r.rows.push_back(std::move(g));
    }
    for (auto& row : kpi_rows) r.rows.push_back(std::move(row));
}

}  // namespace fc::validate
