// What every profile carries, whatever the protocol: identity, the FSM
// transition, the window. Protocol plugins add their KPI fields.
#pragma once

#include <cstdint>

#include "fsm.hpp"
#include "ipfix/record.hpp"

namespace fc {

// Values of fcCloseCause (see agent/ipfix/fields.def).
enum class CloseCause : uint8_t {
    NONE = 0,
    FIN = 1,
    RESET_SENT = 2,
    RESET_RECEIVED = 3,
    TIMEOUT = 4,
    REFUSED = 5,
    UNREACHABLE = 6,
    LOCAL_ABORT = 7,
    LOST_TRACK = 8,
    OTHER_ERROR = 9,
};

// IANA flowEndReason values (IPFIX registry).
enum class FlowEndReason : uint8_t {
    ACTIVE_TIMEOUT = 0x02,  // our use: the window closed on a non-terminal transition
    END_OF_FLOW = 0x03,
    FORCED_END = 0x04,
    LACK_OF_RESOURCES = 0x05,
};

struct Transition {
    State from;
    State to;
    uint64_t window_start_ns;  // wall clock
    uint64_t window_end_ns;
    uint32_t profile_seq;
};

// Fills the FSM and window fields of a profile record.
void fill_transition(const Transition& t, ipfix::Record& r);

// Mean and population variance over a window, from cumulative sums taken at
// both ends of it. Integer results, rounded to nearest.
struct MeanVar {
    uint64_t samples = 0;
    uint64_t mean = 0;
    uint64_t variance = 0;
};
MeanVar window_mean_var(uint64_t d_samples, uint64_t d_sum, uint64_t d_sumsq);

// A counter's change over a window. Kernel u32 counters wrap: the difference
// modulo 2^32 is the window's count; a u64 counter that went back gives 0.
inline uint64_t delta32(uint32_t a, uint32_t b) { return static_cast<uint32_t>(b - a); }
inline uint64_t delta64(uint64_t a, uint64_t b) { return b >= a ? b - a : 0; }

}  // namespace fc
