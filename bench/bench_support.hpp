// Inputs shared by the microbenchmarks and the ingest race: synthetic kernel
// events of a typical TCP connection life, the real profile records the
// profiler makes of them, and the IPFIX stream the project's exporter makes
// of those records, captured as datagrams for replay.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "ipfix/record.hpp"
#include "tcp_monitor.h"

namespace fc::bench {

// A connection's life as the probes report it: active open, established,
// lossy enter, lossy exit, close (FIN). The profiler makes 4 profiles of it.
inline constexpr size_t kLifeEvents = 5;
inline constexpr size_t kLifeProfiles = 4;
using Life = std::array<fc_tcp_event, kLifeEvents>;

// `index` varies addresses, ports and counters; every 4th connection is IPv6.
Life connection_life(uint64_t conn_id, uint64_t t0_mono_ns, uint32_t index);

// Moves a life to another connection id and start time, in place (cheap:
// what the profiler benchmark does between iterations).
void retarget(Life& life, uint64_t conn_id, uint64_t t0_mono_ns);

// `n` profile records made by fc::tcp::TcpProfiler from connection lives.
std::vector<ipfix::Record> profile_records(size_t n);

// An IPFIX stream as the exporter sends it over UDP, one datagram per message.
struct IpfixStream {
    std::vector<std::vector<uint8_t>> preamble;  // templates and RFC 5610 type records
    std::vector<std::vector<uint8_t>> data;      // data messages (profile records only)
    std::vector<uint32_t> data_records;          // records per data message
    uint64_t total_data_records = 0;
};

// Runs fc::ipfix::Exporter (UDP) on `recs` and captures what it sends.
// Throws std::runtime_error if anything is lost on the way.
IpfixStream capture_stream(const std::vector<ipfix::Record>& recs);

// Data records of the message (sets of registry data templates; option and
// type records excluded), from the set headers and fixed record sizes.
// Returns SIZE_MAX if the message does not parse.
size_t count_profile_records(const uint8_t* msg, size_t len);

// True when the message holds a template set, an options template set or
// RFC 5610 type records.
bool is_preamble(const uint8_t* msg, size_t len);

// Replays a stream's data messages cyclically with consistent sequence
// numbers (RFC 7011: data records sent before the message) so a collector
// sees one gap-free transport session however many cycles it gets.
class Replay {
  public:
    explicit Replay(const IpfixStream& s);
    // The next data message with its sequence number rewritten; valid until
    // the next call. `records` receives its record count.
    const std::vector<uint8_t>& next(uint32_t& records);
    // The same without copying: the next message is `hdr` (its 16-byte
    // header, sequence rewritten) followed by body[0, body_len).
    void next_parts(uint8_t hdr[16], const uint8_t*& body, size_t& body_len, uint32_t& records);
    uint64_t records_sent() const { return sent_; }

  private:
    const IpfixStream& s_;
    size_t i_ = 0;
    uint32_t seq_;
    uint64_t sent_ = 0;
    std::vector<uint8_t> buf_;
};

// Sequence number of the first data message of a stream (the records of the
// preamble counted).
uint32_t first_data_sequence(const IpfixStream& s);

}  // namespace fc::bench
