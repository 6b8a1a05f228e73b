// The validator on crafted run directories: a consistent run passes every
// row; each mutation of one KPI must fail exactly the row that judges it.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <stdlib.h>

#include <CLI/CLI.hpp>
#include <array>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <variant>

#include "impair/log.hpp"
#include "validate/validate.hpp"

namespace fc::cli {
void add_validate_command(CLI::App& app);
}

namespace {

namespace fs = std::filesystem;
namespace impair = fc::impair;
namespace validate = fc::validate;
using nlohmann::json;
using Value = std::variant<int64_t, double, std::string>;
using ProfileRow = std::map<std::string, Value>;

constexpr int64_t kBase = 1'700'000'000'000'000'000;
constexpr int64_t kMs = 1'000'000;
const char* const kClientAddr = "198.18.1.1";
const char* const kServerAddr = "198.18.1.2";
constexpr int64_t kServerPort = 5001;
constexpr int64_t kClientOd = 11, kServerOd = 12;

class TempDir {
  public:
    TempDir() {
        char tmpl[] = "/tmp/fc-validate-XXXXXX";
        if (!mkdtemp(tmpl)) throw std::runtime_error("mkdtemp failed");
        path_ = tmpl;
    }
    ~TempDir() {
        if (std::getenv("FC_KEEP_TEST_DIRS")) return;  // to look at a crafted run's report
        std::error_code ec;
        fs::remove_all(path_, ec);
    }
    const fs::path& path() const { return path_; }

  private:
    fs::path path_;
};

// One side of one connection: its truth line and its agent connection.
struct Side {
    json truth;
    std::vector<ProfileRow> profiles;
};

// Splits a connection total over three windows (10 %, 50 %, the rest).
std::array<int64_t, 3> split(int64_t v) { return {v / 10, v / 2, v - v / 10 - v / 2}; }

// The whole crafted run, in memory until written.
struct RunFixture {
    json manifest;
    std::vector<Side> sides;               // client 0, server 0, client 1, server 1
    std::map<std::string, json> captures;  // stem -> analysis
    std::vector<impair::LogRecord> implog;
    std::vector<ProfileRow> extra_profiles;  // orphans

    void write(const fs::path& run) const {
        const fs::path rep = run / "exp-a" / "rep-0";
        fs::create_directories(rep / "truth");
        fs::create_directories(rep / "captures");
        fs::create_directories(rep / "links");
        std::ofstream(rep / "manifest.json") << manifest.dump(2);
        std::map<std::string, std::string> truth_files;
        for (const auto& s : sides)
            truth_files[s.truth["host"].get<std::string>() + "-bulk-" +
                        s.truth["role"].get<std::string>() + ".jsonl"] += s.truth.dump() + "\n";
        for (const auto& [name, text] : truth_files) std::ofstream(rep / "truth" / name) << text;
        for (const auto& [stem, doc] : captures)
            std::ofstream(rep / (stem + ".json")) << doc.dump();
        impair::LogWriter w;
        w.open((rep / "links" / "l1.implog").string(), 7, kBase, "l1");
        w.write(implog.data(), implog.size());
        w.close();
        std::ofstream(run / "environment.json")
            << json{{"kernel", {{"release", "6.1.0-test"}}}, {"git_commit", "abc123"}}.dump();
        write_profiles(run / "profiles.sqlite");
    }

    void write_profiles(const fs::path& path) const {
        fs::remove(path);  // a test may write the run twice
        std::vector<ProfileRow> all = extra_profiles;
        for (const auto& s : sides) all.insert(all.end(), s.profiles.begin(), s.profiles.end());
        sqlite3* db = nullptr;
        ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
        std::string create = "CREATE TABLE profiles (id INTEGER PRIMARY KEY, exporter_addr TEXT";
        for (const auto& [col, v] : all.front())
            create += ", " + col + (std::holds_alternative<std::string>(v) ? " TEXT" : " INTEGER");
        ASSERT_EQ(sqlite3_exec(db, (create + ")").c_str(), nullptr, nullptr, nullptr), SQLITE_OK)
            << sqlite3_errmsg(db);
        for (const auto& p : all) {
            std::string cols = "exporter_addr", vals = "'127.0.0.1'";
            for (const auto& [col, v] : p) {
                cols += "," + col;
                if (auto* s = std::get_if<std::string>(&v))
                    vals += ",'" + *s + "'";
                else if (auto* i = std::get_if<int64_t>(&v))
                    vals += "," + std::to_string(*i);
                else
                    vals += "," + std::to_string(std::get<double>(v));
            }
            const std::string sql = "INSERT INTO profiles (" + cols + ") VALUES (" + vals + ")";
            ASSERT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK)
                << sqlite3_errmsg(db);
        }
        sqlite3_close(db);
    }

