#!/usr/bin/python3
"""Mininet topology builder for `flowcorder run --builder mininet`.

Reads the topology the harness derived from an experiment file (JSON: nodes,
plain links, addresses, sysctls), builds it with Mininet's API -- hosts and
routers as Mininet hosts, switches as Linux bridges (this kernel has no Open
vSwitch, so there is no controller either) -- names every node's network
namespace like the native builder does (`ip netns attach`), prints "ready",
and keeps the network up until SIGTERM/SIGINT, then stops it. Impaired links
are not built here: the harness puts its impairment engine between the
namespaces afterwards, exactly as with the native builder.
"""
import json
import signal
import subprocess
import sys

from mininet.log import setLogLevel
from mininet.net import Mininet
from mininet.node import Host


class BridgeHost(Host):
    """A switch: a namespace holding one Linux bridge named after the switch,
    the same layout the native builder makes."""

    def start_bridge(self):
        self.cmd("ip link add name %s type bridge" % self.name)
        self.cmd("ip link set %s up" % self.name)

    def attach(self, intf):
        self.cmd("ip link set dev %s master %s" % (intf, self.name))
        self.cmd("ip link set dev %s up" % intf)


def run(cmd):
    subprocess.run(cmd, check=True)


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: build_topology.py TOPOLOGY.json")
    with open(sys.argv[1]) as f:
        topo = json.load(f)
    setLogLevel("warning")
    # No controller, no default addresses (ip=None), no static ARP: the
    # experiment file says what exists, nothing more.
    net = Mininet(topo=None, controller=None, build=False,
                  autoSetMacs=False, autoStaticArp=False)
    nodes = {}
    for n in topo["nodes"]:
        cls = BridgeHost if n["kind"] == "switch" else Host
        nodes[n["name"]] = net.addHost(n["name"], cls=cls, ip=None, inNamespace=True)
    attached = []
    stopping = {"now": False}

    def stop(*_):
        stopping["now"] = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        # Sysctls first: an interface moved into a namespace takes that
        # namespace's defaults, so with DAD off nothing waits on it later.
        kinds = {n["name"]: n for n in topo["nodes"]}
        for name, node in nodes.items():
            spec = kinds[name]
            node.cmd("ip link set lo up")
            node.cmd("sysctl -q -w net.ipv6.conf.all.accept_dad=0")
            node.cmd("sysctl -q -w net.ipv6.conf.default.accept_dad=0")
            if spec["kind"] == "router":
                node.cmd("sysctl -q -w net.ipv4.ip_forward=1")
                node.cmd("sysctl -q -w net.ipv6.conf.all.forwarding=1")
            for key, value in spec.get("sysctls", {}).items():
                out = node.cmd("sysctl -q -w %s=%s && echo OK" % (key, value))
                if "OK" not in out:
                    raise RuntimeError("%s: sysctl %s=%s failed: %s" % (name, key, value, out))
            if spec["kind"] == "switch":
                node.start_bridge()
        for l in topo["links"]:
            net.addLink(nodes[l["a"]], nodes[l["b"]], intfName1=l["a_dev"], intfName2=l["b_dev"])
        net.build()
        for l in topo["links"]:
            for side in ("a", "b"):
                node = nodes[l[side]]
                dev = l[side + "_dev"]
                node.cmd("ip link set dev %s mtu %d" % (dev, l["mtu"]))
                if kinds[l[side]]["kind"] == "switch":
                    node.attach(dev)
                    continue
                for cidr in l[side + "_addr"]:
                    nodad = " nodad" if ":" in cidr else ""
                    out = node.cmd("ip addr add %s dev %s%s && echo OK" % (cidr, dev, nodad))
                    if "OK" not in out:
                        raise RuntimeError("%s: cannot add %s to %s: %s" % (l[side], cidr, dev, out))
                node.cmd("ip link set dev %s up" % dev)
        for n in topo["nodes"]:
            run(["ip", "netns", "attach", n["netns"], str(nodes[n["name"]].pid)])
            attached.append(n["netns"])
        print("ready: %d nodes, %d links (Mininet, Linux bridges, no controller)"
              % (len(nodes), len(topo["links"])), flush=True)
        while not stopping["now"]:
            signal.pause()
    finally:
        net.stop()
        # The harness deletes the named namespaces; the names outlive the
        # Mininet shells on purpose, so captures and logs can be finished.
        print("stopped", flush=True)


if __name__ == "__main__":
    main()
