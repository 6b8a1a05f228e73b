// MPTCP in experiment files: protocol = "mptcp" on bulk/rr/churn,
// server_mptcp, [[mptcp_endpoint]] and [[mptcp_limits]]; every mistake names
// the file, line and field.
#include <gtest/gtest.h>

#include <string>
#include <tuple>
#include <vector>

#include "experiment.hpp"

using namespace fc::harness;

namespace {

const char* kMptcp = R"([experiment]
name = "mptcp-example"

[[host]]
name = "client"
agent = true

[[host]]
name = "server"
agent = true

[[link]]
name = "l1"
a = "client"
b = "server"
a_addr = ["198.18.1.1/24"]
b_addr = ["198.18.1.2/24"]
impaired = true

[[link]]
name = "l2"
a = "client"
b = "server"
a_addr = ["198.18.2.1/24"]
b_addr = ["198.18.2.2/24"]
impaired = true

[[workload]]
name = "bulk"
type = "bulk"
client = "client"
server = "server"
server_addr = "198.18.1.2"
port = 5001
bytes = "4MB"
protocol = "mptcp"
server_mptcp = true

[[mptcp_endpoint]]
host = "client"
addr = "198.18.2.1"
flags = ["subflow"]
at = "1s"
id = 7

[[mptcp_endpoint]]
host = "server"
addr = "198.18.2.2"
dev = "fc-l2-b"
flags = ["signal", "backup"]

[[mptcp_limits]]
host = "client"
subflows = 2
add_addr_accepted = 2

[[mptcp_limits]]
host = "server"
subflows = 4
)";

std::string error_of(const std::string& text) {
    try {
        parse_experiment_text(text, "x.toml");
    } catch (const ExperimentError& e) {
        return e.what();
    }
    return "(no error)";
}

std::string mutated_error(const std::string& from, const std::string& to) {
    std::string s = kMptcp;
    const auto p = s.find(from);
    EXPECT_NE(p, std::string::npos) << from;
    return error_of(s.replace(p, from.size(), to));
}

}  // namespace

