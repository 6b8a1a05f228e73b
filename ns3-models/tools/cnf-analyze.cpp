// Evaluates naive, Multiflow and trajectory sampling on the runs of a study.
//
// Each run directory holds what cnf-scenario wrote with both meters at
// sampling fraction 1. Because consistent sampling is a pure function of the
// key, a meter at fraction f with salt s exports exactly the records of the
// fraction-1 meter whose flow_hash(key, s) falls below f (as long as neither
// cache evicted, which run.json counts and this tool checks). So one
// simulation per utilisation serves every fraction, and repeating the
// selection with many salts evaluates every flow, not only the few that one
// salt happens to keep. Plain C++: no ns-3 here.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "latency/estimators.hpp"
#include "latency/flow_key.hpp"
#include "latency/records.hpp"

namespace fl = flowcorder::latency;
using json = nlohmann::json;

namespace {

// Trajectory sampling hashes packets under a salt unrelated to the flow salt.
constexpr uint64_t kPacketSaltOffset = 0x7f4a7c159e3779b9ULL;

// Flow-size bins in packets (upstream count): [low, high].
const std::vector<std::pair<uint64_t, uint64_t>> kSizeBins{
    {1, 1}, {2, 3}, {4, 10}, {11, 31}, {32, 100}, {101, 316}, {317, 1000}, {1001, UINT64_MAX}};

std::string bin_name(const std::pair<uint64_t, uint64_t>& bin) {
    if (bin.second == UINT64_MAX) return ">" + std::to_string(bin.first - 1);
    if (bin.first == bin.second) return std::to_string(bin.first);
    return std::to_string(bin.first) + "-" + std::to_string(bin.second);
}

size_t bin_of(uint64_t packets) {
    for (size_t i = 0; i < kSizeBins.size(); ++i) {
        if (packets <= kSizeBins[i].second) return i;
    }
    return kSizeBins.size() - 1;
}

double quantile(std::vector<double> values, double q) {
    if (values.empty()) return NAN;
    std::sort(values.begin(), values.end());
    const double position = q * static_cast<double>(values.size() - 1);
    const size_t below = static_cast<size_t>(std::floor(position));
    const size_t above = std::min(below + 1, values.size() - 1);
    const double w = position - static_cast<double>(below);
    return values[below] * (1 - w) + values[above] * w;
}

json number_or_null(double value) { return std::isnan(value) ? json(nullptr) : json(value); }

struct Options {
    std::vector<std::string> runs;
    std::vector<double> fractions{0.01, 0.02, 0.05, 0.1, 0.2, 0.5};
    double reference_fraction = 0.1;
    double evaluations_per_flow = 2;
    uint64_t min_packets = 100;
    std::string variant = "lifetime/time-weighted/no-lossy-donors";
    std::string out = "results/cnf";
};

struct Run {
    json info;
    double utilisation = 0;
    std::vector<fl::MatchedFlow> flows;
    std::vector<fl::FlowTruth> truth;
    std::vector<fl::PacketTruth> packets;
};

template <typename Reader>
auto read_file(const std::filesystem::path& path, Reader reader) {
    std::ifstream in(path);
    if (!in) throw std::runtime_error("cannot read " + path.string());
    try {
        return reader(in);
    } catch (const std::exception& e) {
        throw std::runtime_error(path.string() + ": " + e.what());
    }
}

Run load_run(const std::filesystem::path& dir) {
    Run run;
    run.info = read_file(dir / "run.json", [](std::istream& in) { return json::parse(in); });
    if (run.info.at("meter_sampling_fraction").get<double>() != 1.0) {
        throw std::runtime_error(dir.string() + ": meters must run at sampling fraction 1");
    }
    for (const char* meter : {"meter_a", "meter_b"}) {
        if (run.info.at(meter).at("evictions").get<uint64_t>() != 0) {
            throw std::runtime_error(dir.string() + ": " + meter +
                                     " evicted records; offline subsampling would not be exact "
                                     "(raise ns3::NetFlowMeter::CacheSize)");
        }
    }
    run.utilisation = run.info.at("target_utilisation").get<double>();
    const auto a = read_file(dir / "records_a.csv", fl::read_records_csv);
    const auto b = read_file(dir / "records_b.csv", fl::read_records_csv);
    run.packets = read_file(dir / "packets.csv", fl::read_packets_csv);
    run.flows = fl::match_records(a, b, 1'000'000'000);
    run.truth = fl::flow_truth(run.flows, run.packets);
    return run;
}

// Relative errors, keyed by what a plot or table groups them by.
struct Errors {
    // [method][fraction][utilisation][size bin]
    std::map<std::string, std::map<double, std::map<double, std::vector<std::vector<double>>>>> by;
    // [variant] at the reference fraction, flows over min_packets
    std::map<std::string, std::vector<double>> variants;
    // the same restricted to flows whose two records disagree on the packet count
    std::map<std::string, std::vector<double>> variants_lossy;
    // trajectory coverage of big flows at the reference fraction
    uint64_t trajectory_big_evaluated = 0;
    uint64_t trajectory_big_estimated = 0;
    std::map<double, std::vector<double>> trajectory_rates;  // per fraction

    void add(const std::string& method, double fraction, double utilisation, uint64_t packets,
             double error) {
        auto& bins = by[method][fraction][utilisation];
        if (bins.empty()) bins.resize(kSizeBins.size());
        bins[bin_of(packets)].push_back(error);
    }
};

double relative_error(double estimate, const fl::FlowTruth& truth) {
    return std::abs(estimate - truth.mean_ns) / truth.mean_ns;
}

void evaluate_salt(const Run& run, const Options& opt, double fraction, uint64_t salt,
                   bool with_trajectory, Errors& errors) {
    const bool reference = fraction == opt.reference_fraction;
    std::vector<fl::MatchedFlow> sampled;
    std::vector<size_t> origin;
    size_t budget = 0;  // delay samples Consistent NetFlow exports: 1 or 2 per flow
    for (size_t i = 0; i < run.flows.size(); ++i) {
        if (fl::hash_selects(fl::flow_hash(run.flows[i].a.key, salt), fraction)) {
            sampled.push_back(run.flows[i]);
            origin.push_back(i);
            budget += fl::own_samples(run.flows[i]).size();
        }
    }
    auto usable = [&](size_t i) { return run.truth[i].packets > 0 && run.truth[i].mean_ns > 0; };

    for (size_t k = 0; k < sampled.size(); ++k) {
        const size_t i = origin[k];
        if (!usable(i)) continue;
        errors.add("naive", fraction, run.utilisation, run.flows[i].a.packets,
                   relative_error(fl::naive_estimate(sampled[k]), run.truth[i]));
    }
    for (const fl::MultiflowOptions& variant : fl::MultiflowOptions::all_variants()) {
        const bool chosen = variant.name() == opt.variant;
        if (!chosen && !reference) continue;
        const std::vector<double> estimates = fl::multiflow_estimates(sampled, variant);
        for (size_t k = 0; k < sampled.size(); ++k) {
            const size_t i = origin[k];
            if (!usable(i)) continue;
            const double error = relative_error(estimates[k], run.truth[i]);
            if (chosen)
                errors.add("multiflow", fraction, run.utilisation, run.flows[i].a.packets, error);
            if (reference && run.flows[i].a.packets > opt.min_packets) {
                errors.variants[variant.name()].push_back(error);
                if (run.flows[i].lossy()) errors.variants_lossy[variant.name()].push_back(error);
            }
        }
    }
    if (!with_trajectory) return;

    // Trajectory sampling with the same budget: as many packets (delay samples) as
    // Consistent NetFlow exported, out of every packet upstream.
    const double rate = static_cast<double>(budget) / static_cast<double>(run.packets.size());
    errors.trajectory_rates[fraction].push_back(rate);
    std::vector<fl::PacketStamp> up;
    std::vector<fl::PacketStamp> down;
    for (const fl::PacketTruth& p : run.packets) {
        const uint64_t digest =
            fl::packet_hash(p.key, p.ip_id, p.ip_length, salt + kPacketSaltOffset);
        if (!fl::hash_selects(digest, rate)) continue;
        up.push_back({p.key, digest, p.t_a_ns});
        if (p.delivered()) down.push_back({p.key, digest, p.t_b_ns});
    }
    const auto estimates = fl::trajectory_estimates(run.flows, up, down);
    for (size_t i = 0; i < run.flows.size(); ++i) {
        if (!usable(i)) continue;
        const bool big = run.flows[i].a.packets > opt.min_packets;
        if (big && reference) ++errors.trajectory_big_evaluated;
        if (estimates[i].samples == 0) continue;
        if (big && reference) ++errors.trajectory_big_estimated;
        errors.add("trajectory", fraction, run.utilisation, run.flows[i].a.packets,
                   relative_error(estimates[i].mean_ns, run.truth[i]));
    }
}

// Errors of one method at one fraction, pooled over utilisations, restricted to flows
// whose size bin starts above min_packets (or all bins with `all_sizes`).
std::vector<double> pooled(const Errors& errors, const std::string& method, double fraction,
                           const Options& opt, std::optional<double> utilisation = {}) {
    std::vector<double> values;
    auto m = errors.by.find(method);
    if (m == errors.by.end() || !m->second.count(fraction)) return values;
    for (const auto& [u, bins] : m->second.at(fraction)) {
        if (utilisation && u != *utilisation) continue;
        for (size_t b = 0; b < bins.size(); ++b) {
            if (kSizeBins[b].first > opt.min_packets) {
                values.insert(values.end(), bins[b].begin(), bins[b].end());
            }
        }
    }
    return values;
}

}  // namespace

int main(int argc, char** argv) {
    Options opt;
    CLI::App app{"Evaluates naive, Multiflow and trajectory sampling on cnf-scenario runs"};
    app.add_option("runs", opt.runs, "Run directories written by cnf-scenario")->required();
    app.add_option("--fractions", opt.fractions, "Flow sampling fractions to evaluate")
        ->delimiter(',');
    app.add_option("--reference-fraction", opt.reference_fraction,
                   "Fraction of the headline numbers and the variant comparison");
    app.add_option("--evaluations-per-flow", opt.evaluations_per_flow,
                   "Salts per fraction: ceil(this / fraction) for the flow-sampled methods, "
                   "ceil(this) for trajectory sampling (which estimates every flow each time)");
    app.add_option("--min-packets", opt.min_packets, "Headline flows have more packets than this");
    app.add_option("--variant", opt.variant, "Multiflow variant reported as 'multiflow'");
    app.add_option("--out", opt.out, "Output directory");
    CLI11_PARSE(app, argc, argv);
    if (std::find(opt.fractions.begin(), opt.fractions.end(), opt.reference_fraction) ==
        opt.fractions.end()) {
        opt.fractions.push_back(opt.reference_fraction);
    }
    std::sort(opt.fractions.begin(), opt.fractions.end());

    Errors errors;
    json runs = json::array();
    std::vector<double> utilisations;
    for (const std::string& dir : opt.runs) {
        const Run run = load_run(dir);
        utilisations.push_back(run.utilisation);
        uint64_t big = 0, lossy_big = 0;
        for (size_t i = 0; i < run.flows.size(); ++i) {
            if (run.flows[i].a.packets > opt.min_packets) {
                ++big;
                lossy_big += run.flows[i].lossy();
            }
        }
        json info = run.info;
        info["dir"] = dir;
        info["matched_flows"] = run.flows.size();
        info["flows_gt_min_packets"] = big;
        info["lossy_flows_gt_min_packets"] = lossy_big;
        runs.push_back(info);
        for (double f : opt.fractions) {
            const auto salts = static_cast<uint64_t>(std::ceil(opt.evaluations_per_flow / f));
            const auto trajectory_salts =
                static_cast<uint64_t>(std::ceil(opt.evaluations_per_flow));
            for (uint64_t salt = 1; salt <= salts; ++salt) {
                evaluate_salt(run, opt, f, salt, salt <= trajectory_salts, errors);
            }
        }
        std::cerr << "cnf-analyze: " << dir << ": " << run.flows.size() << " flows, " << big
                  << " over " << opt.min_packets << " packets\n";
    }

    const double ref = opt.reference_fraction;
    const auto multiflow = pooled(errors, "multiflow", ref, opt);
    const auto naive = pooled(errors, "naive", ref, opt);
    const auto trajectory = pooled(errors, "trajectory", ref, opt);
    const double mf = quantile(multiflow, 0.5);
    const double nv = quantile(naive, 0.5);
    const double ts = quantile(trajectory, 0.5);
    const std::string gt = "_gt" + std::to_string(opt.min_packets);

    json summary;
    summary["multiflow_median_rel_err" + gt] = number_or_null(mf);
    summary["naive_median_rel_err" + gt] = number_or_null(nv);
    summary["trajectory_median_rel_err" + gt] = number_or_null(ts);
    summary["trajectory_over_multiflow_ratio"] = number_or_null(ts / mf);
    summary["naive_over_multiflow_ratio"] = number_or_null(nv / mf);
    summary["evaluations" + gt] = {{"multiflow", multiflow.size()},
                                   {"naive", naive.size()},
                                   {"trajectory", trajectory.size()}};
    for (const auto& [name, values] :
         {std::pair{"multiflow", &multiflow}, std::pair{"naive", &naive},
          std::pair{"trajectory", &trajectory}}) {
        summary["quantiles" + gt][name] = {{"p25", number_or_null(quantile(*values, 0.25))},
                                           {"p50", number_or_null(quantile(*values, 0.5))},
                                           {"p75", number_or_null(quantile(*values, 0.75))},
                                           {"p90", number_or_null(quantile(*values, 0.9))}};
    }
    summary["trajectory_coverage" + gt] =
        errors.trajectory_big_evaluated
            ? json(static_cast<double>(errors.trajectory_big_estimated) /
                   static_cast<double>(errors.trajectory_big_evaluated))
            : json(nullptr);
    json rates;
    for (const auto& [f, r] : errors.trajectory_rates) {
        rates[std::to_string(f)] = quantile(r, 0.5);
    }
    summary["trajectory_packet_sampling_rate_by_fraction"] = rates;

    json variants;
    for (const auto& [name, values] : errors.variants) variants[name] = quantile(values, 0.5);
    summary["multiflow_variants_median_rel_err" + gt] = variants;
    json lossy;
    for (const auto& [name, values] : errors.variants_lossy) {
        lossy[name] = {{"median", quantile(values, 0.5)}, {"n", values.size()}};
    }
    summary["multiflow_variants_median_rel_err" + gt + "_lossy_flows"] = lossy;

    const std::vector<std::string> methods{"multiflow", "naive", "trajectory"};
    json by_fraction, by_utilisation, by_size;
    for (const std::string& m : methods) {
        for (double f : opt.fractions) {
            by_fraction[m].push_back(
                {{"fraction", f},
                 {"median", number_or_null(quantile(pooled(errors, m, f, opt), 0.5))},
                 {"n", pooled(errors, m, f, opt).size()}});
        }
        std::sort(utilisations.begin(), utilisations.end());
        utilisations.erase(std::unique(utilisations.begin(), utilisations.end()),
                           utilisations.end());
        for (double u : utilisations) {
            const auto values = pooled(errors, m, ref, opt, u);
            by_utilisation[m].push_back({{"utilisation", u},
                                         {"median", number_or_null(quantile(values, 0.5))},
                                         {"n", values.size()}});
        }
        for (size_t b = 0; b < kSizeBins.size(); ++b) {
            std::vector<double> values;
            if (errors.by.count(m) && errors.by.at(m).count(ref)) {
                for (const auto& [u, bins] : errors.by.at(m).at(ref)) {
                    values.insert(values.end(), bins[b].begin(), bins[b].end());
                }
            }
            by_size[m].push_back({{"bin", bin_name(kSizeBins[b])},
                                  {"median", number_or_null(quantile(values, 0.5))},
                                  {"n", values.size()}});
        }
    }
    summary["median_rel_err" + gt + "_by_fraction"] = by_fraction;
    summary["median_rel_err" + gt + "_by_utilisation"] = by_utilisation;
    summary["median_rel_err_by_flow_size"] = by_size;
    summary["parameters"] = {{"reference_fraction", ref},
                             {"fractions", opt.fractions},
                             {"evaluations_per_flow", opt.evaluations_per_flow},
                             {"min_packets", opt.min_packets},
                             {"multiflow_variant", opt.variant},
                             {"runs", runs}};

    std::filesystem::create_directories(opt.out);
    std::ofstream(std::filesystem::path(opt.out) / "summary.json") << summary.dump(2) << '\n';
    std::ofstream cdf(std::filesystem::path(opt.out) / ("errors" + gt + ".csv"));
    cdf << "method,rel_err\n";
    for (const auto& [name, values] :
         {std::pair{"multiflow", &multiflow}, std::pair{"naive", &naive},
          std::pair{"trajectory", &trajectory}}) {
        for (double e : *values) cdf << name << ',' << e << '\n';
    }
    std::cout << "multiflow " << mf << "  naive " << nv << "  trajectory " << ts
              << "  (median relative error, flows > " << opt.min_packets << " packets, fraction "
              << ref << ")\n";
    return 0;
}
