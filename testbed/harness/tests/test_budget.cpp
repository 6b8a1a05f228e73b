// Workload budgets: the loss models' numbers, the throughput model, the
// silence allowance and the path search, each against values worked out by
// hand; and a repetition's deadline that follows from what the file says.
#include <gtest/gtest.h>

#include <cmath>

#include "budget.hpp"
#include "experiment.hpp"

using namespace fc::harness;

namespace {

// A client, a router and a server; l1 and l2 impaired as the test says.
Experiment three_nodes(const std::string& l1_ab, const std::string& l2_ab,
                       const std::string& workload, const std::string& extra_l2 = "") {
    const std::string text = R"(
[experiment]
name = "budget"

[[host]]
name = "client"

[[router]]
name = "r1"

[[host]]
name = "server"

[[link]]
name = "l1"
a = "client"
b = "r1"
a_addr = "198.18.1.1/24"
b_addr = "198.18.1.254/24"
a_to_b = ")" + l1_ab + R"("

[[link]]
name = "l2"
a = "r1"
b = "server"
a_addr = "198.18.2.254/24"
b_addr = "198.18.2.1/24"
a_to_b = ")" + l2_ab + R"("
)" + extra_l2 + R"(

[[route]]
host = "client"
to = "default"
via = "198.18.1.254"

[[route]]
host = "server"
to = "default"
via = "198.18.2.254"

[[workload]]
name = "w"
type = "bulk"
client = "client"
server = "server"
server_addr = "198.18.2.1"
port = 5001
)" + workload;
    return parse_experiment_text(text, "budget.toml");
}

}  // namespace

TEST(Budget, RandomLossIsItsOwnLossAfterLoss) {
    double loss = 0, lal = 0;
    loss_of_spec("loss random 1%", loss, lal);
    EXPECT_NEAR(loss, 0.01, 1e-9);
    EXPECT_NEAR(lal, 0.01, 1e-9);
    loss_of_spec("delay 10ms", loss, lal);
    EXPECT_EQ(loss, 0);
    EXPECT_EQ(lal, 0);
}

// p 1 %, r 10 %, 1-h 70 %, 1-k 0.1 % (experiments/tcp/loss-gemodel.toml):
// pi_bad = 1/11; loss = 0.7/11 + 0.001*10/11 = 0.064545...;
// beta = (0.7/11)/loss = 0.98592; after a loss: beta*(0.9*0.7 + 0.1*0.001)
// + (1-beta)*(0.01*0.7 + 0.99*0.001) = 0.62127.
TEST(Budget, GilbertElliottLossesComeInBursts) {
    double loss = 0, lal = 0;
    loss_of_spec("loss gemodel 1% 10% 70% 0.1%", loss, lal);
    EXPECT_NEAR(loss, 0.0645455, 1e-6);
    EXPECT_NEAR(lal, 0.62127, 1e-4);
}

TEST(Budget, CorruptionIsLossToTcp) {
    double loss = 0, lal = 0;
    loss_of_spec("loss random 1% corrupt 2%", loss, lal);
    EXPECT_NEAR(loss, 1 - 0.99 * 0.98, 1e-9);
}

// PFTK at p = 1 %, RTT 10 ms, RTO 200 ms, b = 2, MSS 1440:
// 0.01*sqrt(4*0.01/3) + 0.2*min(1, 3*sqrt(6*0.01/8))*0.01*(1 + 32e-4)
// = 0.00115470 + 0.2*0.25981*0.01*1.0032 = 0.00167599 s per segment.
TEST(Budget, PadhyeThroughputMatchesTheFormula) {
    EXPECT_NEAR(pftk_throughput(1440, 0.01, 0.01, 0.2), 1440 / 0.00167599, 50);
    EXPECT_TRUE(std::isinf(pftk_throughput(1440, 0.01, 0, 0.2)));
    EXPECT_GT(pftk_throughput(1440, 0.01, 0.001, 0.2), pftk_throughput(1440, 0.01, 0.01, 0.2));
}

TEST(Budget, SilenceAllowanceBacksOffUntilTcpGivesUp) {
    EXPECT_EQ(silence_allowance(0.5, 0.2, 0), 0);
    // 1000 losses at 1 %: k = 1 + ceil(log(1e-7)/log(0.01)) = 5 RTOs.
    EXPECT_NEAR(silence_allowance(0.01, 0.2, 1000), 0.2 + 0.4 + 0.8 + 1.6 + 3.2, 1e-9);
    // Every retransmission lost: tcp_retries2 = 15 retransmissions after the
    // first RTO, 0.2 s doubling to the 120 s cap: 924.6 s, TCP's own limit.
    EXPECT_NEAR(silence_allowance(1.0, 0.2, 1), 924.6, 1e-6);
    EXPECT_NEAR(silence_allowance(0.99, 0.2, 1e6), 924.6, 1e-6);
}

