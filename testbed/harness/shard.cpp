#include "shard.hpp"

namespace fc::harness {

std::string parse_shard(const std::string& text, unsigned& k, unsigned& n) {
    const std::string why = "'" + text + "' is not K/N (shard K of N, 1 <= K <= N, e.g. 2/4)";
    const auto slash = text.find('/');
    if (slash == std::string::npos || slash == 0 || slash + 1 == text.size()) return why;
    const std::string a = text.substr(0, slash), b = text.substr(slash + 1);
    for (const std::string& s : {a, b})
        if (s.size() > 6 || s.find_first_not_of("0123456789") != std::string::npos) return why;
    const unsigned kk = static_cast<unsigned>(std::stoul(a)),
                   nn = static_cast<unsigned>(std::stoul(b));
    if (kk < 1 || kk > nn) return why;
    k = kk;
    n = nn;
    return "";
}

}  // namespace fc::harness
