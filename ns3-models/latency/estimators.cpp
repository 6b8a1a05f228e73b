#include "latency/estimators.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <unordered_map>

namespace flowcorder::latency {
namespace {

// Flow index by key, each list sorted by upstream start: lets per-packet data
// find its flow (record) by key and time.
class FlowIndex {
  public:
    explicit FlowIndex(const std::vector<MatchedFlow>& flows) : m_flows(flows) {
        for (size_t i = 0; i < flows.size(); ++i) m_by_key[flows[i].a.key].push_back(i);
    }

    // The flow whose upstream lifetime contains t, or -1.
    ptrdiff_t find(const FlowKey& key, int64_t t) const {
        auto it = m_by_key.find(key);
        if (it == m_by_key.end()) return -1;
        for (size_t i : it->second) {
            const FlowRecord& a = m_flows[i].a;
            if (a.first_ns <= t && t <= a.last_ns) return static_cast<ptrdiff_t>(i);
        }
        return -1;
    }

  private:
    const std::vector<MatchedFlow>& m_flows;
    std::unordered_map<FlowKey, std::vector<size_t>, FlowKeyHash> m_by_key;
};

double mean_delay(const std::vector<DelaySample>& samples) {
    double sum = 0;
    for (const DelaySample& s : samples) sum += s.delay_ns;
    return sum / static_cast<double>(samples.size());
}

// Average over [start, end] of the piecewise-linear curve through the samples,
// held constant beyond the first and last sample.
double time_weighted_mean(std::vector<DelaySample> samples, int64_t start, int64_t end) {
    std::sort(samples.begin(), samples.end(),
              [](const DelaySample& x, const DelaySample& y) { return x.time_ns < y.time_ns; });
    // Samples at the same instant become one point: their mean.
    std::vector<DelaySample> points;
    std::vector<size_t> counts;
    for (const DelaySample& s : samples) {
        if (!points.empty() && points.back().time_ns == s.time_ns) {
            points.back().delay_ns += s.delay_ns;
            ++counts.back();
        } else {
            points.push_back(s);
            counts.push_back(1);
        }
    }
    for (size_t i = 0; i < points.size(); ++i) points[i].delay_ns /= static_cast<double>(counts[i]);
    if (end <= start || points.size() == 1) return mean_delay(points);

    auto value_at = [&](double t) {
        if (t <= static_cast<double>(points.front().time_ns)) return points.front().delay_ns;
        if (t >= static_cast<double>(points.back().time_ns)) return points.back().delay_ns;
        auto hi = std::upper_bound(points.begin(), points.end(), t,
                                   [](double time, const DelaySample& p) {
                                       return time < static_cast<double>(p.time_ns);
                                   });
        auto lo = std::prev(hi);
        const double span = static_cast<double>(hi->time_ns - lo->time_ns);
        const double w = (t - static_cast<double>(lo->time_ns)) / span;
        return lo->delay_ns + w * (hi->delay_ns - lo->delay_ns);
    };
    std::vector<double> breaks{static_cast<double>(start)};
    for (const DelaySample& p : points) {
        if (p.time_ns > start && p.time_ns < end) breaks.push_back(static_cast<double>(p.time_ns));
    }
    breaks.push_back(static_cast<double>(end));
    double area = 0;
    for (size_t i = 1; i < breaks.size(); ++i) {
        area += 0.5 * (value_at(breaks[i - 1]) + value_at(breaks[i])) * (breaks[i] - breaks[i - 1]);
    }
    return area / static_cast<double>(end - start);
}

struct PooledSample {
    DelaySample sample;
    size_t flow;
};

}  // namespace

std::vector<MatchedFlow> match_records(const std::vector<FlowRecord>& up,
                                       const std::vector<FlowRecord>& down, int64_t max_delay_ns) {
    std::unordered_map<FlowKey, std::vector<size_t>, FlowKeyHash> down_by_key;
    for (size_t i = 0; i < down.size(); ++i) down_by_key[down[i].key].push_back(i);
    for (auto& [key, list] : down_by_key) {
        std::sort(list.begin(), list.end(),
                  [&](size_t x, size_t y) { return down[x].first_ns < down[y].first_ns; });
    }
    std::vector<size_t> order(up.size());
    std::iota(order.begin(), order.end(), size_t{0});
    std::sort(order.begin(), order.end(), [&](size_t x, size_t y) {
        if (up[x].first_ns != up[y].first_ns) return up[x].first_ns < up[y].first_ns;
        return up[x].key < up[y].key;
    });
    std::vector<bool> used(down.size(), false);
    std::vector<MatchedFlow> matched;
    for (size_t i : order) {
        const FlowRecord& a = up[i];
        auto it = down_by_key.find(a.key);
        if (it == down_by_key.end()) continue;
        for (size_t j : it->second) {
            const FlowRecord& b = down[j];
            if (used[j] || b.first_ns < a.first_ns - max_delay_ns) continue;
            if (b.first_ns > a.last_ns + max_delay_ns) break;
            used[j] = true;
            matched.push_back({a, b});
            break;
        }
    }
    return matched;
}

std::vector<DelaySample> own_samples(const MatchedFlow& flow) {
    std::vector<DelaySample> samples{
        {flow.a.first_ns, static_cast<double>(flow.b.first_ns - flow.a.first_ns)}};
    if (flow.a.packets > 1) {
        samples.push_back({flow.a.last_ns, static_cast<double>(flow.b.last_ns - flow.a.last_ns)});
    }
    return samples;
}

double naive_estimate(const MatchedFlow& flow) { return mean_delay(own_samples(flow)); }

std::string MultiflowOptions::name() const {
    std::string text = window == Window::Lifetime ? "lifetime" : "padded";
    text += weighting == Weighting::PerSample ? "/per-sample" : "/time-weighted";
    switch (loss) {
        case LossPolicy::UseAll:
            return text + "/use-all";
        case LossPolicy::NoLossyDonors:
            return text + "/no-lossy-donors";
        case LossPolicy::DropLossy:
            return text + "/drop-lossy";
    }
    return text;
}

std::vector<MultiflowOptions> MultiflowOptions::all_variants() {
    std::vector<MultiflowOptions> variants;
    for (Window w : {Window::Lifetime, Window::Padded}) {
        for (Weighting g : {Weighting::PerSample, Weighting::TimeWeighted}) {
            for (LossPolicy l :
                 {LossPolicy::UseAll, LossPolicy::NoLossyDonors, LossPolicy::DropLossy}) {
                variants.push_back({w, g, l});
            }
        }
    }
    return variants;
}

std::vector<double> multiflow_estimates(const std::vector<MatchedFlow>& flows,
                                        const MultiflowOptions& options) {
    std::vector<PooledSample> pool;
    for (size_t i = 0; i < flows.size(); ++i) {
        if (flows[i].lossy() && options.loss != LossPolicy::UseAll) continue;
        for (const DelaySample& s : own_samples(flows[i])) pool.push_back({s, i});
    }
    std::sort(pool.begin(), pool.end(), [](const PooledSample& x, const PooledSample& y) {
        if (x.sample.time_ns != y.sample.time_ns) return x.sample.time_ns < y.sample.time_ns;
        return x.flow < y.flow;
    });
    auto time_less = [](const PooledSample& p, int64_t t) { return p.sample.time_ns < t; };

    std::vector<double> estimates(flows.size());
    std::vector<DelaySample> chosen;
    for (size_t i = 0; i < flows.size(); ++i) {
        const int64_t start = flows[i].a.first_ns;
        const int64_t end = flows[i].a.last_ns;
        chosen.clear();
        if (!(flows[i].lossy() && options.loss == LossPolicy::DropLossy)) {
            chosen = own_samples(flows[i]);
        }
        auto lo = std::lower_bound(pool.begin(), pool.end(), start, time_less);
        auto hi = lo;
        for (; hi != pool.end() && hi->sample.time_ns <= end; ++hi) {
            if (hi->flow != i) chosen.push_back(hi->sample);
        }
        if (options.window == Window::Padded) {
            for (auto before = lo; before != pool.begin();) {
                --before;
                if (before->flow != i) {
                    chosen.push_back(before->sample);
                    break;
                }
            }
            for (auto after = hi; after != pool.end(); ++after) {
                if (after->flow != i) {
                    chosen.push_back(after->sample);
                    break;
                }
            }
        }
        if (chosen.empty()) chosen = own_samples(flows[i]);
        estimates[i] = options.weighting == Weighting::PerSample
                           ? mean_delay(chosen)
                           : time_weighted_mean(chosen, start, end);
    }
    return estimates;
}

std::vector<TrajectoryEstimate> trajectory_estimates(const std::vector<MatchedFlow>& flows,
                                                     const std::vector<PacketStamp>& up,
                                                     const std::vector<PacketStamp>& down) {
    std::unordered_map<uint64_t, int64_t> down_time;
    down_time.reserve(down.size());
    for (const PacketStamp& s : down) down_time.emplace(s.digest, s.time_ns);
    const FlowIndex index(flows);
    std::vector<double> sums(flows.size(), 0.0);
    std::vector<TrajectoryEstimate> estimates(flows.size());
    for (const PacketStamp& s : up) {
        auto it = down_time.find(s.digest);
        if (it == down_time.end()) continue;
        const ptrdiff_t flow = index.find(s.key, s.time_ns);
        if (flow < 0) continue;
        sums[flow] += static_cast<double>(it->second - s.time_ns);
        ++estimates[flow].samples;
    }
    for (size_t i = 0; i < flows.size(); ++i) {
        if (estimates[i].samples > 0) {
            estimates[i].mean_ns = sums[i] / static_cast<double>(estimates[i].samples);
        }
    }
    return estimates;
}

std::vector<FlowTruth> flow_truth(const std::vector<MatchedFlow>& flows,
                                  const std::vector<PacketTruth>& packets) {
    // Welford's running mean and sum of squared deviations.
    std::vector<double> m2(flows.size(), 0.0);
    std::vector<FlowTruth> truth(flows.size());
    const FlowIndex index(flows);
    for (const PacketTruth& p : packets) {
        if (!p.delivered()) continue;
        const ptrdiff_t flow = index.find(p.key, p.t_a_ns);
        if (flow < 0) continue;
        FlowTruth& t = truth[flow];
        const double delay = static_cast<double>(p.t_b_ns - p.t_a_ns);
        ++t.packets;
        const double delta = delay - t.mean_ns;
        t.mean_ns += delta / static_cast<double>(t.packets);
        m2[flow] += delta * (delay - t.mean_ns);
    }
    for (size_t i = 0; i < flows.size(); ++i) {
        if (truth[i].packets > 0) {
            truth[i].stddev_ns = std::sqrt(m2[i] / static_cast<double>(truth[i].packets));
        }
    }
    return truth;
}

}  // namespace flowcorder::latency
