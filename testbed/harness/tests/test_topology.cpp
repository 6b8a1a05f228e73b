// Both topology builders, on the real kernel: the same experiment file gives
// the same namespaces, addresses, bridges and routes (checked by pinging
// across them), and teardown leaves nothing behind.
#include <gtest/gtest.h>

#include <algorithm>

#include "experiment.hpp"
#include "impair/sys.hpp"
#include "readiness.hpp"
#include "topology.hpp"

using namespace fc::harness;
using fc::impair::run_cmd;

namespace {

// client -- r1 -- sw1 -- server, plus a second host on the switch; r1 has
// an unreachable prefix. Only plain links: builders own those.
const char* kTopo = R"(
[experiment]
name = "builder-test"
[[host]]
name = "client"
[[router]]
name = "r1"
[[switch]]
name = "sw1"
[[host]]
name = "server"
[[host]]
name = "other"
[[link]]
name = "t1"
a = "client"
b = "r1"
a_addr = ["198.18.11.1/24", "fd00:fc:11::1/64"]
b_addr = ["198.18.11.254/24", "fd00:fc:11::fe/64"]
[[link]]
name = "t2"
a = "r1"
b = "sw1"
a_addr = ["198.18.12.254/24", "fd00:fc:12::fe/64"]
[[link]]
name = "t3"
a = "server"
b = "sw1"
a_addr = ["198.18.12.1/24", "fd00:fc:12::1/64"]
mtu = 1400
[[link]]
name = "t4"
a = "other"
b = "sw1"
a_addr = ["198.18.12.2/24"]
[[route]]
host = "client"
to = "default"
via = "198.18.11.254"
[[route]]
host = "client"
to = "default6"
via = "fd00:fc:11::fe"
[[route]]
host = "server"
to = "198.18.11.0/24"
via = "198.18.12.254"
[[route]]
host = "server"
to = "fd00:fc:11::/64"
via = "fd00:fc:12::fe"
[[route]]
host = "r1"
to = "198.18.99.0/24"
type = "unreachable"
[[workload]]
name = "w"
type = "bulk"
client = "client"
server = "server"
server_addr = "198.18.12.1"
port = 5001
)";

bool ping(const std::string& ns, const std::string& addr) {
    return run_cmd({"ip", "netns", "exec", ns, "ping", "-c", "1", "-W", "2", addr}).status == 0;
}

// Round-trip time of one ping in ms; -1 if it got no answer.
double ping_ms(const std::string& ns, const std::string& addr) {
    const auto r = run_cmd({"ip", "netns", "exec", ns, "ping", "-c", "1", "-W", "3", addr});
    const size_t at = r.output.find("time=");
    return r.status == 0 && at != std::string::npos ? std::stod(r.output.substr(at + 5)) : -1;
}

class Builders : public ::testing::TestWithParam<std::string> {};

TEST_P(Builders, BuildSameTopologyAndLeaveNothing) {
    const Experiment x = parse_experiment_text(kTopo, "builder-test.toml");
    Naming n;
    n.tag = "t" + GetParam().substr(0, 3);
    ASSERT_TRUE(leftover_namespaces().empty()) << "run `flowcorder clean` first";
    {
        auto b = GetParam() == "native"
                     ? make_native_builder()
                     : make_mininet_builder(FC_SOURCE_DIR "/testbed/mininet/build_topology.py",
                                            ::testing::TempDir());
        b->build(x, n);
        for (const Route& r : x.routes) add_route(n.netns(r.node), r);
        EXPECT_EQ(leftover_namespaces().size(), 5u);
        std::vector<std::string> all;
        for (const Node& node : x.nodes) all.push_back(n.netns(node.name));
        wait_until_ready(all, 10.0);
        // Once ready, the first IPv6 packet needs two neighbour discoveries
        // (client -> r1, r1 -> server) and neither may be lost: a lost
        // solicitation is retried after a second (retrans_time).
        const double first6 = ping_ms(n.netns("client"), "fd00:fc:12::1");
        EXPECT_GT(first6, 0) << "IPv6 across router and bridge";
        EXPECT_LT(first6, 500) << "a neighbour solicitation was lost: the topology was not ready";
        EXPECT_TRUE(ping(n.netns("client"), "198.18.12.1")) << "IPv4 across router and bridge";
        EXPECT_TRUE(ping(n.netns("other"), "198.18.12.1")) << "two hosts on one switch";
        // The router's unreachable route answers with ICMP, so ping fails fast
        // and says why.
        const auto r = run_cmd({"ip", "netns", "exec", n.netns("client"), "ping", "-c", "1", "-W",
                                "2", "198.18.99.1"});
        EXPECT_NE(r.status, 0);
        EXPECT_NE(r.output.find("Unreachable"), std::string::npos) << r.output;
        const auto mtu = run_cmd({"ip", "-n", n.netns("server"), "link", "show", "fc-t3-a"});
        EXPECT_NE(mtu.output.find("mtu 1400"), std::string::npos) << mtu.output;
        const auto br = run_cmd({"ip", "-n", n.netns("sw1"), "link", "show", "master", "sw1"});
        EXPECT_NE(br.output.find("fc-t2-b"), std::string::npos) << br.output;
        EXPECT_NE(br.output.find("fc-t4-b"), std::string::npos) << br.output;
        const auto fwd =
            run_cmd({"ip", "netns", "exec", n.netns("r1"), "sysctl", "-n", "net.ipv4.ip_forward"});
        EXPECT_EQ(fwd.output, "1");
        b->teardown();
    }
    EXPECT_TRUE(leftover_namespaces().empty());
    const auto links = run_cmd({"ip", "-o", "link", "show"});
    EXPECT_EQ(links.output.find("fc-t"), std::string::npos) << "veth left in the root namespace";
}

INSTANTIATE_TEST_SUITE_P(Kinds, Builders, ::testing::Values("native", "mininet"));

}  // namespace
