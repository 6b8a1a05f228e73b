#include "topology.hpp"

#include <dirent.h>
#include <signal.h>
#include <sys/stat.h>

#include <cstdlib>
#include <stdexcept>

#include "impair/sys.hpp"

namespace fc::harness {

using impair::must_run;
using impair::run_cmd;

void set_sysctl(const std::string& netns, const std::string& key, const std::string& value) {
    must_run({"ip", "netns", "exec", netns, "sysctl", "-q", "-w", key + "=" + value});
}

void add_address(const std::string& netns, const std::string& dev, const std::string& cidr) {
    std::vector<std::string> cmd = {"ip", "-n", netns, "addr", "add", cidr, "dev", dev};
    if (cidr.find(':') != std::string::npos) cmd.push_back("nodad");
    must_run(cmd);
}

void add_route(const std::string& netns, const Route& r) {
    const bool v6 = r.to == "default6" || r.to.find(':') != std::string::npos ||
                    r.via.find(':') != std::string::npos;
    std::vector<std::string> cmd = {"ip", v6 ? "-6" : "-4", "-n", netns, "route", "add"};
    if (r.type != "unicast") cmd.push_back(r.type);
    cmd.push_back(r.to == "default6" ? "default" : r.to);
    if (!r.via.empty()) {
        cmd.push_back("via");
        cmd.push_back(r.via);
    }
    must_run(cmd);
}

void attach_to_bridge(const std::string& netns, const std::string& dev, const std::string& bridge) {
    must_run({"ip", "-n", netns, "link", "set", "dev", dev, "master", bridge});
    must_run({"ip", "-n", netns, "link", "set", "dev", dev, "up"});
}

void configure_node(const std::string& netns, const Node& node) {
    must_run({"ip", "-n", netns, "link", "set", "lo", "up"});
    // Addresses are added with nodad; this covers link-local ones too, so
    // nothing waits for duplicate address detection.
    set_sysctl(netns, "net.ipv6.conf.all.accept_dad", "0");
    set_sysctl(netns, "net.ipv6.conf.default.accept_dad", "0");
    if (node.kind == NodeKind::router) {
        set_sysctl(netns, "net.ipv4.ip_forward", "1");
        set_sysctl(netns, "net.ipv6.conf.all.forwarding", "1");
    }
    for (const auto& [k, v] : node.sysctls) set_sysctl(netns, k, v);
}

std::vector<std::string> leftover_namespaces() {
    std::vector<std::string> out;
    DIR* d = opendir("/var/run/netns");
    if (!d) return out;
    while (dirent* e = readdir(d)) {
        const std::string n = e->d_name;
        if (n.rfind(kNetnsPrefix, 0) == 0) out.push_back(n);
    }
    closedir(d);
    return out;
}

void delete_netns(const std::string& name) {
    // Processes still inside would keep the namespace alive.
    const auto pids = run_cmd({"ip", "netns", "pids", name});
    if (pids.status == 0) {
        size_t pos = 0;
        while (pos < pids.output.size()) {
            const size_t end = pids.output.find('\n', pos);
            const std::string p = pids.output.substr(pos, end - pos);
            if (const pid_t pid = static_cast<pid_t>(std::atoi(p.c_str())); pid > 0)
                ::kill(pid, SIGKILL);
            if (end == std::string::npos) break;
            pos = end + 1;
        }
    }
    run_cmd({"ip", "netns", "del", name});
}

uint64_t netns_inode(const std::string& name) {
    struct stat st {};
    if (stat(("/var/run/netns/" + name).c_str(), &st) != 0)
        throw std::runtime_error("network namespace " + name + " does not exist");
    return st.st_ino;
}

namespace {

class NativeBuilder : public TopologyBuilder {
  public:
    void build(const Experiment& x, const Naming& n) override {
        for (const Node& node : x.nodes) {
            const std::string ns = n.netns(node.name);
            must_run({"ip", "netns", "add", ns});
            made_.push_back(ns);
            configure_node(ns, node);
            if (node.kind == NodeKind::switch_) {
                must_run({"ip", "-n", ns, "link", "add", node.name, "type", "bridge"});
                must_run({"ip", "-n", ns, "link", "set", node.name, "up"});
            }
        }
        for (const Link& l : x.links) {
            if (l.impaired) continue;
            const std::string na = n.netns(l.a), nb = n.netns(l.b);
            const std::string da = Naming::dev_a(l), db = Naming::dev_b(l);
            must_run({"ip", "link", "add", "name", da, "netns", na, "mtu", std::to_string(l.mtu),
                      "type", "veth", "peer", "name", db, "netns", nb, "mtu",
                      std::to_string(l.mtu)});
            for (int side = 0; side < 2; ++side) {
                const std::string& ns = side ? nb : na;
                const std::string& dev = side ? db : da;
                const Node* node = x.node(side ? l.b : l.a);
                if (node->kind == NodeKind::switch_) {
                    attach_to_bridge(ns, dev, node->name);
                    continue;
                }
                for (const auto& a : side ? l.b_addr : l.a_addr) add_address(ns, dev, a);
                must_run({"ip", "-n", ns, "link", "set", dev, "up"});
            }
        }
    }
    void teardown() override {
        // Deleting a namespace deletes its veth ends, hence their peers.
        for (auto it = made_.rbegin(); it != made_.rend(); ++it) delete_netns(*it);
        made_.clear();
    }
    std::string kind() const override { return "native"; }
    ~NativeBuilder() override { teardown(); }

  private:
    std::vector<std::string> made_;
};

}  // namespace

std::unique_ptr<TopologyBuilder> make_native_builder() { return std::make_unique<NativeBuilder>(); }

}  // namespace fc::harness
