// ns-3 TestSuite "flowcorder-cnf": the NetFlow meter, consistent sampling
// across two observation points, pcap replay and bit-for-bit reproducibility.
// Run: build/cnf-ns3-tests --suite=flowcorder-cnf --verbose
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "helper/cnf-scenario.h"
#include "ns3/config.h"
#include "ns3/double.h"
#include "ns3/integer.h"
#include "ns3/pcap-file.h"
#include "ns3/queue-size.h"
#include "ns3/rng-seed-manager.h"
#include "ns3/simulator.h"
#include "ns3/string.h"
#include "ns3/test.h"
#include "ns3/uinteger.h"

using namespace ns3;
namespace fl = flowcorder::latency;

namespace {

fl::PacketInfo Observed(uint16_t sport, uint16_t length) {
    return fl::PacketInfo{fl::FlowKey{0x0a010001, 0x0a020001, sport, 80, 17}, 0, length};
}

std::string Slurp(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

std::filesystem::path TempDir(const std::string& name) {
    auto dir = std::filesystem::temp_directory_path() / ("fc-cnf-test-" + name);
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    return dir;
}

// A short scenario: 4 s of measured traffic after 1 s of cross traffic only.
Ptr<CnfScenario> SmallScenario(double utilisation, int64_t stream) {
    RngSeedManager::SetSeed(7);
    RngSeedManager::SetRun(1);
    Ptr<CnfScenario> scenario = CreateObject<CnfScenario>();
    scenario->SetAttribute("Utilisation", DoubleValue(utilisation));
    scenario->SetAttribute("MeasuredStart", TimeValue(Seconds(1)));
    scenario->SetAttribute("Duration", TimeValue(Seconds(5)));
    scenario->SetAttribute("DrainTime", TimeValue(Seconds(0.5)));
    scenario->SetAttribute("RngStream", IntegerValue(stream));
    return scenario;
}

}  // namespace

/// Records carry the exact observation times; timeouts, eviction and sampling
/// end or skip records as specified.
class MeterRecordTestCase : public TestCase {
  public:
    MeterRecordTestCase() : TestCase("meter records: exact times, timeouts, eviction, sampling") {}

