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

#include "capture/round_bound.hpp"

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

constexpr uint8_t kFin = 0x01, kSyn = 0x02, kRst = 0x04, kAck = 0x10;

struct Endpoint {
    int family = 4;
    std::array<uint8_t, 16> addr{};
    uint16_t port = 0;
    auto operator<=>(const Endpoint&) const = default;
};

// One TCP segment as the analysis needs it.
struct Segment {
    int64_t ts_ns;
    uint8_t from_lower;  // sent by the lower endpoint of the connection key
    uint8_t flags;
    uint32_t seq, ack;
    uint32_t payload;
    bool has_ts = false;  // TCP timestamps option (kind 8) present
    uint32_t tsval = 0, tsecr = 0;
    // A SACK option (kind 5), or options not captured whole: it may have
    // SACKed data newly. sack_top: the highest right edge of its blocks.
    bool may_sack = false;
    std::optional<uint32_t> sack_top;
};

struct ParsedTcp {
    Endpoint src, dst;
    Segment seg;
    // A SYN's MPTCP option (kind 30): subtype 0 MP_CAPABLE, 1 MP_JOIN.
    std::optional<uint8_t> mptcp_subtype;
    std::optional<uint32_t> mptcp_join_token;  // MP_JOIN SYN: the receiver's token
};

constexpr uint8_t kTcpOptMptcp = 30, kMpCapable = 0, kMpJoin = 1;

uint16_t be16(const uint8_t* p);
uint32_t be32(const uint8_t* p);

// The timestamps option (RFC 7323) and whether a SACK option (RFC 2018) may
// be there, from the captured options.
void parse_timestamp_option(const uint8_t* opt, size_t len, Segment& seg) {
    for (size_t i = 0; i < len;) {
        const uint8_t kind = opt[i];
        if (kind == 0) return;
        if (kind == 1) {
            ++i;
            continue;
        }
        seg.may_sack = true;  // until the option is read whole
        if (i + 1 >= len) return;
        const uint8_t olen = opt[i + 1];
        if (olen < 2 || i + olen > len) return;
        seg.may_sack = kind == 5;
        if (kind == 5) {
            if ((olen - 2) % 8 != 0) return;  // malformed: no edge trusted
            for (size_t b = i + 2; b + 8 <= i + olen; b += 8) {
                const uint32_t right = be32(opt + b + 4);
                if (!seg.sack_top || int32_t(right - *seg.sack_top) > 0) seg.sack_top = right;
            }
        }
        if (kind == 8 && olen == 10) {
            seg.has_ts = true;
            seg.tsval = be32(opt + i + 2);
            seg.tsecr = be32(opt + i + 6);
        }
        i += olen;
    }
}

// The MPTCP option of a SYN's TCP options (`opt`, `len` captured bytes).
void parse_mptcp_option(const uint8_t* opt, size_t len, ParsedTcp& out) {
    for (size_t i = 0; i < len;) {
        const uint8_t kind = opt[i];
        if (kind == 0) return;  // end of options
        if (kind == 1) {        // NOP
            ++i;
            continue;
        }
        if (i + 1 >= len) return;
        const uint8_t olen = opt[i + 1];
        if (olen < 2 || i + olen > len) return;
        if (kind == kTcpOptMptcp && olen >= 3) {
            const uint8_t subtype = opt[i + 2] >> 4;
            out.mptcp_subtype = subtype;
            // MP_JOIN on a SYN: kind, length, subtype|B, address id, receiver's token (4), nonce
            // (4).
            if (subtype == kMpJoin && olen >= 8) out.mptcp_join_token = be32(opt + i + 4);
            return;
        }
        i += olen;
    }
}

// The transport part of one IP packet: what the IP header says about it.
struct L4View {
    Endpoint src, dst;
    uint8_t proto = 0;
    const uint8_t* p = nullptr;
    size_t cap = 0;            // bytes captured from p
    uint32_t len = 0;          // bytes the IP header says follow
    bool ip_header_ok = true;  // IPv4 header checksum verified (IPv6 has none)
};

