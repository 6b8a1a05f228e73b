// The validator on crafted run directories: a consistent run passes every
// row; each mutation of one KPI must fail exactly the row that judges it.
#include <gtest/gtest.h>

#include <algorithm>
#include <sstream>

#include "validate/tests/crafted_tcp_run.hpp"

using namespace fc::validate::test;  // NOLINT: the crafted run's vocabulary

namespace {

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
          "orphan_profiles/workload", "coverage:stalls/any",  "resends_in_degraded/pcap"})
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

// Every resend but a tail probe lies in a DEGRADED window, its stamp to
// 5 us of the window's bounds.
TEST_F(Validate, AResendOutsideDegradedThatIsNoTailProbeFails) {
    run.capture_conn("captures/l1-a", 0)["c2s"]["resends"][0][1] = 0;
    expect_only_failure("resends_in_degraded/pcap");
}

TEST_F(Validate, ResendStampsAreJudgedToFiveMicrosecondsOfTheWindow) {
    auto& r = run.capture_conn("captures/l1-a", 0)["c2s"]["resends"];
    const int64_t start = r[1][0].get<int64_t>() - 50 * kMs;  // the DEGRADED window's start
    const int64_t end = start + 200 * kMs;
    r = json::array({r[0], {start - 5000, 0}, {end + 5000, 0}});
    EXPECT_TRUE(failing(judge_run()).empty()) << ::testing::PrintToString(failing(judge_run()));
    r[1][0] = start - 5001;
    expect_only_failure("resends_in_degraded/pcap");
    r[1][0] = start;
    r[2][0] = end + 5001;
    expect_only_failure("resends_in_degraded/pcap");
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

// The agent's mean 5 % off (1 ms on 21 ms) is far outside what the clocks
// allow: 200 us whatever the RTT (tolerance.cpp).
// The kernel's samples are never shorter than the capture's rounds: a mean
// 5 % below fails, 5 % above is the host's latency and passes.
TEST_F(Validate, RttMeanBelowTheCapturesFails) {
    for (int k = 0; k < 3; ++k) {
        auto& v = std::get<int64_t>(profile(0, k)["rtt_mean_us"]);
        v = static_cast<int64_t>(static_cast<double>(v) * 1.05);
    }
    EXPECT_TRUE(failing(judge_run()).empty());
    for (int k = 0; k < 3; ++k) {
        auto& v = std::get<int64_t>(profile(0, k)["rtt_mean_us"]);
        v = static_cast<int64_t>(static_cast<double>(v) / 1.05 * 0.95);
    }
    expect_only_failure("rtt_mean_us/pcap");
}

TEST_F(Validate, LostSegmentsAreJudgedAgainstTheImpairmentLog) {
    // Truth: 3 data segments dropped (the dropped pure ACK does not count),
    // up to 4 with the one DSACK the client received.
    profile(0, 2)["lost_segs"] = int64_t{4};  // 6: within abs 2 of 4
    EXPECT_TRUE(failing(judge_run()).empty());
    profile(0, 2)["lost_segs"] = int64_t{5};  // 7: off by 3 > max(2, 1)
    expect_only_failure("lost_segs/impairment_log");
}

// Data only late is marked lost too, and its resend comes back as a DSACK:
// the marks may exceed the drops by the DSACKs the sender received.
TEST_F(Validate, LostMarksOfDataOnlyLateAreBoundedByTheDsacks) {
    run.sides[0].truth["tcp_info"]["dsack_dups"] = 21;
    profile(0, 2)["dsack_dups"] = std::get<int64_t>(profile(0, 2)["dsack_dups"]) + 20;
    // The other windows hold 2 marks: 22 here make 24 = 3 drops + 21 DSACKs.
    profile(0, 2)["lost_segs"] = int64_t{22};
    EXPECT_TRUE(failing(judge_run()).empty()) << ::testing::PrintToString(failing(judge_run()));
    profile(0, 2)["lost_segs"] = int64_t{28};  // 30: 6 over 24, within 25 %
    EXPECT_TRUE(failing(judge_run()).empty());
    profile(0, 2)["lost_segs"] = int64_t{29};  // 31: 7 over
    expect_only_failure("lost_segs/impairment_log");
}

TEST_F(Validate, WrongCloseCauseFailsItsRow) {
    profile(2, 2)["close_cause"] = int64_t{2};  // reset sent, but the server reset us
    expect_only_failure("close_cause/workload");
}

// The client closed after the FINs crossed, its own FIN never acknowledged,
// and the server then reset it (tcp-loss-gemodel): the socket, still in
// LAST_ACK, ended by a reset received, which the capture at the client's end
// shows (rst_live) and the workload, already closed, cannot.
TEST_F(Validate, AResetReachingASocketAfterTheApplicationClosedIsItsCause) {
    profile(0, 2)["end_state"] = int64_t{6};
    profile(0, 2)["close_cause"] = int64_t{3};
    auto& in = run.capture_conn("captures/l1-a", 0)["s2c"];
    in["rst"] = 1;
    in["rst_live"] = 1;
    EXPECT_TRUE(failing(judge_run()).empty()) << ::testing::PrintToString(failing(judge_run()));
    in["rst_live"] = 0;  // a late reset to a socket gone: the FIN close stands
    EXPECT_EQ(failing(judge_run()), (std::set<std::string>{"close_cause/workload", "close/pcap"}));
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

// A malformed truth or capture file of one repetition fails that experiment
// with the file and field named, and the rest of the run is still judged
// (the explorer validates its 300 scenarios as one run).
TEST_F(Validate, MalformedCaptureFailsItsExperimentNotTheRun) {
    run.capture_conn("captures/l1-a", 0)["c2s"]["data_segs"] = "many";
    const auto r = judge_run();
    // (What the repetition compared before the file stopped it stays, half done.)
    EXPECT_TRUE(failing(r).count("unusable_input/validator"));
    bool named = false;
    for (const auto& d : r.details)
        if (d.kpi == "unusable_input")
            named =
                d.note.find("connections[0].c2s.data_segs: expected a number") != std::string::npos;
    EXPECT_TRUE(named);
    EXPECT_EQ(cli_exit_code(dir.path()), 1);
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

// A capture that dropped packets is not used; the skip fails the run until
// the experiment declares it.
TEST_F(Validate, CaptureWithDropsIsASkipThatFailsUnlessDeclared) {
    run.captures["captures/l1-b"]["pcap_drops"] = 5;
    run.capture_conn("captures/l1-b", 0)["c2s"]["dup_segs"] = 99;  // would fail if used
    auto r = judge_run();
    EXPECT_EQ(failing(r), std::set<std::string>{"pcap/skipped"});
    for (const auto& d : r.details) EXPECT_FALSE(d.source == "pcap" && d.host == "server");
    ASSERT_EQ(r.skips.size(), 1u);
    EXPECT_EQ(r.skips[0].key, "pcap");
    EXPECT_NE(r.skips[0].what.find("l1-b.json: pcap_drops 5"), std::string::npos)
        << r.skips[0].what;
    EXPECT_EQ(cli_exit_code(dir.path()), 1);
    run.manifest["skips"] = {{"pcap", "the capture buffer overflows at 20 Mbit/s"}};
    r = judge_run();
    EXPECT_TRUE(failing(r).empty()) << ::testing::PrintToString(failing(r));
    for (const auto& row : r.rows) {
        if (row.source == "skipped") {
            EXPECT_NE(row.note.find("declared: the capture buffer overflows"), std::string::npos);
        }
    }
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
              "p95_abs_error,verdict,tolerance,note,tolerance_reason");
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
// cover every KPI, a suite that must cover them fails that KPI's row and its group's.
TEST_F(Validate, UncoveredKpiFailsOnlyWhenCoverageIsRequired) {
    for (auto& side : run.sides) side.truth["tcp_info"] = nullptr;
    run.write(dir.path());
    const auto relaxed = validate::validate_run(dir.path().string(), false);
    EXPECT_TRUE(relaxed.all_pass()) << ::testing::PrintToString(failing(relaxed));
    EXPECT_NE(std::find(relaxed.not_covered.begin(), relaxed.not_covered.end(), "tcp:rto_stalls"),
              relaxed.not_covered.end());
    const auto strict = validate::validate_run(dir.path().string(), true);
    EXPECT_EQ(failing(strict).count("rto_stalls/coverage"), 1u);
    EXPECT_EQ(failing(strict).count("coverage:stalls/any"), 1u);
    EXPECT_FALSE(strict.all_pass());
}

// How many connections lost_segs was judged for against the engine's log.
static int64_t lost_rows(const validate::Result& r) {
    int64_t n = 0;
    for (const auto& row : r.rows)
        if (row.kpi == "lost_segs" && row.source == "impairment_log") n += row.compared;
    return n;
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

// The sender saw reordering (somewhere the engine's log cannot show it, two
// CPUs' veth backlogs say): its lost marks are not the link's drops.
TEST_F(Validate, LostSegmentsAreNotJudgedWhenTheSenderSawReordering) {
    const int64_t before = lost_rows(judge_run());
    ASSERT_GE(before, 1);
    run.sides[0].truth["tcp_info"]["reord_seen"] = 3;
    profile(0, 2)["reord_seen"] = std::get<int64_t>(profile(0, 2)["reord_seen"]) + 3;
    profile(0, 2)["lost_segs"] = int64_t{40};
    const auto r = judge_run();
    EXPECT_TRUE(failing(r).empty()) << ::testing::PrintToString(failing(r));
    EXPECT_EQ(lost_rows(r), before - 1);  // client 0 is no longer compared
}

// An open that never established (explore-2183: its SYNs went unanswered)
// has its SYN timeouts marked lost, while the engine's log counts dropped
// data packets: its lost_segs is not judged against the log.
TEST_F(Validate, LostSegmentsAreNotJudgedForAnOpenThatNeverEstablished) {
    const int64_t before = lost_rows(judge_run());
    ASSERT_GE(before, 1);
    run.sides[0].truth["t_connected_ns"] = nullptr;
    EXPECT_EQ(lost_rows(judge_run()), before - 1);
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

// A client port reused within a coarse truth interval (http's truth comes
// from nginx's log with a second of slack on the client side): each truth,
// taken in time order, pairs with its own agent connection, capture entry
// and engine records, whatever order the capture lists them in.
TEST_F(Validate, ReusedFourTupleWithinACoarseTruthPairsInTimeOrder) {
    const int64_t port0 = 40001, port1 = 40002;
    for (int side = 2; side < 4; ++side) {
        auto& t = run.sides[side].truth;
        (t["role"] == "client" ? t["lport"] : t["rport"]) = port0;
        for (auto& p : run.sides[side].profiles)
            (t["role"] == "client" ? p["src_port"] : p["dst_port"]) = port0;
    }
    for (auto& s : run.sides) {
        s.truth["t_start_ns"] = s.truth["t_start_ns"].get<int64_t>() - 1100 * kMs;
        s.truth["t_end_ns"] = s.truth["t_end_ns"].get<int64_t>() + 1100 * kMs;
        s.truth["t_start_connect"] = false;
    }
    for (auto& r : run.implog) {
        if (r.sport == port1) r.sport = static_cast<uint16_t>(port0);
        if (r.dport == port1) r.dport = static_cast<uint16_t>(port0);
    }
    for (const char* stem : {"captures/l1-a", "captures/l1-b"}) {
        auto& conns = run.captures[stem]["connections"];
        conns[1]["cport"] = port0;
        std::swap(conns[0], conns[1]);  // the later connection listed first
    }
    const auto r = judge_run();
    EXPECT_TRUE(failing(r).empty()) << ::testing::PrintToString(failing(r));
}
