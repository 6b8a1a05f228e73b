// `flowcorder run --repeat N`: the same experiments N times over, each round
// a run directory of its own (<results>/<id>/round-K), then each verdict's
// pass rate across the rounds (<results>/<id>/repeat.csv), so that a flaky
// verdict shows as what it is instead of as a lucky or unlucky single run.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "runner.hpp"

namespace fc::harness {

// One verdict of validation.csv across rounds.
struct VerdictRate {
    int rounds = 0;  // rounds in which the verdict was given
    int passed = 0;
};

// RFC 4180 CSV: quoted fields with "" for a quote, commas and newlines inside.
std::vector<std::vector<std::string>> parse_csv(const std::string& text);

// Adds one round's validation.csv (its text) to the tally, keyed
// "experiment|protocol|kpi|truth_source". Throws on a malformed file.
void tally_round(const std::string& validation_csv, std::map<std::string, VerdictRate>& tally);

// Exit status as run_experiments: 0 when every round passed every verdict.
int run_repeated(RunOptions o, unsigned rounds);

}  // namespace fc::harness
