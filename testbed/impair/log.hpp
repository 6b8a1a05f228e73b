// The engine's per-packet ground truth: a binary file of fixed-size records
// after a fixed header, one record per decision (forwarded with its delay,
// dropped and why, duplicate copies, reordered, corrupted) plus aggregate
// records for packets the engine never saw (kernel ring overflow) or that the
// veth peer dropped after us. `flowcorder link log-csv FILE` turns it into CSV.
#pragma once

#include <cstdint>
#include <cstdio>
#include <mutex>
#include <string>
#include <vector>

namespace fc::impair {

enum class Action : uint8_t { forwarded = 0, dropped = 1 };

struct LogHeader {
    char magic[8];  // "FCIMPLG1"
    uint32_t version;
    uint32_t record_size;
    uint64_t seed;
    uint64_t start_realtime_ns;
    char name[32];  // link name
};
static_assert(sizeof(LogHeader) == 64);

struct LogRecord {
    uint64_t t_in_ns;   // CLOCK_REALTIME, kernel receive timestamp of the frame
    uint64_t t_out_ns;  // CLOCK_REALTIME, handed to the outgoing device; 0 when dropped
    int64_t delay_ns;   // scheduled time_to_send - t_in (the emulated one-way delay)
    uint64_t seq;       // per-direction arrival number (a duplicate shares its original's)
    uint32_t count;     // packets this record stands for (1, or N for aggregates)
    uint32_t corrupt_bit;
    uint16_t frame_len;
    uint8_t dir;  // 0 = a->b, 1 = b->a
    uint8_t action;
    uint8_t reason;  // fc::impair::Reason
    uint8_t flags;   // fc::impair::Flags
    uint8_t ip_version;
    uint8_t proto;
    uint8_t src[16];
    uint8_t dst[16];
    uint16_t sport, dport;
    uint32_t tcp_seq, tcp_ack;
    uint16_t payload_len;  // TCP/UDP payload bytes
    uint8_t tcp_flags;
    uint8_t has_dns_id;
    uint16_t dns_id;
    uint16_t ethertype;
    uint32_t reserved;
};
static_assert(sizeof(LogRecord) == 104);

// Whether the receiver throws away a packet the engine corrupted: always,
// unless the flipped bit lies where no checksum looks, an IPv6 header's
// traffic class and flow label (bits 4..31) or hop limit (bits 56..63).
// IPv4's header checksum and the TCP and UDP checksums (pseudo-header,
// header and payload) cover every other bit.
bool lost_to_corruption(const LogRecord& r);

// Fills the packet fields of `r` from an Ethernet frame (VLAN tag skipped).
// Returns the offset of the L3 header within the frame (14 or 18).
uint32_t parse_frame(const uint8_t* frame, uint32_t len, LogRecord& r);

class LogWriter {
  public:
    LogWriter() = default;
    ~LogWriter();
    void open(const std::string& path, uint64_t seed, uint64_t start_ns, const std::string& name);
    bool enabled() const { return f_ != nullptr; }
    void write(const LogRecord* recs, size_t n);  // thread-safe
    void close();

  private:
    std::FILE* f_ = nullptr;
    std::mutex mu_;
};

// One direction's buffer in front of the shared writer.
class LogBuffer {
  public:
    explicit LogBuffer(LogWriter* w) : w_(w) { buf_.reserve(kCap); }
    void add(const LogRecord& r) {
        if (!w_ || !w_->enabled()) return;
        buf_.push_back(r);
        if (buf_.size() >= kCap) flush();
    }
    void flush() {
        if (w_ && !buf_.empty()) w_->write(buf_.data(), buf_.size());
        buf_.clear();
    }

  private:
    static constexpr size_t kCap = 2048;
    LogWriter* w_;
    std::vector<LogRecord> buf_;
};

struct LogFile {
    LogHeader header;
    std::vector<LogRecord> records;
};
LogFile read_log(const std::string& path);  // throws std::runtime_error
void write_csv(const LogFile& log, std::FILE* out);

}  // namespace fc::impair
