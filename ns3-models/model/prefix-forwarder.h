// A minimal IPv4 forwarder: what arrives on its ingress devices leaves on the
// device of the first matching prefix (or the default device), untouched.
#ifndef FLOWCORDER_PREFIX_FORWARDER_H
#define FLOWCORDER_PREFIX_FORWARDER_H

#include <vector>

#include "ns3/ipv4-address.h"
#include "ns3/net-device.h"
#include "ns3/object.h"

namespace ns3 {

/**
 * Forwards raw IPv4 packets between point-to-point devices without an IP
 * stack: no TTL, no checksum, no ARP. That keeps replayed traces bit-exact
 * (whatever their addresses) and the simulation cheap.
 */
class PrefixForwarder : public Object {
  public:
    static TypeId GetTypeId();

    void AddRoute(Ipv4Address network, Ipv4Mask mask, Ptr<NetDevice> out);
    void SetDefaultRoute(Ptr<NetDevice> out);
    /// Forwards the IPv4 packets received on device.
    void Install(Ptr<NetDevice> device);
    uint64_t GetUnrouted() const;

  protected:
    void DoDispose() override;

  private:
    struct Route {
        Ipv4Address network;
        Ipv4Mask mask;
        Ptr<NetDevice> out;
    };

    void Receive(Ptr<NetDevice> device, Ptr<const Packet> packet, uint16_t protocol,
                 const Address& from, const Address& to, NetDevice::PacketType type);

    std::vector<Route> m_routes;
    Ptr<NetDevice> m_default;
    uint64_t m_unrouted = 0;
};

}  // namespace ns3

#endif
