// The real probes and TCP profiler running in a background thread of the
// test process, collecting profiles in memory.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "core/clock.hpp"
#include "core/sink.hpp"
#include "dns/dns_probes.hpp"
#include "dns/dns_profiler.hpp"
#include "mptcp/mptcp_profiler.hpp"
#include "tcp/tcp_probes.hpp"
#include "tcp/tcp_profiler.hpp"

namespace fc::test {

class AgentThread {
  public:
    // dns: also the DNS probes and profiler (agent --dns); mptcp: MPTCP
    // connections and subflow marking (agent --mptcp).
    explicit AgentThread(uint32_t netns_inode = 0, bool dns = false, bool mptcp = false);
    ~AgentThread();

    using Filter = std::function<bool(const ipfix::Record&)>;
    std::vector<ipfix::Record> records(const Filter& f) const;
    // Waits until pred(records(f)) holds, or the timeout passes.
    bool wait_for(const Filter& f,
                  const std::function<bool(const std::vector<ipfix::Record>&)>& pred,
                  std::chrono::milliseconds timeout) const;
    tcp::ProbeStats probe_stats() const { return probes_->stats(); }

  private:
    class LockedSink : public ProfileSink {
      public:
        void emit(const ipfix::Record& r) override {
            std::lock_guard lock(mu);
            records.push_back(r);
        }
        mutable std::mutex mu;
        std::vector<ipfix::Record> records;
    };

    WallClock clock_;
    LockedSink sink_;
    tcp::TcpProfiler profiler_{clock_, sink_};
    mptcp::MptcpProfiler mptcp_profiler_{clock_, sink_};
    std::unique_ptr<tcp::TcpProbes> probes_;
    std::unique_ptr<dns::DnsProfiler> dns_profiler_;
    std::unique_ptr<dns::DnsProbes> dns_probes_;
    std::atomic<bool> stop_{false};
    std::thread thread_;
};

}  // namespace fc::test
