#include "runner.hpp"

#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "budget.hpp"
#include "common/ports.hpp"
#include "common/process.hpp"
#include "dns_workload.hpp"
#include "experiment.hpp"
#include "http_workload.hpp"
#include "impair/sys.hpp"
#include "leftovers.hpp"
#include "mptcp_monitor.hpp"
#include "repetition.hpp"
#include "run_support.hpp"
#include "topology.hpp"

namespace fs = std::filesystem;
using json = nlohmann::json;
using namespace std::chrono_literals;

namespace fc::harness {

std::vector<std::string> default_suite(const std::string& source_dir) {
    std::vector<std::string> files;
    for (const char* sub : {"experiments/tcp", "experiments/dns", "experiments/mptcp"}) {
        fs::path dir = sub;
        if (!fs::is_directory(dir)) dir = fs::path(source_dir) / sub;
        std::vector<std::string> here;
        if (fs::is_directory(dir))
            for (const auto& e : fs::directory_iterator(dir))
                if (e.path().extension() == ".toml") here.push_back(e.path());
        std::sort(here.begin(), here.end());
        files.insert(files.end(), here.begin(), here.end());
    }
    return files;
}

int run_experiments(const RunOptions& o) {
    const auto files = o.files.empty() ? default_suite(o.source_dir) : o.files;
    if (files.empty()) {
        std::fprintf(stderr,
                     "flowcorder run: no experiment files: none given, and no experiments/ "
                     "directory found (looked in $FC_DATA_DIR, above the executable's "
                     "directory, in <prefix>/share/flowcorder and in the current directory)\n");
        return 2;
    }
    // Parse everything before starting anything.
    std::vector<Experiment> xs;
    std::map<std::string, std::string> seen;
    for (const auto& f : files) {
        try {
            xs.push_back(parse_experiment_file(f));
        } catch (const ExperimentError& e) {
            std::fprintf(stderr, "flowcorder run: %s\n", e.what());
            return 2;
        }
        auto [it, fresh] = seen.emplace(xs.back().name, f);
        if (!fresh) {
            std::fprintf(stderr, "flowcorder run: %s: experiment name '%s' is also used by %s\n",
                         f.c_str(), xs.back().name.c_str(), it->second.c_str());
            return 2;
        }
    }
    if (o.builder == "mininet" && access("/usr/bin/python3", X_OK) != 0) {
        std::fprintf(stderr, "flowcorder run: the Mininet builder needs /usr/bin/python3\n");
        return 2;
    }
    if (const pid_t other = other_run(); other > 0) {
        std::fprintf(stderr,
                     "flowcorder run: another flowcorder run (pid %d) is running; two runs on "
                     "one machine would disturb each other's measurements. Wait for it, or stop "
                     "it (kill -INT %d).\n",
                     other, other);
        return 3;
    }
    if (const auto left = leftover_namespaces(); !left.empty()) {
        std::fprintf(stderr,
                     "flowcorder run: an earlier run left %zu network namespace(s) behind (%s%s).\n"
                     "Remove them with:  %s clean\n",
                     left.size(), left[0].c_str(), left.size() > 1 ? ", ..." : "",
                     o.flowcorder.c_str());
        return 3;
    }

    install_signal_handlers();

    char stamp[32];
    const std::time_t tt = std::time(nullptr);
    std::strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", std::gmtime(&tt));
    const std::string run_id =
        o.run_id.empty() ? std::string(stamp) + "-" + random_tag() : o.run_id;
    const fs::path run_dir = fs::path(o.results_dir) / run_id;
    if (fs::exists(run_dir)) {
        std::fprintf(stderr, "flowcorder run: %s exists already\n", run_dir.c_str());
        return 2;
    }
    fs::create_directories(run_dir / "experiments");
    for (const auto& f : files)
        fs::copy_file(f, run_dir / "experiments" / fs::path(f).filename(),
                      fs::copy_options::overwrite_existing);
    std::ofstream(run_dir / "environment.json") << environment(o).dump(2) << "\n";
    std::error_code ec;
    fs::remove(fs::path(o.results_dir) / "latest", ec);
    fs::create_directory_symlink(run_id, fs::path(o.results_dir) / "latest", ec);

    uint32_t reps = 0;
    for (const auto& x : xs) reps += x.repetitions;
    std::printf("flowcorder run: %zu experiment(s), %u repetition(s), builder %s -> %s\n",
                xs.size(), reps, o.builder.c_str(), run_dir.c_str());
    std::fflush(stdout);

    const double t_start = mono_s();
    std::vector<std::string> problems;
    int status = 0;
    try {
        const uint16_t port = common::free_loopback_port(SOCK_STREAM);
        const std::string p = std::to_string(port);
        Child collector(
            "collector",
            {o.flowcorder, "collect", "--listen", "tcp://127.0.0.1:" + p + ",udp://127.0.0.1:" + p,
             "--db", run_dir / "profiles.sqlite"},
            run_dir / "collector.log");
        collector.wait_for("listening", 10s);
        uint32_t next_domain = 1, k = 0;
        for (const auto& x : xs) {
            for (uint32_t rep = 0; rep < x.repetitions; ++rep) {
                check_interrupt();
                ++k;
                char prefix[160];
                std::snprintf(prefix, sizeof prefix, "[%u/%u] %-28s rep %u/%u", k, reps,
                              x.name.c_str(), rep + 1, x.repetitions);
                const fs::path dir = run_dir / x.name / ("rep-" + std::to_string(rep));
                try {
                    Repetition r(o, x, rep, dir, port, next_domain, prefix);
                    for (const auto& pr : r.run()) problems.push_back(x.name + ": " + pr);
                } catch (const Interrupted&) {
                    throw;
                } catch (const std::exception& e) {
                    problems.push_back(x.name + " rep " + std::to_string(rep) + ": " + e.what());
                    std::printf("%s FAILED: %s\n", prefix, e.what());
                }
            }
        }
        collector.stop(SIGINT, 15s);
    } catch (const Interrupted&) {
        std::fprintf(stderr, "\nflowcorder run: interrupted; everything it started is removed\n");
        return 130;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "flowcorder run: %s\n", e.what());
        return 1;
    }
    std::printf("flowcorder run: experiments done in %.1f s\n", mono_s() - t_start);
    if (!problems.empty()) {
        status = 1;
        std::printf("\nproblems while running (%zu):\n", problems.size());
        for (const auto& p : problems) std::printf("  - %s\n", p.c_str());
        std::ofstream pf(run_dir / "problems.txt");
        for (const auto& p : problems) pf << p << "\n";
    }
    if (o.validate) {
        std::fflush(stdout);
        std::vector<std::string> argv = {o.flowcorder, "validate", run_dir};
        // The default suite is meant to cover every KPI group of the design.
        if (o.files.empty()) argv.push_back("--require-coverage");
        const int v = common::run_to_end(argv);
        if (v != 0) status = v == 1 ? 1 : v;
    }
    std::printf("\nrun directory: %s (%s)\n", run_dir.c_str(),
                status == 0 ? "all verdicts pass" : "FAILED");
    return status;
}

}  // namespace fc::harness
