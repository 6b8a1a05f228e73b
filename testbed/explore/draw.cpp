#include "draw.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <random>

#include "budget.hpp"
#include "experiment.hpp"
#include "toml_text.hpp"

namespace fc::explore {

namespace {

// Numbers from raw 64-bit draws by our own arithmetic: std::uniform_*
// differ between standard libraries, and a seed must mean one experiment.
class Dice {
  public:
    explicit Dice(uint64_t seed) : g_(seed) {}
    double uniform() { return static_cast<double>(g_() >> 11) * 0x1.0p-53; }
    double between(double lo, double hi) { return lo + (hi - lo) * uniform(); }
    // Sizes spread over orders of magnitude.
    double log_between(double lo, double hi) { return lo * std::pow(hi / lo, uniform()); }
    int64_t integer(int64_t lo, int64_t hi) {
        return lo + static_cast<int64_t>(uniform() * static_cast<double>(hi - lo + 1));
    }
    bool chance(double p) { return uniform() < p; }
    size_t pick(const std::vector<double>& weights) {
        double total = 0;
        for (double w : weights) total += w;
        double x = uniform() * total;
        for (size_t i = 0; i < weights.size(); ++i) {
            if (x < weights[i]) return i;
            x -= weights[i];
        }
        return weights.size() - 1;
    }

