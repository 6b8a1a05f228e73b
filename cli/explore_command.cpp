// flowcorder explore: random experiments through the harness, failing ones
// shrunk to regression files (testbed/explore/explore.hpp).
#include <unistd.h>

#include <climits>
#include <cstdint>
#include <cstdio>
#include <memory>

#include "commands.hpp"
#include "common/data_dir.hpp"
#include "draw.hpp"
#include "explore.hpp"

namespace fc::cli {

void add_explore_command(CLI::App& app) {
    auto o = std::make_shared<explore::ExploreOptions>();
    auto shard = std::make_shared<std::string>("1/1");
    auto no_shrink = std::make_shared<bool>(false);
    auto print = std::make_shared<uint64_t>(0);
    auto* cmd = app.add_subcommand(
        "explore",
        "Draw random experiments (topology, impairments, workloads), run them through the "
        "harness with validation, and shrink each failing one to a small experiment saved as a "
        "regression file");
    // Experiment seeds are TOML integers (signed): seed + count must stay below 2^63.
    auto* seed = cmd->add_option("--seed", o->seed, "First draw seed; scenario i uses seed + i")
                     ->check(CLI::Range(uint64_t{0}, uint64_t{INT64_MAX} - 1'000'000));
    auto* count = cmd->add_option("--count", o->count, "How many scenarios to draw")
                      ->check(CLI::Range(1u, 1'000'000u));
    cmd->add_option("--shard", *shard,
                    "Run only shard K of N (scenarios i with i % N == K-1), e.g. 2/4")
        ->check(CLI::Validator(
            [](std::string& s) {
                unsigned k = 0, n = 0;
                return explore::parse_shard(s, k, n);
            },
            "K/N"))
        ->capture_default_str();
    cmd->add_option("--results", o->results_dir, "Where run directories go")->capture_default_str();
    cmd->add_option("--regressions", o->regressions_dir,
                    "Where shrunk failing experiments are saved")
        ->capture_default_str();
    cmd->add_flag("--no-shrink", *no_shrink, "Report failing scenarios without shrinking them");
    cmd->add_option("--shrink-budget", o->shrink_budget,
                    "Harness runs spent shrinking each failing scenario")
        ->check(CLI::Range(0, 10000))
        ->capture_default_str();
    auto* print_opt = cmd->add_option(
        "--print", *print, "Write the experiment drawn for this seed to stdout and exit (no root)");
    cmd->callback([=] {
        if (print_opt->count() > 0) {
            std::fputs(
                explore::draw_experiment(*print, "explore-" + std::to_string(*print)).c_str(),
                stdout);
            return;
        }
        if (seed->count() == 0 || count->count() == 0) {
            std::fprintf(stderr,
                         "flowcorder explore: needs --seed and --count (or --print SEED)\n");
            throw CLI::RuntimeError(2);
        }
        if (geteuid() != 0) {
            std::fprintf(stderr, "flowcorder explore: needs root (namespaces, BPF)\n");
            throw CLI::RuntimeError(2);
        }
        explore::parse_shard(*shard, o->shard_k, o->shard_n);  // checked by the validator above
        o->shrink = !*no_shrink;
        o->flowcorder = self_exe();
        o->source_dir = common::data_dir();
        int rc = 2;
        try {
            rc = explore::run_explore(*o);
        } catch (const std::exception& e) {
            std::fprintf(stderr, "flowcorder explore: %s\n", e.what());
        }
        if (rc) throw CLI::RuntimeError(rc);
    });
}

}  // namespace fc::cli
