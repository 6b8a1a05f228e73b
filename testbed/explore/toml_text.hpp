// The experiment-file vocabulary the generator and the shrinker share:
// netem specifications cut into terms, a summary of an experiment, and
// experiment tables written back as TOML in the order people write them
// (experiments/README.md).
#pragma once

#include <toml++/toml.h>

#include <string>
#include <vector>

namespace fc::explore {

// One term of a netem specification: "delay 5ms 1ms", "distribution normal",
// "loss gemodel 1% 30% 50% 0.05%", "reorder 10% 50%", "rate 20mbit", "limit 100".
struct NetemTerm {
    std::string kind;  // delay, distribution, loss random|gemodel|state, reorder,
                       // gap, duplicate, corrupt, rate, limit
    std::string text;
};
std::vector<NetemTerm> netem_terms(const std::string& spec);

// A one-line summary of what an experiment holds, for its description:
// "2 hops; l1 a_to_b delay+jitter, loss gemodel; bulk up v6 cubic, dns family any".
std::string describe_experiment(const toml::table& root);

// The experiment as TOML text: [experiment] first, then hosts, routers,
// links (with their [[link.change]]), routes, MPTCP settings, workloads and
// tolerances; keys in the order of experiments/README.md, unknown ones after
// (sorted). Comments are not kept.
std::string format_experiment(const toml::table& root);

}  // namespace fc::explore
