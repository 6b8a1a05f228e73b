#include "clock.hpp"

#include <time.h>

namespace fc {

namespace {
uint64_t read_ns(clockid_t id) {
    timespec ts{};
    clock_gettime(id, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ull + static_cast<uint64_t>(ts.tv_nsec);
}
}  // namespace

uint64_t WallClock::now_ns() { return read_ns(CLOCK_REALTIME); }
uint64_t WallClock::mono_now_ns() { return read_ns(CLOCK_MONOTONIC); }

WallClock::WallClock() {
    // Keep the pair read closest together: the offset error is at most that gap.
    uint64_t best_gap = ~0ull;
    for (int i = 0; i < 5; ++i) {
        uint64_t m1 = mono_now_ns();
        uint64_t r = now_ns();
        uint64_t m2 = mono_now_ns();
        if (m2 - m1 < best_gap) {
            best_gap = m2 - m1;
            offset_ns_ = r - (m1 + (m2 - m1) / 2);
        }
    }
}

}  // namespace fc
