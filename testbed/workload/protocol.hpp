// The workload's application protocol: what the client asks the server to do.
//
// The client's first 32 bytes on every connection are this header, all
// integers big-endian:
//
//   offset size field
//        0    4 magic      "FCWL" (0x46 0x43 0x57 0x4c): rejects stray peers
//        4    1 version    1
//        5    1 type       1 = bulk, 2 = rr, 3 = churn
//        6    1 direction  0 = up (client sends), 1 = down (server sends);
//                          meaningful for bulk only, 0 otherwise
//        7    1 reserved   0
//        8    8 request    bytes the client sends per exchange
//       16    8 response   bytes the server answers per exchange
//       24    4 count      number of exchanges
//       28    4 reserved   0
//
// Then `count` exchanges: the client sends `request` bytes, the server reads
// them all and sends `response` bytes, the client reads them all. Every type
// is such a loop: bulk up = 1 exchange of (bytes, 0), bulk down = 1 of
// (0, bytes), rr = K of (request, response), churn = 1 of (1, 1). After the
// last exchange each side shuts its write side, reads until EOF and waits for
// the close to complete (see session.hpp).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace fc::workload {

enum class Type : uint8_t { bulk = 1, rr = 2, churn = 3 };
enum class Direction : uint8_t { up = 0, down = 1 };

std::string_view to_string(Type t);
std::string_view to_string(Direction d);
std::optional<Type> type_from_string(std::string_view s);
std::optional<Direction> direction_from_string(std::string_view s);

struct Header {
    Type type = Type::bulk;
    Direction direction = Direction::up;
    uint64_t request = 0;
    uint64_t response = 0;
    uint32_t count = 0;

    bool operator==(const Header&) const = default;
};

inline constexpr size_t kHeaderSize = 32;
inline constexpr uint32_t kMagic = 0x4643574c;  // "FCWL"
inline constexpr uint8_t kVersion = 1;

std::array<uint8_t, kHeaderSize> encode(const Header& h);
// Throws std::invalid_argument naming what is wrong (magic, version, type...).
Header decode(const std::array<uint8_t, kHeaderSize>& bytes);

// The header a client sends for a workload type and its options.
Header make_header(Type type, Direction dir, uint64_t bytes, uint64_t request, uint64_t response,
                   uint32_t requests);

}  // namespace fc::workload
