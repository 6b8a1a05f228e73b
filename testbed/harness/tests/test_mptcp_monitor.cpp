// `ip mptcp monitor` lines (iproute2 6.1 on Linux 6.18, captured from a real
// two-path transfer) into the monitor truth's JSON objects.
#include <gtest/gtest.h>

#include "mptcp_monitor.hpp"

using fc::harness::parse_mptcp_monitor_line;

TEST(MptcpMonitor, SubflowEstablishedLine) {
    const auto j = parse_mptcp_monitor_line(
        "[SF_ESTABLISHED] token=6a3b505c remid=0 locid=1 saddr4=198.18.2.1 daddr4=198.18.1.2 "
        "sport=48691 dport=5001 backup=0 ifindex=1430",
        42);
    ASSERT_TRUE(j);
    EXPECT_EQ((*j)["t_ns"], 42);
    EXPECT_EQ((*j)["event"], "SF_ESTABLISHED");
    EXPECT_EQ((*j)["token"], 0x6a3b505cu);
    EXPECT_EQ((*j)["saddr"], "198.18.2.1");
    EXPECT_EQ((*j)["daddr"], "198.18.1.2");
    EXPECT_EQ((*j)["sport"], 48691);
    EXPECT_EQ((*j)["dport"], 5001);
    EXPECT_EQ((*j)["locid"], 1);
    EXPECT_EQ((*j)["remid"], 0);
    EXPECT_EQ((*j)["backup"], 0);
    EXPECT_EQ((*j)["ifindex"], 1430);
    EXPECT_TRUE((*j)["error"].is_null());
}

TEST(MptcpMonitor, PaddedNamesErrorsV6AndUnknownNumbers) {
    auto j = parse_mptcp_monitor_line(
        "[       CREATED] token=e8696974 remid=0 locid=0 saddr4=198.18.1.2 daddr4=198.18.1.1 "
        "sport=5001 dport=43430 flags=2",
        1);
    ASSERT_TRUE(j);
    EXPECT_EQ((*j)["event"], "CREATED");
    EXPECT_EQ((*j)["flags"], 2);
    j = parse_mptcp_monitor_line("[        CLOSED] token=e8696974", 1);
    ASSERT_TRUE(j);
    EXPECT_EQ((*j)["event"], "CLOSED");
    EXPECT_EQ((*j)["token"], 0xe8696974u);
    EXPECT_TRUE((*j)["saddr"].is_null());
    j = parse_mptcp_monitor_line(
        "[     SF_CLOSED] token=0000002a remid=0 locid=2 saddr6=fd00:fc:2::1 daddr6=fd00:fc:1::2 "
        "sport=1 dport=2 backup=0 error=110",
        1);
    ASSERT_TRUE(j);
    EXPECT_EQ((*j)["token"], 42);
    EXPECT_EQ((*j)["saddr"], "fd00:fc:2::1");
    EXPECT_EQ((*j)["error"], 110);
    j = parse_mptcp_monitor_line("[UNKNOWN 15]", 1);
    ASSERT_TRUE(j);
    EXPECT_EQ((*j)["event"], "LISTENER_CREATED");
    EXPECT_EQ((*j)["event_code"], 15);
    j = parse_mptcp_monitor_line("[UNKNOWN 99]", 1);
    ASSERT_TRUE(j);
    EXPECT_EQ((*j)["event"], "UNKNOWN 99");
    EXPECT_FALSE(parse_mptcp_monitor_line("", 1));
    EXPECT_FALSE(parse_mptcp_monitor_line("some noise", 1));
    EXPECT_FALSE(parse_mptcp_monitor_line("[]", 1));
}
