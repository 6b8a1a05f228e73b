// Delta and averaging arithmetic, close classification, and the TCP
// profiler's transition sequence, fed with synthetic kernel events.
#include <gtest/gtest.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <numeric>
#include <vector>

#include "core/profile.hpp"
#include "tcp/tcp_kpis.hpp"
#include "tcp/tcp_profiler.hpp"

using fc::ipfix::FieldKey;

TEST(WindowMeanVar, MatchesDirectComputation) {
    const std::vector<uint64_t> samples = {1200, 980, 1530, 20011, 7, 999999};
    uint64_t n = 0, sum = 0, sumsq = 0;
    for (uint64_t s : samples) {
        ++n;
        sum += s;
        sumsq += s * s;
    }
    const double mean = static_cast<double>(sum) / n;
    double var = 0;
    for (uint64_t s : samples) var += (s - mean) * (s - mean);
    var /= n;
    const fc::MeanVar mv = fc::window_mean_var(n, sum, sumsq);
    EXPECT_EQ(mv.samples, n);
    EXPECT_EQ(mv.mean, static_cast<uint64_t>(std::llround(mean)));
    EXPECT_NEAR(static_cast<double>(mv.variance), var, 1.0);
}

TEST(WindowMeanVar, EmptyWindowIsZeroAndHugeSumsDoNotOverflow) {
    EXPECT_EQ(fc::window_mean_var(0, 0, 0).mean, 0u);
    // 10^6 samples of 4 s each: n * sumsq overflows 64 bits.
    const uint64_t n = 1'000'000, v = 4'000'000;
    const fc::MeanVar mv = fc::window_mean_var(n, n * v, n * v * v);
    EXPECT_EQ(mv.mean, v);
    EXPECT_EQ(mv.variance, 0u);
}

TEST(TcpKpis, DeltasOverTheWindowIncludingCounterWrap) {
    fc_tcp_snapshot a{}, b{};
    a.bytes_acked = 1000;
    b.bytes_acked = 51000;
    a.segs_out = 0xfffffff0u;  // wraps
    b.segs_out = 0x10;
    a.total_retrans = 3;
    b.total_retrans = 10;
    a.anc.rtt_samples = 2;
    a.anc.rtt_sum_us = 300;
    a.anc.rtt_sumsq_us2 = 50000;
    b.anc.rtt_samples = 5;
    b.anc.rtt_sum_us = 300 + 100 + 200 + 300;
    b.anc.rtt_sumsq_us2 = 50000 + 10000 + 40000 + 90000;
    b.srtt_us = 250;
    b.min_rtt_us = ~0u;  // kernel's "no sample yet"
    b.lost_out = 4;
    fc::ipfix::Record r;
    fc::tcp::fill_kpis(a, b, /*opening_window=*/false, r);
    EXPECT_EQ(r.get(FieldKey::BYTES_ACKED), 50000u);
    EXPECT_EQ(r.get(FieldKey::SEGS_OUT), 0x20u);
    EXPECT_EQ(r.get(FieldKey::RETRANS_SEGS), 7u);
    EXPECT_EQ(r.get(FieldKey::SYN_RETRANS), 0u);
    EXPECT_EQ(r.get(FieldKey::RTT_SAMPLES), 3u);
    EXPECT_EQ(r.get(FieldKey::RTT_MEAN_US), 200u);
    EXPECT_EQ(r.get(FieldKey::RTT_VAR_US2), 6667u);  // ((100^2+0+100^2)/3)
    EXPECT_EQ(r.get(FieldKey::SRTT_US_END), 250u);
    EXPECT_EQ(r.get(FieldKey::MIN_RTT_US_END), 0u);
    EXPECT_EQ(r.get(FieldKey::LOST_OUT_END), 4u);

    fc::tcp::fill_kpis(a, b, /*opening_window=*/true, r);
    EXPECT_EQ(r.get(FieldKey::SYN_RETRANS), 7u);
}

