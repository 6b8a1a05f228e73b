// The shipped agent (daemon::Agent) running in a background thread of the
// test process, collecting profiles in memory.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "core/sink.hpp"
#include "daemon/agent.hpp"

namespace fc::test {

class AgentThread {
  public:
    // dns: also the DNS probes and profiler (agent --dns); mptcp: MPTCP
    // connections and subflow marking (agent --mptcp).
    // programs: see tcp::TracepointPrograms.
    explicit AgentThread(uint32_t netns_inode = 0, bool dns = false, bool mptcp = false,
                         tcp::TracepointPrograms programs = tcp::TracepointPrograms::both);
    // Stops the agent, which ends what is still open as DESYNC, as it does.
    ~AgentThread();

    using Filter = std::function<bool(const ipfix::Record&)>;
    std::vector<ipfix::Record> records(const Filter& f) const;
    // Waits until pred(records(f)) holds, or the timeout passes.
    bool wait_for(const Filter& f,
                  const std::function<bool(const std::vector<ipfix::Record>&)>& pred,
                  std::chrono::milliseconds timeout) const;
    tcp::ProbeStats probe_stats() const { return agent_->probe_stats(); }

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

    LockedSink sink_;
    std::unique_ptr<daemon::Agent> agent_;
    std::atomic<bool> stop_{false};
    std::thread thread_;
};

}  // namespace fc::test