  private:
    void DoRun() override {
        Ptr<NetFlowMeter> meter = CreateObject<NetFlowMeter>();
        meter->SetAttribute("InactiveTimeout", TimeValue(MilliSeconds(100)));
        meter->SetAttribute("ActiveTimeout", TimeValue(MilliSeconds(500)));
        meter->SetAttribute("CacheSize", UintegerValue(2));
        auto at = [&](int64_t ns, fl::PacketInfo p) {
            Simulator::Schedule(NanoSeconds(ns), &NetFlowMeter::Observe, meter, p);
        };
        // Flow 1: packets at 1000, 2500, 99999 ns; then idle > 100 ms -> new record.
        at(1000, Observed(1, 100));
        at(2500, Observed(1, 200));
        at(99999, Observed(1, 300));
        at(300000000, Observed(1, 40));
        // Flow 2: one packet every 50 ms from 0.31 s: active timeout cuts at 0.5 s of age.
        for (int i = 0; i < 13; ++i) {
            at(310000000 + i * 50000000LL, Observed(2, 60));
        }
        // Flow 3 arrives while flows 1 and 2 fill the cache: flow 1 (least recent) is evicted.
        at(320000000, Observed(3, 80));
        Simulator::Run();
        meter->Flush();
        Simulator::Destroy();

        std::map<uint16_t, std::vector<fl::FlowRecord>> byPort;
        for (const fl::FlowRecord& r : meter->GetRecords()) {
            byPort[r.key.sport].push_back(r);
        }
        const auto& one = byPort[1];
        NS_TEST_ASSERT_MSG_EQ(one.size(), 2, "flow 1: idle timeout splits it in two");
        NS_TEST_ASSERT_MSG_EQ(one[0].first_ns, 1000, "first packet time");
        NS_TEST_ASSERT_MSG_EQ(one[0].last_ns, 99999, "last packet time");
        NS_TEST_ASSERT_MSG_EQ(one[0].packets, 3, "packets");
        NS_TEST_ASSERT_MSG_EQ(one[0].bytes, 600, "bytes");
        NS_TEST_ASSERT_MSG_EQ(static_cast<int>(one[0].end_reason), 1, "idle timeout (1)");
        NS_TEST_ASSERT_MSG_EQ(one[1].first_ns, 300000000, "second record starts anew");
        NS_TEST_ASSERT_MSG_EQ(static_cast<int>(one[1].end_reason), 5, "evicted (5)");

        const auto& two = byPort[2];
        NS_TEST_ASSERT_MSG_EQ(two.size(), 2, "flow 2: active timeout splits it in two");
        NS_TEST_ASSERT_MSG_EQ(two[0].first_ns, 310000000, "first record start");
        NS_TEST_ASSERT_MSG_EQ(two[0].last_ns, 760000000, "last packet younger than 500 ms");
        NS_TEST_ASSERT_MSG_EQ(two[0].packets, 10, "ten packets in the first 500 ms");
        NS_TEST_ASSERT_MSG_EQ(static_cast<int>(two[0].end_reason), 2, "active timeout (2)");
        NS_TEST_ASSERT_MSG_EQ(two[1].first_ns, 810000000, "second record start");
        NS_TEST_ASSERT_MSG_EQ(two[1].packets, 3, "the rest");

        NS_TEST_ASSERT_MSG_EQ(byPort[3].size(), 1, "flow 3");
        NS_TEST_ASSERT_MSG_EQ(meter->GetCounters().evictions, 1, "one eviction counted");
        NS_TEST_ASSERT_MSG_EQ(meter->GetCounters().packetsSeen, 18, "packets seen");

        // Sampling: a meter at fraction 0.5 keeps exactly the keys its hash selects.
        Ptr<NetFlowMeter> half = CreateObject<NetFlowMeter>();
        half->SetAttribute("SamplingFraction", DoubleValue(0.5));
        half->SetAttribute("HashSalt", UintegerValue(42));
        std::set<uint16_t> expected;
        for (uint16_t port = 1; port <= 200; ++port) {
            Simulator::Schedule(MicroSeconds(port), &NetFlowMeter::Observe, half,
                                Observed(port, 40));
            if (fl::hash_selects(fl::flow_hash(Observed(port, 40).key, 42), 0.5)) {
                expected.insert(port);
            }
        }
        Simulator::Run();
        half->Flush();
        Simulator::Destroy();
        std::set<uint16_t> kept;
        for (const fl::FlowRecord& r : half->GetRecords()) {
            kept.insert(r.key.sport);
        }
        NS_TEST_ASSERT_MSG_EQ((kept == expected), true, "sampled keys are the hash's choice");
        NS_TEST_ASSERT_MSG_GT(kept.size(), 70, "about half kept");
        NS_TEST_ASSERT_MSG_LT(kept.size(), 130, "about half kept");
    }
};

/// In the scenario both meters keep the same flows, and every record's times
/// and counts are those of the packets the ground truth saw.
class ConsistentSamplingTestCase : public TestCase {
  public:
    ConsistentSamplingTestCase()
        : TestCase("both meters select the same flows; records match packet times") {}