TEST(TcpClose, ClassificationFollowsErrorThenPreviousState) {
    using fc::CloseCause;
    using fc::Trigger;
    auto v = fc::tcp::classify_close(2 /*SYN_SENT*/, ECONNREFUSED, true);
    EXPECT_EQ(v.trigger, Trigger::PROTOCOL_FAIL);
    EXPECT_EQ(v.cause, CloseCause::REFUSED);
    v = fc::tcp::classify_close(2, ETIMEDOUT, false);
    EXPECT_EQ(v.trigger, Trigger::NETWORK_FAIL);
    EXPECT_EQ(v.cause, CloseCause::TIMEOUT);
    v = fc::tcp::classify_close(2, EHOSTUNREACH, false);
    EXPECT_EQ(v.cause, CloseCause::UNREACHABLE);
    v = fc::tcp::classify_close(1 /*ESTABLISHED*/, ECONNRESET, true);
    EXPECT_EQ(v.cause, CloseCause::RESET_RECEIVED);
    v = fc::tcp::classify_close(1, 0, false);  // abortive close: RST follows
    EXPECT_EQ(v.trigger, Trigger::PROTOCOL_FAIL);
    EXPECT_EQ(v.cause, CloseCause::RESET_SENT);
    v = fc::tcp::classify_close(9 /*LAST_ACK*/, 0, false);
    EXPECT_EQ(v.trigger, Trigger::FINISH);
    EXPECT_EQ(v.cause, CloseCause::FIN);
    v = fc::tcp::classify_close(5 /*FIN_WAIT2*/, 0, false);
    EXPECT_EQ(v.cause, CloseCause::FIN);
    // Closed with SO_LINGER {1, 0} while the peer's FIN was still due: the
    // kernel resets after leaving FIN_WAIT2 (tcp-loss-gemodel, a FIN lost
    // three times).
    v = fc::tcp::classify_close(5, 0, false, true);
    EXPECT_EQ(v.trigger, Trigger::PROTOCOL_FAIL);
    EXPECT_EQ(v.cause, CloseCause::RESET_SENT);
}

namespace {
fc_tcp_event event(uint64_t id, uint32_t seq, fc_tcp_event_type type, uint64_t ts, uint64_t acked) {
    fc_tcp_event e{};
    e.conn_id = id;
    e.seq = seq;
    e.type = static_cast<uint8_t>(type);
    e.ts_ns = ts;
    e.key.family = FC_AF_INET;
    e.role = type == FC_EV_OPEN_PASSIVE ? 2 : 1;
    e.key.sport = 40000;
    e.key.dport = 80;
    e.snap.bytes_acked = acked;
    return e;
}
}  // namespace

TEST(TcpProfiler, LossyConnectionYieldsFourProfilesWithContiguousWindows) {
    fc::WallClock clock;
    fc::VectorSink sink;
    fc::tcp::TcpProfiler p(clock, sink);
    p.on_event(event(7, 1, FC_EV_OPEN_ACTIVE, 1000, 0));
    p.on_event(event(7, 2, FC_EV_ESTABLISHED, 2000, 1));
    p.on_event(event(7, 3, FC_EV_LOSSY_ENTER, 3000, 101));
    p.on_event(event(7, 4, FC_EV_LOSSY_EXIT, 4000, 201));
    auto close = event(7, 5, FC_EV_CLOSE, 5000, 1202);
    close.old_state = 9;  // LAST_ACK
    p.on_event(close);

    ASSERT_EQ(sink.records.size(), 4u);
    const std::vector<std::pair<fc::State, fc::State>> want = {
        {fc::State::NEW, fc::State::ESTABLISHED},
        {fc::State::ESTABLISHED, fc::State::DEGRADED},
        {fc::State::DEGRADED, fc::State::ESTABLISHED},
        {fc::State::ESTABLISHED, fc::State::FINISHED}};
    const std::vector<uint64_t> acked = {1, 100, 100, 1001};
    for (size_t i = 0; i < 4; ++i) {
        const auto& r = sink.records[i];
        EXPECT_EQ(r.get(FieldKey::START_STATE), static_cast<uint64_t>(want[i].first));
        EXPECT_EQ(r.get(FieldKey::END_STATE), static_cast<uint64_t>(want[i].second));
        EXPECT_EQ(r.get(FieldKey::BYTES_ACKED), acked[i]);
        EXPECT_EQ(r.get(FieldKey::PROFILE_SEQ), i);
        EXPECT_EQ(r.get(FieldKey::FLOW_ID), 7u);
        EXPECT_EQ(r.get(FieldKey::WINDOW_END_NS) - r.get(FieldKey::WINDOW_START_NS), 1000u);
        if (i > 0) {
            EXPECT_EQ(r.get(FieldKey::WINDOW_START_NS),
                      sink.records[i - 1].get(FieldKey::WINDOW_END_NS));
        }
    }
    EXPECT_EQ(sink.records[3].get(FieldKey::FLOW_END_REASON), 0x03u);
    EXPECT_EQ(sink.records[0].get(FieldKey::FLOW_END_REASON), 0x02u);
    EXPECT_EQ(p.tracked(), 0u);
}

