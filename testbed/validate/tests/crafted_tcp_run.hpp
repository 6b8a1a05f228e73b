// A crafted TCP run for validator tests: two connections (one closed with
// FINs, one reset) seen by agents on both hosts, with TCP_INFO, captures at
// both ends of the impaired link and the engine's log, all consistent. Tests
// mutate one thing and check which rows fail.
#pragma once

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <stdlib.h>

#include <array>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include "impair/log.hpp"
#include "validate/validate.hpp"

namespace fc::validate::test {

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
inline std::array<int64_t, 3> split(int64_t v) { return {v / 10, v / 2, v - v / 10 - v / 2}; }

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

inline json tcp_info(const std::map<std::string, int64_t>& v) {
    json j = {{"state", 7},         {"retransmits", 0}, {"backoff", 0},
              {"snd_mss", 1448},    {"delivered", 0},   {"total_rto_recoveries", 0},
              {"total_rto_time", 0}};
    for (const auto& [k, x] : v) j[k] = x;
    return j;
}

// Agent KPI column -> tcp_info field, summed over windows.
inline const std::vector<std::pair<std::string, std::string>> kSummed = {
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

inline Side make_side(const SideSpec& s, int conn) {
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

// `first_us` set: a passive opener's direction, whose handshake round (that
// long) its agent cannot see. The rounds the agent can see are all alike, so
// every sequence of k of them sums to k times their mean.
inline json dir_stats(int64_t data, int64_t retrans, int64_t dup, int64_t ooo, int64_t fin,
                      int64_t rst, int64_t rtt_samples, double rtt_mean, int64_t rounds = 0,
                      double rounds_mean = 0, double first_us = 0) {
    json min_sums = json::array();
    const int64_t seen = first_us > 0 ? rounds - 1 : rounds;
    const double seen_mean =
        seen > 0 ? (rounds_mean * double(rounds) - first_us) / double(seen) : 0.0;
    for (int64_t k = 1; k <= seen; ++k) min_sums.push_back(seen_mean * double(k));
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
              {"skipped_retrans", 0},
              {"min_sum_us", min_sums}}}};
}

inline impair::LogRecord log_record(uint8_t dir, const char* src, uint16_t sport, const char* dst,
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
inline RunFixture consistent_run() {
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
                    {"reord_seen", 0},
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
                    {"reord_seen", 1},
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
        json a = {
            {"client", kClientAddr},
            {"cport", cport},
            {"server", kServerAddr},
            {"sport", kServerPort},
            {"first_ns", t0},
            {"last_ns", t0 + 500 * kMs},
            {"syn", 1},
            {"synack", 1},
            {"handshake_ns", 20 * kMs},
            {"c2s", dir_stats(725 + conn, 3, 0, 0, fin, 0, 300, rtt_mean + 900, 71, rtt_mean)},
            {"s2c", dir_stats(10, 0, 1, 0, fin, rst, 0, 0)}};
        // Its 3 resends: a tail probe while ESTABLISHED, two in its DEGRADED
        // window (t0 + 300 ms to t0 + 500 ms).
        a["c2s"]["resends"] = {{t0 + 100 * kMs, 1}, {t0 + 350 * kMs, 0}, {t0 + 360 * kMs, 0}};
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
inline std::set<std::string> failing(const validate::Result& r) {
    std::set<std::string> out;
    for (const auto& row : r.rows)
        if (!row.pass) out.insert(row.kpi + "/" + row.source);
    return out;
}

// flowcorder validate's exit code on the run, without the report.
inline int cli_exit_code(const fs::path& run) {
    return validate::run_command(run.string(), {.report = false});
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

}  // namespace fc::validate::test
