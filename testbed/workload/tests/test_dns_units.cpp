// The DNS workload's pure parts: the zone table and the expectations derived
// from it, getaddrinfo's return values, resolv.conf, the truth line, and the
// SERVFAIL responder's answer.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netdb.h>

#include <set>
#include <stdexcept>

#include "workload/dns_client.hpp"
#include "workload/dns_servfail.hpp"
#include "workload/dns_zone.hpp"

using namespace fc::workload::dns;

TEST(DnsZone, EveryAddressIsInTheTestRanges) {
    std::set<std::string> names;
    for (const auto& z : zone_table()) {
        EXPECT_TRUE(names.insert(z.name).second) << z.name;
        EXPECT_EQ(check_test_name(z.name), "") << z.name;
        for (const auto& a : z.v4) {
            in_addr x{};
            ASSERT_EQ(inet_pton(AF_INET, a.c_str(), &x), 1) << a;
            const uint32_t h = ntohl(x.s_addr);
            EXPECT_EQ(h >> 17, (198u << 7) | (18u >> 1)) << a << " outside 198.18.0.0/15";
        }
        for (const auto& a : z.v6) {
            in6_addr x{};
            ASSERT_EQ(inet_pton(AF_INET6, a.c_str(), &x), 1) << a;
            EXPECT_EQ(x.s6_addr[0], 0xfd) << a << " outside fd00::/8";
        }
    }
    // What the brief's zone promises: one A, one AAAA, 2 + 2, TXT only.
    EXPECT_EQ(zone_lookup("a.fc.test")->v4.size(), 1u);
    EXPECT_TRUE(zone_lookup("a.fc.test")->v6.empty());
    EXPECT_EQ(zone_lookup("aaaa.fc.test")->v6.size(), 1u);
    EXPECT_EQ(zone_lookup("both.fc.test")->v4.size(), 2u);
    EXPECT_EQ(zone_lookup("both.fc.test")->v6.size(), 2u);
    EXPECT_FALSE(zone_lookup("txt-only.fc.test")->txt.empty());
    EXPECT_EQ(zone_lookup("A.FC.TEST."), zone_lookup("a.fc.test"));
    EXPECT_EQ(zone_lookup("nx.fc.test"), nullptr);
}

TEST(DnsZone, NamesMustBeBelowTheZone) {
    EXPECT_EQ(check_test_name("a.fc.test"), "");
    EXPECT_EQ(check_test_name("x-1.y.fc.test."), "");
    EXPECT_NE(check_test_name("fc.test").find("not a name below fc.test"), std::string::npos);
    EXPECT_NE(check_test_name("example.com").find("not a name below"), std::string::npos);
    EXPECT_NE(check_test_name("a..fc.test").find("label of 0"), std::string::npos);
    EXPECT_NE(check_test_name("-a.fc.test").find("start or end with '-'"), std::string::npos);
    EXPECT_NE(check_test_name("a_b.fc.test").find("'_' is not allowed"), std::string::npos);
    EXPECT_NE(check_test_name(std::string(64, 'a') + ".fc.test").find("label of 64"),
              std::string::npos);
}

TEST(DnsZone, ExpectedOutcomesFollowTheTableAndTheFamily) {
    const std::vector<std::string> sf = {"broken.fc.test"};
    for (const auto& z : zone_table())
        for (Family f : {Family::any, Family::v4, Family::v6}) {
            const bool has =
                (f != Family::v6 && !z.v4.empty()) || (f != Family::v4 && !z.v6.empty());
            EXPECT_EQ(expected_outcome(z.name, f, sf), has ? "answer" : "nodata")
                << z.name << " family " << to_string(f);
        }
    EXPECT_EQ(expected_outcome("a.fc.test", Family::v6, sf), "nodata");
    EXPECT_EQ(expected_outcome("aaaa.fc.test", Family::v4, sf), "nodata");
    EXPECT_EQ(expected_outcome("nx.fc.test", Family::any, sf), "nxdomain");
    EXPECT_EQ(expected_outcome("Broken.fc.test", Family::v4, sf), "temporary");
    EXPECT_EQ(*expected_for("mixed", "nx.fc.test", Family::any, sf), "nxdomain");
    EXPECT_EQ(*expected_for("ok", "nx.fc.test", Family::any, sf), "answer");
    EXPECT_EQ(*expected_for("servfail", "a.fc.test", Family::any, sf), "temporary");
    EXPECT_EQ(*expected_for("timeout", "a.fc.test", Family::any, sf), "temporary");
    EXPECT_FALSE(expected_for("any", "a.fc.test", Family::any, sf));
    EXPECT_THROW(expected_for("fine", "a.fc.test", Family::any, sf), std::invalid_argument);
    for (const auto& e : expectations())
        EXPECT_NO_THROW(expected_for(e, "a.fc.test", Family::v4, sf));
}

TEST(DnsZone, Families) {
    EXPECT_EQ(to_af(*family_from_string("any")), AF_UNSPEC);
    EXPECT_EQ(to_af(*family_from_string("4")), AF_INET);
    EXPECT_EQ(to_af(*family_from_string("6")), AF_INET6);
    EXPECT_FALSE(family_from_string("inet"));
    EXPECT_STREQ(to_string(Family::v6), "6");
}