// RFC 1071 one's complement sum of big-endian 16-bit words; `n` odd only last.
uint64_t csum_add(uint64_t sum, const uint8_t* p, size_t n) {
    for (size_t i = 0; i + 1 < n; i += 2) sum += uint32_t(p[i]) << 8 | p[i + 1];
    if (n & 1) sum += uint32_t(p[n - 1]) << 8;
    return sum;
}
uint16_t csum_fold(uint64_t sum) {
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    return uint16_t(sum);
}

// What the receiving host's IP and TCP make of a segment's checksums. The
// testbed's links run with checksum offloads off (impair/engine.cpp), so
// every packet carries a complete checksum and a corrupted one (the engine
// flips a bit anywhere in the IP packet) fails the IPv4 header checksum or
// the TCP checksum: the kernel drops it before TCP looks at its sequence
// numbers (tcp_v4_rcv/tcp_rcv_established: TCP_CSUM, trace tcp_bad_csum).
enum class Integrity { good, bad, unverified };

Integrity tcp_integrity(const L4View& v, uint64_t l4_wire_bytes) {
    if (!v.ip_header_ok) return Integrity::bad;
    // The IP header claims more than the frame held: dropped as truncated.
    if (v.len > l4_wire_bytes) return Integrity::bad;
    // Headers only (--snaplen): the checksum cannot be recomputed.
    if (v.cap < v.len || v.len < 20) return Integrity::unverified;
    const size_t alen = v.src.family == 4 ? 4 : 16;
    uint64_t pseudo = csum_add(0, v.src.addr.data(), alen);
    pseudo = csum_add(pseudo, v.dst.addr.data(), alen);
    pseudo += IPPROTO_TCP + (v.len >> 16) + (v.len & 0xffff);
    if (csum_fold(csum_add(pseudo, v.p, v.len)) == 0xffff) return Integrity::good;
    // A sender with checksum offload on leaves only the pseudo-header sum in
    // the field (captured on its way out, before the device fills it in).
    if (be16(v.p + 16) == csum_fold(pseudo)) return Integrity::unverified;
    return Integrity::bad;
}

uint16_t be16(const uint8_t* p) { return uint16_t(p[0] << 8 | p[1]); }
uint32_t be32(const uint8_t* p) {
    return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3];
}

// TCP header at `l4` with `l4_len` bytes of segment (header + payload) per the IP header.
bool parse_tcp(const uint8_t* l4, size_t cap, uint32_t l4_len, ParsedTcp& out) {
    if (cap < 20 || l4_len < 20) return false;
    const uint32_t doff = uint32_t(l4[12] >> 4) * 4;
    if (doff < 20 || doff > l4_len) return false;
    out.src.port = be16(l4);
    out.dst.port = be16(l4 + 2);
    out.seg.seq = be32(l4 + 4);
    out.seg.ack = be32(l4 + 8);
    out.seg.flags = l4[13];
    out.seg.payload = l4_len - doff;
    if (doff > 20 && cap > 20) {
        const size_t olen = std::min<size_t>(cap, doff) - 20;
        parse_timestamp_option(l4 + 20, olen, out.seg);
        if (cap < doff) out.seg.may_sack = true;  // options cut short
        if ((out.seg.flags & (kSyn | kAck)) == kSyn) parse_mptcp_option(l4 + 20, olen, out);
    }
    return true;
}

bool parse_ipv4(const uint8_t* p, size_t cap, L4View& out) {
    if (cap < 20 || (p[0] >> 4) != 4) return false;
    const uint32_t ihl = uint32_t(p[0] & 0x0f) * 4, total = be16(p + 2);
    const uint16_t frag = be16(p + 6);
    // Fragments carry no complete TCP segment or UDP datagram; TCP avoids
    // them (PMTU discovery), our DNS messages are small.
    if (ihl < 20 || total < ihl || (frag & 0x3fff)) return false;
    if (cap < ihl) return false;
    out.src.family = out.dst.family = 4;
    std::memcpy(out.src.addr.data(), p + 12, 4);
    std::memcpy(out.dst.addr.data(), p + 16, 4);
    out.proto = p[9];
    out.p = p + ihl;
    out.cap = cap - ihl;
    out.len = total - ihl;
    out.ip_header_ok = csum_fold(csum_add(0, p, ihl)) == 0xffff;
    return true;
}

