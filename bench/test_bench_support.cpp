// The bench helpers: rate search, summary statistics, the captured stream's
// framing and its replay with consistent sequence numbers.
#include <gtest/gtest.h>

#include <cstring>

#include "bench_support.hpp"
#include "core/clock.hpp"
#include "core/sink.hpp"
#include "ipfix/wire.hpp"
#include "rate_search.hpp"
#include "tcp/tcp_profiler.hpp"

using fc::bench::search_rate;
using fc::bench::TrialOutcome;

namespace {
auto capacity(double c, int* calls = nullptr) {
    return [c, calls](double rate) {
        if (calls) ++*calls;
        return TrialOutcome{rate <= c, rate, false};
    };
}
}  // namespace

TEST(RateSearch, DoublesThenBisectsToWithinTheFinalStep) {
    int calls = 0;
    const auto r = search_rate(capacity(123000, &calls), 10000, 4e6, 5);
    // 10k..80k pass, 160k fails; 5 bisections of [80k, 160k] -> step 2.5k.
    EXPECT_LE(r.best_rate, 123000);
    EXPECT_GE(r.best_rate, 123000 - 2500);
    EXPECT_GT(r.fail_rate, 123000);
    EXPECT_EQ(calls, 5 + 5);
    EXPECT_EQ(r.trials, calls);
}

TEST(RateSearch, HalvesWhenTheFirstTrialFailsAndReportsZeroIfNothingPasses) {
    const auto r = search_rate(capacity(3000), 10000, 1e6, 3);
    EXPECT_LE(r.best_rate, 3000);
    EXPECT_GE(r.best_rate, 2500 - 1);
    const auto none = search_rate(capacity(1), 10000, 1e6, 3, 2);
    EXPECT_EQ(none.best_rate, 0);
    EXPECT_EQ(none.trials, 3);
}

TEST(RateSearch, StopsAtTheMaximumAndWhenTheSenderIsTheBottleneck) {
    const auto top = search_rate(capacity(1e9), 10000, 80000, 5);
    EXPECT_EQ(top.best_rate, 80000);
    EXPECT_EQ(top.trials, 4);
    auto sender = [](double rate) {
        return TrialOutcome{true, std::min(rate, 50000.0), rate > 50000};
    };
    const auto s = search_rate(sender, 10000, 4e6, 5);
    EXPECT_TRUE(s.sender_limited);
    EXPECT_EQ(s.best_rate, 50000);
    EXPECT_EQ(s.trials, 4);  // 10k, 20k, 40k, 80k (sender-bound: stop)
}

TEST(Summary, MedianMinMax) {
    auto s = fc::bench::summarize({5, 1, 3});
    EXPECT_EQ(s.median, 3);
    EXPECT_EQ(s.min, 1);
    EXPECT_EQ(s.max, 5);
    s = fc::bench::summarize({4, 1, 3, 2});
    EXPECT_EQ(s.median, 2.5);
    EXPECT_EQ(fc::bench::summarize({}).n, 0u);
}

TEST(ConnectionLife, YieldsFourProfilesAndNothingTracked) {
    fc::WallClock clock;
    fc::VectorSink sink;
    fc::tcp::TcpProfiler p(clock, sink);
    auto life = fc::bench::connection_life(1, 1'000'000, 7);
    for (const auto& e : life) p.on_event(e);
    fc::bench::retarget(life, 2, 5'000'000);
    for (const auto& e : life) p.on_event(e);
    EXPECT_EQ(sink.records.size(), 2 * fc::bench::kLifeProfiles);
    EXPECT_EQ(p.tracked(), 0u);
    EXPECT_EQ(p.desyncs(), 0u);
    EXPECT_EQ(sink.records[7].get(fc::ipfix::FieldKey::FLOW_ID), 2u);
}

TEST(CapturedStream, CountsRecordsAndReplaysWithContiguousSequenceNumbers) {
    const auto recs = fc::bench::profile_records(1003);
    const auto s = fc::bench::capture_stream(recs);
    EXPECT_EQ(s.total_data_records, 1003u);
    ASSERT_FALSE(s.preamble.empty());
    for (const auto& m : s.preamble) EXPECT_TRUE(fc::bench::is_preamble(m.data(), m.size()));
    fc::bench::Replay replay(s);
    uint32_t expect = fc::bench::first_data_sequence(s);
    for (size_t i = 0; i < 2 * s.data.size() + 3; ++i) {
        uint32_t n = 0;
        const auto& m = replay.next(n);
        EXPECT_FALSE(fc::bench::is_preamble(m.data(), m.size()));
        EXPECT_EQ(fc::ipfix::read_header(m.data()).sequence, expect);
        EXPECT_EQ(fc::bench::count_profile_records(m.data(), m.size()), n);
        expect += n;
    }
    std::vector<uint8_t> bad = s.data.front();
    bad[3] ^= 1;  // length field no longer matches
    EXPECT_EQ(fc::bench::count_profile_records(bad.data(), bad.size()), SIZE_MAX);
}

TEST(CapturedStream, ZeroCopyReplayMatchesTheCopyingOne) {
    const auto s = fc::bench::capture_stream(fc::bench::profile_records(200));
    fc::bench::Replay a(s), b(s);
    for (size_t i = 0; i < s.data.size() + 2; ++i) {
        uint32_t na = 0, nb = 0;
        const auto& m = a.next(na);
        uint8_t hdr[16];
        const uint8_t* body = nullptr;
        size_t len = 0;
        b.next_parts(hdr, body, len, nb);
        EXPECT_EQ(na, nb);
        ASSERT_EQ(m.size(), 16 + len);
        EXPECT_EQ(0, std::memcmp(m.data(), hdr, 16));
        EXPECT_EQ(0, std::memcmp(m.data() + 16, body, len));
    }
    EXPECT_EQ(a.records_sent(), b.records_sent());
}
