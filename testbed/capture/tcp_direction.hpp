// One direction of a TCP connection as a capture point sees it: the
// sender's view (segments, retransmissions, RTT samples, the kernel's RTT
// rounds) and the receiver's emulated view (rcv_nxt, duplicates, out of
// order, PAWS). Internal to fc_capture: analysis.cpp feeds it segments.
#pragma once

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <map>
#include <optional>
#include <utility>
#include <vector>

#include "capture/analysis.hpp"
#include "capture/packet.hpp"
#include "capture/round_bound.hpp"

namespace fc::capture::detail {

// Disjoint half-open ranges [start, end) of 64-bit unwrapped sequence numbers.
class RangeSet {
  public:
    bool overlaps(int64_t s, int64_t e) const {
        auto it = ranges_.upper_bound(s);
        if (it != ranges_.begin() && std::prev(it)->second > s) return true;
        return it != ranges_.end() && it->first < e;
    }
    void add(int64_t s, int64_t e) {
        auto it = ranges_.upper_bound(s);
        if (it != ranges_.begin() && std::prev(it)->second >= s) {
            --it;
            s = it->first;
            e = std::max(e, it->second);
            it = ranges_.erase(it);
        }
        while (it != ranges_.end() && it->first <= e) {
            e = std::max(e, it->second);
            it = ranges_.erase(it);
        }
        ranges_.emplace(s, e);
    }
    // Removes ranges starting at or before `upto` and returns the highest end reached.
    int64_t absorb(int64_t upto) {
        while (!ranges_.empty() && ranges_.begin()->first <= upto) {
            upto = std::max(upto, ranges_.begin()->second);
            ranges_.erase(ranges_.begin());
        }
        return upto;
    }

  private:
    std::map<int64_t, int64_t> ranges_;
};

// One direction's sequence space, as seen at the capture point.
class Direction {
  public:
    Direction(DirectionStats& stats, bool keep_pairs) : st_(stats), keep_pairs_(keep_pairs) {}

    bool started() const { return started_; }

    // 32-bit serial arithmetic around the highest sequence number seen so far,
    // so the space never wraps however long the connection.
    int64_t unwrap(uint32_t seq) const { return ref_abs_ + int32_t(seq - ref_seq_); }

    // The receiver of this direction no longer has a socket (TIME_WAIT or
    // CLOSE): it took in this direction's FIN and its own FIN was
    // acknowledged, or it sent a RST. `back` is the receiver's own direction.
    // Whatever arrives later reaches a time-wait socket or none: no socket
    // counter (the agent's included) sees it.
    bool receiver_gone(const Direction& back) const {
        return back.rst_sent_ || (fin_taken() && back.fin_acked());
    }

    // `gone`: receiver_gone() just before this segment arrives.
    void on_segment(const Segment& g, bool gone = false) {
        ++st_.packets;
        if (g.flags & kFin) {
            // A FIN carrying data that is resent counts as a data
            // retransmission already; a bare FIN resent counts here.
            if (fin_sent_ && g.payload == 0) {
                ++st_.fin_retrans;
                st_.resends.push_back({g.ts_ns, true});
            }
            fin_sent_ = true;
            ++st_.fin;
        }
        if (g.flags & kRst) {
            ++st_.rst;
            if (!gone && !rst_sent_) ++st_.rst_live;
            rst_sent_ = true;
        }
        const bool syn = g.flags & kSyn;
        if (!started_) {
            started_ = true;
            ref_seq_ = g.seq;
            ref_abs_ = 0;
            rcv_nxt_ = syn ? 1 : 0;
            rcv_wup_ = rcv_nxt_;
        }
        const int64_t seq = unwrap(g.seq);
        if (seq > ref_abs_) {
            ref_abs_ = seq;
            ref_seq_ = g.seq;
        }
        track_round_space(seq, g);
        if (g.has_ts && (!max_tsval_ || int32_t(g.tsval - *max_tsval_) > 0)) max_tsval_ = g.tsval;
        const int64_t s = seq + (syn ? 1 : 0), e = s + g.payload;
        if (g.flags & kFin) fin_seq_ = e;
        if (g.payload > 0) {
            ++st_.data_segs;
            st_.data_bytes += g.payload;
            count_sender_view(s, e, g);
        }
        if (gone) {
            if (g.payload > 0) ++st_.after_close;
            return;
        }
        receive(seq, s, e, g);
    }

