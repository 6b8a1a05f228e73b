// Packets as the capture analysis reads them: frames down to TCP segments
// and DNS messages, with what the receiving host's checksums make of them.
// Internal to fc_capture (analysis.cpp, tcp_direction.hpp).
#pragma once

#include <array>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

namespace fc::capture::detail {

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

// The transport part of one IP packet: what the IP header says about it.
struct L4View {
    Endpoint src, dst;
    uint8_t proto = 0;
    const uint8_t* p = nullptr;
    size_t cap = 0;            // bytes captured from p
    uint32_t len = 0;          // bytes the IP header says follow
    bool ip_header_ok = true;  // IPv4 header checksum verified (IPv6 has none)
};

// What the receiving host's IP and TCP make of a segment's checksums. The
// testbed's links run with checksum offloads off (impair/engine.cpp), so
// every packet carries a complete checksum and a corrupted one (the engine
// flips a bit anywhere in the IP packet) fails the IPv4 header checksum or
// the TCP checksum: the kernel drops it before TCP looks at its sequence
// numbers (tcp_v4_rcv/tcp_rcv_established: TCP_CSUM, trace tcp_bad_csum).
enum class Integrity { good, bad, unverified };

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

uint16_t be16(const uint8_t* p);
uint32_t be32(const uint8_t* p);

// A captured frame (pcap linktype) down to its transport part; false if it
// is not IPv4/IPv6 or is cut short before the transport header.
bool parse_frame(int linktype, const uint8_t* p, size_t cap, L4View& out);
// The TCP segment of `v`; false if the header is malformed or cut short.
bool parse_tcp(const uint8_t* l4, size_t cap, uint32_t l4_len, ParsedTcp& out);
// `l4_wire_bytes`: the transport bytes on the wire (caplen may be shorter).
Integrity tcp_integrity(const L4View& v, uint64_t l4_wire_bytes);
// A DNS message over UDP port 53; false if `v` is not one.
bool parse_dns(const L4View& v, DnsMessage& m);

}  // namespace fc::capture::detail
