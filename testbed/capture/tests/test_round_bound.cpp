// Unit tests of RoundBound: the sequences of RTT rounds a kernel that
// processes ACKs late can take, worked out by hand.
#include <gtest/gtest.h>

#include <vector>

#include "capture/round_bound.hpp"

using fc::capture::RoundBound;

namespace {

// A bulk sender's candidates: a long round timed after a stretch ACK (4 900
// us), then short ones. Processed as captured, the rounds are 0, 1, 3 (each
// next ACK passes the snd_nxt seen at the one before); an ACK waiting in the
// backlog while the application sent raises rtt_seq, and the kernel may
// take 0, 2, 3 instead, or skip the long round altogether.
RoundBound bulk() {
    RoundBound b;
    b.add(1000, 3000, 1200);    // 0
    b.add(4000, 9000, 4900);    // 1: first past 3000
    b.add(6000, 9000, 1000);    // 2: passes 3000 too
    b.add(10000, 12000, 1100);  // 3: first past 9000
    return b;
}

}  // namespace

TEST(RoundBound, LongestSequenceIsTheGreedyOne) { EXPECT_EQ(bulk().min_sums().size(), 3u); }

TEST(RoundBound, CheapestSequenceOfEachLengthSkipsTheLongRound) {
    // 1: {2}; 2: {2, 3}; 3: {0, 2, 3}, not the greedy {0, 1, 3} (7 200).
    EXPECT_EQ(bulk().min_sums(), (std::vector<double>{1000, 2100, 3300}));
}

TEST(RoundBound, ARoundEndsOnlyPastTheSndNxtSeenAtTheRoundBefore) {
    RoundBound b;
    b.add(1000, 5000, 100);  // 0
    b.add(2000, 5000, 50);   // 1: not past 5000, cannot follow 0
    b.add(5000, 6000, 50);   // 2: reaches 5000, not past it
    b.add(5001, 6000, 300);  // 3
    // 2 sequences of 2 exist, {0, 3} and {1, 3}, {2, 3} is not one (2 -> 3
    // is not past 6000), so the cheapest pair is {1, 3}.
    EXPECT_EQ(b.min_sums(), (std::vector<double>{50, 350}));
}

TEST(RoundBound, StartAfterDropsTheRoundsBefore) {
    RoundBound b = bulk();
    b.start_after(4000);  // candidates 0 and 1 cannot start a sequence
    EXPECT_EQ(b.min_sums(), (std::vector<double>{1000, 2100}));
}

TEST(RoundBound, AcksThatDoNotAdvanceAreIgnoredAndNoneGivesNothing) {
    RoundBound b;
    EXPECT_TRUE(b.min_sums().empty());
    b.add(1000, 1000, 10);
    b.add(1000, 2000, 1);  // no advance
    b.add(900, 2000, 1);   // backwards
    EXPECT_EQ(b.min_sums(), (std::vector<double>{10}));
}
