#include <signal.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <thread>

#include "budget.hpp"
#include "common/process.hpp"
#include "dns_workload.hpp"
#include "experiment.hpp"
#include "http_workload.hpp"
#include "impair/runner.hpp"
#include "impair/sys.hpp"
#include "mptcp_monitor.hpp"
#include "repetition.hpp"
#include "topology.hpp"

namespace fs = std::filesystem;
using json = nlohmann::json;
using namespace std::chrono_literals;

namespace fc::harness {

std::string Repetition::dns_truth_path(const Workload& w, bool server) const {
    return "truth/" + (server ? w.server + "-" + w.name + "-dnsmasq.jsonl"
                              : w.client + "-" + w.name + "-dns.jsonl");
}

std::string Repetition::truth_path(const Workload& w, bool server) const {
    const bool mptcp = w.mptcp() && (!server || w.server_mptcp);
    return "truth/" + (server ? w.server : w.client) + "-" + w.name +
           (server ? "-server" : "-client") + (mptcp ? "-mptcp" : "") + ".jsonl";
}

std::vector<std::string> Repetition::in_netns(const std::string& node) const {
    return {"ip", "netns", "exec", naming_.netns(node), fc()};
}

int64_t Repetition::silence_ns(const std::string& workload) const {
    for (const auto& wb : budget_.workloads)
        if (wb.workload == workload) return static_cast<int64_t>(wb.silence_s * 1e9);
    return 0;
}

void Repetition::abort_overdue(std::vector<Pending>& clients, std::vector<std::string>& problems) {
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
            "workload " + p.w->name + ": still running after its budget of " + secs(deadline_ns_) +
            (budget_.from_file ? " (the experiment's timeout)" : " (derived: " + why + ")") +
            "; aborted, its open connections recorded as aborted");
    }
    for (Child* c : overdue) ::kill(c->pid(), SIGTERM);
    for (Child* c : overdue) c->stop(SIGTERM, 10s);  // SIGKILL after 10 s
}

void Repetition::run_workloads(std::vector<std::string>& problems) {
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
            dns_.push_back(std::make_unique<DnsServer>(w, naming_.netns(w.server),
                                                       naming_.netns(w.client),
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
                         "--truth", dir_ / server_truth, "--host", w.server, "--workload", w.name,
                         "--idle-timeout", secs(idle)});
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
            argv.insert(
                argv.end(),
                {"--user-timeout",
                 secs(w.user_timeout_ns > 0
                          ? w.user_timeout_ns
                          : std::max<int64_t>(3'000'000'000, silence_ns(w.name) + 2'000'000'000))});
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

Repetition::HttpServer* Repetition::http_server(const Workload& w) {
    for (auto& h : http_)
        if (h.w == &w) return &h;
    return nullptr;
}

void Repetition::start_nginx(const Workload& w) {
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
        std::vector<std::string>{"ip", "netns", "exec", naming_.netns(w.server), "/usr/sbin/nginx",
                                 "-p", h.paths.dir, "-e", h.paths.error_log, "-c", h.paths.conf()},
        log("server-" + w.name));
    http_.push_back(std::move(h));
}

void Repetition::wait_nginx_ready(HttpServer& h, std::chrono::milliseconds timeout) {
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
            const auto r = impair::run_cmd({"ip", "netns", "exec", naming_.netns(h.w->server), "ss",
                                            "-Hltn", "sport = :" + port});
            if (r.status == 0 && r.output.find(":" + port) != std::string::npos) return;
        }
        if (std::chrono::steady_clock::now() >= end)
            throw std::runtime_error(
                h.nginx->name() + " does not listen on " + endpoint(h.w->server_addr, h.w->port) +
                " after " + std::to_string(timeout.count()) + " ms; see " + h.paths.error_log);
        std::this_thread::sleep_for(50ms);
    }
}

void Repetition::warm_neighbours() {
    std::set<std::pair<std::string, std::string>> done;
    std::vector<const Workload*> ws;
    for (const auto& h : http_) ws.push_back(h.w);
    // DNS too: a lookup's time should not hold neighbour resolution.
    for (const auto& d : dns_) ws.push_back(&d->workload());
    for (const Workload* w : ws) {
        if (!done.insert({w->client, w->server_addr}).second) continue;
        impair::run_cmd({"ip", "netns", "exec", naming_.netns(w->client), "ping", "-c", "1", "-W",
                         "2", w->server_addr});
    }
}

void Repetition::check_ab(const Workload& w, const std::vector<std::unique_ptr<Child>>& abs,
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
        problems.push_back("workload " + w.name + ": ab completed " + std::to_string(*s.complete) +
                           " of " + std::to_string(w.connections) + " requests");
    if (s.failed && *s.failed > 0)
        problems.push_back("workload " + w.name + ": ab reports " + std::to_string(*s.failed) +
                           " failed requests");
    if (s.non_2xx && *s.non_2xx > 0)
        problems.push_back("workload " + w.name + ": ab reports " + std::to_string(*s.non_2xx) +
                           " non-2xx responses");
}

void Repetition::write_http_truth(std::vector<std::string>& problems) {
    for (const auto& h : http_) {
        const Workload& w = *h.w;
        std::ifstream in(h.paths.access_log());
        if (!in) {
            problems.push_back("workload " + w.name + ": no access log " + h.paths.access_log());
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

void Repetition::write_dns_truth(std::vector<std::string>& problems) {
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
            problems.push_back("workload " + w.name + ": " + d->paths().log() + ": " + e.what());
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

}  // namespace fc::harness