    Side& client(int conn) { return sides[2 * conn]; }
    Side& server(int conn) { return sides[2 * conn + 1]; }
    json& capture_conn(const std::string& stem, int conn) {
        return captures[stem]["connections"][conn];
    }
};

json tcp_info(const std::map<std::string, int64_t>& v) {
    json j = {{"state", 7},         {"retransmits", 0}, {"backoff", 0},
              {"snd_mss", 1448},    {"delivered", 0},   {"total_rto_recoveries", 0},
              {"total_rto_time", 0}};
    for (const auto& [k, x] : v) j[k] = x;
    return j;
}

// Agent KPI column -> tcp_info field, summed over windows.
const std::vector<std::pair<std::string, std::string>> kSummed = {
    {"bytes_acked", "bytes_acked"},     {"bytes_received", "bytes_received"},
    {"bytes_sent", "bytes_sent"},       {"bytes_retrans", "bytes_retrans"},
    {"segs_out", "segs_out"},           {"segs_in", "segs_in"},
    {"data_segs_out", "data_segs_out"}, {"data_segs_in", "data_segs_in"},
    {"retrans_segs", "total_retrans"},  {"ooo_segs_in", "rcv_ooopack"},
    {"rto_stalls", "total_rto"},        {"dsack_dups", "dsack_dups"},
    {"reord_seen", "reord_seen"}};

struct SideSpec {
    std::string host, role, local, remote;
    int64_t od, flow_id, lport, rport, t0;
    std::map<std::string, int64_t> info;
    std::map<std::string, std::array<int64_t, 3>> per_window;  // KPIs not in tcp_info
    std::array<int64_t, 3> ends;                               // end states
    int64_t close_cause;
    std::string outcome, closed_by;
};

