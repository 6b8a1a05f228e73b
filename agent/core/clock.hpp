// Converts the probes' CLOCK_MONOTONIC timestamps to wall-clock nanoseconds.
#pragma once

#include <cstdint>

namespace fc {

class WallClock {
  public:
    WallClock();  // measures the REALTIME - MONOTONIC offset once
    uint64_t from_monotonic(uint64_t mono_ns) const { return mono_ns + offset_ns_; }
    static uint64_t now_ns();       // CLOCK_REALTIME
    static uint64_t mono_now_ns();  // CLOCK_MONOTONIC

  private:
    uint64_t offset_ns_ = 0;
};

}  // namespace fc
