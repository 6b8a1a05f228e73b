// The dns workload for real: two namespaces joined by a veth (made here),
// dnsmasq started by the harness's DnsServer in one, `flowcorder workload
// dns-client` run through `ip netns exec` in the other (so that the C
// library reads the resolv.conf the harness wrote). Every lookup's outcome
// and addresses are checked against the zone table, and dnsmasq's log
// against the lookups.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "dns_workload.hpp"
#include "support/netns.hpp"
#include "workload/dns_zone.hpp"

namespace fs = std::filesystem;
using json = nlohmann::json;
using namespace fc::harness;
namespace zone = fc::workload::dns;
using namespace std::chrono_literals;

namespace {

struct Ran {
    pid_t pid = -1;
    int status = -1;
    std::string output;
};

// `ip netns exec NS flowcorder workload ARGS...`; ip execs flowcorder, so the
// child's pid is the tool's.
Ran run_tool(const std::string& ns, const std::vector<std::string>& args, const fs::path& log) {
    std::vector<std::string> argv = {"ip", "netns", "exec", ns, FC_FLOWCORDER_BIN, "workload"};
    argv.insert(argv.end(), args.begin(), args.end());
    Ran r;
    r.pid = fork();
    if (r.pid == 0) {
        FILE* f = std::fopen(log.c_str(), "w");
        if (f) {
            dup2(fileno(f), 1);
            dup2(fileno(f), 2);
        }
        std::vector<char*> a;
        for (auto& s : argv) a.push_back(s.data());
        a.push_back(nullptr);
        execvp("ip", a.data());
        _exit(127);
    }
    int st = 0;
    for (auto end = std::chrono::steady_clock::now() + 60s;;) {
        if (waitpid(r.pid, &st, WNOHANG) == r.pid) break;
        if (std::chrono::steady_clock::now() > end) {
            kill(r.pid, SIGKILL);
            waitpid(r.pid, &st, 0);
            break;
        }
        std::this_thread::sleep_for(10ms);
    }
    r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    std::ifstream in(log);
    r.output.assign(std::istreambuf_iterator<char>(in), {});
    return r;
}

std::vector<json> read_lines(const fs::path& p) {
    std::vector<json> out;
    std::ifstream in(p);
    for (std::string line; std::getline(in, line);)
        if (!line.empty()) out.push_back(json::parse(line));
    return out;
}

class DnsNetns : public ::testing::Test {
  protected:
    void SetUp() override {
        dir_ = fs::temp_directory_path() / ("fc-dns-test-" + std::to_string(getpid()));
        fs::remove_all(dir_);
        fs::create_directories(dir_);
    }
    void TearDown() override { fs::remove_all(dir_); }

    Workload workload(const std::string& server_addr) const {
        Workload w;
        w.name = "lookups";
        w.type = WorkloadType::dns;
        w.client = "client";
        w.server = "server";
        w.server_addr = server_addr;
        w.port = 53;
        for (const auto& z : zone::zone_table()) w.names.push_back(z.name);
        w.names.push_back("nx.fc.test");
        w.names.push_back("broken.fc.test");
        w.servfail = {"broken.fc.test"};
        w.lookups = static_cast<uint32_t>(2 * w.names.size());
        w.resolver_timeout_s = 1;
        w.resolver_attempts = 2;
        w.interval_ns = 0;
        w.expect = "mixed";
        return w;
    }

