#include "latency/flow_key.hpp"

#include <charconv>
#include <cmath>

namespace flowcorder::latency {
namespace {

// MurmurHash3's 64-bit finaliser: every input bit affects every output bit.
uint64_t mix64(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

uint64_t combine(uint64_t state, uint64_t word) {
    return mix64(state ^ (word + 0x9e3779b97f4a7c15ULL + (state << 6) + (state >> 2)));
}

uint64_t key_hash(const FlowKey& key, uint64_t salt) {
    const uint64_t addresses = (uint64_t{key.src} << 32) | key.dst;
    const uint64_t rest =
        (uint64_t{key.sport} << 48) | (uint64_t{key.dport} << 32) | (uint64_t{key.proto} << 24);
    return combine(combine(mix64(salt), addresses), rest);
}

uint16_t read16(std::span<const uint8_t> bytes, size_t offset) {
    return static_cast<uint16_t>((bytes[offset] << 8) | bytes[offset + 1]);
}

}  // namespace

size_t FlowKeyHash::operator()(const FlowKey& key) const noexcept { return key_hash(key, 0); }

std::string format_ipv4(uint32_t address) {
    return std::to_string(address >> 24) + '.' + std::to_string((address >> 16) & 0xff) + '.' +
           std::to_string((address >> 8) & 0xff) + '.' + std::to_string(address & 0xff);
}

std::optional<uint32_t> parse_ipv4_address(std::string_view text) {
    uint32_t address = 0;
    const char* p = text.data();
    const char* end = text.data() + text.size();
    for (int octet = 0; octet < 4; ++octet) {
        unsigned value = 0;
        auto [next, ec] = std::from_chars(p, end, value);
        if (ec != std::errc{} || next == p || value > 255) return std::nullopt;
        address = (address << 8) | value;
        p = next;
        if (octet < 3) {
            if (p == end || *p != '.') return std::nullopt;
            ++p;
        }
    }
    if (p != end) return std::nullopt;
    return address;
}

uint64_t flow_hash(const FlowKey& key, uint64_t salt) { return key_hash(key, salt); }

uint64_t packet_hash(const FlowKey& key, uint16_t ip_id, uint16_t ip_length, uint64_t salt) {
    return combine(key_hash(key, salt), (uint64_t{ip_id} << 16) | ip_length);
}

bool hash_selects(uint64_t hash, double fraction) {
    // 53 bits map exactly onto [0, 1) as a double.
    const double position = std::ldexp(static_cast<double>(hash >> 11), -53);
    return position < fraction;
}

std::optional<PacketInfo> parse_ipv4_packet(std::span<const uint8_t> bytes) {
    if (bytes.size() < 20 || (bytes[0] >> 4) != 4) return std::nullopt;
    const size_t header_length = size_t{bytes[0] & 0x0fu} * 4;
    if (header_length < 20) return std::nullopt;
    PacketInfo info;
    info.ip_length = read16(bytes, 2);
    info.ip_id = read16(bytes, 4);
    const bool later_fragment = (read16(bytes, 6) & 0x1fff) != 0;
    info.key.proto = bytes[9];
    info.key.src = (uint32_t{read16(bytes, 12)} << 16) | read16(bytes, 14);
    info.key.dst = (uint32_t{read16(bytes, 16)} << 16) | read16(bytes, 18);
    const bool has_ports = info.key.proto == 6 || info.key.proto == 17 || info.key.proto == 132 ||
                           info.key.proto == 33;
    if (has_ports && !later_fragment && bytes.size() >= header_length + 4) {
        info.key.sport = read16(bytes, header_length);
        info.key.dport = read16(bytes, header_length + 2);
    }
    return info;
}

}  // namespace flowcorder::latency
