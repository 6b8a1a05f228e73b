// Experiment files: a valid file parses into what it says; every kind of
// mistake stops parsing with the file, line and field named.
#include <gtest/gtest.h>

#include <filesystem>
#include <tuple>
#include <vector>

#include "experiment.hpp"
#include "runner.hpp"

using namespace fc::harness;

namespace {

const char* kValid = R"(
[experiment]
name = "tcp-example"
seed = 7
repetitions = 2
timeout = "30s"

[[host]]
name = "client"
agent = true
sysctls = { "net.ipv4.tcp_congestion_control" = "cubic" }

[[router]]
name = "r1"

[[host]]
name = "server"
agent = true

[[link]]
name = "l1"
a = "client"
b = "r1"
a_addr = ["198.18.1.1/24", "fd00:fc:1::1/64"]
b_addr = ["198.18.1.254/24", "fd00:fc:1::fe/64"]
a_to_b = "delay 10ms 2ms loss random 1%"

[[link.change]]
at = "1.5s"
a_to_b = "loss random 100%"

[[link]]
name = "l2"
a = "r1"
b = "server"
a_addr = "198.18.2.254/24"
b_addr = "198.18.2.1/24"

[[route]]
host = "client"
to = "default"
via = "198.18.1.254"

[[route]]
host = "r1"
to = "198.18.99.0/24"
type = "unreachable"

[[workload]]
name = "bulk"
type = "bulk"
client = "client"
server = "server"
server_addr = "198.18.2.1"
port = 5001
connections = 3
concurrency = 2
bytes = "4MiB"
direction = "down"

[[workload]]
name = "web"
type = "rr"
client = "client"
server = "server"
server_addr = "198.18.2.1"
port = 5002
request = 200
response = "10kB"
requests = 5
start = "500ms"

[tolerance]
rtt_mean_us = { abs = 1000, rel = 0.15 }
"lost_segs/impairment_log" = { abs = 2, rel = 0.25, share = 0.9 }
)";

std::string parse_error(const std::string& text) {
    try {
        parse_experiment_text(text, "x.toml");
    } catch (const ExperimentError& e) {
        return e.what();
    }
    return "";
}

// Replaces the first occurrence of `from` in the valid file.
std::string mutate(const std::string& from, const std::string& to) {
    std::string s = kValid;
    const auto p = s.find(from);
    EXPECT_NE(p, std::string::npos) << from;
    return s.replace(p, from.size(), to);
}

}  // namespace