  private:
    void DoRun() override {
        Ptr<CnfScenario> scenario = SmallScenario(0.7, 0);
        scenario->Build();
        for (Ptr<NetFlowMeter> m : {scenario->GetUpstreamMeter(), scenario->GetDownstreamMeter()}) {
            m->SetAttribute("SamplingFraction", DoubleValue(0.3));
            m->SetAttribute("HashSalt", UintegerValue(99));
        }
        scenario->Run();

        struct Seen {
            int64_t firstA = INT64_MAX, lastA = 0, firstB = INT64_MAX, lastB = 0;
            uint64_t packetsA = 0, packetsB = 0, bytesA = 0;
        };

        std::map<fl::FlowKey, Seen> truth;
        uint64_t lost = 0;
        for (const fl::PacketTruth& p : scenario->GetGroundTruth()->GetPackets()) {
            Seen& s = truth[p.key];
            s.firstA = std::min(s.firstA, p.t_a_ns);
            s.lastA = std::max(s.lastA, p.t_a_ns);
            ++s.packetsA;
            s.bytesA += p.ip_length;
            if (p.delivered()) {
                s.firstB = std::min(s.firstB, p.t_b_ns);
                s.lastB = std::max(s.lastB, p.t_b_ns);
                ++s.packetsB;
            } else {
                ++lost;
            }
        }
        NS_TEST_ASSERT_MSG_EQ(lost, 0, "the small scenario must not drop (queue big enough)");
        NS_TEST_ASSERT_MSG_EQ(scenario->GetGroundTruth()->GetUnknownDownstream(), 0, "uids match");

        std::set<fl::FlowKey> expected;
        for (const auto& [key, s] : truth) {
            if (fl::hash_selects(fl::flow_hash(key, 99), 0.3)) {
                expected.insert(key);
            }
        }
        std::set<fl::FlowKey> keysA;
        std::set<fl::FlowKey> keysB;
        for (const fl::FlowRecord& r : scenario->GetUpstreamMeter()->GetRecords()) {
            keysA.insert(r.key);
            const Seen& s = truth.at(r.key);
            NS_TEST_EXPECT_MSG_EQ(r.first_ns, s.firstA, "A first time = first packet's time");
            NS_TEST_EXPECT_MSG_EQ(r.last_ns, s.lastA, "A last time = last packet's time");
            NS_TEST_EXPECT_MSG_EQ(r.packets, s.packetsA, "A packets");
            NS_TEST_EXPECT_MSG_EQ(r.bytes, s.bytesA, "A bytes");
        }
        for (const fl::FlowRecord& r : scenario->GetDownstreamMeter()->GetRecords()) {
            keysB.insert(r.key);
            const Seen& s = truth.at(r.key);
            NS_TEST_EXPECT_MSG_EQ(r.first_ns, s.firstB, "B first time = first packet's time");
            NS_TEST_EXPECT_MSG_EQ(r.last_ns, s.lastB, "B last time = last packet's time");
            NS_TEST_EXPECT_MSG_EQ(r.packets, s.packetsB, "B packets");
        }
        NS_TEST_ASSERT_MSG_EQ(keysA.size(), scenario->GetUpstreamMeter()->GetRecords().size(),
                              "one record per flow (no timeout in 5 s)");
        NS_TEST_ASSERT_MSG_EQ((keysA == keysB), true, "both meters keep the same flows");
        NS_TEST_ASSERT_MSG_EQ((keysA == expected), true, "and exactly those the hash selects");
        NS_TEST_ASSERT_MSG_GT(keysA.size(), 200, "enough flows to mean something");
        NS_TEST_ASSERT_MSG_LT(keysA.size(), truth.size() / 2, "and far from all");
        NS_TEST_ASSERT_MSG_GT(scenario->GetMeasuredUtilisation(), 0.4, "the bottleneck is busy");
        Simulator::Destroy();
    }
};

/// The same seed and streams give byte-identical outputs; another stream does not.
class ReproducibilityTestCase : public TestCase {
  public:
    ReproducibilityTestCase() : TestCase("a fixed-seed run is reproducible bit for bit") {}

  private:
    static std::filesystem::path RunOnce(const std::string& name, int64_t stream) {
        const auto dir = TempDir(name);
        Ptr<CnfScenario> scenario = SmallScenario(0.9, stream);
        scenario->SetAttribute("QueueSize", QueueSizeValue(QueueSize("20p")));
        scenario->Build();
        scenario->Run();
        scenario->WriteResults(dir.string());
        Simulator::Destroy();
        return dir;
    }

    void DoRun() override {
        const auto first = RunOnce("first", 3);
        const auto second = RunOnce("second", 3);
        const auto other = RunOnce("other", 5);
        for (const char* file :
             {"records_a.csv", "records_b.csv", "packets.csv", "flows_truth.csv", "run.json"}) {
            const std::string a = Slurp(first / file);
            NS_TEST_ASSERT_MSG_GT(a.size(), 100, file << " written");
            NS_TEST_ASSERT_MSG_EQ((a == Slurp(second / file)), true, file << " identical");
        }
        NS_TEST_ASSERT_MSG_EQ((Slurp(first / "packets.csv") != Slurp(other / "packets.csv")), true,
                              "another stream gives other traffic");
        // With a 20-packet queue at 90 % the run must have lost packets: the
        // comparison covered loss too.
        NS_TEST_ASSERT_MSG_NE(Slurp(first / "packets.csv").find(",-1\n"), std::string::npos,
                              "drops recorded in the ground truth");
        for (const auto& dir : {first, second, other}) {
            std::filesystem::remove_all(dir);
        }
    }
};

/// A pcap replays through the path with its timing and its original lengths.
class PcapReplayTestCase : public TestCase {
  public:
    PcapReplayTestCase() : TestCase("pcap replay: Ethernet trace, timing and truncated lengths") {}

