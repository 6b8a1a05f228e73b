// The shrinker: every candidate parses and is smaller than what it came from,
// a removed router leaves a routed path, greedy shrinking keeps what makes
// the failure; and the TOML it writes back means what the file meant. Also
// how `flowcorder explore` reads a run's verdicts.
#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "draw.hpp"
#include "experiment.hpp"
#include "explore.hpp"
#include "shrink.hpp"
#include "toml_text.hpp"

using namespace fc::explore;
using fc::harness::Experiment;
using fc::harness::parse_experiment_text;

namespace {

Experiment parse(const std::string& text) { return parse_experiment_text(text, "test.toml"); }

// What shrinking makes smaller; a candidate grows none and shrinks one.
struct Size {
    size_t workloads = 0, links = 0, terms = 0;
    double numbers = 0;
};

Size size_of(const Experiment& x) {
    Size s;
    s.workloads = x.workloads.size();
    s.links = x.links.size();
    for (const auto& l : x.links)
        s.terms += netem_terms(l.a_to_b).size() + netem_terms(l.b_to_a).size();
    for (const auto& w : x.workloads) {
        s.numbers += w.connections + w.requests + w.lookups;
        if (w.type == fc::harness::WorkloadType::bulk) s.numbers += static_cast<double>(w.bytes);
        if (w.type == fc::harness::WorkloadType::rr || w.type == fc::harness::WorkloadType::http)
            s.numbers += static_cast<double>(w.response);
    }
    return s;
}

bool in_prefix(const std::string& addr, const std::string& cidr) {
    const auto slash = cidr.find('/');
    const std::string net = cidr.substr(0, slash);
    const int len = slash == std::string::npos ? -1 : std::stoi(cidr.substr(slash + 1));
    const bool v6 = addr.find(':') != std::string::npos;
    if (v6 != (net.find(':') != std::string::npos) || len < 0) return false;
    unsigned char a[16], b[16];
    if (inet_pton(v6 ? AF_INET6 : AF_INET, addr.c_str(), a) != 1 ||
        inet_pton(v6 ? AF_INET6 : AF_INET, net.c_str(), b) != 1)
        return false;
    for (int bit = 0; bit < len; ++bit)
        if (((a[bit / 8] ^ b[bit / 8]) >> (7 - bit % 8)) & 1) return false;
    return true;
}

std::string strip(const std::string& cidr) { return cidr.substr(0, cidr.find('/')); }

// The node holding `addr` on one of `node`'s links (itself or a neighbour).
std::string on_link_of(const Experiment& x, const std::string& node, const std::string& addr) {
    for (const auto& l : x.links) {
        if (l.a != node && l.b != node) continue;
        for (const auto* side : {&l.a_addr, &l.b_addr})
            for (const auto& c : *side)
                if (strip(c) == addr) return side == &l.a_addr ? l.a : l.b;
    }
    return "";
}

bool on_a_subnet_of(const Experiment& x, const std::string& node, const std::string& addr) {
    for (const auto& l : x.links)
        if (l.a == node || l.b == node)
            for (const auto* side : {&l.a_addr, &l.b_addr})
                for (const auto& c : *side)
                    if (in_prefix(addr, c)) return true;
    return false;
}

// Follows the routes hop by hop as the kernel would; "" if a packet for
// `addr` from `from` arrives at the node holding it, else why not.
std::string route_problem(const Experiment& x, const std::string& from, const std::string& addr) {
    std::string at = from;
    for (int hop = 0; hop < 8; ++hop) {
        if (!on_link_of(x, at, addr).empty() || on_a_subnet_of(x, at, addr)) {
            const std::string owner = on_link_of(x, at, addr);
            return owner.empty() ? at + ": " + addr + " is on its subnet but nobody has it" : "";
        }
        const bool v6 = addr.find(':') != std::string::npos;
        const fc::harness::Route* best = nullptr;
        int best_len = -1;
        for (const auto& r : x.routes) {
            if (r.node != at) continue;
            int len = -1;
            if (r.to == (v6 ? "default6" : "default")) len = 0;
            if (r.to.find('/') != std::string::npos && in_prefix(addr, r.to))
                len = std::stoi(r.to.substr(r.to.find('/') + 1));
            if (len > best_len) best = &r, best_len = len;
        }
        if (!best) return at + ": no route to " + addr;
        const std::string next = on_link_of(x, at, best->via);
        if (next.empty() || next == at) return at + ": gateway " + best->via + " is no neighbour";
        at = next;
    }
    return "routing loop towards " + addr;
}

// Every route's gateway is a neighbour's address, and every workload's
// client reaches its server and back.
void expect_routed(const Experiment& x, const std::string& context) {
    for (const auto& r : x.routes)
        if (!r.via.empty()) {
            const std::string gw = on_link_of(x, r.node, r.via);
            EXPECT_TRUE(!gw.empty() && gw != r.node)
                << context << ": " << r.node << " via " << r.via << " is not a neighbour";
        }
    for (const auto& w : x.workloads) {
        EXPECT_EQ(route_problem(x, w.client, w.server_addr), "") << context;
        const bool v6 = w.server_addr.find(':') != std::string::npos;
        for (const auto& l : x.links) {
            if (l.a != w.client && l.b != w.client) continue;
            for (const auto& c : l.a == w.client ? l.a_addr : l.b_addr) {
                if ((c.find(':') != std::string::npos) != v6) continue;
                EXPECT_EQ(route_problem(x, w.server, strip(c)), "") << context << " (back)";
            }
        }
    }
}

// A drawn line topology with at least `links` links, `workloads` workloads and `word` in it.
std::string find_drawn(size_t links, size_t workloads, const std::string& word) {
    for (uint64_t s = 0; s < 5000; ++s) {
        const std::string text = draw_experiment(s, "explore-" + std::to_string(s));
        const Experiment x = parse(text);
        if (!x.has_mptcp() && x.links.size() >= links && x.workloads.size() >= workloads &&
            text.find(word) != std::string::npos)
            return text;
    }
    ADD_FAILURE() << "no seed draws " << links << " links, " << workloads << " workloads, " << word;
    return "";
}

}  // namespace

