#include "repetition.hpp"

#include <arpa/inet.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>

#include "budget.hpp"
#include "common/process.hpp"
#include "dns_workload.hpp"
#include "experiment.hpp"
#include "http_workload.hpp"
#include "impair/sys.hpp"
#include "mptcp_monitor.hpp"
#include "readiness.hpp"
#include "topology.hpp"

namespace fs = std::filesystem;
using json = nlohmann::json;
using namespace std::chrono_literals;

namespace fc::harness {

Repetition::Repetition(const RunOptions& o, const Experiment& x, uint32_t rep, const fs::path& dir,
                       uint16_t collector_port, uint32_t& next_domain, const std::string& progress)
    : o_(o),
      x_(x),
      rep_(rep),
      dir_(dir),
      collector_port_(collector_port),
      next_domain_(next_domain),
      progress_(progress) {
    naming_.tag = random_tag();
    seed_ = x.seed + rep;
}

std::vector<std::string> Repetition::run() {
    for (const char* sub : {"truth", "captures", "links", "logs"})
        fs::create_directories(dir_ / sub);
    manifest_["experiment"] = x_.name;
    manifest_["file"] = x_.file;
    manifest_["repetition"] = rep_;
    manifest_["seed"] = seed_;
    manifest_["builder"] = o_.builder;
    manifest_["netns_tag"] = naming_.tag;
    json tol = json::object();
    for (const auto& [k, t] : x_.tolerances)
        tol[k] = {{"abs", t.abs}, {"rel", t.rel}, {"share", t.share}};
    manifest_["tolerances"] = tol;
    json skips = json::object();  // [validation] skip: the validator's declared skips
    for (const auto& [key, why] : x_.skips) skips[key] = why;
    manifest_["skips"] = skips;
    budget_ = derive_budget(x_);
    record_budget();
    std::vector<std::string> problems;
    try {
        build();
        start_observers();
        run_workloads(problems);
        stop_all(problems);
        write_http_truth(problems);
        write_dns_truth(problems);
        analyse_captures(problems);
    } catch (...) {
        stop_all(problems);
        write_manifest();
        teardown();
        throw;
    }
    manifest_["problems"] = problems;
    write_manifest();
    teardown();
    progress_.step("done");
    return problems;
}

void Repetition::build() {
    builder_ = o_.builder == "mininet"
                   ? make_mininet_builder(o_.source_dir + "/testbed/mininet/build_topology.py",
                                          dir_ / "logs")
                   : make_native_builder();
    builder_->build(x_, naming_);
    json hosts = json::array();
    for (const Node& n : x_.nodes) {
        json h = {{"name", n.name},
                  {"kind", n.kind == NodeKind::host     ? "host"
                           : n.kind == NodeKind::router ? "router"
                                                        : "switch"},
                  {"netns", naming_.netns(n.name)},
                  {"netns_inode", netns_inode(naming_.netns(n.name))},
                  {"agent", n.agent}};
        if (n.agent) {
            domains_[n.name] = next_domain_++;
            h["observation_domain"] = domains_[n.name];
        }
        hosts.push_back(h);
    }
    manifest_["hosts"] = hosts;

    json links = json::array();
    for (size_t i = 0; i < x_.links.size(); ++i) {
        const Link& l = x_.links[i];
        json lj = {{"name", l.name},
                   {"a", l.a},
                   {"b", l.b},
                   {"impaired", l.impaired},
                   {"a_dev", Naming::dev_a(l)},
                   {"b_dev", Naming::dev_b(l)},
                   {"a_to_b", l.a_to_b},
                   {"b_to_a", l.b_to_a},
                   {"a_addr", l.a_addr},
                   {"b_addr", l.b_addr}};
        if (l.impaired) start_link(l, i, lj);
        links.push_back(lj);
    }
    manifest_["links"] = links;
    for (const Route& r : x_.routes) add_route(naming_.netns(r.node), r);
    if (x_.has_mptcp()) configure_mptcp();
    // Interfaces are up when the kernel's linkwatch says so, up to a
    // second after `ip link set up` (readiness.hpp): traffic sent
    // before then loses its first IPv6 packets.
    std::vector<std::string> all_netns;
    for (const Node& n : x_.nodes) all_netns.push_back(naming_.netns(n.name));
    manifest_["topology_ready_wait_s"] = wait_until_ready(all_netns, 10.0);
    progress_.step("topology");
}

void Repetition::must(const std::vector<std::string>& argv) {
    const auto r = impair::run_cmd(argv);
    if (r.status != 0) {
        std::string cmd;
        for (const auto& a : argv) cmd += (cmd.empty() ? "" : " ") + a;
        throw std::runtime_error(cmd + " failed: " + last_line(r.output));
    }
}

std::vector<std::string> Repetition::endpoint_add_argv(const MptcpEndpoint& e) const {
    std::vector<std::string> argv = {
        "ip", "-n", naming_.netns(e.host), "mptcp", "endpoint", "add", e.addr, "dev", e.dev};
    if (e.id) argv.insert(argv.end(), {"id", std::to_string(e.id)});
    argv.insert(argv.end(), e.flags.begin(), e.flags.end());
    return argv;
}

void Repetition::configure_mptcp() {
    json mj = {{"limits", json::array()}, {"endpoints", json::array()}};
    for (const Node& n : x_.nodes) set_sysctl(naming_.netns(n.name), "net.mptcp.enabled", "1");
    for (const MptcpLimits& l : x_.mptcp_limits) {
        std::vector<std::string> argv = {"ip",    "-n",     naming_.netns(l.host),
                                         "mptcp", "limits", "set"};
        json lj = {{"host", l.host}};
        if (l.subflows) {
            argv.insert(argv.end(), {"subflows", std::to_string(*l.subflows)});
            lj["subflows"] = *l.subflows;
        }
        if (l.add_addr_accepted) {
            argv.insert(argv.end(), {"add_addr_accepted", std::to_string(*l.add_addr_accepted)});
            lj["add_addr_accepted"] = *l.add_addr_accepted;
        }
        must(argv);
        mj["limits"].push_back(lj);
    }
    for (const MptcpEndpoint& e : x_.mptcp_endpoints) {
        json ej = {{"host", e.host}, {"addr", e.addr}, {"dev", e.dev}, {"flags", e.flags}};
        if (e.id) ej["id"] = e.id;
        if (e.remove_at_ns) ej["remove_at_ns"] = *e.remove_at_ns;  // deleted in run_workloads
        if (e.at_ns) {
            ej["at_ns"] = *e.at_ns;  // added in run_workloads
        } else {
            must(endpoint_add_argv(e));
            ej["added_ns"] = now_ns();
        }
        mj["endpoints"].push_back(ej);
    }
    manifest_["mptcp"] = mj;
}

void Repetition::start_link(const Link& l, size_t index, json& lj) {
    const std::string ctl = "/tmp/fc-tb-" + naming_.tag + "-" + l.name + ".sock";
    std::vector<std::string> argv = {fc(),        "link",
                                     "--ns-a",    naming_.netns(l.a),
                                     "--ns-b",    naming_.netns(l.b),
                                     "--name",    l.name,
                                     "--seed",    std::to_string(seed_ * 1000 + index),
                                     "--log",     dir_ / "links" / (l.name + ".implog"),
                                     "--control", ctl,
                                     "--mtu",     std::to_string(l.mtu)};
    if (!l.a_to_b.empty()) argv.insert(argv.end(), {"--ab", l.a_to_b});
    if (!l.b_to_a.empty()) argv.insert(argv.end(), {"--ba", l.b_to_a});
    const bool a_switch = x_.node(l.a)->kind == NodeKind::switch_;
    const bool b_switch = x_.node(l.b)->kind == NodeKind::switch_;
    for (const auto& a : l.a_addr) argv.insert(argv.end(), {"--addr-a", a});
    for (const auto& a : l.b_addr) argv.insert(argv.end(), {"--addr-b", a});
    auto c = std::make_unique<Child>("link " + l.name, argv, log("link-" + l.name));
    c->wait_for("ready", 15s);
    if (a_switch) attach_to_bridge(naming_.netns(l.a), Naming::dev_a(l), l.a);
    if (b_switch) attach_to_bridge(naming_.netns(l.b), Naming::dev_b(l), l.b);
    links_.push_back(std::move(c));
    controls_[l.name] = ctl;
    lj["log"] = "links/" + l.name + ".implog";
    if (l.capture)
        lj["captures"] = {{"a", "captures/" + l.name + "-a"}, {"b", "captures/" + l.name + "-b"}};
}

void Repetition::record_budget() {
    json bj = {{"total_s", budget_.total_s}, {"from_file", budget_.from_file}};
    json ws = json::array();
    for (const auto& wb : budget_.workloads)
        ws.push_back({{"workload", wb.workload},
                      {"expected_s", wb.expected_s},
                      {"silence_s", wb.silence_s},
                      {"budget_s", wb.budget_s},
                      {"why", wb.why}});
    bj["workloads"] = ws;
    manifest_["budget"] = bj;
    deadline_ns_ = static_cast<int64_t>(budget_.total_s * 1e9);
}

void Repetition::teardown() {
    dns_.clear();  // dnsmasq stopped, /etc/netns/<client>/ removed
    if (builder_) builder_->teardown();
}

}  // namespace fc::harness
