// The DNS half of the validator on a crafted run: three lookups (an answer,
// an NXDOMAIN, a timeout after a retransmission). The consistent run passes
// every row, over IPv4 and over IPv6, with or without an agent on the DNS
// server's host; each wrong KPI fails the row that judges it.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "impair/log.hpp"
#include "impair/model.hpp"
#include "validate/tests/crafted_db.hpp"
#include "validate/validate.hpp"

namespace {

namespace fs = std::filesystem;
namespace impair = fc::impair;
using nlohmann::json;

constexpr int64_t kBase = 1'700'000'000'000'000'000;
constexpr int64_t kMs = 1'000'000;
constexpr int64_t kOd = 21;
constexpr int64_t kPid = 4242;
const char* const kClient = "198.18.1.1";
const char* const kServer = "198.18.2.1";
constexpr int64_t kLookupBase = int64_t{1} << 62;

struct Query {
    int64_t lookup, id, qtype, cport, attempts, t_first, t_last;
    std::optional<int64_t> t_reply;
    int64_t qsize, rsize, rcode, answers;
    std::string name;
};
struct Lookup {
    int64_t n;
    std::string name, outcome;
    int64_t rc, t_start, t_end, v4, v6;
};

struct DnsRun {
    std::string client = kClient, server = kServer;
    bool server_agent = false;  // the DNS server's host runs an agent too
    // A router between client and server, its link to the server impaired
    // and logged too: that log holds only the copies that survived l1.
    bool second_hop = false;
    std::vector<Lookup> lookups;
    std::vector<Query> queries;
    std::vector<json> lookup_rows, query_rows;  // agent profiles, mutable by tests
    std::vector<impair::LogRecord> implog;
    std::vector<json> server_log;
    std::vector<json> capture_extra;  // raw entries appended to the captures' dns array

