// Unit tests of the plain estimator library on hand-built cases whose answers
// are worked out in the comments.
#include <gtest/gtest.h>

#include <cmath>
#include <set>
#include <sstream>
#include <stdexcept>

#include "latency/estimators.hpp"
#include "latency/flow_key.hpp"
#include "latency/records.hpp"

namespace fl = flowcorder::latency;

namespace {

fl::FlowKey key(uint16_t sport) { return {0x0a010001, 0x0a020001, sport, 80, 17}; }

fl::FlowRecord record(uint16_t sport, int64_t first, int64_t last, uint64_t packets) {
    return {key(sport), first, last, packets, packets * 100, fl::EndReason::IdleTimeout};
}

fl::MatchedFlow flow(uint16_t sport, int64_t a_first, int64_t a_last, int64_t b_first,
                     int64_t b_last, uint64_t a_packets, uint64_t b_packets) {
    return {record(sport, a_first, a_last, a_packets), record(sport, b_first, b_last, b_packets)};
}

// F0 lives [0, 1000] with samples (0, 100) and (1000, 300); F1 is one packet at
// 200 with delay 150; F2 lives [500, 2000] with samples (500, 400), (2000, 250)
// and lost one packet (5 sent, 4 arrived).
std::vector<fl::MatchedFlow> three_flows() {
    return {flow(1, 0, 1000, 100, 1300, 10, 10), flow(2, 200, 200, 350, 350, 1, 1),
            flow(3, 500, 2000, 900, 2250, 5, 4)};
}

fl::MultiflowOptions options(fl::Window w, fl::Weighting g, fl::LossPolicy l) { return {w, g, l}; }

}  // namespace

TEST(LatencyNaive, AveragesFirstAndLastDelay) {
    EXPECT_DOUBLE_EQ(fl::naive_estimate(flow(1, 0, 1000, 100, 1300, 10, 10)), 200.0);
}

TEST(LatencyNaive, SinglePacketFlowHasOneSample) {
    const auto f = flow(1, 50, 50, 80, 80, 1, 1);
    EXPECT_EQ(fl::own_samples(f).size(), 1u);
    EXPECT_DOUBLE_EQ(fl::naive_estimate(f), 30.0);
}

TEST(LatencyMultiflow, LifetimePerSampleAveragesSamplesInsideTheLifetime) {
    const auto est = fl::multiflow_estimates(
        three_flows(),
        options(fl::Window::Lifetime, fl::Weighting::PerSample, fl::LossPolicy::UseAll));
    ASSERT_EQ(est.size(), 3u);
    // F0: own 100, 300; F1's 150 at 200; F2's 400 at 500 -> 950 / 4.
    EXPECT_DOUBLE_EQ(est[0], 237.5);
    // F1 lives [200, 200]: only its own sample.
    EXPECT_DOUBLE_EQ(est[1], 150.0);
    // F2: own 400, 250; F0's 300 at 1000 -> 950 / 3.
    EXPECT_DOUBLE_EQ(est[2], 950.0 / 3.0);
}

TEST(LatencyMultiflow, PaddedAddsNearestSampleOnEachSide) {
    const auto est = fl::multiflow_estimates(
        three_flows(),
        options(fl::Window::Padded, fl::Weighting::PerSample, fl::LossPolicy::UseAll));
    // F0: nothing before 0; after 1000 the next is F2's 250 at 2000 -> 1200 / 5.
    EXPECT_DOUBLE_EQ(est[0], 240.0);
    // F1: before 200 is F0's 100 at 0, after is F2's 400 at 500 -> 650 / 3.
    EXPECT_DOUBLE_EQ(est[1], 650.0 / 3.0);
}

TEST(LatencyMultiflow, TimeWeightedIntegratesTheInterpolatedCurve) {
    const auto est = fl::multiflow_estimates(
        three_flows(),
        options(fl::Window::Lifetime, fl::Weighting::TimeWeighted, fl::LossPolicy::UseAll));
    // F0 over [0, 1000], points (0,100) (200,150) (500,400) (1000,300):
    // 125*200 + 275*300 + 350*500 = 282500 -> 282.5.
    EXPECT_DOUBLE_EQ(est[0], 282.5);
    // F2 over [500, 2000], points (500,400) (1000,300) (2000,250):
    // 350*500 + 275*1000 = 450000 -> 300.
    EXPECT_DOUBLE_EQ(est[2], 300.0);
}

