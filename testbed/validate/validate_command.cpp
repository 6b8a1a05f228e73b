// flowcorder validate: judges a run directory's profiles against its ground
// truth (testbed/validate/, formats in testbed/FORMATS.md).
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <memory>

#include "validate/validate.hpp"

namespace fc::cli {

// Declared for the CLI in agent/cli/commands.hpp; repeated here so that the
// validator includes nothing of the agent.
void add_validate_command(CLI::App& app);

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
        validate::Result result;
        try {
            result = validate::validate_run(*run_dir, *coverage);
        } catch (const validate::InputError& e) {
            std::fprintf(stderr, "flowcorder validate: %s\n", e.what());
            throw CLI::RuntimeError(2);
        }
        try {
            validate::OutputOptions o;
            o.report = !*no_report;
            validate::write_outputs(result, o);
        } catch (const std::exception& e) {
            std::fprintf(stderr, "flowcorder validate: %s\n", e.what());
            throw CLI::RuntimeError(2);
        }
        std::fputs(validate::summary_table(result, isatty(STDOUT_FILENO)).c_str(), stdout);
        if (!result.not_covered.empty()) {
            std::string kpis;
            for (const auto& k : result.not_covered) kpis += " " + k;
            std::printf(
                "not compared in this run (they need a condition; fine for a single "
                "experiment):%s\n",
                kpis.c_str());
        }
        std::printf("%s: %s\n", result.all_pass() ? "pass" : "fail", run_dir->c_str());
        if (!result.all_pass()) throw CLI::RuntimeError(1);
    });
}

}  // namespace fc::cli
