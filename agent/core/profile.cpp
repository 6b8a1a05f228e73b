#include "profile.hpp"

namespace fc {

using ipfix::FieldKey;

void fill_transition(const Transition& t, ipfix::Record& r) {
    r.set(FieldKey::START_STATE, static_cast<uint64_t>(t.from));
    r.set(FieldKey::END_STATE, static_cast<uint64_t>(t.to));
    r.set(FieldKey::WINDOW_START_NS, t.window_start_ns);
    r.set(FieldKey::WINDOW_END_NS, t.window_end_ns);
    r.set(FieldKey::WINDOW_START_MS, t.window_start_ns / 1'000'000);
    r.set(FieldKey::WINDOW_END_MS, t.window_end_ns / 1'000'000);
    r.set(FieldKey::PROFILE_SEQ, t.profile_seq);
    FlowEndReason reason = FlowEndReason::ACTIVE_TIMEOUT;
    if (t.to == State::DESYNC)
        reason = FlowEndReason::FORCED_END;
    else if (is_terminal(t.to))
        reason = FlowEndReason::END_OF_FLOW;
    r.set(FieldKey::FLOW_END_REASON, static_cast<uint64_t>(reason));
}

MeanVar window_mean_var(uint64_t n, uint64_t sum, uint64_t sumsq) {
    MeanVar mv;
    mv.samples = n;
    if (n == 0) return mv;
    mv.mean = (sum + n / 2) / n;
    // n^2 * var = n * sumsq - sum^2, exact in 128 bits.
    unsigned __int128 nn = static_cast<unsigned __int128>(n) * n;
    unsigned __int128 a = static_cast<unsigned __int128>(n) * sumsq;
    unsigned __int128 b = static_cast<unsigned __int128>(sum) * sum;
    mv.variance = a > b ? static_cast<uint64_t>((a - b + nn / 2) / nn) : 0;
    return mv;
}

}  // namespace fc
