#include "prefix-forwarder.h"

#include "ns3/node.h"
#include "ns3/packet.h"

namespace ns3 {

NS_OBJECT_ENSURE_REGISTERED(PrefixForwarder);

TypeId PrefixForwarder::GetTypeId() {
    static TypeId tid = TypeId("ns3::PrefixForwarder")
                            .SetParent<Object>()
                            .SetGroupName("Flowcorder")
                            .AddConstructor<PrefixForwarder>();
    return tid;
}

void PrefixForwarder::AddRoute(Ipv4Address network, Ipv4Mask mask, Ptr<NetDevice> out) {
    m_routes.push_back({network, mask, out});
}

void PrefixForwarder::SetDefaultRoute(Ptr<NetDevice> out) { m_default = out; }

void PrefixForwarder::Install(Ptr<NetDevice> device) {
    device->GetNode()->RegisterProtocolHandler(MakeCallback(&PrefixForwarder::Receive, this),
                                               0x0800, device);
}

void PrefixForwarder::Receive(Ptr<NetDevice>, Ptr<const Packet> packet, uint16_t protocol,
                              const Address&, const Address&, NetDevice::PacketType) {
    uint8_t header[20];
    if (packet->CopyData(header, sizeof(header)) < sizeof(header)) {
        ++m_unrouted;
        return;
    }
    const Ipv4Address destination = Ipv4Address::Deserialize(header + 16);
    Ptr<NetDevice> out = m_default;
    for (const Route& route : m_routes) {
        if (route.mask.IsMatch(route.network, destination)) {
            out = route.out;
            break;
        }
    }
    if (!out) {
        ++m_unrouted;
        return;
    }
    out->Send(packet->Copy(), out->GetBroadcast(), protocol);
}

uint64_t PrefixForwarder::GetUnrouted() const { return m_unrouted; }

void PrefixForwarder::DoDispose() {
    m_routes.clear();
    m_default = nullptr;
    Object::DoDispose();
}

}  // namespace ns3
