// A NetFlow meter with consistent (hash-based) flow sampling.
#ifndef FLOWCORDER_NETFLOW_METER_H
#define FLOWCORDER_NETFLOW_METER_H

#include <list>
#include <string>
#include <unordered_map>
#include <vector>

#include "latency/flow_key.hpp"
#include "latency/records.hpp"
#include "ns3/event-id.h"
#include "ns3/net-device.h"
#include "ns3/nstime.h"
#include "ns3/object.h"
#include "ns3/traced-callback.h"

namespace ns3 {

/**
 * Keeps one record per flow (key, first and last packet time in ns, packets,
 * bytes) for the IPv4 packets a device receives. A flow is metered iff the
 * shared hash of its key, salted with HashSalt, falls in the lowest
 * SamplingFraction of the hash space: meters with the same salt and fraction
 * keep exactly the same flows. Records end on the inactive and active
 * timeouts, on eviction from a full cache (least recently seen first; counted)
 * and at Flush().
 */
class NetFlowMeter : public Object {
  public:
    using FlowRecord = flowcorder::latency::FlowRecord;
    using RecordTracedCallback = void (*)(const FlowRecord& record);

    struct Counters {
        uint64_t packetsSeen = 0;
        uint64_t packetsMetered = 0;  // packets of sampled flows
        uint64_t recordsExported = 0;
        uint64_t idleExpiries = 0;
        uint64_t activeExpiries = 0;
        uint64_t evictions = 0;  // records exported early because the cache was full
    };

    static TypeId GetTypeId();
    NetFlowMeter();

    /// Meters the IPv4 packets received on device (a protocol handler on its node).
    void Install(Ptr<NetDevice> device);
    /// Meters one packet observed now; Install() calls it, tests may too.
    void Observe(const flowcorder::latency::PacketInfo& packet);
    /// Exports every cached flow (flowEndReason "forced end").
    void Flush();

    const std::vector<FlowRecord>& GetRecords() const;
    const Counters& GetCounters() const;
    bool IsSampled(const flowcorder::latency::FlowKey& key) const;
    void WriteCsv(const std::string& path) const;

  protected:
    void DoDispose() override;

  private:
    using Lru = std::list<FlowRecord>;  // most recently seen first
    using Cache = std::unordered_map<flowcorder::latency::FlowKey, Lru::iterator,
                                     flowcorder::latency::FlowKeyHash>;

    void Receive(Ptr<NetDevice> device, Ptr<const Packet> packet, uint16_t protocol,
                 const Address& from, const Address& to, NetDevice::PacketType type);
    void ScanForExpiry();
    void Export(Cache::iterator entry, flowcorder::latency::EndReason reason);
    bool IdleExpired(const FlowRecord& record, int64_t now) const;
    bool ActiveExpired(const FlowRecord& record, int64_t now) const;

    double m_samplingFraction;
    uint64_t m_hashSalt;
    Time m_activeTimeout;
    Time m_inactiveTimeout;
    Time m_scanInterval;
    uint32_t m_cacheSize;

    Lru m_lru;
    Cache m_cache;
    std::vector<FlowRecord> m_records;
    Counters m_counters;
    EventId m_scanEvent;
    TracedCallback<const FlowRecord&> m_exportTrace;
};

}  // namespace ns3

#endif
