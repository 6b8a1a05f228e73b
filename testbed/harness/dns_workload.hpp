// The "dns" workload: dnsmasq serves the fixed zone fc.test (plus SERVFAIL
// for the experiment's `servfail` names) on server_addr:53 in the server's
// namespace; the client's C library resolver is pointed at it through
// /etc/netns/<client netns>/resolv.conf, which `ip netns exec` bind-mounts
// over /etc/resolv.conf; `flowcorder workload dns-client` looks names up with
// getaddrinfo(). Truth: the client's lookups and dnsmasq's query log
// (FORMATS.md, "DNS workload truth").
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "experiment.hpp"
#include "common/process.hpp"

namespace fc::harness {

using common::Child;  // common/process.hpp

// Where one dns workload's server files go: <rep>/dns/<workload>/.
struct DnsPaths {
    std::string dir;
    std::string conf() const { return dir + "/dnsmasq.conf"; }
    std::string log() const { return dir + "/dnsmasq.log"; }  // --log-facility
    std::string pid_file() const { return dir + "/dnsmasq.pid"; }
};

// `flowcorder workload dns-servfail` listens here, on the server namespace's
// loopback; dnsmasq forwards the `servfail` names to it.
inline constexpr uint16_t kServfailPort = 5300;

// dnsmasq's configuration: the zone table as host-record/txt-record lines,
// local=/fc.test/ (anything else in fc.test is NXDOMAIN), no upstream but
// the SERVFAIL responder, no cache, every query logged with its serial.
std::string dnsmasq_config(const Workload& w, const DnsPaths& p);
// /etc/netns/<client netns>/resolv.conf.
std::string resolv_conf(const Workload& w);
// listen = false: nftables rules dropping DNS to server_addr in the server's
// namespace, so that nobody answers at all (not even ICMP port unreachable).
std::string nft_drop_rules(const Workload& w);
std::string nft_table_name(const Workload& w);
// `flowcorder workload dns-client` arguments (after "workload").
std::vector<std::string> dns_client_args(const Workload& w, const std::string& truth_path);

// dnsmasq's log (--log-queries=extra) to one truth object per query it
// received; `reference_s` (the time of parsing) supplies the year the log's
// timestamps lack. Throws std::runtime_error naming the line if a query line
// is malformed; answers without their query become problems.
struct DnsmasqTruth {
    std::vector<nlohmann::ordered_json> queries;
    std::vector<std::string> problems;
};
DnsmasqTruth dnsmasq_log_to_truth(const std::string& log_text, const std::string& host,
                                  const std::string& workload, int64_t reference_s);

// Both sides of one dns workload, removed when it goes out of scope:
// resolv.conf in the client's namespace (/etc/netns/<ns>/), and either
// dnsmasq (+ the SERVFAIL responder) or the drop rules in the server's.
class DnsServer {
  public:
    // `flowcorder` runs the SERVFAIL responder; children log to log_dir.
    DnsServer(const Workload& w, std::string server_netns, std::string client_netns,
              const std::string& dir, const std::string& flowcorder, const std::string& log_dir);
    ~DnsServer();
    DnsServer(const DnsServer&) = delete;
    DnsServer& operator=(const DnsServer&) = delete;

    // dnsmasq bound to server_addr:53 (checked with ss); throws naming its log.
    void wait_ready(std::chrono::milliseconds timeout);
    // Stops dnsmasq (SIGTERM: it flushes its log) and the responder; returns problems.
    std::vector<std::string> stop();
    // After stop(): dnsmasq's log as truth (empty when listen = false).
    DnsmasqTruth truth(int64_t reference_s) const;

    const Workload& workload() const { return w_; }
    const DnsPaths& paths() const { return paths_; }
    const std::string& resolv_conf_path() const { return resolv_path_; }

  private:
    // Undo what the constructor did so far, also when it throws.
    struct RemoveDir {
        std::string path;
        ~RemoveDir();
    };
    struct DropTable {
        std::string netns, table;
        ~DropTable();
    };

    const Workload& w_;
    std::string server_netns_, client_netns_;
    DnsPaths paths_;
    std::string resolv_path_;
    // Destroyed in reverse: dnsmasq, responder, rules, resolv.conf.
    RemoveDir resolv_dir_;
    DropTable nft_;
    std::unique_ptr<Child> responder_, dnsmasq_;
};

}  // namespace fc::harness
