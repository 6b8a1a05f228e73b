// One line of workload ground truth per connection and side (FORMATS.md,
// "Workload ground truth"), and the file they are appended to.
#pragma once

#include <cstdint>
#include <cstdio>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "workload/tcp_info.hpp"

namespace fc::workload {

struct ConnTruth {
    std::string host, workload, role;  // role: "client" or "server"
    uint64_t conn = 0;
    std::string type;  // bulk, rr, churn ("" on the server before the header arrived)
    int family = 4;
    std::string local, remote;
    uint16_t lport = 0, rport = 0;
    int64_t t_start_ns = 0;
    std::optional<int64_t> t_connected_ns;  // null: never established
    int64_t t_end_ns = 0;
    std::string outcome = "ok";
    int err = 0;
    uint64_t app_bytes_sent = 0, app_bytes_received = 0;
    uint32_t exchanges = 0;  // request/response exchanges completed
    std::string closed_by = "none";
    std::string congestion;                   // TCP_CONGESTION at the end ("" when unknown)
    std::optional<TcpInfoSnapshot> tcp_info;  // null after a failed connect
    // IPPROTO_MPTCP sockets: "protocol": "mptcp" and the "mptcp" object
    // (mptcp_info.hpp); null after a failed connect.
    bool is_mptcp = false;
    std::optional<nlohmann::json> mptcp;
};

nlohmann::json to_json(const ConnTruth& t);

// Appends JSON lines; each line is written whole and flushed, so concurrent
// connections never interleave and a killed process loses nothing written.
class TruthWriter {
  public:
    explicit TruthWriter(const std::string& path);  // throws std::runtime_error
    ~TruthWriter();
    TruthWriter(const TruthWriter&) = delete;
    TruthWriter& operator=(const TruthWriter&) = delete;
    void write(const ConnTruth& t);
    // Any other truth object (e.g. a DNS lookup), as one line, keys in order.
    void write(const nlohmann::ordered_json& j);

  private:
    void write_line(const std::string& line);
    std::mutex mu_;
    std::FILE* file_ = nullptr;
};

int64_t realtime_ns();

}  // namespace fc::workload
