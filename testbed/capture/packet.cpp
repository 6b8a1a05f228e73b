#include "capture/packet.hpp"

#include <arpa/inet.h>
#include <pcap/pcap.h>

#include <algorithm>
#include <cstring>

#include "capture/analysis.hpp"

namespace fc::capture::detail {

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

}  // namespace fc::capture::detail