bool parse_ipv6(const uint8_t* p, size_t cap, L4View& out) {
    if (cap < 40 || (p[0] >> 4) != 6) return false;
    uint32_t remaining = be16(p + 4);  // payload length: extension headers + TCP
    if (remaining == 0) return false;  // jumbogram
    uint8_t next = p[6];
    out.src.family = out.dst.family = 6;
    std::memcpy(out.src.addr.data(), p + 8, 16);
    std::memcpy(out.dst.addr.data(), p + 24, 16);
    size_t off = 40;
    for (int hops = 0; next != IPPROTO_TCP && next != IPPROTO_UDP; ++hops) {
        if (hops > 8 || cap < off + 8) return false;
        const uint8_t* h = p + off;
        uint32_t len;
        switch (next) {
            case 0:   // hop-by-hop
            case 43:  // routing
            case 60:  // destination options
                len = (uint32_t(h[1]) + 1) * 8;
                break;
            case 44:  // fragment: only whole datagrams carry a whole segment
                if ((be16(h + 2) & 0xfff9) != 0) return false;
                len = 8;
                break;
            case 51:  // authentication header
                len = (uint32_t(h[1]) + 2) * 4;
                break;
            default:
                return false;
        }
        if (len > remaining) return false;
        next = h[0];
        off += len;
        remaining -= len;
    }
    if (cap < off) return false;
    out.proto = next;
    out.p = p + off;
    out.cap = cap - off;
    out.len = remaining;
    return true;
}

bool parse_l3(uint16_t ethertype, const uint8_t* p, size_t cap, L4View& out) {
    if (ethertype == 0x0800) return parse_ipv4(p, cap, out);
    if (ethertype == 0x86dd) return parse_ipv6(p, cap, out);
    return false;
}

bool parse_raw_ip(const uint8_t* p, size_t cap, L4View& out) {
    if (cap < 1) return false;
    return (p[0] >> 4) == 4 ? parse_ipv4(p, cap, out) : parse_ipv6(p, cap, out);
}

bool parse_frame(int linktype, const uint8_t* p, size_t cap, L4View& out) {
    switch (linktype) {
        case DLT_EN10MB: {
            size_t off = 12;
            while (cap >= off + 2) {
                const uint16_t type = be16(p + off);
                if (type == 0x8100 || type == 0x88a8) {  // VLAN tags
                    off += 4;
                    continue;
                }
                return parse_l3(type, p + off + 2, cap - off - 2, out);
            }
            return false;
        }
        case DLT_LINUX_SLL:
            return cap >= 16 && parse_l3(be16(p + 14), p + 16, cap - 16, out);
        case DLT_LINUX_SLL2:
            return cap >= 20 && parse_l3(be16(p), p + 20, cap - 20, out);
        case DLT_RAW:
        case DLT_IPV4:
        case DLT_IPV6:
            return parse_raw_ip(p, cap, out);
        case DLT_NULL: {  // BSD loopback: the address family in host order
            if (cap < 4) return false;
            return parse_raw_ip(p + 4, cap - 4, out);
        }
        default:
            throw CaptureError("unsupported link type " +
                               std::string(pcap_datalink_val_to_name(linktype)
                                               ? pcap_datalink_val_to_name(linktype)
                                               : std::to_string(linktype)));
    }
}

// One DNS message over UDP: the header fields and the question we keep.
struct DnsMessage {
    Endpoint src, dst;
    bool response = false;
    uint16_t id = 0;
    uint8_t rcode = 0;
    uint16_t ancount = 0;
    uint32_t size = 0;  // UDP payload length (from the UDP header)
    std::optional<std::string> qname;
    std::optional<uint16_t> qtype;
};

