#include "runner.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "budget.hpp"
#include "common/ports.hpp"
#include "common/process.hpp"
#include "dns_workload.hpp"
#include "experiment.hpp"
#include "http_workload.hpp"
#include "impair/runner.hpp"
#include "impair/sys.hpp"
#include "leftovers.hpp"
#include "mptcp_monitor.hpp"
#include "readiness.hpp"
#include "store_check.hpp"
#include "topology.hpp"

namespace fs = std::filesystem;
using json = nlohmann::json;
using namespace std::chrono_literals;

namespace fc::harness {

namespace {

std::atomic<int> g_signal{0};
extern "C" void on_signal(int sig) { g_signal = sig; }

struct Interrupted : std::runtime_error {
    Interrupted() : std::runtime_error("interrupted") {}
};
void check_interrupt() {
    if (g_signal) throw Interrupted();
}

int64_t now_ns() { return impair::realtime_ns(); }
double mono_s() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

std::string random_tag() {
    std::random_device rd;
    char buf[8];
    std::snprintf(buf, sizeof buf, "%04x", rd() & 0xffff);
    return buf;
}

std::string endpoint(const std::string& addr, uint16_t port) {
    return (addr.find(':') != std::string::npos ? "[" + addr + "]" : addr) + ":" +
           std::to_string(port);
}

std::string secs(int64_t ns) {
    char b[32];
    std::snprintf(b, sizeof b, "%.3fs", ns / 1e9);
    return b;
}

// Progress lines: one per phase, prefixed with the repetition.
class Progress {
  public:
    explicit Progress(std::string prefix) : prefix_(std::move(prefix)), t0_(mono_s()) {}
    void step(const std::string& what) {
        std::printf("%s %-10s %6.1fs\n", prefix_.c_str(), what.c_str(), mono_s() - t0_);
        std::fflush(stdout);
    }
    double elapsed() const { return mono_s() - t0_; }