TEST(DnsClient, ReturnValuesAsNamesAndOutcomes) {
    EXPECT_EQ(rc_name(0), "ok");
    EXPECT_EQ(rc_outcome(0), "answer");
    EXPECT_EQ(rc_name(EAI_NONAME), "EAI_NONAME");
    EXPECT_EQ(rc_outcome(EAI_NONAME), "nxdomain");
    EXPECT_EQ(rc_name(EAI_NODATA), "EAI_NODATA");
    EXPECT_EQ(rc_outcome(EAI_NODATA), "nodata");
    EXPECT_EQ(rc_name(EAI_AGAIN), "EAI_AGAIN");
    EXPECT_EQ(rc_outcome(EAI_AGAIN), "temporary");
    EXPECT_EQ(rc_name(EAI_FAIL), "EAI_FAIL");
    EXPECT_EQ(rc_outcome(EAI_FAIL), "error");
    EXPECT_EQ(rc_outcome(EAI_SYSTEM), "error");
    EXPECT_EQ(rc_name(-999), "EAI_-999");
    // glibc's values are negative.
    EXPECT_LT(EAI_NONAME, 0);
}

TEST(DnsClient, NameserversOfResolvConf) {
    EXPECT_EQ(nameservers("# x\nnameserver 198.18.2.1\noptions timeout:1 attempts:2\n"
                          "nameserver fd00:fc:2::1\nsearch x\n"),
              (std::vector<std::string>{"198.18.2.1", "fd00:fc:2::1"}));
    EXPECT_TRUE(nameservers("options timeout:1\n").empty());
}

TEST(DnsClient, TruthLineHasTheContractsFieldsInOrder) {
    Lookup l;
    l.index = 3;
    l.name = "both.fc.test";
    l.family = Family::any;
    l.pid = 10;
    l.tid = 11;
    l.t_start_ns = 100;
    l.t_end_ns = 250;
    l.rc = EAI_NODATA;
    l.expected = "nodata";
    l.v4 = {"198.18.200.2"};
    l.server = "198.18.2.1";
    const auto j = to_json(l, "client", "lookups");
    std::vector<std::string> keys;
    for (const auto& [k, _] : j.items()) keys.push_back(k);
    EXPECT_EQ(keys,
              (std::vector<std::string>{"host", "workload", "lookup", "name", "family", "pid",
                                        "tid", "t_start_ns", "t_end_ns", "rc", "rc_name", "outcome",
                                        "expected", "errno", "v4", "v6", "server"}));
    EXPECT_EQ(j["rc"], EAI_NODATA);
    EXPECT_EQ(j["rc_name"], "EAI_NODATA");
    EXPECT_EQ(j["outcome"], "nodata");
    EXPECT_EQ(j["family"], "any");
    EXPECT_EQ(j["lookup"], 3);
    EXPECT_TRUE(j["v6"].is_array() && j["v6"].empty());
}

namespace {
// A query for a.fc.test/A with id 0x1234, RD set, and an EDNS OPT record.
std::vector<uint8_t> query() {
    std::vector<uint8_t> q = {0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 1};
    for (const char* l : {"a", "fc", "test"}) {
        q.push_back(uint8_t(strlen(l)));
        q.insert(q.end(), l, l + strlen(l));
    }
    q.insert(q.end(), {0, 0, 1, 0, 1});
    q.insert(q.end(), {0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 0});  // OPT
    return q;
}
}  // namespace

TEST(DnsServfail, ReplyKeepsIdAndQuestionAndSetsRcode2) {
    const auto q = query();
    const auto r = servfail_reply(q.data(), q.size());
    ASSERT_TRUE(r);
    ASSERT_EQ(r->size(), q.size() - 11);  // the OPT record is not echoed
    EXPECT_EQ((*r)[0], 0x12);
    EXPECT_EQ((*r)[1], 0x34);
    EXPECT_EQ((*r)[2], 0x81);         // QR, RD
    EXPECT_EQ((*r)[3] & 0x0f, 2);     // SERVFAIL
    EXPECT_EQ((*r)[3] & 0x80, 0x80);  // RA
    EXPECT_EQ((*r)[5], 1);            // one question
    for (int k = 6; k < 12; ++k) EXPECT_EQ((*r)[k], 0) << k;
    EXPECT_TRUE(std::equal(q.begin() + 12, q.begin() + long(r->size()), r->begin() + 12));
}

TEST(DnsServfail, IgnoresWhatIsNotOneWholeQuestion) {
    auto q = query();
    EXPECT_FALSE(servfail_reply(q.data(), 11));  // no header
    EXPECT_FALSE(servfail_reply(q.data(), 20));  // question cut
    auto resp = q;
    resp[2] |= 0x80;  // a response
    EXPECT_FALSE(servfail_reply(resp.data(), resp.size()));
    auto two = q;
    two[5] = 2;
    EXPECT_FALSE(servfail_reply(two.data(), two.size()));
}
