// flowcorder workload dns-client: getaddrinfo() for each name in turn, one
// truth line per lookup (FORMATS.md, "DNS workload truth"); the exit status
// says whether every outcome was the expected one.
#pragma once

#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "workload/dns_zone.hpp"

namespace fc::workload::dns {

struct ClientOptions {
    std::vector<std::string> names;  // looked up in this order, round robin
    uint32_t lookups = 1;
    Family family = Family::any;
    std::chrono::nanoseconds interval = std::chrono::milliseconds(50);
    std::string expect = "mixed";
    std::vector<std::string> servfail;  // names the server answers SERVFAIL for
    std::string server;                 // required first nameserver of resolv.conf ("" = any)
    std::string resolv_conf = "/etc/resolv.conf";
    std::string truth_path, host, workload;
};

// getaddrinfo's return value as a name and an outcome (answer, nxdomain,
// nodata, temporary, error).
std::string rc_name(int rc);
std::string rc_outcome(int rc);

// The nameserver lines of a resolv.conf text, in order.
std::vector<std::string> nameservers(const std::string& resolv_conf_text);

// One lookup: the truth line's fields.
struct Lookup {
    uint64_t index = 0;
    std::string name;
    Family family = Family::any;
    int64_t pid = 0, tid = 0;
    int64_t t_start_ns = 0, t_end_ns = 0;
    int rc = 0;
    int err = 0;  // errno after EAI_SYSTEM, else 0
    std::vector<std::string> v4, v6;
    std::optional<std::string> expected;  // null under --expect any
    std::string server;
};
nlohmann::ordered_json to_json(const Lookup& l, const std::string& host,
                               const std::string& workload);

// Runs the lookups; returns the process exit status (0 iff every outcome was
// the expected one). Throws std::runtime_error on a setup problem (truth file,
// resolv.conf not naming --server).
int run_dns_client(const ClientOptions& o);

}  // namespace fc::workload::dns