  private:
    static std::vector<uint8_t> Frame(uint16_t sport, uint16_t ipLength, uint16_t ipId) {
        // Captured with snaplen 74: Ethernet header plus at most 60 IPv4 bytes.
        std::vector<uint8_t> f(14 + std::min<uint16_t>(ipLength, 60), 0);
        f[12] = 0x08;  // IPv4 ethertype
        const uint8_t ip[] = {0x45,
                              0,
                              uint8_t(ipLength >> 8),
                              uint8_t(ipLength & 0xff),
                              uint8_t(ipId >> 8),
                              uint8_t(ipId & 0xff),
                              0,
                              0,
                              64,
                              6,
                              0,
                              0,
                              192,
                              0,
                              2,
                              1,
                              192,
                              0,
                              2,
                              2,
                              uint8_t(sport >> 8),
                              uint8_t(sport & 0xff),
                              0,
                              80};
        for (size_t i = 0; i < sizeof(ip); ++i) {
            f[14 + i] = ip[i];
        }
        return f;
    }

    void DoRun() override {
        const auto dir = TempDir("pcap");
        const std::string path = (dir / "trace.pcap").string();
        {
            PcapFile pcap;
            pcap.Open(path, std::ios::out | std::ios::binary);
            pcap.Init(1, 74);
            // Flow 1000: packets at +0, +2 ms, +5 ms (1500, 40, 1500 bytes); flow 2000 at +1 ms.
            const struct {
                uint32_t usec;
                uint16_t sport;
                uint16_t length;
            } packets[] = {
                {0, 1000, 1500}, {1000, 2000, 576}, {2000, 1000, 40}, {5000, 1000, 1500}};
            uint16_t id = 0;
            for (const auto& p : packets) {
                const auto frame = Frame(p.sport, p.length, id++);
                pcap.Write(1700000000, p.usec, frame.data(), frame.size());
            }
            // An ARP frame (not IPv4) is skipped.
            std::vector<uint8_t> arp(42, 0);
            arp[12] = 0x08;
            arp[13] = 0x06;
            pcap.Write(1700000000, 6000, arp.data(), arp.size());
            pcap.Close();
        }
        RngSeedManager::SetSeed(1);
        Ptr<CnfScenario> scenario = CreateObject<CnfScenario>();
        scenario->SetAttribute("PcapFile", StringValue(path));
        scenario->SetAttribute("Utilisation", DoubleValue(0.0));
        scenario->SetAttribute("MeasuredStart", TimeValue(Seconds(1)));
        scenario->SetAttribute("Duration", TimeValue(Seconds(3)));
        scenario->Build();
        scenario->Run();

        // Upstream time = replay time + serialisation on the 1 Gbps access link
        // ((IP length + 2 PPP bytes) x 8 ns) + 10 us propagation.
        auto arrival = [](int64_t offsetNs, int64_t length) {
            return 1000000000 + offsetNs + (length + 2) * 8 + 10000;
        };
        std::map<uint16_t, fl::FlowRecord> records;
        for (const fl::FlowRecord& r : scenario->GetUpstreamMeter()->GetRecords()) {
            records[r.key.sport] = r;
        }
        NS_TEST_ASSERT_MSG_EQ(records.size(), 2, "two flows replayed");
        const fl::FlowRecord& one = records[1000];
        NS_TEST_ASSERT_MSG_EQ(one.packets, 3, "flow 1000 packets");
        NS_TEST_ASSERT_MSG_EQ(one.bytes, 3040, "original lengths, not the 60 captured bytes");
        NS_TEST_ASSERT_MSG_EQ(one.first_ns, arrival(0, 1500), "first packet time");
        NS_TEST_ASSERT_MSG_EQ(one.last_ns, arrival(5000000, 1500), "last packet time");
        NS_TEST_ASSERT_MSG_EQ(one.key.src, 0xc0000201, "source address kept");
        NS_TEST_ASSERT_MSG_EQ(unsigned{one.key.proto}, 6, "protocol kept");
        NS_TEST_ASSERT_MSG_EQ(records[2000].first_ns, arrival(1000000, 576), "flow 2000");
        NS_TEST_ASSERT_MSG_EQ(scenario->GetDownstreamMeter()->GetRecords().size(), 2, "both at B");
        Simulator::Destroy();
        std::filesystem::remove_all(dir);
    }
};

class CnfTestSuite : public TestSuite {
  public:
    CnfTestSuite() : TestSuite("flowcorder-cnf", UNIT) {
        AddTestCase(new MeterRecordTestCase, TestCase::QUICK);
        AddTestCase(new ConsistentSamplingTestCase, TestCase::QUICK);
        AddTestCase(new ReproducibilityTestCase, TestCase::QUICK);
        AddTestCase(new PcapReplayTestCase, TestCase::QUICK);
    }
};

static CnfTestSuite g_cnfTestSuite;

int main(int argc, char* argv[]) { return TestRunner::Run(argc, argv); }
