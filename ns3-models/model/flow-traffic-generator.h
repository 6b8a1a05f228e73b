// Open-loop flow traffic: Poisson flow arrivals, heavy-tailed flow sizes.
#ifndef FLOWCORDER_FLOW_TRAFFIC_GENERATOR_H
#define FLOWCORDER_FLOW_TRAFFIC_GENERATOR_H

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "ns3/application.h"
#include "ns3/data-rate.h"
#include "ns3/ipv4-address.h"
#include "ns3/net-device.h"
#include "ns3/random-variable-stream.h"

namespace ns3 {

/**
 * Sends raw IPv4/UDP packets on one device. Flows arrive as a Poisson process
 * whose rate makes the mean offered load OfferedLoad; a flow's size in packets
 * is floor(X) with X bounded-Pareto(SizeShape, SizeMin, SizeMax); its packets
 * leave as a Poisson process at a rate drawn log-uniformly from
 * [PacketRateMin, PacketRateMax]; packet sizes follow PacketSizes. Keys are
 * random hosts of SourceNetwork/DestinationNetwork (/16) and a source port
 * that cycles through 1024..65535, so keys do not repeat within a run.
 */
class FlowTrafficGenerator : public Application {
  public:
    static TypeId GetTypeId();
    FlowTrafficGenerator();

    void SetDevice(Ptr<NetDevice> device);
    /// Fixes the random stream; returns the number of streams used (1).
    int64_t AssignStreams(int64_t stream);

    /// E[floor(X)]: the mean flow size in packets.
    double GetMeanFlowPackets() const;
    /// Mean IPv4 packet length in bytes.
    double GetMeanPacketBytes() const;
    /// Flow arrivals per second that give OfferedLoad.
    double GetFlowArrivalRate() const;
    uint64_t GetFlowsStarted() const;
    uint64_t GetPacketsSent() const;

  private:
    struct Flow {
        uint32_t src;
        uint32_t dst;
        uint16_t sport;
        uint16_t dport;
        uint64_t remaining;
        double packetRate;
        uint16_t nextIpId;
    };

    void StartApplication() override;
    void StopApplication() override;
    void DoDispose() override;

    void ParsePacketSizes();
    void ScheduleNextArrival();
    void StartFlow();
    void SendPacket(uint64_t flowId);
    double Exponential(double rate);
    uint64_t DrawFlowPackets();
    uint16_t DrawPacketBytes();

    Ptr<NetDevice> m_device;
    Ptr<UniformRandomVariable> m_uniform;
    DataRate m_offeredLoad;
    double m_sizeShape;
    double m_sizeMin;
    double m_sizeMax;
    double m_packetRateMin;
    double m_packetRateMax;
    std::string m_packetSizes;
    Ipv4Address m_sourceNetwork;
    Ipv4Address m_destinationNetwork;
    uint8_t m_protocol;

    std::vector<std::pair<uint16_t, double>> m_sizeCdf;  // bytes, cumulative probability
    std::map<uint64_t, Flow> m_flows;
    std::map<uint64_t, EventId> m_flowEvents;
    EventId m_arrivalEvent;
    uint64_t m_nextFlowId = 0;
    uint64_t m_packetsSent = 0;
};

/**
 * Replays the IPv4 packets of a pcap file (Ethernet, raw IP or Linux cooked
 * capture) on one device, keeping their relative timing; the first packet
 * leaves when the application starts. Truncated captures are padded back to
 * the IPv4 total length, so meters count the original bytes.
 */
class PcapReplayer : public Application {
  public:
    static TypeId GetTypeId();

    void SetDevice(Ptr<NetDevice> device);
    uint64_t GetPacketsReplayed() const;
    uint64_t GetPacketsSkipped() const;

  private:
    void StartApplication() override;
    void StopApplication() override;
    void DoDispose() override;
    void ReadAndSchedule();
    void Send(Ptr<Packet> packet);

    Ptr<NetDevice> m_device;
    std::string m_fileName;
    struct Reader;
    std::shared_ptr<Reader> m_reader;
    EventId m_next;
    Time m_startedAt;
    uint64_t m_replayed = 0;
    uint64_t m_skipped = 0;
};

}  // namespace ns3

#endif
