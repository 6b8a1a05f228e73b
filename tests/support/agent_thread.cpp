#include "agent_thread.hpp"

namespace fc::test {

AgentThread::AgentThread(uint32_t netns_inode, bool dns, bool mptcp) {
    tcp::ProbeOptions opts;
    opts.netns_inode = netns_inode;
    opts.mptcp = mptcp;
    probes_ = std::make_unique<tcp::TcpProbes>(
        opts, [this](const fc_tcp_event& e) { profiler_.on_event(e); },
        [this](const fc_mptcp_event& e) { mptcp_profiler_.on_event(e); });
    if (dns) {
        dns_profiler_ = std::make_unique<dns::DnsProfiler>(clock_, sink_);
        dns::DnsProbeOptions d;
        d.netns_inode = netns_inode;
        dns_probes_ = std::make_unique<dns::DnsProbes>(
            d, [this](const fc_dns_lookup_event& e) { dns_profiler_->on_lookup(e); },
            [this](const fc_dns_packet_event& e) { dns_profiler_->on_packet(e); });
    }
    thread_ = std::thread([this] {
        while (!stop_) {
            probes_->poll(20);
            if (dns_probes_) dns_probes_->poll();
        }
        probes_->poll(0);
        if (dns_probes_) dns_probes_->poll();
    });
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