  private:
    std::string prefix_;
    double t0_;
};

std::string cmd_output(const std::vector<std::string>& argv) {
    const auto r = impair::run_cmd(argv);
    return r.status == 0 ? r.output : "";
}

json environment(const RunOptions& o) {
    json env;
    utsname u{};
    uname(&u);
    env["kernel"] = std::string(u.sysname) + " " + u.release + " " + u.version;
    env["machine"] = u.machine;
    env["hostname"] = u.nodename;
    env["cpus"] = std::thread::hardware_concurrency();
    env["date_utc"] = cmd_output({"date", "-u", "+%Y-%m-%dT%H:%M:%SZ"});
    env["builder"] = o.builder;
    std::ifstream osr("/etc/os-release");
    for (std::string line; std::getline(osr, line);)
        if (line.rfind("PRETTY_NAME=", 0) == 0) env["os"] = line.substr(13, line.size() - 14);
    env["git_commit"] = cmd_output({"git", "-C", o.source_dir, "rev-parse", "HEAD"});
    env["git_dirty"] =
        !cmd_output({"git", "-C", o.source_dir, "status", "--porcelain", "--untracked-files=no"})
             .empty();
    json pk = json::object();
    const std::string pkgs = cmd_output(
        {"dpkg-query", "-W", "-f", "${Package} ${Version}\\n", "libbpf1", "libfixbuf9",
         "libfixbuf-dev", "libpcap0.8", "iproute2", "tshark", "mininet", "sqlite3", "clang",
         "bpftool", "nftables", "nginx-light", "apache2-utils", "dnsmasq-base"});
    std::istringstream in(pkgs);
    for (std::string p, v; in >> p >> v;) pk[p] = v;
    env["packages"] = pk;
    return env;
}

// One repetition of one experiment.
class Repetition {
  public:
    Repetition(const RunOptions& o, const Experiment& x, uint32_t rep, const fs::path& dir,
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

    // Returns problems found (empty = the repetition ran as declared).
    std::vector<std::string> run() {
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

  private:
    std::string log(const std::string& name) const { return (dir_ / "logs" / (name + ".log")); }
    std::string fc() const { return o_.flowcorder; }

    void build() {
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

    static void must(const std::vector<std::string>& argv) {
        const auto r = impair::run_cmd(argv);
        if (r.status != 0) {
            std::string cmd;
            for (const auto& a : argv) cmd += (cmd.empty() ? "" : " ") + a;
            throw std::runtime_error(cmd + " failed: " + last_line(r.output));
        }
    }

    std::vector<std::string> endpoint_add_argv(const MptcpEndpoint& e) const {
        std::vector<std::string> argv = {
            "ip", "-n", naming_.netns(e.host), "mptcp", "endpoint", "add", e.addr, "dev", e.dev};
        if (e.id) argv.insert(argv.end(), {"id", std::to_string(e.id)});
        argv.insert(argv.end(), e.flags.begin(), e.flags.end());
        return argv;
    }

    // MPTCP on in every namespace, the path managers' limits and the
    // endpoints that exist from the start (the others are added on schedule).
    void configure_mptcp() {
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
                argv.insert(argv.end(),
                            {"add_addr_accepted", std::to_string(*l.add_addr_accepted)});
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

    void start_link(const Link& l, size_t index, json& lj) {
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
            lj["captures"] = {{"a", "captures/" + l.name + "-a"},
                              {"b", "captures/" + l.name + "-b"}};
    }

    void start_observers() {
        for (const Link& l : x_.links) {
            if (!l.capture) continue;
            for (int side = 0; side < 2; ++side) {
                const std::string node = side ? l.b : l.a;
                const std::string dev = side ? Naming::dev_b(l) : Naming::dev_a(l);
                const std::string stem = l.name + (side ? "-b" : "-a");
                std::vector<std::string> argv = {
                    fc(),      "capture", "--netns", naming_.netns(node),
                    "--iface", dev,       "--out",   dir_ / "captures" / (stem + ".pcap")};
                // DNS over UDP too, whole messages (qname, rcode, answer count).
                if (has_dns()) argv.insert(argv.end(), {"--filter", "tcp or udp port 53"});
                // Whole packets where any link corrupts (routers forward a
                // segment with a bad TCP checksum, so every capture
                // downstream may hold one): only then can the analysis
                // recompute the TCP checksum and leave out what the
                // receiving host drops. Else headers (and DNS messages).
                if (corrupts())
                    argv.insert(argv.end(), {"--snaplen", "65535"});
                else if (has_dns())
                    argv.insert(argv.end(), {"--snaplen", "512"});
                auto c = std::make_unique<Child>("capture " + stem, argv, log("capture-" + stem));
                captures_.push_back(std::move(c));
                capture_stems_.push_back(stem);
            }
        }
        for (auto& c : captures_) c->wait_for("capturing", 15s);
        for (const Node& n : x_.nodes) {
            if (!n.agent) continue;
            const std::string url =
                x_.collector_transport + "://127.0.0.1:" + std::to_string(collector_port_);
            std::vector<std::string> args{fc(),
                                          "agent",
                                          "--collector",
                                          url,
                                          "--netns",
                                          naming_.netns(n.name),
                                          "--observation-domain",
                                          std::to_string(domains_[n.name]),
                                          "--stats-interval",
                                          "5"};
            if (has_dns()) args.push_back("--dns");
            if (x_.has_mptcp()) args.push_back("--mptcp");
            auto c = std::make_unique<Child>("agent " + n.name, args, log("agent-" + n.name));
            agents_.push_back(std::move(c));
        }
        for (auto& c : agents_)
            c->wait_for(has_dns()        ? "DNS probes attached"
                        : x_.has_mptcp() ? "MPTCP connections tracked"
                                         : "TCP probes attached",
                        30s);
        // The path manager's own account, in each agent host's namespace.
        if (x_.has_mptcp()) {
            json mon = json::object();
            for (const Node& n : x_.nodes) {
                if (!n.agent) continue;
                const std::string rel = "truth/" + n.name + "-mptcp-monitor.jsonl";
                monitors_.push_back(std::make_unique<MptcpMonitor>(
                    naming_.netns(n.name), dir_ / rel, log("mptcp-monitor-" + n.name)));
                mon[n.name] = rel;
            }
            manifest_["mptcp_monitor"] = mon;
            std::this_thread::sleep_for(200ms);  // subscribed before the servers listen
        }
        progress_.step("observers");
    }

    // Does any link corrupt packets, from the start or after a change?
    bool corrupts() const {
        const auto has = [](const std::string& spec) {
            return spec.find("corrupt") != std::string::npos;
        };
        for (const Link& l : x_.links) {
            if (has(l.a_to_b) || has(l.b_to_a)) return true;
            for (const auto& ch : l.changes)
                if ((ch.a_to_b && has(*ch.a_to_b)) || (ch.b_to_a && has(*ch.b_to_a))) return true;
        }
        return false;
    }

    bool has_dns() const {
        return std::any_of(x_.workloads.begin(), x_.workloads.end(),
                           [](const Workload& w) { return w.type == WorkloadType::dns; });
    }

    std::string dns_truth_path(const Workload& w, bool server) const {
        return "truth/" + (server ? w.server + "-" + w.name + "-dnsmasq.jsonl"
                                  : w.client + "-" + w.name + "-dns.jsonl");
    }

    // bulk/rr/churn truth: truth/<host>-<workload>-<role>[-mptcp].jsonl (a
    // plain-TCP server of an MPTCP workload writes the TCP file).
    std::string truth_path(const Workload& w, bool server) const {
        const bool mptcp = w.mptcp() && (!server || w.server_mptcp);
        return "truth/" + (server ? w.server : w.client) + "-" + w.name +
               (server ? "-server" : "-client") + (mptcp ? "-mptcp" : "") + ".jsonl";
    }

    std::vector<std::string> in_netns(const std::string& node) const {
        return {"ip", "netns", "exec", naming_.netns(node), fc()};
    }

    struct Pending {
        const Workload* w;
        std::vector<std::unique_ptr<Child>> cs;  // http: one ab per concurrent slot
        bool started = false, done = false;
    };

    int64_t silence_ns(const std::string& workload) const {
        for (const auto& wb : budget_.workloads)
            if (wb.workload == workload) return static_cast<int64_t>(wb.silence_s * 1e9);
        return 0;
    }

    // The deadline passed: the clients still running abort what they have
    // open (SIGTERM: RST, truth lines with outcome "aborted"), so their
    // connections are validated for what they did; SIGKILL only if one hangs.
    void abort_overdue(std::vector<Pending>& clients, std::vector<std::string>& problems) {
        std::vector<Child*> overdue;
        for (auto& p : clients) {
            if (!p.started || p.done) continue;
            p.done = true;
            for (auto& c : p.cs)
                if (c->running()) overdue.push_back(c.get());
            std::string why;
            for (const auto& wb : budget_.workloads)
                if (wb.workload == p.w->name) why = wb.why;
            problems.push_back(
                "workload " + p.w->name + ": still running after its budget of " +
                secs(deadline_ns_) +
                (budget_.from_file ? " (the experiment's timeout)" : " (derived: " + why + ")") +
                "; aborted, its open connections recorded as aborted");
        }
        for (Child* c : overdue) ::kill(c->pid(), SIGTERM);
        for (Child* c : overdue) c->stop(SIGTERM, 10s);  // SIGKILL after 10 s
    }

    void record_budget() {
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

    void run_workloads(std::vector<std::string>& problems) {
        json wls = json::array();
        // Servers first, one per workload that listens.
        for (const Workload& w : x_.workloads) {
            json truth = json::array();
            if (w.type == WorkloadType::dns) {
                // Not connection truth: "truth" stays empty so the TCP
                // validator reads none of it; "dns_truth" names the files.
                json wj = {{"name", w.name},
                           {"type", "dns"},
                           {"client", w.client},
                           {"server", w.server},
                           {"server_addr", w.server_addr},
                           {"port", 53},
                           {"expect", w.expect},
                           {"truth", truth},
                           {"names", w.names},
                           {"servfail", w.servfail},
                           {"lookups", w.lookups},
                           {"family", w.family},
                           {"resolver_timeout_s", w.resolver_timeout_s},
                           {"resolver_attempts", w.resolver_attempts},
                           {"interval_ns", w.interval_ns},
                           {"listen", w.listen}};
                json dt = {{"client", dns_truth_path(w, false)}};
                if (w.listen) dt["server"] = dns_truth_path(w, true);
                wj["dns_truth"] = dt;
                const std::string sub = "dns/" + w.name;
                wj["dns_files"] = {{"resolv_conf", sub + "/resolv.conf"}};
                if (w.listen)
                    wj["dns_files"].update({{"dnsmasq_conf", sub + "/dnsmasq.conf"},
                                            {"dnsmasq_log", sub + "/dnsmasq.log"}});
                else
                    wj["dns_files"]["nft_rules"] = sub + "/nft-drop.nft";
                dns_.push_back(
                    std::make_unique<DnsServer>(w, naming_.netns(w.server), naming_.netns(w.client),
                                                dir_ / "dns" / w.name, fc(), dir_ / "logs"));
                wls.push_back(wj);
                continue;
            }
            // MPTCP connections' truth goes to files of its own ("mptcp_truth"):
            // the TCP validator reads none of it.
            json mptcp_truth = json::array();
            if (w.type != WorkloadType::http) {
                (w.mptcp() ? mptcp_truth : truth).push_back(truth_path(w, false));
            } else {
                truth.push_back("truth/" + w.client + "-" + w.name + "-client.jsonl");
            }
            if (w.type == WorkloadType::http) {
                truth.push_back("truth/" + w.server + "-" + w.name + "-server.jsonl");
                start_nginx(w);
            } else if (w.listen) {
                const std::string server_truth = truth_path(w, true);
                (w.mptcp() && w.server_mptcp ? mptcp_truth : truth).push_back(server_truth);
                auto argv = in_netns(w.server);
                // Idle longer than any silence the path can cause (budget.hpp),
                // so a healthy connection is never aborted by its own server.
                const int64_t idle =
                    std::max<int64_t>({w.user_timeout_ns, 3'000'000'000, silence_ns(w.name)}) +
                    2'000'000'000;
                argv.insert(argv.end(),
                            {"workload", "serve", "--listen", endpoint(w.server_addr, w.port),
                             "--truth", dir_ / server_truth, "--host", w.server, "--workload",
                             w.name, "--idle-timeout", secs(idle)});
                if (w.mptcp() && w.server_mptcp) argv.push_back("--mptcp");
                if (!w.congestion.empty()) argv.insert(argv.end(), {"--congestion", w.congestion});
                auto c = std::make_unique<Child>("server " + w.name, argv, log("server-" + w.name));
                servers_.push_back(std::move(c));
            }
            json wj = {{"name", w.name},
                       {"type", workload_type_name(w.type)},
                       {"client", w.client},
                       {"server", w.server},
                       {"server_addr", w.server_addr},
                       {"port", w.port},
                       {"connections", w.connections},
                       {"expect", w.expect},
                       {"truth", truth}};
            if (w.mptcp()) {
                wj["protocol"] = "mptcp";
                wj["server_mptcp"] = w.server_mptcp;
                wj["mptcp_truth"] = mptcp_truth;
            }
            wls.push_back(wj);
        }
        for (auto& s : servers_) s->wait_for("ready", 10s);
        for (auto& h : http_) wait_nginx_ready(h, 10s);
        for (auto& d : dns_) d->wait_ready(10s);
        warm_neighbours();

        std::vector<Pending> clients;
        for (const Workload& w : x_.workloads) clients.push_back({&w, {}});
        struct Change {
            int64_t at;
            std::string link, dir, spec;
        };
        std::vector<Change> changes;
        for (const Link& l : x_.links)
            for (const auto& ch : l.changes) {
                if (ch.a_to_b) changes.push_back({ch.at_ns, l.name, "ab", *ch.a_to_b});
                if (ch.b_to_a) changes.push_back({ch.at_ns, l.name, "ba", *ch.b_to_a});
            }
        std::stable_sort(changes.begin(), changes.end(),
                         [](const Change& a, const Change& b) { return a.at < b.at; });
        size_t next_change = 0;

        progress_.step("workloads start, budget " + secs(deadline_ns_) +
                       (budget_.from_file ? " (the file's timeout)" : " (derived)"));
        const int64_t t0 = now_ns();
        manifest_["t_start_ns"] = t0;
        json applied = json::array();
        size_t done = 0;
        double last_print = mono_s();
        while (done < clients.size()) {
            check_interrupt();
            const int64_t t = now_ns() - t0;
            for (auto& p : clients) {
                if (p.started || t < p.w->start_ns) continue;
                const Workload& w = *p.w;
                if (w.type == WorkloadType::http) {
                    const auto abs = ab_argvs(w);
                    for (size_t k = 0; k < abs.size(); ++k) {
                        std::vector<std::string> argv = {"ip", "netns", "exec",
                                                         naming_.netns(w.client)};
                        argv.insert(argv.end(), abs[k].begin(), abs[k].end());
                        const std::string tag = w.name + (k ? "-" + std::to_string(k) : "");
                        p.cs.push_back(
                            std::make_unique<Child>("client " + tag, argv, log("client-" + tag)));
                    }
                    p.started = true;
                    continue;
                }
                if (w.type == WorkloadType::dns) {
                    // Through `ip netns exec`: it bind-mounts the client's resolv.conf.
                    auto argv = in_netns(w.client);
                    argv.push_back("workload");
                    const auto args = dns_client_args(w, dir_ / dns_truth_path(w, false));
                    argv.insert(argv.end(), args.begin(), args.end());
                    p.cs.push_back(
                        std::make_unique<Child>("client " + w.name, argv, log("client-" + w.name)));
                    p.started = true;
                    continue;
                }
                auto argv = in_netns(w.client);
                argv.insert(
                    argv.end(),
                    {"workload",
                     "client",
                     "--connect",
                     endpoint(w.server_addr, w.port),
                     "--type",
                     workload_type_name(w.type),
                     "--truth",
                     dir_ / truth_path(w, false),
                     "--host",
                     w.client,
                     "--workload",
                     w.name,
                     "--connections",
                     std::to_string(w.connections),
                     "--concurrency",
                     std::to_string(w.concurrency),
                     "--bytes",
                     std::to_string(w.bytes),
                     "--direction",
                     w.direction,
                     "--request",
                     std::to_string(w.request),
                     "--response",
                     std::to_string(w.response),
                     "--requests",
                     std::to_string(w.requests),
                     "--expect",
                     w.expect,
                     "--connect-timeout",
                     secs(w.connect_timeout_ns),
                     "--idle-timeout",
                     secs(std::max<int64_t>(30'000'000'000, silence_ns(w.name) + 2'000'000'000))});
                // Without a user timeout of its own, a connection may stay
                // silent as long as its path plausibly makes it (budget.hpp).
                argv.insert(argv.end(),
                            {"--user-timeout",
                             secs(w.user_timeout_ns > 0
                                      ? w.user_timeout_ns
                                      : std::max<int64_t>(3'000'000'000,
                                                          silence_ns(w.name) + 2'000'000'000))});
                if (!w.congestion.empty()) argv.insert(argv.end(), {"--congestion", w.congestion});
                if (w.mptcp()) argv.push_back("--mptcp");
                p.cs.push_back(
                    std::make_unique<Child>("client " + w.name, argv, log("client-" + w.name)));
                p.started = true;
            }
            for (size_t k = 0; k < x_.mptcp_endpoints.size(); ++k) {
                const MptcpEndpoint& e = x_.mptcp_endpoints[k];
                if (e.remove_at_ns && t >= *e.remove_at_ns && !endpoints_removed_.count(k)) {
                    endpoints_removed_.insert(k);
                    // When asked and when done: under load the command can
                    // take most of a second (seen: 0.8 s).
                    manifest_["mptcp"]["endpoints"][k]["remove_requested_ns"] = now_ns();
                    must({"ip", "-n", naming_.netns(e.host), "mptcp", "endpoint", "delete", "id",
                          std::to_string(e.id)});
                    manifest_["mptcp"]["endpoints"][k]["removed_ns"] = now_ns();
                }
                if (!e.at_ns || t < *e.at_ns || endpoints_added_.count(k)) continue;
                endpoints_added_.insert(k);
                manifest_["mptcp"]["endpoints"][k]["add_requested_ns"] = now_ns();
                must(endpoint_add_argv(e));
                manifest_["mptcp"]["endpoints"][k]["added_ns"] = now_ns();
            }
            while (next_change < changes.size() && t >= changes[next_change].at) {
                const Change& ch = changes[next_change++];
                const std::string reply =
                    impair::control_request(controls_.at(ch.link), "set " + ch.dir + " " + ch.spec);
                if (reply != "ok")
                    throw std::runtime_error("link " + ch.link + ": change refused: " + reply);
                applied.push_back(
                    {{"link", ch.link}, {"dir", ch.dir}, {"spec", ch.spec}, {"at_ns", now_ns()}});
            }
            done = 0;
            for (auto& p : clients) {
                if (p.started && !p.done &&
                    std::none_of(p.cs.begin(), p.cs.end(), [](auto& c) { return c->running(); })) {
                    p.done = true;
                    bool ok = true;
                    for (auto& c : p.cs)
                        if (c->exit_status() != 0) {
                            ok = false;
                            problems.push_back("workload " + p.w->name + ": " + c->name() +
                                               " exited with " + std::to_string(c->exit_status()) +
                                               ": " + last_line(c->output_tail(600)));
                        }
                    if (ok && p.w->type == WorkloadType::http) check_ab(*p.w, p.cs, problems);
                }
                done += p.done;
            }
            if (t > deadline_ns_) {
                abort_overdue(clients, problems);
                break;
            }
            if (mono_s() - last_print > 2) {
                last_print = mono_s();
                progress_.step("workloads " + std::to_string(done) + "/" +
                               std::to_string(clients.size()));
            }
            std::this_thread::sleep_for(20ms);
        }
        manifest_["changes_applied"] = applied;
        manifest_["workloads"] = wls;
        progress_.step("workloads");
    }

    static std::string last_line(std::string s) {
        while (!s.empty() && s.back() == '\n') s.pop_back();
        const auto p = s.rfind('\n');
        return p == std::string::npos ? s : s.substr(p + 1);
    }

    void stop_all(std::vector<std::string>& problems) {
        if (stopped_) return;
        stopped_ = true;
        // Servers finish their connections (TERM), then the agents see the
        // last transitions and flush (INT), then captures and links write
        // their files (INT).
        for (auto& s : servers_) {
            const int st = s->stop(SIGTERM, 8s);
            if (st != 0) problems.push_back(s->name() + " exited with " + std::to_string(st));
        }
        // nginx: SIGQUIT is its graceful shutdown (finish, flush the log).
        for (auto& h : http_) {
            const int st = h.nginx->stop(SIGQUIT, 8s);
            if (st != 0) problems.push_back(h.nginx->name() + " exited with " + std::to_string(st));
        }
        for (auto& d : dns_)
            for (const auto& p : d->stop()) problems.push_back(p);
        wait_connections_closed();
        for (auto& a : agents_) {
            const int st = a->stop(SIGINT, 15s);
            if (st != 0) problems.push_back(a->name() + " exited with " + std::to_string(st));
        }
        check_stored(problems);
        for (auto& m : monitors_) m->stop();
        for (auto& c : captures_) {
            const int st = c->stop(SIGINT, 10s);
            if (st != 0) problems.push_back(c->name() + " exited with " + std::to_string(st));
        }
        for (auto& l : links_) {
            const int st = l->stop(SIGINT, 10s);
            if (st != 0) problems.push_back(l->name() + " exited with " + std::to_string(st));
        }
        manifest_["t_end_ns"] = now_ns();
        for (const auto& [name, path] : controls_) ::unlink(path.c_str());
    }

    // Every record an agent exported is in the store before the repetition
    // counts as recorded: "lost" is computed, never assumed.
    void check_stored(std::vector<std::string>& problems) {
        const std::string db = dir_.parent_path().parent_path() / "profiles.sqlite";
        json acks = json::object();
        size_t k = 0;
        for (const Node& n : x_.nodes) {
            if (!n.agent || k >= agents_.size()) continue;
            const Child& a = *agents_[k++];
            const auto exported = exported_at_exit(a.output_tail(4000));
            if (!exported) {
                problems.push_back(a.name() + ": no exit line with its exported record count");
                continue;
            }
            const uint64_t stored = wait_stored(db, domains_.at(n.name), *exported, 10s);
            acks[n.name] = {{"exported", *exported}, {"stored", stored}};
            if (stored != *exported)
                problems.push_back(a.name() + ": exported " + std::to_string(*exported) +
                                   " records, the collector stored " + std::to_string(stored));
        }
        manifest_["collector_acknowledged"] = acks;
    }

    // TCP sockets of the agents' hosts that still have a transition to come
    // (not listening, not in TIME_WAIT: the agent saw their close already).
    std::vector<std::string> open_connections() const {
        std::vector<std::string> open;
        for (const Node& n : x_.nodes) {
            if (!n.agent) continue;
            const auto r =
                impair::run_cmd({"ip", "netns", "exec", naming_.netns(n.name), "ss", "-Htano"});
            std::istringstream in(r.output);
            for (std::string line; std::getline(in, line);) {
                std::istringstream words(line);
                std::string state;
                words >> state;
                if (state.empty() || state == "LISTEN" || state == "TIME-WAIT" ||
                    state == "SYN-RECV" || (backing_off(line) && on_dead_path(line)))
                    continue;
                open.push_back(n.name + ": " + line);
            }
        }
        return open;
    }

    // A socket retransmitting ("timer:(on,...,N)", N RTOs in a row) into a
    // path that died has no transition coming before TCP gives up: not waited
    // for. On a merely lossy path it has (a FIN resent through a loss burst).
    static bool backing_off(const std::string& ss_line) {
        const auto p = ss_line.find("timer:(on,");
        if (p == std::string::npos) return false;
        const auto comma = ss_line.find(',', p + 10);
        return comma != std::string::npos && std::atoi(ss_line.c_str() + comma + 1) >= 2;
    }

    // Whether the socket (ss's local and peer address:port) belongs to a
    // workload a dead path may carry (budget.hpp).
    bool on_dead_path(const std::string& ss_line) const {
        std::istringstream words(ss_line);
        std::string state, rq, sq, local, peer;
        words >> state >> rq >> sq >> local >> peer;
        const auto port_of = [](const std::string& ep) {
            const auto c = ep.rfind(':');
            return c == std::string::npos ? 0 : std::atoi(ep.c_str() + c + 1);
        };
        for (const Workload& w : x_.workloads) {
            if (port_of(local) != w.port && port_of(peer) != w.port) continue;
            for (const auto& wb : budget_.workloads)
                if (wb.workload == w.name && wb.dead_path) return true;
        }
        return false;
    }

    // Stop the agents only once every connection has made its last
    // transition, instead of sleeping and hoping it did.
    // Bounded by the longest silence a live path plausibly causes (a last
    // FIN resent through a loss burst), at least 10 s.
    void wait_connections_closed() {
        double timeout_s = 10;
        for (const auto& wb : budget_.workloads)
            if (!wb.dead_path) timeout_s = std::max(timeout_s, wb.silence_s + 2);
        const double t0 = mono_s();
        std::vector<std::string> open = open_connections();
        while (!open.empty() && mono_s() - t0 < timeout_s) {
            std::this_thread::sleep_for(50ms);
            open = open_connections();
        }
        manifest_["connections_closed_wait_s"] = mono_s() - t0;
        if (!open.empty()) manifest_["connections_open_at_agent_stop"] = open;
    }

    void analyse_captures(std::vector<std::string>& problems) {
        for (const auto& stem : capture_stems_) {
            check_interrupt();
            const auto pcap = dir_ / "captures" / (stem + ".pcap");
            const auto out = dir_ / "captures" / (stem + ".json");
            const auto r = impair::run_cmd({fc(), "analyse-pcap", pcap, "-o", out, "--name", stem});
            if (r.status != 0)
                problems.push_back("analyse-pcap " + stem + " failed: " + last_line(r.output));
        }
        if (!capture_stems_.empty()) progress_.step("analysis");
    }

    struct HttpServer {
        const Workload* w;
        HttpPaths paths;
        std::unique_ptr<Child> nginx;
        std::optional<uint64_t> ab_complete;  // ab's "Complete requests"
    };

    HttpServer* http_server(const Workload& w) {
        for (auto& h : http_)
            if (h.w == &w) return &h;
        return nullptr;
    }

    // nginx in the server's namespace, configured from the repetition's
    // directory (nothing of the system's /etc/nginx is read).
    void start_nginx(const Workload& w) {
        HttpServer h{&w, {}, nullptr, std::nullopt};
        h.paths.dir = fs::absolute(dir_ / "http" / w.name);
        h.paths.error_log = fs::absolute(dir_ / "logs" / ("nginx-" + w.name + "-error.log"));
        fs::create_directories(h.paths.root());
        fs::create_directories(h.paths.temp());
        {
            std::ofstream body(h.paths.root() + "/" + http_file_name(w), std::ios::binary);
            const std::string chunk(64 * 1024, 'x');
            for (uint64_t left = w.response; left > 0;) {
                const uint64_t n = std::min<uint64_t>(left, chunk.size());
                body.write(chunk.data(), static_cast<std::streamsize>(n));
                left -= n;
            }
            std::ofstream(h.paths.conf()) << nginx_config(w, h.paths);
            if (!body) throw std::runtime_error("cannot write " + h.paths.root());
        }
        h.nginx = std::make_unique<Child>(
            "nginx " + w.name,
            std::vector<std::string>{"ip", "netns", "exec", naming_.netns(w.server),
                                     "/usr/sbin/nginx", "-p", h.paths.dir, "-e", h.paths.error_log,
                                     "-c", h.paths.conf()},
            log("server-" + w.name));
        http_.push_back(std::move(h));
    }

    // Ready once the pid file is written and the socket listens (checked
    // with ss, not a connection: the agent would see that connection).
    void wait_nginx_ready(HttpServer& h, std::chrono::milliseconds timeout) {
        const auto end = std::chrono::steady_clock::now() + timeout;
        const std::string port = std::to_string(h.w->port);
        for (;;) {
            check_interrupt();
            if (!h.nginx->running())
                throw std::runtime_error(h.nginx->name() + " exited with " +
                                         std::to_string(h.nginx->exit_status()) +
                                         " while starting; see " + h.paths.error_log + ": " +
                                         last_line(tail_of(h.paths.error_log)));
            if (fs::exists(h.paths.pid_file())) {
                const auto r = impair::run_cmd({"ip", "netns", "exec", naming_.netns(h.w->server),
                                                "ss", "-Hltn", "sport = :" + port});
                if (r.status == 0 && r.output.find(":" + port) != std::string::npos) return;
            }
            if (std::chrono::steady_clock::now() >= end)
                throw std::runtime_error(h.nginx->name() + " does not listen on " +
                                         endpoint(h.w->server_addr, h.w->port) + " after " +
                                         std::to_string(timeout.count()) + " ms; see " +
                                         h.paths.error_log);
            std::this_thread::sleep_for(50ms);
        }
    }

    // ab's connect() calls are not timed, so a client's first RTT sample
    // must not include address resolution: one ping resolves the neighbours
    // (ICMP: no connection for the agents) before the workloads start.
    void warm_neighbours() {
        std::set<std::pair<std::string, std::string>> done;
        std::vector<const Workload*> ws;
        for (const auto& h : http_) ws.push_back(h.w);
        // DNS too: a lookup's time should not hold neighbour resolution.
        for (const auto& d : dns_) ws.push_back(&d->workload());
        for (const Workload* w : ws) {
            if (!done.insert({w->client, w->server_addr}).second) continue;
            impair::run_cmd({"ip", "netns", "exec", naming_.netns(w->client), "ping", "-c", "1",
                             "-W", "2", w->server_addr});
        }
    }

    // The ab processes' summaries, added up.
    void check_ab(const Workload& w, const std::vector<std::unique_ptr<Child>>& abs,
                  std::vector<std::string>& problems) {
        AbSummary s{0, 0, 0};
        for (const auto& c : abs) {
            const AbSummary one = parse_ab_output(c->output_tail(1 << 16));
            if (!one.complete) s.complete.reset();
            if (s.complete) *s.complete += *one.complete;
            *s.failed += one.failed.value_or(0);
            *s.non_2xx += one.non_2xx.value_or(0);
        }
        if (auto* h = http_server(w)) h->ab_complete = s.complete;
        if (!s.complete)
            problems.push_back("workload " + w.name + ": ab printed no \"Complete requests\"");
        else if (*s.complete != w.connections)
            problems.push_back("workload " + w.name + ": ab completed " +
                               std::to_string(*s.complete) + " of " +
                               std::to_string(w.connections) + " requests");
        if (s.failed && *s.failed > 0)
            problems.push_back("workload " + w.name + ": ab reports " + std::to_string(*s.failed) +
                               " failed requests");
        if (s.non_2xx && *s.non_2xx > 0)
            problems.push_back("workload " + w.name + ": ab reports " + std::to_string(*s.non_2xx) +
                               " non-2xx responses");
    }

    static std::string tail_of(const std::string& path) {
        std::ifstream in(path);
        std::string text((std::istreambuf_iterator<char>(in)), {});
        return text.size() > 600 ? text.substr(text.size() - 600) : text;
    }

    // After nginx stopped (its log is complete): access log -> truth of both sides.
    void write_http_truth(std::vector<std::string>& problems) {
        for (const auto& h : http_) {
            const Workload& w = *h.w;
            std::ifstream in(h.paths.access_log());
            if (!in) {
                problems.push_back("workload " + w.name + ": no access log " +
                                   h.paths.access_log());
                continue;
            }
            const std::string text((std::istreambuf_iterator<char>(in)), {});
            HttpTruth t;
            try {
                t = access_log_to_truth(text, w);
            } catch (const std::exception& e) {
                problems.push_back("workload " + w.name + ": " + h.paths.access_log() + ": " +
                                   e.what());
                continue;
            }
            for (const auto& p : t.problems) problems.push_back("workload " + w.name + ": " + p);
            if (h.ab_complete && *h.ab_complete != t.server.size())
                problems.push_back("workload " + w.name + ": ab completed " +
                                   std::to_string(*h.ab_complete) + " requests but nginx logged " +
                                   std::to_string(t.server.size()));
            std::ofstream so(dir_ / "truth" / (w.server + "-" + w.name + "-server.jsonl"));
            for (const auto& l : t.server) so << l << "\n";
            std::ofstream co(dir_ / "truth" / (w.client + "-" + w.name + "-client.jsonl"));
            for (const auto& l : t.client) co << l << "\n";
        }
    }

    // After dnsmasq stopped (its log is flushed): the server's truth, and the
    // client's checked for completeness.
    void write_dns_truth(std::vector<std::string>& problems) {
        const int64_t now_s = now_ns() / 1'000'000'000;
        for (const auto& d : dns_) {
            const Workload& w = d->workload();
            size_t lookups = 0;
            {
                std::ifstream in(dir_ / dns_truth_path(w, false));
                for (std::string line; std::getline(in, line);)
                    if (line.find_first_not_of(" \t") != std::string::npos) ++lookups;
            }
            if (lookups != w.lookups)
                problems.push_back("workload " + w.name + ": " + std::to_string(lookups) + " of " +
                                   std::to_string(w.lookups) + " lookups in " +
                                   dns_truth_path(w, false));
            if (!w.listen) continue;
            DnsmasqTruth t;
            try {
                t = d->truth(now_s);
            } catch (const std::exception& e) {
                problems.push_back("workload " + w.name + ": " + d->paths().log() + ": " +
                                   e.what());
                continue;
            }
            for (const auto& p : t.problems)
                problems.push_back("workload " + w.name + ": " + d->paths().log() + ": " + p);
            if (lookups > 0 && t.queries.empty())
                problems.push_back("workload " + w.name + ": dnsmasq logged no query");
            std::ofstream out(dir_ / dns_truth_path(w, true));
            for (const auto& q : t.queries) out << q.dump() << "\n";
        }
    }

    void write_manifest() { std::ofstream(dir_ / "manifest.json") << manifest_.dump(2) << "\n"; }

    void teardown() {
        dns_.clear();  // dnsmasq stopped, /etc/netns/<client>/ removed
        if (builder_) builder_->teardown();
    }

    const RunOptions& o_;
    const Experiment& x_;
    uint32_t rep_;
    fs::path dir_;
    uint16_t collector_port_;
    uint32_t& next_domain_;
    Progress progress_;
    Naming naming_;
    uint64_t seed_;
    json manifest_;
    std::unique_ptr<TopologyBuilder> builder_;
    std::map<std::string, uint32_t> domains_;
    std::map<std::string, std::string> controls_;
    std::vector<std::string> capture_stems_;
    // Declared in start order: destroyed (stopped) in reverse.
    std::vector<std::unique_ptr<Child>> links_, captures_, agents_, servers_;
    std::vector<HttpServer> http_;  // after servers_: stopped first
    std::vector<std::unique_ptr<DnsServer>> dns_;
    std::vector<std::unique_ptr<MptcpMonitor>> monitors_;
    std::set<size_t> endpoints_added_, endpoints_removed_;
    bool stopped_ = false;
    Budget budget_;
    int64_t deadline_ns_ = 0;
};

}  // namespace

std::vector<std::string> default_suite(const std::string& source_dir) {
    std::vector<std::string> files;
    for (const char* sub : {"experiments/tcp", "experiments/dns", "experiments/mptcp"}) {
        fs::path dir = sub;
        if (!fs::is_directory(dir)) dir = fs::path(source_dir) / sub;
        std::vector<std::string> here;
        if (fs::is_directory(dir))
            for (const auto& e : fs::directory_iterator(dir))
                if (e.path().extension() == ".toml") here.push_back(e.path());
        std::sort(here.begin(), here.end());
        files.insert(files.end(), here.begin(), here.end());
    }
    return files;
}

int run_experiments(const RunOptions& o) {
    const auto files = o.files.empty() ? default_suite(o.source_dir) : o.files;
    if (files.empty()) {
        std::fprintf(stderr,
                     "flowcorder run: no experiment files (looked for experiments/tcp/ and "
                     "experiments/dns/)\n");
        return 2;
    }
    // Parse everything before starting anything.
    std::vector<Experiment> xs;
    std::map<std::string, std::string> seen;
    for (const auto& f : files) {
        try {
            xs.push_back(parse_experiment_file(f));
        } catch (const ExperimentError& e) {
            std::fprintf(stderr, "flowcorder run: %s\n", e.what());
            return 2;
        }
        auto [it, fresh] = seen.emplace(xs.back().name, f);
        if (!fresh) {
            std::fprintf(stderr, "flowcorder run: %s: experiment name '%s' is also used by %s\n",
                         f.c_str(), xs.back().name.c_str(), it->second.c_str());
            return 2;
        }
    }
    if (o.builder == "mininet" && access("/usr/bin/python3", X_OK) != 0) {
        std::fprintf(stderr, "flowcorder run: the Mininet builder needs /usr/bin/python3\n");
        return 2;
    }
    if (const pid_t other = other_run(); other > 0) {
        std::fprintf(stderr,
                     "flowcorder run: another flowcorder run (pid %d) is running; two runs on "
                     "one machine would disturb each other's measurements. Wait for it, or stop "
                     "it (kill -INT %d).\n",
                     other, other);
        return 3;
    }
    if (const auto left = leftover_namespaces(); !left.empty()) {
        std::fprintf(stderr,
                     "flowcorder run: an earlier run left %zu network namespace(s) behind (%s%s).\n"
                     "Remove them with:  %s clean\n",
                     left.size(), left[0].c_str(), left.size() > 1 ? ", ..." : "",
                     o.flowcorder.c_str());
        return 3;
    }

    struct sigaction sa {};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
    signal(SIGPIPE, SIG_IGN);

    char stamp[32];
    const std::time_t tt = std::time(nullptr);
    std::strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", std::gmtime(&tt));
    const std::string run_id =
        o.run_id.empty() ? std::string(stamp) + "-" + random_tag() : o.run_id;
    const fs::path run_dir = fs::path(o.results_dir) / run_id;
    if (fs::exists(run_dir)) {
        std::fprintf(stderr, "flowcorder run: %s exists already\n", run_dir.c_str());
        return 2;
    }
    fs::create_directories(run_dir / "experiments");
    for (const auto& f : files)
        fs::copy_file(f, run_dir / "experiments" / fs::path(f).filename(),
                      fs::copy_options::overwrite_existing);
    std::ofstream(run_dir / "environment.json") << environment(o).dump(2) << "\n";
    std::error_code ec;
    fs::remove(fs::path(o.results_dir) / "latest", ec);
    fs::create_directory_symlink(run_id, fs::path(o.results_dir) / "latest", ec);

    uint32_t reps = 0;
    for (const auto& x : xs) reps += x.repetitions;
    std::printf("flowcorder run: %zu experiment(s), %u repetition(s), builder %s -> %s\n",
                xs.size(), reps, o.builder.c_str(), run_dir.c_str());
    std::fflush(stdout);

    const double t_start = mono_s();
    std::vector<std::string> problems;
    int status = 0;
    try {
        const uint16_t port = common::free_loopback_port(SOCK_STREAM);
        const std::string p = std::to_string(port);
        Child collector(
            "collector",
            {o.flowcorder, "collect", "--listen", "tcp://127.0.0.1:" + p + ",udp://127.0.0.1:" + p,
             "--db", run_dir / "profiles.sqlite"},
            run_dir / "collector.log");
        collector.wait_for("listening", 10s);
        uint32_t next_domain = 1, k = 0;
        for (const auto& x : xs) {
            for (uint32_t rep = 0; rep < x.repetitions; ++rep) {
                check_interrupt();
                ++k;
                char prefix[160];
                std::snprintf(prefix, sizeof prefix, "[%u/%u] %-28s rep %u/%u", k, reps,
                              x.name.c_str(), rep + 1, x.repetitions);
                const fs::path dir = run_dir / x.name / ("rep-" + std::to_string(rep));
                try {
                    Repetition r(o, x, rep, dir, port, next_domain, prefix);
                    for (const auto& pr : r.run()) problems.push_back(x.name + ": " + pr);
                } catch (const Interrupted&) {
                    throw;
                } catch (const std::exception& e) {
                    problems.push_back(x.name + " rep " + std::to_string(rep) + ": " + e.what());
                    std::printf("%s FAILED: %s\n", prefix, e.what());
                }
            }
        }
        collector.stop(SIGINT, 15s);
    } catch (const Interrupted&) {
        std::fprintf(stderr, "\nflowcorder run: interrupted; everything it started is removed\n");
        return 130;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "flowcorder run: %s\n", e.what());
        return 1;
    }
    std::printf("flowcorder run: experiments done in %.1f s\n", mono_s() - t_start);
    if (!problems.empty()) {
        status = 1;
        std::printf("\nproblems while running (%zu):\n", problems.size());
        for (const auto& p : problems) std::printf("  - %s\n", p.c_str());
        std::ofstream pf(run_dir / "problems.txt");
        for (const auto& p : problems) pf << p << "\n";
    }
    if (o.validate) {
        std::fflush(stdout);
        std::vector<std::string> argv = {o.flowcorder, "validate", run_dir};
        // The default suite is meant to cover every KPI group of the design.
        if (o.files.empty()) argv.push_back("--require-coverage");
        const int v = common::run_to_end(argv);
        if (v != 0) status = v == 1 ? 1 : v;
    }
    std::printf("\nrun directory: %s (%s)\n", run_dir.c_str(),
                status == 0 ? "all verdicts pass" : "FAILED");
    return status;
}

}  // namespace fc::harness