    void write(const fs::path& run) const {
        const fs::path rep = run / "dns-exp" / "rep-0";
        fs::create_directories(rep / "truth");
        fs::create_directories(rep / "captures");
        fs::create_directories(rep / "links");
        json manifest = {
            {"experiment", "dns-exp"},
            {"repetition", 0},
            {"hosts",
             {{{"name", "client"}, {"agent", true}, {"observation_domain", kOd}},
              server_agent
                  ? json{{"name", "server"}, {"agent", true}, {"observation_domain", kOd + 1}}
                  : json{{"name", "server"}, {"agent", false}}}},
            {"links",
             {{{"name", "l1"},
               {"a", "client"},
               {"b", "server"},
               {"impaired", true},
               {"a_addr", json::array({client + (v6() ? "/64" : "/24")})},
               {"b_addr", json::array({server + (v6() ? "/64" : "/24")})},
               {"log", "links/l1.implog"},
               {"captures", {{"a", "captures/l1-a"}, {"b", "captures/l1-b"}}}}}},
            {"workloads",
             {{{"name", "lookups"},
               {"type", "dns"},
               {"truth", json::array()},
               {"dns_truth",
                {{"client", "truth/client-lookups-dns.jsonl"},
                 {"server", "truth/server-lookups-dnsmasq.jsonl"}}}}}}};
        if (second_hop) {
            // client - r1 - server: l1 ends at the router, l2 carries on.
            json l1 = json::object();
            l1["name"] = "l1";
            l1["a"] = "client";
            l1["b"] = "r1";
            l1["impaired"] = true;
            l1["a_addr"] = json::array({client + (v6() ? "/64" : "/24")});
            l1["b_addr"] = json::array();
            l1["log"] = "links/l1.implog";
            l1["captures"] = json::object({{"a", "captures/l1-a"}});
            json l2 = json::object();
            l2["name"] = "l2";
            l2["a"] = "r1";
            l2["b"] = "server";
            l2["impaired"] = true;
            l2["a_addr"] = json::array();
            l2["b_addr"] = json::array({server + (v6() ? "/64" : "/24")});
            l2["log"] = "links/l2.implog";
            manifest["links"] = json::array({l1, l2});
            json r1 = json::object();
            r1["name"] = "r1";
            r1["agent"] = false;
            manifest["hosts"].push_back(r1);
        }
        std::ofstream(rep / "manifest.json") << manifest.dump();
        std::ofstream t(rep / "truth" / "client-lookups-dns.jsonl");
        for (const auto& l : lookups)
            t << json{{"host", "client"},    {"workload", "lookups"},   {"lookup", l.n},
                      {"name", l.name},      {"family", "any"},         {"pid", kPid},
                      {"tid", kPid},         {"t_start_ns", l.t_start}, {"t_end_ns", l.t_end},
                      {"rc", l.rc},          {"rc_name", "x"},          {"outcome", l.outcome},
                      {"v4", json::array()}, {"v6", json::array()},     {"server", server}}
                     .dump()
              << "\n";
        t.close();
        // v4/v6 lists of the right lengths.
        std::string text;
        {
            std::ifstream in(rep / "truth" / "client-lookups-dns.jsonl");
            std::string line;
            size_t i = 0;
            while (std::getline(in, line)) {
                json j = json::parse(line);
                j["v4"] = json::array();
                j["v6"] = json::array();
                for (int64_t k = 0; k < lookups[i].v4; ++k) j["v4"].push_back("198.18.200.1");
                for (int64_t k = 0; k < lookups[i].v6; ++k) j["v6"].push_back("fd00:200::1");
                text += j.dump() + "\n";
                ++i;
            }
        }
        std::ofstream(rep / "truth" / "client-lookups-dns.jsonl") << text;
        std::ofstream s(rep / "truth" / "server-lookups-dnsmasq.jsonl");
        for (const auto& j : server_log) s << j.dump() << "\n";
        s.close();
        json cap = {{"pcap_drops", 0}, {"connections", json::array()}, {"dns", json::array()}};
        for (const auto& q : queries) {
            json j = {{"client", client},
                      {"client_port", q.cport},
                      {"server", server},
                      {"server_port", 53},
                      {"id", q.id},
                      {"qname", q.name},
                      {"qtype", q.qtype},
                      {"attempts", q.attempts},
                      {"t_first_query_ns", q.t_first},
                      {"t_last_query_ns", q.t_last},
                      {"query_size", q.qsize}};
            j["t_reply_ns"] = q.t_reply ? json(*q.t_reply) : json(nullptr);
            j["reply_size"] = q.t_reply ? json(q.rsize) : json(nullptr);
            j["rcode"] = q.t_reply ? json(q.rcode) : json(nullptr);
            j["answers"] = q.t_reply ? json(q.answers) : json(nullptr);
            cap["dns"].push_back(j);
        }
        for (const auto& j : capture_extra) cap["dns"].push_back(j);
        // Both ends of the link saw every query: the client sent it, the
        // server received it (the link drops no whole query here).
        std::ofstream(rep / "captures" / "l1-a.json") << cap.dump();
        std::ofstream(rep / "captures" / "l1-b.json") << cap.dump();
        impair::LogWriter w;
        w.open((rep / "links" / "l1.implog").string(), 7, kBase, "l1");
        w.write(implog.data(), implog.size());
        w.close();
        if (second_hop) {
            std::vector<impair::LogRecord> survived;
            for (auto rec : implog)
                if (rec.action != static_cast<uint8_t>(impair::Action::dropped)) {
                    rec.t_in_ns = rec.t_out_ns;
                    rec.t_out_ns += kMs;
                    survived.push_back(rec);
                }
            impair::LogWriter w2;
            w2.open((rep / "links" / "l2.implog").string(), 8, kBase, "l2");
            w2.write(survived.data(), survived.size());
            w2.close();
        }
        std::vector<json> all = lookup_rows;
        all.insert(all.end(), query_rows.begin(), query_rows.end());
        fc::validate::test::write_profiles_table(run / "profiles.sqlite", all);
    }
    bool v6() const { return client.find(':') != std::string::npos; }
};

impair::LogRecord udp(const Query& q, uint64_t t, bool dropped, const std::string& client,
                      const std::string& server) {
    impair::LogRecord r{};
    r.t_in_ns = t;
    r.t_out_ns = dropped ? 0 : t + kMs;
    r.count = 1;
    r.dir = 0;
    r.action = static_cast<uint8_t>(dropped ? impair::Action::dropped : impair::Action::forwarded);
    const bool v6 = client.find(':') != std::string::npos;
    r.ip_version = v6 ? 6 : 4;
    r.proto = 17;
    inet_pton(v6 ? AF_INET6 : AF_INET, client.c_str(), r.src);
    inet_pton(v6 ? AF_INET6 : AF_INET, server.c_str(), r.dst);
    r.sport = static_cast<uint16_t>(q.cport);
    r.dport = 53;
    r.payload_len = static_cast<uint16_t>(q.qsize);
    r.has_dns_id = 1;
    r.dns_id = static_cast<uint16_t>(q.id);
    return r;
}

// `client_as_exported`: the agent's spelling of the client address (the
// validator compares addresses, not their text).
DnsRun consistent(const std::string& client = kClient, const std::string& server = kServer,
                  const std::string& client_as_exported = "") {
    DnsRun run;
    run.client = client;
    run.server = server;
    const int64_t t = kBase;
    run.lookups = {{0, "a.fc.test", "answer", 0, t, t + 2 * kMs, 1, 1},
                   {1, "nx.fc.test", "nxdomain", -2, t + 100 * kMs, t + 103 * kMs, 0, 0},
                   {2, "slow.fc.test", "temporary", -3, t + 200 * kMs, t + 2200 * kMs, 0, 0}};
    run.queries = {
        {0, 100, 1, 40000, 1, t + kMs / 5, t + kMs / 5, t + kMs, 27, 43, 0, 1, "a.fc.test"},
        {1, 200, 1, 40001, 1, t + 100 * kMs + kMs / 5, t + 100 * kMs + kMs / 5, t + 101 * kMs, 28,
         28, 3, 0, "nx.fc.test"},
        {1, 201, 28, 40001, 1, t + 100 * kMs + kMs / 4, t + 100 * kMs + kMs / 4, t + 102 * kMs, 28,
         28, 3, 0, "nx.fc.test"},
        {2, 300, 1, 40002, 2, t + 200 * kMs + kMs / 5, t + 1200 * kMs, std::nullopt, 30, 0, 0, 0,
         "slow.fc.test"}};
    for (const auto& l : run.lookups)
        run.lookup_rows.push_back({{"observation_domain", kOd},
                                   {"template_id", 260},
                                   {"flow_id", kLookupBase | l.n},
                                   {"profile_seq", 0},
                                   {"role", 1},
                                   {"window_start_ns", l.t_start + 3000},
                                   {"window_end_ns", l.t_end - 3000},
                                   {"start_state", 1},
                                   {"end_state", l.rc == 0    ? 4
                                                 : l.rc == -2 ? 6
                                                              : 5},
                                   {"close_cause", l.rc == -3 ? 4 : 0},
                                   {"pid", kPid},
                                   {"dns_name", l.name},
                                   {"dns_lookup_id", kLookupBase | l.n},
                                   {"dns_outcome", l.rc == 0    ? 0
                                                   : l.rc == -2 ? 1
                                                                : 4},
                                   {"dns_gai_error", -l.rc},
                                   {"dns_v4_addrs", l.v4},
                                   {"dns_v6_addrs", l.v6},
                                   {"dns_queries", l.n == 1 ? 2 : 1},
                                   {"dns_latency_us", (l.t_end - l.t_start) / 1000 - 6}});
    int64_t qid = 0;
    for (const auto& q : run.queries) {
        run.query_rows.push_back(
            {{"observation_domain", kOd},
             {"template_id", client.find(':') != std::string::npos ? 262 : 261},
             {"flow_id", (int64_t{1} << 61) + ++qid},
             {"profile_seq", 0},
             {"src_addr", client_as_exported.empty() ? client : client_as_exported},
             {"dst_addr", server},
             {"src_port", q.cport},
             {"dst_port", 53},
             {"protocol", 17},
             {"role", 1},
             {"window_start_ns", q.t_first - 20000},
             {"window_end_ns", q.t_reply.value_or(q.t_last + kMs)},
             {"start_state", 1},
             {"end_state", q.t_reply ? (q.rcode ? 6 : 4) : 5},
             {"close_cause", 0},
             {"pid", kPid},
             {"dns_name", q.name},
             {"dns_lookup_id", kLookupBase | q.lookup},
             {"dns_outcome", q.t_reply ? (q.rcode == 3 ? 1 : 0) : 4},
             {"dns_id", q.id},
             {"dns_qtype", q.qtype},
             {"dns_attempts", q.attempts},
             {"dns_lat_first_us", q.t_reply ? (*q.t_reply - q.t_first) / 1000 + 20 : 0},
             {"dns_lat_last_us", q.t_reply ? (*q.t_reply - q.t_last) / 1000 + 20 : 0},
             {"dns_query_bytes", q.qsize},
             {"dns_reply_bytes", q.t_reply ? q.rsize : 0},
             {"dns_rcode", q.t_reply ? q.rcode : 255},
             {"dns_answers", q.answers}});
        // The link carried every copy; it dropped the first of the slow query.
        for (int64_t a = 0; a < q.attempts; ++a) {
            const bool dropped = q.lookup == 2 && a == 0;
            run.implog.push_back(
                udp(q, static_cast<uint64_t>(q.t_first + a * 1000 * kMs), dropped, client, server));
            if (!dropped)
                run.server_log.push_back(
                    {{"client", client},
                     {"client_port", q.cport},
                     {"qtype", q.qtype == 1 ? "A" : "AAAA"},
                     {"name", q.name},
                     {"answer", "x"},
                     {"serial", 1},
                     {"t_s", (q.t_first + a * 1000 * kMs + kMs) / 1'000'000'000}});
        }
    }
    return run;
}

class ValidateDns : public ::testing::Test {
  protected:
    fs::path dir;
    DnsRun run = consistent();
    void SetUp() override {
        char tmpl[] = "/tmp/fc-validate-dns-XXXXXX";
        ASSERT_TRUE(mkdtemp(tmpl));
        dir = tmpl;
    }
    void TearDown() override { fs::remove_all(dir); }
    std::set<std::string> failing() {
        fs::remove_all(dir);
        fs::create_directories(dir);
        run.write(dir);
        const auto r = fc::validate::validate_run(dir.string(), true);
        std::set<std::string> out;
        for (const auto& row : r.rows)
            if (!row.pass) out.insert(row.kpi + "/" + row.source);
        return out;
    }
};

TEST_F(ValidateDns, ConsistentRunPassesEveryRowAndCoversEveryGroup) {
    fs::create_directories(dir);
    run.write(dir);
    const auto r = fc::validate::validate_run(dir.string(), true);
    std::set<std::string> rows, bad;
    for (const auto& row : r.rows) {
        rows.insert(row.protocol + ":" + row.kpi + "/" + row.source);
        if (!row.pass) bad.insert(row.kpi + "/" + row.source + " " + row.note);
    }
    EXPECT_TRUE(bad.empty()) << ::testing::PrintToString(bad);
    for (const char* want : {"dns:lookup_profile/workload",
                             "dns:orphan_lookups/workload",
                             "dns:orphan_queries/pcap",
                             "dns:dns_outcome/workload",
                             "dns:dns_gai_error/workload",
                             "dns:dns_v4_addrs/workload",
                             "dns:dns_latency_us/workload",
                             "dns:dns_queries/pcap",
                             "dns:query_profile/pcap",
                             "dns:dns_attempts/pcap",
                             "dns:dns_attempts/impairment_log",
                             "dns:dns_delivered/server_log",
                             "dns:dns_rcode/pcap",
                             "dns:dns_reply_bytes/pcap",
                             "dns:dns_lat_first_us/pcap",
                             "dns:dns_lat_last_us/pcap",
                             "dns:dns_link/workload",
                             "dns:window_start_ns/pcap",
                             "dns:coverage:dns_wire/any",
                             "dns:coverage:dns_resolver/any",
                             "dns:coverage:dns_views_linked/any"})
        EXPECT_TRUE(rows.count(want)) << want;
    // A DNS-only experiment owes no TCP rows.
    for (const auto& row : r.rows) EXPECT_NE(row.protocol, "tcp") << row.kpi;
}

// The server end of the link captured every query too. The server's agent
// has no profile of them, by design (the wire view is the sender's): they
// are not its to report, and no row may say they are missing.
TEST_F(ValidateDns, QueriesTheServerReceivedAreNotItsAgentsToProfile) {
    run.server_agent = true;
    EXPECT_EQ(failing(), std::set<std::string>{});
    size_t compared = 0;
    for (const auto& d : fc::validate::validate_run(dir.string(), true).details)
        if (d.kpi == "query_profile") {
            EXPECT_EQ(d.host, "client");
            ++compared;
        }
    EXPECT_EQ(compared, run.queries.size());
}

// Issue 12's case: DNS over IPv6, a copy lost on the link, an agent on both
// hosts; the agent spells the client's address otherwise than inet_ntop.
TEST_F(ValidateDns, Ipv6RunWithAnAgentOnTheServerPassesEveryRow) {
    run = consistent("fd00:fc:1::1", "fd00:fc:2::1", "fd00:fc:1:0:0:0:0:1");
    run.server_agent = true;
    EXPECT_EQ(failing(), std::set<std::string>{});
}

// Each copy of a query crosses every hop: counted on the sender's own link
// only, since a later hop's log holds only what the earlier ones let through.
TEST_F(ValidateDns, AttemptsAreCountedOnTheSendersOwnLink) {
    run.second_hop = true;
    EXPECT_EQ(failing(), std::set<std::string>{});
    size_t compared = 0;
    for (const auto& d : fc::validate::validate_run(dir.string(), true).details)
        compared += d.kpi == "dns_attempts" && d.source == "impairment_log";
    EXPECT_EQ(compared, run.queries.size());
}

// A copy the link corrupted fails the server's UDP checksum: the server never
// logs it, and it counts as dropped (the explorer's seed 107).
TEST_F(ValidateDns, CorruptedCopyIsNotDelivered) {
    ASSERT_FALSE(run.implog.empty());
    ASSERT_FALSE(run.server_log.empty());
    ASSERT_EQ(run.implog[0].action, static_cast<uint8_t>(impair::Action::forwarded));
    run.implog[0].flags = impair::flag_corrupted;
    run.implog[0].corrupt_bit = 200;  // in the UDP payload
    run.server_log.erase(run.server_log.begin());
    EXPECT_EQ(failing(), std::set<std::string>{});
}

// A clone the engine made (duplicate) is no attempt of the client's, but the
// server gets and logs it (the explorer's seed 203).
TEST_F(ValidateDns, EngineCloneIsNoAttemptButReachesTheServer) {
    ASSERT_FALSE(run.implog.empty());
    ASSERT_FALSE(run.server_log.empty());
    impair::LogRecord clone = run.implog[0];
    clone.flags = impair::flag_duplicate;
    run.implog.push_back(clone);
    run.server_log.push_back(run.server_log[0]);
    EXPECT_EQ(failing(), std::set<std::string>{});
}

// A query's start lies in [getaddrinfo called, first copy captured] and its
// latencies in [the capture's, the whole call's], each to 5 us (query 0:
// captured at +0.2 ms, answered at +1 ms, inside a call of 0 to +2 ms).
TEST_F(ValidateDns, QueryTimesAreBoundedByTheCaptureAndTheCall) {
    using Set = std::set<std::string>;
    // The reply taken up 1 ms after the interface queued it: inside.
    run.query_rows[0]["dns_lat_first_us"] = 800 + 1000;
    run.query_rows[0]["dns_lat_last_us"] = 800 + 1000;
    EXPECT_EQ(failing(), Set{});
    run.query_rows[0]["dns_lat_first_us"] = 2000 + 5;
    EXPECT_EQ(failing(), Set{});
    run.query_rows[0]["dns_lat_first_us"] = 2000 + 6;  // longer than the call
    EXPECT_EQ(failing(), Set{"dns_lat_first_us/pcap"});
    run.query_rows[0]["dns_lat_first_us"] = 800 - 6;  // shorter than the capture's
    EXPECT_EQ(failing(), Set{"dns_lat_first_us/pcap"});
    run.query_rows[0]["dns_lat_first_us"] = 820;
    run.query_rows[0]["dns_lat_last_us"] = 800 - 6;
    EXPECT_EQ(failing(), Set{"dns_lat_last_us/pcap"});
    run.query_rows[0]["dns_lat_last_us"] = 820;
    const int64_t first_copy = kBase + kMs / 5;
    run.query_rows[0]["window_start_ns"] = first_copy + 5000;
    EXPECT_EQ(failing(), Set{});
    run.query_rows[0]["window_start_ns"] = first_copy + 5001;  // after its first copy
    EXPECT_EQ(failing(), Set{"window_start_ns/pcap"});
    run.query_rows[0]["window_start_ns"] = kBase - 5001;  // before getaddrinfo was called
    EXPECT_EQ(failing(), Set{"window_start_ns/pcap"});
}

// A lookup lies inside the tool's clock reads around getaddrinfo and holds
// its queries (lookup 0: called at 0, returned at +2 ms; its query captured
// at +0.2 ms and answered at +1 ms), each to 5 us.
TEST_F(ValidateDns, LookupTimesAreBoundedByTheCallAndItsQueries) {
    using Set = std::set<std::string>;
    // The tool preempted for 1.5 ms before calling: the uprobe fires later,
    // its latency is shorter; inside.
    run.lookup_rows[0]["dns_latency_us"] = 800;
    EXPECT_EQ(failing(), Set{});
    run.lookup_rows[0]["dns_latency_us"] = 800 - 6;  // shorter than its query's round trip
    EXPECT_EQ(failing(), Set{"dns_latency_us/workload"});
    run.lookup_rows[0]["dns_latency_us"] = 2000 + 6;  // longer than the call
    EXPECT_EQ(failing(), Set{"dns_latency_us/workload"});
    run.lookup_rows[0]["dns_latency_us"] = 1994;
    run.lookup_rows[0]["window_start_ns"] = kBase + kMs / 5 + 5000;
    EXPECT_EQ(failing(), Set{});
    run.lookup_rows[0]["window_start_ns"] = kBase + kMs / 5 + 5001;  // after its first query
    EXPECT_EQ(failing(), Set{"window_start_ns/workload"});
    run.lookup_rows[0]["window_start_ns"] = kBase - 5001;  // before the tool called
    EXPECT_EQ(failing(), Set{"window_start_ns/workload"});
}

// The counting takes copies from a millisecond before the call on; a copy
// captured before the tool's clock read belongs to an earlier lookup of the
// name and bounds nothing (here lookup 0 is called 0.5 ms after its query
// left, as when a previous lookup's query was captured then).
TEST_F(ValidateDns, ACopyFromBeforeTheCallBoundsNothing) {
    run.lookups[0].t_start = kBase + kMs / 2;
    run.lookup_rows[0]["window_start_ns"] = kBase + kMs / 2 + 3000;
    run.lookup_rows[0]["dns_latency_us"] = 600;  // shorter than that copy's round trip
    const auto bad = failing();
    EXPECT_FALSE(bad.count("window_start_ns/workload"));
    EXPECT_FALSE(bad.count("dns_latency_us/workload"));
}

// A reply whose query the capture never saw (its id corrupted on the way,
// explore-1122) is documented output of the analysis, not malformed input.
TEST_F(ValidateDns, AReplyWithoutItsQueryIsNoInputError) {
    run.capture_extra.push_back({{"family", 4},
                                 {"client", kClient},
                                 {"client_port", 40000},
                                 {"server", kServer},
                                 {"server_port", 53},
                                 {"id", 4242},
                                 {"qname", "a.fc.test"},
                                 {"qtype", 1},
                                 {"attempts", 0},
                                 {"replies", 1},
                                 {"t_first_query_ns", nullptr},
                                 {"t_last_query_ns", nullptr},
                                 {"t_last_query_before_reply_ns", nullptr},
                                 {"t_reply_ns", kBase + kMs},
                                 {"query_size", nullptr},
                                 {"reply_size", 34},
                                 {"rcode", 0},
                                 {"answers", 0}});
    EXPECT_EQ(failing(), std::set<std::string>{});
}

// A later lookup of the name reused the query's client port a second on
// (explore-1221): the server's line of that second is the later query's.
TEST_F(ValidateDns, AServerLogLineOfAPortReusedLaterIsNotThisQuerys) {
    json reuse = run.server_log[0];
    reuse["t_s"] = reuse["t_s"].get<int64_t>() + 1;
    run.server_log.push_back(reuse);
    // No later query captured: the line is query 0's, one copy too many.
    EXPECT_EQ(failing(), std::set<std::string>{"dns_delivered/server_log"});
    Query later = run.queries[0];
    later.id = 101;
    later.t_first = later.t_last = kBase + 1000 * kMs;
    later.t_reply = kBase + 1001 * kMs;
    run.queries.push_back(later);  // captured, so no query profile: that row fails alone
    EXPECT_EQ(failing(), std::set<std::string>{"query_profile/pcap"});
}

TEST_F(ValidateDns, WrongOutcomeFailsItsRow) {
    run.lookup_rows[2]["dns_outcome"] = 3;  // SERVFAIL, but nothing answered
    EXPECT_EQ(failing(), std::set<std::string>{"dns_outcome/workload"});
}

TEST_F(ValidateDns, WrongAddressCountFailsItsRow) {
    run.lookup_rows[0]["dns_v4_addrs"] = 2;
    EXPECT_EQ(failing(), std::set<std::string>{"dns_v4_addrs/workload"});
}

TEST_F(ValidateDns, LatencyFiveMillisecondsOffFails) {
    run.lookup_rows[1]["dns_latency_us"] = 3000 + 5000;
    EXPECT_EQ(failing(), std::set<std::string>{"dns_latency_us/workload"});
}

TEST_F(ValidateDns, MissedRetransmissionFailsAttemptsAgainstEverySource) {
    run.query_rows[3]["dns_attempts"] = 1;
    EXPECT_EQ(failing(), (std::set<std::string>{"dns_attempts/pcap", "dns_attempts/impairment_log",
                                                "dns_delivered/server_log"}));
}

TEST_F(ValidateDns, WrongReplySizeAndRcodeFailTheirRows) {
    run.query_rows[1]["dns_reply_bytes"] = 29;
    run.query_rows[2]["dns_rcode"] = 2;
    EXPECT_EQ(failing(), (std::set<std::string>{"dns_reply_bytes/pcap", "dns_rcode/pcap"}));
}

TEST_F(ValidateDns, QueryLinkedToTheWrongLookupFailsTheLink) {
    run.query_rows[0]["dns_lookup_id"] = kLookupBase | 1;
    EXPECT_EQ(failing(), std::set<std::string>{"dns_link/workload"});
}

TEST_F(ValidateDns, MissingLookupProfileAndMissingQueryProfileFail) {
    run.lookup_rows.erase(run.lookup_rows.begin());
    run.query_rows.pop_back();
    const auto f = failing();
    EXPECT_TRUE(f.count("lookup_profile/workload"));
    EXPECT_TRUE(f.count("query_profile/pcap"));
}

TEST_F(ValidateDns, AgentQueryTheCaptureNeverSawIsAnOrphan) {
    json extra = run.query_rows[0];
    extra["src_port"] = 49999;
    extra["flow_id"] = (int64_t{1} << 61) + 99;
    run.query_rows.push_back(extra);
    EXPECT_EQ(failing(), std::set<std::string>{"orphan_queries/pcap"});
}

// A lookup profile of the tool's process that no lookup of the tool
// explains is an orphan; another process's getaddrinfo() that sent no query
// (the harness's ping of an address literal) made no DNS traffic and is not.
TEST_F(ValidateDns, LookupProfilesWithoutALookupAreOrphans) {
    json extra = run.lookup_rows[0];
    extra["flow_id"] = kLookupBase | 99;
    extra["dns_lookup_id"] = kLookupBase | 99;
    extra["pid"] = 777;
    extra["dns_name"] = "198.18.2.1";
    extra["dns_queries"] = 0;
    run.lookup_rows.push_back(extra);
    EXPECT_EQ(failing(), std::set<std::string>{});
    run.lookup_rows.back()["dns_queries"] = 1;  // it did query: DNS traffic no truth knows
    EXPECT_EQ(failing(), std::set<std::string>{"orphan_lookups/workload"});
    run.lookup_rows.back()["dns_queries"] = 0;
    run.lookup_rows.back()["pid"] = kPid;  // the tool's own process: every call is in its truth
    run.lookup_rows.back()["dns_name"] = "zz.fc.test";
    EXPECT_EQ(failing(), std::set<std::string>{"orphan_lookups/workload"});
}

TEST_F(ValidateDns, AbsentColumnFailsItsComparisonsAndItsCoverage) {
    for (auto& row : run.lookup_rows) row.erase("dns_latency_us");
    EXPECT_EQ(failing(),
              (std::set<std::string>{"dns_latency_us/workload", "dns_latency_us/coverage",
                                     "coverage:dns_resolver/any"}));
}

// The client's capture missing: its wire-view comparisons cannot be made,
// which fails the run unless the experiment says why.
TEST_F(ValidateDns, MissingCaptureIsASkipTheExperimentMayDeclare) {
    fs::create_directories(dir);
    run.write(dir);
    fs::remove(dir / "dns-exp" / "rep-0" / "captures" / "l1-a.json");
    auto judge = [&] {
        std::set<std::string> out;
        for (const auto& row : fc::validate::validate_run(dir.string(), false).rows)
            if (!row.pass) out.insert(row.kpi + "/" + row.source);
        return out;
    };
    EXPECT_EQ(judge(), std::set<std::string>{"pcap/skipped"});
    const fs::path m = dir / "dns-exp" / "rep-0" / "manifest.json";
    json manifest = json::parse(std::ifstream(m));
    manifest["skips"] = {{"pcap", "the client's capture is not kept"}};
    std::ofstream(m) << manifest.dump();
    EXPECT_EQ(judge(), std::set<std::string>{});
}

}  // namespace