    // An ACK from the other direction: RTT samples for the segments it covers.
    // A reset's ACK ends the connection; the kernel times nothing from it.
    void on_ack(const Segment& g) {
        if (!started_) return;
        const int64_t ack = unwrap(g.ack), ts_ns = g.ts_ns;
        // The receiver sends its rcv_nxt in every segment, and rcv_wup =
        // rcv_nxt whenever it sends (tcp_select_window()).
        rcv_wup_ = std::max(rcv_wup_, ack);
        if (!(g.flags & kRst)) sample_round(ack, g);
        while (!pending_.empty() && pending_.begin()->second.end <= ack) {
            const Pending& p = pending_.begin()->second;
            if (!p.karn) {
                st_.rtt_us.add(double(ts_ns - p.ts_ns) / 1e3);
                if (keep_pairs_) st_.rtt_pairs.emplace_back(p.ts_ns, ts_ns);
            }
            pending_.erase(pending_.begin());
        }
    }

    // The bounds on the kernel's rounds, once every segment is in.
    void finish() { st_.rtt_round_min_sums_us = bound_.min_sums(); }

  private:
    bool fin_sent_ = false;
    bool rst_sent_ = false;
    std::optional<int64_t> fin_seq_;     // sequence number of the FIN sent (sender view)
    std::optional<int64_t> fin_pos_;     // that of a FIN the receiver accepted
    std::optional<uint32_t> ts_recent_;  // the receiver's ts_recent (RFC 7323)
    int64_t rcv_wup_ = 0;                // the receiver's rcv_wup: rcv_nxt at its last ACK

    bool fin_taken() const { return fin_pos_ && rcv_nxt_ >= *fin_pos_; }
    bool fin_acked() const { return fin_seq_ && snd_una_ > *fin_seq_; }

    // One arrival at the receiver, in the order its TCP checks it
    // (tcp_validate_incoming, tcp_ack, tcp_data_queue).
    void receive(int64_t seq, int64_t s, int64_t e, const Segment& g) {
        const bool syn = g.flags & kSyn, fin = g.flags & kFin;
        if (syn) {
            if (g.has_ts) ts_recent_ = g.tsval;  // SYN, SYN-ACK: tcp_store_ts_recent
        } else if (g.has_ts && ts_recent_ && *ts_recent_ != 0 && !(g.flags & kRst) &&
                   int32_t(*ts_recent_ - g.tsval) > kPawsWindow) {
            // PAWS: dropped before its sequence numbers are looked at. Only
            // the part wholly below rcv_nxt was a duplicate (the agent counts
            // those PAWS drops too); new data never reached the receiver,
            // whose next copy is then new to it, not a duplicate.
            if (g.payload == 0 && !fin) return;  // a pure ACK: nothing to receive
            ++st_.paws_drops;
            if (g.payload > 0 && e <= rcv_nxt_) ++st_.dup_segs;
            return;
        }
        const int64_t end_seq = e + (fin ? 1 : 0);
        // tcp_sequence(): wholly before rcv_wup, dropped (TCP_OLD_SEQUENCE)
        // before tcp_ack() could take its timestamp.
        const bool old_seq = !syn && end_seq < rcv_wup_;
        // tcp_replace_ts_recent(): a segment starting at or below rcv_wup
        // whose TSval does not go back. A retransmission filling the hole at
        // rcv_nxt carries a fresh TSval; originals sent more than a tick
        // (1 ms) before it that arrive after it then fail PAWS.
        if (!syn && !old_seq && g.has_ts && seq <= rcv_wup_ &&
            (!ts_recent_ || int32_t(g.tsval - *ts_recent_) >= 0))
            ts_recent_ = g.tsval;
        if (g.payload > 0) count_receiver_view(s, e);
        // A FIN alone above rcv_nxt waits in the out-of-order queue too
        // (rcv_ooopack counts it); no distance: the agent samples payload only.
        if (g.payload == 0 && fin && !old_seq && s > rcv_nxt_) ++st_.ooo_segs;
        if (fin && !old_seq && !fin_pos_) fin_pos_ = e;
    }

