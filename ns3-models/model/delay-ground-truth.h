// The true one-way delay of every packet between two observation points.
#ifndef FLOWCORDER_DELAY_GROUND_TRUTH_H
#define FLOWCORDER_DELAY_GROUND_TRUTH_H

#include <string>
#include <unordered_map>
#include <vector>

#include "latency/records.hpp"
#include "ns3/net-device.h"
#include "ns3/object.h"

namespace ns3 {

/**
 * Timestamps every IPv4 packet received on the upstream device and again on
 * the downstream device, matching the two by the simulator's packet uid
 * (never by headers, so it is independent of what the meters parse).
 */
class DelayGroundTruth : public Object {
  public:
    using PacketTruth = flowcorder::latency::PacketTruth;

    static TypeId GetTypeId();

    void InstallUpstream(Ptr<NetDevice> device);
    void InstallDownstream(Ptr<NetDevice> device);

    /// Packets in upstream order; t_b_ns is -1 for those that never arrived.
    const std::vector<PacketTruth>& GetPackets() const;
    /// Downstream packets that were never seen upstream (none on a sane path).
    uint64_t GetUnknownDownstream() const;

    void WritePacketsCsv(const std::string& path) const;
    /// Per flow key: packets at both points, mean and standard deviation of the delay.
    void WriteFlowsCsv(const std::string& path) const;

  private:
    void ReceiveUpstream(Ptr<NetDevice> device, Ptr<const Packet> packet, uint16_t protocol,
                         const Address& from, const Address& to, NetDevice::PacketType type);
    void ReceiveDownstream(Ptr<NetDevice> device, Ptr<const Packet> packet, uint16_t protocol,
                           const Address& from, const Address& to, NetDevice::PacketType type);

    std::vector<PacketTruth> m_packets;
    std::unordered_map<uint64_t, size_t> m_inFlight;  // packet uid -> index in m_packets
    uint64_t m_unknownDownstream = 0;
};

}  // namespace ns3

#endif
