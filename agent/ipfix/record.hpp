// One IPFIX data record in the agent's native form, indexed by registry key.
#pragma once

#include <array>
#include <cstdint>

#include "registry.hpp"

namespace fc::ipfix {

struct Record {
    TemplateKey tmpl = TemplateKey::TCP_V4;
    // Every non-IPv6 field: unsigned integers as themselves, IPv4 addresses
    // in host byte order, DT_MS as Unix milliseconds, DT_NS as Unix ns.
    std::array<uint64_t, kFieldCount> num{};
    std::array<uint8_t, 16> src_v6{};  // sourceIPv6Address
    std::array<uint8_t, 16> dst_v6{};  // destinationIPv6Address

    uint64_t get(FieldKey k) const { return num[static_cast<size_t>(k)]; }
    void set(FieldKey k, uint64_t v) { num[static_cast<size_t>(k)] = v; }
};

}  // namespace fc::ipfix