TEST(Shrink, NetemSpecsSplitIntoTerms) {
    const auto t = netem_terms(
        "delay 10ms 2ms distribution normal loss gemodel 1% 30% 50% 0.05% reorder 10% 50% gap 3 "
        "duplicate 1% corrupt 0.5% rate 20mbit limit 50");
    std::vector<std::string> kinds;
    for (const auto& x : t) kinds.push_back(x.kind);
    EXPECT_EQ(kinds, (std::vector<std::string>{"delay", "distribution", "loss gemodel", "reorder",
                                               "duplicate", "corrupt", "rate", "limit"}));
    EXPECT_EQ(t[3].text, "reorder 10% 50% gap 3");
    EXPECT_EQ(netem_terms("loss 1%")[0].kind, "loss random");
    EXPECT_TRUE(netem_terms("").empty());
}

TEST(Shrink, CandidatesParseAndAreSmaller) {
    size_t checked = 0;
    for (uint64_t s = 0; s < 80; ++s) {
        const std::string text = draw_experiment(s, "explore-" + std::to_string(s));
        const Size before = size_of(parse(text));
        for (const auto& c : shrink_candidates(text)) {
            Experiment x;
            ASSERT_NO_THROW(x = parse(c)) << c;
            const Size after = size_of(x);
            EXPECT_TRUE(after.workloads <= before.workloads && after.links <= before.links &&
                        after.terms <= before.terms && after.numbers <= before.numbers)
                << "seed " << s << " grew:\n"
                << c;
            EXPECT_TRUE(after.workloads < before.workloads || after.links < before.links ||
                        after.terms < before.terms || after.numbers < before.numbers)
                << "seed " << s << " is no smaller:\n"
                << c;
            ++checked;
        }
    }
    EXPECT_GT(checked, 500u);
}

TEST(Shrink, DroppingADelayDropsWhatNeedsIt) {
    const std::string text = find_drawn(1, 1, "reorder");
    for (const auto& step : shrink_steps(text)) {
        if (step.what.find("'delay") == std::string::npos) continue;
        for (const auto& l : parse(step.text).links)
            for (const auto* spec : {&l.a_to_b, &l.b_to_a})
                if (spec->find("delay") == std::string::npos) {
                    EXPECT_EQ(spec->find("reorder"), std::string::npos) << *spec;
                    EXPECT_EQ(spec->find("distribution"), std::string::npos) << *spec;
                }
    }
}

TEST(Shrink, DrawnTopologiesAreRouted) {
    for (uint64_t s = 0; s < 400; ++s) {
        const Experiment x = parse(draw_experiment(s, "explore-" + std::to_string(s)));
        expect_routed(x, "seed " + std::to_string(s));
    }
}

TEST(Shrink, RemovingARouterKeepsThePathRouted) {
    size_t removals = 0;
    for (uint64_t s = 0; s < 300; ++s) {
        const std::string text = draw_experiment(s, "explore-" + std::to_string(s));
        const Experiment x = parse(text);
        if (x.links.size() < 2 || x.has_mptcp()) continue;
        for (const auto& step : shrink_steps(text)) {
            if (step.what.rfind("remove router", 0) != 0) continue;
            const Experiment y = parse(step.text);
            EXPECT_EQ(y.links.size(), x.links.size() - 1);
            expect_routed(y, "seed " + std::to_string(s) + ", " + step.what);
            ++removals;
        }
    }
    EXPECT_GT(removals, 50u);
}

