// Loads and attaches the TCP probes (probes/tcp_monitor.bpf.c) and reads
// their ring buffer. One object owns every BPF object, link and fd it makes;
// destroying it detaches everything.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "tcp_monitor.h"

struct tcp_monitor_bpf;
struct ring_buffer;

namespace fc::tcp {

// Which of each tracepoint's two programs to attach (tcp_monitor.bpf.c,
// "Nested runs"). Only tests choose second_only: it stands for a kernel
// that skipped every run of the first programs, and shows that the second
// ones alone miss nothing.
enum class TracepointPrograms { both, second_only };

struct ProbeOptions {
    uint32_t netns_inode = 0;  // 0: every network namespace
    uint32_t max_connections = 65536;
    uint32_t ringbuf_bytes = 1u << 22;
    bool ooo_distance = true;  // sockops header callback on slow-path segments
    std::string cgroup_path;   // empty: the cgroup-v2 mount point
    // The overhead evaluation's naive variant: also read the state on every
    // received segment (raw tracepoint tcp_probe). Costs; never the default.
    bool naive_per_segment = false;
    // Wake the agent only when the ring is 1/8 full; it drains the ring on
    // every poll period (the caller's timeout) regardless.
    bool batch_wakeups = true;
    // agent --mptcp: also MPTCP connections (their own events) and subflow
    // marking on the TCP events of their subflows.
    bool mptcp = false;
    TracepointPrograms tracepoint_programs = TracepointPrograms::both;
};

struct ProbeStats {
    std::array<uint64_t, FC_STAT_MAX> counters{};
    uint64_t get(fc_stat s) const { return counters[s]; }
    // Invocations of the probes' programs the kernel skipped because the
    // same program was already running on that CPU (a tracepoint firing in
    // a softirq that interrupted it): events lost without a trace in the
    // ring buffer, read from bpf_prog_info.recursion_misses.
    uint64_t recursion_misses = 0;
};

// What the running kernel let us attach; printed at start-up.
struct ProbeCapabilities {
    bool duplicate_detection = false;  // kfree_skb carries the receiving socket
    bool rtt_samples = false;          // RTT_CB carries each sample, not only srtt
    std::string cgroup_path;
    bool mptcp = false;  // MPTCP connections and subflows tracked
};

class TcpProbes {
  public:
    using EventHandler = std::function<void(const fc_tcp_event&)>;
    using MptcpHandler = std::function<void(const fc_mptcp_event&)>;

    // Throws std::runtime_error naming the kernel feature that is missing.
    // on_mptcp receives the MPTCP connections' events (opts.mptcp).
    TcpProbes(const ProbeOptions& opts, EventHandler on_event, MptcpHandler on_mptcp = {});
    ~TcpProbes();
    TcpProbes(const TcpProbes&) = delete;
    TcpProbes& operator=(const TcpProbes&) = delete;

    // Waits up to timeout_ms for events and delivers them. Returns events read.
    int poll(int timeout_ms);
    ProbeStats stats() const;
    bool kernel_tracks(uint64_t skaddr) const;
    const ProbeCapabilities& capabilities() const { return caps_; }

  private:
    static int on_sample(void* ctx, void* data, size_t size);

    struct SkelDeleter {
        void operator()(tcp_monitor_bpf* s) const;
    };
    struct RingDeleter {
        void operator()(ring_buffer* rb) const;
    };
    std::unique_ptr<tcp_monitor_bpf, SkelDeleter> skel_;
    std::unique_ptr<ring_buffer, RingDeleter> ring_;
    EventHandler on_event_;
    MptcpHandler on_mptcp_;
    ProbeCapabilities caps_;
};

// Resolves --netns: a name under /var/run/netns, a path (/proc/PID/ns/net),
// or a number (the inode itself). Throws with a clear message.
uint32_t resolve_netns_inode(const std::string& spec);

// Where cgroup v2 is mounted (from /proc/mounts); throws if nowhere.
std::string find_cgroup2_mount();

}  // namespace fc::tcp
