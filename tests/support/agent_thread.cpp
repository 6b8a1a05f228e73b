#include "agent_thread.hpp"

namespace fc::test {

AgentThread::AgentThread(uint32_t netns_inode, bool dns, bool mptcp,
                         tcp::TracepointPrograms programs) {
    daemon::AgentOptions o;
    o.tracepoint_programs = programs;
    o.netns_inode = netns_inode;
    o.dns = dns;
    o.mptcp = mptcp;
    o.stats_interval_s = 0;
    agent_ = std::make_unique<daemon::Agent>(o, sink_, nullptr, nullptr);
    thread_ = std::thread([this] { agent_->run(stop_); });
}

AgentThread::~AgentThread() {
    stop_ = true;
    thread_.join();
}

std::vector<ipfix::Record> AgentThread::records(const Filter& f) const {
    std::lock_guard lock(sink_.mu);
    std::vector<ipfix::Record> out;
    for (const auto& r : sink_.records)
        if (f(r)) out.push_back(r);
    return out;
}

bool AgentThread::wait_for(const Filter& f,
                           const std::function<bool(const std::vector<ipfix::Record>&)>& pred,
                           std::chrono::milliseconds timeout) const {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    do {
        if (pred(records(f))) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    } while (std::chrono::steady_clock::now() < deadline);
    return pred(records(f));
}

}  // namespace fc::test
