// flowcorder run / flowcorder clean: the testbed harness's front door.
#include <unistd.h>

#include <climits>
#include <cstdio>
#include <memory>

#include "commands.hpp"
#include "common/data_dir.hpp"
#include "leftovers.hpp"
#include "repeat.hpp"
#include "runner.hpp"
#include "shard.hpp"

namespace fc::cli {

void add_run_command(CLI::App& app) {
    auto o = std::make_shared<harness::RunOptions>();
    auto no_validate = std::make_shared<bool>(false);
    auto* run = app.add_subcommand(
        "run",
        "Run experiment files (default: the validation suite, experiments/tcp/*.toml then "
        "experiments/dns/*.toml): "
        "build the topology, impair links, run agents and workloads, capture, validate, report");
    run->add_option("files", o->files, "Experiment files (TOML); see experiments/README.md")
        ->check(CLI::ExistingFile);
    run->add_option("--results", o->results_dir, "Where run directories go")->capture_default_str();
    run->add_option("--run-id", o->run_id, "Name of the run directory (default: UTC time + tag)");
    run->add_option("--builder", o->builder, "Topology builder: native (iproute2) or mininet")
        ->check(CLI::IsMember({"native", "mininet"}))
        ->capture_default_str();
    run->add_flag("--no-validate", *no_validate,
                  "Run only; validate later with flowcorder validate");
    auto repeat = std::make_shared<unsigned>(1);
    run->add_option("--repeat", *repeat,
                    "Run the experiments N times, each round in <results>/<run-id>/round-K, and "
                    "report each verdict's pass rate (<results>/<run-id>/repeat.csv)")
        ->check(CLI::Range(1u, 1000u))
        ->capture_default_str();
    auto shard = std::make_shared<std::string>("1/1");
    run->add_option("--shard", *shard,
                    "Run only shard K of N of the files (file i when i % N == K-1, in the suite's "
                    "order), so several machines split one suite, e.g. 2/4")
        ->check(CLI::Validator(
            [](std::string& s) {
                unsigned k = 0, n = 0;
                return harness::parse_shard(s, k, n);
            },
            "K/N"))
        ->capture_default_str();
    run->callback([o, no_validate, repeat, shard] {
        if (geteuid() != 0) {
            std::fprintf(stderr, "flowcorder run: needs root (namespaces, BPF)\n");
            throw CLI::RuntimeError(2);
        }
        o->flowcorder = self_exe();
        o->source_dir = common::data_dir();
        unsigned k = 1, n = 1;
        harness::parse_shard(*shard, k, n);  // checked by the validator above
        if (n > 1) {
            o->files = harness::shard_of(
                o->files.empty() ? harness::default_suite(o->source_dir) : o->files, k, n);
            if (o->files.empty()) {
                std::fprintf(stderr, "flowcorder run: shard %u/%u holds no file\n", k, n);
                throw CLI::RuntimeError(2);
            }
        }
        o->validate = !*no_validate;
        const int rc =
            *repeat > 1 ? harness::run_repeated(*o, *repeat) : harness::run_experiments(*o);
        if (rc) throw CLI::RuntimeError(rc);
    });

    auto* clean = app.add_subcommand(
        "clean",
        "Remove what a crashed or interrupted run or test left behind: Flowcorder processes, "
        "fc-* network namespaces (with their veths, bridges and rules), /etc/netns/fc-*");
    auto quiet = std::make_shared<bool>(false);
    auto tests = std::make_shared<bool>(false);
    clean->add_flag("-q,--quiet", *quiet, "Say nothing");
    clean->add_flag("--tests", *tests,
                    "Also kill the project's test and bench binaries (make clean-leftovers; "
                    "not from inside a test)");
    clean->callback([quiet, tests] {
        const int n = harness::clean_leftovers(!*quiet, *tests);
        if (!*quiet) std::printf("flowcorder clean: removed %d item(s)\n", n);
    });
}

}  // namespace fc::cli
