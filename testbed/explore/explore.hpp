// `flowcorder explore`: property-based testing of the whole pipeline. Draws
// random experiments (draw.hpp), runs them as one harness run with
// validation, and shrinks each failing one (shrink.hpp) to a small
// experiment that still fails the same way, saved as a regression file.
//
// Layout under <results>/<run-id>/: scenarios/*.toml (as drawn), batch/ (the
// harness run of them all), shrink/*.toml and shrink-<name>-<step>/ (one
// harness run per shrinking step), explore.csv (the summary).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "shard.hpp"

namespace fc::explore {

struct ExploreOptions {
    uint64_t seed = 0;
    unsigned count = 0;
    unsigned shard_k = 1, shard_n = 1;  // this process runs shard K of N
    std::string results_dir = "results";
    std::string regressions_dir = "experiments/regressions";
    bool shrink = true;
    int shrink_budget = 12;  // harness runs per failing scenario
    std::string flowcorder;  // this binary (for the harness's children)
    std::string source_dir;  // the checkout
};

// K/N, shared with `flowcorder run --shard` (testbed/harness/shard.hpp).
using harness::parse_shard;

// The draw seeds shard K of N runs: seed + i for the i in [0, count) with
// i % N == K - 1.
std::vector<uint64_t> shard_seeds(const ExploreOptions& o);

// One failing verdict of an experiment.
struct Failure {
    std::string kpi, source;  // as validation.csv's kpi, truth_source
    int64_t compared = 0, within = 0;
    std::string note;
};

// The failing verdicts per experiment of one harness run, from its
// validation.csv and problems.txt (either may be empty). A repetition that
// went wrong ("<experiment>: ..." or "<experiment> rep N: ...") counts as
// kpi "run_problems", source "harness". Throws on a malformed CSV.
std::map<std::string, std::vector<Failure>> failures_of(const std::string& validation_csv,
                                                        const std::string& problems_txt);

// Distinct TCP/MPTCP connections and DNS lookups validation-details.csv compared.
struct Compared {
    size_t connections = 0, lookups = 0;
};
Compared compared_of(const std::string& validation_details_csv);

// Exit status: 0 when every verdict passed and no run had problems, 1 when
// some did, 2 bad options or results directory, 3 leftovers of an earlier
// run, 130 interrupted (Ctrl-C).
int run_explore(const ExploreOptions& o);

}  // namespace fc::explore
