// Rows and verdicts: one row per (experiment, protocol, kpi, truth_source)
// judged with its tolerance, one per (experiment, protocol, skip key) judged
// against the experiment's declarations, then the coverage rows.
#include "validate/verdict.hpp"

#include <algorithm>
#include <cmath>
#include <tuple>

namespace fc::validate {

namespace {

// Rows every experiment of a protocol has, even with nothing compared (then
// they fail): its truth's completeness in both directions, and its closes.
const std::map<std::string, std::vector<std::string>> kAlwaysRows = {
    {"tcp", {"profile_chain", "orphan_profiles", "close_cause"}},
    {"dns", {"lookup_profile", "orphan_lookups"}},
    {"mptcp", {"mptcp_connection", "orphan_connections"}},
};

// The default rule, with the experiment file's override ("kpi/source" wins
// over "kpi") on top; the reason says which applied.
std::pair<Tolerance, std::string> resolve(const std::map<std::string, Tolerance>& overrides,
                                          const std::string& protocol, const std::string& kpi,
                                          const std::string& source) {
    const ToleranceRule& rule = default_tolerance(protocol, kpi, source);
    Tolerance t = rule.tolerance;
    auto it = overrides.find(kpi + "/" + source);
    if (it == overrides.end()) it = overrides.find(kpi);
    if (it == overrides.end()) return {t, rule.reason};
    if (!std::isnan(it->second.abs)) t.abs = it->second.abs;
    if (!std::isnan(it->second.rel)) t.rel = it->second.rel;
    if (!std::isnan(it->second.share)) t.share = it->second.share;
    return {t, "set by the experiment file ([tolerance] " + it->first + "); default " +
                   rule.tolerance.to_string() + ": " + rule.reason};
}

// Nearest-rank quantile of sorted values.
double quantile(const std::vector<double>& sorted, double q) {
    if (sorted.empty()) return 0;
    const auto rank = static_cast<size_t>(std::ceil(q * static_cast<double>(sorted.size())));
    return sorted[std::clamp<size_t>(rank, 1, sorted.size()) - 1];
}

template <typename V>
const V& of_experiment(const std::map<std::string, V>& m, const std::string& experiment) {
    static const V none;
    const auto it = m.find(experiment);
    return it == m.end() ? none : it->second;
}

void comparison_rows(Result& r, const RunPlan& plan) {
    using Key = std::tuple<std::string, std::string, std::string, std::string>;
    std::map<Key, std::vector<Detail*>> groups;
    for (const auto& [protocol, kpis] : kAlwaysRows) {
        const auto e = plan.experiments.find(protocol);
        if (e == plan.experiments.end()) continue;
        for (const auto& x : e->second)
            for (const auto& kpi : kpis) groups[{x, protocol, kpi, "workload"}];
    }
    for (auto& d : r.details) groups[{d.experiment, d.protocol, d.kpi, d.source}].push_back(&d);

    for (auto& [key, ds] : groups) {
        const auto& [experiment, protocol, kpi, source] = key;
        Row row;
        row.experiment = experiment;
        row.protocol = protocol;
        row.kpi = kpi;
        row.source = source;
        std::tie(row.tolerance, row.tolerance_reason) =
            resolve(of_experiment(plan.tolerances, experiment), protocol, kpi, source);
        std::vector<double> errors;
        int64_t missing = 0;
        for (auto* d : ds) {
            d->within = !d->missing && row.tolerance.within(d->exported, d->truth);
            row.within_tolerance += d->within;
            if (d->missing)
                ++missing;
            else
                errors.push_back(d->abs_error());
        }
        row.compared = static_cast<int64_t>(ds.size());
        std::sort(errors.begin(), errors.end());
        row.median_abs_error = quantile(errors, 0.5);
        row.p95_abs_error = quantile(errors, 0.95);
        const double needed = row.tolerance.share * static_cast<double>(row.compared);
        // A comparison without an exported value fails the row whatever the share.
        row.pass = row.compared > 0 && missing == 0 &&
                   static_cast<double>(row.within_tolerance) >= needed - 1e-9;
        if (row.compared == 0) row.note = "no comparisons";
        if (missing > 0) {
            // The first one says which: "column absent", "NULL in profile 2", ...
            const auto* first =
                *std::find_if(ds.begin(), ds.end(), [](auto* d) { return d->missing; });
            row.note = std::to_string(missing) + " not exported (" + first->note + ")";
        }
        const int64_t outside = row.compared - row.within_tolerance - missing;
        if (outside > 0)
            row.note +=
                (row.note.empty() ? "" : "; ") + std::to_string(outside) + " outside tolerance";
        r.rows.push_back(std::move(row));
    }
}

// A declaration names the skip's key, or the whole source it belongs to.
const std::string* declared(const std::map<std::string, std::string>& decl,
                            const std::string& key) {
    if (auto it = decl.find(key); it != decl.end()) return &it->second;
    const auto slash = key.find('/');
    if (slash == std::string::npos) return nullptr;
    if (auto it = decl.find(key.substr(slash + 1)); it != decl.end()) return &it->second;
    return nullptr;
}

void skip_rows(Result& r, const RunPlan& plan) {
    std::map<std::tuple<std::string, std::string, std::string>, std::vector<const Skip*>> groups;
    for (const auto& s : r.skips) groups[{s.experiment, s.protocol, s.key}].push_back(&s);
    for (const auto& [key, ss] : groups) {
        const auto& [experiment, protocol, skip_key] = key;
        Row row;
        row.experiment = experiment;
        row.protocol = protocol;
        row.kpi = skip_key;
        row.source = "skipped";
        row.compared = static_cast<int64_t>(ss.size());
        const std::string* why = declared(of_experiment(plan.skips, experiment), skip_key);
        row.pass = why != nullptr;
        row.within_tolerance = why ? row.compared : 0;
        row.note = why ? "declared: " + *why + "; " : "not declared ([validation] skip); ";
        constexpr size_t kShown = 3;
        for (size_t i = 0; i < ss.size() && i < kShown; ++i)
            row.note += (i ? "; " : "") + ss[i]->what;
        if (ss.size() > kShown) row.note += "; and " + std::to_string(ss.size() - kShown) + " more";
        r.rows.push_back(std::move(row));
    }
}

}  // namespace

void judge(Result& r, const RunPlan& plan) {
    comparison_rows(r, plan);
    skip_rows(r, plan);
    add_coverage_rows(r, plan);
}

double Detail::abs_error() const { return std::fabs(exported - truth); }

bool Result::all_pass() const {
    return std::all_of(rows.begin(), rows.end(), [](const Row& r) { return r.pass; });
}

}  // namespace fc::validate