TEST(TcpProfiler, SequenceGapEndsInDesync) {
    fc::WallClock clock;
    fc::VectorSink sink;
    fc::tcp::TcpProfiler p(clock, sink);
    p.on_event(event(9, 1, FC_EV_OPEN_ACTIVE, 1000, 0));
    p.on_event(event(9, 3, FC_EV_ESTABLISHED, 2000, 1));  // event 2 was lost
    ASSERT_EQ(sink.records.size(), 1u);
    EXPECT_EQ(sink.records[0].get(FieldKey::END_STATE), static_cast<uint64_t>(fc::State::DESYNC));
    EXPECT_EQ(sink.records[0].get(FieldKey::FLOW_END_REASON), 0x04u);
    EXPECT_EQ(p.desyncs(), 1u);
    EXPECT_EQ(p.tracked(), 0u);
}

TEST(TcpProfiler, VanishedKernelEntryEndsInDesyncAfterTwoSweeps) {
    fc::WallClock clock;
    fc::VectorSink sink;
    fc::tcp::TcpProfiler p(clock, sink);
    p.on_event(event(3, 1, FC_EV_OPEN_ACTIVE, 1000, 0));
    p.sweep([](uint64_t) { return false; });
    EXPECT_TRUE(sink.records.empty());  // might still be in the ring buffer
    p.sweep([](uint64_t) { return false; });
    ASSERT_EQ(sink.records.size(), 1u);
    EXPECT_EQ(sink.records[0].get(FieldKey::CLOSE_CAUSE),
              static_cast<uint64_t>(fc::CloseCause::LOST_TRACK));
}

TEST(TcpProfiler, PassiveOpenEmitsOpeningProfileAtOnce) {
    fc::WallClock clock;
    fc::VectorSink sink;
    fc::tcp::TcpProfiler p(clock, sink);
    auto e = event(4, 1, FC_EV_OPEN_PASSIVE, 5'000'000, 0);
    e.snap.srtt_us = 1000;     // handshake RTT 1 ms
    e.snap.total_retrans = 1;  // one SYN-ACK retransmission
    p.on_event(e);
    ASSERT_EQ(sink.records.size(), 1u);
    const auto& r = sink.records[0];
    EXPECT_EQ(r.get(FieldKey::ROLE), 2u);
    EXPECT_EQ(r.get(FieldKey::WINDOW_END_NS) - r.get(FieldKey::WINDOW_START_NS), 1'000'000u);
    EXPECT_EQ(r.get(FieldKey::SYN_RETRANS), 1u);
    EXPECT_EQ(p.tracked(), 1u);
}

TEST(TcpIdentity, V4MappedAddressesAreReportedAsIpv4) {
    fc_conn_key k{};
    k.family = FC_AF_INET6;
    const uint8_t s[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 198, 18, 0, 2};
    const uint8_t d[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 198, 18, 0, 1};
    std::memcpy(k.saddr, s, 16);
    std::memcpy(k.daddr, d, 16);
    k.sport = 5201;
    k.dport = 40000;
    fc::ipfix::Record r;
    fc::tcp::fill_identity(k, 1, 2, r);
    EXPECT_EQ(r.tmpl, fc::ipfix::TemplateKey::TCP_V4);
    EXPECT_EQ(r.get(FieldKey::SRC_V4), 0xC6120002u);
    EXPECT_EQ(r.get(FieldKey::DST_V4), 0xC6120001u);

    const uint8_t real6[16] = {0xfd, 0, 0, 0xfc, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};
    std::memcpy(k.saddr, real6, 16);
    fc::ipfix::Record r6;
    fc::tcp::fill_identity(k, 1, 2, r6);
    EXPECT_EQ(r6.tmpl, fc::ipfix::TemplateKey::TCP_V6);
    EXPECT_EQ(r6.src_v6[0], 0xfd);
}
