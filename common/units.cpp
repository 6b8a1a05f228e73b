#include "common/units.hpp"

#include <cctype>
#include <cmath>
#include <stdexcept>
#include <string>
#include <utility>

namespace fc::common {
namespace {

std::string lower(std::string_view s) {
    std::string out(s);
    for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

// Splits "12.5MiB" into 12.5 and "mib"; rejects empty, negative or junk numbers.
std::pair<double, std::string> split_number(std::string_view text, const char* what) {
    const std::string quoted = "'" + std::string(text) + "' is not a " + what;
    size_t i = 0;
    while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.'))
        ++i;
    if (i == 0) throw std::invalid_argument(quoted + ": expected a number first");
    double value = 0;
    try {
        size_t used = 0;
        value = std::stod(std::string(text.substr(0, i)), &used);
        if (used != i) throw std::invalid_argument("");
    } catch (const std::exception&) {
        throw std::invalid_argument(quoted + ": not a number");
    }
    return {value, lower(text.substr(i))};
}

}  // namespace

uint64_t parse_size(std::string_view text) {
    const auto [value, unit] = split_number(text, "size");
    double scale = 0;
    if (unit.empty() || unit == "b")
        scale = 1;
    else if (unit == "k" || unit == "kb")
        scale = 1e3;
    else if (unit == "m" || unit == "mb")
        scale = 1e6;
    else if (unit == "g" || unit == "gb")
        scale = 1e9;
    else if (unit == "t" || unit == "tb")
        scale = 1e12;
    else if (unit == "kib")
        scale = 1024.0;
    else if (unit == "mib")
        scale = 1024.0 * 1024;
    else if (unit == "gib")
        scale = 1024.0 * 1024 * 1024;
    else if (unit == "tib")
        scale = 1024.0 * 1024 * 1024 * 1024;
    else
        throw std::invalid_argument("'" + std::string(text) + "' is not a size: unknown unit '" +
                                    unit + "' (e.g. 100, 64KiB, 4MB, 1GB)");
    const double bytes = value * scale;
    if (bytes != std::floor(bytes))
        throw std::invalid_argument("'" + std::string(text) +
                                    "' is not a size: not a whole number of bytes");
    if (bytes >= 18446744073709551616.0)
        throw std::invalid_argument("'" + std::string(text) + "' is not a size: too large");
    return static_cast<uint64_t>(bytes);
}

std::chrono::nanoseconds parse_duration(std::string_view text) {
    const auto [value, unit] = split_number(text, "duration");
    double ns_per_unit = 0;
    if (unit == "ns")
        ns_per_unit = 1;
    else if (unit == "us")
        ns_per_unit = 1e3;
    else if (unit == "ms")
        ns_per_unit = 1e6;
    else if (unit.empty() || unit == "s")
        ns_per_unit = 1e9;
    else if (unit == "m" || unit == "min")
        ns_per_unit = 60e9;
    else
        throw std::invalid_argument("'" + std::string(text) +
                                    "' is not a duration: unknown unit '" + unit +
                                    "' (e.g. 2s, 150ms, 500us)");
    const double ns = value * ns_per_unit;
    if (ns > 1e18)
        throw std::invalid_argument("'" + std::string(text) + "' is not a duration: too large");
    return std::chrono::nanoseconds(static_cast<int64_t>(std::llround(ns)));
}

}  // namespace fc::common
