#include "mptcp_monitor.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <map>
#include <sstream>
#include <stdexcept>
#include <vector>

#include "impair/sys.hpp"

namespace fc::harness {

namespace {

// enum mptcp_event_type (linux/mptcp_pm.h) for the numbers this iproute2
// prints as "UNKNOWN <n>".
const std::map<int, std::string>& event_names() {
    static const std::map<int, std::string> m = {
        {1, "CREATED"},           {2, "ESTABLISHED"},     {3, "CLOSED"},     {6, "ANNOUNCED"},
        {7, "REMOVED"},           {10, "SF_ESTABLISHED"}, {11, "SF_CLOSED"}, {13, "SF_PRIORITY"},
        {15, "LISTENER_CREATED"}, {16, "LISTENER_CLOSED"}};
    return m;
}

bool all_digits(const std::string& s) {
    return !s.empty() && s.find_first_not_of("0123456789") == std::string::npos;
}

}  // namespace

std::optional<nlohmann::ordered_json> parse_mptcp_monitor_line(const std::string& line,
                                                               int64_t t_ns) {
    const auto open = line.find('[');
    const auto close = line.find(']');
    if (open != 0 || close == std::string::npos) return std::nullopt;
    std::string name = line.substr(1, close - 1);
    name.erase(0, name.find_first_not_of(' '));
    name.erase(name.find_last_not_of(' ') + 1);
    if (name.empty()) return std::nullopt;
    nlohmann::ordered_json j;
    j["t_ns"] = t_ns;
    if (name.rfind("UNKNOWN ", 0) == 0 && all_digits(name.substr(8))) {
        const int code = std::stoi(name.substr(8));
        const auto it = event_names().find(code);
        j["event"] = it != event_names().end() ? it->second : name;
        j["event_code"] = code;
    } else {
        j["event"] = name;
    }
    j["token"] = nullptr;
    j["saddr"] = nullptr;
    j["daddr"] = nullptr;
    j["sport"] = nullptr;
    j["dport"] = nullptr;
    j["error"] = nullptr;
    std::istringstream in(line.substr(close + 1));
    for (std::string kv; in >> kv;) {
        const auto eq = kv.find('=');
        if (eq == std::string::npos || eq == 0) {
            j["unparsed"] =
                j.contains("unparsed") ? j["unparsed"].get<std::string>() + " " + kv : kv;
            continue;
        }
        std::string k = kv.substr(0, eq);
        const std::string v = kv.substr(eq + 1);
        if (k == "saddr4" || k == "saddr6") k = "saddr";
        if (k == "daddr4" || k == "daddr6") k = "daddr";
        if (k == "token") {
            // printed as %08x
            char* end = nullptr;
            const unsigned long long t = std::strtoull(v.c_str(), &end, 16);
            if (end && *end == '\0' && !v.empty())
                j["token"] = t;
            else
                j["token_text"] = v;
        } else if (all_digits(v) && v.size() < 19) {
            j[k] = std::stoll(v);
        } else {
            j[k] = v;
        }
    }
    return j;
}

MptcpMonitor::MptcpMonitor(const std::string& netns, const std::string& out_path,
                           const std::string& raw_log_path) {
    out_ = std::fopen(out_path.c_str(), "w");
    raw_ = std::fopen(raw_log_path.c_str(), "w");
    if (!out_ || !raw_) {
        if (out_) std::fclose(out_);
        if (raw_) std::fclose(raw_);
        throw std::runtime_error("cannot write " + out_path + " / " + raw_log_path);
    }
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0) {
        std::fclose(out_);
        std::fclose(raw_);
        throw std::runtime_error("pipe: " + std::string(strerror(errno)));
    }
    const pid_t parent = getpid();
    pid_ = fork();
    if (pid_ < 0) {
        ::close(p[0]);
        ::close(p[1]);
        std::fclose(out_);
        std::fclose(raw_);
        throw std::runtime_error("fork: " + std::string(strerror(errno)));
    }
    if (pid_ == 0) {
        setpgid(0, 0);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent) _exit(127);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, nullptr);
        signal(SIGTERM, SIG_DFL);
        signal(SIGINT, SIG_DFL);
        dup2(p[1], 1);
        dup2(p[1], 2);
        execlp("ip", "ip", "-n", netns.c_str(), "mptcp", "monitor", static_cast<char*>(nullptr));
        dprintf(2, "cannot run ip: %s\n", strerror(errno));
        _exit(127);
    }
    ::close(p[1]);
    reader_ = std::thread([this, fd = p[0]] { reader(fd); });
}

void MptcpMonitor::reader(int fd) {
    std::string buf;
    char chunk[4096];
    for (;;) {
        const ssize_t n = ::read(fd, chunk, sizeof chunk);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        const int64_t t = impair::realtime_ns();
        buf.append(chunk, static_cast<size_t>(n));
        for (size_t nl; (nl = buf.find('\n')) != std::string::npos;) {
            const std::string line = buf.substr(0, nl);
            buf.erase(0, nl + 1);
            std::fprintf(raw_, "%lld %s\n", static_cast<long long>(t), line.c_str());
            if (const auto j = parse_mptcp_monitor_line(line, t)) {
                std::fprintf(out_, "%s\n", j->dump().c_str());
                ++events_;
            }
        }
        std::fflush(out_);
        std::fflush(raw_);
    }
    ::close(fd);
}

size_t MptcpMonitor::stop() {
    if (stopped_) return events_;
    stopped_ = true;
    ::kill(pid_, SIGTERM);
    int st = 0;
    const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(3);
    while (waitpid(pid_, &st, WNOHANG) == 0) {
        if (std::chrono::steady_clock::now() >= end) {
            ::kill(pid_, SIGKILL);
            waitpid(pid_, &st, 0);
            break;
        }
        usleep(10'000);
    }
    if (reader_.joinable()) reader_.join();
    std::fclose(out_);
    std::fclose(raw_);
    out_ = raw_ = nullptr;
    return events_;
}

MptcpMonitor::~MptcpMonitor() { stop(); }

}  // namespace fc::harness