    // Every lookup as the zone says; returns the lookups.
    std::vector<json> check_client(const Workload& w, const Ran& r, const fs::path& truth) {
        EXPECT_EQ(r.status, 0) << r.output;
        const auto lines = read_lines(truth);
        EXPECT_EQ(lines.size(), w.lookups) << r.output;
        const auto fam = *zone::family_from_string(w.family);
        for (size_t i = 0; i < lines.size(); ++i) {
            const json& l = lines[i];
            const std::string name = l["name"];
            SCOPED_TRACE(name + " family " + w.family);
            EXPECT_EQ(name, w.names[i % w.names.size()]);
            EXPECT_EQ(l["lookup"], i);
            EXPECT_EQ(l["family"], w.family);
            // The zone's answer, through dnsmasq and the C library.
            const std::string want = zone::expected_outcome(name, fam, w.servfail);
            EXPECT_EQ(l["outcome"], want);
            EXPECT_EQ(l["expected"], want);
            const std::map<std::string, std::string> rc = {{"answer", "ok"},
                                                           {"nodata", "EAI_NODATA"},
                                                           {"nxdomain", "EAI_NONAME"},
                                                           {"temporary", "EAI_AGAIN"}};
            EXPECT_EQ(l["rc_name"], rc.at(want));
            const zone::ZoneName* z = zone::zone_lookup(name);
            std::set<std::string> v4 = l["v4"], v6 = l["v6"], z4, z6;
            if (z && fam != zone::Family::v6) z4.insert(z->v4.begin(), z->v4.end());
            if (z && fam != zone::Family::v4) z6.insert(z->v6.begin(), z->v6.end());
            EXPECT_EQ(v4, z4);
            EXPECT_EQ(v6, z6);
            EXPECT_EQ(l["v4"].size(), v4.size());  // distinct
            // ip netns exec makes no pid namespace: the ids are the root namespace's.
            EXPECT_EQ(l["pid"], r.pid);
            EXPECT_EQ(l["tid"], r.pid);
            EXPECT_EQ(l["server"], w.server_addr);
            EXPECT_LE(l["t_start_ns"].get<int64_t>(), l["t_end_ns"].get<int64_t>());
        }
        return lines;
    }

    fc::test::VethPair net_;
    fs::path dir_;
};

}  // namespace

TEST_F(DnsNetns, LookupsOfEveryZoneNameMatchTheTableAndDnsmasqsLog) {
    const Workload w = workload(fc::test::VethPair::kServerV4);
    const std::string etc = "/etc/netns/" + net_.client_ns();
    std::map<std::string, std::vector<json>> by_family;
    std::vector<json> server;
    {
        DnsServer srv(w, net_.server_ns(), net_.client_ns(), dir_ / "dns", FC_FLOWCORDER_BIN, dir_);
        ASSERT_TRUE(fs::exists(etc + "/resolv.conf"));
        srv.wait_ready(10s);
        for (const char* family : {"any", "4", "6"}) {
            Workload wf = w;
            wf.family = family;
            const fs::path truth = dir_ / (std::string("client-") + family + ".jsonl");
            const Ran r = run_tool(net_.client_ns(), dns_client_args(wf, truth),
                                   dir_ / (std::string("client-") + family + ".log"));
            by_family[family] = check_client(wf, r, truth);
        }
        const auto problems = srv.stop();
        EXPECT_TRUE(problems.empty()) << problems.front();
        const auto t = srv.truth(std::chrono::duration_cast<std::chrono::seconds>(
                                     std::chrono::system_clock::now().time_since_epoch())
                                     .count());
        EXPECT_TRUE(t.problems.empty()) << t.problems.front();
        for (const auto& q : t.queries) server.push_back(json::parse(q.dump()));
    }
    // Everything the server side made is gone with it.
    EXPECT_FALSE(fs::exists(etc));

    // dnsmasq received one query per lookup and address family asked for
    // (family any: A and AAAA); the C library sends a query answered with
    // SERVFAIL once per resolv.conf attempt.
    std::map<std::pair<std::string, std::string>, int> want, got;
    for (const auto& [family, lines] : by_family)
        for (const auto& l : lines) {
            const std::string name = l["name"];
            const int copies = name == "broken.fc.test" ? w.resolver_attempts : 1;
            if (family != "6") want[{name, "A"}] += copies;
            if (family != "4") want[{name, "AAAA"}] += copies;
        }
    for (const auto& q : server) {
        ++got[{q["name"], q["qtype"]}];
        EXPECT_EQ(q["client"], fc::test::VethPair::kClientV4);
        const std::string name = q["name"];
        const zone::ZoneName* z = zone::zone_lookup(name);
        const std::string answer = q["answer"].is_null() ? "" : q["answer"].get<std::string>();
        if (name == "broken.fc.test")
            EXPECT_EQ(answer, "SERVFAIL");
        else if (!z)
            EXPECT_EQ(answer, "NXDOMAIN") << name;
        else {
            const auto& addrs = q["qtype"] == "A" ? z->v4 : z->v6;
            if (addrs.empty())
                EXPECT_EQ(answer, "NODATA") << name;
            else
                EXPECT_EQ(std::set<std::string>(q["answers"].begin(), q["answers"].end()),
                          std::set<std::string>(addrs.begin(), addrs.end()))
                    << name;
        }
    }
    EXPECT_EQ(got, want);
}