// The question's name and type if the capture holds them whole (labels
// only: a question has no compression pointers).
void parse_question(const uint8_t* d, size_t cap, DnsMessage& m) {
    if (d[4] == 0 && d[5] == 0) return;  // QDCOUNT 0
    std::string name;
    size_t i = 12;
    while (i < cap && d[i] != 0) {
        const size_t n = d[i];
        if ((n & 0xc0) != 0 || i + 1 + n > cap || name.size() + n + 1 > 255) return;
        if (!name.empty()) name += '.';
        for (size_t k = 0; k < n; ++k) {
            const char c = static_cast<char>(d[i + 1 + k]);
            name += (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
        }
        i += 1 + n;
    }
    if (i >= cap) return;
    m.qname = name;
    if (i + 3 <= cap) m.qtype = be16(d + i + 1);
}

// A UDP datagram to or from port 53 holding at least a DNS header.
bool parse_dns(const L4View& v, DnsMessage& m) {
    if (v.proto != IPPROTO_UDP || v.cap < 8 || v.len < 8) return false;
    const uint16_t sport = be16(v.p), dport = be16(v.p + 2), ulen = be16(v.p + 4);
    if (sport != 53 && dport != 53) return false;
    if (ulen < 8 + 12 || ulen > v.len || v.cap < 8 + 12) return false;
    const uint8_t* d = v.p + 8;
    const size_t cap = std::min<size_t>(v.cap - 8, ulen - 8);
    m.src = v.src;
    m.dst = v.dst;
    m.src.port = sport;
    m.dst.port = dport;
    m.id = be16(d);
    m.response = d[2] & 0x80;
    m.rcode = d[3] & 0x0f;
    m.ancount = be16(d + 6);
    m.size = ulen - 8u;
    parse_question(d, cap, m);
    return true;
}

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

// Disjoint half-open ranges [start, end) of 64-bit unwrapped sequence numbers.
class RangeSet {
  public:
    bool overlaps(int64_t s, int64_t e) const {
        auto it = ranges_.upper_bound(s);
        if (it != ranges_.begin() && std::prev(it)->second > s) return true;
        return it != ranges_.end() && it->first < e;
    }
    void add(int64_t s, int64_t e) {
        auto it = ranges_.upper_bound(s);
        if (it != ranges_.begin() && std::prev(it)->second >= s) {
            --it;
            s = it->first;
            e = std::max(e, it->second);
            it = ranges_.erase(it);
        }
        while (it != ranges_.end() && it->first <= e) {
            e = std::max(e, it->second);
            it = ranges_.erase(it);
        }
        ranges_.emplace(s, e);
    }
    // Removes ranges starting at or before `upto` and returns the highest end reached.
    int64_t absorb(int64_t upto) {
        while (!ranges_.empty() && ranges_.begin()->first <= upto) {
            upto = std::max(upto, ranges_.begin()->second);
            ranges_.erase(ranges_.begin());
        }
        return upto;
    }

  private:
    std::map<int64_t, int64_t> ranges_;
};

// One direction's sequence space, as seen at the capture point.
class Direction {
  public:
    Direction(DirectionStats& stats, bool keep_pairs) : st_(stats), keep_pairs_(keep_pairs) {}

    bool started() const { return started_; }

    // 32-bit serial arithmetic around the highest sequence number seen so far,
    // so the space never wraps however long the connection.
    int64_t unwrap(uint32_t seq) const { return ref_abs_ + int32_t(seq - ref_seq_); }

    // The receiver of this direction no longer has a socket (TIME_WAIT or
    // CLOSE): it took in this direction's FIN and its own FIN was
    // acknowledged, or it sent a RST. `back` is the receiver's own direction.
    // Whatever arrives later reaches a time-wait socket or none: no socket
    // counter (the agent's included) sees it.
    bool receiver_gone(const Direction& back) const {
        return back.rst_sent_ || (fin_taken() && back.fin_acked());
    }

    // `gone`: receiver_gone() just before this segment arrives.
    void on_segment(const Segment& g, bool gone = false) {
        ++st_.packets;
        if (g.flags & kFin) {
            // A FIN carrying data that is resent counts as a data
            // retransmission already; a bare FIN resent counts here.
            if (fin_sent_ && g.payload == 0) {
                ++st_.fin_retrans;
                st_.resends.push_back({g.ts_ns, true});
            }
            fin_sent_ = true;
            ++st_.fin;
        }
        if (g.flags & kRst) {
            ++st_.rst;
            if (!gone && !rst_sent_) ++st_.rst_live;
            rst_sent_ = true;
        }
        const bool syn = g.flags & kSyn;
        if (!started_) {
            started_ = true;
            ref_seq_ = g.seq;
            ref_abs_ = 0;
            rcv_nxt_ = syn ? 1 : 0;
            rcv_wup_ = rcv_nxt_;
        }
        const int64_t seq = unwrap(g.seq);
        if (seq > ref_abs_) {
            ref_abs_ = seq;
            ref_seq_ = g.seq;
        }
        track_round_space(seq, g);
        if (g.has_ts && (!max_tsval_ || int32_t(g.tsval - *max_tsval_) > 0)) max_tsval_ = g.tsval;
        const int64_t s = seq + (syn ? 1 : 0), e = s + g.payload;
        if (g.flags & kFin) fin_seq_ = e;
        if (g.payload > 0) {
            ++st_.data_segs;
            st_.data_bytes += g.payload;
            count_sender_view(s, e, g);
        }
        if (gone) {
            if (g.payload > 0) ++st_.after_close;
            return;
        }
        receive(seq, s, e, g);
    }

    // An ACK from the other direction: RTT samples for the segments it covers.
    // A reset's ACK ends the connection; the kernel times nothing from it.
    void on_ack(const Segment& g) {
        if (!started_) return;
        const int64_t ack = unwrap(g.ack), ts_ns = g.ts_ns;
        // The receiver sends its rcv_nxt in every segment, and rcv_wup =
        // rcv_nxt whenever it sends (tcp_select_window()).
        rcv_wup_ = std::max(rcv_wup_, ack);
        if (!(g.flags & kRst)) sample_round(ack, g);
        while (!pending_.empty() && pending_.begin()->second.end <= ack) {
            const Pending& p = pending_.begin()->second;
            if (!p.karn) {
                st_.rtt_us.add(double(ts_ns - p.ts_ns) / 1e3);
                if (keep_pairs_) st_.rtt_pairs.emplace_back(p.ts_ns, ts_ns);
            }
            pending_.erase(pending_.begin());
        }
    }

    // The bounds on the kernel's rounds, once every segment is in.
    void finish() { st_.rtt_round_min_sums_us = bound_.min_sums(); }

  private:
    bool fin_sent_ = false;
    bool rst_sent_ = false;
    std::optional<int64_t> fin_seq_;     // sequence number of the FIN sent (sender view)
    std::optional<int64_t> fin_pos_;     // that of a FIN the receiver accepted
    std::optional<uint32_t> ts_recent_;  // the receiver's ts_recent (RFC 7323)
    int64_t rcv_wup_ = 0;                // the receiver's rcv_wup: rcv_nxt at its last ACK

    bool fin_taken() const { return fin_pos_ && rcv_nxt_ >= *fin_pos_; }
    bool fin_acked() const { return fin_seq_ && snd_una_ > *fin_seq_; }

    // One arrival at the receiver, in the order its TCP checks it
    // (tcp_validate_incoming, tcp_ack, tcp_data_queue).
    void receive(int64_t seq, int64_t s, int64_t e, const Segment& g) {
        const bool syn = g.flags & kSyn, fin = g.flags & kFin;
        if (syn) {
            if (g.has_ts) ts_recent_ = g.tsval;  // SYN, SYN-ACK: tcp_store_ts_recent
        } else if (g.has_ts && ts_recent_ && *ts_recent_ != 0 && !(g.flags & kRst) &&
                   int32_t(*ts_recent_ - g.tsval) > kPawsWindow) {
            // PAWS: dropped before its sequence numbers are looked at. Only
            // the part wholly below rcv_nxt was a duplicate (the agent counts
            // those PAWS drops too); new data never reached the receiver,
            // whose next copy is then new to it, not a duplicate.
            if (g.payload == 0 && !fin) return;  // a pure ACK: nothing to receive
            ++st_.paws_drops;
            if (g.payload > 0 && e <= rcv_nxt_) ++st_.dup_segs;
            return;
        }
        const int64_t end_seq = e + (fin ? 1 : 0);
        // tcp_sequence(): wholly before rcv_wup, dropped (TCP_OLD_SEQUENCE)
        // before tcp_ack() could take its timestamp.
        const bool old_seq = !syn && end_seq < rcv_wup_;
        // tcp_replace_ts_recent(): a segment starting at or below rcv_wup
        // whose TSval does not go back. A retransmission filling the hole at
        // rcv_nxt carries a fresh TSval; originals sent more than a tick
        // (1 ms) before it that arrive after it then fail PAWS.
        if (!syn && !old_seq && g.has_ts && seq <= rcv_wup_ &&
            (!ts_recent_ || int32_t(g.tsval - *ts_recent_) >= 0))
            ts_recent_ = g.tsval;
        if (g.payload > 0) count_receiver_view(s, e);
        // A FIN alone above rcv_nxt waits in the out-of-order queue too
        // (rcv_ooopack counts it); no distance: the agent samples payload only.
        if (g.payload == 0 && fin && !old_seq && s > rcv_nxt_) ++st_.ooo_segs;
        if (fin && !old_seq && !fin_pos_) fin_pos_ = e;
    }

    static constexpr int32_t kPawsWindow = 1;  // TCP_PAWS_WINDOW

    struct Pending {
        int64_t end;
        int64_t ts_ns;
        bool karn;  // its range was sent again: the ACK is ambiguous
    };

    // Sequence space as the sender's retransmit queue holds it: data plus the
    // one number each of SYN and FIN take. First transmissions keep their
    // time until snd_una passes them; ranges sent again are remembered.
    void track_round_space(int64_t seq, const Segment& g) {
        const bool syn = g.flags & kSyn, fin = g.flags & kFin;
        const int64_t e = seq + (syn ? 1 : 0) + g.payload + (fin ? 1 : 0);
        if (e <= seq) return;  // a pure ACK or RST takes no sequence space
        if (sent_.overlaps(seq, e)) {
            resent_.add(seq, e);
        } else {
            first_tx_.emplace(seq, std::pair{e, g.ts_ns});
        }
        sent_.add(seq, e);
        snd_nxt_ = std::max(snd_nxt_, e);
        if (syn && (g.flags & kAck) && !synack_end_) synack_end_ = e;
    }

    // tcp_rtt_estimator's once-per-round rule: a sample on the first
    // measurement, then only on an ACK taking snd_una past rtt_seq, after
    // which rtt_seq = snd_nxt. The sample is the ACK's time minus the first
    // transmission of the earliest newly acked segment, unless resent data
    // was newly acked (Karn: FLAG_RETRANS_DATA_ACKED). The greedy emulation
    // here assumes the kernel processed each ACK as the capture saw it; the
    // RoundBound takes every ACK advancing snd_una as a candidate, since it
    // may have been processed later.
    void sample_round(int64_t ack, const Segment& a) {
        if (ack <= snd_una_) return;
        const int64_t ts_ns = a.ts_ns;
        const int64_t old_una = snd_una_;
        snd_una_ = ack;
        const bool resent = resent_.overlaps(old_una, ack);
        std::optional<double> us;
        std::optional<double> lower;  // unset: the kernel cannot time this ACK
        if (resent) lower = karn_lower_us(ack, a);
        if (!resent) {
            auto it = first_tx_.upper_bound(old_una);
            if (it != first_tx_.begin() && std::prev(it)->second.first > old_una) --it;
            // Nothing to time if the acked bytes were sent before the capture began.
            if (it != first_tx_.end() && it->first < ack)
                us = double(ts_ns - it->second.second) / 1e3;
        }
        if (synack_end_ && old_una < *synack_end_ && ack >= *synack_end_) {
            // A passive opener's handshake round: its agent sees the socket
            // only afterwards, so the sequences it can report start one
            // round later (or anywhere, if the kernel could not time it).
            if (!resent) bound_.start_after(snd_nxt_);
        } else if (!resent) {
            // Untimed (sent before the capture began): any sample will do.
            bound_.add(ack, snd_nxt_, us.value_or(0.0));
        } else if (lower) {
            bound_.add(ack, snd_nxt_, *lower);
        }
        if (rtt_seq_ && ack <= *rtt_seq_) {
            forget_acked();
            return;
        }
        const bool first_round = !rtt_seq_;
        rtt_seq_ = snd_nxt_;
        if (resent) {
            ++st_.rtt_rounds_skipped_retrans;
        } else if (us) {
            st_.rtt_rounds_us.add(*us);
            if (first_round) st_.rtt_rounds_first_us = *us;
        }
        forget_acked();
    }

    // The kernel's sample on an ACK newly acking resent data (Karn: none
    // from the acked data itself, tcp_ack_update_rtt()): from the first
    // newly SACKed segment never resent, else from the echoed timestamp;
    // unset if neither can be. Called before forget_acked(), with snd_una
    // already at `ack`.
    std::optional<double> karn_lower_us(int64_t ack, const Segment& a) const {
        if (a.may_sack && !a.sack_top) return 0.0;  // options unread: anything
        std::optional<double> lower;
        if (a.sack_top) {
            // A newly SACKed segment lies below the highest edge above
            // snd_una, and was first sent no later than the segment ending
            // there (first transmissions go in sequence order).
            const int64_t top = unwrap(*a.sack_top);
            if (top > ack) {
                auto it = first_tx_.lower_bound(top);
                if (it != first_tx_.begin()) --it;
                lower = it != first_tx_.end() && it->first < top && it->second.first > ack
                            ? std::max(0.0, double(a.ts_ns - it->second.second) / 1e3)
                            : 0.0;
            }
        }
        if (a.has_ts && a.tsecr != 0) {
            // tcp_rtt_tsopt_us(): the kernel's clock now, at least the
            // highest TSval sent before the ACK arrived, less TSecr, in 1 ms
            // ticks (at least 1 us).
            const double ts = max_tsval_ ? std::max(0, int32_t(*max_tsval_ - a.tsecr)) * 1000.0 : 0;
            lower = lower ? std::min(*lower, ts) : ts;
        }
        return lower;
    }

    void forget_acked() {
        while (!first_tx_.empty() && first_tx_.begin()->second.first <= snd_una_)
            first_tx_.erase(first_tx_.begin());
    }

    void count_sender_view(int64_t s, int64_t e, const Segment& g) {
        if (seen_.overlaps(s, e)) {
            ++st_.retrans_segs;
            st_.retrans_bytes += g.payload;
            st_.resends.push_back({g.ts_ns, e >= sent_end_});
            mark_karn(s, e);
        } else {
            pending_.emplace(s, Pending{e, g.ts_ns, false});
        }
        seen_.add(s, e);
        sent_end_ = std::max(sent_end_, e);
    }

    // Pending ranges are first transmissions, so they never overlap each other.
    void mark_karn(int64_t s, int64_t e) {
        auto it = pending_.upper_bound(s);
        if (it != pending_.begin()) --it;
        for (; it != pending_.end() && it->first < e; ++it)
            if (it->second.end > s) it->second.karn = true;
    }

    // The receiver's rcv_nxt emulated from the segments that reached this point.
    void count_receiver_view(int64_t s, int64_t e) {
        if (e <= rcv_nxt_) {
            ++st_.dup_segs;
        } else if (s > rcv_nxt_) {
            ++st_.ooo_segs;
            st_.ooo_dist.add(double(s - rcv_nxt_));
            ooo_queue_.add(s, e);
        } else {
            rcv_nxt_ = ooo_queue_.absorb(e);
        }
    }

    DirectionStats& st_;
    bool keep_pairs_;
    bool started_ = false;
    uint32_t ref_seq_ = 0;
    int64_t ref_abs_ = 0;
    int64_t rcv_nxt_ = 0;
    int64_t sent_end_ = 0;  // the highest data sequence sent so far (snd_nxt)
    RangeSet seen_, ooo_queue_;
    std::map<int64_t, Pending> pending_;  // by start
    // Round sampling (sample_round): snd_una starts at the first sequence
    // number seen, the ISN when the SYN is.
    RangeSet sent_, resent_;
    std::map<int64_t, std::pair<int64_t, int64_t>> first_tx_;  // start -> end, first sent
    int64_t snd_una_ = 0, snd_nxt_ = 0;
    std::optional<int64_t> rtt_seq_;     // unset until the first measurement
    std::optional<int64_t> synack_end_;  // past this direction's SYN-ACK, if it sent one
    std::optional<uint32_t> max_tsval_;  // the highest TSval this direction sent so far
    RoundBound bound_;
};

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
