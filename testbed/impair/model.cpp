#include "model.hpp"

#include <algorithm>

namespace fc::impair {
namespace {

constexpr int64_t kDistScale = 8192;  // NETEM_DIST_SCALE

uint64_t splitmix64(uint64_t& x) {
    uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

// Gilbert-Elliott states, and the 4-state model's (GI) states.
enum : uint8_t { good_state = 1, bad_state = 2 };
enum : uint8_t { tx_in_gap = 1, tx_in_burst = 2, lost_in_gap = 3, lost_in_burst = 4 };

}  // namespace

Prng::Prng(uint64_t seed) {
    uint64_t x = seed;
    // LFSR113 needs s1 > 1, s2 > 7, s3 > 15, s4 > 127.
    auto draw = [&](uint32_t min) {
        uint32_t v;
        do v = static_cast<uint32_t>(splitmix64(x));
        while (v <= min);
        return v;
    };
    s1_ = draw(1);
    s2_ = draw(7);
    s3_ = draw(15);
    s4_ = draw(127);
}

uint32_t Prng::next() {
    auto taus = [](uint32_t s, unsigned a, unsigned b, uint32_t c, unsigned d) {
        return ((s & c) << d) ^ (((s << a) ^ s) >> b);
    };
    s1_ = taus(s1_, 6U, 13U, 4294967294U, 18U);
    s2_ = taus(s2_, 2U, 27U, 4294967288U, 2U);
    s3_ = taus(s3_, 13U, 21U, 4294967280U, 7U);
    s4_ = taus(s4_, 3U, 12U, 4294967168U, 13U);
    return s1_ ^ s2_ ^ s3_ ^ s4_;
}

uint32_t CorrelatedRandom::get(Prng& prng) {
    const uint64_t value = prng.next();
    if (rho == 0) return static_cast<uint32_t>(value);
    const uint64_t r = static_cast<uint64_t>(rho) + 1;
    const uint32_t answer =
        static_cast<uint32_t>((value * ((1ULL << 32) - r) + static_cast<uint64_t>(last) * r) >> 32);
    last = answer;
    return answer;
}

int64_t tabledist(int64_t mu, int64_t sigma, CorrelatedRandom& cor, Prng& prng,
                  const std::vector<int16_t>* table) {
    if (sigma == 0) return mu;
    const uint32_t rnd = cor.get(prng);
    if (table == nullptr || table->empty())
        return static_cast<int64_t>(rnd % static_cast<uint64_t>(2 * sigma)) + mu - sigma;
    const int64_t t = (*table)[rnd % table->size()];
    int64_t x = (sigma % kDistScale) * t;
    x += x >= 0 ? kDistScale / 2 : -kDistScale / 2;
    return x / kDistScale + (sigma / kDistScale) * t + mu;
}

const char* reason_name(Reason r) {
    switch (r) {
        case Reason::none:
            return "";
        case Reason::loss_random:
            return "loss_random";
        case Reason::loss_gemodel:
            return "loss_gemodel";
        case Reason::loss_state:
            return "loss_state";
        case Reason::limit:
            return "limit";
        case Reason::rx_overflow:
            return "rx_overflow";
        case Reason::tx_error:
            return "tx_error";
        case Reason::tx_dropped:
            return "tx_dropped";
        case Reason::shutdown:
            return "shutdown";
        case Reason::too_big:
            return "too_big";
    }
    return "?";
}

Impairer::Impairer(std::shared_ptr<const Spec> spec, uint64_t seed) : prng_(seed) {
    set_spec(std::move(spec));
}

void Impairer::set_spec(std::shared_ptr<const Spec> spec) {
    const bool model_changed = !spec_ || spec_->loss_model != spec->loss_model;
    spec_ = std::move(spec);
    auto init = [&](CorrelatedRandom& c, uint32_t rho) {
        if (c.rho != rho || model_changed) c.last = prng_.next();
        c.rho = rho;
    };
    init(delay_cor_, spec_->delay_corr);
    init(loss_cor_, spec_->loss_corr);
    init(dup_cor_, spec_->dup_corr);
    init(reorder_cor_, spec_->reorder_corr);
    init(corrupt_cor_, spec_->corrupt_corr);
    if (model_changed) clg_state_ = 1;  // TX_IN_GAP_PERIOD / GOOD_STATE
}

int64_t Impairer::packet_time_ns(uint32_t frame_len) const {
    if (spec_->rate_bytes_per_s == 0) return 0;
    const int64_t len = std::max<int64_t>(0, int64_t{frame_len} + spec_->packet_overhead);
    return static_cast<int64_t>(static_cast<unsigned __int128>(len) * 1000000000ULL /
                                spec_->rate_bytes_per_s);
}

bool Impairer::loss_gilb_ell() {
    const Spec& s = *spec_;
    switch (clg_state_) {
        case good_state:
            if (prng_.next() < s.ge_p) clg_state_ = bad_state;
            if (prng_.next() < s.ge_k1) return true;
            break;
        case bad_state:
            if (prng_.next() < s.ge_r) clg_state_ = good_state;
            if (prng_.next() > s.ge_h) return true;
            break;
    }
    return false;
}

bool Impairer::loss_4state() {
    const Spec& s = *spec_;
    // a1 = p13, a2 = p31, a3 = p32, a4 = p14, a5 = p23 (sch_netem's get_loss_clg).
    const uint64_t a1 = s.p13, a2 = s.p31, a3 = s.p32, a4 = s.p14, a5 = s.p23;
    const uint64_t rnd = prng_.next();
    switch (clg_state_) {
        case tx_in_gap:
            if (rnd < a4) {
                clg_state_ = lost_in_gap;
                return true;
            } else if (a4 < rnd && rnd < a1 + a4) {
                clg_state_ = lost_in_burst;
                return true;
            } else if (a1 + a4 < rnd) {
                clg_state_ = tx_in_gap;
            }
            break;
        case tx_in_burst:
            if (rnd < a5) {
                clg_state_ = lost_in_burst;
                return true;
            }
            clg_state_ = tx_in_burst;
            break;
        case lost_in_burst:
            if (rnd < a3) {
                clg_state_ = tx_in_burst;
            } else if (a3 < rnd && rnd < a2 + a3) {
                clg_state_ = tx_in_gap;
            } else if (a2 + a3 < rnd) {
                clg_state_ = lost_in_burst;
                return true;
            }
            break;
        case lost_in_gap:
            clg_state_ = tx_in_gap;
            break;
    }
    return false;
}

Reason Impairer::loss_event() {
    const Spec& s = *spec_;
    switch (s.loss_model) {
        case LossModel::none:
            return Reason::none;
        case LossModel::random:
            return s.loss && s.loss >= loss_cor_.get(prng_) ? Reason::loss_random : Reason::none;
        case LossModel::gemodel:
            return loss_gilb_ell() ? Reason::loss_gemodel : Reason::none;
        case LossModel::state:
            return loss_4state() ? Reason::loss_state : Reason::none;
    }
    return Reason::none;
}

void Impairer::one(int64_t now, uint32_t frame_len, uint32_t l3_len, bool dup_allowed, bool is_dup,
                   size_t& qlen, int64_t& last_tts, EnqueueResult& out) {
    const Spec& s = *spec_;
    const uint8_t base = is_dup ? flag_duplicate : 0;
    int count = 1;
    if (dup_allowed && s.duplicate && s.duplicate >= dup_cor_.get(prng_)) ++count;
    const Reason lost = loss_event();
    if (lost != Reason::none) --count;
    if (count == 0) {
        out.v[out.n++] = Verdict{false, lost, base, 0, 0};
        return;
    }
    Verdict v{true, Reason::none, base, 0, 0};
    if (lost != Reason::none) v.flags |= flag_loss_cancelled;  // count went 2 -> 1
    const bool clone = count > 1;

    if (s.corrupt && s.corrupt >= corrupt_cor_.get(prng_) && l3_len > 0) {
        const uint32_t byte = prng_.next() % l3_len;
        const uint32_t bit = prng_.next() % 8;
        v.flags |= flag_corrupted;
        v.corrupt_bit = byte * 8 + bit;
    }
    if (qlen >= s.limit) {
        v.forward = false;
        v.reason = Reason::limit;
        out.v[out.n++] = v;
        if (clone) out.v[out.n++] = Verdict{false, Reason::limit, flag_duplicate, 0, 0};
        return;
    }
    // netem re-enqueues the clone at the root before the original (without
    // duplicating it again); it goes through loss, corruption and delay itself.
    if (clone) one(now, frame_len, l3_len, false, true, qlen, last_tts, out);

    if (s.gap == 0 || counter_ < s.gap - 1 || s.reorder < reorder_cor_.get(prng_)) {
        int64_t delay = tabledist(s.latency_ns, s.jitter_ns, delay_cor_, prng_,
                                  s.dist_table.empty() ? nullptr : &s.dist_table);
        int64_t t0 = now;
        if (s.rate_bytes_per_s) {
            if (qlen > 0) {
                // The last queued packet's departure is the reference point.
                delay -= last_tts - now;
                delay = std::max<int64_t>(0, delay);
                if (last_tts > now) v.flags |= flag_rate_queued;
                t0 = last_tts;
            }
            delay += packet_time_ns(frame_len);
        }
        v.time_to_send = t0 + delay;
        ++counter_;
    } else {
        v.time_to_send = now;  // to the head of the queue
        v.flags |= flag_reordered;
        counter_ = 0;
    }
    if (qlen == 0 || v.time_to_send > last_tts) last_tts = v.time_to_send;
    ++qlen;
    out.v[out.n++] = v;
}

EnqueueResult Impairer::enqueue(int64_t now, uint32_t frame_len, uint32_t l3_len, size_t qlen,
                                int64_t last_tts) {
    EnqueueResult out;
    one(now, frame_len, l3_len, true, false, qlen, last_tts, out);
    return out;
}

}  // namespace fc::impair
