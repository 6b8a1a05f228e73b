// The validator: joins the collector's profiles (SQLite, read by column name)
// with the independent ground truth of a run directory (workload TCP_INFO,
// capture analyses, the impairment engine's log) and judges every KPI against
// a tolerance. Formats: testbed/FORMATS.md. No agent code is linked here, so a
// bug in the agent cannot hide in the truth.
#pragma once

#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace fc::validate {

// Unusable input (missing file, malformed field): exit code 2. The message
// names the file and the field.
class InputError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

struct Tolerance {
    double abs = 0;
    double rel = 0;
    double share = 1.0;  // fraction of comparisons that must be within tolerance
    bool within(double exported, double truth) const;
    std::string to_string() const;
};

// A default tolerance: the first rule whose protocol, kpi and source match
// ("*" matches anything) applies. `reason` says what the truth source's
// resolution allows and what clean runs showed; reports print it.
struct ToleranceRule {
    const char* protocol;
    const char* kpi;
    const char* source;
    Tolerance tolerance;
    const char* reason;
};
const std::vector<ToleranceRule>& tolerance_rules();
// The rule that applies to a (protocol, kpi, source) before the manifest's overrides.
const ToleranceRule& default_tolerance(const std::string& protocol, const std::string& kpi,
                                       const std::string& source);

// One comparison: one (connection, kpi, truth_source).
struct Detail {
    std::string experiment;
    int repetition = 0;
    std::string protocol;  // "tcp"
    std::string host;
    std::string workload;
    int64_t conn = -1;      // truth connection number, -1 for an orphan agent connection
    std::string role;       // client / server
    std::string agent_key;  // "<observation_domain>:<flow_id>", empty when unmatched
    std::string kpi;
    std::string source;  // tcp_info, pcap, impairment_log, workload
    double exported = 0;
    double truth = 0;
    bool within = false;  // filled by the verdict step, with the experiment's tolerance
    // The comparison was due but the profiles hold no value (column absent,
    // NULL, no samples; `note` says which): never within, no error counted.
    bool missing = false;
    std::string note;
    double abs_error() const;
};

// An input or a comparison that was due but could not be used (a capture
// that dropped packets, a missing file, a truth field the kernel did not
// fill). It fails the run unless the experiment declares it ([validation]
// skip, the manifest's "skips").
struct Skip {
    std::string experiment;
    int repetition = 0;
    std::string protocol;
    std::string key;   // "<source>" (every comparison against it) or "<kpi>/<source>"
    std::string what;  // which input or comparison, and why
};

// One verdict: (experiment, protocol, kpi, truth_source); experiment "*" for
// the suite-level coverage rows.
struct Row {
    std::string experiment;
    std::string protocol;
    std::string kpi;
    std::string source;
    int64_t compared = 0;
    int64_t within_tolerance = 0;
    double median_abs_error = 0;
    double p95_abs_error = 0;
    bool pass = false;
    Tolerance tolerance;
    std::string tolerance_reason;
    std::string note;
};

struct Result {
    std::string run_dir;
    std::vector<Detail> details;
    std::vector<Row> rows;
    std::vector<Skip> skips;               // each also judged in a row of source "skipped"
    std::vector<std::string> not_covered;  // "<protocol>:<kpi>" not compared and not due
    int experiments = 0;
    int repetitions = 0;
    int64_t truth_connections = 0;
    int64_t agent_connections = 0;
    bool all_pass() const;
};

// Reads RUN_DIR/*/rep-*/manifest.json and RUN_DIR/profiles.sqlite and judges
// every comparison. Throws InputError on unusable input. Every KPI has a
// coverage row; with `require_coverage` (a suite meant to exercise
// DESIGN.md's tables) KPIs that need a condition (a SYN lost, reordering...)
// must also have been compared against a non-zero truth, otherwise (one
// experiment run on its own) they are only listed in Result::not_covered.
Result validate_run(const std::string& run_dir, bool require_coverage = false);

struct OutputOptions {
    bool report = true;   // report.md, report.html and plots/
    std::string python;   // default /usr/bin/python3 (env FC_PYTHON overrides)
    std::string plotter;  // default: plot_report.py beside the sources (env FC_PLOT_SCRIPT)
};

// Writes validation.csv, validation-details.csv and (unless !report) the
// reports into the run directory. Throws std::runtime_error when a file
// cannot be written; a missing python or matplotlib is only noted in the report.
void write_outputs(const Result& result, const OutputOptions& options = {});

// The human summary: one line per row, verdicts coloured when `color`.
std::string summary_table(const Result& result, bool color);

// `flowcorder validate` end to end: judge, write the outputs, print the
// summary (stdout) or why the input was unusable (stderr). Returns the exit
// code: 0 every verdict passes, 1 one fails, 2 unusable input or output.
struct CommandOptions {
    bool report = true;
    bool require_coverage = false;
};
int run_command(const std::string& run_dir, const CommandOptions& options);

// The truth for a value the truth sources bound to [lo, hi] (an event seen
// between two others): the value itself when it lies there, else the bound
// it crossed. Not std::clamp: when the truths disagree (hi < lo, connect()
// returning before the SYN-ACK was captured), a value beyond either bound
// must still fail.
inline double nearest_in(double x, double lo, double hi) { return x < lo ? lo : x > hi ? hi : x; }

}  // namespace fc::validate
