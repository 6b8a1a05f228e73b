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
    std::string note;
    double abs_error() const;
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
    std::string note;
};

struct Result {
    std::string run_dir;
    std::vector<Detail> details;
    std::vector<Row> rows;
    std::vector<std::string> warnings;     // inputs skipped on purpose (pcap drops, no log...)
    std::vector<std::string> not_covered;  // KPI groups no source compared (coverage not required)
    int experiments = 0;
    int repetitions = 0;
    int64_t truth_connections = 0;
    int64_t agent_connections = 0;
    bool all_pass() const;
};

// Reads RUN_DIR/*/rep-*/manifest.json and RUN_DIR/profiles.sqlite and judges
// every comparison. Throws InputError on unusable input. With
// `require_coverage` (a suite meant to cover DESIGN.md's TCP table) a KPI
// group compared against nothing is a failed row; otherwise (one experiment
// run on its own) it is only listed in Result::not_covered.
Result validate_run(const std::string& run_dir, bool require_coverage = false);

// The default tolerance of a (kpi, source) before the manifest's overrides.
Tolerance default_tolerance(const std::string& kpi, const std::string& source);

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

}  // namespace fc::validate
