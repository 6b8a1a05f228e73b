// The MPTCP profiler fed with synthetic connection events: the transition
// sequence (open, joins, closes, lossy periods, fallback, terminal causes),
// the per-window KPIs, and the subflow marking of TCP profiles.
#include <gtest/gtest.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "core/profile.hpp"
#include "mptcp/mptcp_profiler.hpp"
#include "tcp/tcp_profiler.hpp"

using fc::State;
using fc::ipfix::FieldKey;
using fc::ipfix::Record;
using fc::mptcp::Why;

namespace {

constexpr uint64_t kConn = 7;

// One event of connection kConn with cumulative counters.
struct Ev {
    fc_mptcp_event e{};
    Ev(uint32_t seq, fc_tcp_event_type type, uint64_t ts) {
        e.conn_id = kConn;
        e.seq = seq;
        e.type = static_cast<uint8_t>(type);
        e.ts_ns = ts;
        e.role = type == FC_EV_MP_OPEN_PASSIVE ? 2 : 1;
        e.token = 0xabcdef01;
        e.skaddr = 0xffff0000;
        e.key.family = FC_AF_INET;
        e.key.sport = 40000;
        e.key.dport = 5001;
        e.key.netns_ino = 4026531840u;
        const uint8_t s[4] = {198, 18, 1, 1}, d[4] = {198, 18, 1, 2};
        std::memcpy(e.key.saddr, s, 4);
        std::memcpy(e.key.daddr, d, 4);
    }
    Ev& bytes(uint64_t sent, uint64_t received, uint64_t acked, uint64_t retrans) {
        e.snap.bytes_sent = sent;
        e.snap.bytes_received = received;
        e.snap.bytes_acked = acked;
        e.snap.bytes_retrans = retrans;
        return *this;
    }
    Ev& subflows(uint16_t now, uint16_t max, uint32_t joins, uint32_t closed) {
        e.snap.c.subflows = now;
        e.snap.c.subflows_max = max;
        e.snap.c.joins = joins;
        e.snap.c.sf_closed = closed;
        return *this;
    }
    Ev& lossy(uint16_t n) {
        e.snap.c.lossy_subflows = n;
        return *this;
    }
    Ev& subflow(uint64_t sf_id) {
        e.sf_conn_id = sf_id;
        return *this;
    }
    Ev& fallback() {
        e.snap.c.fallback = 1;
        return *this;
    }
    Ev& close(uint8_t old_state, int err = 0, bool fastclose = false) {
        e.old_state = old_state;
        e.sk_err = err;
        e.reset_rcvd = fastclose;
        return *this;
    }
    operator const fc_mptcp_event&() const { return e; }
};

uint64_t u(State s) { return static_cast<uint64_t>(s); }
uint64_t u(Why w) { return static_cast<uint64_t>(w); }
uint64_t u(fc::CloseCause c) { return static_cast<uint64_t>(c); }

struct Fixture {
    fc::WallClock clock;
    fc::VectorSink sink;
    fc::mptcp::MptcpProfiler p{clock, sink};
    const std::vector<Record>& rs() const { return sink.records; }
};

void expect_transition(const Record& r, State from, State to, Why why) {
    EXPECT_EQ(r.get(FieldKey::START_STATE), u(from));
    EXPECT_EQ(r.get(FieldKey::END_STATE), u(to));
    EXPECT_EQ(r.get(FieldKey::MPTCP_TRIGGER), u(why));
}

constexpr uint8_t kEstablished = 1, kSynSent = 2, kFinWait2 = 5, kLastAck = 9;

}  // namespace