Side make_side(const SideSpec& s, int conn) {
    Side side;
    side.truth = {{"host", s.host},
                  {"workload", "bulk"},
                  {"role", s.role},
                  {"conn", conn},
                  {"family", 4},
                  {"local", s.local},
                  {"lport", s.lport},
                  {"remote", s.remote},
                  {"rport", s.rport},
                  {"t_start_ns", s.t0 - 100'000},
                  {"t_connected_ns", s.t0 + 20 * kMs},
                  {"t_end_ns", s.t0 + 600 * kMs},
                  {"outcome", s.outcome},
                  {"errno", 0},
                  {"app_bytes_sent", 0},
                  {"app_bytes_received", 0},
                  {"closed_by", s.closed_by},
                  {"tcp_info_at_close", true},
                  {"tcp_info", tcp_info(s.info)}};
    const std::array<int64_t, 4> t = {s.t0, s.t0 + 20 * kMs, s.t0 + 300 * kMs, s.t0 + 500 * kMs};
    const std::array<int64_t, 3> starts = {1, s.ends[0], s.ends[1]};
    for (int k = 0; k < 3; ++k) {
        ProfileRow p = {{"observation_domain", s.od},
                        {"template_id", int64_t{256}},
                        {"flow_id", s.flow_id},
                        {"profile_seq", int64_t{k}},
                        {"src_addr", s.local},
                        {"dst_addr", s.remote},
                        {"src_port", s.lport},
                        {"dst_port", s.rport},
                        {"protocol", int64_t{6}},
                        {"role", int64_t{s.role == "client" ? 1 : 2}},
                        {"window_start_ns", t[k]},
                        {"window_end_ns", t[k + 1]},
                        {"start_state", starts[k]},
                        {"end_state", s.ends[k]},
                        {"close_cause", int64_t{k == 2 ? s.close_cause : 0}},
                        {"close_errno", int64_t{0}},
                        {"srtt_us", s.info.at("rtt") - 100 * (2 - k)},
                        {"rttvar_us", s.info.at("rttvar")},
                        {"min_rtt_us", s.info.at("min_rtt")},
                        {"lost_out_end", int64_t{k == 2 ? s.info.at("lost") : 1}},
                        {"rtt_var_us2", int64_t{1000}}};
        for (const auto& [col, field] : kSummed) p[col] = split(s.info.at(field))[k];
        for (const auto& [col, v] : s.per_window) p[col] = v[k];
        side.profiles.push_back(p);
    }
    return side;
}

json dir_stats(int64_t data, int64_t retrans, int64_t dup, int64_t ooo, int64_t fin, int64_t rst,
               int64_t rtt_samples, double rtt_mean, int64_t rounds = 0, double rounds_mean = 0,
               double first_us = 0) {
    return {{"packets", data + 10},
            {"data_segs", data},
            {"data_bytes", data * 1448},
            {"retrans_segs", retrans},
            {"retrans_bytes", retrans * 1448},
            {"dup_segs", dup},
            {"ooo_segs", ooo},
            {"ooo_dist_samples", ooo},
            {"ooo_dist_mean", ooo ? 2896.0 : 0.0},
            {"fin", fin},
            {"rst", rst},
            {"rtt",
             {{"samples", rtt_samples},
              {"mean_us", rtt_mean},
              {"var_us2", 0.0},
              {"min_us", rtt_mean},
              {"max_us", rtt_mean}}},
            {"rtt_rounds",
             {{"samples", rounds},
              {"mean_us", rounds_mean},
              {"first_us", first_us},
              {"skipped_retrans", 0}}}};
}

impair::LogRecord log_record(uint8_t dir, const char* src, uint16_t sport, const char* dst,
                             uint16_t dport, uint64_t t, bool dropped, uint16_t payload) {
    impair::LogRecord r{};
    r.t_in_ns = t;
    r.t_out_ns = dropped ? 0 : t + 10 * kMs;
    r.count = 1;
    r.dir = dir;
    r.action = static_cast<uint8_t>(dropped ? impair::Action::dropped : impair::Action::forwarded);
    r.ip_version = 4;
    r.proto = 6;
    inet_pton(AF_INET, src, r.src);
    inet_pton(AF_INET, dst, r.dst);
    r.sport = sport;
    r.dport = dport;
    r.payload_len = payload;
    return r;
}

// Connection 0 closes with FINs; connection 1 is reset by the server.
// The client sends 725+ data segments (3 lost by the link), the server 10.
RunFixture consistent_run() {
    RunFixture run;
    run.manifest = {
        {"experiment", "exp-a"},
        {"file", "experiments/tcp/exp-a.toml"},
        {"repetition", 0},
        {"seed", 7},
        {"builder", "native"},
        {"t_start_ns", kBase},
        {"t_end_ns", kBase + 5'000 * kMs},
        {"hosts",
         {{{"name", "client"},
           {"netns", "fc-tb-client"},
           {"netns_inode", 1},
           {"agent", true},
           {"observation_domain", kClientOd}},
          {{"name", "server"},
           {"netns", "fc-tb-server"},
           {"netns_inode", 2},
           {"agent", true},
           {"observation_domain", kServerOd}}}},
        {"links",
         {{{"name", "l1"},
           {"a", "client"},
           {"b", "server"},
           {"impaired", true},
           {"a_dev", "fc-l1-a"},
           {"b_dev", "fc-l1-b"},
           {"a_to_b", "loss random 1%"},
           {"b_to_a", ""},
           {"log", "links/l1.implog"},
           {"captures", {{"a", "captures/l1-a"}, {"b", "captures/l1-b"}}}}}},
        {"workloads",
         {{{"name", "bulk"},
           {"type", "bulk"},
           {"client", "client"},
           {"server", "server"},
           {"expect", "ok"},
           {"truth", {"truth/client-bulk-client.jsonl", "truth/server-bulk-server.jsonl"}}}}},
        {"tolerances", json::object()}};
    for (const char* side : {"l1-a", "l1-b"})
        run.captures["captures/" + std::string(side)] = {
            {"capture", std::string("captures/") + side + ".pcap"},
            {"packets", 2000},
            {"pcap_drops", 0},
            {"connections", json::array()}};

    for (int conn = 0; conn < 2; ++conn) {
        const int64_t t0 = kBase + conn * 1000 * kMs;
        const int64_t cport = 40001 + conn;
        const bool reset = conn == 1;
        // Client RTT windows: 1, 50 and 20 samples of 20, 21 and 22 ms.
        const double rtt_mean = (1 * 20000.0 + 50 * 21000.0 + 20 * 22000.0) / 71;
        SideSpec c{"client",
                   "client",
                   kClientAddr,
                   kServerAddr,
                   kClientOd,
                   100 + conn,
                   cport,
                   kServerPort,
                   t0,
                   {{"bytes_acked", 1048578},
                    {"bytes_received", 14481},
                    {"bytes_sent", 1052922},
                    {"bytes_retrans", 4344},
                    {"segs_out", 740 + conn},
                    {"segs_in", 410},
                    {"data_segs_out", 725 + conn},
                    {"data_segs_in", 10},
                    {"total_retrans", 3},
                    {"rcv_ooopack", 0},
                    {"total_rto", 0},
                    {"dsack_dups", 1},
                    {"reord_seen", 1},
                    {"rtt", 21000},
                    {"rttvar", 3000},
                    {"min_rtt", 20000},
                    {"lost", 0}},
                   {{"syn_retrans", {0, 0, 0}},
                    {"lost_segs", {0, 2, 1}},
                    {"dup_segs_in", {0, 1, 0}},
                    {"ooo_dist_samples", {0, 0, 0}},
                    {"ooo_dist_mean", {0, 0, 0}},
                    {"rtt_samples", {1, 50, 20}},
                    {"rtt_mean_us", {20000, 21000, 22000}}},
                   {2, 3, reset ? 6 : 4},
                   reset ? 3 : 1,
                   reset ? "reset" : "ok",
                   reset ? "rst_received" : "fin"};
        SideSpec s{"server",
                   "server",
                   kServerAddr,
                   kClientAddr,
                   kServerOd,
                   200 + conn,
                   kServerPort,
                   cport,
                   t0 + 10 * kMs,
                   {{"bytes_acked", 14481},
                    {"bytes_received", 1048577},
                    {"bytes_sent", 14480},
                    {"bytes_retrans", 0},
                    {"segs_out", 410},
                    {"segs_in", 738 + conn},
                    {"data_segs_out", 10},
                    {"data_segs_in", 722 + conn},
                    {"total_retrans", 0},
                    {"rcv_ooopack", 2},
                    {"total_rto", 0},
                    {"dsack_dups", 0},
                    {"reord_seen", 0},
                    {"rtt", 20500},
                    {"rttvar", 2000},
                    {"min_rtt", 20000},
                    {"lost", 0}},
                   {{"syn_retrans", {0, 0, 0}},
                    {"lost_segs", {0, 0, 0}},
                    {"dup_segs_in", {0, 1, 0}},
                    {"ooo_dist_samples", {0, 2, 0}},
                    {"ooo_dist_mean", {0, 2896, 0}},
                    {"rtt_samples", {1, 0, 0}},
                    {"rtt_mean_us", {20000, 0, 0}}},
                   {2, 3, reset ? 6 : 4},
                   reset ? 2 : 1,
                   reset ? "aborted" : "ok",
                   reset ? "rst_sent" : "fin"};
        run.sides.push_back(make_side(c, conn));
        run.sides.push_back(make_side(s, conn));
        // The server's agent writes IPv4-mapped addresses: the validator normalises them.
        for (auto& p : run.sides.back().profiles) {
            p["src_addr"] = std::string("::ffff:") + kServerAddr;
            p["dst_addr"] = std::string("::ffff:") + kClientAddr;
        }

        const int64_t fin = reset ? 0 : 1, rst = reset ? 1 : 0;
        json a = {{"client", kClientAddr},
                  {"cport", cport},
                  {"server", kServerAddr},
                  {"sport", kServerPort},
                  {"first_ns", t0},
                  {"last_ns", t0 + 500 * kMs},
                  {"syn", 1},
                  {"synack", 1},
                  {"handshake_ns", 20 * kMs},
                  {"c2s", dir_stats(725 + conn, 3, 0, 0, fin, 0, 300, rtt_mean + 900, 71, rtt_mean,
                                    20000)},
                  {"s2c", dir_stats(10, 0, 1, 0, fin, rst, 0, 0)}};
        json b = a;
        b["handshake_ns"] = 19 * kMs;
        b["c2s"] = dir_stats(722 + conn, 0, 1, 2, fin, 0, 0, 0);
        // The server's rounds: its handshake sample (which its agent cannot
        // see) and one more.
        b["s2c"] = dir_stats(10, 0, 0, 0, fin, rst, 9, 20000, 2, 19500, 19000);
        run.captures["captures/l1-a"]["connections"].push_back(a);
        run.captures["captures/l1-b"]["connections"].push_back(b);

        // The link drops 3 of the client's data segments and one pure ACK.
        for (int k = 0; k < 8; ++k)
            run.implog.push_back(log_record(0, kClientAddr, cport, kServerAddr, kServerPort,
                                            t0 + (100 + k) * kMs, k < 3, 1448));
        run.implog.push_back(
            log_record(0, kClientAddr, cport, kServerAddr, kServerPort, t0 + 200 * kMs, true, 0));
        for (int k = 0; k < 4; ++k)
            run.implog.push_back(log_record(1, kServerAddr, kServerPort, kClientAddr, cport,
                                            t0 + (150 + k) * kMs, false, 0));
    }
    return run;
}

// "kpi/source" of every failing row (experiment "*" rows included).
std::set<std::string> failing(const validate::Result& r) {
    std::set<std::string> out;
    for (const auto& row : r.rows)
        if (!row.pass) out.insert(row.kpi + "/" + row.source);
    return out;
}

int cli_exit_code(const fs::path& run) {
    CLI::App app;
    fc::cli::add_validate_command(app);
    try {
        app.parse(std::vector<std::string>{"--no-report", run.string(), "validate"});
    } catch (const CLI::RuntimeError& e) {
        return e.get_exit_code();
    }
    return 0;
}

class Validate : public ::testing::Test {
  protected:
    TempDir dir;
    RunFixture run = consistent_run();

    validate::Result judge_run() {
        run.write(dir.path());
        return validate::validate_run(dir.path().string());
    }
    void expect_only_failure(const std::string& row) {
        const auto r = judge_run();
        EXPECT_EQ(failing(r), std::set<std::string>{row});
        EXPECT_EQ(cli_exit_code(dir.path()), 1);
    }
    ProfileRow& profile(int side, int k) { return run.sides[side].profiles[k]; }
};

TEST_F(Validate, ConsistentRunPassesEveryRow) {
    const auto r = judge_run();
    EXPECT_TRUE(failing(r).empty()) << ::testing::PrintToString(failing(r));
    std::set<std::string> rows;
    for (const auto& row : r.rows) rows.insert(row.kpi + "/" + row.source);
    // Every source contributes the comparisons the crafted run makes possible.
    for (const char* expected :
         {"bytes_acked/tcp_info",     "srtt_us/tcp_info",     "rto_stalls/tcp_info",
          "lost_out_end/tcp_info",    "data_segs_out/pcap",   "retrans_segs/pcap",
          "syn_retrans/pcap",         "dup_segs_in/pcap",     "ooo_segs_in/pcap",
          "ooo_dist_mean/pcap",       "rtt_mean_us/pcap",     "window_end_ns/pcap",
          "window_start_ns/workload", "rtt_samples/pcap",     "close/pcap",
          "lost_segs/impairment_log", "close_cause/workload", "profile_chain/workload",
          "orphan_profiles/workload", "coverage:stalls/any"})
        EXPECT_TRUE(rows.count(expected)) << expected;
    EXPECT_EQ(r.truth_connections, 4);
    EXPECT_EQ(r.agent_connections, 4);
    for (const auto& row : r.rows) {
        if (row.kpi == "bytes_acked") {
            EXPECT_EQ(row.compared, 4);
        }
    }
    EXPECT_EQ(cli_exit_code(dir.path()), 0);
}

TEST_F(Validate, BytesAckedOffByOneFailsItsRow) {
    std::get<int64_t>(profile(0, 1)["bytes_acked"]) += 1;
    expect_only_failure("bytes_acked/tcp_info");
}

TEST_F(Validate, WrongSrttOfLastProfileFailsItsRow) {
    std::get<int64_t>(profile(3, 2)["srtt_us"]) += 7;
    expect_only_failure("srtt_us/tcp_info");
}

TEST_F(Validate, SrttOfAnEarlierProfileIsNotJudgedAgainstTcpInfo) {
    std::get<int64_t>(profile(3, 0)["srtt_us"]) += 7000;
    EXPECT_TRUE(failing(judge_run()).empty());
}

TEST_F(Validate, MissingTerminalProfileBreaksTheChain) {
    run.sides[0].profiles.pop_back();
    const auto r = judge_run();
    EXPECT_EQ(failing(r), std::set<std::string>{"profile_chain/workload"});
    bool noted = false;
    for (const auto& d : r.details)
        if (d.kpi == "profile_chain" && !d.within)
            noted = d.note.find("not terminal") != std::string::npos;
    EXPECT_TRUE(noted);
}

TEST_F(Validate, GapInProfileSeqBreaksTheChain) {
    profile(2, 2)["profile_seq"] = int64_t{3};
    expect_only_failure("profile_chain/workload");
}

TEST_F(Validate, DiscontiguousWindowsBreakTheChain) {
    std::get<int64_t>(profile(1, 2)["window_start_ns"]) += 1;
    expect_only_failure("profile_chain/workload");
}

TEST_F(Validate, OrphanAgentConnectionFails) {
    auto orphan = run.sides[0].profiles;
    for (auto& p : orphan) {
        p["flow_id"] = int64_t{999};
        p["src_port"] = int64_t{45555};
    }
    run.extra_profiles = orphan;
    const auto r = judge_run();
    EXPECT_EQ(failing(r), std::set<std::string>{"orphan_profiles/workload"});
    EXPECT_EQ(r.agent_connections, 5);
}

TEST_F(Validate, ReusedFourTuplePairsByTimeOverlap) {
    // A later connection on the same 4-tuple, listed first (lower flow_id),
    // without truth: the truth pairs with the overlapping one, the other is orphan.
    auto later = run.sides[0].profiles;
    for (auto& p : later) {
        p["flow_id"] = int64_t{1};
        std::get<int64_t>(p["window_start_ns"]) += 10'000 * kMs;
        std::get<int64_t>(p["window_end_ns"]) += 10'000 * kMs;
    }
    run.extra_profiles = later;
    const auto r = judge_run();
    EXPECT_EQ(failing(r), std::set<std::string>{"orphan_profiles/workload"});
    for (const auto& d : r.details) {
        if (d.kpi == "orphan_profiles" && d.exported == 1) {
            EXPECT_EQ(d.agent_key, "11:1");
        }
        if (d.kpi == "bytes_acked" && d.conn == 0 && d.role == "client") {
            EXPECT_EQ(d.agent_key, "11:100");
        }
    }
}

TEST_F(Validate, RttMeanFortyPercentOffFailsFivePercentPasses) {
    auto scale = [&](double f) {
        for (int k = 0; k < 3; ++k) {
            auto& v = std::get<int64_t>(profile(0, k)["rtt_mean_us"]);
            v = static_cast<int64_t>(static_cast<double>(v) * f);
        }
    };
    scale(1.05);
    EXPECT_TRUE(failing(judge_run()).empty());
    scale(1.40 / 1.05);
    expect_only_failure("rtt_mean_us/pcap");
}

TEST_F(Validate, LostSegmentsAreJudgedAgainstTheImpairmentLog) {
    // Truth: 3 data segments dropped (the dropped pure ACK does not count).
    profile(0, 2)["lost_segs"] = int64_t{2};  // 4: within abs 2
    EXPECT_TRUE(failing(judge_run()).empty());
    profile(0, 2)["lost_segs"] = int64_t{4};  // 6: off by 3 > max(2, 0.75)
    expect_only_failure("lost_segs/impairment_log");
}

TEST_F(Validate, WrongCloseCauseFailsItsRow) {
    profile(2, 2)["close_cause"] = int64_t{2};  // reset sent, but the server reset us
    expect_only_failure("close_cause/workload");
}

TEST_F(Validate, ManifestToleranceOverridesTheDefault) {
    std::get<int64_t>(profile(0, 1)["bytes_acked"]) += 5;
    std::get<int64_t>(profile(1, 2)["srtt_us"]) += 50;
    EXPECT_EQ(failing(judge_run()),
              (std::set<std::string>{"bytes_acked/tcp_info", "srtt_us/tcp_info"}));
    // One wrong srtt of four: a share of 0.75 accepts it, an abs of 5 the bytes.
    run.manifest["tolerances"] = {{"bytes_acked", {{"abs", 5}}},
                                  {"srtt_us/tcp_info", {{"share", 0.75}}}};
    EXPECT_TRUE(failing(judge_run()).empty());
    run.manifest["tolerances"]["srtt_us/tcp_info"]["share"] = 0.8;
    EXPECT_EQ(failing(judge_run()), std::set<std::string>{"srtt_us/tcp_info"});
}

TEST_F(Validate, MalformedManifestIsUnusableInputNamingTheField) {
    run.manifest["hosts"][1].erase("observation_domain");
    run.write(dir.path());
    try {
        validate::validate_run(dir.path().string());
        FAIL() << "no InputError";
    } catch (const validate::InputError& e) {
        EXPECT_NE(std::string(e.what()).find("manifest.json: hosts[1].observation_domain: missing"),
                  std::string::npos)
            << e.what();
    }
    EXPECT_EQ(cli_exit_code(dir.path()), 2);
    run.manifest["hosts"][1]["observation_domain"] = kServerOd;
    run.manifest["hosts"][0]["agent"] = "yes";
    run.write(dir.path());
    EXPECT_THROW(
        {
            try {
                validate::validate_run(dir.path().string());
            } catch (const validate::InputError& e) {
                EXPECT_NE(std::string(e.what()).find("hosts[0].agent: expected true or false"),
                          std::string::npos);
                throw;
            }
        },
        validate::InputError);
}

TEST_F(Validate, CaptureWithDropsIsSkipped) {
    run.captures["captures/l1-b"]["pcap_drops"] = 5;
    run.capture_conn("captures/l1-b", 0)["c2s"]["dup_segs"] = 99;  // would fail if used
    const auto r = judge_run();
    EXPECT_TRUE(failing(r).empty()) << ::testing::PrintToString(failing(r));
    for (const auto& d : r.details) EXPECT_FALSE(d.source == "pcap" && d.host == "server");
    ASSERT_EQ(r.warnings.size(), 1u);
    EXPECT_NE(r.warnings[0].find("l1-b.json: pcap_drops 5"), std::string::npos) << r.warnings[0];
}

TEST_F(Validate, CsvHeadersAndReportWithPlots) {
    const auto r = judge_run();
    validate::write_outputs(r);
    auto first_line = [](const fs::path& p) {
        std::ifstream in(p);
        std::string l;
        std::getline(in, l);
        return l;
    };
    EXPECT_EQ(first_line(dir.path() / "validation.csv"),
              "experiment,protocol,kpi,truth_source,compared,within_tolerance,median_abs_error,"
              "p95_abs_error,verdict,tolerance,note");
    EXPECT_EQ(first_line(dir.path() / "validation-details.csv"),
              "experiment,repetition,protocol,host,workload,conn,role,agent_connection,kpi,"
              "truth_source,exported,true,abs_error,within_tolerance,note");
    std::stringstream md, html;
    md << std::ifstream(dir.path() / "report.md").rdbuf();
    html << std::ifstream(dir.path() / "report.html").rdbuf();
    EXPECT_NE(md.str().find("| rows failed | 0 |"), std::string::npos);
    EXPECT_NE(md.str().find("### exp-a"), std::string::npos);
    EXPECT_NE(md.str().find("6.1.0-test"), std::string::npos);  // environment.json
    for (const char* png : {"rtt.png", "retrans.png", "abs_error_cdf.png", "verdicts.png"}) {
        EXPECT_TRUE(fs::exists(dir.path() / "plots" / png))
            << png << " missing: is python3-matplotlib installed? see plots/plot.log";
        EXPECT_NE(html.str().find(std::string("<img src=\"plots/") + png), std::string::npos)
            << png;
    }
}

TEST_F(Validate, MissingPythonIsNotedNotFatal) {
    const auto r = judge_run();
    validate::OutputOptions o;
    o.python = "/nonexistent/python3";
    validate::write_outputs(r, o);
    std::stringstream md;
    md << std::ifstream(dir.path() / "report.md").rdbuf();
    EXPECT_NE(md.str().find("/nonexistent/python3 not found"), std::string::npos);
    EXPECT_TRUE(fs::exists(dir.path() / "report.html"));
}

TEST_F(Validate, FailingRowsAreReportedInTheCsv) {
    std::get<int64_t>(profile(0, 1)["bytes_acked"]) += 1;
    validate::OutputOptions csv_only;
    csv_only.report = false;
    validate::write_outputs(judge_run(), csv_only);
    std::ifstream in(dir.path() / "validation.csv");
    std::string line;
    bool found = false;
    while (std::getline(in, line))
        if (line.rfind("exp-a,tcp,bytes_acked,tcp_info,4,3,", 0) == 0)
            found = line.find(",fail,") != std::string::npos;
    EXPECT_TRUE(found);
    EXPECT_FALSE(fs::exists(dir.path() / "report.md"));
}

}  // namespace

// Without TCP_INFO nothing compares RTO stalls: a single experiment may not
// cover every KPI group, a suite that must cover them fails.
TEST_F(Validate, UncoveredKpiGroupFailsOnlyWhenCoverageIsRequired) {
    for (auto& side : run.sides) side.truth["tcp_info"] = nullptr;
    run.write(dir.path());
    const auto relaxed = validate::validate_run(dir.path().string(), false);
    EXPECT_TRUE(relaxed.all_pass()) << ::testing::PrintToString(failing(relaxed));
    EXPECT_NE(std::find(relaxed.not_covered.begin(), relaxed.not_covered.end(), "stalls"),
              relaxed.not_covered.end());
    const auto strict = validate::validate_run(dir.path().string(), true);
    EXPECT_EQ(failing(strict).count("coverage:stalls/any"), 1u);
    EXPECT_FALSE(strict.all_pass());
}

// After an RTO the sender marks everything outstanding lost, queued packets
// included: lost_segs is then not judged against the link's drops.
TEST_F(Validate, LostSegmentsAreNotJudgedAfterAnRto) {
    for (auto& side : run.sides)
        if (side.truth["role"] == "client") side.truth["tcp_info"]["total_rto"] = 1;
    for (int k = 0; k < 3; ++k) profile(0, k)["rto_stalls"] = int64_t{k == 1 ? 1 : 0};
    const auto r = judge_run();
    for (const auto& row : r.rows)
        EXPECT_NE(row.kpi + "/" + row.source, "lost_segs/impairment_log");
}

// Before any RTT sample the kernel reports tcpi_min_rtt as ~0U and the agent
// exports 0: that pair agrees, anything else does not.
TEST_F(Validate, MinRttWithoutASampleIsZero) {
    run.sides[3].truth["tcp_info"]["min_rtt"] = int64_t{4294967295};
    profile(3, 2)["min_rtt_us"] = int64_t{0};
    EXPECT_TRUE(failing(judge_run()).empty());
    profile(3, 2)["min_rtt_us"] = int64_t{5};
    expect_only_failure("min_rtt_us/tcp_info");
}
