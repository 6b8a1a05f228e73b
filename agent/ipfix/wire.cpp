#include "wire.hpp"

#include <cstring>

namespace fc::ipfix {

size_t strip_empty_sets(uint8_t* msg, size_t len) {
    if (len < kMessageHeaderLen) return len;
    size_t off = kMessageHeaderLen;
    while (off + kSetHeaderLen <= len) {
        const uint16_t set_len = rd16(msg + off + 2);
        if (set_len < kSetHeaderLen || off + set_len > len) break;  // malformed: leave as is
        if (set_len == kSetHeaderLen) {
            std::memmove(msg + off, msg + off + kSetHeaderLen, len - off - kSetHeaderLen);
            len -= kSetHeaderLen;
            continue;
        }
        off += set_len;
    }
    wr16(msg + 2, static_cast<uint16_t>(len));
    return len;
}

}  // namespace fc::ipfix
