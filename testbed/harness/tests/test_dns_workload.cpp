// The dns workload's generated files and dnsmasq's log as truth. The log is a
// real one (dnsmasq 2.90, --log-queries=extra) captured with the generated
// configuration: lookups of every zone name over IPv4 (family any), the
// SERVFAIL name through `flowcorder workload dns-servfail`, and AAAA lookups
// over IPv6.
#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <ctime>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "dns_workload.hpp"
#include "workload/dns_zone.hpp"

using namespace fc::harness;
namespace zone = fc::workload::dns;

namespace {

Workload dns_workload() {
    Workload w;
    w.name = "lookups";
    w.type = WorkloadType::dns;
    w.client = "client";
    w.server = "server";
    w.server_addr = "198.18.2.1";
    w.port = 53;
    w.names = {"a.fc.test", "nx.fc.test"};
    w.servfail = {"broken.fc.test"};
    w.lookups = 7;
    w.family = "4";
    w.resolver_timeout_s = 2;
    w.resolver_attempts = 3;
    w.interval_ns = 25'000'000;
    w.expect = "mixed";
    return w;
}

std::vector<std::string> lines(const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string l; std::getline(in, l);) out.push_back(l);
    return out;
}

int64_t local_time(int y, int mon, int d, int h, int m, int s) {
    tm t{};
    t.tm_year = y - 1900;
    t.tm_mon = mon - 1;
    t.tm_mday = d;
    t.tm_hour = h;
    t.tm_min = m;
    t.tm_sec = s;
    t.tm_isdst = -1;
    return mktime(&t);
}

std::string sample_log() {
    std::ifstream in(FC_SOURCE_DIR
                     "/testbed/harness/tests/data/dnsmasq-2.90-log-queries-extra.log");
    EXPECT_TRUE(in) << "sample log missing";
    return std::string((std::istreambuf_iterator<char>(in)), {});
}

}  // namespace

TEST(DnsWorkload, DnsmasqConfigServesTheZoneTableAndNothingElse) {
    const Workload w = dns_workload();
    DnsPaths p{"/r/dns/lookups"};
    const auto conf = lines(dnsmasq_config(w, p));
    const std::set<std::string> have(conf.begin(), conf.end());
    for (const char* want :
         {"no-resolv", "no-hosts", "no-poll", "bind-interfaces", "listen-address=198.18.2.1",
          "port=53", "cache-size=0", "log-queries=extra", "log-facility=/r/dns/lookups/dnsmasq.log",
          "pid-file=/r/dns/lookups/dnsmasq.pid", "local=/fc.test/",
          "server=/broken.fc.test/127.0.0.1#5300"})
        EXPECT_TRUE(have.count(want)) << want;
    // The host-record/txt-record lines, read back, are exactly the table.
    std::map<std::string, std::vector<std::string>> v4, v6, txt;
    int servers = 0;
    for (const auto& l : conf) {
        if (l.rfind("server=", 0) == 0) ++servers;
        if (l.rfind("host-record=", 0) == 0) {
            std::istringstream f(l.substr(12));
            std::string name, a;
            std::getline(f, name, ',');
            while (std::getline(f, a, ','))
                (a.find(':') != std::string::npos ? v6 : v4)[name].push_back(a);
        }
        if (l.rfind("txt-record=", 0) == 0) {
            const auto comma = l.find(',');
            txt[l.substr(11, comma - 11)].push_back(l.substr(comma + 2, l.size() - comma - 3));
        }
    }
    EXPECT_EQ(servers, 1);  // the SERVFAIL responder only: no upstream
    size_t names = 0;
    for (const auto& z : zone::zone_table()) {
        EXPECT_EQ(v4[z.name], z.v4) << z.name;
        EXPECT_EQ(v6[z.name], z.v6) << z.name;
        EXPECT_EQ(txt[z.name], z.txt) << z.name;
        ++names;
    }
    EXPECT_EQ(names, 4u);
    // Without servfail names nothing is forwarded at all.
    Workload plain = w;
    plain.servfail.clear();
    EXPECT_EQ(dnsmasq_config(plain, p).find("server="), std::string::npos);
}

TEST(DnsWorkload, ResolvConfNftRulesAndClientArguments) {
    Workload w = dns_workload();
    EXPECT_EQ(resolv_conf(w).substr(resolv_conf(w).find("nameserver")),
              "nameserver 198.18.2.1\noptions timeout:2 attempts:3\n");
    EXPECT_NE(nft_drop_rules(w).find("ip daddr 198.18.2.1 udp dport 53 counter drop"),
              std::string::npos);
    w.server_addr = "fd00:fc:2::1";
    EXPECT_NE(nft_drop_rules(w).find("ip6 daddr fd00:fc:2::1 udp dport 53 counter drop"),
              std::string::npos);
    EXPECT_NE(nft_drop_rules(w).find("table inet fc_dns_lookups"), std::string::npos);
    const auto a = dns_client_args(w, "/r/truth/client-lookups-dns.jsonl");
    auto value = [&](const std::string& opt) {
        for (size_t i = 0; i + 1 < a.size(); ++i)
            if (a[i] == opt) return a[i + 1];
        return std::string("<missing>");
    };
    EXPECT_EQ(a[0], "dns-client");
    EXPECT_EQ(value("--names"), "a.fc.test,nx.fc.test");
    EXPECT_EQ(value("--servfail"), "broken.fc.test");
    EXPECT_EQ(value("--lookups"), "7");
    EXPECT_EQ(value("--family"), "4");
    EXPECT_EQ(value("--interval"), "0.025s");
    EXPECT_EQ(value("--expect"), "mixed");
    EXPECT_EQ(value("--server"), "fd00:fc:2::1");
    EXPECT_EQ(value("--truth"), "/r/truth/client-lookups-dns.jsonl");
    EXPECT_EQ(value("--host"), "client");
    EXPECT_EQ(value("--workload"), "lookups");
}