TEST(MptcpProfiler, TwoPathConnectionOpensJoinsAndFinishes) {
    Fixture f;
    f.p.on_event(Ev(1, FC_EV_MP_OPEN_ACTIVE, 1'000'000).e);
    EXPECT_TRUE(f.rs().empty());  // NEW until the handshake completes
    f.p.on_event(Ev(2, FC_EV_MP_ESTABLISHED, 2'000'000).subflows(1, 1, 0, 0));
    f.p.on_event(Ev(3, FC_EV_MP_SF_JOINED, 3'000'000)
                     .bytes(5000, 0, 4000, 0)
                     .subflows(2, 2, 1, 0)
                     .subflow(42));
    f.p.on_event(Ev(4, FC_EV_MP_CLOSE, 9'000'000)
                     .bytes(1'000'000, 300, 1'000'001, 1200)
                     .subflows(2, 2, 1, 0)
                     .close(kFinWait2));
    ASSERT_EQ(f.rs().size(), 3u);
    const auto& rs = f.rs();
    expect_transition(rs[0], State::NEW, State::ESTABLISHED, Why::ESTABLISHED);
    expect_transition(rs[1], State::ESTABLISHED, State::ESTABLISHED, Why::SUBFLOW_JOINED);
    expect_transition(rs[2], State::ESTABLISHED, State::FINISHED, Why::CLOSED);
    for (size_t i = 0; i < rs.size(); ++i) {
        EXPECT_EQ(rs[i].tmpl, fc::ipfix::TemplateKey::MPTCP_V4);
        EXPECT_EQ(rs[i].get(FieldKey::FLOW_ID), kConn);
        EXPECT_EQ(rs[i].get(FieldKey::MPTCP_CONN_ID), kConn);
        EXPECT_EQ(rs[i].get(FieldKey::MPTCP_TOKEN), 0xabcdef01u);
        EXPECT_EQ(rs[i].get(FieldKey::PROFILE_SEQ), i);
        EXPECT_EQ(rs[i].get(FieldKey::SRC_V4), 0xC6120101u);
        EXPECT_EQ(rs[i].get(FieldKey::PROTOCOL), 6u);
        if (i > 0) {
            EXPECT_EQ(rs[i].get(FieldKey::WINDOW_START_NS), rs[i - 1].get(FieldKey::WINDOW_END_NS));
        }
    }
    // The join: which subflow, how many now, the window's data-level counters.
    EXPECT_EQ(rs[1].get(FieldKey::MPTCP_SF_FLOW_ID), 42u);
    EXPECT_EQ(rs[1].get(FieldKey::MPTCP_JOINS), 1u);
    EXPECT_EQ(rs[1].get(FieldKey::MPTCP_SUBFLOWS), 2u);
    EXPECT_EQ(rs[1].get(FieldKey::MPTCP_BYTES_SENT), 5000u);
    EXPECT_EQ(rs[1].get(FieldKey::MPTCP_BYTES_ACKED), 4000u);
    EXPECT_EQ(rs[1].get(FieldKey::FLOW_END_REASON), 0x02u);
    // The close: deltas since the join, cause FIN, end of flow.
    EXPECT_EQ(rs[2].get(FieldKey::MPTCP_JOINS), 0u);
    EXPECT_EQ(rs[2].get(FieldKey::MPTCP_BYTES_SENT), 995'000u);
    EXPECT_EQ(rs[2].get(FieldKey::MPTCP_BYTES_ACKED), 996'001u);
    EXPECT_EQ(rs[2].get(FieldKey::MPTCP_BYTES_RECEIVED), 300u);
    EXPECT_EQ(rs[2].get(FieldKey::MPTCP_BYTES_RETRANS), 1200u);
    EXPECT_EQ(rs[2].get(FieldKey::MPTCP_SUBFLOWS_MAX), 2u);
    EXPECT_EQ(rs[2].get(FieldKey::CLOSE_CAUSE), u(fc::CloseCause::FIN));
    EXPECT_EQ(rs[2].get(FieldKey::FLOW_END_REASON), 0x03u);
    EXPECT_EQ(rs[2].get(FieldKey::MPTCP_FALLBACK), 0u);
    EXPECT_EQ(f.p.tracked(), 0u);
    EXPECT_EQ(f.p.counters().joins, 1u);
    EXPECT_EQ(f.p.counters().connections, 1u);
}

TEST(MptcpProfiler, SubflowCountMaxCoversTheWholeWindowAcrossSilentEvents) {
    Fixture f;
    f.p.on_event(Ev(1, FC_EV_MP_OPEN_ACTIVE, 1000).e);
    f.p.on_event(Ev(2, FC_EV_MP_ESTABLISHED, 2000).subflows(1, 1, 0, 0));
    f.p.on_event(Ev(3, FC_EV_MP_SF_JOINED, 3000).subflows(2, 2, 1, 0));
    f.p.on_event(Ev(4, FC_EV_MP_SF_JOINED, 4000).subflows(3, 3, 2, 0));
    // Two subflows close: the window after the first close still saw 3.
    f.p.on_event(Ev(5, FC_EV_MP_SF_CLOSED, 5000).subflows(2, 3, 2, 1));
    f.p.on_event(Ev(6, FC_EV_MP_SF_CLOSED, 6000).subflows(1, 2, 2, 2));
    f.p.on_event(Ev(7, FC_EV_MP_CLOSE, 7000).subflows(1, 1, 2, 2).close(kLastAck));
    const auto& rs = f.rs();
    ASSERT_EQ(rs.size(), 6u);
    expect_transition(rs[3], State::ESTABLISHED, State::ESTABLISHED, Why::SUBFLOW_CLOSED);
    EXPECT_EQ(rs[3].get(FieldKey::MPTCP_SUBFLOWS), 2u);
    EXPECT_EQ(rs[3].get(FieldKey::MPTCP_SUBFLOWS_MAX), 3u);
    EXPECT_EQ(rs[3].get(FieldKey::MPTCP_SF_CLOSES), 1u);
    EXPECT_EQ(rs[4].get(FieldKey::MPTCP_SUBFLOWS), 1u);
    EXPECT_EQ(rs[4].get(FieldKey::MPTCP_SUBFLOWS_MAX), 2u);
    EXPECT_EQ(rs[5].get(FieldKey::MPTCP_SUBFLOWS_MAX), 1u);
    EXPECT_EQ(rs[5].get(FieldKey::MPTCP_SF_CLOSES), 0u);
    EXPECT_EQ(f.p.counters().subflow_closes, 2u);
}

TEST(MptcpProfiler, FallbackAtHandshakeIsSaidOnEveryProfile) {
    Fixture f;
    f.p.on_event(Ev(1, FC_EV_MP_OPEN_ACTIVE, 1000).e);
    f.p.on_event(Ev(2, FC_EV_MP_ESTABLISHED, 2000).subflows(1, 1, 0, 0).fallback());
    f.p.on_event(
        Ev(3, FC_EV_MP_SF_CLOSED, 3000).subflows(0, 1, 0, 1).fallback().bytes(100, 0, 101, 0));
    f.p.on_event(Ev(4, FC_EV_MP_CLOSE, 4000).subflows(0, 0, 0, 1).fallback().close(kFinWait2));
    const auto& rs = f.rs();
    ASSERT_EQ(rs.size(), 3u);
    expect_transition(rs[0], State::NEW, State::ESTABLISHED, Why::FALLBACK);
    expect_transition(rs[1], State::ESTABLISHED, State::ESTABLISHED, Why::SUBFLOW_CLOSED);
    expect_transition(rs[2], State::ESTABLISHED, State::FINISHED, Why::CLOSED);
    for (const Record& r : rs) EXPECT_EQ(r.get(FieldKey::MPTCP_FALLBACK), 1u);
    EXPECT_EQ(f.p.counters().fallbacks, 1u);
}

TEST(MptcpProfiler, LossyPeriodEndsWhenTheLastLossySubflowRecoversOrCloses) {
    Fixture f;
    f.p.on_event(Ev(1, FC_EV_MP_OPEN_ACTIVE, 1000).e);
    f.p.on_event(Ev(2, FC_EV_MP_ESTABLISHED, 2000).subflows(1, 1, 0, 0));
    f.p.on_event(Ev(3, FC_EV_MP_SF_JOINED, 3000).subflows(2, 2, 1, 0));
    f.p.on_event(Ev(4, FC_EV_MP_LOSSY_ENTER, 4000).subflows(2, 2, 1, 0).lossy(1).subflow(9));
    f.p.on_event(Ev(5, FC_EV_MP_LOSSY_EXIT, 5000).subflows(2, 2, 1, 0).lossy(0).subflow(9));
    f.p.on_event(Ev(6, FC_EV_MP_LOSSY_ENTER, 6000).subflows(2, 2, 1, 0).lossy(1).subflow(9));
    // The lossy subflow dies (say its path went down): the connection goes on.
    f.p.on_event(Ev(7, FC_EV_MP_SF_CLOSED, 7000).subflows(1, 2, 1, 1).lossy(0).subflow(9));
    const auto& rs = f.rs();
    ASSERT_EQ(rs.size(), 6u);
    expect_transition(rs[2], State::ESTABLISHED, State::DEGRADED, Why::LOSSY_ENTER);
    EXPECT_EQ(rs[2].get(FieldKey::MPTCP_SF_FLOW_ID), 9u);
    expect_transition(rs[3], State::DEGRADED, State::ESTABLISHED, Why::LOSSY_EXIT);
    expect_transition(rs[4], State::ESTABLISHED, State::DEGRADED, Why::LOSSY_ENTER);
    expect_transition(rs[5], State::DEGRADED, State::ESTABLISHED, Why::SUBFLOW_CLOSED);
    EXPECT_EQ(rs[5].get(FieldKey::MPTCP_SF_FLOW_ID), 9u);

    // Another subflow still lossy: a close keeps the connection DEGRADED.
    f.p.on_event(Ev(8, FC_EV_MP_SF_JOINED, 8000).subflows(2, 2, 2, 1));
    f.p.on_event(Ev(9, FC_EV_MP_LOSSY_ENTER, 9000).subflows(2, 2, 2, 1).lossy(1));
    f.p.on_event(Ev(10, FC_EV_MP_SF_CLOSED, 10000).subflows(1, 2, 2, 2).lossy(1));
    ASSERT_EQ(rs.size(), 9u);
    expect_transition(rs[8], State::DEGRADED, State::DEGRADED, Why::SUBFLOW_CLOSED);
}

TEST(MptcpProfiler, TerminalCausesFollowTheMptcpSocket) {
    struct Case {
        uint8_t old_state;
        int err;
        bool fastclose;
        State end;
        fc::CloseCause cause;
    };
    const Case cases[] = {
        {kFinWait2, 0, false, State::FINISHED, fc::CloseCause::FIN},
        {kLastAck, 0, false, State::FINISHED, fc::CloseCause::FIN},
        {kEstablished, 0, true, State::PROTOCOL_ERROR, fc::CloseCause::RESET_RECEIVED},
        {kEstablished, 0, false, State::PROTOCOL_ERROR, fc::CloseCause::RESET_SENT},
        {kEstablished, ETIMEDOUT, false, State::NETWORK_ERROR, fc::CloseCause::TIMEOUT},
        {kSynSent, ECONNREFUSED, false, State::PROTOCOL_ERROR, fc::CloseCause::REFUSED},
        {kSynSent, EHOSTUNREACH, false, State::NETWORK_ERROR, fc::CloseCause::UNREACHABLE},
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(static_cast<int>(c.old_state) * 1000 + c.err);
        Fixture f;
        f.p.on_event(Ev(1, FC_EV_MP_OPEN_ACTIVE, 1000).e);
        uint32_t seq = 2;
        if (c.old_state != kSynSent)
            f.p.on_event(Ev(seq++, FC_EV_MP_ESTABLISHED, 2000).subflows(1, 1, 0, 0));
        f.p.on_event(Ev(seq, FC_EV_MP_CLOSE, 3000).close(c.old_state, c.err, c.fastclose));
        ASSERT_FALSE(f.rs().empty());
        const Record& last = f.rs().back();
        EXPECT_EQ(last.get(FieldKey::END_STATE), u(c.end));
        EXPECT_EQ(last.get(FieldKey::CLOSE_CAUSE), u(c.cause));
        EXPECT_EQ(last.get(FieldKey::CLOSE_ERRNO), static_cast<uint64_t>(c.err));
        EXPECT_EQ(last.get(FieldKey::MPTCP_TRIGGER), u(Why::CLOSED));
        EXPECT_EQ(f.p.tracked(), 0u);
    }
}

TEST(MptcpProfiler, PassiveOpenIsEstablishedAtOnceAndGapsDesync) {
    Fixture f;
    f.p.on_event(Ev(1, FC_EV_MP_OPEN_PASSIVE, 1000).subflows(1, 1, 0, 0));
    ASSERT_EQ(f.rs().size(), 1u);
    expect_transition(f.rs()[0], State::NEW, State::ESTABLISHED, Why::ESTABLISHED);
    EXPECT_EQ(f.rs()[0].get(FieldKey::ROLE), 2u);
    EXPECT_EQ(f.rs()[0].get(FieldKey::MPTCP_SUBFLOWS), 1u);
    f.p.on_event(Ev(3, FC_EV_MP_SF_JOINED, 2000).subflows(2, 2, 1, 0));  // 2 was lost
    ASSERT_EQ(f.rs().size(), 2u);
    expect_transition(f.rs()[1], State::ESTABLISHED, State::DESYNC, Why::LOST_TRACK);
    EXPECT_EQ(f.rs()[1].get(FieldKey::CLOSE_CAUSE), u(fc::CloseCause::LOST_TRACK));
    EXPECT_EQ(f.rs()[1].get(FieldKey::FLOW_END_REASON), 0x04u);
    EXPECT_EQ(f.p.counters().desyncs, 1u);
    EXPECT_EQ(f.p.tracked(), 0u);
}

TEST(MptcpProfiler, AddressesLearnedAfterTheOpenAndForcedEnd) {
    Fixture f;
    Ev open(1, FC_EV_MP_OPEN_ACTIVE, 1000);
    open.e.key.sport = 0;  // connect() had not bound the MPTCP socket yet
    open.e.key.dport = 0;
    open.e.token = 0;
    f.p.on_event(open);
    f.p.on_event(Ev(2, FC_EV_MP_ESTABLISHED, 2000).subflows(1, 1, 0, 0));
    EXPECT_EQ(f.rs()[0].get(FieldKey::SRC_PORT), 40000u);
    EXPECT_EQ(f.rs()[0].get(FieldKey::DST_PORT), 5001u);
    EXPECT_EQ(f.rs()[0].get(FieldKey::MPTCP_TOKEN), 0xabcdef01u);
    f.p.on_event(Ev(3, FC_EV_MP_SF_JOINED, 3000).subflows(2, 2, 1, 0));
    f.p.finish_all();
    ASSERT_EQ(f.rs().size(), 3u);
    expect_transition(f.rs()[2], State::ESTABLISHED, State::DESYNC, Why::LOST_TRACK);
    // No snapshot: no deltas, levels as last seen.
    EXPECT_EQ(f.rs()[2].get(FieldKey::MPTCP_JOINS), 0u);
    EXPECT_EQ(f.rs()[2].get(FieldKey::MPTCP_SUBFLOWS), 2u);
}

TEST(MptcpProfiler, IpV6ConnectionUsesTheV6Template) {
    Fixture f;
    Ev e(1, FC_EV_MP_OPEN_PASSIVE, 1000);
    e.e.key.family = FC_AF_INET6;
    const uint8_t s[16] = {0xfd, 0, 0, 0xfc, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};
    std::memcpy(e.e.key.saddr, s, 16);
    f.p.on_event(e);
    ASSERT_EQ(f.rs().size(), 1u);
    EXPECT_EQ(f.rs()[0].tmpl, fc::ipfix::TemplateKey::MPTCP_V6);
    EXPECT_EQ(f.rs()[0].src_v6[0], 0xfd);
}

TEST(MptcpSubflowMarking, TcpProfilesOfASubflowCarryItsConnection) {
    fc::WallClock clock;
    fc::VectorSink sink;
    fc::tcp::TcpProfiler p(clock, sink);
    fc_tcp_event e{};
    e.conn_id = 11;
    e.seq = 1;
    e.type = FC_EV_OPEN_ACTIVE;
    e.role = 1;
    e.key.family = FC_AF_INET;
    e.mp.kind = FC_MPTCP_SF_JOIN;
    e.mp.token = 77;
    e.mp.conn_id = 0;  // the connection was not known yet at the open
    p.on_event(e);
    e.seq = 2;
    e.type = FC_EV_ESTABLISHED;
    e.mp.conn_id = kConn;  // ... and is now
    p.on_event(e);
    // A plain TCP connection next to it.
    fc_tcp_event t{};
    t.conn_id = 12;
    t.seq = 1;
    t.type = FC_EV_OPEN_PASSIVE;
    t.role = 2;
    t.key.family = FC_AF_INET;
    p.on_event(t);
    ASSERT_EQ(sink.records.size(), 2u);
    const Record& sf = sink.records[0];
    EXPECT_EQ(sf.tmpl, fc::ipfix::TemplateKey::TCP_V4);
    EXPECT_EQ(sf.get(FieldKey::MPTCP_SUBFLOW), 2u);
    EXPECT_EQ(sf.get(FieldKey::MPTCP_CONN_ID), kConn);
    EXPECT_EQ(sf.get(FieldKey::MPTCP_TOKEN), 77u);
    EXPECT_EQ(sf.get(FieldKey::FLOW_ID), 11u);
    const Record& plain = sink.records[1];
    EXPECT_EQ(plain.get(FieldKey::MPTCP_SUBFLOW), 0u);
    EXPECT_EQ(plain.get(FieldKey::MPTCP_CONN_ID), 0u);
    EXPECT_EQ(plain.get(FieldKey::MPTCP_TOKEN), 0u);
}
