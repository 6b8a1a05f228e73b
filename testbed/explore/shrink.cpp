#include "shrink.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <set>
#include <sstream>

#include "common/units.hpp"
#include "experiment.hpp"
#include "toml_text.hpp"

namespace fc::explore {

namespace {

// ---- Editing experiments -------------------------------------------------

std::string str_of(const toml::node* n) { return n ? n->value_or(std::string()) : std::string(); }
std::string str_of(const toml::table& t, const std::string& key) { return str_of(t.get(key)); }

std::vector<std::string> strings_of(const toml::table& t, const std::string& key) {
    std::vector<std::string> out;
    if (const auto* a = t.get(key) ? t.get(key)->as_array() : nullptr)
        for (const auto& e : *a) out.push_back(e.value_or(std::string()));
    else if (t.contains(key))
        out.push_back(str_of(t, key));
    return out;
}

std::string without_prefix(const std::string& cidr) { return cidr.substr(0, cidr.find('/')); }
bool is_v6(const std::string& addr) { return addr.find(':') != std::string::npos; }

// "198.18.3.7/24" -> "198.18.3.0/24"; "" for anything else ("default").
std::string network_of(const std::string& cidr) {
    const auto slash = cidr.find('/');
    if (slash == std::string::npos) return "";
    const std::string addr = cidr.substr(0, slash);
    const int len = std::atoi(cidr.c_str() + slash + 1);
    const int af = is_v6(addr) ? AF_INET6 : AF_INET;
    unsigned char b[16] = {};
    if (inet_pton(af, addr.c_str(), b) != 1) return "";
    const int bytes = af == AF_INET6 ? 16 : 4;
    for (int i = 0; i < bytes; ++i) {
        const int keep = std::clamp(len - 8 * i, 0, 8);
        b[i] &= static_cast<unsigned char>(0xff00 >> keep);
    }
    char out[INET6_ADDRSTRLEN];
    inet_ntop(af, b, out, sizeof out);
    return std::string(out) + "/" + std::to_string(len);
}

bool link_impaired(const toml::table& l) {
    if (const auto v = l["impaired"].value<bool>()) return *v;
    return !str_of(l, "a_to_b").empty() || !str_of(l, "b_to_a").empty() || l.contains("change");
}

// A link keeps going through the engine (and being captured) when its
// impairments are shrunk: the failure may need the capture's truth.
void set_spec(toml::table& link, const std::string& dir, const std::string& spec) {
    if (link_impaired(link)) link.insert_or_assign("impaired", true);
    link.insert_or_assign(dir, spec);
}

bool needs(const std::string& kind, const std::string& needed) {
    return (needed == "delay" && (kind == "distribution" || kind == "reorder" || kind == "gap")) ||
           (needed == "reorder" && kind == "gap");
}

// "4MB", "50kB" or plain bytes: what a person would write.
void set_size(toml::table& t, const char* key, uint64_t v) {
    if (v >= 1000000 && v % 1000000 == 0)
        t.insert_or_assign(key, std::to_string(v / 1000000) + "MB");
    else if (v >= 1000 && v % 1000 == 0)
        t.insert_or_assign(key, std::to_string(v / 1000) + "kB");
    else
        t.insert_or_assign(key, static_cast<int64_t>(v));
}

class Steps {
  public:
    explicit Steps(const toml::table& original) { seen_.insert(normalised(original)); }
    // Keeps the variant if it parses and is new.
    void add(toml::table t, const std::string& what) {
        try {
            harness::parse_experiment_text(format_experiment(t), "shrink-candidate");
        } catch (const std::exception&) {
            return;
        }
        const std::string text = normalised(std::move(t));
        if (seen_.insert(text).second) out_.push_back({what, text});
    }
    std::vector<ShrinkStep> take() { return std::move(out_); }