TEST(ExperimentSpec, ValidFileParsesIntoWhatItSays) {
    const Experiment x = parse_experiment_text(kValid, "x.toml");
    EXPECT_EQ(x.name, "tcp-example");
    EXPECT_EQ(x.seed, 7u);
    EXPECT_EQ(x.repetitions, 2u);
    EXPECT_EQ(x.timeout_ns, 30'000'000'000);
    ASSERT_EQ(x.nodes.size(), 3u);
    EXPECT_EQ(x.node("r1")->kind, NodeKind::router);
    EXPECT_TRUE(x.node("client")->agent);
    EXPECT_FALSE(x.node("r1")->agent);
    EXPECT_EQ(x.node("client")->sysctls.at("net.ipv4.tcp_congestion_control"), "cubic");
    ASSERT_EQ(x.links.size(), 2u);
    EXPECT_TRUE(x.links[0].impaired);
    EXPECT_TRUE(x.links[0].capture);
    EXPECT_FALSE(x.links[1].impaired);
    EXPECT_FALSE(x.links[1].capture);
    EXPECT_EQ(x.links[0].a_addr.size(), 2u);
    EXPECT_EQ(x.links[1].b_addr, std::vector<std::string>{"198.18.2.1/24"});
    ASSERT_EQ(x.links[0].changes.size(), 1u);
    EXPECT_EQ(x.links[0].changes[0].at_ns, 1'500'000'000);
    EXPECT_EQ(*x.links[0].changes[0].a_to_b, "loss random 100%");
    EXPECT_FALSE(x.links[0].changes[0].b_to_a);
    ASSERT_EQ(x.routes.size(), 2u);
    EXPECT_EQ(x.routes[1].type, "unreachable");
    ASSERT_EQ(x.workloads.size(), 2u);
    EXPECT_EQ(x.workloads[0].bytes, 4u << 20);
    EXPECT_EQ(x.workloads[0].direction, "down");
    EXPECT_EQ(x.workloads[0].connections, 3u);
    EXPECT_EQ(x.workloads[1].type, WorkloadType::rr);
    EXPECT_EQ(x.workloads[1].response, 10000u);
    EXPECT_EQ(x.workloads[1].start_ns, 500'000'000);
    EXPECT_DOUBLE_EQ(x.tolerances.at("rtt_mean_us").rel, 0.15);
    EXPECT_DOUBLE_EQ(x.tolerances.at("lost_segs/impairment_log").share, 0.9);
}

struct BadCase {
    const char* from;
    const char* to;
    const char* expect;  // substring of the error: file:line: field: why
};

class ExperimentSpecErrors : public ::testing::TestWithParam<BadCase> {};

TEST_P(ExperimentSpecErrors, NameFileLineAndField) {
    const BadCase& c = GetParam();
    const std::string err = parse_error(mutate(c.from, c.to));
    EXPECT_NE(err.find(c.expect), std::string::npos) << "error was: " << err;
    EXPECT_EQ(err.rfind("x.toml:", 0), 0u) << err;
}

INSTANTIATE_TEST_SUITE_P(
    Cases, ExperimentSpecErrors,
    ::testing::Values(
        BadCase{"a_to_b = \"delay 10ms 2ms loss random 1%\"", "a_to_b = \"delay 10ms lose 1%\"",
                "x.toml:26: link[0].a_to_b: unknown keyword 'lose'"},
        BadCase{"bytes = \"4MiB\"", "bytes = \"four\"",
                "x.toml:58: workload[0].bytes: 'four' is not a size"},
        BadCase{"b = \"r1\"", "b = \"r2\"", "link[0].b: no host, router or switch named 'r2'"},
        BadCase{"a_addr = [\"198.18.1.1/24\"", "a_addr = [\"198.18.1.300/24\"",
                "link[0].a_addr: '198.18.1.300/24' is not an address"},
        BadCase{"type = \"bulk\"", "type = \"bulky\"", "workload[0].type: 'bulky'"},
        BadCase{"port = 5002", "port = 5001", "workload[1].port: 5001 on server is already used"},
        BadCase{"concurrency = 2", "concurency = 2", "workload[0].concurency: unknown field"},
        BadCase{"repetitions = 2", "repetitions = 0", "x.toml:5: experiment.repetitions"},
        BadCase{"timeout = \"30s\"", "timeout = \"half a minute\"", "experiment.timeout"},
        BadCase{"name = \"tcp-example\"", "name = \"TCP example\"", "experiment.name"},
        BadCase{"server_addr = \"198.18.2.1\"", "", "workload[0]: missing field 'server_addr'"},
        BadCase{"at = \"1.5s\"", "", "link[0].change[0]: missing field 'at'"},
        BadCase{"via = \"198.18.1.254\"", "", "route[0].via: a unicast route needs a gateway"},
        BadCase{"rel = 0.15 }", "rel = -1 }", "tolerance.rtt_mean_us: abs and rel must be >= 0"},
        BadCase{"name = \"r1\"", "name = \"client\"", "router[0].name: 'client' is already used"},
        BadCase{"seed = 7", "seed = \"seven\"", "x.toml:4: experiment.seed: must be an integer"},
        BadCase{"direction = \"down\"", "direction = \"down\"\ncongestion = \"westwood2\"",
                "workload[0].congestion: 'westwood2' is not one of this kernel's: "},
        BadCase{"[[workload]]\nname = \"web\"", "[[workload]]\nname = \"web\"\n[[workload",
                "x.toml:"},
        // http: only what nginx and ab are told.
        BadCase{
            "type = \"rr\"\nclient", "type = \"http\"\nexpect = \"refused\"\nclient",
            "x.toml:64: workload[1].expect: 'refused': an http workload can only expect \"ok\""},
        BadCase{"type = \"rr\"\nclient", "type = \"http\"\nclient",
                "x.toml:68: workload[1].request: does not apply to an http workload"},
        BadCase{"type = \"rr\"\nclient", "type = \"http\"\nconcurrency = 9\nclient",
                "x.toml:64: workload[1].concurrency: 9 exceeds connections (1)"}));

TEST(ExperimentSpec, HttpWorkloadParses) {
    std::string text = mutate("type = \"rr\"", "type = \"http\"");
    for (const char* gone : {"request = 200\n", "requests = 5\n"})
        text.erase(text.find(gone), std::string(gone).size());
    const Experiment x = parse_experiment_text(text, "x.toml");
    EXPECT_EQ(x.workloads[1].type, WorkloadType::http);
    EXPECT_EQ(x.workloads[1].response, 10000u);
    EXPECT_STREQ(workload_type_name(x.workloads[1].type), "http");
}

TEST(ExperimentSpec, NoWorkloadsOrHostsIsAnError) {
    EXPECT_NE(parse_error("[experiment]\nname = \"a\"\n").find("no [[host]] declared"),
              std::string::npos);
    EXPECT_NE(parse_error("[experiment]\nname = \"a\"\n[[host]]\nname = \"h\"\n")
                  .find("no [[workload]] declared"),
              std::string::npos);
    EXPECT_NE(parse_error("[[host]]\nname = \"h\"\n").find("missing table [experiment]"),
              std::string::npos);
}

TEST(ExperimentSpec, MissingFileIsNamed) {
    try {
        parse_experiment_file("/nonexistent/x.toml");
        FAIL() << "no error";
    } catch (const ExperimentError& e) {
        EXPECT_NE(std::string(e.what()).find("/nonexistent/x.toml: cannot read"),
                  std::string::npos);
    }
}

// Every file of the default suite (and every example) must parse.
TEST(ExperimentSpec, CommittedExperimentsParse) {
    namespace fs = std::filesystem;
    size_t n = 0;
    for (const auto& e : fs::recursive_directory_iterator(FC_SOURCE_DIR "/experiments")) {
        if (e.path().extension() != ".toml" || e.path().string().find("/cnf/") != std::string::npos)
            continue;
        EXPECT_NO_THROW(parse_experiment_file(e.path())) << e.path();
        ++n;
    }
    EXPECT_GE(default_suite(FC_SOURCE_DIR).size(), 11u);
    EXPECT_GE(n, 11u);
}

namespace {

const char* kDns = R"([experiment]
name = "dns-example"

[[host]]
name = "client"
agent = true

[[host]]
name = "server"

[[link]]
name = "l1"
a = "client"
b = "server"
a_addr = ["198.18.1.1/24", "fd00:fc:1::1/64"]
b_addr = ["198.18.1.2/24", "fd00:fc:1::2/64"]
impaired = true

[[workload]]
name = "lookups"
type = "dns"
client = "client"
server = "server"
server_addr = "198.18.1.2"
names = ["a.fc.test", "aaaa.fc.test", "both.fc.test", "nx.fc.test"]
lookups = 20
family = "any"
resolver_timeout = "2s"
resolver_attempts = 3
interval = "50ms"
listen = true
servfail = ["broken.fc.test"]
expect = "mixed"
)";

std::string dns_error(const std::string& from, const std::string& to) {
    std::string s = kDns;
    const auto p = s.find(from);
    EXPECT_NE(p, std::string::npos) << from;
    return parse_error(s.replace(p, from.size(), to));
}

}  // namespace

TEST(ExperimentSpec, DnsWorkloadParsesIntoWhatItSays) {
    const Experiment x = parse_experiment_text(kDns, "x.toml");
    ASSERT_EQ(x.workloads.size(), 1u);
    const Workload& w = x.workloads[0];
    EXPECT_EQ(w.type, WorkloadType::dns);
    EXPECT_STREQ(workload_type_name(w.type), "dns");
    EXPECT_EQ(w.port, 53);
    EXPECT_EQ(w.names.size(), 4u);
    EXPECT_EQ(w.names[3], "nx.fc.test");
    EXPECT_EQ(w.servfail, std::vector<std::string>{"broken.fc.test"});
    EXPECT_EQ(w.lookups, 20u);
    EXPECT_EQ(w.family, "any");
    EXPECT_EQ(w.resolver_timeout_s, 2);
    EXPECT_EQ(w.resolver_attempts, 3);
    EXPECT_EQ(w.interval_ns, 50'000'000);
    EXPECT_TRUE(w.listen);
    EXPECT_EQ(w.expect, "mixed");
    // Defaults: one lookup per name, family any, 1 s, 2 attempts, 50 ms, mixed.
    std::string s = kDns;
    for (const char* gone :
         {"lookups = 20\n", "family = \"any\"\n", "resolver_timeout = \"2s\"\n",
          "resolver_attempts = 3\n", "interval = \"50ms\"\n", "expect = \"mixed\"\n"})
        s.erase(s.find(gone), std::string(gone).size());
    const Workload d = parse_experiment_text(s, "x.toml").workloads[0];
    EXPECT_EQ(d.lookups, 4u);
    EXPECT_EQ(d.family, "any");
    EXPECT_EQ(d.resolver_timeout_s, 1);
    EXPECT_EQ(d.resolver_attempts, 2);
    EXPECT_EQ(d.interval_ns, 50'000'000);
    EXPECT_EQ(d.expect, "mixed");
}

TEST(ExperimentSpec, DnsMistakesNameFileLineAndField) {
    const std::vector<std::tuple<std::string, std::string, std::string>> cases = {
        {"family = \"any\"", "family = \"inet\"", "x.toml:27: workload[0].family: must be"},
        {"lookups = 20", "lookups = 0", "x.toml:26: workload[0].lookups: must be 1..100000"},
        {"resolver_timeout = \"2s\"", "resolver_timeout = \"1500ms\"",
         "x.toml:28: workload[0].resolver_timeout: must be whole seconds"},
        {"resolver_attempts = 3", "resolver_attempts = 6",
         "x.toml:29: workload[0].resolver_attempts: must be 1..5"},
        {"\"nx.fc.test\"]", "\"nx.example.com\"]",
         "x.toml:25: workload[0].names: 'nx.example.com' is not a name below fc.test"},
        {"\"nx.fc.test\"]", "\"bad_name.fc.test\"]", "workload[0].names: 'bad_name.fc.test': '_'"},
        {"servfail = [\"broken.fc.test\"]", "servfail = [\"a.fc.test\"]",
         "x.toml:32: workload[0].servfail: 'a.fc.test' has records in the zone"},
        {"expect = \"mixed\"", "expect = \"refused\"",
         "x.toml:33: workload[0].expect: 'refused' must be mixed, ok, nxdomain"},
        {"expect = \"mixed\"", "expect = \"ok\"",
         "workload[0].expect: 'ok' but the zone gives nx.fc.test the outcome nxdomain"},
        {"listen = true", "listen = false",
         "workload[0].expect: 'mixed': with listen = false nobody answers"},
        {"lookups = 20", "lookups = 20\nport = 53", "workload[0].port: does not apply to a dns"},
        {"lookups = 20", "lookups = 20\nconnections = 2",
         "workload[0].connections: does not apply to a dns"},
        {"lookups = 20", "lookups = 20\nnamez = 1", "workload[0].namez: unknown field"},
        {"names = [\"a.fc.test\", \"aaaa.fc.test\", \"both.fc.test\", \"nx.fc.test\"]", "",
         "workload[0].names: a dns workload needs names"},
    };
    for (const auto& [from, to, want] : cases) {
        const std::string err = dns_error(from, to);
        EXPECT_NE(err.find(want), std::string::npos) << "error was: " << err;
        EXPECT_EQ(err.rfind("x.toml:", 0), 0u) << err;
    }
    // dns fields on another type, and two dns workloads sharing a client's resolv.conf.
    EXPECT_NE(
        parse_error(mutate("direction = \"down\"", "direction = \"down\"\nnames = [\"a.fc.test\"]"))
            .find("workload[0].names: does not apply to a bulk workload"),
        std::string::npos);
    std::string two = kDns;
    two +=
        "\n[[workload]]\nname = \"more\"\ntype = \"dns\"\nclient = \"client\"\n"
        "server = \"server\"\nserver_addr = \"fd00:fc:1::2\"\nnames = [\"a.fc.test\"]\n";
    const std::string err = parse_error(two);
    EXPECT_NE(err.find("workload[1].client: 'client' already runs dns workload 'lookups'"),
              std::string::npos)
        << err;
}

TEST(ExperimentSpec, CongestionControlIsPerWorkload) {
    const Experiment x = parse_experiment_text(
        mutate("direction = \"down\"", "direction = \"down\"\ncongestion = \"cubic\""), "x.toml");
    EXPECT_EQ(x.workloads[0].congestion, "cubic");
    EXPECT_EQ(x.workloads[1].congestion, "");
}

TEST(ExperimentSpec, DeclaredSkipsCarryTheirReason) {
    const Experiment x = parse_experiment_text(
        std::string(kValid) + "\n[validation]\nskip = { \"pcap\" = \"no capture host\" }\n",
        "x.toml");
    ASSERT_EQ(x.skips.size(), 1u);
    EXPECT_EQ(x.skips.at("pcap"), "no capture host");
    const std::string err =
        parse_error(std::string(kValid) + "\n[validation]\nskip = { \"pcap\" = \"\" }\n");
    EXPECT_NE(err.find("validation.skip"), std::string::npos) << err;
    EXPECT_NE(err.find("must say why"), std::string::npos) << err;
}