TEST(DnsWorkload, RealDnsmasqLogBecomesOneTruthLinePerQuery) {
    const int64_t ref = local_time(2026, 11, 26, 5, 0, 0);
    const auto t = dnsmasq_log_to_truth(sample_log(), "server", "lookups", ref);
    EXPECT_TRUE(t.problems.empty()) << t.problems.front();
    ASSERT_EQ(t.queries.size(), 17u);  // serials 1..17
    std::map<int64_t, nlohmann::ordered_json> by;
    for (const auto& q : t.queries) {
        EXPECT_EQ(q["host"], "server");
        EXPECT_EQ(q["workload"], "lookups");
        EXPECT_EQ(q["t_s"], local_time(2026, 11, 26, 4, 43, 13));
        by[q["serial"].get<int64_t>()] = q;
    }
    for (int64_t s = 1; s <= 17; ++s) ASSERT_TRUE(by.count(s)) << s;
    EXPECT_EQ(by[1]["client"], "198.18.0.1");
    EXPECT_EQ(by[1]["client_port"], 37409);
    EXPECT_EQ(by[1]["qtype"], "A");
    EXPECT_EQ(by[1]["name"], "a.fc.test");
    EXPECT_EQ(by[1]["answer"], "198.18.200.1");
    EXPECT_EQ(by[1]["source"], "config");
    EXPECT_EQ(by[2]["qtype"], "AAAA");
    EXPECT_EQ(by[2]["answer"], "NODATA");  // "NODATA-IPv6"
    EXPECT_EQ(by[3]["answer"], "NODATA");  // "NODATA-IPv4"
    EXPECT_EQ(by[4]["answer"], "fd00:fc:200::1");
    EXPECT_EQ(by[5]["answers"], (std::vector<std::string>{"198.18.200.2", "198.18.200.3"}));
    EXPECT_EQ(by[5]["answer"], "198.18.200.2");
    EXPECT_EQ(by[6]["answers"].size(), 2u);
    EXPECT_EQ(by[7]["answer"], "NODATA");  // txt-only, A
    EXPECT_EQ(by[9]["answer"], "NXDOMAIN");
    EXPECT_EQ(by[10]["answer"], "NXDOMAIN");
    for (int64_t s : {11, 12, 13, 14}) {
        EXPECT_EQ(by[s]["name"], "broken.fc.test") << s;
        EXPECT_EQ(by[s]["answer"], "SERVFAIL") << s;
        EXPECT_EQ(by[s]["source"], "reply") << s;
        EXPECT_EQ(by[s]["forwarded_to"], "127.0.0.1#5300") << s;
        EXPECT_EQ(by[s]["client_port"], 40017) << s;  // A and AAAA, both attempts: one socket
    }
    EXPECT_EQ(by[15]["client"], "fd00:fc::1");
    EXPECT_EQ(by[15]["client_port"], 39355);
    EXPECT_EQ(by[16]["answers"], (std::vector<std::string>{"fd00:fc:200::3", "fd00:fc:200::2"}));
    EXPECT_EQ(by[17]["answer"], "NXDOMAIN");
}

TEST(DnsWorkload, LogTimesTakeTheYearBeforeTheReference) {
    const std::string line =
        "Dec 31 23:59:59 dnsmasq[7]: 1 198.18.1.1/4000 query[A] a.fc.test "
        "from 198.18.1.1\n";
    const auto t = dnsmasq_log_to_truth(line, "s", "w", local_time(2027, 1, 1, 0, 0, 5));
    ASSERT_EQ(t.queries.size(), 1u);
    EXPECT_EQ(t.queries[0]["t_s"], local_time(2026, 12, 31, 23, 59, 59));
    EXPECT_TRUE(t.queries[0]["answer"].is_null());  // no answer logged
    EXPECT_EQ(t.queries[0]["source"], "none");
    const auto u = dnsmasq_log_to_truth(
        "Nov  6 01:02:03 dnsmasq[7]: 2 198.18.1.1/4000 query[A] "
        "a.fc.test from 198.18.1.1\n",
        "s", "w", local_time(2026, 11, 26, 5, 0, 0));
    EXPECT_EQ(u.queries.at(0)["t_s"], local_time(2026, 11, 6, 1, 2, 3));
}

TEST(DnsWorkload, BadLogLinesAreNamed) {
    try {
        dnsmasq_log_to_truth("Nov 26 04:43:13 dnsmasq[1]: started\ngarbage here\n", "s", "w", 0);
        FAIL() << "no error";
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find("line 2: not a dnsmasq log line: garbage here"),
                  std::string::npos)
            << e.what();
    }
    EXPECT_THROW(dnsmasq_log_to_truth(
                     "Nov 26 04:43:13 dnsmasq[1]: 1 198.18.1.1/99999 query[A] a.fc.test from x\n",
                     "s", "w", 0),
                 std::runtime_error);
    const auto t = dnsmasq_log_to_truth(
        "Nov 26 04:43:13 dnsmasq[1]: 8 198.18.1.1/4000 config a.fc.test is 198.18.200.1\n", "s",
        "w", local_time(2026, 11, 26, 5, 0, 0));
    EXPECT_TRUE(t.queries.empty());
    ASSERT_EQ(t.problems.size(), 1u);
    EXPECT_NE(t.problems[0].find("line 1: serial 8 without its query line"), std::string::npos);
}
