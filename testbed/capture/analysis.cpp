#include "capture/analysis.hpp"

#include <arpa/inet.h>
#include <pcap/pcap.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <tuple>

#include "capture/packet.hpp"
#include "capture/tcp_direction.hpp"

namespace fc::capture {

void RunningStats::add(double x) {
    ++samples;
    if (samples == 1) {
        min = max = x;
    } else {
        min = std::min(min, x);
        max = std::max(max, x);
    }
    const double delta = x - mean;
    mean += delta / double(samples);
    m2 += delta * (x - mean);
}

namespace {

using namespace detail;

// Groups DNS messages into queries: copies of a query (same client and
// server endpoints, id and question) are attempts; a reply belongs to the
// latest query with its endpoints and id.
class DnsTracker {
  public:
    explicit DnsTracker(std::vector<DnsQuery>& out) : out_(out) {}

    void add(const DnsMessage& m, int64_t ts_ns) {
        const Endpoint& client = m.response ? m.dst : m.src;
        const Endpoint& server = m.response ? m.src : m.dst;
        auto& list = by_key_[{client, server, m.id}];
        if (!m.response) {
            for (auto it = list.rbegin(); it != list.rend(); ++it) {
                DnsQuery& q = out_[*it];
                if (q.qname == m.qname && q.qtype == m.qtype) {
                    if (q.attempts == 0) first_copy(q, m, ts_ns);
                    ++q.attempts;
                    q.t_last_query_ns = ts_ns;
                    if (q.replies == 0) q.t_last_query_before_reply_ns = ts_ns;
                    return;
                }
            }
            list.push_back(create(client, server, m));
            DnsQuery& q = out_[list.back()];
            first_copy(q, m, ts_ns);
            q.attempts = 1;
            q.t_last_query_ns = ts_ns;
            q.t_last_query_before_reply_ns = ts_ns;
            return;
        }
        if (list.empty()) {  // a reply whose query the capture did not see
            list.push_back(create(client, server, m));
            out_[list.back()].qname = m.qname;
            out_[list.back()].qtype = m.qtype;
        }
        DnsQuery& q = out_[list.back()];
        if (++q.replies == 1) {
            q.t_reply_ns = ts_ns;
            q.reply_size = m.size;
            q.rcode = m.rcode;
            q.answers = m.ancount;
        }
    }

  private:
    static void first_copy(DnsQuery& q, const DnsMessage& m, int64_t ts_ns) {
        q.t_first_query_ns = ts_ns;
        q.query_size = m.size;
        q.qname = m.qname;
        q.qtype = m.qtype;
    }
    size_t create(const Endpoint& client, const Endpoint& server, const DnsMessage& m);

