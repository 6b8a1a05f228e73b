#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "budget.hpp"
#include "common/process.hpp"
#include "dns_workload.hpp"
#include "experiment.hpp"
#include "http_workload.hpp"
#include "impair/sys.hpp"
#include "mptcp_monitor.hpp"
#include "repetition.hpp"
#include "store_check.hpp"
#include "topology.hpp"

namespace fs = std::filesystem;
using json = nlohmann::json;
using namespace std::chrono_literals;

namespace fc::harness {

void Repetition::start_observers() {
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
            monitors_.push_back(std::make_unique<MptcpMonitor>(naming_.netns(n.name), dir_ / rel,
                                                               log("mptcp-monitor-" + n.name)));
            mon[n.name] = rel;
        }
        manifest_["mptcp_monitor"] = mon;
        std::this_thread::sleep_for(200ms);  // subscribed before the servers listen
    }
    progress_.step("observers");
}

bool Repetition::corrupts() const {
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

bool Repetition::has_dns() const {
    return std::any_of(x_.workloads.begin(), x_.workloads.end(),
                       [](const Workload& w) { return w.type == WorkloadType::dns; });
}

std::string Repetition::last_line(std::string s) {
    while (!s.empty() && s.back() == '\n') s.pop_back();
    const auto p = s.rfind('\n');
    return p == std::string::npos ? s : s.substr(p + 1);
}

void Repetition::stop_all(std::vector<std::string>& problems) {
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

void Repetition::check_stored(std::vector<std::string>& problems) {
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

std::vector<std::string> Repetition::open_connections() const {
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
            if (state.empty() || state == "LISTEN" || state == "TIME-WAIT" || state == "SYN-RECV" ||
                (backing_off(line) && on_dead_path(line)))
                continue;
            open.push_back(n.name + ": " + line);
        }
    }
    return open;
}

bool Repetition::backing_off(const std::string& ss_line) {
    const auto p = ss_line.find("timer:(on,");
    if (p == std::string::npos) return false;
    const auto comma = ss_line.find(',', p + 10);
    return comma != std::string::npos && std::atoi(ss_line.c_str() + comma + 1) >= 2;
}

bool Repetition::on_dead_path(const std::string& ss_line) const {
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

void Repetition::wait_connections_closed() {
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

void Repetition::analyse_captures(std::vector<std::string>& problems) {
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

std::string Repetition::tail_of(const std::string& path) {
    std::ifstream in(path);
    std::string text((std::istreambuf_iterator<char>(in)), {});
    return text.size() > 600 ? text.substr(text.size() - 600) : text;
}

}  // namespace fc::harness
