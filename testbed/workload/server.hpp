// flowcorder workload server: accepts on every --listen address, serves each
// connection in its own thread following the client's header, writes one
// truth line per connection, stops cleanly on SIGTERM/SIGINT.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "workload/endpoint.hpp"

namespace fc::workload {

struct ServerOptions {
    std::vector<Endpoint> listen;
    std::string truth_path, host, workload;
    std::chrono::nanoseconds idle_timeout = std::chrono::seconds(5);
    // After SIGTERM, running connections get this long before they are reset.
    std::chrono::nanoseconds grace = std::chrono::seconds(2);
    bool mptcp = false;  // IPPROTO_MPTCP listeners
    // TCP_CONGESTION of the listeners, which accepted sockets inherit ("": default).
    std::string congestion;
};

// Prints "ready" once listening; returns the exit status (0 after a signal).
// Throws std::runtime_error when a listener cannot be set up.
int run_server(const ServerOptions& o);

}  // namespace fc::workload
