// not_ready_reason() on the JSON iproute2 prints (shapes taken from `ip -j
// addr show` and `ip -j -6 route show table local type multicast` on this
// kernel): each condition of readiness, alone, keeps an interface not ready.
#include <gtest/gtest.h>

#include "readiness.hpp"

using fc::harness::not_ready_reason;
using nlohmann::json;

namespace {

json addr(const std::string& family, const std::string& local, const std::string& scope,
          bool tentative = false) {
    json a = {{"family", family}, {"local", local}, {"prefixlen", 64}, {"scope", scope}};
    if (tentative) a["tentative"] = true;
    return a;
}

// An interface as the kernel shows it once linkwatch has run: UP, with an
// IPv4 address, a global and a link-local IPv6 address.
json ready_interface(const std::string& name = "fc-l1-a") {
    return {{"ifindex", 2},
            {"ifname", name},
            {"operstate", "UP"},
            {"addr_info",
             {addr("inet", "198.18.1.1", "global"), addr("inet6", "fd00:fc:1::1", "global"),
              addr("inet6", "fe80::1", "link")}}};
}

json mroute(const std::string& dev) {
    return {{"type", "multicast"}, {"dst", "ff00::/8"}, {"dev", dev}, {"protocol", "kernel"}};
}

json lo() {
    return {{"ifindex", 1},
            {"ifname", "lo"},
            {"operstate", "UNKNOWN"},
            {"addr_info", {addr("inet", "127.0.0.1", "host"), addr("inet6", "::1", "host")}}};
}

TEST(Readiness, ReadyInterfaceIsReady) {
    EXPECT_EQ(
        not_ready_reason(json::array({lo(), ready_interface()}), json::array({mroute("fc-l1-a")})),
        std::nullopt);
}

TEST(Readiness, NotUpIsNotReady) {
    json i = ready_interface();
    i["operstate"] = "LOWERLAYERDOWN";
    const auto why = not_ready_reason(json::array({i}), json::array({mroute("fc-l1-a")}));
    ASSERT_TRUE(why);
    EXPECT_NE(why->find("fc-l1-a is LOWERLAYERDOWN"), std::string::npos) << *why;
}

TEST(Readiness, MissingLinkLocalIsNotReady) {
    json i = ready_interface();
    i["addr_info"].erase(2);
    const auto why = not_ready_reason(json::array({i}), json::array({mroute("fc-l1-a")}));
    ASSERT_TRUE(why);
    EXPECT_NE(why->find("link-local"), std::string::npos) << *why;
}

TEST(Readiness, TentativeAddressIsNotReady) {
    json i = ready_interface();
    i["addr_info"][1]["tentative"] = true;
    const auto why = not_ready_reason(json::array({i}), json::array({mroute("fc-l1-a")}));
    ASSERT_TRUE(why);
    EXPECT_NE(why->find("fd00:fc:1::1 is still tentative"), std::string::npos) << *why;
}

TEST(Readiness, MissingMulticastRouteIsNotReady) {
    // The route of another interface does not count.
    const auto why =
        not_ready_reason(json::array({ready_interface()}), json::array({mroute("fc-l2-a")}));
    ASSERT_TRUE(why);
    EXPECT_NE(why->find("fc-l1-a has no ff00::/8 multicast route"), std::string::npos) << *why;
}

TEST(Readiness, InterfacesWithoutAddressesAreNotJudged) {
    // A bridge and its ports carry no address: their state is the bridge's
    // business, and a down bridge port shows on the host behind it.
    const json port = {{"ifname", "fc-t2-b"},
                       {"operstate", "LOWERLAYERDOWN"},
                       {"addr_info", json::array({addr("inet6", "fe80::2", "link", true)})}};
    const json bridge = {{"ifname", "sw1"}, {"operstate", "DOWN"}, {"addr_info", json::array()}};
    EXPECT_EQ(not_ready_reason(json::array({lo(), port, bridge}), json::array()), std::nullopt);
}

TEST(Readiness, Ipv4OnlyInterfaceNeedsOnlyToBeUp) {
    json i = {{"ifname", "fc-t4-a"},
              {"operstate", "UP"},
              {"addr_info", {addr("inet", "198.18.12.2", "global")}}};
    EXPECT_EQ(not_ready_reason(json::array({i}), json::array()), std::nullopt);
    i["operstate"] = "DOWN";
    EXPECT_TRUE(not_ready_reason(json::array({i}), json::array()));
}

TEST(Readiness, FirstNotReadyInterfaceIsNamed) {
    json late = ready_interface("fc-l2-b");
    late["addr_info"].erase(2);
    const auto why =
        not_ready_reason(json::array({ready_interface(), late}), json::array({mroute("fc-l1-a")}));
    ASSERT_TRUE(why);
    EXPECT_EQ(why->rfind("fc-l2-b", 0), 0u) << *why;
}

}  // namespace
