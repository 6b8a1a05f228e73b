#include "netflow-meter.h"

#include <algorithm>
#include <fstream>

#include "ns3/abort.h"
#include "ns3/double.h"
#include "ns3/node.h"
#include "ns3/packet.h"
#include "ns3/simulator.h"
#include "ns3/trace-source-accessor.h"
#include "ns3/uinteger.h"

namespace ns3 {

namespace fl = flowcorder::latency;

NS_OBJECT_ENSURE_REGISTERED(NetFlowMeter);

TypeId NetFlowMeter::GetTypeId() {
    static TypeId tid =
        TypeId("ns3::NetFlowMeter")
            .SetParent<Object>()
            .SetGroupName("Flowcorder")
            .AddConstructor<NetFlowMeter>()
            .AddAttribute("SamplingFraction",
                          "Share of the flow-hash space that is metered (consistent sampling)",
                          DoubleValue(1.0), MakeDoubleAccessor(&NetFlowMeter::m_samplingFraction),
                          MakeDoubleChecker<double>(0.0, 1.0))
            .AddAttribute("HashSalt",
                          "Salt of the shared flow hash; meters that must agree share it",
                          UintegerValue(0), MakeUintegerAccessor(&NetFlowMeter::m_hashSalt),
                          MakeUintegerChecker<uint64_t>())
            .AddAttribute("ActiveTimeout",
                          "A record older than this is exported and the flow starts a new one",
                          TimeValue(Seconds(60)), MakeTimeAccessor(&NetFlowMeter::m_activeTimeout),
                          MakeTimeChecker(NanoSeconds(1)))
            .AddAttribute("InactiveTimeout", "A record idle for this long is exported",
                          TimeValue(Seconds(15)),
                          MakeTimeAccessor(&NetFlowMeter::m_inactiveTimeout),
                          MakeTimeChecker(NanoSeconds(1)))
            .AddAttribute("ScanInterval", "How often the cache is scanned for expired records",
                          TimeValue(Seconds(1)), MakeTimeAccessor(&NetFlowMeter::m_scanInterval),
                          MakeTimeChecker(NanoSeconds(1)))
            .AddAttribute("CacheSize",
                          "Flows the cache holds; a new flow then evicts the least recently seen",
                          UintegerValue(65536), MakeUintegerAccessor(&NetFlowMeter::m_cacheSize),
                          MakeUintegerChecker<uint32_t>(1))
            .AddTraceSource("Export", "A record left the cache",
                            MakeTraceSourceAccessor(&NetFlowMeter::m_exportTrace),
                            "ns3::NetFlowMeter::RecordTracedCallback");
    return tid;
}

NetFlowMeter::NetFlowMeter() : m_samplingFraction(1.0), m_hashSalt(0), m_cacheSize(65536) {}

void NetFlowMeter::Install(Ptr<NetDevice> device) {
    device->GetNode()->RegisterProtocolHandler(MakeCallback(&NetFlowMeter::Receive, this), 0x0800,
                                               device);
    if (!m_scanEvent.IsRunning()) {
        m_scanEvent = Simulator::Schedule(m_scanInterval, &NetFlowMeter::ScanForExpiry, this);
    }
}

void NetFlowMeter::Receive(Ptr<NetDevice>, Ptr<const Packet> packet, uint16_t, const Address&,
                           const Address&, NetDevice::PacketType) {
    uint8_t bytes[64];
    const uint32_t length = packet->CopyData(bytes, sizeof(bytes));
    if (auto info = fl::parse_ipv4_packet(std::span<const uint8_t>(bytes, length))) {
        Observe(*info);
    }
}

bool NetFlowMeter::IsSampled(const fl::FlowKey& key) const {
    return fl::hash_selects(fl::flow_hash(key, m_hashSalt), m_samplingFraction);
}

bool NetFlowMeter::IdleExpired(const FlowRecord& record, int64_t now) const {
    return now - record.last_ns >= m_inactiveTimeout.GetNanoSeconds();
}

bool NetFlowMeter::ActiveExpired(const FlowRecord& record, int64_t now) const {
    return now - record.first_ns >= m_activeTimeout.GetNanoSeconds();
}

void NetFlowMeter::Observe(const fl::PacketInfo& packet) {
    ++m_counters.packetsSeen;
    if (!IsSampled(packet.key)) {
        return;
    }
    ++m_counters.packetsMetered;
    const int64_t now = Simulator::Now().GetNanoSeconds();
    auto entry = m_cache.find(packet.key);
    if (entry != m_cache.end()) {
        if (IdleExpired(*entry->second, now)) {
            ++m_counters.idleExpiries;
            Export(entry, fl::EndReason::IdleTimeout);
            entry = m_cache.end();
        } else if (ActiveExpired(*entry->second, now)) {
            ++m_counters.activeExpiries;
            Export(entry, fl::EndReason::ActiveTimeout);
            entry = m_cache.end();
        }
    }
    if (entry == m_cache.end()) {
        if (m_cache.size() >= m_cacheSize) {
            ++m_counters.evictions;
            Export(m_cache.find(m_lru.back().key), fl::EndReason::LackOfResources);
        }
        m_lru.push_front(FlowRecord{packet.key, now, now, 0, 0, fl::EndReason::ForcedEnd});
        entry = m_cache.emplace(packet.key, m_lru.begin()).first;
    } else {
        m_lru.splice(m_lru.begin(), m_lru, entry->second);
    }
    FlowRecord& record = *entry->second;
    record.last_ns = now;
    ++record.packets;
    record.bytes += packet.ip_length;
}

void NetFlowMeter::ScanForExpiry() {
    const int64_t now = Simulator::Now().GetNanoSeconds();
    // Least recently seen last: idle flows sit at the back.
    while (!m_lru.empty() && IdleExpired(m_lru.back(), now)) {
        ++m_counters.idleExpiries;
        Export(m_cache.find(m_lru.back().key), fl::EndReason::IdleTimeout);
    }
    for (auto it = m_lru.begin(); it != m_lru.end();) {
        auto next = std::next(it);
        if (ActiveExpired(*it, now)) {
            ++m_counters.activeExpiries;
            Export(m_cache.find(it->key), fl::EndReason::ActiveTimeout);
        }
        it = next;
    }
    m_scanEvent = Simulator::Schedule(m_scanInterval, &NetFlowMeter::ScanForExpiry, this);
}

void NetFlowMeter::Export(Cache::iterator entry, fl::EndReason reason) {
    FlowRecord record = *entry->second;
    record.end_reason = reason;
    m_lru.erase(entry->second);
    m_cache.erase(entry);
    ++m_counters.recordsExported;
    m_records.push_back(record);
    m_exportTrace(record);
}

void NetFlowMeter::Flush() {
    // Oldest first, so that a flush exports in the order flows were last seen.
    while (!m_lru.empty()) {
        Export(m_cache.find(m_lru.back().key), fl::EndReason::ForcedEnd);
    }
}

const std::vector<NetFlowMeter::FlowRecord>& NetFlowMeter::GetRecords() const { return m_records; }

const NetFlowMeter::Counters& NetFlowMeter::GetCounters() const { return m_counters; }

void NetFlowMeter::WriteCsv(const std::string& path) const {
    std::ofstream out(path);
    NS_ABORT_MSG_IF(!out, "cannot write " << path);
    fl::write_records_csv(out, m_records);
}

void NetFlowMeter::DoDispose() {
    m_scanEvent.Cancel();
    Object::DoDispose();
}

}  // namespace ns3