    static constexpr int32_t kPawsWindow = 1;  // TCP_PAWS_WINDOW

    struct Pending {
        int64_t end;
        int64_t ts_ns;
        bool karn;  // its range was sent again: the ACK is ambiguous
    };

    // Sequence space as the sender's retransmit queue holds it: data plus the
    // one number each of SYN and FIN take. First transmissions keep their
    // time until snd_una passes them; ranges sent again are remembered.
    void track_round_space(int64_t seq, const Segment& g) {
        const bool syn = g.flags & kSyn, fin = g.flags & kFin;
        const int64_t e = seq + (syn ? 1 : 0) + g.payload + (fin ? 1 : 0);
        if (e <= seq) return;  // a pure ACK or RST takes no sequence space
        if (sent_.overlaps(seq, e)) {
            resent_.add(seq, e);
        } else {
            first_tx_.emplace(seq, std::pair{e, g.ts_ns});
        }
        sent_.add(seq, e);
        snd_nxt_ = std::max(snd_nxt_, e);
        if (syn && (g.flags & kAck) && !synack_end_) synack_end_ = e;
    }

    // tcp_rtt_estimator's once-per-round rule: a sample on the first
    // measurement, then only on an ACK taking snd_una past rtt_seq, after
    // which rtt_seq = snd_nxt. The sample is the ACK's time minus the first
    // transmission of the earliest newly acked segment, unless resent data
    // was newly acked (Karn: FLAG_RETRANS_DATA_ACKED). The greedy emulation
    // here assumes the kernel processed each ACK as the capture saw it; the
    // RoundBound takes every ACK advancing snd_una as a candidate, since it
    // may have been processed later.
    void sample_round(int64_t ack, const Segment& a) {
        if (ack <= snd_una_) return;
        const int64_t ts_ns = a.ts_ns;
        const int64_t old_una = snd_una_;
        snd_una_ = ack;
        const bool resent = resent_.overlaps(old_una, ack);
        std::optional<double> us;
        std::optional<double> lower;  // unset: the kernel cannot time this ACK
        if (resent) lower = karn_lower_us(ack, a);
        if (!resent) {
            auto it = first_tx_.upper_bound(old_una);
            if (it != first_tx_.begin() && std::prev(it)->second.first > old_una) --it;
            // Nothing to time if the acked bytes were sent before the capture began.
            if (it != first_tx_.end() && it->first < ack)
                us = double(ts_ns - it->second.second) / 1e3;
        }
        if (synack_end_ && old_una < *synack_end_ && ack >= *synack_end_) {
            // A passive opener's handshake round: its agent sees the socket
            // only afterwards, so the sequences it can report start one
            // round later (or anywhere, if the kernel could not time it).
            if (!resent) bound_.start_after(snd_nxt_);
        } else if (!resent) {
            // Untimed (sent before the capture began): any sample will do.
            bound_.add(ack, snd_nxt_, us.value_or(0.0));
        } else if (lower) {
            bound_.add(ack, snd_nxt_, *lower);
        }
        if (rtt_seq_ && ack <= *rtt_seq_) {
            forget_acked();
            return;
        }
        const bool first_round = !rtt_seq_;
        rtt_seq_ = snd_nxt_;
        if (resent) {
            ++st_.rtt_rounds_skipped_retrans;
        } else if (us) {
            st_.rtt_rounds_us.add(*us);
            if (first_round) st_.rtt_rounds_first_us = *us;
        }
        forget_acked();
    }

