// The Mininet builder: testbed/mininet/build_topology.py builds the nodes,
// switches (Linux bridges: this kernel has no Open vSwitch), plain links,
// addresses and sysctls with Mininet's API, names each node's namespace like
// the native builder does (ip netns attach), prints "ready" and keeps the
// network up until it is told to stop.
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "impair/sys.hpp"
#include "topology.hpp"

namespace fc::harness {

namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;

class MininetBuilder : public TopologyBuilder {
  public:
    MininetBuilder(std::string script, std::string log_dir)
        : script_(std::move(script)), log_dir_(std::move(log_dir)) {}
    ~MininetBuilder() override { teardown(); }

    void build(const Experiment& x, const Naming& n) override {
        json topo;
        topo["prefix"] = std::string(kNetnsPrefix) + n.tag + "-";
        json nodes = json::array();
        for (const Node& node : x.nodes) {
            nodes.push_back({{"name", node.name},
                             {"netns", n.netns(node.name)},
                             {"kind", node.kind == NodeKind::host     ? "host"
                                      : node.kind == NodeKind::router ? "router"
                                                                      : "switch"},
                             {"sysctls", node.sysctls}});
            names_.push_back(n.netns(node.name));
        }
        json links = json::array();
        for (const Link& l : x.links)
            if (!l.impaired)
                links.push_back({{"name", l.name},
                                 {"a", l.a},
                                 {"b", l.b},
                                 {"a_dev", Naming::dev_a(l)},
                                 {"b_dev", Naming::dev_b(l)},
                                 {"a_addr", l.a_addr},
                                 {"b_addr", l.b_addr},
                                 {"mtu", l.mtu}});
        topo["nodes"] = nodes;
        topo["links"] = links;
        const std::string file = log_dir_ + "/mininet-topology.json";
        std::ofstream(file) << topo.dump(2) << "\n";
        child_ = std::make_unique<Child>(
            "mininet", std::vector<std::string>{"/usr/bin/python3", script_, file},
            log_dir_ + "/mininet.log");
        child_->wait_for("ready", 60s);
    }

    void teardown() override {
        if (child_) {
            child_->stop(SIGTERM, 20s);
            child_.reset();
        }
        for (const auto& ns : names_) delete_netns(ns);
        names_.clear();
    }
    std::string kind() const override { return "mininet"; }

  private:
    std::string script_, log_dir_;
    std::unique_ptr<Child> child_;
    std::vector<std::string> names_;
};

}  // namespace

std::unique_ptr<TopologyBuilder> make_mininet_builder(const std::string& script,
                                                      const std::string& log_dir) {
    if (!std::filesystem::exists(script))
        throw std::runtime_error("Mininet builder script " + script + " not found");
    return std::make_unique<MininetBuilder>(script, log_dir);
}

}  // namespace fc::harness
