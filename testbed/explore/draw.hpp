// `flowcorder explore`'s generator: random experiments drawn from the space
// the harness supports (line topologies of 0..2 routers or two MPTCP paths,
// netem impairments per link direction, TCP/HTTP/DNS/MPTCP workloads), each
// written as an ordinary experiment file (experiments/README.md).
#pragma once

#include <cstdint>
#include <string>

namespace fc::explore {

// The TOML text of one experiment named `name`. The same seed gives the same
// text (the generator uses only raw std::mt19937_64 draws, no standard
// distributions); every text parses (fc::harness::parse_experiment_text) and
// its workloads are sized so that the harness's own estimate (budget.hpp)
// stays within a few seconds on this testbed.
std::string draw_experiment(uint64_t seed, const std::string& name);

// Whether this build's experiment parser accepts a workload's
// `congestion = "<algorithm>"` field with that algorithm (asked once per
// algorithm). The generator writes the field only for accepted algorithms.
bool congestion_supported(const std::string& algorithm);

}  // namespace fc::explore
