// `flowcorder link`: runs one emulated link until SIGINT/SIGTERM or its
// duration, applying a schedule of changes and answering a control socket.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "engine.hpp"

namespace fc::impair {

struct ScheduledChange {
    int64_t at_ns;  // since start
    std::optional<std::string> ab, ba;
};
// A TOML file of [[change]] tables: at = "10s" (tc time syntax, or seconds
// as a number), ab = "netem spec", ba = "netem spec" (either may be absent).
// Every spec is parsed here, so a bad schedule stops the run before it starts.
std::vector<ScheduledChange> load_schedule(const std::string& path);

struct RunOptions {
    LinkOptions link;
    std::string ab_text, ba_text;
    std::string control;           // unix socket path, optional
    std::string schedule;          // TOML file, optional
    double duration_s = 0;         // 0 = until a signal
    std::string backend = "auto";  // auto | engine | netem
};

// Returns the process exit code. Prints progress on stdout, errors on stderr.
int run_link(RunOptions& opts);

// Control protocol, one line each way:
//   "set ab|ba|both SPEC" -> "ok" | "error: ..."
//   "stats"               -> one JSON line
//   "stop"                -> "ok"
std::string control_request(const std::string& socket_path, const std::string& line);

}  // namespace fc::impair