TEST(Budget, PathCombinesTheHopsOnTheWay) {
    const Experiment x =
        three_nodes("delay 10ms 2ms loss random 1% rate 10mbit", "delay 5ms rate 20mbit", "");
    const PathModel fwd = path_model(x, "client", "server");
    EXPECT_EQ(fwd.hops, 2);
    EXPECT_NEAR(fwd.one_way_s, 0.017 + 2 * 0.0005, 1e-9);
    EXPECT_NEAR(fwd.rate_bytes_per_s, 10e6 / 8, 1);
    EXPECT_NEAR(fwd.loss, 0.01, 1e-9);
    EXPECT_FALSE(fwd.dead);
    const PathModel rev = path_model(x, "server", "client");
    EXPECT_EQ(rev.hops, 2);
    EXPECT_NEAR(rev.one_way_s, 2 * 0.0005, 1e-9);
    EXPECT_EQ(rev.loss, 0);
    EXPECT_EQ(path_model(x, "client", "nowhere").hops, 0);
}

TEST(Budget, ScheduledDeathMakesAPathDead) {
    const Experiment x =
        three_nodes("delay 1ms", "delay 1ms", "user_timeout = \"3s\"\n",
                    "\n[[link.change]]\nat = \"2s\"\na_to_b = \"loss random 100%\"\n");
    EXPECT_TRUE(path_model(x, "client", "server").dead);
    const Budget b = derive_budget(x);
    ASSERT_EQ(b.workloads.size(), 1u);
    // Change at 2 s, then connect deadline (10 s) and the user timeout (3 s).
    EXPECT_NEAR(b.workloads[0].expected_s, 2 + 10 + 3, 1e-9);
    EXPECT_NEAR(b.workloads[0].silence_s, 3, 1e-9);
    EXPECT_TRUE(b.workloads[0].dead_path);
    EXPECT_FALSE(b.from_file);
    EXPECT_FALSE(
        derive_budget(three_nodes("delay 1ms loss random 5%", "", "")).workloads[0].dead_path);
}

TEST(Budget, SlowerLossierPathsGetLongerBudgets) {
    const auto budget_of = [](const std::string& spec) {
        return derive_budget(three_nodes(spec, "", "bytes = \"20MB\"\n")).total_s;
    };
    const double clean = budget_of("delay 1ms");
    const double slow = budget_of("delay 1ms rate 10mbit");
    const double lossy = budget_of("delay 1ms loss random 2%");
    const double bursty = budget_of("delay 1ms loss gemodel 1% 10% 70% 0.1%");
    // 20 MB at 1.25 MB/s is 16 s; three times that, plus the start-up.
    EXPECT_GT(slow, 3 * 16.0);
    EXPECT_GT(lossy, clean);
    EXPECT_GT(bursty, lossy);
    // A clean transfer is caught quickly if it hangs.
    EXPECT_LT(clean, 30.0);
}

// Data coming down a clean direction does not make a connection safe from
// an upward burst: its SYN and requests go up (tcp-loss-gemodel's rr4 lost
// its SYN three times in a row and hit the 3 s user timeout the old,
// data-direction-only allowance of 0.2 s gave it).
TEST(Budget, SilenceCountsTheDirectionTheDataDoesNotTake) {
    Experiment x = three_nodes("loss gemodel 1% 10% 70% 0.1%", "", "");
    x.workloads[0].type = WorkloadType::rr;
    x.workloads[0].request = 200;
    x.workloads[0].response = 20000;
    x.workloads[0].requests = 5;
    x.workloads[0].connections = 4;
    const WorkloadBudget wb = derive_budget(x).workloads[0];
    // A SYN lost three times: 1 + 2 + 4 s before the fourth is sent.
    EXPECT_GE(wb.silence_s, 1.0 + 2.0 + 4.0) << wb.why;
    EXPECT_NE(wb.why.find("after a loss 64.6%"), std::string::npos) << wb.why;
    // The same workload on a clean path has nothing to wait for.
    Experiment clean = x;
    clean.links[0].a_to_b = "";
    EXPECT_EQ(derive_budget(clean).workloads[0].silence_s, 0);
}

// A queue behind a rate limit drops when full, whatever the spec says of
// loss: tcp-bottleneck's churn lost a SYN to it three times running.
TEST(Budget, ARateLimitedQueueCanDropASynAgainAndAgain) {
    Experiment x = three_nodes("rate 20mbit delay 5ms limit 50", "", "");
    x.workloads[0].type = WorkloadType::churn;
    x.workloads[0].connections = 20;
    const WorkloadBudget wb = derive_budget(x).workloads[0];
    EXPECT_GE(wb.silence_s, 1.0 + 2.0 + 4.0) << wb.why;
    Experiment clean = x;
    clean.links[0].a_to_b = "delay 5ms";
    EXPECT_EQ(derive_budget(clean).workloads[0].silence_s, 0);
}

TEST(Budget, TheFilesTimeoutOverridesTheDerivedOne) {
    Experiment x = three_nodes("delay 1ms", "", "");
    x.timeout_ns = 7'000'000'000;
    const Budget b = derive_budget(x);
    EXPECT_TRUE(b.from_file);
    EXPECT_EQ(b.total_s, 7.0);
}

TEST(Budget, RefusedConnectionsEndAtOnce) {
    const Experiment x =
        three_nodes("delay 1ms", "", "listen = false\nexpect = \"refused\"\nconnections = 4\n");
    const Budget b = derive_budget(x);
    ASSERT_EQ(b.workloads.size(), 1u);
    EXPECT_EQ(b.workloads[0].silence_s, 0);
    // Four connections, one at a time, each within the 10 s connect deadline.
    EXPECT_NEAR(b.workloads[0].expected_s, 4 * 10.0, 1e-9);
}
