#include "workload/protocol.hpp"

#include <stdexcept>

namespace fc::workload {
namespace {

void put_be(uint8_t* p, uint64_t v, int bytes) {
    for (int i = bytes - 1; i >= 0; --i, v >>= 8) p[i] = static_cast<uint8_t>(v & 0xff);
}

uint64_t get_be(const uint8_t* p, int bytes) {
    uint64_t v = 0;
    for (int i = 0; i < bytes; ++i) v = (v << 8) | p[i];
    return v;
}

}  // namespace

std::string_view to_string(Type t) {
    switch (t) {
        case Type::bulk:
            return "bulk";
        case Type::rr:
            return "rr";
        case Type::churn:
            return "churn";
    }
    return "?";
}

std::string_view to_string(Direction d) { return d == Direction::up ? "up" : "down"; }

std::optional<Type> type_from_string(std::string_view s) {
    for (Type t : {Type::bulk, Type::rr, Type::churn})
        if (s == to_string(t)) return t;
    return std::nullopt;
}

std::optional<Direction> direction_from_string(std::string_view s) {
    for (Direction d : {Direction::up, Direction::down})
        if (s == to_string(d)) return d;
    return std::nullopt;
}

std::array<uint8_t, kHeaderSize> encode(const Header& h) {
    std::array<uint8_t, kHeaderSize> b{};
    put_be(&b[0], kMagic, 4);
    b[4] = kVersion;
    b[5] = static_cast<uint8_t>(h.type);
    b[6] = static_cast<uint8_t>(h.direction);
    put_be(&b[8], h.request, 8);
    put_be(&b[16], h.response, 8);
    put_be(&b[24], h.count, 4);
    return b;
}

Header decode(const std::array<uint8_t, kHeaderSize>& b) {
    if (get_be(&b[0], 4) != kMagic)
        throw std::invalid_argument("bad magic (not a workload client)");
    if (b[4] != kVersion)
        throw std::invalid_argument("unsupported protocol version " + std::to_string(b[4]));
    Header h;
    if (b[5] < 1 || b[5] > 3) throw std::invalid_argument("unknown type " + std::to_string(b[5]));
    h.type = static_cast<Type>(b[5]);
    if (b[6] > 1) throw std::invalid_argument("unknown direction " + std::to_string(b[6]));
    h.direction = static_cast<Direction>(b[6]);
    h.request = get_be(&b[8], 8);
    h.response = get_be(&b[16], 8);
    h.count = static_cast<uint32_t>(get_be(&b[24], 4));
    return h;
}

Header make_header(Type type, Direction dir, uint64_t bytes, uint64_t request, uint64_t response,
                   uint32_t requests) {
    Header h;
    h.type = type;
    switch (type) {
        case Type::bulk:
            h.direction = dir;
            h.count = 1;
            (dir == Direction::up ? h.request : h.response) = bytes;
            break;
        case Type::rr:
            h.request = request;
            h.response = response;
            h.count = requests;
            break;
        case Type::churn:
            h.request = h.response = 1;
            h.count = 1;
            break;
    }
    return h;
}

}  // namespace fc::workload
