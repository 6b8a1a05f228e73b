#pragma once
// The smallest mean RTT the kernel's once-per-round sampling can report,
// given a capture of one direction.
//
// tcp_rtt_estimator() calls the sockops RTT callback on the first
// measurement and then on the first ACK that takes snd_una past rtt_seq,
// setting rtt_seq = snd_nxt. It reads snd_nxt when it processes the ACK,
// which can be well after the capture saw it: an ACK waits in the socket's
// backlog while the application holds the socket lock, and meanwhile the
// application sends. So the capture cannot tell which ACKs start the
// kernel's rounds. It can tell which sequences of ACKs are possible: after
// a sampled ACK, the next sampled one acks past the snd_nxt the capture had
// seen when the sampled ACK arrived (rtt_seq is never below that), and
// every sample is at least the capture's time from the earliest newly acked
// segment's first transmission to the ACK (the kernel stamps the send
// before the interface and processes the ACK after it).
//
// RoundBound collects the candidate ACKs (every one advancing snd_una) and
// finds, for each possible number of samples k, the smallest sum of k
// samples over all such sequences (a dynamic programme, linear per k).
// k above the longest possible sequence is impossible.
#include <cstdint>
#include <vector>

namespace fc::capture {

class RoundBound {
  public:
    // One ACK that advanced snd_una to `ack`, arriving when the highest
    // sequence number sent was `snd_nxt`; `lower_us` bounds the kernel's
    // sample from below (0 when the ACK covers resent data: the kernel then
    // times it from SACK blocks or timestamps, or not at all).
    void add(int64_t ack, int64_t snd_nxt, double lower_us);

    // No sequence may start before an ACK passing `seq` (the first
    // sample's constraint when an earlier, unseen one was taken).
    void start_after(int64_t seq) { start_after_ = seq; }

    // min_sums()[k - 1]: the smallest sum (us) of k samples any possible
    // sequence of rounds gives; its size is the longest possible sequence.
    std::vector<double> min_sums() const;

  private:
    struct Candidate {
        int64_t ack, snd_nxt;
        double lower_us;
    };
    std::vector<Candidate> cands_;
    int64_t start_after_ = INT64_MIN;
};

}  // namespace fc::capture
