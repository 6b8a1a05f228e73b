// `flowcorder run`: runs experiment files end to end. Per repetition: build
// the topology, put the impairment engine on impaired links, capture both
// ends, start one agent per agent host, run the workloads (servers, then
// clients at their start times; link changes at theirs), stop everything in
// order, analyse the captures, write manifest.json, remove the topology.
// After the last experiment: stop the collector, run the validator and the
// report on the run directory. Layout of the run directory: FORMATS.md.
#pragma once

#include <string>
#include <vector>

namespace fc::harness {

struct RunOptions {
    std::vector<std::string> files;  // empty: the default suite
    std::string results_dir = "results";
    std::string run_id;              // default: UTC time + tag
    std::string builder = "native";  // native | mininet
    std::string flowcorder;          // this binary (for the children)
    std::string source_dir;          // the checkout (experiments/, scripts)
    bool validate = true;
    bool verbose = false;
};

// The default suite's files: experiments/tcp/*.toml under the current
// directory if present, else under the source checkout.
std::vector<std::string> default_suite(const std::string& source_dir);

// Exit status: 0 every verdict pass, 1 a verdict failed or a repetition
// went wrong, 2 bad experiment file, 3 leftovers of an earlier run, 130
// interrupted.
int run_experiments(const RunOptions& o);

}  // namespace fc::harness
