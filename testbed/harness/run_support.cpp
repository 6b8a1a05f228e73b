#include "run_support.hpp"

#include <signal.h>
#include <sys/utsname.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#include "impair/sys.hpp"

namespace fc::harness {

using json = nlohmann::json;

namespace {
std::atomic<int> g_signal{0};
extern "C" void on_signal(int sig) { g_signal = sig; }

std::string cmd_output(const std::vector<std::string>& argv) {
    const auto r = impair::run_cmd(argv);
    return r.status == 0 ? r.output : "";
}
}  // namespace

void install_signal_handlers() {
    struct sigaction sa {};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
    signal(SIGPIPE, SIG_IGN);
}

void check_interrupt() {
    if (g_signal) throw Interrupted();
}

int64_t now_ns() { return impair::realtime_ns(); }
double mono_s() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

std::string random_tag() {
    std::random_device rd;
    char buf[8];
    std::snprintf(buf, sizeof buf, "%04x", rd() & 0xffff);
    return buf;
}

std::string endpoint(const std::string& addr, uint16_t port) {
    return (addr.find(':') != std::string::npos ? "[" + addr + "]" : addr) + ":" +
           std::to_string(port);
}

std::string secs(int64_t ns) {
    char b[32];
    std::snprintf(b, sizeof b, "%.3fs", ns / 1e9);
    return b;
}

Progress::Progress(std::string prefix) : prefix_(std::move(prefix)), t0_(mono_s()) {}

void Progress::step(const std::string& what) {
    std::printf("%s %-10s %6.1fs\n", prefix_.c_str(), what.c_str(), mono_s() - t0_);
    std::fflush(stdout);
}

double Progress::elapsed() const { return mono_s() - t0_; }

json environment(const RunOptions& o) {
    json env;
    utsname u{};
    uname(&u);
    env["kernel"] = std::string(u.sysname) + " " + u.release + " " + u.version;
    env["machine"] = u.machine;
    env["hostname"] = u.nodename;
    env["cpus"] = std::thread::hardware_concurrency();
    env["date_utc"] = cmd_output({"date", "-u", "+%Y-%m-%dT%H:%M:%SZ"});
    env["builder"] = o.builder;
    std::ifstream osr("/etc/os-release");
    for (std::string line; std::getline(osr, line);)
        if (line.rfind("PRETTY_NAME=", 0) == 0) env["os"] = line.substr(13, line.size() - 14);
    env["git_commit"] = cmd_output({"git", "-C", o.source_dir, "rev-parse", "HEAD"});
    env["git_dirty"] =
        !cmd_output({"git", "-C", o.source_dir, "status", "--porcelain", "--untracked-files=no"})
             .empty();
    json pk = json::object();
    const std::string pkgs = cmd_output(
        {"dpkg-query", "-W", "-f", "${Package} ${Version}\\n", "libbpf1", "libfixbuf9",
         "libfixbuf-dev", "libpcap0.8", "iproute2", "tshark", "mininet", "sqlite3", "clang",
         "bpftool", "nftables", "nginx-light", "apache2-utils", "dnsmasq-base"});
    std::istringstream in(pkgs);
    for (std::string p, v; in >> p >> v;) pk[p] = v;
    env["packages"] = pk;
    return env;
}

}  // namespace fc::harness
