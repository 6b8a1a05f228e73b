#include "workload/truth.hpp"

#include <cerrno>
#include <cstring>
#include <ctime>
#include <stdexcept>

namespace fc::workload {

nlohmann::json to_json(const ConnTruth& t) {
    nlohmann::json j;
    j["host"] = t.host;
    j["workload"] = t.workload;
    j["role"] = t.role;
    j["conn"] = t.conn;
    j["type"] = t.type;
    j["family"] = t.family;
    j["local"] = t.local;
    j["lport"] = t.lport;
    j["remote"] = t.remote;
    j["rport"] = t.rport;
    j["t_start_ns"] = t.t_start_ns;
    j["t_connected_ns"] = t.t_connected_ns ? nlohmann::json(*t.t_connected_ns) : nullptr;
    j["t_end_ns"] = t.t_end_ns;
    j["outcome"] = t.outcome;
    j["errno"] = t.err;
    j["app_bytes_sent"] = t.app_bytes_sent;
    j["app_bytes_received"] = t.app_bytes_received;
    j["exchanges"] = t.exchanges;
    j["closed_by"] = t.closed_by;
    if (!t.congestion.empty()) j["congestion"] = t.congestion;
    j["tcp_info_at_close"] =
        t.tcp_info && t.tcp_info->length > 0 && t.tcp_info->info.tcpi_state == 7;
    j["tcp_info"] = t.tcp_info ? to_json(*t.tcp_info) : nlohmann::json(nullptr);
    if (t.is_mptcp) {
        j["protocol"] = "mptcp";
        j["mptcp"] = t.mptcp ? *t.mptcp : nlohmann::json(nullptr);
    }
    return j;
}

TruthWriter::TruthWriter(const std::string& path) : file_(std::fopen(path.c_str(), "a")) {
    if (!file_) throw std::runtime_error("cannot open " + path + ": " + std::strerror(errno));
}

TruthWriter::~TruthWriter() { std::fclose(file_); }

void TruthWriter::write(const ConnTruth& t) { write_line(to_json(t).dump() + "\n"); }

void TruthWriter::write(const nlohmann::ordered_json& j) { write_line(j.dump() + "\n"); }

void TruthWriter::write_line(const std::string& line) {
    std::lock_guard lock(mu_);
    std::fwrite(line.data(), 1, line.size(), file_);
    std::fflush(file_);
}

int64_t realtime_ns() {
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

}  // namespace fc::workload
