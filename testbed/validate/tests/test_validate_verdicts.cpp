// The verdict step on the crafted TCP run: each tolerance at its boundary,
// a KPI the profiles lack, skipped inputs and their declarations, per-KPI
// coverage (a group passes only when every member does).
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "validate/tests/crafted_tcp_run.hpp"
#include "validate/verdict.hpp"

using namespace fc::validate::test;  // NOLINT: the crafted run's vocabulary

namespace {

// Every (protocol, kpi, source) the validators compare, with the tolerance it
// must have: changing a default tolerance means changing this table too.
struct Pinned {
    const char *protocol, *kpi, *source;
    double abs, rel;
};
const Pinned kPinned[] = {
    {"tcp", "bytes_acked", "tcp_info", 0, 0},
    {"tcp", "bytes_received", "tcp_info", 0, 0},
    {"tcp", "bytes_sent", "tcp_info", 0, 0},
    {"tcp", "bytes_retrans", "tcp_info", 0, 0},
    {"tcp", "segs_out", "tcp_info", 0, 0},
    {"tcp", "segs_in", "tcp_info", 0, 0},
    {"tcp", "data_segs_out", "tcp_info", 0, 0},
    {"tcp", "data_segs_in", "tcp_info", 0, 0},
    {"tcp", "retrans_segs", "tcp_info", 0, 0},
    {"tcp", "ooo_segs_in", "tcp_info", 0, 0},
    {"tcp", "rto_stalls", "tcp_info", 0, 0},
    {"tcp", "dsack_dups", "tcp_info", 0, 0},
    {"tcp", "reord_seen", "tcp_info", 0, 0},
    {"tcp", "srtt_us", "tcp_info", 0, 0},
    {"tcp", "rttvar_us", "tcp_info", 0, 0},
    {"tcp", "min_rtt_us", "tcp_info", 0, 0},
    {"tcp", "lost_out_end", "tcp_info", 0, 0},
    {"tcp", "data_segs_out", "pcap", 0, 0},
    {"tcp", "retrans_segs", "pcap", 0, 0},
    {"tcp", "syn_retrans", "pcap", 0, 0},
    {"tcp", "dup_segs_in", "pcap", 0, 0},
    {"tcp", "close", "pcap", 0, 0},
    {"tcp", "ooo_segs_in", "pcap", 2, 0},
    {"tcp", "ooo_dist_mean", "pcap", 1500, 0.02},
    {"tcp", "rtt_mean_us", "pcap", 5, 0},
    {"tcp", "rtt_samples", "pcap", 0, 0},
    {"tcp", "window_end_ns", "pcap", 5'000, 0},
    {"tcp", "window_start_ns", "pcap", 5'000, 0},
    {"tcp", "lost_segs", "impairment_log", 2, 0.25},
    {"tcp", "window_start_ns", "workload", 5'000, 0},
    {"tcp", "close_cause", "workload", 0, 0},
    {"tcp", "profile_chain", "workload", 0, 0},
    {"tcp", "orphan_profiles", "workload", 0, 0},
    {"dns", "lookup_profile", "workload", 0, 0},
    {"dns", "orphan_lookups", "workload", 0, 0},
    {"dns", "dns_outcome", "workload", 0, 0},
    {"dns", "dns_gai_error", "workload", 0, 0},
    {"dns", "dns_v4_addrs", "workload", 0, 0},
    {"dns", "dns_v6_addrs", "workload", 0, 0},
    {"dns", "dns_link", "workload", 0, 0},
    {"dns", "dns_latency_us", "workload", 5, 0},
    {"dns", "window_start_ns", "workload", 5'000, 0},
    {"dns", "window_start_ns", "pcap", 5'000, 0},
    {"dns", "dns_lat_first_us", "pcap", 5, 0},
    {"dns", "dns_lat_last_us", "pcap", 5, 0},
    {"dns", "dns_queries", "pcap", 0, 0},
    {"dns", "query_profile", "pcap", 0, 0},
    {"dns", "orphan_queries", "pcap", 0, 0},
    {"dns", "dns_attempts", "pcap", 0, 0},
    {"dns", "dns_query_bytes", "pcap", 0, 0},
    {"dns", "dns_reply_bytes", "pcap", 0, 0},
    {"dns", "dns_rcode", "pcap", 0, 0},
    {"dns", "dns_answers", "pcap", 0, 0},
    {"dns", "dns_attempts", "impairment_log", 0, 0},
    {"dns", "dns_delivered", "server_log", 0, 0},
    {"mptcp", "mptcp_connection", "workload", 0, 0},
    {"mptcp", "orphan_connections", "workload", 0, 0},
    {"mptcp", "profile_chain", "workload", 0, 0},
    {"mptcp", "close_cause", "workload", 0, 0},
    {"mptcp", "subflow_marked", "workload", 0, 0},
    {"mptcp", "subflow_linked", "workload", 0, 0},
    {"mptcp", "mptcp_bytes_sent", "mptcp_full_info", 0, 0},
    {"mptcp", "mptcp_bytes_received", "mptcp_full_info", 0, 0},
    {"mptcp", "mptcp_bytes_acked", "mptcp_full_info", 0, 0},
    {"mptcp", "mptcp_bytes_retrans", "mptcp_full_info", 0, 0},
    {"mptcp", "mptcp_fallback", "mptcp_full_info", 0, 0},
    {"mptcp", "subflow_data_segs_out", "mptcp_full_info", 0, 0},
    {"mptcp", "subflow_data_segs_in", "mptcp_full_info", 0, 0},
    {"mptcp", "subflow_bytes_sent", "mptcp_full_info", 0, 0},
    {"mptcp", "subflow_bytes_retrans", "mptcp_full_info", 0, 0},
    {"mptcp", "subflow_bytes_acked", "mptcp_full_info", 1, 0},
    {"mptcp", "subflow_bytes_received", "mptcp_full_info", 1, 0},
    {"mptcp", "mptcp_joins", "pm_monitor", 0, 0},
    {"mptcp", "mptcp_sf_closes", "pm_monitor", 0, 0},
    {"mptcp", "mptcp_subflows_max", "pm_monitor", 0, 0},
    {"mptcp", "mptcp_joins", "pcap", 0, 0},
};

// An error exactly at the bound passes, one just past it fails, on either
// side of the truth, where the absolute part rules (truth 0) and where the
// relative part may (a large truth).
TEST(ValidateTolerance, EachPinnedToleranceHoldsAtItsBoundary) {
    constexpr double kPast = 1e-6;
    for (const auto& p : kPinned) {
        const std::string what = std::string(p.protocol) + ":" + p.kpi + "/" + p.source;
        const auto& rule = fc::validate::default_tolerance(p.protocol, p.kpi, p.source);
        EXPECT_EQ(rule.tolerance.abs, p.abs) << what;
        EXPECT_EQ(rule.tolerance.rel, p.rel) << what;
        EXPECT_EQ(rule.tolerance.share, 1.0) << what;
        EXPECT_GT(std::string(rule.reason).size(), 20u) << what << ": a tolerance needs its reason";
        for (const double truth : {0.0, 1e6}) {
            const double bound = std::max(p.abs, p.rel * truth);
            EXPECT_TRUE(rule.tolerance.within(truth + bound, truth)) << what << " at " << truth;
            EXPECT_TRUE(rule.tolerance.within(truth - bound, truth)) << what << " at " << truth;
            EXPECT_FALSE(rule.tolerance.within(truth + bound + kPast, truth)) << what;
            EXPECT_FALSE(rule.tolerance.within(truth - bound - kPast, truth)) << what;
        }
    }
}

// No rule is shadowed by an earlier one, and each says why.
TEST(ValidateTolerance, EveryRuleIsReachable) {
    auto concrete = [](const char* v, const char* any) { return std::string(v) == "*" ? any : v; };
    for (const auto& rule : fc::validate::tolerance_rules()) {
        const auto& found = fc::validate::default_tolerance(concrete(rule.protocol, "tcp"),
                                                            concrete(rule.kpi, "no_such_kpi"),
                                                            concrete(rule.source, "no_source"));
        EXPECT_EQ(&found, &rule) << rule.protocol << ":" << rule.kpi << "/" << rule.source;
        EXPECT_FALSE(std::string(rule.reason).empty());
    }
}

class ValidateVerdicts : public Validate {
  protected:
    std::string row_note(const validate::Result& r, const std::string& kpi_source) {
        for (const auto& row : r.rows)
            if (row.kpi + "/" + row.source == kpi_source) return row.note;
        return "(no row " + kpi_source + ")";
    }
    void sql(const std::string& statement) {
        sqlite3* db = nullptr;
        ASSERT_EQ(sqlite3_open((dir.path() / "profiles.sqlite").c_str(), &db), SQLITE_OK);
        ASSERT_EQ(sqlite3_exec(db, statement.c_str(), nullptr, nullptr, nullptr), SQLITE_OK)
            << sqlite3_errmsg(db);
        sqlite3_close(db);
    }
    fs::path rep() const { return dir.path() / "exp-a" / "rep-0"; }
};

// The opening window's start lies in [connect() called, connect() returned]
// and before the SYN's capture stamp, each to 5 us (the crafted run sits on
// every bound: SYN_SENT at t0, the SYN captured at t0, connect() returning
// with the SYN-ACK at t0 + 20 ms).
TEST_F(ValidateVerdicts, WindowStartAtItsToleranceEndToEnd) {
    const int64_t t0 = kBase + 1000 * kMs;  // connection 1
    // A workload preempted for 3 ms between its clock read and connect():
    // inside. (The client's first RTT round is re-timed from connect(), so
    // rtt_mean_us moves by 3 ms / 71 samples, within its 500 us.)
    run.client(1).truth["t_start_ns"] = t0 - 3 * kMs;
    EXPECT_TRUE(failing(judge_run()).empty()) << ::testing::PrintToString(failing(judge_run()));
    run.client(1).truth["t_start_ns"] = t0 + 5'000;
    EXPECT_TRUE(failing(judge_run()).empty()) << ::testing::PrintToString(failing(judge_run()));
    run.client(1).truth["t_start_ns"] = t0 + 5'001;
    expect_only_failure("window_start_ns/workload");
    run.client(1).truth["t_start_ns"] = t0 - 100'000;
    // The SYN's capture stamp is the upper bound.
    run.capture_conn("captures/l1-a", 1)["first_ns"] = t0 - 5'000;
    EXPECT_TRUE(failing(judge_run()).empty()) << ::testing::PrintToString(failing(judge_run()));
    run.capture_conn("captures/l1-a", 1)["first_ns"] = t0 - 5'001;
    expect_only_failure("window_start_ns/pcap");
}

// The opening window's end lies in [SYN-ACK captured, connect() returned],
// each to 5 us.
TEST_F(ValidateVerdicts, WindowEndAtItsToleranceEndToEnd) {
    // The SYN-ACK queued at the interface 1 ms before a busy core's softirq
    // took it up: inside.
    run.capture_conn("captures/l1-a", 0)["handshake_ns"] = 19 * kMs;
    EXPECT_TRUE(failing(judge_run()).empty()) << ::testing::PrintToString(failing(judge_run()));
    run.capture_conn("captures/l1-a", 0)["handshake_ns"] = 20 * kMs + 5'000;
    EXPECT_TRUE(failing(judge_run()).empty()) << ::testing::PrintToString(failing(judge_run()));
    run.capture_conn("captures/l1-a", 0)["handshake_ns"] = 20 * kMs + 5'001;
    expect_only_failure("window_end_ns/pcap");
    run.capture_conn("captures/l1-a", 0)["handshake_ns"] = 20 * kMs;
    // connect() returning before ESTABLISHED was stamped.
    run.client(0).truth["t_connected_ns"] = kBase + 20 * kMs - 5'000;
    EXPECT_TRUE(failing(judge_run()).empty()) << ::testing::PrintToString(failing(judge_run()));
    run.client(0).truth["t_connected_ns"] = kBase + 20 * kMs - 5'001;
    expect_only_failure("window_end_ns/pcap");
    // The http client's times come from ab's log, to the second: no bound
    // (the explorer's seed 107 has such connections).
    run.client(0).truth["t_start_connect"] = false;
    run.client(0).truth["t_connected_ns"] = kBase - 1000 * kMs;
    EXPECT_TRUE(failing(judge_run()).empty()) << ::testing::PrintToString(failing(judge_run()));
}

// The RTT mean against the cheapest sequence of as many rounds as the agent
// counted (71), and the count against the longest sequence.
TEST_F(ValidateVerdicts, RttMeanAndCountAtTheirBoundsEndToEnd) {
    const double exported = (1 * 20000.0 + 50 * 21000.0 + 20 * 22000.0) / 71;
    auto set_truth = [&](double least_mean, int longest) {
        auto& sums = run.capture_conn("captures/l1-a", 0)["c2s"]["rtt_rounds"]["min_sum_us"];
        sums = nlohmann::json::array();
        for (int k = 1; k <= longest; ++k) sums.push_back(least_mean * k);
    };
    // A busy host: its kernel's samples 3 ms longer than the wire's rounds.
    set_truth(exported - 3000, 71);
    EXPECT_TRUE(failing(judge_run()).empty()) << ::testing::PrintToString(failing(judge_run()));
    set_truth(exported + 5, 71);
    EXPECT_TRUE(failing(judge_run()).empty()) << ::testing::PrintToString(failing(judge_run()));
    set_truth(exported + 5.01, 71);  // shorter than any 71 rounds the capture allows
    expect_only_failure("rtt_mean_us/pcap");
    // Fewer rounds than the agent counted: impossible, whatever the mean.
    set_truth(exported - 3000, 70);
    expect_only_failure("rtt_samples/pcap");
    // More possible rounds than the kernel timed: an ACK it processed late.
    set_truth(exported, 90);
    EXPECT_TRUE(failing(judge_run()).empty()) << ::testing::PrintToString(failing(judge_run()));
}

// A KPI column the agent stopped exporting fails where it was due, and its
// coverage with it; it is not skipped in silence.
TEST_F(ValidateVerdicts, AbsentColumnFailsEveryComparisonThatNeededIt) {
    for (auto& s : run.sides)
        for (auto& p : s.profiles) p.erase("dup_segs_in");
    const auto r = judge_run();
    EXPECT_EQ(failing(r), (std::set<std::string>{"dup_segs_in/pcap", "dup_segs_in/coverage",
                                                 "coverage:duplicates/any"}));
    EXPECT_NE(row_note(r, "dup_segs_in/pcap").find("4 not exported (dup_segs_in: column absent"),
              std::string::npos)
        << row_note(r, "dup_segs_in/pcap");
    EXPECT_EQ(cli_exit_code(dir.path()), 1);
    // The details say so too, with no exported value.
    std::ifstream in(dir.path() / "validation-details.csv");
    std::stringstream text;
    text << in.rdbuf();
    EXPECT_NE(text.str().find(",dup_segs_in,pcap,,1,,0,dup_segs_in: column absent"),
              std::string::npos);
}

TEST_F(ValidateVerdicts, NullValueFailsItsComparison) {
    run.write(dir.path());
    sql("UPDATE profiles SET bytes_acked = NULL WHERE flow_id = 100 AND profile_seq = 1");
    const auto r = validate::validate_run(dir.path().string());
    EXPECT_EQ(failing(r), std::set<std::string>{"bytes_acked/tcp_info"});
    EXPECT_NE(row_note(r, "bytes_acked/tcp_info").find("NULL in profile 1"), std::string::npos)
        << row_note(r, "bytes_acked/tcp_info");
}

// The agent saw out-of-order data but measured no distance: a miss, not a skip.
TEST_F(ValidateVerdicts, NoDistanceSamplesWhereTheWireHadSomeFails) {
    for (auto& p : run.sides[1].profiles) p["ooo_dist_samples"] = int64_t{0};
    expect_only_failure("ooo_dist_mean/pcap");
}

// A truth field the running kernel does not fill is a skip of that
// comparison; the experiment may declare it, by kpi/source or by source.
TEST_F(ValidateVerdicts, TruthFieldAbsentIsASkipTheExperimentMayDeclare) {
    run.client(0).truth["tcp_info"].erase("total_rto");
    auto r = judge_run();
    EXPECT_EQ(failing(r), std::set<std::string>{"rto_stalls/tcp_info/skipped"});
    EXPECT_NE(row_note(r, "rto_stalls/tcp_info/skipped").find("not declared"), std::string::npos);
    run.manifest["skips"] = {{"rto_stalls/tcp_info", "kernel before 6.7"}};
    EXPECT_TRUE(failing(judge_run()).empty());
    run.manifest["skips"] = {{"tcp_info", "kernel before 6.7"}};
    EXPECT_TRUE(failing(judge_run()).empty());
    run.manifest["skips"] = {{"rto_stalls/pcap", "the wrong source"}};
    EXPECT_EQ(failing(judge_run()), std::set<std::string>{"rto_stalls/tcp_info/skipped"});
}

TEST_F(ValidateVerdicts, MissingEngineLogIsASkip) {
    run.write(dir.path());
    fs::remove(rep() / "links" / "l1.implog");
    const auto r = validate::validate_run(dir.path().string());
    EXPECT_EQ(failing(r), std::set<std::string>{"impairment_log/skipped"});
    ASSERT_EQ(r.skips.size(), 1u);
    EXPECT_NE(r.skips[0].what.find("l1.implog: missing"), std::string::npos);
}

TEST_F(ValidateVerdicts, MissingCaptureAnalysisIsASkip) {
    run.write(dir.path());
    fs::remove(rep() / "captures" / "l1-a.json");
    const auto r = validate::validate_run(dir.path().string());
    EXPECT_EQ(failing(r), std::set<std::string>{"pcap/skipped"});
    ASSERT_EQ(r.skips.size(), 1u);
    EXPECT_NE(r.skips[0].what.find("l1-a.json: missing"), std::string::npos);
}

// Under --require-coverage a KPI that needs a condition must have met it
// (a non-zero truth): the crafted run loses no SYN, ends with nothing marked
// lost and has no RTO, so those KPIs and their groups fail, although other
// members of the same groups (bytes_retrans, lost_segs) are covered.
TEST_F(ValidateVerdicts, EachKpiIsCoveredOnItsOwnAndGroupsNeedEveryMember) {
    run.write(dir.path());
    const auto relaxed = validate::validate_run(dir.path().string(), false);
    EXPECT_TRUE(relaxed.all_pass()) << ::testing::PrintToString(failing(relaxed));
    const auto strict = validate::validate_run(dir.path().string(), true);
    EXPECT_EQ(failing(strict),
              (std::set<std::string>{"syn_retrans/coverage", "lost_out_end/coverage",
                                     "rto_stalls/coverage", "coverage:retransmitted/any",
                                     "coverage:lost/any", "coverage:stalls/any"}));
    EXPECT_NE(row_note(strict, "syn_retrans/coverage").find("needs a SYN or SYN-ACK lost"),
              std::string::npos);
    EXPECT_NE(row_note(strict, "coverage:retransmitted/any").find("syn_retrans"),
              std::string::npos);
    // Segments still marked lost at the end exercise lost_out_end: its group passes.
    run.client(0).truth["tcp_info"]["lost"] = 2;
    profile(0, 2)["lost_out_end"] = int64_t{2};
    run.write(dir.path());
    const auto lost = validate::validate_run(dir.path().string(), true);
    EXPECT_FALSE(failing(lost).count("coverage:lost/any"));
    EXPECT_TRUE(failing(lost).count("coverage:retransmitted/any"));
}

// Every coverage entry names a reason, and each KPI has one entry per protocol.
TEST(ValidateCoverage, EveryKpiHasOneEntryWithItsReason) {
    std::set<std::string> seen;
    for (const auto& k : fc::validate::coverage_kpis()) {
        EXPECT_TRUE(seen.insert(std::string(k.protocol) + ":" + k.kpi).second) << k.kpi;
        EXPECT_FALSE(std::string(k.reason).empty()) << k.kpi;
        if (k.due == fc::validate::Due::with_source) {
            EXPECT_FALSE(std::string(k.source).empty());
        }
    }
}

TEST_F(ValidateVerdicts, RowsPrintTheirToleranceAndItsReason) {
    const auto r = judge_run();
    validate::OutputOptions csv_only;
    csv_only.report = false;
    validate::write_outputs(r, csv_only);
    std::ifstream in(dir.path() / "validation.csv");
    std::string line;
    bool found = false;
    while (std::getline(in, line))
        if (line.rfind("exp-a,tcp,window_start_ns,workload,", 0) == 0)
            found = line.find("abs=5000 rel=0 share=1") != std::string::npos &&
                    line.find("containment in [connect() called, connect() returned]") !=
                        std::string::npos;
    EXPECT_TRUE(found);
    run.manifest["tolerances"] = {{"window_start_ns", {{"abs", 1200000}}}};
    for (const auto& row : judge_run().rows) {
        if (row.kpi == "window_start_ns" && row.source == "workload") {
            EXPECT_NE(row.tolerance_reason.find("set by the experiment file ([tolerance] "
                                                "window_start_ns)"),
                      std::string::npos);
        }
    }
}

}  // namespace
