// The "http" workload: nginx serves one file of `response` bytes inside the
// server's namespace, ApacheBench (ab) fetches it `connections` times, one
// request per connection. nginx's configuration is generated per repetition;
// its access log becomes the ground truth of both sides (FORMATS.md,
// "HTTP workload truth"), since ab records nothing per connection.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "experiment.hpp"

namespace fc::harness {

// Where one http workload's files go: <rep>/http/<workload>/ and <rep>/logs/.
struct HttpPaths {
    std::string dir;        // <rep>/http/<w>: prefix, nginx.conf, nginx.pid, access.log
    std::string error_log;  // <rep>/logs/nginx-<w>-error.log
    std::string conf() const { return dir + "/nginx.conf"; }
    std::string pid_file() const { return dir + "/nginx.pid"; }
    std::string access_log() const { return dir + "/access.log"; }
    std::string root() const { return dir + "/www"; }
    std::string temp() const { return dir + "/tmp"; }
};

// The file ab asks for ("/<name>") under HttpPaths::root().
std::string http_file_name(const Workload& w);

// nginx.conf for w: one listener on exactly server_addr:port, no keep-alive,
// the access log in the format access_log_to_truth() reads.
std::string nginx_config(const Workload& w, const HttpPaths& p);

// ab's command lines (without the `ip netns exec` prefix): `concurrency`
// processes of `ab -c 1`, sharing the `connections` requests. One ab with
// -c N may open up to N-1 connections more than -n near its end (connected,
// then closed without a request): nginx does not log those, so their truth
// would be missing. With -c 1 each connection carries a request.
std::vector<std::vector<std::string>> ab_argvs(const Workload& w);

// What ab's summary says; nullopt for a figure it did not print.
struct AbSummary {
    std::optional<uint64_t> complete, failed, non_2xx;
};
AbSummary parse_ab_output(const std::string& out);

// One access-log line per connection in; truth JSON Lines out. Throws
// std::runtime_error naming the line on a malformed one.
struct HttpTruth {
    std::vector<std::string> server, client;  // JSON objects, one per connection
    std::vector<std::string> problems;        // e.g. a status other than 200
};
// Slack of the client's times around the server's (ab is not timed).
inline constexpr int64_t kHttpClientSlackNs = 1'000'000'000;
HttpTruth access_log_to_truth(const std::string& log_text, const Workload& w);

}  // namespace fc::harness
