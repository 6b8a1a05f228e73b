// Sizes ("1MB", "64KiB", "100") and durations ("5s", "250ms", "3"), the one
// parser behind experiment files and command lines. Errors throw
// std::invalid_argument with a message that starts with the quoted text
// ("'four' is not a size: ..."), so callers can prefix the file, line and
// field or the option name.
#pragma once

#include <chrono>
#include <cstdint>
#include <string_view>

namespace fc::common {

// Bytes. Suffixes (case-insensitive): B, K/KB = 10^3, M/MB = 10^6, G/GB = 10^9,
// T/TB = 10^12, KiB/MiB/GiB/TiB = powers of 1024. No suffix = bytes.
uint64_t parse_size(std::string_view text);

// Suffixes: ns, us, ms, s, m (minutes); no suffix = seconds. Fractions allowed
// ("1.5s"); negative values are rejected.
std::chrono::nanoseconds parse_duration(std::string_view text);

}  // namespace fc::common