TEST(LatencyMultiflow, TimeWeightedHoldsEndValuesOutsideThePoints) {
    // Lossy flow under DropLossy: only F0's sample at 1000 lies in [500, 2000],
    // so the curve is flat at 300.
    const auto est = fl::multiflow_estimates(
        three_flows(),
        options(fl::Window::Lifetime, fl::Weighting::TimeWeighted, fl::LossPolicy::DropLossy));
    EXPECT_DOUBLE_EQ(est[2], 300.0);
}

TEST(LatencyMultiflow, NoLossyDonorsKeepsLossySamplesForTheFlowItself) {
    const auto est = fl::multiflow_estimates(
        three_flows(),
        options(fl::Window::Lifetime, fl::Weighting::PerSample, fl::LossPolicy::NoLossyDonors));
    // F0 loses F2's 400 -> (100 + 300 + 150) / 3.
    EXPECT_DOUBLE_EQ(est[0], 550.0 / 3.0);
    // F2 keeps its own -> (400 + 250 + 300) / 3.
    EXPECT_DOUBLE_EQ(est[2], 950.0 / 3.0);
}

TEST(LatencyMultiflow, DropLossyUsesOnlyOtherFlowsForALossyFlow) {
    const auto est = fl::multiflow_estimates(
        three_flows(),
        options(fl::Window::Lifetime, fl::Weighting::PerSample, fl::LossPolicy::DropLossy));
    EXPECT_DOUBLE_EQ(est[0], 550.0 / 3.0);
    EXPECT_DOUBLE_EQ(est[2], 300.0);
}

TEST(LatencyMultiflow, LossyFlowWithoutNeighboursFallsBackToItsOwnSamples) {
    const std::vector<fl::MatchedFlow> alone{flow(1, 0, 1000, 100, 1300, 10, 9)};
    const auto est = fl::multiflow_estimates(
        alone, options(fl::Window::Padded, fl::Weighting::PerSample, fl::LossPolicy::DropLossy));
    EXPECT_DOUBLE_EQ(est[0], 200.0);
}

TEST(LatencyMultiflow, TwelveDistinctlyNamedVariants) {
    const auto variants = fl::MultiflowOptions::all_variants();
    ASSERT_EQ(variants.size(), 12u);
    std::set<std::string> names;
    for (const auto& v : variants) names.insert(v.name());
    EXPECT_EQ(names.size(), 12u);
    EXPECT_TRUE(names.count("lifetime/per-sample/use-all"));
}

TEST(LatencyTrajectory, AveragesSampledPacketsJoinedByDigest) {
    const std::vector<fl::MatchedFlow> flows{flow(1, 0, 1000, 100, 1300, 10, 10),
                                             flow(2, 0, 1000, 10, 1010, 10, 10)};
    // Flow 1: packets with digest 11 (delay 100) and 12 (delay 200); 13 never
    // arrived. Flow 2: nothing sampled.
    const std::vector<fl::PacketStamp> up{
        {key(1), 11, 10}, {key(1), 12, 500}, {key(1), 13, 900}, {key(9), 14, 10}};
    const std::vector<fl::PacketStamp> down{{key(1), 12, 700}, {key(1), 11, 110}, {key(9), 14, 20}};
    const auto est = fl::trajectory_estimates(flows, up, down);
    ASSERT_EQ(est.size(), 2u);
    EXPECT_EQ(est[0].samples, 2u);
    EXPECT_DOUBLE_EQ(est[0].mean_ns, 150.0);
    EXPECT_EQ(est[1].samples, 0u);
}

TEST(LatencyMatch, PairsRecordsOfOneKeyInTimeOrder) {
    // Key 1 was cut into two records by a timeout at both points; key 2 only
    // upstream; key 3 only downstream.
    const std::vector<fl::FlowRecord> up{record(1, 5000, 6000, 3), record(1, 0, 1000, 4),
                                         record(2, 0, 10, 2)};
    const std::vector<fl::FlowRecord> down{record(1, 5100, 6100, 3), record(1, 100, 1100, 4),
                                           record(3, 0, 10, 2)};
    const auto matched = fl::match_records(up, down, 1000);
    ASSERT_EQ(matched.size(), 2u);
    EXPECT_EQ(matched[0].a.first_ns, 0);
    EXPECT_EQ(matched[0].b.first_ns, 100);
    EXPECT_EQ(matched[1].a.first_ns, 5000);
    EXPECT_EQ(matched[1].b.first_ns, 5100);
    EXPECT_FALSE(matched[0].lossy());
}

