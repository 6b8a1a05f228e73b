// The per-packet decisions of sch_netem's enqueue path, in user space.
//
// One Impairer per direction. enqueue() is netem_enqueue(): duplicate?, loss
// (random with correlation, Gilbert-Elliott, 4-state), corrupt, queue limit,
// then reorder-or-delay (tabledist with netem's tables) and rate (serialisation
// after the last queued packet). The engine keeps the queue ordered by
// time_to_send, so jitter reorders packets exactly as netem's tfifo does.
//
// Randomness: a seeded L'Ecuyer LFSR113 (the generator behind the kernel's
// prandom_u32_state), so the same seed and the same packet sequence give the
// same decisions. Unlike netem, the corrupted byte/bit is drawn from the same
// seeded generator too (netem uses an unseeded get_random_u32_below()).
#pragma once

#include <cstdint>
#include <limits>
#include <memory>

#include "spec.hpp"

namespace fc::impair {

class Prng {
  public:
    explicit Prng(uint64_t seed);
    uint32_t next();

  private:
    uint32_t s1_, s2_, s3_, s4_;
};

// netem's get_crandom(): next = (rand * (2^32 - rho) + last * rho) >> 32.
struct CorrelatedRandom {
    uint32_t rho = 0;
    uint32_t last = 0;
    uint32_t get(Prng& prng);
};

// netem's tabledist(): mu + sigma * table[rnd] / NETEM_DIST_SCALE, or uniform
// in [mu - sigma, mu + sigma) without a table.
int64_t tabledist(int64_t mu, int64_t sigma, CorrelatedRandom& cor, Prng& prng,
                  const std::vector<int16_t>* table);

enum class Reason : uint8_t {
    none = 0,
    loss_random = 1,
    loss_gemodel = 2,
    loss_state = 3,
    limit = 4,        // netem queue limit (PACKETS) reached
    rx_overflow = 5,  // the kernel ring was full: aggregate record, count = packets
    tx_error = 6,     // the send failed
    tx_dropped = 7,   // the veth peer dropped what we sent (aggregate, from device stats)
    shutdown = 8,     // still queued when the engine stopped
    too_big = 9,      // truncated by the ring (frame larger than the ring's frame)
};
const char* reason_name(Reason r);

enum Flags : uint8_t {
    flag_duplicate = 1,       // this is netem's clone of the packet
    flag_reordered = 2,       // sent at once by "reorder" (jumped the queue)
    flag_corrupted = 4,       // one bit flipped
    flag_loss_cancelled = 8,  // drawn lost and duplicated: netem sends it once
    flag_rate_queued = 16,    // waited behind the previous packet's serialisation
};

struct Verdict {
    bool forward = false;
    Reason reason = Reason::none;
    uint8_t flags = 0;
    int64_t time_to_send = 0;  // ns, same clock as `now`
    uint32_t corrupt_bit = 0;  // bit index within the L3 packet, when flag_corrupted
};

struct EnqueueResult {
    int n = 0;
    Verdict v[2];  // the duplicate (if any) first, as netem enqueues it first
};

class Impairer {
  public:
    Impairer(std::shared_ptr<const Spec> spec, uint64_t seed);

    // Replace the specification mid-run. The generator continues; the loss
    // state machine restarts when the loss model changes, as on "tc qdisc change".
    void set_spec(std::shared_ptr<const Spec> spec);
    const Spec& spec() const { return *spec_; }

    // netem_enqueue for one packet of `frame_len` bytes (L2, as qdisc_pkt_len)
    // whose L3 part is `l3_len` bytes (the bytes corruption may flip; 0: none,
    // as for a frame that is not IP), arriving at `now` (ns). `qlen` packets
    // are queued and the latest time_to_send among them is `last_tts`
    // (ignored when qlen == 0).
    EnqueueResult enqueue(int64_t now, uint32_t frame_len, uint32_t l3_len, size_t qlen,
                          int64_t last_tts);

    // The serialisation time of a packet at the configured rate.
    int64_t packet_time_ns(uint32_t frame_len) const;

  private:
    Reason loss_event();
    bool loss_gilb_ell();
    bool loss_4state();
    void one(int64_t now, uint32_t frame_len, uint32_t l3_len, bool dup_allowed, bool is_dup,
             size_t& qlen, int64_t& last_tts, EnqueueResult& out);

    std::shared_ptr<const Spec> spec_;
    Prng prng_;
    CorrelatedRandom delay_cor_, loss_cor_, dup_cor_, reorder_cor_, corrupt_cor_;
    uint32_t counter_ = 0;  // packets since the last reorder (netem's q->counter)
    uint8_t clg_state_ = 1;
};

}  // namespace fc::impair