    // The kernel's sample on an ACK newly acking resent data (Karn: none
    // from the acked data itself, tcp_ack_update_rtt()): from the first
    // newly SACKed segment never resent, else from the echoed timestamp;
    // unset if neither can be. Called before forget_acked(), with snd_una
    // already at `ack`.
    std::optional<double> karn_lower_us(int64_t ack, const Segment& a) const {
        if (a.may_sack && !a.sack_top) return 0.0;  // options unread: anything
        std::optional<double> lower;
        if (a.sack_top) {
            // A newly SACKed segment lies below the highest edge above
            // snd_una, and was first sent no later than the segment ending
            // there (first transmissions go in sequence order).
            const int64_t top = unwrap(*a.sack_top);
            if (top > ack) {
                auto it = first_tx_.lower_bound(top);
                if (it != first_tx_.begin()) --it;
                lower = it != first_tx_.end() && it->first < top && it->second.first > ack
                            ? std::max(0.0, double(a.ts_ns - it->second.second) / 1e3)
                            : 0.0;
            }
        }
        if (a.has_ts && a.tsecr != 0) {
            // tcp_rtt_tsopt_us(): the kernel's clock now, at least the
            // highest TSval sent before the ACK arrived, less TSecr, in 1 ms
            // ticks (at least 1 us).
            const double ts = max_tsval_ ? std::max(0, int32_t(*max_tsval_ - a.tsecr)) * 1000.0 : 0;
            lower = lower ? std::min(*lower, ts) : ts;
        }
        return lower;
    }

    void forget_acked() {
        while (!first_tx_.empty() && first_tx_.begin()->second.first <= snd_una_)
            first_tx_.erase(first_tx_.begin());
    }

    void count_sender_view(int64_t s, int64_t e, const Segment& g) {
        if (seen_.overlaps(s, e)) {
            ++st_.retrans_segs;
            st_.retrans_bytes += g.payload;
            st_.resends.push_back({g.ts_ns, e >= sent_end_});
            mark_karn(s, e);
        } else {
            pending_.emplace(s, Pending{e, g.ts_ns, false});
        }
        seen_.add(s, e);
        sent_end_ = std::max(sent_end_, e);
    }

    // Pending ranges are first transmissions, so they never overlap each other.
    void mark_karn(int64_t s, int64_t e) {
        auto it = pending_.upper_bound(s);
        if (it != pending_.begin()) --it;
        for (; it != pending_.end() && it->first < e; ++it)
            if (it->second.end > s) it->second.karn = true;
    }

    // The receiver's rcv_nxt emulated from the segments that reached this point.
    void count_receiver_view(int64_t s, int64_t e) {
        if (e <= rcv_nxt_) {
            ++st_.dup_segs;
        } else if (s > rcv_nxt_) {
            ++st_.ooo_segs;
            st_.ooo_dist.add(double(s - rcv_nxt_));
            ooo_queue_.add(s, e);
        } else {
            rcv_nxt_ = ooo_queue_.absorb(e);
        }
    }

    DirectionStats& st_;
    bool keep_pairs_;
    bool started_ = false;
    uint32_t ref_seq_ = 0;
    int64_t ref_abs_ = 0;
    int64_t rcv_nxt_ = 0;
    int64_t sent_end_ = 0;  // the highest data sequence sent so far (snd_nxt)
    RangeSet seen_, ooo_queue_;
    std::map<int64_t, Pending> pending_;  // by start
    // Round sampling (sample_round): snd_una starts at the first sequence
    // number seen, the ISN when the SYN is.
    RangeSet sent_, resent_;
    std::map<int64_t, std::pair<int64_t, int64_t>> first_tx_;  // start -> end, first sent
    int64_t snd_una_ = 0, snd_nxt_ = 0;
    std::optional<int64_t> rtt_seq_;     // unset until the first measurement
    std::optional<int64_t> synack_end_;  // past this direction's SYN-ACK, if it sent one
    std::optional<uint32_t> max_tsval_;  // the highest TSval this direction sent so far
    RoundBound bound_;
};

}  // namespace fc::capture::detail
