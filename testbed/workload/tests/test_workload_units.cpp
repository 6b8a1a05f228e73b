// The workload's pure parts: the header on the wire, endpoints, and the
// truth line's shape (sizes and durations: common/tests/test_units.cpp).
#include <gtest/gtest.h>
#include <netinet/in.h>

#include <cstring>

#include "workload/endpoint.hpp"
#include "workload/protocol.hpp"
#include "workload/tcp_info.hpp"
#include "workload/truth.hpp"

using namespace fc::workload;
using namespace std::chrono_literals;

TEST(Header, RoundTripsEveryField) {
    Header h{Type::rr, Direction::down, 0x0102030405060708ull, 0x1112131415161718ull, 0xa1b2c3d4};
    const auto bytes = encode(h);
    EXPECT_EQ(decode(bytes), h);
}

TEST(Header, WireLayoutIsBigEndianAtDocumentedOffsets) {
    Header h{Type::bulk, Direction::down, 0x0a, 0x0102, 7};
    const auto b = encode(h);
    ASSERT_EQ(b.size(), 32u);
    EXPECT_EQ(std::memcmp(b.data(), "FCWL", 4), 0);
    EXPECT_EQ(b[4], 1);  // version
    EXPECT_EQ(b[5], 1);  // bulk
    EXPECT_EQ(b[6], 1);  // down
    EXPECT_EQ(b[15], 0x0a);
    EXPECT_EQ(b[22], 0x01);
    EXPECT_EQ(b[23], 0x02);
    EXPECT_EQ(b[27], 7);
    for (size_t i : {7, 8, 14, 16, 21, 24, 26, 28, 29, 30, 31}) EXPECT_EQ(b[i], 0) << i;
}

TEST(Header, DecodeRejectsBadMagicVersionTypeDirection) {
    const auto good = encode(Header{Type::churn, Direction::up, 1, 1, 1});
    auto bad = good;
    bad[0] = 'X';
    EXPECT_THROW(decode(bad), std::invalid_argument);
    bad = good;
    bad[4] = 2;
    EXPECT_THROW(decode(bad), std::invalid_argument);
    bad = good;
    bad[5] = 0;
    EXPECT_THROW(decode(bad), std::invalid_argument);
    bad[5] = 4;
    EXPECT_THROW(decode(bad), std::invalid_argument);
    bad = good;
    bad[6] = 2;
    EXPECT_THROW(decode(bad), std::invalid_argument);
}

TEST(Header, MadeFromWorkloadOptions) {
    EXPECT_EQ(make_header(Type::bulk, Direction::up, 1000, 5, 6, 9),
              (Header{Type::bulk, Direction::up, 1000, 0, 1}));
    EXPECT_EQ(make_header(Type::bulk, Direction::down, 1000, 5, 6, 9),
              (Header{Type::bulk, Direction::down, 0, 1000, 1}));
    EXPECT_EQ(make_header(Type::rr, Direction::down, 1000, 5, 6, 9),
              (Header{Type::rr, Direction::up, 5, 6, 9}));
    EXPECT_EQ(make_header(Type::churn, Direction::up, 1000, 5, 6, 9),
              (Header{Type::churn, Direction::up, 1, 1, 1}));
}

TEST(Endpoint, ParsesV4AndBracketedV6) {
    const Endpoint a = parse_endpoint("198.18.0.2:5001");
    EXPECT_EQ(a.family, AF_INET);
    EXPECT_EQ(describe(a.addr).addr, "198.18.0.2");
    EXPECT_EQ(describe(a.addr).port, 5001);
    const Endpoint b = parse_endpoint("[fd00::1]:80");
    EXPECT_EQ(b.family, AF_INET6);
    EXPECT_EQ(describe(b.addr).addr, "fd00::1");
    EXPECT_EQ(describe(b.addr).port, 80);
    for (const char* bad : {"198.18.0.2", "fd00::1:80", "[fd00::1]80", "host:80", "1.2.3.4:70000",
                            "1.2.3.4:", "[fd00::1]:x"})
        EXPECT_THROW(parse_endpoint(bad), std::invalid_argument) << bad;
}

TEST(TcpInfo, FieldsPastTheKernelsLengthAreLeftOut) {
    TcpInfoSnapshot s;
    s.info.tcpi_state = 7;
    s.info.tcpi_bytes_acked = 1234;
    s.info.tcpi_total_rto = 3;
    s.length = sizeof(KernelTcpInfo);
    auto j = to_json(s);
    EXPECT_EQ(j["state"], 7);
    EXPECT_EQ(j["bytes_acked"], 1234);
    EXPECT_EQ(j["total_rto"], 3);
    EXPECT_EQ(j.size(), truth_fields().size());
    // An older kernel that stops before tcpi_total_rto (e.g. 5.x: up to tcpi_rehash).
    s.length = offsetof(KernelTcpInfo, tcpi_total_rto);
    j = to_json(s);
    EXPECT_EQ(j["bytes_acked"], 1234);
    EXPECT_FALSE(j.contains("total_rto"));
    EXPECT_FALSE(j.contains("total_rto_recoveries"));
    EXPECT_FALSE(j.contains("total_rto_time"));
    EXPECT_TRUE(j.contains("rehash"));
}

TEST(Truth, LineHasTheDocumentedKeys) {
    ConnTruth t;
    t.host = "c";
    t.workload = "w";
    t.role = "client";
    t.outcome = "refused";
    t.err = 111;
    auto j = to_json(t);
    for (const char* k :
         {"host", "workload", "role", "conn", "family", "local", "lport", "remote", "rport",
          "t_start_ns", "t_connected_ns", "t_end_ns", "outcome", "errno", "app_bytes_sent",
          "app_bytes_received", "closed_by", "tcp_info_at_close", "tcp_info"})
        EXPECT_TRUE(j.contains(k)) << k;
    EXPECT_TRUE(j["tcp_info"].is_null());
    EXPECT_TRUE(j["t_connected_ns"].is_null());
    EXPECT_EQ(j["tcp_info_at_close"], false);
    TcpInfoSnapshot s;
    s.info.tcpi_state = 7;
    s.length = sizeof(KernelTcpInfo);
    t.tcp_info = s;
    t.t_connected_ns = 5;
    j = to_json(t);
    EXPECT_EQ(j["tcp_info_at_close"], true);
    EXPECT_EQ(j["t_connected_ns"], 5);
}
