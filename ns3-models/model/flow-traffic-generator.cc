#include "flow-traffic-generator.h"

#include <cmath>
#include <sstream>

#include "ns3/abort.h"
#include "ns3/double.h"
#include "ns3/ipv4-header.h"
#include "ns3/node.h"
#include "ns3/packet.h"
#include "ns3/pcap-file.h"
#include "ns3/simulator.h"
#include "ns3/string.h"
#include "ns3/udp-header.h"
#include "ns3/uinteger.h"

namespace ns3 {

NS_OBJECT_ENSURE_REGISTERED(FlowTrafficGenerator);
NS_OBJECT_ENSURE_REGISTERED(PcapReplayer);

TypeId FlowTrafficGenerator::GetTypeId() {
    static TypeId tid =
        TypeId("ns3::FlowTrafficGenerator")
            .SetParent<Application>()
            .SetGroupName("Flowcorder")
            .AddConstructor<FlowTrafficGenerator>()
            .AddAttribute(
                "OfferedLoad", "Mean offered load (IPv4 bytes); sets the flow arrival rate",
                DataRateValue(DataRate("25Mbps")),
                MakeDataRateAccessor(&FlowTrafficGenerator::m_offeredLoad), MakeDataRateChecker())
            .AddAttribute("SizeShape", "Shape (alpha) of the bounded Pareto flow size in packets",
                          DoubleValue(1.1), MakeDoubleAccessor(&FlowTrafficGenerator::m_sizeShape),
                          MakeDoubleChecker<double>(0.01))
            .AddAttribute("SizeMin", "Lower bound of the bounded Pareto flow size (packets)",
                          DoubleValue(1.0), MakeDoubleAccessor(&FlowTrafficGenerator::m_sizeMin),
                          MakeDoubleChecker<double>(1.0))
            .AddAttribute("SizeMax", "Upper bound of the bounded Pareto flow size (packets)",
                          DoubleValue(3000.0), MakeDoubleAccessor(&FlowTrafficGenerator::m_sizeMax),
                          MakeDoubleChecker<double>(1.0))
            .AddAttribute("PacketRateMin", "Lowest per-flow packet rate (packets/s, log-uniform)",
                          DoubleValue(20.0),
                          MakeDoubleAccessor(&FlowTrafficGenerator::m_packetRateMin),
                          MakeDoubleChecker<double>(1e-3))
            .AddAttribute("PacketRateMax", "Highest per-flow packet rate (packets/s, log-uniform)",
                          DoubleValue(2000.0),
                          MakeDoubleAccessor(&FlowTrafficGenerator::m_packetRateMax),
                          MakeDoubleChecker<double>(1e-3))
            .AddAttribute(
                "PacketSizes", "IPv4 packet lengths and their probabilities, 'bytes:p,bytes:p,...'",
                StringValue("64:0.35,576:0.15,1500:0.5"),
                MakeStringAccessor(&FlowTrafficGenerator::m_packetSizes), MakeStringChecker())
            .AddAttribute("SourceNetwork", "/16 the source hosts are drawn from",
                          Ipv4AddressValue("10.1.0.0"),
                          MakeIpv4AddressAccessor(&FlowTrafficGenerator::m_sourceNetwork),
                          MakeIpv4AddressChecker())
            .AddAttribute("DestinationNetwork", "/16 the destination hosts are drawn from",
                          Ipv4AddressValue("10.2.0.0"),
                          MakeIpv4AddressAccessor(&FlowTrafficGenerator::m_destinationNetwork),
                          MakeIpv4AddressChecker())
            .AddAttribute("Protocol", "IPv4 protocol number written in the headers",
                          UintegerValue(17),
                          MakeUintegerAccessor(&FlowTrafficGenerator::m_protocol),
                          MakeUintegerChecker<uint8_t>());
    return tid;
}

FlowTrafficGenerator::FlowTrafficGenerator()
    : m_uniform(CreateObject<UniformRandomVariable>()),
      m_sizeShape(1.1),
      m_sizeMin(1),
      m_sizeMax(3000),
      m_packetRateMin(20),
      m_packetRateMax(2000),
      m_protocol(17) {}

void FlowTrafficGenerator::SetDevice(Ptr<NetDevice> device) { m_device = device; }

int64_t FlowTrafficGenerator::AssignStreams(int64_t stream) {
    m_uniform->SetStream(stream);
    return 1;
}

void FlowTrafficGenerator::ParsePacketSizes() {
    m_sizeCdf.clear();
    std::istringstream in(m_packetSizes);
    std::string item;
    double total = 0;
    while (std::getline(in, item, ',')) {
        const size_t colon = item.find(':');
        NS_ABORT_MSG_IF(colon == std::string::npos, "PacketSizes: expected bytes:p in " << item);
        const unsigned long bytes = std::stoul(item.substr(0, colon));
        const double p = std::stod(item.substr(colon + 1));
        NS_ABORT_MSG_IF(bytes < 28 || bytes > 65535 || p <= 0, "PacketSizes: bad item " << item);
        total += p;
        m_sizeCdf.emplace_back(static_cast<uint16_t>(bytes), total);
    }
    NS_ABORT_MSG_IF(m_sizeCdf.empty(), "PacketSizes is empty");
    for (auto& entry : m_sizeCdf) {
        entry.second /= total;
    }
}

double FlowTrafficGenerator::GetMeanPacketBytes() const {
    double mean = 0;
    double previous = 0;
    for (const auto& [bytes, cumulative] : m_sizeCdf) {
        mean += bytes * (cumulative - previous);
        previous = cumulative;
    }
    return mean;
}

double FlowTrafficGenerator::GetMeanFlowPackets() const {
    // E[floor X] = sum over k >= 1 of P(X >= k).
    const double a = m_sizeShape;
    const double lowTail = std::pow(m_sizeMin, -a);
    const double highTail = std::pow(m_sizeMax, -a);
    double mean = 0;
    for (double k = 1; k <= m_sizeMax; ++k) {
        mean += k <= m_sizeMin ? 1.0 : (std::pow(k, -a) - highTail) / (lowTail - highTail);
    }
    return mean;
}

double FlowTrafficGenerator::GetFlowArrivalRate() const {
    const double bitsPerFlow = 8.0 * GetMeanFlowPackets() * GetMeanPacketBytes();
    return static_cast<double>(m_offeredLoad.GetBitRate()) / bitsPerFlow;
}

uint64_t FlowTrafficGenerator::GetFlowsStarted() const { return m_nextFlowId; }

uint64_t FlowTrafficGenerator::GetPacketsSent() const { return m_packetsSent; }

double FlowTrafficGenerator::Exponential(double rate) {
    // 1 - U lies in (0, 1]: the logarithm is finite.
    return -std::log(1.0 - m_uniform->GetValue()) / rate;
}

uint64_t FlowTrafficGenerator::DrawFlowPackets() {
    const double u = m_uniform->GetValue();
    const double ratio = std::pow(m_sizeMin / m_sizeMax, m_sizeShape);
    const double x = m_sizeMin / std::pow(1.0 - u * (1.0 - ratio), 1.0 / m_sizeShape);
    return std::max<uint64_t>(1, static_cast<uint64_t>(std::min(x, m_sizeMax)));
}

uint16_t FlowTrafficGenerator::DrawPacketBytes() {
    const double u = m_uniform->GetValue();
    for (const auto& [bytes, cumulative] : m_sizeCdf) {
        if (u < cumulative) {
            return bytes;
        }
    }
    return m_sizeCdf.back().first;
}

void FlowTrafficGenerator::StartApplication() {
    NS_ABORT_MSG_IF(!m_device, "FlowTrafficGenerator needs SetDevice()");
    ParsePacketSizes();
    if (m_offeredLoad.GetBitRate() > 0) {
        ScheduleNextArrival();
    }
}

void FlowTrafficGenerator::ScheduleNextArrival() {
    m_arrivalEvent = Simulator::Schedule(Seconds(Exponential(GetFlowArrivalRate())),
                                         &FlowTrafficGenerator::StartFlow, this);
}

void FlowTrafficGenerator::StartFlow() {
    const uint64_t id = m_nextFlowId++;
    auto host = [this](Ipv4Address network) {
        return network.Get() + 1 + static_cast<uint32_t>(m_uniform->GetInteger(0, 65533));
    };
    Flow flow;
    flow.src = host(m_sourceNetwork);
    flow.dst = host(m_destinationNetwork);
    flow.sport = static_cast<uint16_t>(1024 + id % (65536 - 1024));
    flow.dport = static_cast<uint16_t>(m_uniform->GetInteger(1, 1023));
    flow.remaining = DrawFlowPackets();
    flow.packetRate =
        m_packetRateMin * std::pow(m_packetRateMax / m_packetRateMin, m_uniform->GetValue());
    flow.nextIpId = 0;
    m_flows.emplace(id, flow);
    SendPacket(id);
    ScheduleNextArrival();
}

void FlowTrafficGenerator::SendPacket(uint64_t flowId) {
    Flow& flow = m_flows.at(flowId);
    const uint16_t length = DrawPacketBytes();
    Ptr<Packet> packet = Create<Packet>(length - 28);
    UdpHeader udp;
    udp.SetSourcePort(flow.sport);
    udp.SetDestinationPort(flow.dport);
    packet->AddHeader(udp);
    Ipv4Header ip;
    ip.SetSource(Ipv4Address(flow.src));
    ip.SetDestination(Ipv4Address(flow.dst));
    ip.SetProtocol(m_protocol);
    ip.SetPayloadSize(length - 20);
    ip.SetIdentification(flow.nextIpId++);
    ip.SetTtl(64);
    packet->AddHeader(ip);
    m_device->Send(packet, m_device->GetBroadcast(), 0x0800);
    ++m_packetsSent;
    if (--flow.remaining == 0) {
        m_flows.erase(flowId);
        m_flowEvents.erase(flowId);
        return;
    }
    m_flowEvents[flowId] = Simulator::Schedule(Seconds(Exponential(flow.packetRate)),
                                               &FlowTrafficGenerator::SendPacket, this, flowId);
}

void FlowTrafficGenerator::StopApplication() {
    m_arrivalEvent.Cancel();
    for (auto& [id, event] : m_flowEvents) {
        event.Cancel();
    }
    m_flowEvents.clear();
    m_flows.clear();
}

void FlowTrafficGenerator::DoDispose() {
    m_device = nullptr;
    Application::DoDispose();
}

// --- PcapReplayer ---

struct PcapReplayer::Reader {
    PcapFile file;
    uint32_t linkType = 0;
    bool haveOrigin = false;
    int64_t originNs = 0;
    std::vector<uint8_t> buffer = std::vector<uint8_t>(65536);
};

TypeId PcapReplayer::GetTypeId() {
    static TypeId tid =
        TypeId("ns3::PcapReplayer")
            .SetParent<Application>()
            .SetGroupName("Flowcorder")
            .AddConstructor<PcapReplayer>()
            .AddAttribute("FileName", "pcap file to replay", StringValue(""),
                          MakeStringAccessor(&PcapReplayer::m_fileName), MakeStringChecker());
    return tid;
}

void PcapReplayer::SetDevice(Ptr<NetDevice> device) { m_device = device; }

uint64_t PcapReplayer::GetPacketsReplayed() const { return m_replayed; }

uint64_t PcapReplayer::GetPacketsSkipped() const { return m_skipped; }

void PcapReplayer::StartApplication() {
    NS_ABORT_MSG_IF(!m_device, "PcapReplayer needs SetDevice()");
    m_startedAt = Simulator::Now();
    m_reader = std::make_shared<Reader>();
    m_reader->file.Open(m_fileName, std::ios::in | std::ios::binary);
    NS_ABORT_MSG_IF(m_reader->file.Fail(), "cannot read pcap " << m_fileName);
    m_reader->linkType = m_reader->file.GetDataLinkType();
    ReadAndSchedule();
}

namespace {

// Offset of the IPv4 header in a frame of the given pcap link type, or -1.
int Ipv4Offset(uint32_t linkType, const uint8_t* frame, uint32_t length) {
    auto etherType = [&](uint32_t offset) {
        return offset + 2 <= length ? (frame[offset] << 8) | frame[offset + 1] : -1;
    };
    switch (linkType) {
        case 1: {  // Ethernet, with up to two VLAN tags
            uint32_t offset = 12;
            while (etherType(offset) == 0x8100 || etherType(offset) == 0x88a8) {
                offset += 4;
            }
            return etherType(offset) == 0x0800 ? static_cast<int>(offset + 2) : -1;
        }
        case 101:  // raw IP
        case 228:  // raw IPv4
            return 0;
        case 113:  // Linux cooked capture
            return etherType(14) == 0x0800 ? 16 : -1;
        case 276:  // Linux cooked capture v2
            return etherType(0) == 0x0800 ? 20 : -1;
        default:
            return -1;
    }
}

}  // namespace

void PcapReplayer::ReadAndSchedule() {
    Reader& r = *m_reader;
    while (true) {
        uint32_t sec = 0;
        uint32_t frac = 0;
        uint32_t inclLen = 0;
        uint32_t origLen = 0;
        uint32_t readLen = 0;
        r.file.Read(r.buffer.data(), r.buffer.size(), sec, frac, inclLen, origLen, readLen);
        if (r.file.Fail() || r.file.Eof()) {
            return;
        }
        const int offset = Ipv4Offset(r.linkType, r.buffer.data(), readLen);
        if (offset < 0 || readLen < static_cast<uint32_t>(offset) + 20) {
            ++m_skipped;
            continue;
        }
        const uint8_t* ip = r.buffer.data() + offset;
        const uint32_t captured = readLen - offset;
        const uint32_t total = (ip[2] << 8) | ip[3];
        if ((ip[0] >> 4) != 4 || total < 20) {
            ++m_skipped;
            continue;
        }
        Ptr<Packet> packet = Create<Packet>(ip, std::min(captured, total));
        if (captured < total) {
            packet->AddPaddingAtEnd(total - captured);
        }
        const int64_t fracNs = r.file.IsNanoSecMode() ? frac : int64_t{frac} * 1000;
        const int64_t stampNs = int64_t{sec} * 1000000000 + fracNs;
        if (!r.haveOrigin) {
            r.haveOrigin = true;
            r.originNs = stampNs;
        }
        const Time at = NanoSeconds(std::max<int64_t>(0, stampNs - r.originNs));
        const Time now = Simulator::Now() - m_startedAt;
        m_next =
            Simulator::Schedule(std::max(at - now, Time(0)), &PcapReplayer::Send, this, packet);
        return;
    }
}

void PcapReplayer::Send(Ptr<Packet> packet) {
    m_device->Send(packet, m_device->GetBroadcast(), 0x0800);
    ++m_replayed;
    ReadAndSchedule();
}

void PcapReplayer::StopApplication() {
    m_next.Cancel();
    m_reader.reset();
}

void PcapReplayer::DoDispose() {
    m_device = nullptr;
    Application::DoDispose();
}

}  // namespace ns3
