// Raw IPFIX message framing (RFC 7011 section 3): header and set walking,
// independent of libfixbuf. Used to post-process what fixbuf emits and to
// vet what a collector receives before fixbuf sees it.
#pragma once

#include <cstddef>
#include <cstdint>

namespace fc::ipfix {

inline constexpr size_t kMessageHeaderLen = 16;
inline constexpr size_t kSetHeaderLen = 4;
inline constexpr uint16_t kIpfixVersion = 10;
inline constexpr uint16_t kTemplateSetId = 2;
inline constexpr uint16_t kOptionsTemplateSetId = 3;
inline constexpr uint16_t kMinDataSetId = 256;

inline uint16_t rd16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
inline uint32_t rd32(const uint8_t* p) {
    return static_cast<uint32_t>(p[0]) << 24 | static_cast<uint32_t>(p[1]) << 16 |
           static_cast<uint32_t>(p[2]) << 8 | p[3];
}
inline uint64_t rd64(const uint8_t* p) {
    return static_cast<uint64_t>(rd32(p)) << 32 | rd32(p + 4);
}
inline void wr16(uint8_t* p, uint16_t v) {
    p[0] = static_cast<uint8_t>(v >> 8);
    p[1] = static_cast<uint8_t>(v);
}

struct MessageHeader {
    uint16_t version;
    uint16_t length;
    uint32_t export_time;
    uint32_t sequence;
    uint32_t domain;
};

inline MessageHeader read_header(const uint8_t* p) {
    return {rd16(p), rd16(p + 2), rd32(p + 4), rd32(p + 8), rd32(p + 12)};
}

// Removes sets that hold no record (header only, which RFC 7011 does not
// allow and libfixbuf 2.4 can leave behind when a message fills up) and
// fixes the message length. Returns the new length.
size_t strip_empty_sets(uint8_t* msg, size_t len);

}  // namespace fc::ipfix