    std::vector<DnsQuery>& out_;
    std::map<std::tuple<Endpoint, Endpoint, uint16_t>, std::vector<size_t>> by_key_;
};

std::string addr_text(const Endpoint& e);

size_t DnsTracker::create(const Endpoint& client, const Endpoint& server, const DnsMessage& m) {
    DnsQuery q;
    q.family = client.family;
    q.client = addr_text(client);
    q.server = addr_text(server);
    q.client_port = client.port;
    q.server_port = server.port;
    q.id = m.id;
    out_.push_back(std::move(q));
    return out_.size() - 1;
}

std::string addr_text(const Endpoint& e) {
    char buf[INET6_ADDRSTRLEN];
    inet_ntop(e.family == 4 ? AF_INET : AF_INET6, e.addr.data(), buf, sizeof buf);
    return buf;
}

// Segments of one connection, grouped by 4-tuple before the roles are known.
struct ConnBuild {
    Endpoint lower, upper;
    std::vector<Segment> segs;
    std::optional<uint32_t> syn_isn;       // first SYN's sequence number
    std::optional<uint8_t> mptcp_subtype;  // of the first SYN's MPTCP option
    std::optional<uint32_t> mptcp_join_token;
    bool fin[2] = {false, false};
    bool rst = false;
    bool over() const { return rst || (fin[0] && fin[1]); }
};

// Which endpoint opened: the first SYN's sender, else the first SYN-ACK's
// receiver, else the higher port (servers listen on the lower one).
bool lower_is_client(const ConnBuild& c) {
    for (const auto& g : c.segs) {
        if ((g.flags & (kSyn | kAck)) == kSyn) return g.from_lower;
        if ((g.flags & (kSyn | kAck)) == (kSyn | kAck)) return !g.from_lower;
    }
    if (c.lower.port != c.upper.port) return c.lower.port > c.upper.port;
    return c.segs.front().from_lower;
}

Connection analyse_connection(const ConnBuild& b, bool keep_rtt_pairs) {
    Connection c;
    const bool lower_client = lower_is_client(b);
    const Endpoint& cl = lower_client ? b.lower : b.upper;
    const Endpoint& sv = lower_client ? b.upper : b.lower;
    c.family = cl.family;
    c.client = addr_text(cl);
    c.server = addr_text(sv);
    c.cport = cl.port;
    c.sport = sv.port;
    if (b.mptcp_subtype == kMpCapable) c.mptcp = "capable";
    if (b.mptcp_subtype == kMpJoin) c.mptcp = "join";
    c.mptcp_join_token = b.mptcp_join_token;
    c.first_ns = b.segs.front().ts_ns;
    c.last_ns = b.segs.back().ts_ns;
    Direction c2s(c.c2s, keep_rtt_pairs), s2c(c.s2c, keep_rtt_pairs);
    std::optional<int64_t> first_syn, first_synack;
    for (const auto& g : b.segs) {
        const bool from_client = bool(g.from_lower) == lower_client;
        Direction& here = from_client ? c2s : s2c;
        Direction& there = from_client ? s2c : c2s;
        if ((g.flags & (kSyn | kAck)) == kSyn) {
            ++c.syn;
            if (!first_syn) first_syn = g.ts_ns;
        } else if ((g.flags & (kSyn | kAck)) == (kSyn | kAck)) {
            ++c.synack;
            if (!first_synack) first_synack = g.ts_ns;
        }
        // The ACK first (the other direction's state only): an ACK of the
        // receiver's FIN may end its socket before the data it carries.
        if (g.flags & kAck) there.on_ack(g);
        here.on_segment(g, here.receiver_gone(there));
    }
    c2s.finish();
    s2c.finish();
    if (first_syn && first_synack && *first_synack >= *first_syn)
        c.handshake_ns = *first_synack - *first_syn;
    return c;
}

struct PcapCloser {
    void operator()(pcap_t* p) const { pcap_close(p); }
};

nlohmann::ordered_json rtt_json(const RunningStats& r) {
    return {{"samples", r.samples},
            {"mean_us", r.mean},
            {"var_us2", r.variance()},
            {"min_us", r.min},
            {"max_us", r.max}};
}

nlohmann::ordered_json rounds_json(const DirectionStats& d) {
    auto j = rtt_json(d.rtt_rounds_us);
    j["skipped_retrans"] = d.rtt_rounds_skipped_retrans;
    j["first_us"] = d.rtt_rounds_first_us ? nlohmann::ordered_json(*d.rtt_rounds_first_us)
                                          : nlohmann::ordered_json(nullptr);
    auto sums = nlohmann::ordered_json::array();
    for (double s : d.rtt_round_min_sums_us) sums.push_back(std::round(s * 1000) / 1000);
    j["min_sum_us"] = std::move(sums);
    return j;
}

// [[capture stamp, 1 if it resent the tail else 0], ...]
nlohmann::ordered_json resends_json(const DirectionStats& d) {
    auto j = nlohmann::ordered_json::array();
    for (const auto& r : d.resends) j.push_back({r.ts_ns, r.tail ? 1 : 0});
    return j;
}

nlohmann::ordered_json direction_json(const DirectionStats& d) {
    return {{"packets", d.packets},
            {"data_segs", d.data_segs},
            {"data_bytes", d.data_bytes},
            {"retrans_segs", d.retrans_segs},
            {"retrans_bytes", d.retrans_bytes},
            {"dup_segs", d.dup_segs},
            {"ooo_segs", d.ooo_segs},
            {"ooo_dist_samples", d.ooo_dist.samples},
            {"ooo_dist_mean", d.ooo_dist.mean},
            {"paws_drops", d.paws_drops},
            {"after_close", d.after_close},
            {"fin", d.fin},
            {"fin_retrans", d.fin_retrans},
            {"resends", resends_json(d)},
            {"rst", d.rst},
            {"rst_live", d.rst_live},
            {"rtt", rtt_json(d.rtt_us)},
            {"rtt_rounds", rounds_json(d)}};
}

}  // namespace

Analysis analyse_pcap(const std::string& path, bool keep_rtt_pairs) {
    char err[PCAP_ERRBUF_SIZE] = "";
    std::unique_ptr<pcap_t, PcapCloser> p(
        pcap_open_offline_with_tstamp_precision(path.c_str(), PCAP_TSTAMP_PRECISION_NANO, err));
    if (!p) throw CaptureError("cannot read " + path + ": " + err);
    const int linktype = pcap_datalink(p.get());

    Analysis a;
    a.capture = path.substr(path.find_last_of('/') + 1);
    std::vector<ConnBuild> conns;
    std::map<std::pair<Endpoint, Endpoint>, size_t> current;  // 4-tuple -> latest connection
    DnsTracker dns(a.dns);
    pcap_pkthdr* h;
    const u_char* bytes;
    int rc;
    while ((rc = pcap_next_ex(p.get(), &h, &bytes)) == 1) {
        ++a.packets;
        L4View v{};
        if (!parse_frame(linktype, bytes, h->caplen, v)) continue;
        const int64_t ts_ns = int64_t(h->ts.tv_sec) * 1000000000 + h->ts.tv_usec;
        if (DnsMessage m; parse_dns(v, m)) {
            ++a.dns_packets;
            dns.add(m, ts_ns);
            continue;
        }
        ParsedTcp t{};
        if (v.proto != IPPROTO_TCP) continue;
        t.src = v.src;
        t.dst = v.dst;
        if (!parse_tcp(v.p, v.cap, v.len, t)) continue;
        // A packet the receiving host drops on its checksum never reaches
        // TCP: counting it would have the receiver hold data it lacks.
        const uint64_t l4_off = uint64_t(v.p - bytes);
        switch (tcp_integrity(v, h->len > l4_off ? h->len - l4_off : 0)) {
            case Integrity::bad:
                ++a.tcp_bad_csum;
                continue;
            case Integrity::unverified:
                ++a.tcp_csum_unverified;
                break;
            case Integrity::good:
                break;
        }
        ++a.tcp_packets;
        t.seg.ts_ns = ts_ns;
        const bool src_lower = t.src < t.dst;
        t.seg.from_lower = src_lower;
        const auto key = src_lower ? std::pair{t.src, t.dst} : std::pair{t.dst, t.src};
        const bool is_syn = (t.seg.flags & (kSyn | kAck)) == kSyn;
        auto it = current.find(key);
        // A new SYN on a 4-tuple whose connection ended starts the next connection.
        if (it == current.end() ||
            (is_syn && conns[it->second].over() && conns[it->second].syn_isn != t.seg.seq)) {
            conns.push_back(
                ConnBuild{key.first, key.second, {}, {}, {}, {}, {false, false}, false});
            it = current.insert_or_assign(key, conns.size() - 1).first;
        }
        ConnBuild& c = conns[it->second];
        if (is_syn && !c.syn_isn) {
            c.syn_isn = t.seg.seq;
            c.mptcp_subtype = t.mptcp_subtype;
            c.mptcp_join_token = t.mptcp_join_token;
        }
        if (t.seg.flags & kFin) c.fin[src_lower ? 0 : 1] = true;
        if (t.seg.flags & kRst) c.rst = true;
        c.segs.push_back(t.seg);
    }
    if (rc == PCAP_ERROR) throw CaptureError(path + ": " + pcap_geterr(p.get()));
    for (const auto& c : conns) a.connections.push_back(analyse_connection(c, keep_rtt_pairs));
    return a;
}

nlohmann::ordered_json to_json(const Analysis& a) {
    nlohmann::ordered_json conns = nlohmann::ordered_json::array();
    for (const auto& c : a.connections) {
        conns.push_back(
            {{"family", c.family},
             {"client", c.client},
             {"cport", c.cport},
             {"server", c.server},
             {"sport", c.sport},
             {"first_ns", c.first_ns},
             {"last_ns", c.last_ns},
             {"syn", c.syn},
             {"synack", c.synack},
             {"handshake_ns", c.handshake_ns ? nlohmann::ordered_json(*c.handshake_ns)
                                             : nlohmann::ordered_json(nullptr)},
             {"mptcp",
              c.mptcp ? nlohmann::ordered_json(*c.mptcp) : nlohmann::ordered_json(nullptr)},
             {"mptcp_join_token", c.mptcp_join_token ? nlohmann::ordered_json(*c.mptcp_join_token)
                                                     : nlohmann::ordered_json(nullptr)},
             {"c2s", direction_json(c.c2s)},
             {"s2c", direction_json(c.s2c)}});
    }
    auto opt = [](const auto& v) {
        return v ? nlohmann::ordered_json(*v) : nlohmann::ordered_json(nullptr);
    };
    nlohmann::ordered_json dns = nlohmann::ordered_json::array();
    for (const auto& q : a.dns)
        dns.push_back({{"family", q.family},
                       {"client", q.client},
                       {"client_port", q.client_port},
                       {"server", q.server},
                       {"server_port", q.server_port},
                       {"id", q.id},
                       {"qname", opt(q.qname)},
                       {"qtype", opt(q.qtype)},
                       {"attempts", q.attempts},
                       {"replies", q.replies},
                       {"t_first_query_ns", opt(q.t_first_query_ns)},
                       {"t_last_query_ns", opt(q.t_last_query_ns)},
                       {"t_last_query_before_reply_ns", opt(q.t_last_query_before_reply_ns)},
                       {"t_reply_ns", opt(q.t_reply_ns)},
                       {"query_size", opt(q.query_size)},
                       {"reply_size", opt(q.reply_size)},
                       {"rcode", opt(q.rcode)},
                       {"answers", opt(q.answers)}});
    return {{"capture", a.capture},
            {"packets", a.packets},
            {"tcp_packets", a.tcp_packets},
            {"tcp_bad_csum", a.tcp_bad_csum},
            {"tcp_csum_unverified", a.tcp_csum_unverified},
            {"dns_packets", a.dns_packets},
            {"pcap_drops", a.pcap_drops ? nlohmann::ordered_json(*a.pcap_drops)
                                        : nlohmann::ordered_json(nullptr)},
            {"connections", conns},
            {"dns", dns}};
}

std::string stats_sidecar_path(const std::string& pcap_path) { return pcap_path + ".stats.json"; }

}  // namespace fc::capture
