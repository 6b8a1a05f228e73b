// What the meters export and what ground truth says, with their CSV forms.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <vector>

#include "latency/flow_key.hpp"

namespace flowcorder::latency {

// IANA flowEndReason values (IPFIX element 136).
enum class EndReason : uint8_t {
    IdleTimeout = 1,
    ActiveTimeout = 2,
    EndOfFlow = 3,
    ForcedEnd = 4,
    LackOfResources = 5,  // evicted from a full cache
};

// One NetFlow record: what a router keeps per flow.
struct FlowRecord {
    FlowKey key;
    int64_t first_ns = 0;  // time the first packet was observed
    int64_t last_ns = 0;   // time the last packet was observed
    uint64_t packets = 0;
    uint64_t bytes = 0;  // IPv4 total lengths
    EndReason end_reason = EndReason::ForcedEnd;

    bool operator==(const FlowRecord&) const = default;
};

// One packet seen at the upstream observation point; t_b_ns is when the same
// packet passed the downstream point, or -1 if it never did (dropped).
struct PacketTruth {
    FlowKey key;
    uint16_t ip_id = 0;
    uint16_t ip_length = 0;
    int64_t t_a_ns = 0;
    int64_t t_b_ns = -1;

    bool delivered() const { return t_b_ns >= 0; }
};

// CSV with a header line; readers check the header and throw
// std::runtime_error naming the line on anything malformed.
void write_records_csv(std::ostream& out, const std::vector<FlowRecord>& records);
std::vector<FlowRecord> read_records_csv(std::istream& in);
void write_packets_csv(std::ostream& out, const std::vector<PacketTruth>& packets);
std::vector<PacketTruth> read_packets_csv(std::istream& in);

}  // namespace flowcorder::latency
