#include "validate/dns_validate.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <limits>
#include <map>
#include <optional>
#include <set>

#include "impair/log.hpp"
#include "impair/model.hpp"
#include "validate/exported.hpp"

namespace fc::validate {

namespace fs = std::filesystem;

namespace {

constexpr int64_t kMs = 1'000'000;
const std::string kWorkload = "workload", kPcap = "pcap", kServerLog = "server_log",
                  kImplog = "impairment_log";

std::string lower(std::string s) {
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

// dnsmasq's names of query types.
std::string qtype_name(int64_t t) {
    switch (t) {
        case 1:
            return "A";
        case 2:
            return "NS";
        case 5:
            return "CNAME";
        case 6:
            return "SOA";
        case 12:
            return "PTR";
        case 15:
            return "MX";
        case 16:
            return "TXT";
        case 28:
            return "AAAA";
        case 33:
            return "SRV";
        default:
            return "type=" + std::to_string(t);
    }
}

// fcDnsOutcome of the lookup tool's outcome; nullopt for "temporary", which
// the wire decides (SERVFAIL or timeout).
std::optional<int64_t> outcome_code(const std::string& o) {
    if (o == "answer") return 0;
    if (o == "nxdomain") return 1;
    if (o == "nodata") return 2;
    if (o == "error") return 5;
    return std::nullopt;
}

class DnsRep {
  public:
    DnsRep(const Manifest& m, const std::vector<DnsLookupTruth>& lookups,
           const std::vector<DnsServerQuery>& server_log,
           const std::vector<const DnsProfile*>& agent, Result& r)
        : m_(m), lookups_(lookups), server_(server_log), agent_(agent), r_(r) {}

    void run() {
        load_addresses();
        load_captures();
        load_logs();
        std::set<const DnsProfile*> used;
        std::map<size_t, const DnsProfile*> paired;  // truth lookup index -> agent lookup
        for (size_t i = 0; i < lookups_.size(); ++i) {
            const auto& t = lookups_[i];
            const HostInfo* h = m_.host(t.host);
            if (!h) throw InputError(t.file + ": host '" + t.host + "' is not in " + m_.path);
            if (!h->agent) continue;
            const DnsProfile* p = match_lookup(t, *h, used);
            add(t.host, t.workload, t.lookup, p, "lookup_profile", kWorkload, p ? 1 : 0, 1,
                p ? "" : "no resolver-view profile for " + t.name);
            if (!p) continue;
            used.insert(p);
            paired[i] = p;
            compare_lookup(t, *p);
        }
        for (const auto* p : agent_)
            if (p->is_lookup()) report_orphan_lookup(*p, used.count(p) > 0);
        compare_queries(paired);
    }

  private:
    struct HostCaptures {
        std::vector<CaptureDnsQuery> queries;  // seen at the host's end of its links
    };

    const Manifest& m_;
    const std::vector<DnsLookupTruth>& lookups_;
    const std::vector<DnsServerQuery>& server_;
    const std::vector<const DnsProfile*>& agent_;
    Result& r_;
    std::map<std::string, HostCaptures> captures_;  // by host
    std::vector<impair::LogRecord> log_;            // UDP/53 records of every impaired link
    // The same records by the hosts at the ends of their link: a query's
    // copies are counted on its sender's own link, since a later hop carries
    // only the copies that survived the earlier ones.
    std::map<std::string, std::vector<impair::LogRecord>> log_by_host_;
    // Each host's addresses on its links (the manifest's a_addr/b_addr).
    std::map<std::string, std::set<std::string>> addrs_;

    void add(const std::string& host, const std::string& workload, int64_t conn,
             const DnsProfile* p, const std::string& kpi, const std::string& source,
             double exported, double truth, std::string note = "") {
        add(host, workload, conn, p, kpi, source, Exported{exported, ""}, truth, std::move(note));
    }
    void add(const std::string& host, const std::string& workload, int64_t conn,
             const DnsProfile* p, const std::string& kpi, const std::string& source,
             const Exported& exported, double truth, std::string note = "") {
        Detail d;
        d.experiment = m_.experiment;
        d.repetition = m_.repetition;
        d.protocol = "dns";
        d.host = host;
        d.workload = workload;
        d.conn = conn;
        d.role = "client";
        if (p)
            d.agent_key = std::to_string(p->observation_domain) + ":" + std::to_string(p->flow_id);
        d.kpi = kpi;
        d.source = source;
        d.truth = truth;
        d.note = std::move(note);
        set_exported(d, exported);
        r_.details.push_back(std::move(d));
    }

    void skip(const std::string& key, const std::string& what) {
        r_.skips.push_back({m_.experiment, m_.repetition, "dns", key, what});
    }

    // A lookup profile without a lookup of the tool. Other processes of the
    // agent's host call getaddrinfo() too: one that sent no query (the
    // harness's ping of an address literal, answered by the C library
    // itself) made no DNS traffic the truth could know of.
    void report_orphan_lookup(const DnsProfile& p, bool paired) {
        const bool tool = std::any_of(lookups_.begin(), lookups_.end(),
                                      [&](const auto& t) { return t.pid == p.pid; });
        const bool queried = value_of(p, "dns_queries").value != 0.0;
        const bool orphan = !paired && (tool || queried);
        std::string host;
        for (const auto& h : m_.hosts)
            if (h.agent && h.observation_domain == p.observation_domain) host = h.name;
        const std::string who = "'" + p.name + "' by pid " + std::to_string(p.pid);
        add(host, "", -1, &p, "orphan_lookups", kWorkload, orphan ? 1 : 0, 0,
            paired   ? ""
            : orphan ? "no lookup of the tool for " + who
                     : who + ": not the tool's, no query sent");
    }

    void load_addresses() {
        for (const auto& l : m_.links) {
            for (const auto& a : l.a_addr) addrs_[l.a].insert(a);
            for (const auto& a : l.b_addr) addrs_[l.b].insert(a);
        }
    }

    // Whether the host itself sent this captured query. The wire view is the
    // sender's: the probe reports a query leaving a socket for port 53 and
    // the replies reaching that socket (dns_monitor.bpf.c), so a query the
    // host received (it runs the DNS server) or forwarded (a router) is in
    // its end's capture but never in its agent's profiles.
    bool sent_by(const std::string& host, const CaptureDnsQuery& q) const {
        const auto own = addrs_.find(host);
        if (own == addrs_.end()) return true;  // a manifest without addresses: as before
        if (own->second.count(q.client)) return true;
        if (own->second.count(q.server)) return false;  // the host answered it
        // Neither end is the host's: another node sent it through this one,
        // or it left from an address the manifest does not list (link-local,
        // autoconfigured), which stays judged.
        for (const auto& [other, a] : addrs_)
            if (other != host && a.count(q.client)) return false;
        return true;
    }

    void load_captures() {
        for (const auto& l : m_.links)
            for (const auto& [side, stem] : l.captures) {
                const std::string host = side == "a" ? l.a : l.b;
                const std::string path = (fs::path(m_.dir) / (stem + ".json")).string();
                const HostInfo* h = m_.host(host);
                const bool due = h && h->agent;  // only an agent host's end is compared
                if (!fs::exists(path)) {
                    if (due) skip(kPcap, path + ": missing");
                    continue;
                }
                const Capture c = read_capture(path);
                if (c.pcap_drops > 0) {
                    if (due) skip(kPcap, path + ": pcap_drops " + std::to_string(c.pcap_drops));
                    continue;
                }
                auto& hc = captures_[host].queries;
                hc.insert(hc.end(), c.dns.begin(), c.dns.end());
            }
    }

    void load_logs() {
        for (const auto& l : m_.links) {
            if (!l.impaired || l.log.empty()) continue;
            const std::string path = (fs::path(m_.dir) / l.log).string();
            if (!fs::exists(path)) {
                skip(kImplog, path + ": missing");
                continue;
            }
            try {
                for (const auto& rec : impair::read_log(path).records)
                    if (rec.proto == 17 && rec.has_dns_id) {
                        log_.push_back(rec);
                        log_by_host_[l.a].push_back(rec);
                        log_by_host_[l.b].push_back(rec);
                    }
            } catch (const std::exception& e) {
                throw InputError(path + ": " + e.what());
            }
        }
    }

    const DnsProfile* match_lookup(const DnsLookupTruth& t, const HostInfo& h,
                                   const std::set<const DnsProfile*>& used) const {
        const DnsProfile* best = nullptr;
        int64_t best_gap = INT64_MAX;
        for (const auto* p : agent_) {
            if (!p->is_lookup() || p->observation_domain != h.observation_domain || used.count(p))
                continue;
            if (p->pid != t.pid || (!p->name.empty() && p->name != lower(t.name))) continue;
            if (p->window_end_ns < t.t_start_ns - 50 * kMs ||
                p->window_start_ns > t.t_end_ns + 50 * kMs)
                continue;
            const int64_t gap = std::llabs(p->window_start_ns - t.t_start_ns);
            if (gap < best_gap) {
                best_gap = gap;
                best = p;
            }
        }
        return best;
    }

    // A column the matching itself needs; a missing one matches nothing.
    static double kpi(const DnsProfile& p, const std::string& k) {
        return value_of(p, k).value.value_or(NAN);
    }

    // Which captured query a server log line is of. Lookups of one name may
    // reuse a client port (explore-1221: port 39652 a second apart), and
    // the log has no DNS id, only a second, and that second can lag the
    // capture by one (explore-1121: logged at 517 s, captured at 518.001 s):
    // the line goes to the query of its port, name and type sent nearest
    // the middle of its second. Reuse within a second stays ambiguous.
    const CaptureDnsQuery* logged_for(const std::string& host, const DnsServerQuery& s) const {
        const auto it = captures_.find(host);
        if (it == captures_.end()) return nullptr;
        const CaptureDnsQuery* best = nullptr;
        int64_t best_gap = 0;
        for (const auto& q : it->second.queries) {
            if (q.client != s.client || q.client_port != s.client_port ||
                qtype_name(q.qtype) != s.qtype || lower(q.qname) != lower(s.name))
                continue;
            const int64_t gap =
                s.t_s ? std::llabs(q.t_first_ns - (*s.t_s * 1'000'000'000 + 500'000'000)) : 0;
            if (!best || gap < best_gap) {
                best = &q;
                best_gap = gap;
            }
        }
        return best;
    }

    // Queries the host's capture saw for this lookup: its name, sent while it ran.
    std::vector<const CaptureDnsQuery*> captured_for(const DnsLookupTruth& t) const {
        std::vector<const CaptureDnsQuery*> out;
        const auto it = captures_.find(t.host);
        if (it == captures_.end()) return out;
        for (const auto& q : it->second.queries)
            if (sent_by(t.host, q) && lower(q.qname) == lower(t.name) &&
                q.t_first_ns >= t.t_start_ns - kMs && q.t_first_ns <= t.t_end_ns + kMs)
                out.push_back(&q);
        return out;
    }

    void compare_lookup(const DnsLookupTruth& t, const DnsProfile& p) {
        const auto caught = captured_for(t);
        auto want = outcome_code(t.outcome);
        std::string note;
        if (!want) {  // temporary failure: SERVFAIL if the wire saw one, else a timeout
            const bool servfail = std::any_of(caught.begin(), caught.end(), [](const auto* q) {
                return q->rcode && *q->rcode == 2;
            });
            want = servfail ? 3 : 4;
            note = servfail ? "EAI_AGAIN with a SERVFAIL on the wire" : "EAI_AGAIN, no reply seen";
        }
        add(t.host, t.workload, t.lookup, &p, "dns_outcome", kWorkload, value_of(p, "dns_outcome"),
            static_cast<double>(*want), note);
        add(t.host, t.workload, t.lookup, &p, "dns_gai_error", kWorkload,
            value_of(p, "dns_gai_error"), static_cast<double>(t.rc < 0 ? -t.rc : t.rc));
        add(t.host, t.workload, t.lookup, &p, "dns_v4_addrs", kWorkload,
            value_of(p, "dns_v4_addrs"), static_cast<double>(t.v4));
        add(t.host, t.workload, t.lookup, &p, "dns_v6_addrs", kWorkload,
            value_of(p, "dns_v6_addrs"), static_cast<double>(t.v6));
        // The uprobes fire inside the tool's two clock reads around the
        // call (a preempted tool only widens them), and the call holds its
        // queries: from the first copy captured to the last reply. Bounds,
        // not offsets; a copy outside the two reads (the counting above
        // allows a millisecond) belongs to another lookup of the name.
        int64_t first_copy = t.t_end_ns, last_reply = 0;
        for (const auto* q : caught) {
            if (q->t_first_ns < t.t_start_ns) continue;
            first_copy = std::min(first_copy, q->t_first_ns);
            if (q->t_reply_ns && *q->t_reply_ns <= t.t_end_ns)
                last_reply = std::max(last_reply, *q->t_reply_ns);
        }
        const double call_us = static_cast<double>(t.t_end_ns - t.t_start_ns) / 1e3;
        const double wire_us =
            last_reply > first_copy ? static_cast<double>(last_reply - first_copy) / 1e3 : 0;
        const Exported latency = value_of(p, "dns_latency_us");
        add(t.host, t.workload, t.lookup, &p, "dns_latency_us", kWorkload, latency,
            latency.value ? nearest_in(*latency.value, wire_us, call_us) : call_us,
            "within [first copy captured to last reply captured, the tool's clock reads around "
            "getaddrinfo]");
        const double start = static_cast<double>(p.window_start_ns - t.t_start_ns);
        add(t.host, t.workload, t.lookup, &p, "window_start_ns", kWorkload, start,
            nearest_in(start, 0, static_cast<double>(first_copy - t.t_start_ns)),
            "offset of the lookup's start from the tool's clock read before getaddrinfo (ns); "
            "true: the same, within [that read, the first copy captured or the read after]");
        if (captures_.count(t.host)) {
            std::set<std::tuple<int64_t, int64_t, std::string>> distinct;
            for (const auto* q : caught) distinct.insert({q->client_port, q->id, q->server});
            add(t.host, t.workload, t.lookup, &p, "dns_queries", kPcap, value_of(p, "dns_queries"),
                static_cast<double>(distinct.size()),
                "distinct queries captured during the lookup");
        }
    }

    // What the links did to the number of copies on the way to the server:
    // less every copy dropped (a corrupted one fails the server's UDP
    // checksum: dropped too), plus every clone the engine made (duplicate).
    // A clone dropped on a later hop counts once each way.
    double copies_changed_on_links(const DnsProfile& p) const {
        double n = 0;
        for (const auto& rec : log_) {
            if (rec.dns_id != static_cast<uint16_t>(kpi(p, "dns_id")) || rec.sport != p.sport ||
                rec.dport != p.dport)
                continue;
            if (addr_text(rec.ip_version, rec.src) != p.src ||
                addr_text(rec.ip_version, rec.dst) != p.dst)
                continue;
            if (rec.flags & impair::flag_duplicate) n += rec.count;
            if (rec.action == static_cast<uint8_t>(impair::Action::dropped) ||
                impair::lost_to_corruption(rec))
                n -= rec.count;
        }
        return n;
    }

    void compare_queries(const std::map<size_t, const DnsProfile*>& paired) {
        std::set<const DnsProfile*> matched;
        for (const auto& [host, hc] : captures_) {
            const HostInfo* h = m_.host(host);
            if (!h || !h->agent) continue;
            for (const auto& q : hc.queries) {
                // Queries this host answered or forwarded have no profile here.
                if (!sent_by(host, q)) continue;
                // The lookup of the tool this query belongs to, if any.
                std::optional<size_t> owner;
                for (size_t i = 0; i < lookups_.size(); ++i) {
                    const auto& t = lookups_[i];
                    if (t.host == host && lower(t.name) == lower(q.qname) &&
                        q.t_first_ns >= t.t_start_ns - kMs && q.t_first_ns <= t.t_end_ns + kMs)
                        owner = i;
                }
                const std::string workload = owner ? lookups_[*owner].workload : "";
                const int64_t conn = owner ? lookups_[*owner].lookup : -1;
                const DnsProfile* p = nullptr;
                for (const auto* a : agent_) {
                    if (a->is_lookup() || a->observation_domain != h->observation_domain) continue;
                    if (a->src == q.client && a->sport == q.client_port && a->dst == q.server &&
                        a->dport == q.server_port &&
                        kpi(*a, "dns_id") == static_cast<double>(q.id) &&
                        std::llabs(a->window_start_ns - q.t_first_ns) < 1000 * kMs) {
                        p = a;
                        break;
                    }
                }
                add(host, workload, conn, p, "query_profile", kPcap, p ? 1 : 0, 1,
                    p ? "" : "no wire-view profile for " + q.qname + " id " + std::to_string(q.id));
                if (!p) continue;
                matched.insert(p);
                compare_query(host, workload, conn, q, *p, owner ? &lookups_[*owner] : nullptr);
                if (owner) {
                    const auto it = paired.find(*owner);
                    if (it != paired.end())
                        add(host, workload, conn, p, "dns_link", kWorkload,
                            p->lookup_id == it->second->flow_id ? 1 : 0, 1,
                            "the query carries its lookup's fcDnsLookupId");
                }
            }
        }
        // Every query profile of a host whose end was captured: a captured query, or an orphan.
        for (const auto* a : agent_) {
            if (a->is_lookup()) continue;
            std::string host;
            for (const auto& h : m_.hosts)
                if (h.agent && h.observation_domain == a->observation_domain) host = h.name;
            if (!captures_.count(host)) continue;
            const bool orphan = !matched.count(a);
            add(host, "", -1, a, "orphan_queries", kPcap, orphan ? 1 : 0, 0,
                orphan
                    ? "no captured query " + a->name + " " + a->src + ":" + std::to_string(a->sport)
                    : "");
        }
    }

    // The capture stamps a copy where the interface queues it; the agent's
    // cgroup hooks run before that on the way out and after it on the way in
    // (a softirq later, milliseconds on a busy core). So the agent's query
    // start lies between the tool's clock read before getaddrinfo and the
    // first copy's capture stamp, and its latencies between the capture's
    // and the whole getaddrinfo call's: bounds, not offsets.
    void compare_query(const std::string& host, const std::string& workload, int64_t conn,
                       const CaptureDnsQuery& q, const DnsProfile& p, const DnsLookupTruth* owner) {
        constexpr double kInf = std::numeric_limits<double>::infinity();
        add(host, workload, conn, &p, "dns_attempts", kPcap, value_of(p, "dns_attempts"),
            static_cast<double>(q.attempts));
        add(host, workload, conn, &p, "dns_query_bytes", kPcap, value_of(p, "dns_query_bytes"),
            static_cast<double>(q.query_size));
        add(host, workload, conn, &p, "dns_reply_bytes", kPcap, value_of(p, "dns_reply_bytes"),
            static_cast<double>(q.reply_size.value_or(0)));
        add(host, workload, conn, &p, "dns_rcode", kPcap, value_of(p, "dns_rcode"),
            static_cast<double>(q.rcode.value_or(255)), "255: no reply");
        add(host, workload, conn, &p, "dns_answers", kPcap, value_of(p, "dns_answers"),
            static_cast<double>(q.answers.value_or(0)));
        const double start = static_cast<double>(p.window_start_ns - q.t_first_ns);
        add(host, workload, conn, &p, "window_start_ns", kPcap, start,
            nearest_in(start, owner ? static_cast<double>(owner->t_start_ns - q.t_first_ns) : -kInf,
                       0),
            "offset of the query's start from its first copy's capture stamp (ns); true: the "
            "same, within [getaddrinfo called, first copy captured]");
        if (q.t_reply_ns) {
            const double call_us =
                owner ? static_cast<double>(owner->t_end_ns - owner->t_start_ns) / 1e3 : kInf;
            const double first_us = static_cast<double>(*q.t_reply_ns - q.t_first_ns) / 1e3;
            const double last_us =
                static_cast<double>(*q.t_reply_ns -
                                    q.t_last_before_reply_ns.value_or(q.t_last_ns)) /
                1e3;
            const Exported lat_first = value_of(p, "dns_lat_first_us");
            const Exported lat_last = value_of(p, "dns_lat_last_us");
            add(host, workload, conn, &p, "dns_lat_first_us", kPcap, lat_first,
                lat_first.value ? nearest_in(*lat_first.value, first_us, call_us) : first_us,
                "within [the capture's first copy to reply, the getaddrinfo call]");
            add(host, workload, conn, &p, "dns_lat_last_us", kPcap, lat_last,
                lat_last.value ? nearest_in(*lat_last.value, last_us, call_us) : last_us,
                "from the last copy sent before the reply; within [the capture's, the "
                "getaddrinfo call]");
        }
        if (const auto own = log_by_host_.find(host); own != log_by_host_.end()) {
            uint64_t seen = 0;
            for (const auto& rec : own->second)
                // The engine's clones (duplicate) are not the client's attempts.
                if (rec.dns_id == q.id && rec.sport == q.client_port &&
                    rec.dport == q.server_port && addr_text(rec.ip_version, rec.src) == q.client &&
                    !(rec.flags & impair::flag_duplicate))
                    seen += rec.count;
            // Its sender's own link carried every copy, or the log lost some.
            if (seen > 0)
                add(host, workload, conn, &p, "dns_attempts", kImplog, value_of(p, "dns_attempts"),
                    static_cast<double>(seen), "copies of the query the link carried or dropped");
            else
                skip("dns_attempts/impairment_log", "query " + q.qname + " id " +
                                                        std::to_string(q.id) + " is in no log of " +
                                                        host + "'s links");
        }
        // A listening server logs every query it got, none when it got none.
        if (!m_.dns_server_truth.empty()) {
            // What reached the server: the copies sent less those the links dropped.
            const auto qtype = value_of(p, "dns_qtype").value;
            const std::string type = qtype ? qtype_name(static_cast<int64_t>(*qtype)) : "";
            double logged = 0;
            for (const auto& s : server_)
                if (s.client == q.client && s.client_port == q.client_port && s.qtype == type &&
                    lower(s.name) == lower(q.qname))
                    if (const auto* o = logged_for(host, s); o && o->id == q.id) ++logged;
            Exported delivered = value_of(p, "dns_attempts");
            if (delivered.value) *delivered.value += copies_changed_on_links(p);
            add(host, workload, conn, &p, "dns_delivered", kServerLog, delivered, logged,
                "attempts less link drops plus the engine's clones, against the queries the "
                "server logged");
        }
    }
};

}  // namespace

void validate_dns_rep(const Manifest& m, const std::vector<DnsLookupTruth>& lookups,
                      const std::vector<DnsServerQuery>& server_log,
                      const std::vector<const DnsProfile*>& agent, Result& r) {
    DnsRep(m, lookups, server_log, agent, r).run();
}

}  // namespace fc::validate
