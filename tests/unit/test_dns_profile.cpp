// The DNS plugin without the kernel: message parsing, verdicts, and the
// profiler fed with the events the probes would send.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netdb.h>

#include <cstring>
#include <vector>

#include "core/clock.hpp"
#include "core/sink.hpp"
#include "dns/dns_message.hpp"
#include "dns/dns_profiler.hpp"

using fc::State;
using fc::dns::Outcome;
using fc::ipfix::FieldKey;
using fc::ipfix::Record;
using fc::ipfix::TemplateKey;

namespace {

// A DNS message: header, then one question for `name` of type `qtype`.
std::vector<uint8_t> message(uint16_t id, bool response, uint8_t rcode, uint16_t ancount,
                             const std::string& name, uint16_t qtype) {
    std::vector<uint8_t> m = {static_cast<uint8_t>(id >> 8),
                              static_cast<uint8_t>(id),
                              static_cast<uint8_t>(response ? 0x81 : 0x01),
                              static_cast<uint8_t>(response ? 0x80 | rcode : 0),
                              0,
                              1,
                              static_cast<uint8_t>(ancount >> 8),
                              static_cast<uint8_t>(ancount),
                              0,
                              0,
                              0,
                              0};
    size_t start = 0;
    while (start <= name.size()) {
        size_t dot = name.find('.', start);
        if (dot == std::string::npos) dot = name.size();
        m.push_back(static_cast<uint8_t>(dot - start));
        for (size_t i = start; i < dot; ++i) m.push_back(static_cast<uint8_t>(name[i]));
        start = dot + 1;
    }
    m.push_back(0);
    m.push_back(static_cast<uint8_t>(qtype >> 8));
    m.push_back(static_cast<uint8_t>(qtype));
    m.push_back(0);
    m.push_back(1);
    for (uint16_t i = 0; i < ancount; ++i)  // a compressed A record per answer
        for (uint8_t b : {0xC0, 0x0C, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 198, 18, 200, 1})
            m.push_back(b);
    return m;
}

TEST(DnsMessage, ParsesHeaderAndQuestionLowerCased) {
    const auto bytes = message(0x1234, true, 3, 0, "NX.Fc.Test", 28);
    const auto m = fc::dns::parse_dns_message(bytes.data(), bytes.size());
    ASSERT_TRUE(m);
    EXPECT_EQ(m->id, 0x1234);
    EXPECT_TRUE(m->response);
    EXPECT_EQ(m->rcode, 3);
    EXPECT_EQ(m->ancount, 0);
    ASSERT_TRUE(m->question);
    EXPECT_EQ(m->qname, "nx.fc.test");
    EXPECT_EQ(m->qtype, 28);
}

TEST(DnsMessage, ShortOrCutMessages) {
    const auto bytes = message(7, false, 0, 0, "a.fc.test", 1);
    EXPECT_FALSE(fc::dns::parse_dns_message(bytes.data(), 11));
    const auto head = fc::dns::parse_dns_message(bytes.data(), 16);  // question cut short
    ASSERT_TRUE(head);
    EXPECT_EQ(head->id, 7);
    EXPECT_FALSE(head->question);
    std::vector<uint8_t> bad = bytes;
    bad[12] = 0xC0;  // a compression pointer in the question: not a question we read
    EXPECT_FALSE(fc::dns::parse_dns_message(bad.data(), bad.size())->question);
}

TEST(DnsVerdicts, ResolverAndWire) {
    EXPECT_EQ(fc::dns::lookup_verdict(0, false).end, State::FINISHED);
    EXPECT_EQ(fc::dns::lookup_verdict(EAI_NONAME, false).outcome, Outcome::NXDOMAIN);
    EXPECT_EQ(fc::dns::lookup_verdict(EAI_NODATA, false).outcome, Outcome::NODATA);
    // EAI_AGAIN is a timeout unless the wire saw a SERVFAIL.
    EXPECT_EQ(fc::dns::lookup_verdict(EAI_AGAIN, false).end, State::NETWORK_ERROR);
    EXPECT_EQ(fc::dns::lookup_verdict(EAI_AGAIN, false).cause, fc::CloseCause::TIMEOUT);
    EXPECT_EQ(fc::dns::lookup_verdict(EAI_AGAIN, true).end, State::PROTOCOL_ERROR);
    EXPECT_EQ(fc::dns::lookup_verdict(EAI_AGAIN, true).outcome, Outcome::SERVFAIL);
    EXPECT_EQ(fc::dns::reply_verdict(0, 2).outcome, Outcome::ANSWER);
    EXPECT_EQ(fc::dns::reply_verdict(0, 0).end, State::FINISHED);  // NODATA: a good exchange
    EXPECT_EQ(fc::dns::reply_verdict(0, 0).outcome, Outcome::NODATA);
    EXPECT_EQ(fc::dns::reply_verdict(2, 0).outcome, Outcome::SERVFAIL);
    EXPECT_EQ(fc::dns::reply_verdict(3, 0).end, State::PROTOCOL_ERROR);
    EXPECT_EQ(fc::dns::reply_verdict(5, 0).outcome, Outcome::OTHER);
}

class DnsProfilerTest : public ::testing::Test {
  protected:
    fc::WallClock clock;
    fc::VectorSink sink;

