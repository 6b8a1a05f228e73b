// Shrinking a failing experiment (property-based testing's second half): try
// smaller variants of it, keep the first that still fails, repeat. What is
// left is an experiment a person can read: few workloads, few impairments,
// few hops, small numbers.
#pragma once

#include <functional>
#include <string>
#include <vector>

namespace fc::explore {

// A smaller variant and what was taken away ("drop workload rr2").
struct ShrinkStep {
    std::string what;
    std::string text;
};

// Smaller variants of an experiment, each parsed (those that do not parse
// are left out), in the order to try them: drop one workload; drop one netem
// term of one link direction (with the terms needing it); empty one
// direction; remove one router (its two links become one); halve a
// workload's connections, bytes, responses, requests or lookups. Each
// variant's description says what is left. Throws harness::ExperimentError
// if `toml_text` itself does not parse.
std::vector<ShrinkStep> shrink_steps(const std::string& toml_text);
std::vector<std::string> shrink_candidates(const std::string& toml_text);

// Greedy: repeatedly replaces the experiment by its first candidate for which
// `still_fails` is true, until no candidate is or `max_steps` calls of
// `still_fails` were spent. `on_step` hears every call's outcome.
std::string shrink(const std::string& text,
                   const std::function<bool(const std::string&)>& still_fails, int max_steps,
                   const std::function<void(const ShrinkStep&, bool fails)>& on_step = {});

}  // namespace fc::explore
