// The verdict step (verdict.cpp, coverage.cpp): comparisons grouped into rows
// and judged against their tolerances, skips against the experiments'
// declarations, and one suite-level coverage row per KPI. Internal to
// fc_validate; validate_run() calls judge() once every comparison is made.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "validate/validate.hpp"

namespace fc::validate {

// What the manifests say the run holds.
struct RunPlan {
    // Per experiment (its first repetition's manifest): tolerance overrides,
    // keyed "kpi" or "kpi/source", unset fields NaN; declared skips.
    std::map<std::string, std::map<std::string, Tolerance>> tolerances;
    std::map<std::string, std::map<std::string, std::string>> skips;
    // Experiments with an agent host and that protocol's truth.
    std::map<std::string, std::set<std::string>> experiments;  // protocol -> experiments
    bool require_coverage = false;
};

void judge(Result& r, const RunPlan& plan);

// When a KPI must have been compared somewhere in the run.
enum class Due {
    always,       // in every run with that protocol's truth
    with_source,  // whenever `source` compared anything of the protocol in the run
    suite,        // only under --require-coverage: its comparison needs a condition
};

struct CoverageKpi {
    const char* protocol;
    const char* group;  // the group row it counts in (DESIGN.md's table rows)
    const char* kpi;
    Due due;
    const char* source;  // for Due::with_source
    // Under --require-coverage a comparison with a non-zero truth is needed:
    // the condition that makes the KPI move (a lost SYN, an RTO...) was exercised.
    bool exercised;
    const char* reason;  // why it is due when it is, printed when the row fails
};
const std::vector<CoverageKpi>& coverage_kpis();

// Appends the coverage rows of every protocol the run holds: experiment "*",
// per KPI (kpi "<kpi>", source "coverage") and per group (kpi
// "coverage:<group>", source "any").
void add_coverage_rows(Result& r, const RunPlan& plan);

}  // namespace fc::validate