TEST(MptcpSpec, ValidFileParsesIntoWhatItSays) {
    const Experiment x = parse_experiment_text(kMptcp, "x.toml");
    ASSERT_EQ(x.workloads.size(), 1u);
    EXPECT_EQ(x.workloads[0].protocol, "mptcp");
    EXPECT_TRUE(x.workloads[0].mptcp());
    EXPECT_TRUE(x.workloads[0].server_mptcp);
    EXPECT_TRUE(x.has_mptcp());
    ASSERT_EQ(x.mptcp_endpoints.size(), 2u);
    const MptcpEndpoint& c = x.mptcp_endpoints[0];
    EXPECT_EQ(c.host, "client");
    EXPECT_EQ(c.addr, "198.18.2.1");
    EXPECT_EQ(c.dev, "fc-l2-a");  // the link interface holding the address
    EXPECT_EQ(c.flags, std::vector<std::string>{"subflow"});
    ASSERT_TRUE(c.at_ns);
    EXPECT_EQ(*c.at_ns, 1'000'000'000);
    EXPECT_EQ(c.id, 7);
    const MptcpEndpoint& s = x.mptcp_endpoints[1];
    EXPECT_EQ(s.dev, "fc-l2-b");
    EXPECT_EQ(s.flags, (std::vector<std::string>{"signal", "backup"}));
    EXPECT_FALSE(s.at_ns);
    EXPECT_EQ(s.id, 0);
    ASSERT_EQ(x.mptcp_limits.size(), 2u);
    EXPECT_EQ(x.mptcp_limits[0].subflows, 2);
    EXPECT_EQ(x.mptcp_limits[0].add_addr_accepted, 2);
    EXPECT_EQ(x.mptcp_limits[1].subflows, 4);
    EXPECT_FALSE(x.mptcp_limits[1].add_addr_accepted);
}

TEST(MptcpSpec, DefaultsAreTcpAndAnMptcpServer) {
    std::string s = kMptcp;
    s = s.substr(0, s.find("[[mptcp_endpoint]]"));
    s.replace(s.find("protocol = \"mptcp\"\nserver_mptcp = true\n"),
              std::string("protocol = \"mptcp\"\nserver_mptcp = true\n").size(), "");
    const Experiment x = parse_experiment_text(s, "x.toml");
    EXPECT_EQ(x.workloads[0].protocol, "tcp");
    EXPECT_FALSE(x.has_mptcp());
    const Experiment y =
        parse_experiment_text(s + "[[workload]]\nname = \"b2\"\ntype = \"rr\"\nclient = "
                                  "\"client\"\nserver = \"server\"\nserver_addr = "
                                  "\"198.18.1.2\"\nport = 5002\nprotocol = \"mptcp\"\n",
                              "x.toml");
    EXPECT_TRUE(y.workloads[1].server_mptcp);
    EXPECT_TRUE(y.has_mptcp());
}

TEST(MptcpSpec, MistakesNameFileLineAndField) {
    const std::vector<std::tuple<std::string, std::string, std::string>> cases = {
        {"protocol = \"mptcp\"", "protocol = \"sctp\"",
         "x.toml:36: workload[0].protocol: 'sctp' must be \"tcp\" or \"mptcp\""},
        {"protocol = \"mptcp\"\nserver_mptcp = true", "server_mptcp = false",
         "x.toml:36: workload[0].server_mptcp: applies to protocol = \"mptcp\" workloads only"},
        {"server_mptcp = true", "server_mptcp = \"yes\"",
         "x.toml:37: workload[0].server_mptcp: must be true or false"},
        {"addr = \"198.18.2.1\"", "addr = \"198.18.9.1\"",
         "x.toml:41: mptcp_endpoint[0].addr: '198.18.9.1' is not an address of client on any "
         "[[link]]"},
        {"addr = \"198.18.2.1\"", "addr = \"198.18.2.2\"",
         "mptcp_endpoint[0].addr: '198.18.2.2' is not an address of client"},
        {"addr = \"198.18.2.1\"", "addr = \"198.18.2.1/24\"",
         "x.toml:41: mptcp_endpoint[0].addr: '198.18.2.1/24' is not an address (no prefix"},
        {"dev = \"fc-l2-b\"", "dev = \"fc-l2-a\"",
         "x.toml:49: mptcp_endpoint[1].dev: 'fc-l2-a' is not an interface of server"},
        {"flags = [\"subflow\"]", "flags = [\"subflows\"]",
         "x.toml:42: mptcp_endpoint[0].flags: 'subflows' must be subflow, signal, backup or "
         "fullmesh"},
        {"flags = [\"subflow\"]", "flags = [\"backup\"]",
         "x.toml:42: mptcp_endpoint[0].flags: needs subflow or signal"},
        {"flags = [\"signal\", \"backup\"]", "flags = [\"signal\", \"fullmesh\"]",
         "x.toml:50: mptcp_endpoint[1].flags: fullmesh cannot go with signal"},
        {"flags = [\"subflow\"]\n", "", "mptcp_endpoint[0]: missing field 'flags'"},
        {"at = \"1s\"", "at = \"soon\"",
         "x.toml:43: mptcp_endpoint[0].at: 'soon' is not a duration"},
        {"id = 7", "id = 0", "x.toml:44: mptcp_endpoint[0].id: must be 1..255"},
        {"id = 7", "id = 7\nremove_at = \"1s\"",
         "x.toml:45: mptcp_endpoint[0].remove_at: must come after 'at'"},
        {"id = 7", "remove_at = \"2s\"",
         "x.toml:44: mptcp_endpoint[0].remove_at: needs an 'id' for the endpoint"},
        {"id = 7", "idx = 7", "x.toml:44: mptcp_endpoint[0].idx: unknown field"},
        {"host = \"client\"\naddr", "host = \"switch\"\naddr",
         "x.toml:40: mptcp_endpoint[0].host: no host or router named 'switch'"},
        {"subflows = 2", "subflows = 9", "x.toml:54: mptcp_limits[0].subflows: must be 0..8"},
        {"add_addr_accepted = 2", "add_addr_accepted = -1",
         "x.toml:55: mptcp_limits[0].add_addr_accepted: must be 0..8"},
        {"subflows = 4", "", "mptcp_limits[1]: needs subflows, add_addr_accepted or both"},
        {"host = \"server\"\nsubflows = 4", "host = \"client\"\nsubflows = 4",
         "x.toml:58: mptcp_limits[1].host: 'client' already has [[mptcp_limits]]"},
        {"protocol = \"mptcp\"\nserver_mptcp = true", "protocol = \"tcp\"",
         "mptcp_endpoint[0].host: MPTCP path-manager settings need a workload with protocol = "
         "\"mptcp\""},
    };
    for (const auto& [from, to, want] : cases) {
        const std::string err = mutated_error(from, to);
        EXPECT_NE(err.find(want), std::string::npos) << "error was: " << err;
        EXPECT_EQ(err.rfind("x.toml:", 0), 0u) << err;
    }
    // http is nginx and ab: TCP only.
    std::string http = kMptcp;
    http.replace(http.find("type = \"bulk\""), 13, "type = \"http\"");
    http.replace(http.find("bytes = \"4MB\"\n"), 14, "");
    EXPECT_NE(error_of(http).find("x.toml:35: workload[0].protocol: an http workload is TCP only"),
              std::string::npos)
        << error_of(http);
    // An address given twice on one host.
    std::string twice = kMptcp;
    twice +=
        "\n[[mptcp_endpoint]]\nhost = \"client\"\naddr = \"198.18.2.1\"\nflags = \"subflow\"\n";
    EXPECT_NE(error_of(twice).find("mptcp_endpoint[2].addr: '198.18.2.1' is already an endpoint"),
              std::string::npos)
        << error_of(twice);
}

TEST(MptcpSpec, EndpointRemovedOnSchedule) {
    std::string s = kMptcp;
    s.replace(s.find("id = 7"), 6, "id = 7\nremove_at = \"2500ms\"");
    const Experiment x = parse_experiment_text(s, "x.toml");
    ASSERT_TRUE(x.mptcp_endpoints.at(0).remove_at_ns);
    EXPECT_EQ(*x.mptcp_endpoints.at(0).remove_at_ns, 2'500'000'000);
    EXPECT_FALSE(x.mptcp_endpoints.at(1).remove_at_ns);
}
