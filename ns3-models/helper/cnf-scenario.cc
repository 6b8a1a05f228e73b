#include "cnf-scenario.h"

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "model/prefix-forwarder.h"
#include "ns3/abort.h"
#include "ns3/double.h"
#include "ns3/integer.h"
#include "ns3/node-container.h"
#include "ns3/point-to-point-helper.h"
#include "ns3/simulator.h"
#include "ns3/string.h"
#include "ns3/uinteger.h"

namespace ns3 {

NS_OBJECT_ENSURE_REGISTERED(CnfScenario);

namespace {
// Cross traffic lives in the benchmarking range (RFC 2544), which no replayed
// trace should use.
const Ipv4Address kCrossSources("198.18.0.0");
const Ipv4Address kCrossDestinations("198.19.0.0");
}  // namespace

TypeId CnfScenario::GetTypeId() {
    static TypeId tid =
        TypeId("ns3::CnfScenario")
            .SetParent<Object>()
            .SetGroupName("Flowcorder")
            .AddConstructor<CnfScenario>()
            .AddAttribute("BottleneckRate", "Rate of the congested link r2 -> r3",
                          DataRateValue(DataRate("100Mbps")),
                          MakeDataRateAccessor(&CnfScenario::m_bottleneckRate),
                          MakeDataRateChecker())
            .AddAttribute("AccessRate", "Rate of every other link",
                          DataRateValue(DataRate("1Gbps")),
                          MakeDataRateAccessor(&CnfScenario::m_accessRate), MakeDataRateChecker())
            .AddAttribute("LinkDelay", "Propagation delay of every link",
                          TimeValue(MicroSeconds(10)), MakeTimeAccessor(&CnfScenario::m_linkDelay),
                          MakeTimeChecker())
            .AddAttribute("QueueSize", "Drop-tail queue of every device (the bottleneck's matters)",
                          QueueSizeValue(QueueSize("500p")),
                          MakeQueueSizeAccessor(&CnfScenario::m_queueSize), MakeQueueSizeChecker())
            .AddAttribute("Utilisation",
                          "Offered load at the bottleneck, measured plus cross, over its rate",
                          DoubleValue(0.6), MakeDoubleAccessor(&CnfScenario::m_utilisation),
                          MakeDoubleChecker<double>(0.0))
            .AddAttribute("MeasuredShare",
                          "Offered load of the measured traffic over the bottleneck rate",
                          DoubleValue(0.25), MakeDoubleAccessor(&CnfScenario::m_measuredShare),
                          MakeDoubleChecker<double>(0.0))
            .AddAttribute("MeasuredStart",
                          "When measured traffic starts (cross traffic starts at 0)",
                          TimeValue(Seconds(5)), MakeTimeAccessor(&CnfScenario::m_measuredStart),
                          MakeTimeChecker())
            .AddAttribute("Duration", "Simulated time", TimeValue(Seconds(60)),
                          MakeTimeAccessor(&CnfScenario::m_duration), MakeTimeChecker())
            .AddAttribute("DrainTime",
                          "Traffic stops this long before Duration so the path empties",
                          TimeValue(Seconds(1)), MakeTimeAccessor(&CnfScenario::m_drainTime),
                          MakeTimeChecker())
            .AddAttribute(
                "PcapFile", "If set, measured traffic is this trace replayed instead of synthetic",
                StringValue(""), MakeStringAccessor(&CnfScenario::m_pcapFile), MakeStringChecker())
            .AddAttribute("RngStream",
                          "First random stream index (measured traffic; cross uses the next)",
                          IntegerValue(0), MakeIntegerAccessor(&CnfScenario::m_rngStream),
                          MakeIntegerChecker<int64_t>(0));
    return tid;
}

void CnfScenario::Build() {
    NodeContainer nodes;
    nodes.Create(7);
    Ptr<Node> src = nodes.Get(0);
    Ptr<Node> r1 = nodes.Get(1);
    Ptr<Node> r2 = nodes.Get(2);
    Ptr<Node> r3 = nodes.Get(3);
    Ptr<Node> r4 = nodes.Get(4);
    Ptr<Node> csrc = nodes.Get(5);
    Ptr<Node> csink = nodes.Get(6);

    PointToPointHelper access;
    access.SetDeviceAttribute("DataRate", DataRateValue(m_accessRate));
    access.SetChannelAttribute("Delay", TimeValue(m_linkDelay));
    access.SetQueue("ns3::DropTailQueue<Packet>", "MaxSize", QueueSizeValue(m_queueSize));
    PointToPointHelper bottleneck = access;
    bottleneck.SetDeviceAttribute("DataRate", DataRateValue(m_bottleneckRate));

    NetDeviceContainer srcR1 = access.Install(src, r1);
    NetDeviceContainer r1R2 = access.Install(r1, r2);
    NetDeviceContainer r2R3 = bottleneck.Install(r2, r3);
    NetDeviceContainer r3R4 = access.Install(r3, r4);
    NetDeviceContainer csrcR2 = access.Install(csrc, r2);
    NetDeviceContainer r3Csink = access.Install(r3, csink);

    auto forwarder = [](Ptr<Node> node) {
        Ptr<PrefixForwarder> f = CreateObject<PrefixForwarder>();
        node->AggregateObject(f);
        return f;
    };
    forwarder(r1)->SetDefaultRoute(r1R2.Get(0));
    r1->GetObject<PrefixForwarder>()->Install(srcR1.Get(1));
    Ptr<PrefixForwarder> f2 = forwarder(r2);
    f2->SetDefaultRoute(r2R3.Get(0));
    f2->Install(r1R2.Get(1));
    f2->Install(csrcR2.Get(1));
    Ptr<PrefixForwarder> f3 = forwarder(r3);
    f3->AddRoute(kCrossDestinations, Ipv4Mask("255.255.0.0"), r3Csink.Get(0));
    f3->SetDefaultRoute(r3R4.Get(0));
    f3->Install(r2R3.Get(1));

    m_meterA = CreateObject<NetFlowMeter>();
    m_meterB = CreateObject<NetFlowMeter>();
    m_meterA->Install(srcR1.Get(1));
    m_meterB->Install(r3R4.Get(1));
    m_truth = CreateObject<DelayGroundTruth>();
    m_truth->InstallUpstream(srcR1.Get(1));
    m_truth->InstallDownstream(r3R4.Get(1));

    Ptr<NetDevice> congested = r2R3.Get(0);
    congested->TraceConnectWithoutContext("PhyTxEnd",
                                          MakeCallback(&CnfScenario::CountBottleneckTx, this));
    congested->TraceConnectWithoutContext("MacTxDrop",
                                          MakeCallback(&CnfScenario::CountBottleneckDrop, this));

    const Time trafficEnd = m_duration - m_drainTime;
    const double capacity = static_cast<double>(m_bottleneckRate.GetBitRate());
    if (m_pcapFile.empty()) {
        m_measured = CreateObject<FlowTrafficGenerator>();
        m_measured->SetAttribute(
            "OfferedLoad",
            DataRateValue(DataRate(static_cast<uint64_t>(m_measuredShare * capacity))));
        m_measured->SetDevice(srcR1.Get(0));
        m_measured->AssignStreams(m_rngStream);
        m_measured->SetStartTime(m_measuredStart);
        m_measured->SetStopTime(trafficEnd);
        src->AddApplication(m_measured);
    } else {
        m_replayer = CreateObject<PcapReplayer>();
        m_replayer->SetAttribute("FileName", StringValue(m_pcapFile));
        m_replayer->SetDevice(srcR1.Get(0));
        m_replayer->SetStartTime(m_measuredStart);
        m_replayer->SetStopTime(trafficEnd);
        src->AddApplication(m_replayer);
    }
    const double crossShare = std::max(0.0, m_utilisation - m_measuredShare);
    m_cross = CreateObject<FlowTrafficGenerator>();
    m_cross->SetAttribute("OfferedLoad",
                          DataRateValue(DataRate(static_cast<uint64_t>(crossShare * capacity))));
    m_cross->SetAttribute("SourceNetwork", Ipv4AddressValue(kCrossSources));
    m_cross->SetAttribute("DestinationNetwork", Ipv4AddressValue(kCrossDestinations));
    m_cross->SetDevice(csrcR2.Get(0));
    m_cross->AssignStreams(m_rngStream + 1);
    m_cross->SetStartTime(Seconds(0));
    m_cross->SetStopTime(trafficEnd);
    csrc->AddApplication(m_cross);
}

void CnfScenario::CountBottleneckTx(Ptr<const Packet> packet) {
    if (Simulator::Now() >= m_measuredStart) {
        m_bottleneckBytes += packet->GetSize();
    }
}

void CnfScenario::CountBottleneckDrop(Ptr<const Packet>) { ++m_bottleneckDrops; }

void CnfScenario::Run() {
    Simulator::Stop(m_duration);
    Simulator::Run();
    m_meterA->Flush();
    m_meterB->Flush();
}

Ptr<NetFlowMeter> CnfScenario::GetUpstreamMeter() const { return m_meterA; }

Ptr<NetFlowMeter> CnfScenario::GetDownstreamMeter() const { return m_meterB; }

Ptr<DelayGroundTruth> CnfScenario::GetGroundTruth() const { return m_truth; }

double CnfScenario::GetMeasuredUtilisation() const {
    const double window = (m_duration - m_measuredStart).GetSeconds();
    return 8.0 * static_cast<double>(m_bottleneckBytes) /
           (static_cast<double>(m_bottleneckRate.GetBitRate()) * window);
}

uint64_t CnfScenario::GetBottleneckDrops() const { return m_bottleneckDrops; }

void CnfScenario::WriteResults(const std::string& dir) const {
    std::filesystem::create_directories(dir);
    m_meterA->WriteCsv(dir + "/records_a.csv");
    m_meterB->WriteCsv(dir + "/records_b.csv");
    m_truth->WritePacketsCsv(dir + "/packets.csv");
    m_truth->WriteFlowsCsv(dir + "/flows_truth.csv");

    std::ofstream out(dir + "/run.json");
    NS_ABORT_MSG_IF(!out, "cannot write " << dir << "/run.json");
    out.precision(10);
    auto meter = [&](const char* name, Ptr<NetFlowMeter> m) {
        const NetFlowMeter::Counters& c = m->GetCounters();
        out << "  \"" << name << "\": {\"packets_seen\": " << c.packetsSeen
            << ", \"packets_metered\": " << c.packetsMetered
            << ", \"records\": " << c.recordsExported << ", \"idle_expiries\": " << c.idleExpiries
            << ", \"active_expiries\": " << c.activeExpiries << ", \"evictions\": " << c.evictions
            << "},\n";
    };
    DoubleValue fraction;
    UintegerValue salt;
    m_meterA->GetAttribute("SamplingFraction", fraction);
    m_meterA->GetAttribute("HashSalt", salt);
    out << "{\n"
        << "  \"bottleneck_rate_bps\": " << m_bottleneckRate.GetBitRate() << ",\n"
        << "  \"access_rate_bps\": " << m_accessRate.GetBitRate() << ",\n"
        << "  \"link_delay_ns\": " << m_linkDelay.GetNanoSeconds() << ",\n"
        << "  \"queue_size\": \"" << m_queueSize << "\",\n"
        << "  \"target_utilisation\": " << m_utilisation << ",\n"
        << "  \"measured_share\": " << m_measuredShare << ",\n"
        << "  \"measured_start_s\": " << m_measuredStart.GetSeconds() << ",\n"
        << "  \"duration_s\": " << m_duration.GetSeconds() << ",\n"
        << "  \"pcap_file\": \"" << m_pcapFile << "\",\n"
        << "  \"meter_sampling_fraction\": " << fraction.Get() << ",\n"
        << "  \"meter_hash_salt\": " << salt.Get() << ",\n"
        << "  \"measured_utilisation\": " << GetMeasuredUtilisation() << ",\n"
        << "  \"bottleneck_drops\": " << m_bottleneckDrops << ",\n";
    if (m_measured) {
        out << "  \"measured_flows_started\": " << m_measured->GetFlowsStarted() << ",\n"
            << "  \"measured_mean_flow_packets\": " << m_measured->GetMeanFlowPackets() << ",\n"
            << "  \"measured_flow_arrival_rate\": " << m_measured->GetFlowArrivalRate() << ",\n";
    }
    if (m_replayer) {
        out << "  \"pcap_packets_replayed\": " << m_replayer->GetPacketsReplayed() << ",\n"
            << "  \"pcap_packets_skipped\": " << m_replayer->GetPacketsSkipped() << ",\n";
    }
    out << "  \"cross_flows_started\": " << m_cross->GetFlowsStarted() << ",\n";
    meter("meter_a", m_meterA);
    meter("meter_b", m_meterB);
    out << "  \"truth_packets\": " << m_truth->GetPackets().size() << ",\n"
        << "  \"truth_unknown_downstream\": " << m_truth->GetUnknownDownstream() << "\n}\n";
}

void CnfScenario::DoDispose() {
    m_meterA = nullptr;
    m_meterB = nullptr;
    m_truth = nullptr;
    m_measured = nullptr;
    m_cross = nullptr;
    m_replayer = nullptr;
    Object::DoDispose();
}

}  // namespace ns3
