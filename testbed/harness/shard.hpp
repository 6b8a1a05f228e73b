// --shard K/N for `run` and `explore`: several machines split one suite or
// one explorer batch; shard K takes the items i with i % N == K - 1.
#pragma once

#include <string>
#include <vector>

namespace fc::harness {

// Parses "K/N" (1 <= K <= N). Returns "" and sets k, n, or says what is wrong.
std::string parse_shard(const std::string& text, unsigned& k, unsigned& n);

template <class T>
std::vector<T> shard_of(const std::vector<T>& items, unsigned k, unsigned n) {
    std::vector<T> out;
    for (size_t i = 0; i < items.size(); ++i)
        if (n > 0 && i % n == k - 1) out.push_back(items[i]);
    return out;
}

}  // namespace fc::harness
