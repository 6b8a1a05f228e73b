// The ingest race's search for the highest loss-free rate, and the summary
// statistics it reports. Pure functions, unit-tested.
#pragma once

#include <algorithm>
#include <cmath>
#include <functional>
#include <stdexcept>
#include <vector>

namespace fc::bench {

struct TrialOutcome {
    bool pass = false;            // stored >= threshold of what was sent
    double achieved_rate = 0;     // records/s the sender really sent
    bool sender_limited = false;  // the sender could not reach the target rate
};

struct SearchResult {
    double best_rate = 0;         // achieved rate of the highest passing trial (0: none passed)
    double fail_rate = 0;         // lowest failing target above it (0: none failed)
    bool sender_limited = false;  // search stopped because the sender was the bottleneck
    int trials = 0;
};

// Doubling from `start` while trials pass (down by halves if the first one
// fails, at most `max_halvings` times), then `bisect_steps` bisections
// between the highest pass and the lowest failure. `trial(rate)` runs one
// paced trial at that target rate.
inline SearchResult search_rate(const std::function<TrialOutcome(double)>& trial, double start,
                                double max_rate, int bisect_steps, int max_halvings = 6) {
    if (start <= 0 || max_rate < start) throw std::invalid_argument("search_rate: bad rates");
    SearchResult r;
    double lo = 0, hi = 0;  // target rates: highest pass, lowest fail
    auto run = [&](double rate) {
        ++r.trials;
        const TrialOutcome o = trial(rate);
        if (o.pass) {
            lo = rate;
            r.best_rate = std::max(r.best_rate, o.achieved_rate);
        } else {
            hi = rate;
        }
        if (o.sender_limited && o.pass) r.sender_limited = true;
        return o.pass;
    };
    double rate = start;
    if (run(rate)) {
        while (!r.sender_limited && rate * 2 <= max_rate && run(rate * 2)) rate *= 2;
        if (hi == 0) {  // max rate reached, or sender-bound: nothing to bisect
            r.fail_rate = 0;
            return r;
        }
    } else {
        for (int i = 0; i < max_halvings && lo == 0; ++i) run(hi / 2);
        if (lo == 0) {
            r.fail_rate = hi;
            return r;
        }
    }
    for (int i = 0; i < bisect_steps && !r.sender_limited; ++i) run((lo + hi) / 2);
    r.fail_rate = hi;
    return r;
}

struct Summary {
    double median = 0, min = 0, max = 0;
    size_t n = 0;
};

inline Summary summarize(std::vector<double> v) {
    Summary s;
    s.n = v.size();
    if (v.empty()) return s;
    std::sort(v.begin(), v.end());
    s.min = v.front();
    s.max = v.back();
    const size_t h = v.size() / 2;
    s.median = v.size() % 2 ? v[h] : (v[h - 1] + v[h]) / 2;
    return s;
}

}  // namespace fc::bench
