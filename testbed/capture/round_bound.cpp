#include "capture/round_bound.hpp"

#include <algorithm>
#include <limits>

namespace fc::capture {

void RoundBound::add(int64_t ack, int64_t snd_nxt, double lower_us) {
    // Candidates advance snd_una, so their ACKs only grow.
    if (!cands_.empty() && ack <= cands_.back().ack) return;
    cands_.push_back({ack, std::max(ack, snd_nxt), lower_us});
}

std::vector<double> RoundBound::min_sums() const {
    constexpr double kNone = std::numeric_limits<double>::infinity();
    // The first candidate a sequence may start at.
    size_t first = 0;
    while (first < cands_.size() && cands_[first].ack <= start_after_) ++first;
    const size_t n = cands_.size();
    if (first == n) return {};
    // next[j]: the first candidate acking past candidate j's snd_nxt, the
    // earliest the round after j can end. Non-decreasing in j, since snd_nxt
    // only grows.
    std::vector<size_t> next(n);
    for (size_t j = first, i = first; j < n; ++j) {
        i = std::max(i, j + 1);
        while (i < n && cands_[i].ack <= cands_[j].snd_nxt) ++i;
        next[j] = i;
    }
    // best[i]: the smallest sum of a sequence of the current length ending
    // at candidate i. A sequence ending at i extends one ending at any j with
    // next[j] <= i, a prefix of the candidates since next is monotone.
    std::vector<double> best(n, kNone), longer(n);
    for (size_t i = first; i < n; ++i) best[i] = cands_[i].lower_us;
    std::vector<double> sums;
    for (;;) {
        const double shortest = *std::min_element(best.begin() + first, best.end());
        if (shortest == kNone) break;
        sums.push_back(shortest);
        double prefix_min = kNone;
        size_t j = first;
        for (size_t i = first; i < n; ++i) {
            while (j < n && next[j] <= i) prefix_min = std::min(prefix_min, best[j++]);
            longer[i] = prefix_min == kNone ? kNone : prefix_min + cands_[i].lower_us;
        }
        best.swap(longer);
    }
    return sums;
}

}  // namespace fc::capture
