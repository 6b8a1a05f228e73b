// Packet I/O on the link's inner veth ends (AF_PACKET, in the link namespace).
//
// RX paths (chosen with --io, measured by `make bench`; numbers in README.md):
//  - ring:    PACKET_MMAP TPACKET_V2 RX ring. Per-frame status words: the
//             thread sees a frame as soon as the kernel wrote it, with the
//             kernel's receive timestamp, and a poll() wakes per packet when
//             idle. The default: best throughput and delay accuracy measured.
//  - ring-v3: TPACKET_V3 block ring. Hands whole blocks to user space, which
//             only happens when a block fills or its retire timer fires
//             (>= 1 ms, jiffies based): at low rates every packet waits up
//             to that timer, which ruins delay accuracy (see the bench).
//  - mmsg:    no ring: recvmmsg() in batches of 64 with SO_TIMESTAMPNS. One
//             copy more and a syscall per batch.
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