// l3 is written server-first, so its impairments turn around on the merged link.
TEST(Shrink, RemovingARouterCanKeepTheOtherLinksImpairments) {
    const std::string text = R"(
[experiment]
name = "x"
[[host]]
name = "client"
[[router]]
name = "r1"
[[host]]
name = "server"
[[link]]
name = "l1"
a = "client"
b = "r1"
a_addr = ["198.18.1.1/24"]
b_addr = ["198.18.1.2/24"]
[[link]]
name = "l2"
a = "server"
b = "r1"
a_addr = ["198.18.2.2/24"]
b_addr = ["198.18.2.1/24"]
a_to_b = "delay 7ms"
[[link.change]]
at = "1s"
b_to_a = "loss random 100%"
[[route]]
host = "client"
to = "default"
via = "198.18.1.2"
[[route]]
host = "server"
to = "default"
via = "198.18.2.1"
[[workload]]
name = "w"
type = "bulk"
client = "client"
server = "server"
server_addr = "198.18.2.2"
port = 5001
)";
    std::vector<Experiment> removed;
    for (const auto& step : shrink_steps(text))
        if (step.what.rfind("remove router", 0) == 0) removed.push_back(parse(step.text));
    ASSERT_EQ(removed.size(), 2u);
    for (const auto& y : removed) {
        ASSERT_EQ(y.links.size(), 1u);
        EXPECT_EQ(y.links[0].b, "server");
        EXPECT_EQ(y.workloads[0].server_addr, "198.18.1.2");  // r1's address, now the server's
        EXPECT_TRUE(y.routes.empty());                        // nothing left to route through
        expect_routed(y, "spliced");
    }
    EXPECT_EQ(removed[0].links[0].a_to_b, "");
    const auto& taken = removed[1].links[0];
    EXPECT_EQ(taken.b_to_a, "delay 7ms");  // server -> client, as on l2
    ASSERT_EQ(taken.changes.size(), 1u);
    EXPECT_EQ(taken.changes[0].a_to_b.value_or(""), "loss random 100%");
}

TEST(Shrink, GreedyShrinkingKeepsWhatMakesTheFailure) {
    const std::string text = find_drawn(2, 2, "corrupt");
    int calls = 0;
    const std::string minimal = shrink(
        text,
        [&](const std::string& t) {
            ++calls;
            return t.find("corrupt") != std::string::npos;
        },
        5000);
    const Experiment x = parse(minimal);
    EXPECT_EQ(x.workloads.size(), 1u) << minimal;
    EXPECT_EQ(x.links.size(), 1u) << minimal;
    std::vector<NetemTerm> terms;
    for (const auto& l : x.links)
        for (const auto* spec : {&l.a_to_b, &l.b_to_a})
            for (const auto& t : netem_terms(*spec)) terms.push_back(t);
    ASSERT_EQ(terms.size(), 1u) << minimal;
    EXPECT_EQ(terms[0].kind, "corrupt");
    EXPECT_LT(calls, 5000);
    expect_routed(x, "shrunk");
}

TEST(Shrink, ShrinkingStopsAtTheBudget) {
    const std::string text = find_drawn(2, 2, "delay");
    int calls = 0;
    auto never = [&](const std::string&) { return ++calls, false; };
    EXPECT_EQ(shrink(text, never, 3), text);
    EXPECT_EQ(calls, 3);
    calls = 0;
    std::vector<std::string> kept;
    const std::string three = shrink(
        text, [&](const std::string&) { return ++calls, true; }, 3,
        [&](const ShrinkStep& s, bool fails) { kept.push_back(fails ? s.what : ""); });
    EXPECT_EQ(calls, 3);
    ASSERT_EQ(kept.size(), 3u);
    EXPECT_EQ(kept[0].rfind("drop workload", 0), 0u);
    EXPECT_LT(size_of(parse(three)).workloads + size_of(parse(three)).terms,
              size_of(parse(text)).workloads + size_of(parse(text)).terms);
}

TEST(Shrink, LinkChangesAndMptcpSettingsSurviveOtherSteps) {
    const std::string path = std::string(FC_SOURCE_DIR) + "/experiments/tcp/path-failure.toml";
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    for (const auto& c : shrink_candidates(s.str())) {
        const Experiment x = parse(c);
        for (const auto& l : x.links) EXPECT_TRUE(l.name != "l1" || !l.changes.empty()) << c;
    }
    for (uint64_t seed = 0; seed < 200; ++seed) {
        const std::string text = draw_experiment(seed, "explore-" + std::to_string(seed));
        if (!parse(text).has_mptcp()) continue;
        for (const auto& c : shrink_candidates(text)) {
            const Experiment x = parse(c);
            EXPECT_TRUE(!x.has_mptcp() || (!x.mptcp_endpoints.empty() && !x.mptcp_limits.empty()))
                << c;
        }
    }
}

