// One IPFIX data record in the agent's native form, indexed by registry key.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "registry.hpp"

namespace fc::ipfix {

struct Record {
    TemplateKey tmpl = TemplateKey::TCP_V4;
    // Every non-IPv6 field: unsigned integers as themselves, IPv4 addresses
    // in host byte order, DT_MS as Unix milliseconds, DT_NS as Unix ns.
    std::array<uint64_t, kFieldCount> num{};
    std::array<uint8_t, 16> src_v6{};  // sourceIPv6Address
    std::array<uint8_t, 16> dst_v6{};  // destinationIPv6Address

    // String fields (STR16, STR128), few per record: absent reads as "".
    std::vector<std::pair<FieldKey, std::string>> text;

    uint64_t get(FieldKey k) const { return num[static_cast<size_t>(k)]; }
    void set(FieldKey k, uint64_t v) { num[static_cast<size_t>(k)] = v; }
    std::string_view get_text(FieldKey k) const {
        for (const auto& [key, s] : text)
            if (key == k) return s;
        return {};
    }
    void set_text(FieldKey k, std::string s) {
        for (auto& [key, old] : text)
            if (key == k) {
                old = std::move(s);
                return;
            }
        text.emplace_back(k, std::move(s));
    }
};

}  // namespace fc::ipfix
