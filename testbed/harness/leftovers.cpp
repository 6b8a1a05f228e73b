#include "leftovers.hpp"

#include <dirent.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <thread>

#include "topology.hpp"

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace fc::harness {
namespace {

// `flowcorder <word>` processes that belong to a run or a test.
constexpr const char* kOwnWords[] = {"agent",    "collect", "link",   "capture",
                                     "workload", "run",     "explore"};

// The project's test and bench binaries that start links, namespaces or
// agents of their own: a crashed one leaves them running.
constexpr const char* kTestBinaries[] = {"fc_integration_tests",
                                         "fc_impair_integration_tests",
                                         "fc_impair_bench",
                                         "fc_capture_integration_tests",
                                         "fc_workload_integration_tests",
                                         "fc_harness_integration_tests",
                                         "fc_harness_dns_integration_tests"};

bool is_own_flowcorder(const std::vector<std::string>& args) {
    return args.size() >= 2 && fs::path(args[0]).filename() == "flowcorder" &&
           std::find(std::begin(kOwnWords), std::end(kOwnWords), args[1]) != std::end(kOwnWords);
}

bool is_test_binary(const std::vector<std::string>& args) {
    if (args.empty()) return false;
    const std::string name = fs::path(args[0]).filename();
    return std::find(std::begin(kTestBinaries), std::end(kTestBinaries), name) !=
           std::end(kTestBinaries);
}

// `ip -n fc-... mptcp monitor` (the harness's MPTCP path-manager truth).
bool is_mptcp_monitor(const std::vector<std::string>& args) {
    return args.size() == 5 && fs::path(args[0]).filename() == "ip" && args[1] == "-n" &&
           args[2].rfind("fc-", 0) == 0 && args[3] == "mptcp" && args[4] == "monitor";
}

std::vector<std::string> own_namespaces() {
    std::vector<std::string> names;
    DIR* d = opendir("/var/run/netns");
    while (dirent* e = d ? readdir(d) : nullptr)
        if (std::string(e->d_name).rfind("fc-", 0) == 0) names.push_back(e->d_name);
    if (d) closedir(d);
    return names;
}

}  // namespace

std::vector<std::pair<pid_t, std::vector<std::string>>> proc_cmdlines() {
    std::vector<std::pair<pid_t, std::vector<std::string>>> out;
    DIR* d = opendir("/proc");
    while (dirent* e = d ? readdir(d) : nullptr) {
        const pid_t pid = static_cast<pid_t>(std::atoi(e->d_name));
        if (pid <= 0 || pid == getpid()) continue;
        std::ifstream f(std::string("/proc/") + e->d_name + "/cmdline");
        std::string cmd((std::istreambuf_iterator<char>(f)), {});
        std::vector<std::string> args;
        for (size_t pos = 0; pos < cmd.size();) {
            const size_t end = cmd.find('\0', pos);
            args.push_back(cmd.substr(pos, end - pos));
            if (end == std::string::npos) break;
            pos = end + 1;
        }
        if (!args.empty()) out.emplace_back(pid, std::move(args));
    }
    if (d) closedir(d);
    return out;
}

pid_t other_run() {
    for (const auto& [pid, args] : proc_cmdlines())
        if (args.size() >= 2 && fs::path(args[0]).filename() == "flowcorder" &&
            (args[1] == "run" || args[1] == "explore"))
            return pid;
    return 0;
}

int clean_leftovers(bool verbose, bool test_binaries) {
    int removed = 0;
    // Processes first: their BPF links, links and captures die with them.
    for (int round = 0; round < 2; ++round) {
        for (const auto& [pid, args] : proc_cmdlines()) {
            if (pid == getppid()) continue;
            const bool own = is_own_flowcorder(args), test = test_binaries && is_test_binary(args),
                       monitor = is_mptcp_monitor(args);
            if (!own && !test && !monitor) continue;
            if (verbose && round == 0)
                std::printf("killing %d (%s)\n", pid,
                            own    ? ("flowcorder " + args[1]).c_str()
                            : test ? fs::path(args[0]).filename().c_str()
                                   : ("ip -n " + args[2] + " mptcp monitor").c_str());
            // Our own get a chance to remove what they made; the rest do not need one.
            ::kill(pid, round == 0 && own ? SIGTERM : SIGKILL);
            removed += round == 0;
        }
        if (round == 0) std::this_thread::sleep_for(300ms);
    }
    for (const auto& n : own_namespaces()) {
        if (verbose) std::printf("deleting network namespace %s\n", n.c_str());
        delete_netns(n);  // kills what still runs inside first
        ++removed;
    }
    std::error_code ec;
    if (fs::is_directory("/etc/netns", ec))
        for (const auto& e : fs::directory_iterator("/etc/netns", ec))
            if (e.path().filename().string().rfind("fc-", 0) == 0) {
                fs::remove_all(e.path(), ec);
                ++removed;
            }
    for (const auto& e : fs::directory_iterator("/tmp", ec))
        if (e.path().filename().string().rfind("fc-tb-", 0) == 0) fs::remove(e.path(), ec);
    for (const char* sock : {"/tmp/fc-bench-ctl.sock", "/tmp/fc-it-ctl.sock"}) fs::remove(sock, ec);
    return removed;
}

}  // namespace fc::harness