TEST_F(DnsNetns, Ipv6ServerAddress) {
    Workload w = workload(fc::test::VethPair::kServerV6);
    w.names = {"a.fc.test", "both.fc.test", "nx.fc.test"};
    w.servfail.clear();
    w.lookups = 3;
    DnsServer srv(w, net_.server_ns(), net_.client_ns(), dir_ / "dns6", FC_FLOWCORDER_BIN, dir_);
    srv.wait_ready(10s);
    const fs::path truth = dir_ / "client6.jsonl";
    const Ran r = run_tool(net_.client_ns(), dns_client_args(w, truth), dir_ / "client6.log");
    check_client(w, r, truth);
    srv.stop();
    const auto t = srv.truth(std::chrono::duration_cast<std::chrono::seconds>(
                                 std::chrono::system_clock::now().time_since_epoch())
                                 .count());
    ASSERT_EQ(t.queries.size(), 6u);  // A and AAAA per lookup
    for (const auto& q : t.queries) EXPECT_EQ(q["client"], fc::test::VethPair::kClientV6);
}

TEST_F(DnsNetns, NoServerMeansTimeouts) {
    Workload w = workload(fc::test::VethPair::kServerV4);
    w.listen = false;
    w.names = {"a.fc.test"};
    w.servfail.clear();
    w.lookups = 2;
    w.resolver_attempts = 1;
    w.expect = "timeout";
    {
        DnsServer srv(w, net_.server_ns(), net_.client_ns(), dir_ / "none", FC_FLOWCORDER_BIN,
                      dir_);
        srv.wait_ready(1s);
        const fs::path truth = dir_ / "timeouts.jsonl";
        const Ran r = run_tool(net_.client_ns(), dns_client_args(w, truth), dir_ / "timeouts.log");
        EXPECT_EQ(r.status, 0) << r.output;
        const auto lines = read_lines(truth);
        ASSERT_EQ(lines.size(), 2u);
        for (const auto& l : lines) {
            EXPECT_EQ(l["outcome"], "temporary");
            EXPECT_EQ(l["rc_name"], "EAI_AGAIN");
            // Silence, not ICMP: the resolver waited out its timeout.
            EXPECT_GE(l["t_end_ns"].get<int64_t>() - l["t_start_ns"].get<int64_t>(), 900'000'000);
        }
        EXPECT_TRUE(srv.stop().empty());
        EXPECT_TRUE(srv.truth(0).queries.empty());
    }
    // The drop rules went with the server object.
    int rc = 0;
    FILE* p = popen(("ip netns exec " + net_.server_ns() + " nft list tables 2>&1").c_str(), "r");
    std::string out;
    char buf[256];
    while (p && fgets(buf, sizeof buf, p)) out += buf;
    if (p) rc = pclose(p);
    EXPECT_EQ(rc, 0) << out;
    EXPECT_EQ(out.find("fc_dns_"), std::string::npos) << out;
    EXPECT_FALSE(fs::exists("/etc/netns/" + net_.client_ns()));
}

// Run without the harness's resolv.conf, the tool refuses before any query.
TEST_F(DnsNetns, ClientRefusesAnotherNameserver) {
    const fs::path other = dir_ / "other-resolv.conf";
    std::ofstream(other) << "nameserver 198.18.0.99\n";
    const Workload w = workload(fc::test::VethPair::kServerV4);
    auto args = dns_client_args(w, dir_ / "refused.jsonl");
    args.insert(args.end(), {"--resolv-conf", other.string()});
    const Ran r = run_tool(net_.client_ns(), args, dir_ / "refused.log");
    EXPECT_EQ(r.status, 1);
    EXPECT_NE(r.output.find("first nameserver is 198.18.0.99, expected 198.18.0.2"),
              std::string::npos)
        << r.output;
    EXPECT_FALSE(fs::exists(dir_ / "refused.jsonl"));
}
