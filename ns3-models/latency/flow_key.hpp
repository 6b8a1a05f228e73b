// Flow keys, the shared sampling hashes and IPv4 header parsing.
//
// Plain C++ (no ns-3): the testbed uses the same functions on real packets and
// records, so a flow sampled in simulation is sampled by the same rule on a wire.
#pragma once

#include <compare>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace flowcorder::latency {

struct FlowKey {
    uint32_t src = 0;  // host byte order
    uint32_t dst = 0;
    uint16_t sport = 0;
    uint16_t dport = 0;
    uint8_t proto = 0;

    auto operator<=>(const FlowKey&) const = default;
};

struct FlowKeyHash {
    size_t operator()(const FlowKey& key) const noexcept;
};

std::string format_ipv4(uint32_t address);
std::optional<uint32_t> parse_ipv4_address(std::string_view text);

// The consistent-sampling hash: every meter computes it from the key alone, so
// all meters that share `salt` keep exactly the same flows.
uint64_t flow_hash(const FlowKey& key, uint64_t salt);

// Trajectory sampling's packet digest: fields that no router on the path
// rewrites (key, IP identification, IP total length).
uint64_t packet_hash(const FlowKey& key, uint16_t ip_id, uint16_t ip_length, uint64_t salt);

// True iff `hash` falls in the lowest `fraction` of the hash space. Selections
// are nested: whatever a fraction keeps, every larger fraction keeps too.
bool hash_selects(uint64_t hash, double fraction);

struct PacketInfo {
    FlowKey key;
    uint16_t ip_id = 0;
    uint16_t ip_length = 0;  // IPv4 total length, i.e. the bytes a meter counts
};

// Parses an IPv4 header (and the ports of TCP, UDP, SCTP, DCCP) from the first
// bytes of a packet. Fragments after the first and other protocols get ports 0.
std::optional<PacketInfo> parse_ipv4_packet(std::span<const uint8_t> bytes);

}  // namespace flowcorder::latency