// Every experiment of the repository written back means the same.
TEST(TomlText, WrittenBackExperimentsMeanTheSame) {
    size_t files = 0;
    for (const auto& e : std::filesystem::recursive_directory_iterator(std::string(FC_SOURCE_DIR) +
                                                                       "/experiments")) {
        if (e.path().extension() != ".toml") continue;
        const toml::table original = toml::parse_file(e.path().string());
        const std::string text = format_experiment(original);
        EXPECT_EQ(toml::parse(text), original) << e.path() << "\n" << text;
        EXPECT_NO_THROW(parse(text)) << e.path();
        ++files;
    }
    EXPECT_GT(files, 20u);
    const toml::table odd = toml::parse(
        "x = 1.5\n[tolerance]\n\"a/b\" = { abs = 1e-3, rel = 0.15 }\n[experiment]\n"
        "name = \"q\\\"uote\\n\"\n");
    EXPECT_EQ(toml::parse(format_experiment(odd)), odd) << format_experiment(odd);
}

TEST(ExploreResults, FailingVerdictsPerExperiment) {
    const std::string csv =
        "experiment,protocol,kpi,truth_source,compared,within_tolerance,median_abs_error,"
        "p95_abs_error,verdict,tolerance,note\n"
        "explore-1,tcp,close_cause,workload,12,10,0,1,fail,exact,\"2 outside, see\"\n"
        "explore-1,tcp,bytes_acked,tcp_info,12,12,0,0,pass,exact,\n"
        "explore-2,tcp,profile_chain,workload,0,0,0,0,fail,exact,no comparisons\n";
    const auto f = failures_of(csv, "explore-3 rep 0: boom\nexplore-3: workload w: late\n");
    ASSERT_EQ(f.size(), 3u);
    ASSERT_EQ(f.at("explore-1").size(), 1u);
    EXPECT_EQ(f.at("explore-1")[0].kpi, "close_cause");
    EXPECT_EQ(f.at("explore-1")[0].source, "workload");
    EXPECT_EQ(f.at("explore-1")[0].compared, 12);
    EXPECT_EQ(f.at("explore-1")[0].within, 10);
    EXPECT_EQ(f.at("explore-2")[0].kpi, "profile_chain");
    ASSERT_EQ(f.at("explore-3").size(), 1u);  // one per experiment
    EXPECT_EQ(f.at("explore-3")[0].kpi, "run_problems");
    EXPECT_TRUE(failures_of("", "").empty());
    EXPECT_THROW(failures_of("experiment,kpi\nx,y\n", ""), std::runtime_error);
}

TEST(ExploreResults, ConnectionsAreCountedOnce) {
    const std::string details =
        "experiment,repetition,protocol,host,workload,conn,role,agent_connection,kpi,"
        "truth_source,exported,true,abs_error,within_tolerance,note\n"
        "e,0,tcp,client,bulk1,0,client,1:2,bytes_acked,tcp_info,1,1,0,1,\n"
        "e,0,tcp,server,bulk1,0,server,2:2,bytes_acked,tcp_info,1,1,0,1,\n"
        "e,0,tcp,client,bulk1,1,client,1:3,bytes_acked,tcp_info,1,1,0,1,\n"
        "e,0,tcp,client,bulk1,-1,client,1:9,orphan_profiles,workload,1,0,1,0,\n"
        "e,0,dns,client,dns2,4,client,1:7,dns_outcome,workload,0,0,0,1,\n";
    const Compared c = compared_of(details);
    EXPECT_EQ(c.connections, 2u);
    EXPECT_EQ(c.lookups, 1u);
}

TEST(ExploreResults, ShardsSplitTheSeeds) {
    unsigned k = 0, n = 0;
    EXPECT_EQ(parse_shard("2/4", k, n), "");
    EXPECT_EQ(k, 2u);
    EXPECT_EQ(n, 4u);
    for (const char* bad : {"0/4", "5/4", "2", "/4", "2/", "a/b", "2/4/1", "-1/4", ""})
        EXPECT_NE(parse_shard(bad, k, n), "") << bad;
    ExploreOptions o;
    o.seed = 100;
    o.count = 10;
    o.shard_k = 2;
    o.shard_n = 3;
    EXPECT_EQ(shard_seeds(o), (std::vector<uint64_t>{101, 104, 107}));
    std::set<uint64_t> all;
    for (unsigned s = 1; s <= 3; ++s) {
        o.shard_k = s;
        for (auto x : shard_seeds(o)) EXPECT_TRUE(all.insert(x).second);
    }
    EXPECT_EQ(all.size(), 10u);
}
