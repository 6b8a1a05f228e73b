#include "delay-ground-truth.h"

#include <cmath>
#include <fstream>
#include <map>

#include "ns3/abort.h"
#include "ns3/node.h"
#include "ns3/packet.h"
#include "ns3/simulator.h"

namespace ns3 {

namespace fl = flowcorder::latency;

NS_OBJECT_ENSURE_REGISTERED(DelayGroundTruth);

TypeId DelayGroundTruth::GetTypeId() {
    static TypeId tid = TypeId("ns3::DelayGroundTruth")
                            .SetParent<Object>()
                            .SetGroupName("Flowcorder")
                            .AddConstructor<DelayGroundTruth>();
    return tid;
}

void DelayGroundTruth::InstallUpstream(Ptr<NetDevice> device) {
    device->GetNode()->RegisterProtocolHandler(
        MakeCallback(&DelayGroundTruth::ReceiveUpstream, this), 0x0800, device);
}

void DelayGroundTruth::InstallDownstream(Ptr<NetDevice> device) {
    device->GetNode()->RegisterProtocolHandler(
        MakeCallback(&DelayGroundTruth::ReceiveDownstream, this), 0x0800, device);
}

void DelayGroundTruth::ReceiveUpstream(Ptr<NetDevice>, Ptr<const Packet> packet, uint16_t,
                                       const Address&, const Address&, NetDevice::PacketType) {
    uint8_t bytes[64];
    const uint32_t length = packet->CopyData(bytes, sizeof(bytes));
    auto info = fl::parse_ipv4_packet(std::span<const uint8_t>(bytes, length));
    if (!info) {
        return;
    }
    m_inFlight[packet->GetUid()] = m_packets.size();
    m_packets.push_back(
        PacketTruth{info->key, info->ip_id, info->ip_length, Simulator::Now().GetNanoSeconds()});
}

void DelayGroundTruth::ReceiveDownstream(Ptr<NetDevice>, Ptr<const Packet> packet, uint16_t,
                                         const Address&, const Address&, NetDevice::PacketType) {
    auto it = m_inFlight.find(packet->GetUid());
    if (it == m_inFlight.end()) {
        ++m_unknownDownstream;
        return;
    }
    m_packets[it->second].t_b_ns = Simulator::Now().GetNanoSeconds();
    m_inFlight.erase(it);
}

const std::vector<DelayGroundTruth::PacketTruth>& DelayGroundTruth::GetPackets() const {
    return m_packets;
}

uint64_t DelayGroundTruth::GetUnknownDownstream() const { return m_unknownDownstream; }

void DelayGroundTruth::WritePacketsCsv(const std::string& path) const {
    std::ofstream out(path);
    NS_ABORT_MSG_IF(!out, "cannot write " << path);
    fl::write_packets_csv(out, m_packets);
}

void DelayGroundTruth::WriteFlowsCsv(const std::string& path) const {
    struct Stats {
        uint64_t seenA = 0;
        uint64_t seenB = 0;
        double mean = 0;
        double m2 = 0;
    };

    std::map<fl::FlowKey, Stats> flows;  // ordered: the file is reproducible
    for (const PacketTruth& p : m_packets) {
        Stats& s = flows[p.key];
        ++s.seenA;
        if (!p.delivered()) {
            continue;
        }
        ++s.seenB;
        const double delay = static_cast<double>(p.t_b_ns - p.t_a_ns);
        const double delta = delay - s.mean;
        s.mean += delta / static_cast<double>(s.seenB);
        s.m2 += delta * (delay - s.mean);
    }
    std::ofstream out(path);
    NS_ABORT_MSG_IF(!out, "cannot write " << path);
    out << "src,dst,sport,dport,proto,packets_a,packets_b,mean_delay_ns,stddev_delay_ns\n";
    out.setf(std::ios::fixed);
    out.precision(1);
    for (const auto& [key, s] : flows) {
        const double stddev = s.seenB > 0 ? std::sqrt(s.m2 / static_cast<double>(s.seenB)) : 0.0;
        out << fl::format_ipv4(key.src) << ',' << fl::format_ipv4(key.dst) << ',' << key.sport
            << ',' << key.dport << ',' << unsigned{key.proto} << ',' << s.seenA << ',' << s.seenB
            << ',' << s.mean << ',' << stddev << '\n';
    }
}

}  // namespace ns3
