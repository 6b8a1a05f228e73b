// The study's scenario: two observation points around a congested bottleneck.
#ifndef FLOWCORDER_CNF_SCENARIO_H
#define FLOWCORDER_CNF_SCENARIO_H

#include <string>

#include "model/delay-ground-truth.h"
#include "model/flow-traffic-generator.h"
#include "model/netflow-meter.h"
#include "ns3/data-rate.h"
#include "ns3/nstime.h"
#include "ns3/object.h"
#include "ns3/queue-size.h"

namespace ns3 {

/**
 * Measured traffic (synthetic flows, or a replayed pcap) goes
 *
 *   src -> r1 -> r2 == bottleneck ==> r3 -> r4
 *                ^                     |
 *              csrc                  csink
 *
 * Observation point A is r1's ingress from src, B is r4's ingress from r3;
 * each has a NetFlowMeter (attributes from the ns3::NetFlowMeter defaults, so
 * both meters share hash salt and fraction) and the ground truth timestamps
 * every packet at both. Cross traffic from csrc joins at r2 and leaves at r3,
 * so it shares only the bottleneck queue: its offered load is
 * (Utilisation - MeasuredShare) x BottleneckRate.
 */
class CnfScenario : public Object {
  public:
    static TypeId GetTypeId();

    /// Creates nodes, links, forwarders, meters, ground truth and traffic.
    void Build();
    /// Runs the simulation to Duration and flushes both meters.
    void Run();
    /// records_a.csv, records_b.csv, packets.csv, flows_truth.csv and run.json in dir.
    void WriteResults(const std::string& dir) const;

    Ptr<NetFlowMeter> GetUpstreamMeter() const;
    Ptr<NetFlowMeter> GetDownstreamMeter() const;
    Ptr<DelayGroundTruth> GetGroundTruth() const;
    /// Bottleneck utilisation measured from MeasuredStart to Duration.
    double GetMeasuredUtilisation() const;
    uint64_t GetBottleneckDrops() const;

  protected:
    void DoDispose() override;

  private:
    void CountBottleneckTx(Ptr<const Packet> packet);
    void CountBottleneckDrop(Ptr<const Packet> packet);

    DataRate m_bottleneckRate;
    DataRate m_accessRate;
    Time m_linkDelay;
    QueueSize m_queueSize;
    double m_utilisation;
    double m_measuredShare;
    Time m_measuredStart;
    Time m_duration;
    Time m_drainTime;
    std::string m_pcapFile;
    int64_t m_rngStream;

    Ptr<NetFlowMeter> m_meterA;
    Ptr<NetFlowMeter> m_meterB;
    Ptr<DelayGroundTruth> m_truth;
    Ptr<FlowTrafficGenerator> m_measured;
    Ptr<FlowTrafficGenerator> m_cross;
    Ptr<PcapReplayer> m_replayer;
    uint64_t m_bottleneckBytes = 0;
    uint64_t m_bottleneckDrops = 0;
};

}  // namespace ns3

#endif