  private:
    std::mt19937_64 g_;
};

std::string fmt(const char* format, double v) {
    char b[64];
    std::snprintf(b, sizeof b, format, v);
    return b;
}

// "4MB", "50kB" or plain bytes: what a person would write.
void insert_size(toml::table& t, const char* key, uint64_t v) {
    if (v >= 1000000 && v % 1000000 == 0)
        t.insert(key, std::to_string(v / 1000000) + "MB");
    else if (v >= 1000 && v % 1000 == 0)
        t.insert(key, std::to_string(v / 1000) + "kB");
    else
        t.insert(key, static_cast<int64_t>(v));
}

uint64_t round_to(double v, uint64_t step) {
    return std::max<uint64_t>(step, static_cast<uint64_t>(std::llround(v / step)) * step);
}

// One direction's netem specification. At most one heavy term per scenario
// (long delay, >2 % loss, bursts, a slow rate...), so that workloads finish.
struct SpecDraw {
    std::string spec;
    bool drops = false;  // some term loses packets (loss, corrupt, a rate's queue)
};

SpecDraw draw_spec(Dice& d, bool& heavy_left) {
    auto heavy = [&](double p) {
        const bool h = heavy_left && d.chance(p);
        if (h) heavy_left = false;
        return h;
    };
    std::vector<std::string> terms;
    SpecDraw out;
    const bool delay = d.chance(0.55);
    if (delay) {
        const int64_t ms = heavy(0.15) ? d.integer(25, 60) : d.integer(1, 20);
        std::string t = "delay " + std::to_string(ms) + "ms";
        if (ms >= 2 && d.chance(0.5)) {
            t += " " + std::to_string(d.integer(1, std::max<int64_t>(1, ms / 4))) + "ms";
            static const char* kDist[] = {"normal", "pareto", "paretonormal"};
            if (d.chance(0.35)) t += std::string(" distribution ") + kDist[d.integer(0, 2)];
        }
        terms.push_back(t);
    }
    if (d.chance(0.35)) {
        out.drops = true;
        if (d.chance(0.65)) {
            const double p = heavy(0.3) ? d.between(2.0, 5.0) : d.between(0.1, 2.0);
            terms.push_back("loss random " + fmt("%.1f%%", p));
        } else {
            const double p = heavy(0.5) ? d.between(1.0, 2.0) : d.between(0.5, 1.0);
            terms.push_back(
                "loss gemodel " + fmt("%.1f%%", p) + " " + fmt("%.0f%%", d.between(20, 60)) + " " +
                fmt("%.0f%%", d.between(30, 70)) + " " + fmt("%.2f%%", d.between(0, 0.1)));
        }
    }
    if (delay && d.chance(0.25))
        terms.push_back("reorder " + std::to_string(d.integer(5, 25)) + "% 50%");
    if (d.chance(0.15)) {
        const double p = heavy(0.3) ? d.between(3.0, 5.0) : d.between(0.5, 3.0);
        terms.push_back("duplicate " + fmt("%.1f%%", p));
    }
    if (d.chance(0.15)) {
        out.drops = true;
        const double p = heavy(0.3) ? d.between(1.0, 2.0) : d.between(0.1, 1.0);
        terms.push_back("corrupt " + fmt("%.1f%%", p));
    }
    if (d.chance(0.2)) {
        out.drops = true;  // the queue's tail drops
        const int64_t mbit = heavy(0.3) ? d.integer(5, 19) : d.integer(20, 200);
        terms.push_back("rate " + std::to_string(mbit) + "mbit limit " +
                        std::to_string(d.integer(50, 2000)));
    }
    if (terms.empty()) terms.push_back("delay " + std::to_string(d.integer(1, 10)) + "ms");
    for (const auto& t : terms) out.spec += (out.spec.empty() ? "" : " ") + t;
    return out;
}

// One workload as drawn, before it becomes a [[workload]] table.
struct Load {
    std::string name, type, protocol = "tcp", server_addr, direction = "up", family = "any";
    std::string congestion, expect = "mixed";
    int64_t port = 0, connections = 1, concurrency = 1, requests = 1, lookups = 1;
    int64_t attempts = 2, interval_ms = 50, request = 100;
    uint64_t bytes = 0, response = 0;
    std::vector<std::string> names, servfail;
};

toml::array strings(const std::vector<std::string>& v) {
    toml::array a;
    for (const auto& s : v) a.push_back(s);
    return a;
}

toml::table to_table(const Load& w) {
    toml::table t{{"name", w.name},
                  {"type", w.type},
                  {"client", "client"},
                  {"server", "server"},
                  {"server_addr", w.server_addr}};
    if (w.protocol != "tcp") t.insert("protocol", w.protocol);
    if (w.type == "dns") {
        t.insert("names", strings(w.names));
        if (!w.servfail.empty()) t.insert("servfail", strings(w.servfail));
        t.insert("lookups", w.lookups);
        t.insert("family", w.family);
        t.insert("resolver_timeout", "1s");
        t.insert("resolver_attempts", w.attempts);
        t.insert("interval", std::to_string(w.interval_ms) + "ms");
        t.insert("expect", w.expect);
        return t;
    }
    t.insert("port", w.port);
    t.insert("connections", w.connections);
    t.insert("concurrency", w.concurrency);
    if (w.type == "bulk") {
        insert_size(t, "bytes", w.bytes);
        t.insert("direction", w.direction);
    }
    if (w.type == "rr") {
        t.insert("request", w.request);
        insert_size(t, "response", w.response);
        t.insert("requests", w.requests);
    }
    if (w.type == "http") insert_size(t, "response", w.response);
    if (!w.congestion.empty() && congestion_supported(w.congestion))
        t.insert("congestion", w.congestion);
    return t;
}

void draw_sizes(Dice& d, Load& w, bool mptcp) {
    if (w.type == "bulk") {
        w.bytes = mptcp ? round_to(d.log_between(1e6, 6e6), 100000)
                        : round_to(d.log_between(200e3, 4e6), 10000);
        w.connections = d.integer(1, mptcp ? 2 : 3);
        w.concurrency = d.integer(1, std::min<int64_t>(2, w.connections));
        w.direction = d.chance(0.5) ? "up" : "down";
    } else if (w.type == "rr") {
        w.request = d.integer(100, 2000);
        w.response = round_to(d.log_between(1e3, 50e3), 100);
        w.requests = d.integer(2, 10);
        w.connections = d.integer(1, 4);
        w.concurrency = d.integer(1, std::min<int64_t>(2, w.connections));
    } else if (w.type == "churn") {
        w.connections = d.integer(5, mptcp ? 15 : 30);
        w.concurrency = d.integer(1, 4);
    } else if (w.type == "http") {
        w.connections = d.integer(2, 10);
        w.concurrency = d.integer(1, std::min<int64_t>(4, w.connections));
        w.response = round_to(d.log_between(1e3, 200e3), 100);
    }
    if (!mptcp && w.type != "http" && d.chance(0.6)) {
        static const char* kCc[] = {"reno", "bbr", "cubic"};
        w.congestion = kCc[d.integer(0, 2)];
    }
}

// The fc.test zone (testbed/workload/dns_zone.cpp): answers, an AAAA only, a
// TXT only (NODATA), missing names (NXDOMAIN) and one the server fails.
void draw_dns(Dice& d, Load& w, bool lossy) {
    std::vector<std::string> pool = {
        "a.fc.test",     "aaaa.fc.test",
        "both.fc.test",  "txt-only.fc.test",
        "nx.fc.test",    "missing" + std::to_string(d.integer(1, 99)) + ".fc.test",
        "broken.fc.test"};
    for (size_t i = pool.size() - 1; i > 0; --i)
        std::swap(pool[i], pool[static_cast<size_t>(d.integer(0, static_cast<int64_t>(i)))]);
    pool.resize(static_cast<size_t>(d.integer(1, 4)));
    w.names = pool;
    for (const auto& n : w.names)
        if (n == "broken.fc.test") w.servfail = {n};
    static const char* kFamily[] = {"any", "4", "6"};
    w.family = kFamily[d.pick({0.5, 0.25, 0.25})];
    w.lookups = d.integer(4, 20);
    w.attempts = d.integer(2, 3);
    w.interval_ms = d.integer(20, 100);
    // A lost query may end a lookup in a timeout: then no outcome is "wrong".
    w.expect = lossy ? "any" : "mixed";
}

// Halves what dominates a workload's run time; false when nothing is left to halve.
bool scale_down(Load& w) {
    auto halve = [](auto& v, auto floor) {
        if (v / 2 < floor) return false;
        v /= 2;
        return true;
    };
    bool done = false;
    if (w.type == "bulk") done = halve(w.bytes, 100000u) || halve(w.connections, 1);
    if (w.type == "rr")
        done = halve(w.requests, 2) || halve(w.response, 1000u) || halve(w.connections, 1);
    if (w.type == "churn") done = halve(w.connections, 2);
    if (w.type == "http") done = halve(w.connections, 2) || halve(w.response, 1000u);
    if (w.type == "dns") done = halve(w.lookups, 2);
    w.concurrency = std::min(w.concurrency, w.connections);
    return done;
}

toml::array addrs(int link, int host) {
    return toml::array{"198.18." + std::to_string(link) + "." + std::to_string(host) + "/24",
                       "fd00:fc:" + std::to_string(link) + "::" + std::to_string(host) + "/64"};
}

toml::table route(const std::string& host, const std::string& to, const std::string& via) {
    return toml::table{{"host", host}, {"to", to}, {"via", via}};
}

// client - r1 - r2 - server: link k joins node k-1 (address .1/::1) and node
// k (.2/::2) on 198.18.k.0/24 and fd00:fc:k::/64. Hosts route by default
// through their router; each router to the subnets beyond its neighbours.
void draw_line(toml::table& root, int routers) {
    std::vector<std::string> seq = {"client"};
    toml::array router_tables, links, routes;
    for (int r = 1; r <= routers; ++r) {
        seq.push_back("r" + std::to_string(r));
        router_tables.push_back(toml::table{{"name", seq.back()}});
    }
    seq.push_back("server");
    const int n_links = routers + 1;
    for (int k = 1; k <= n_links; ++k)
        links.push_back(toml::table{{"name", "l" + std::to_string(k)},
                                    {"a", seq[k - 1]},
                                    {"b", seq[k]},
                                    {"a_addr", addrs(k, 1)},
                                    {"b_addr", addrs(k, 2)}});
    auto v4 = [](int k, int h) { return "198.18." + std::to_string(k) + "." + std::to_string(h); };
    auto v6 = [](int k, int h) {
        return "fd00:fc:" + std::to_string(k) + "::" + std::to_string(h);
    };
    if (routers > 0) {
        routes.push_back(route("client", "default", v4(1, 2)));
        routes.push_back(route("client", "default6", v6(1, 2)));
        routes.push_back(route("server", "default", v4(n_links, 1)));
        routes.push_back(route("server", "default6", v6(n_links, 1)));
    }
    for (int r = 1; r <= routers; ++r) {  // router r sits on links r and r+1
        for (int k = 1; k <= n_links; ++k) {
            if (k == r || k == r + 1) continue;
            const int via_link = k < r ? r : r + 1, via_host = k < r ? 1 : 2;
            routes.push_back(
                route(seq[r], "198.18." + std::to_string(k) + ".0/24", v4(via_link, via_host)));
            routes.push_back(
                route(seq[r], "fd00:fc:" + std::to_string(k) + "::/64", v6(via_link, via_host)));
        }
    }
    if (!router_tables.empty()) root.insert("router", std::move(router_tables));
    root.insert("link", std::move(links));
    if (!routes.empty()) root.insert("route", std::move(routes));
}

// Impairs some link directions; returns whether the client-server path drops packets.
bool impair_links(Dice& d, toml::array& links, bool capture_all) {
    std::vector<size_t> dirs;
    for (size_t i = 0; i < links.size() * 2; ++i) dirs.push_back(i);
    const size_t want = std::min(dirs.size(), d.pick({0.1, 0.5, 0.35, 0.05}));
    bool heavy_left = true, drops = false;
    std::vector<std::string> specs(dirs.size());
    for (size_t n = 0; n < want; ++n) {
        const size_t at = static_cast<size_t>(d.integer(0, static_cast<int64_t>(dirs.size()) - 1));
        const SpecDraw s = draw_spec(d, heavy_left);
        specs[dirs[at]] = s.spec;
        drops |= s.drops;
        dirs.erase(dirs.begin() + static_cast<std::ptrdiff_t>(at));
    }
    for (size_t i = 0; i < links.size(); ++i) {
        auto& l = *links[i].as_table();
        // The client's link is always captured (pcap truth), MPTCP's paths both (the joins).
        const bool impaired =
            i == 0 || capture_all || !specs[2 * i].empty() || !specs[2 * i + 1].empty();
        if (!impaired) continue;
        l.insert("impaired", true);
        l.insert("a_to_b", specs[2 * i]);
        l.insert("b_to_a", specs[2 * i + 1]);
    }
    return drops;
}

// Two paths between client and server (experiments/mptcp/): path 1 carries
// the handshake, the client's endpoint on path 2 opens the second subflow,
// sometimes only later or only until some time.
void draw_mptcp(Dice& d, toml::table& root) {
    toml::array links;
    for (int k = 1; k <= 2; ++k)
        links.push_back(toml::table{{"name", "l" + std::to_string(k)},
                                    {"a", "client"},
                                    {"b", "server"},
                                    {"a_addr", toml::array{addrs(k, 1)[0]}},
                                    {"b_addr", toml::array{addrs(k, 2)[0]}}});
    root.insert("link", std::move(links));
    toml::array limits;
    for (const char* h : {"client", "server"})
        limits.push_back(toml::table{{"host", h}, {"subflows", 2}, {"add_addr_accepted", 2}});
    root.insert("mptcp_limits", std::move(limits));
    toml::table ep{{"host", "client"}, {"addr", "198.18.2.1"}, {"flags", toml::array{"subflow"}}};
    const size_t when = d.pick({0.5, 0.25, 0.25});
    if (when == 1) ep.insert("at", fmt("%.1fs", d.between(0.3, 1.5)));
    if (when == 2) {
        ep.insert("id", 2);
        ep.insert("remove_at", fmt("%.1fs", d.between(0.5, 1.5)));
    }
    root.insert("mptcp_endpoint", toml::array{std::move(ep)});
}

}  // namespace

bool congestion_supported(const std::string& algorithm) {
    static std::map<std::string, bool> known;
    if (auto it = known.find(algorithm); it != known.end()) return it->second;
    const std::string probe =
        "[experiment]\nname = \"probe\"\n[[host]]\nname = \"c\"\n[[host]]\nname = \"s\"\n"
        "[[link]]\nname = \"l1\"\na = \"c\"\nb = \"s\"\na_addr = [\"198.18.1.1/24\"]\n"
        "b_addr = [\"198.18.1.2/24\"]\n[[workload]]\nname = \"w\"\ntype = \"bulk\"\n"
        "client = \"c\"\nserver = \"s\"\nserver_addr = \"198.18.1.2\"\nport = 5001\n"
        "congestion = \"" +
        algorithm + "\"\n";
    bool ok = true;
    try {
        harness::parse_experiment_text(probe, "congestion-probe");
    } catch (const harness::ExperimentError&) {
        ok = false;
    }
    return known[algorithm] = ok;
}

std::string draw_experiment(uint64_t seed, const std::string& name) {
    Dice d(seed);
    toml::table root;
    // TOML integers are signed: the top bit of a seed does not fit.
    root.insert("experiment", toml::table{{"name", name},
                                          {"description", ""},
                                          {"seed", static_cast<int64_t>(seed & INT64_MAX)}});
    root.insert("host", toml::array{toml::table{{"name", "client"}, {"agent", true}},
                                    toml::table{{"name", "server"}, {"agent", true}}});
    const bool mptcp = d.chance(0.15);
    if (mptcp)
        draw_mptcp(d, root);
    else
        draw_line(root, static_cast<int>(d.pick({0.4, 0.35, 0.25})));
    const bool lossy = impair_links(d, *root["link"].as_array(), mptcp);
    const int last_link = static_cast<int>(root["link"].as_array()->size());

    std::vector<Load> loads;
    const size_t n =
        1 + d.pick(mptcp ? std::vector<double>{0.65, 0.35} : std::vector<double>{0.4, 0.35, 0.25});
    std::vector<double> weights = {0.3, 0.2, 0.15, 0.15, 0.2};  // bulk rr churn http dns
    static const char* kTypes[] = {"bulk", "rr", "churn", "http", "dns"};
    for (size_t i = 0; i < n; ++i) {
        Load w;
        if (mptcp) {
            w.type = kTypes[d.pick({0.6, 0.2, 0.2})];
            if (i == 0 || d.chance(0.5)) w.protocol = "mptcp";
            w.server_addr = "198.18.1.2";  // path 1
        } else {
            w.type = kTypes[d.pick(weights)];
            if (w.type == "dns") weights[4] = 0;  // one resolv.conf per client
            const bool v6 = d.chance(0.5);
            w.server_addr = v6 ? "fd00:fc:" + std::to_string(last_link) + "::2"
                               : "198.18." + std::to_string(last_link) + ".2";
        }
        w.name = w.type + std::to_string(i + 1);
        w.port = (w.type == "http" ? 8080 : 5001) + static_cast<int64_t>(i);
        if (w.type == "dns")
            draw_dns(d, w, lossy);
        else
            draw_sizes(d, w, w.protocol == "mptcp");
        loads.push_back(w);
    }

    // Fit the run time: halve what the harness's own estimate says runs long.
    constexpr double kTargetS = 4.0;
    std::string text;
    for (int round = 0; round < 24; ++round) {
        toml::array tables;
        for (const auto& w : loads) tables.push_back(to_table(w));
        root.insert_or_assign("workload", std::move(tables));
        (*root["experiment"].as_table()).insert_or_assign("description", describe_experiment(root));
        text = format_experiment(root);
        const auto budget = harness::derive_budget(harness::parse_experiment_text(text, name));
        bool changed = false;
        for (size_t i = 0; i < loads.size(); ++i)
            if (budget.workloads[i].expected_s > kTargetS) changed |= scale_down(loads[i]);
        if (!changed) break;
    }
    return "# Drawn by flowcorder explore; `flowcorder explore --print " + std::to_string(seed) +
           "` shows it again.\n" + text;
}

}  // namespace fc::explore