    static fc_dns_packet_event packet(bool egress, uint64_t ts, uint64_t lookup,
                                      const std::vector<uint8_t>& msg, uint64_t cookie = 42) {
        fc_dns_packet_event e{};
        e.kind = FC_DNS_EV_PACKET;
        e.egress = egress;
        e.family = AF_INET;
        e.pid = 100;
        e.tid = 101;
        e.netns_ino = 4026531840u;
        e.ts_ns = ts;
        e.sock_cookie = cookie;
        e.lookup_id = egress ? lookup : 0;
        const uint8_t client[4] = {198, 18, 1, 1}, server[4] = {198, 18, 2, 1};
        std::memcpy(egress ? e.saddr : e.daddr, client, 4);
        std::memcpy(egress ? e.daddr : e.saddr, server, 4);
        e.sport = egress ? 40000 : 53;
        e.dport = egress ? 53 : 40000;
        e.msg_len = static_cast<uint16_t>(msg.size());
        e.captured = static_cast<uint16_t>(std::min<size_t>(msg.size(), FC_DNS_MSG_MAX));
        std::memcpy(e.msg, msg.data(), e.captured);
        std::strcpy(e.comm, "resolver");
        return e;
    }
    static fc_dns_lookup_event lookup(uint64_t id, int rc, uint64_t start, uint64_t end,
                                      const char* name) {
        fc_dns_lookup_event e{};
        e.kind = FC_DNS_EV_LOOKUP;
        e.rc = rc;
        e.pid = 100;
        e.tid = 101;
        e.lookup_id = id;
        e.start_ns = start;
        e.end_ns = end;
        std::strcpy(e.name, name);
        std::strcpy(e.comm, "resolver");
        return e;
    }
    std::vector<Record> of(TemplateKey t) const {
        std::vector<Record> out;
        for (const auto& r : sink.records)
            if (r.tmpl == t) out.push_back(r);
        return out;
    }
};

TEST_F(DnsProfilerTest, RetransmittedQueryThenAnswerLinkedToItsLookup) {
    fc::dns::DnsProfiler p(clock, sink);
    const auto q = message(0xBEEF, false, 0, 0, "both.fc.test", 1);
    p.on_packet(packet(true, 1'000'000, 7, q));
    p.on_packet(packet(true, 1'000'000 + 1'000'000'000ull, 7, q));  // resent after 1 s
    p.on_packet(packet(false, 1'000'000 + 1'000'250'000ull, 0,
                       message(0xBEEF, true, 0, 2, "both.fc.test", 1)));
    auto l = lookup(7, 0, 900'000, 1'001'400'000ull, "Both.FC.test");
    l.n_addrs = 4;  // two addresses, each listed twice (two socket types)
    for (int i = 0; i < 4; ++i) {
        l.addrs[i].family = AF_INET;
        l.addrs[i].addr[0] = static_cast<uint8_t>(i % 2);
    }
    p.on_lookup(l);

    const auto qs = of(TemplateKey::DNS_QUERY_V4);
    ASSERT_EQ(qs.size(), 1u);
    const Record& r = qs[0];
    EXPECT_EQ(r.get(FieldKey::DNS_ATTEMPTS), 2u);
    EXPECT_EQ(r.get(FieldKey::DNS_LAT_FIRST_US), 1'000'250u);
    EXPECT_EQ(r.get(FieldKey::DNS_LAT_LAST_US), 250u);
    EXPECT_EQ(r.get(FieldKey::DNS_RCODE), 0u);
    EXPECT_EQ(r.get(FieldKey::DNS_ANSWERS), 2u);
    EXPECT_EQ(r.get(FieldKey::DNS_QUERY_BYTES), q.size());
    EXPECT_EQ(r.get(FieldKey::END_STATE), static_cast<uint64_t>(State::FINISHED));
    EXPECT_EQ(r.get(FieldKey::SRC_PORT), 40000u);
    EXPECT_EQ(r.get(FieldKey::DST_PORT), 53u);
    EXPECT_EQ(r.get(FieldKey::DST_V4), 0xC6120201u);
    EXPECT_EQ(r.get_text(FieldKey::DNS_NAME), "both.fc.test");
    EXPECT_EQ(r.get(FieldKey::WINDOW_END_NS) - r.get(FieldKey::WINDOW_START_NS), 1'000'250'000u);

    const auto ls = of(TemplateKey::DNS_LOOKUP);
    ASSERT_EQ(ls.size(), 1u);
    const Record& lr = ls[0];
    EXPECT_EQ(lr.get(FieldKey::DNS_LOOKUP_ID), r.get(FieldKey::DNS_LOOKUP_ID));
    EXPECT_EQ(lr.get(FieldKey::FLOW_ID), lr.get(FieldKey::DNS_LOOKUP_ID));
    EXPECT_NE(lr.get(FieldKey::FLOW_ID), r.get(FieldKey::FLOW_ID));
    EXPECT_EQ(lr.get(FieldKey::DNS_V4_ADDRS), 2u);  // distinct
    EXPECT_EQ(lr.get(FieldKey::DNS_QUERIES), 1u);
    EXPECT_EQ(lr.get(FieldKey::DNS_LATENCY_US), 1'000'500u);
    EXPECT_EQ(lr.get_text(FieldKey::DNS_NAME), "both.fc.test");
    EXPECT_EQ(lr.get(FieldKey::DNS_NAME_HASH), r.get(FieldKey::DNS_NAME_HASH));
}

// glibc resends A and AAAA together when one of them timed out, the one
// already answered included: that copy is another attempt of the same query.
TEST_F(DnsProfilerTest, CopyResentAfterItsAnswerIsAnAttemptOfTheSameQuery) {
    fc::dns::DnsProfiler p(clock, sink);
    const auto a = message(11, false, 0, 0, "a.fc.test", 1);
    p.on_packet(packet(true, 1'000'000, 5, a));
    p.on_packet(packet(false, 1'300'000, 0, message(11, true, 0, 1, "a.fc.test", 1)));
    EXPECT_TRUE(sink.records.empty()) << "held until its lookup ends";
    p.on_packet(packet(true, 1'001'000'000ull, 5, a));  // resent a second later
    p.on_packet(packet(false, 1'001'200'000ull, 0, message(11, true, 0, 1, "a.fc.test", 1)));
    p.on_lookup(lookup(5, 0, 900'000, 1'001'500'000ull, "a.fc.test"));
    const auto qs = of(TemplateKey::DNS_QUERY_V4);
    ASSERT_EQ(qs.size(), 1u);
    EXPECT_EQ(qs[0].get(FieldKey::DNS_ATTEMPTS), 2u);
    EXPECT_EQ(qs[0].get(FieldKey::DNS_LAT_FIRST_US), 300u);  // the first reply
    EXPECT_EQ(qs[0].get(FieldKey::DNS_LAT_LAST_US), 300u);   // from the copy it answered
    EXPECT_EQ(qs[0].get(FieldKey::WINDOW_END_NS) - qs[0].get(FieldKey::WINDOW_START_NS), 300'000u);
    EXPECT_EQ(qs[0].get(FieldKey::END_STATE), static_cast<uint64_t>(State::FINISHED));
    EXPECT_EQ(p.counters().repeated_replies, 1u);
}

TEST_F(DnsProfilerTest, UnansweredQueriesEndAsTimeoutsWhenTheLookupGivesUp) {
    fc::dns::DnsProfiler p(clock, sink);
    p.on_packet(packet(true, 1'000, 9, message(1, false, 0, 0, "x.fc.test", 1)));
    p.on_packet(packet(true, 2'000, 9, message(2, false, 0, 0, "x.fc.test", 28)));
    EXPECT_TRUE(sink.records.empty());
    p.on_lookup(lookup(9, EAI_AGAIN, 500, 2'000'000'000ull, "x.fc.test"));
    const auto qs = of(TemplateKey::DNS_QUERY_V4);
    ASSERT_EQ(qs.size(), 2u);
    for (const auto& r : qs) {
        EXPECT_EQ(r.get(FieldKey::END_STATE), static_cast<uint64_t>(State::NETWORK_ERROR));
        EXPECT_EQ(r.get(FieldKey::CLOSE_CAUSE), static_cast<uint64_t>(fc::CloseCause::TIMEOUT));
        EXPECT_EQ(r.get(FieldKey::DNS_RCODE), 255u);
        EXPECT_EQ(r.get(FieldKey::DNS_LAT_FIRST_US), 0u);
    }
    const auto ls = of(TemplateKey::DNS_LOOKUP);
    ASSERT_EQ(ls.size(), 1u);
    EXPECT_EQ(ls[0].get(FieldKey::DNS_OUTCOME), static_cast<uint64_t>(Outcome::TIMEOUT));
    EXPECT_EQ(ls[0].get(FieldKey::DNS_GAI_ERROR), static_cast<uint64_t>(-EAI_AGAIN));
    EXPECT_EQ(p.open_queries(), 0u);
}

TEST_F(DnsProfilerTest, ServfailOnTheWireMakesEaiAgainAServfail) {
    fc::dns::DnsProfiler p(clock, sink);
    p.on_packet(packet(true, 1'000, 3, message(5, false, 0, 0, "broken.fc.test", 1)));
    p.on_packet(packet(false, 9'000, 0, message(5, true, 2, 0, "broken.fc.test", 1)));
    p.on_lookup(lookup(3, EAI_AGAIN, 500, 20'000, "broken.fc.test"));
    const auto ls = of(TemplateKey::DNS_LOOKUP);
    ASSERT_EQ(ls.size(), 1u);
    EXPECT_EQ(ls[0].get(FieldKey::DNS_OUTCOME), static_cast<uint64_t>(Outcome::SERVFAIL));
    EXPECT_EQ(ls[0].get(FieldKey::END_STATE), static_cast<uint64_t>(State::PROTOCOL_ERROR));
}

TEST_F(DnsProfilerTest, RepliesMatchTheirSocketAndIdOnly) {
    fc::dns::DnsProfiler p(clock, sink);
    p.on_packet(packet(true, 1'000, 0, message(5, false, 0, 0, "a.fc.test", 1), 1));
    p.on_packet(
        packet(false, 2'000, 0, message(5, true, 0, 1, "a.fc.test", 1), 2));  // other socket
    p.on_packet(packet(false, 2'000, 0, message(6, true, 0, 1, "a.fc.test", 1), 1));  // other id
    EXPECT_TRUE(sink.records.empty());
    EXPECT_EQ(p.counters().unmatched_replies, 2u);
    // Outside any lookup, an unanswered query ends at the sweep after the timeout.
    p.sweep(1'000 + 29'000'000'000ull);
    EXPECT_TRUE(sink.records.empty());
    p.sweep(1'000 + 30'000'000'000ull);
    ASSERT_EQ(sink.records.size(), 1u);
    EXPECT_EQ(sink.records[0].get(FieldKey::DNS_LOOKUP_ID), 0u);
    EXPECT_EQ(sink.records[0].get(FieldKey::END_STATE),
              static_cast<uint64_t>(State::NETWORK_ERROR));
}

TEST_F(DnsProfilerTest, HashModeExportsNoName) {
    fc::dns::DnsProfiler plain(clock, sink, {.hash_names = false, .hash_key = "k"});
    fc::dns::DnsOptions o;
    o.hash_names = true;
    o.hash_key = "k";
    fc::VectorSink hashed_sink;
    fc::dns::DnsProfiler hashed(clock, hashed_sink, o);
    plain.on_lookup(lookup(1, 0, 1, 2, "a.fc.test"));
    hashed.on_lookup(lookup(1, 0, 1, 2, "a.fc.test"));
    ASSERT_EQ(hashed_sink.records.size(), 1u);
    EXPECT_EQ(hashed_sink.records[0].get_text(FieldKey::DNS_NAME), "");
    EXPECT_EQ(hashed_sink.records[0].get(FieldKey::DNS_NAME_HASH),
              sink.records.at(0).get(FieldKey::DNS_NAME_HASH));
    // Keyed: another key, another hash; case does not matter.
    fc::dns::DnsProfiler other(clock, sink, {.hash_names = true, .hash_key = "other"});
    EXPECT_NE(other.name_hash("a.fc.test"), hashed.name_hash("a.fc.test"));
    EXPECT_EQ(hashed.name_hash("A.FC.TEST"), hashed.name_hash("a.fc.test"));
}

}  // namespace
