// flowcorder workload client: N connections, at most P at a time, each one
// truth line; the exit status says whether every outcome was the expected one.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "workload/endpoint.hpp"
#include "workload/protocol.hpp"

namespace fc::workload {

struct ClientOptions {
    Endpoint connect;
    Type type = Type::bulk;
    Direction direction = Direction::up;
    uint64_t bytes = 1024 * 1024;
    uint64_t request = 100, response = 1000;
    uint32_t requests = 10;
    uint32_t connections = 1, concurrency = 1;
    std::chrono::nanoseconds user_timeout = std::chrono::seconds(3);
    std::chrono::nanoseconds connect_timeout = std::chrono::seconds(5);
    std::chrono::nanoseconds idle_timeout = std::chrono::seconds(30);
    std::string expect = "ok";  // an outcome, or "any"
    bool mptcp = false;         // IPPROTO_MPTCP sockets
    std::string congestion;     // TCP_CONGESTION of every socket ("": the namespace default)
    std::string truth_path, host, workload;
};

// Returns the process exit status: 0 iff every outcome matched `expect`.
int run_client(const ClientOptions& o);

}  // namespace fc::workload