TEST(LatencyTruth, MeanAndStandardDeviationOverDeliveredPacketsOfTheLifetime) {
    const std::vector<fl::MatchedFlow> flows{flow(1, 0, 1000, 100, 1300, 4, 3)};
    // Delays 100, 300, 200; one packet dropped; one packet of the key outside
    // the record's lifetime (another record) is ignored.
    const std::vector<fl::PacketTruth> packets{{key(1), 1, 100, 0, 100},
                                               {key(1), 2, 100, 400, 700},
                                               {key(1), 3, 100, 600, -1},
                                               {key(1), 4, 100, 1000, 1200},
                                               {key(1), 5, 100, 5000, 9000}};
    const auto truth = fl::flow_truth(flows, packets);
    EXPECT_EQ(truth[0].packets, 3u);
    EXPECT_DOUBLE_EQ(truth[0].mean_ns, 200.0);
    // Deviations -100, 100, 0 -> variance 20000 / 3.
    EXPECT_NEAR(truth[0].stddev_ns, std::sqrt(20000.0 / 3.0), 1e-9);
}

TEST(LatencyHash, SelectionIsNestedSaltedAndNearTheFraction) {
    int at_10 = 0, at_30 = 0, differs = 0;
    for (uint16_t port = 1; port <= 20000; ++port) {
        const uint64_t h = fl::flow_hash(key(port), 7);
        const bool small = fl::hash_selects(h, 0.1);
        const bool large = fl::hash_selects(h, 0.3);
        EXPECT_TRUE(!small || large) << "port " << port;
        at_10 += small;
        at_30 += large;
        differs += small != fl::hash_selects(fl::flow_hash(key(port), 8), 0.1);
        EXPECT_FALSE(fl::hash_selects(h, 0.0));
        EXPECT_TRUE(fl::hash_selects(h, 1.0));
    }
    EXPECT_NEAR(at_10 / 20000.0, 0.1, 0.01);
    EXPECT_NEAR(at_30 / 20000.0, 0.3, 0.015);
    EXPECT_GT(differs, 2000);  // another salt keeps other flows (~18 % differ)
}

TEST(LatencyParse, ReadsKeyIdentificationAndLength) {
    // IPv4, IHL 6 (one option word), length 60, id 0x1234, UDP 10.0.0.1:5000 -> 10.0.0.2:53.
    const std::vector<uint8_t> bytes{0x46, 0,  0,    60,   0x12, 0x34, 0, 0, 64, 17, 0,
                                     0,    10, 0,    0,    1,    10,   0, 0, 2,  1,  1,
                                     1,    1,  0x13, 0x88, 0x00, 53,   0, 0, 0,  0};
    const auto info = fl::parse_ipv4_packet(bytes);
    ASSERT_TRUE(info);
    EXPECT_EQ(info->key, (fl::FlowKey{0x0a000001, 0x0a000002, 5000, 53, 17}));
    EXPECT_EQ(info->ip_id, 0x1234);
    EXPECT_EQ(info->ip_length, 60);
    EXPECT_FALSE(fl::parse_ipv4_packet(std::span(bytes).first(19)));
}

TEST(LatencyCsv, RecordsAndPacketsRoundTrip) {
    const std::vector<fl::FlowRecord> records{record(1, -5, 12345678901234, 7),
                                              record(65535, 0, 0, 1)};
    std::stringstream rs;
    fl::write_records_csv(rs, records);
    EXPECT_EQ(fl::read_records_csv(rs), records);

    const std::vector<fl::PacketTruth> packets{{key(1), 9, 1500, 10, 20}, {key(2), 0, 40, 30, -1}};
    std::stringstream ps;
    fl::write_packets_csv(ps, packets);
    const auto back = fl::read_packets_csv(ps);
    ASSERT_EQ(back.size(), 2u);
    EXPECT_EQ(back[1].key, key(2));
    EXPECT_EQ(back[1].t_b_ns, -1);
    EXPECT_EQ(back[0].ip_length, 1500);
}

TEST(LatencyCsv, MalformedLinesAreRejectedWithTheirLineNumber) {
    std::stringstream bad(
        "src,dst,sport,dport,proto,first_ns,last_ns,packets,bytes,end_reason\n"
        "10.0.0.1,10.0.0.2,1,2,17,0,10,1,40,1\n"
        "10.0.0.1,10.0.0.300,1,2,17,0,10,1,40,1\n");
    try {
        fl::read_records_csv(bad);
        FAIL() << "accepted a bad address";
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find("line 3"), std::string::npos) << e.what();
    }
    std::stringstream extra(
        "src,dst,sport,dport,proto,first_ns,last_ns,packets,bytes,end_reason\n"
        "10.0.0.1,10.0.0.2,1,2,17,0,10,1,40,1,9\n");
    EXPECT_THROW(fl::read_records_csv(extra), std::runtime_error);
}
