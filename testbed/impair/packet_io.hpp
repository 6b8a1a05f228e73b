// Packet I/O on the link's inner veth ends (AF_PACKET, in the link namespace).
//
// RX paths (chosen with --io, measured by `make bench`; numbers in README.md):
//  - mmsg:    recvmmsg() in batches of 64 with SO_TIMESTAMPNS. The default,
//             chosen on delay accuracy: lowest p99 delay error in all three
//             benchmark runs (900 / 112 / 19 us, p50 ~4 us; the large values
//             under foreign load on the shared 2-core VM), clean TCP goodput
//             3162 / 1876 / 1803 Mbit/s. Its 128 KiB of buffers stay in cache.
//  - ring:    PACKET_MMAP TPACKET_V2 RX ring (per-frame status words, one
//             copy less): goodput 1402 / 1464 / 2480 Mbit/s, p99 4494 / 5230
//             / 84 us, p50 4-13 us. Each frame lands in a new slot of a
//             16 MiB ring: cache misses on both sides.
//  - ring-v3: TPACKET_V3 block ring: 2369 / 1768 / 2705 Mbit/s, p99 18 /
//             4280 / 3846 us. Blocks reach user space only when full or
//             when their retire timer (>= 1 ms, jiffies) fires. The emulated
//             delay is computed from the kernel's receive timestamp, so long
//             delays hide that latency; short ones cannot.
// Throughput differences between paths are within the run-to-run spread.
// Not taken: AF_XDP on veth runs in generic (copy) mode, needs an XDP program
// and a UMEM per port and still copies; NFQUEUE needs the kernel to route the
// traffic and adds a netlink round trip per verdict batch.
// TX: sendmmsg() on a second AF_PACKET socket bound to the other inner end,
// with PACKET_QDISC_BYPASS (veth has no queue to speak of; we are the qdisc).
// PACKET_IGNORE_OUTGOING keeps our own transmissions off the RX path.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace fc::impair {

enum class RxKind { ring, ring_v3, mmsg };
RxKind rx_kind_from_string(const std::string& s);  // throws std::invalid_argument
const char* rx_kind_name(RxKind k);

struct RxFrame {
    const uint8_t* data;
    uint32_t snaplen;   // bytes available at data
    uint32_t wire_len;  // bytes on the wire (> snaplen: truncated)
    int64_t ts_ns;      // CLOCK_REALTIME, kernel receive time
    uint16_t vlan_tci;  // a VLAN tag the kernel stripped (valid if has_vlan)
    uint16_t vlan_tpid;
    bool has_vlan;
};

class RxPort {
  public:
    virtual ~RxPort();
    // Opens an RX port on `ifindex` (in the calling thread's network namespace).
    static std::unique_ptr<RxPort> open(RxKind kind, int ifindex, size_t ring_frames);
    int fd() const { return fd_; }
    // Hands every frame available right now (up to about `max`) to `f`;
    // never blocks. Returns the number handed over.
    virtual size_t poll_batch(const std::function<void(const RxFrame&)>& f, size_t max) = 0;
    // Frames the kernel dropped because the ring/socket was full, since the last call.
    uint64_t take_drops();

  protected:
    int fd_ = -1;
};

class TxPort {
  public:
    explicit TxPort(int ifindex);
    ~TxPort();
    TxPort(const TxPort&) = delete;
    TxPort& operator=(const TxPort&) = delete;
    // Sends `n` frames; returns how many the kernel took, in order (the rest failed).
    size_t send(const uint8_t* const* frames, const uint32_t* lens, size_t n, int* err);

  private:
    int fd_ = -1;
};

}  // namespace fc::impair