  private:
    static std::string normalised(toml::table t) {
        if (auto* e = t["experiment"].as_table())
            e->insert_or_assign("description", describe_experiment(t));
        return format_experiment(t);
    }
    std::set<std::string> seen_;
    std::vector<ShrinkStep> out_;
};

void drop_workloads(const toml::table& root, Steps& steps) {
    const auto* loads = root["workload"].as_array();
    if (!loads || loads->size() < 2) return;
    for (size_t i = 0; i < loads->size(); ++i) {
        toml::table t = root;
        auto* wl = t["workload"].as_array();
        const std::string name = str_of((*wl)[i].as_table()->get("name"));
        wl->erase(wl->cbegin() + static_cast<std::ptrdiff_t>(i));
        const bool mptcp = std::any_of(wl->begin(), wl->end(), [](const toml::node& w) {
            return w.as_table() && str_of(*w.as_table(), "protocol") == "mptcp";
        });
        if (!mptcp) {  // path-manager settings need an MPTCP workload
            t.erase("mptcp_endpoint");
            t.erase("mptcp_limits");
        }
        steps.add(std::move(t), "drop workload " + name);
    }
}

void shrink_specs(const toml::table& root, Steps& steps, bool whole_directions) {
    const auto* links = root["link"].as_array();
    for (size_t li = 0; links && li < links->size(); ++li) {
        const auto& l = *(*links)[li].as_table();
        for (const char* dir : {"a_to_b", "b_to_a"}) {
            const auto terms = netem_terms(str_of(l, dir));
            const std::string where = str_of(l, "name") + " " + dir;
            if (whole_directions) {
                if (terms.size() < 2) continue;  // dropping its one term does that
                toml::table t = root;
                set_spec(*t["link"][li].as_table(), dir, "");
                steps.add(std::move(t), "empty " + where);
                continue;
            }
            for (size_t i = 0; i < terms.size(); ++i) {
                std::string spec;
                for (size_t j = 0; j < terms.size(); ++j)
                    if (j != i && !needs(terms[j].kind, terms[i].kind))
                        spec += (spec.empty() ? "" : " ") + terms[j].text;
                toml::table t = root;
                set_spec(*t["link"][li].as_table(), dir, spec);
                steps.add(std::move(t), "drop " + where + " '" + terms[i].text + "'");
            }
        }
    }
}

const char* other_end(const char* end) { return end[0] == 'a' ? "b" : "a"; }
const char* end_of(const toml::table& link, const std::string& node) {
    return str_of(link, "a") == node ? "a" : "b";
}
std::string addr_key(const char* end) { return std::string(end) + "_addr"; }

// The address of one family among `cidrs`, without its prefix length.
std::string same_family(const std::vector<std::string>& cidrs, bool v6) {
    for (const auto& c : cidrs)
        if (is_v6(c) == v6) return without_prefix(c);
    return "";
}

std::set<std::string> names_of(const toml::table& root, const char* key) {
    std::set<std::string> out;
    if (const auto* a = root[key].as_array())
        for (const auto& e : *a)
            if (const auto* t = e.as_table()) out.insert(str_of(*t, "name"));
    return out;
}

bool hosts_something(const toml::table& root, const std::string& node) {
    for (const char* key : {"workload", "mptcp_endpoint", "mptcp_limits"})
        if (const auto* a = root[key].as_array())
            for (const auto& e : *a)
                if (const auto* t = e.as_table())
                    for (const char* role : {"client", "server", "host"})
                        if (str_of(*t, role) == node) return true;
    return false;
}

// Routes after a splice: gateways moved, none on the removed router, none to
// the removed subnet or to one the node is now on itself, none through a host
// (hosts do not forward; their addresses are on the node's own links).
void fix_routes(toml::table& t, const std::string& removed, const std::set<std::string>& gone_nets,
                const std::map<std::string, std::string>& moved) {
    auto* routes = t["route"].as_array();
    if (!routes) return;
    std::map<std::string, std::set<std::string>> on_link;
    std::map<std::string, std::string> owner;
    for (const auto& e : *t["link"].as_array()) {
        const auto& l = *e.as_table();
        for (const char* end : {"a", "b"})
            for (const auto& c : strings_of(l, addr_key(end))) {
                owner[without_prefix(c)] = str_of(l, end);
                for (const char* side : {"a", "b"}) on_link[str_of(l, side)].insert(network_of(c));
            }
    }
    const auto routers = names_of(t, "router");
    toml::array kept;
    for (const auto& e : *routes) {
        toml::table r = *e.as_table();
        const std::string host = str_of(r, "host"), net = network_of(str_of(r, "to"));
        std::string via = str_of(r, "via");
        if (const auto it = moved.find(via); it != moved.end())
            r.insert_or_assign("via", via = it->second);
        const bool unicast = str_of(r, "type").empty() || str_of(r, "type") == "unicast";
        const auto gw = owner.find(via);
        if (host == removed || gone_nets.count(net) || on_link[host].count(net)) continue;
        if (unicast && gw != owner.end() && !routers.count(gw->second)) continue;
        kept.push_back(std::move(r));
    }
    if (kept.empty())
        t.erase("route");
    else
        t.insert_or_assign("route", std::move(kept));
}

// Router r between x (link ia) and y (link ib): y takes r's place and
// addresses on ia, ib goes. The merged link keeps ia's impairments, or with
// `take_b` those of ib (directions turned to match).
void splice(toml::table& t, size_t ri, size_t ia, size_t ib, bool take_b) {
    auto& links = *t["link"].as_array();
    toml::table& la = *links[ia].as_table();
    const toml::table lb = *links[ib].as_table();
    const std::string r = str_of(*(*t["router"].as_array())[ri].as_table(), "name");
    const char *ra = end_of(la, r), *rb = end_of(lb, r);
    const auto r_la = strings_of(la, addr_key(ra)), x_la = strings_of(la, addr_key(other_end(ra)));
    const auto r_lb = strings_of(lb, addr_key(rb)), y_lb = strings_of(lb, addr_key(other_end(rb)));
    la.insert_or_assign(ra, str_of(lb, other_end(rb)));
    std::map<std::string, std::string> moved;  // addresses that went, and what stands in
    for (const auto& c : y_lb) moved[without_prefix(c)] = same_family(r_la, is_v6(c));
    for (const auto& c : r_lb) moved[without_prefix(c)] = same_family(x_la, is_v6(c));
    if (take_b) {
        const bool turned =
            std::string(other_end(ra)) + "_to_" + ra != std::string(rb) + "_to_" + other_end(rb);
        auto dir = [&](const std::string& d) {
            return !turned ? d : d == "a_to_b" ? "b_to_a" : d == "b_to_a" ? "a_to_b" : d;
        };
        for (const char* d : {"a_to_b", "b_to_a"}) la.insert_or_assign(dir(d), str_of(lb, d));
        la.erase("change");
        if (const auto* changes = lb["change"].as_array()) {
            toml::array mapped;
            for (const auto& c : *changes) {
                toml::table m;
                for (auto&& [k, v] : *c.as_table()) m.insert(dir(std::string(k.str())), v);
                mapped.push_back(std::move(m));
            }
            la.insert("change", std::move(mapped));
        }
        la.insert_or_assign("impaired", true);
        la.erase("capture");
        if (const auto* cap = lb.get("capture")) la.insert("capture", *cap);
    }
    links.erase(links.cbegin() + static_cast<std::ptrdiff_t>(ib));
    auto& routers = *t["router"].as_array();
    routers.erase(routers.cbegin() + static_cast<std::ptrdiff_t>(ri));
    if (routers.empty()) t.erase("router");
    for (const char* key : {"workload", "mptcp_endpoint"})
        if (auto* a = t[key].as_array())
            for (auto& e : *a)
                for (const char* field : {"server_addr", "addr"})
                    if (const auto it = moved.find(str_of(*e.as_table(), field)); it != moved.end())
                        e.as_table()->insert_or_assign(field, it->second);
    std::set<std::string> gone_nets;
    for (const auto& c : r_lb) gone_nets.insert(network_of(c));
    fix_routes(t, r, gone_nets, moved);
}

void remove_hops(const toml::table& root, Steps& steps) {
    const auto* routers = root["router"].as_array();
    const auto* links = root["link"].as_array();
    if (!routers || !links) return;
    const auto switches = names_of(root, "switch");
    for (size_t ri = 0; ri < routers->size(); ++ri) {
        const std::string r = str_of(*(*routers)[ri].as_table(), "name");
        std::vector<size_t> at;
        for (size_t li = 0; li < links->size(); ++li) {
            const auto& l = *(*links)[li].as_table();
            if (str_of(l, "a") == r || str_of(l, "b") == r) at.push_back(li);
        }
        if (at.size() != 2 || hosts_something(root, r)) continue;
        const auto &la = *(*links)[at[0]].as_table(), &lb = *(*links)[at[1]].as_table();
        const std::string x = str_of(la, other_end(end_of(la, r)));
        const std::string y = str_of(lb, other_end(end_of(lb, r)));
        bool joined = false;
        for (const auto& e : *links) {
            const auto& l = *e.as_table();
            joined |= std::set<std::string>{str_of(l, "a"), str_of(l, "b")} ==
                      std::set<std::string>{x, y};
        }
        // A switch port has no address to take over; an MPTCP endpoint names its device.
        bool endpoint_on_y = false;
        if (const auto* eps = root["mptcp_endpoint"].as_array())
            for (const auto& e : *eps) endpoint_on_y |= str_of(*e.as_table(), "host") == y;
        if (x == y || joined || switches.count(x) || switches.count(y) || endpoint_on_y) continue;
        for (const bool take_b : {false, true}) {
            if (take_b && !link_impaired(lb)) continue;
            toml::table t = root;
            splice(t, ri, at[0], at[1], take_b);
            steps.add(std::move(t),
                      "remove router " + r + ": " + str_of(la, "name") + " joins " + x + " and " +
                          y + (take_b ? " with " + str_of(lb, "name") + "'s impairments" : ""));
        }
    }
}

int64_t size_value(const toml::node* n) {
    if (!n) return -1;
    if (n->is_integer()) return *n->value<int64_t>();
    try {
        if (n->is_string())
            return static_cast<int64_t>(common::parse_size(*n->value<std::string>()));
    } catch (const std::exception&) {
    }
    return -1;
}

void halve_numbers(const toml::table& root, Steps& steps) {
    const auto* loads = root["workload"].as_array();
    struct Field {
        const char* key;
        bool size;
        int64_t floor;  // not halved below
    };
    static const Field kFields[] = {{"connections", false, 1},
                                    {"bytes", true, 1000},
                                    {"response", true, 100},
                                    {"requests", false, 1},
                                    {"lookups", false, 1}};
    for (size_t i = 0; loads && i < loads->size(); ++i) {
        const auto& w = *(*loads)[i].as_table();
        for (const Field& f : kFields) {
            const int64_t v = f.size ? size_value(w.get(f.key)) : w[f.key].value_or(int64_t{-1});
            if (v / 2 < f.floor) continue;
            toml::table t = root;
            auto& tw = *t["workload"][i].as_table();
            const int64_t half = v / 2;
            if (f.size)
                set_size(tw, f.key, static_cast<uint64_t>(half));
            else
                tw.insert_or_assign(f.key, half);
            if (std::string(f.key) == "connections" &&
                tw["concurrency"].value_or(int64_t{1}) > half)
                tw.insert_or_assign("concurrency", half);
            steps.add(std::move(t), "halve " + str_of(w, "name") + " " + f.key + " (" +
                                        std::to_string(v) + " -> " + std::to_string(half) + ")");
        }
    }
}

}  // namespace

std::vector<ShrinkStep> shrink_steps(const std::string& toml_text) {
    harness::parse_experiment_text(toml_text, "shrink-input");  // throws if not an experiment
    const toml::table root = toml::parse(toml_text);
    Steps steps(root);
    drop_workloads(root, steps);
    shrink_specs(root, steps, false);
    shrink_specs(root, steps, true);
    remove_hops(root, steps);
    halve_numbers(root, steps);
    return steps.take();
}

std::vector<std::string> shrink_candidates(const std::string& toml_text) {
    std::vector<std::string> out;
    for (auto& s : shrink_steps(toml_text)) out.push_back(std::move(s.text));
    return out;
}

std::string shrink(const std::string& text,
                   const std::function<bool(const std::string&)>& still_fails, int max_steps,
                   const std::function<void(const ShrinkStep&, bool)>& on_step) {
    std::string current = text;
    int spent = 0;
    for (bool smaller = true; smaller && spent < max_steps;) {
        smaller = false;
        for (const auto& step : shrink_steps(current)) {
            if (spent >= max_steps) break;
            ++spent;
            const bool fails = still_fails(step.text);
            if (on_step) on_step(step, fails);
            if (fails) {
                current = step.text;
                smaller = true;
                break;
            }
        }
    }
    return current;
}

}  // namespace fc::explore
