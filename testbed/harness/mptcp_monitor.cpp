#include "mptcp_monitor.hpp"

#include <signal.h>

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
    // Each line is stamped when it is read: the monitor prints no time.
    child_ = std::make_unique<common::Child>(
        "ip mptcp monitor", std::vector<std::string>{"ip", "-n", netns, "mptcp", "monitor"},
        "/dev/null", [this](const std::string& line) { on_line(line); });
}

void MptcpMonitor::on_line(const std::string& line) {
    const int64_t t = impair::realtime_ns();
    std::fprintf(raw_, "%lld %s\n", static_cast<long long>(t), line.c_str());
    if (const auto j = parse_mptcp_monitor_line(line, t)) {
        std::fprintf(out_, "%s\n", j->dump().c_str());
        ++events_;
    }
    std::fflush(out_);
    std::fflush(raw_);
}

size_t MptcpMonitor::stop() {
    if (stopped_) return events_;
    stopped_ = true;
    child_->stop(SIGTERM, std::chrono::seconds(3));
    child_.reset();  // joins the reader: no line after this
    std::fclose(out_);
    std::fclose(raw_);
    out_ = raw_ = nullptr;
    return events_;
}

MptcpMonitor::~MptcpMonitor() { stop(); }

}  // namespace fc::harness
