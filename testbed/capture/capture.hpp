// Live capture with libpcap inside a named network namespace: nanosecond
// timestamps, a large kernel buffer, immediate delivery, and the kernel's drop
// counters at the end (a capture with drops is incomplete, and so is its analysis).
#pragma once

#include <csignal>
#include <cstdint>
#include <functional>
#include <string>

namespace fc::capture {

struct CaptureOptions {
    std::string netns;  // /var/run/netns/NAME; empty = the current namespace
    std::string iface;
    std::string out;  // FILE.pcap; FILE.pcap.stats.json is written next to it
    int snaplen = 128;
    std::string filter = "tcp";
    int buffer_mib = 32;
};

struct CaptureResult {
    uint64_t packets_written = 0;
    uint64_t ps_recv = 0, ps_drop = 0, ps_ifdrop = 0;
    int64_t t_start_ns = 0, t_end_ns = 0;
    uint64_t drops() const { return ps_drop + ps_ifdrop; }
};

// Captures until `stop` becomes non-zero (checked at least every 100 ms);
// calls `on_active` once the handle is capturing. Throws CaptureError.
CaptureResult run_capture(const CaptureOptions& o, const volatile std::sig_atomic_t& stop,
                          const std::function<void()>& on_active);

// FILE.pcap.stats.json: options and counters of a finished capture.
void write_stats_sidecar(const CaptureOptions& o, const CaptureResult& r);
// The drop count (ps_drop + ps_ifdrop) a sidecar records; throws CaptureError if unreadable.
uint64_t read_sidecar_drops(const std::string& sidecar_path);

}  // namespace fc::capture
