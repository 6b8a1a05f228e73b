// The agent: probes -> profilers -> a profile sink, its loop and its orderly
// end. `flowcorder agent` (cli/agent_command.cpp) and the integration tests
// (tests/support/agent_thread.hpp) both run this class, so the code under
// test is the code that ships.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>

#include "core/clock.hpp"
#include "core/sink.hpp"
#include "dns/dns_probes.hpp"
#include "dns/dns_profiler.hpp"
#include "ipfix/exporter.hpp"
#include "mptcp/mptcp_profiler.hpp"
#include "tcp/tcp_probes.hpp"
#include "tcp/tcp_profiler.hpp"

namespace fc::daemon {

struct AgentOptions {
    uint32_t netns_inode = 0;  // 0: every network namespace
    std::string netns_label;   // how the start-up line names it ("" = every one)
    std::string exporting_to;  // how the start-up line names the destination
    uint32_t max_connections = 65536;
    bool ooo_distance = true;
    bool naive_per_segment = false;
    std::string cgroup_path;  // empty: the cgroup-v2 mount
    bool mptcp = false;
    bool dns = false;
    tcp::TracepointPrograms tracepoint_programs = tcp::TracepointPrograms::both;  // tests only
    dns::DnsOptions dns_profile;
    std::string libc_path;         // empty: this process's libc
    double stats_interval_s = 10;  // 0: statistics only at the end
    double duration_s = 0;         // 0: until stopped
    // How long one poll of the ring buffers may wait: DNS lookups are
    // short, so their events are taken up sooner.
    std::chrono::milliseconds poll_timeout() const {
        return std::chrono::milliseconds(dns ? 20 : 100);
    }
};

// What run() leaves behind for the caller's exit line.
struct AgentEnd {
    size_t open_at_exit = 0;  // connections still open, ended as DESYNC
};

class Agent {
  public:
    // Attaches the probes (throws with the reason if the kernel refuses).
    // Profiles go to `sink`; with an `exporter`, statistics records go there
    // too and run() keeps it ticking. Operator lines (start-up, statistics)
    // go to `log`; nullptr keeps quiet.
    Agent(const AgentOptions& options, ProfileSink& sink, ipfix::Exporter* exporter = nullptr,
          std::FILE* log = stderr);
    ~Agent();
    Agent(const Agent&) = delete;
    Agent& operator=(const Agent&) = delete;

    // Polls, sweeps connections the kernel forgot (every 2 s), exports
    // statistics, until `stop` is set (by a signal handler or another
    // thread) or the duration passes; then takes the last events, ends the
    // connections still open (DESYNC) and exports the final statistics.
    AgentEnd run(const std::atomic<bool>& stop);

    uint64_t profiles() const { return counted_.count; }
    tcp::ProbeStats probe_stats() const { return tcp_probes_->stats(); }

  private:
    class CountingSink final : public ProfileSink {
      public:
        explicit CountingSink(ProfileSink& next) : next_(next) {}
        void emit(const ipfix::Record& r) override {
            ++count;
            next_.emit(r);
        }
        uint64_t count = 0;

      private:
        ProfileSink& next_;
    };

    void print_start() const;
    void export_stats();

    AgentOptions o_;
    ipfix::Exporter* exporter_;
    std::FILE* log_;
    WallClock clock_;
    CountingSink counted_;
    tcp::TcpProfiler tcp_;
    mptcp::MptcpProfiler mptcp_;
    std::unique_ptr<tcp::TcpProbes> tcp_probes_;
    std::unique_ptr<dns::DnsProfiler> dns_;
    std::unique_ptr<dns::DnsProbes> dns_probes_;
};

}  // namespace fc::daemon
