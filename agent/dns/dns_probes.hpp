// Loads and attaches the DNS probes (probes/dns_monitor.bpf.c): uprobes on
// the C library's getaddrinfo, cgroup_skb programs on a cgroup-v2
// directory. Owns every BPF object, link and fd it makes.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "dns_monitor.h"

struct dns_monitor_bpf;
struct ring_buffer;
struct bpf_link;

namespace fc::dns {

struct DnsProbeOptions {
    uint32_t netns_inode = 0;  // 0: every network namespace
    std::string cgroup_path;   // empty: the cgroup-v2 mount point
    std::string libc_path;     // empty: the C library this agent runs on
};

struct DnsProbeStats {
    std::array<uint64_t, FC_DNS_STAT_MAX> counters{};
    uint64_t get(fc_dns_stat s) const { return counters[s]; }
};

class DnsProbes {
  public:
    using LookupHandler = std::function<void(const fc_dns_lookup_event&)>;
    using PacketHandler = std::function<void(const fc_dns_packet_event&)>;

    // Throws std::runtime_error naming what could not be loaded or attached.
    DnsProbes(const DnsProbeOptions& o, LookupHandler on_lookup, PacketHandler on_packet);
    ~DnsProbes();
    DnsProbes(const DnsProbes&) = delete;
    DnsProbes& operator=(const DnsProbes&) = delete;

    // Delivers the events waiting; never blocks (the TCP ring's poll waits).
    int poll();
    DnsProbeStats stats() const;
    const std::string& libc_path() const { return libc_; }
    const std::string& cgroup_path() const { return cgroup_; }

  private:
    static int on_sample(void* ctx, void* data, size_t size);

    struct SkelDeleter {
        void operator()(dns_monitor_bpf* s) const;
    };
    struct RingDeleter {
        void operator()(ring_buffer* rb) const;
    };
    std::unique_ptr<dns_monitor_bpf, SkelDeleter> skel_;
    std::unique_ptr<ring_buffer, RingDeleter> ring_;
    LookupHandler on_lookup_;
    PacketHandler on_packet_;
    std::string libc_, cgroup_;
};

// The C library mapped into this process (from /proc/self/maps).
std::string find_own_libc();

}  // namespace fc::dns
