// flowcorder validate: judges a run directory's profiles against its ground
// truth (testbed/validate/, formats in testbed/FORMATS.md).
#include <CLI/CLI.hpp>
#include <memory>

#include "commands.hpp"
#include "validate/validate.hpp"

namespace fc::cli {

void add_validate_command(CLI::App& app) {
    auto* cmd = app.add_subcommand(
        "validate",
        "Compare a run's exported profiles with its ground truth (TCP_INFO, captures, "
        "impairment log); write validation.csv, validation-details.csv and the report");
    auto run_dir = std::make_shared<std::string>();
    auto no_report = std::make_shared<bool>(false);
    auto coverage = std::make_shared<bool>(false);
    cmd->add_option("run_dir", *run_dir, "Run directory (results/<run-id>)")->required();
    cmd->add_flag("--no-report", *no_report, "Write only the CSV files, no report or plots");
    cmd->add_flag("--require-coverage", *coverage,
                  "Fail if a KPI was not compared, or (where it needs a condition: a lost SYN, "
                  "an RTO...) compared only against zero truths (flowcorder run sets it for the "
                  "default suite)");
    cmd->callback([run_dir, no_report, coverage] {
        validate::CommandOptions o;
        o.report = !*no_report;
        o.require_coverage = *coverage;
        if (const int rc = validate::run_command(*run_dir, o)) throw CLI::RuntimeError(rc);
    });
}

}  // namespace fc::cli
