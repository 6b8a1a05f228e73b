#include "experiment.hpp"

#include <arpa/inet.h>
#include <toml++/toml.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "common/units.hpp"
#include "impair/spec.hpp"
#include "workload/dns_zone.hpp"

namespace fc::harness {

namespace {

// Reads one TOML table, remembering which keys were used so that a
// misspelt key is an error rather than a silently ignored setting.
class Fields {
  public:
    Fields(const toml::table& t, std::string file, std::string where)
        : t_(t), file_(std::move(file)), where_(std::move(where)) {}

    [[noreturn]] void fail(const std::string& key, const std::string& msg) const {
        const toml::node* n = key.empty() ? nullptr : t_.get(key);
        const auto& src = n ? n->source() : t_.source();
        std::ostringstream o;
        o << file_ << ":" << src.begin.line << ": " << where_;
        if (!key.empty()) o << (where_.empty() ? "" : ".") << key;
        o << ": " << msg;
        throw ExperimentError(o.str());
    }

    bool has(const std::string& key) const { return t_.contains(key); }

    std::optional<std::string> str(const std::string& key) {
        used_.insert(key);
        const toml::node* n = t_.get(key);
        if (!n) return std::nullopt;
        if (auto v = n->value<std::string>(); v && n->is_string()) return *v;
        fail(key, "must be a string");
    }
    std::string str_req(const std::string& key) {
        auto v = str(key);
        if (!v) fail("", "missing field '" + key + "'");
        return *v;
    }
    std::optional<int64_t> integer(const std::string& key) {
        used_.insert(key);
        const toml::node* n = t_.get(key);
        if (!n) return std::nullopt;
        if (n->is_integer()) return n->value<int64_t>();
        fail(key, "must be an integer");
    }
    std::optional<bool> boolean(const std::string& key) {
        used_.insert(key);
        const toml::node* n = t_.get(key);
        if (!n) return std::nullopt;
        if (n->is_boolean()) return n->value<bool>();
        fail(key, "must be true or false");
    }
    std::optional<double> number(const std::string& key) {
        used_.insert(key);
        const toml::node* n = t_.get(key);
        if (!n) return std::nullopt;
        if (n->is_integer() || n->is_floating_point()) return n->value<double>();
        fail(key, "must be a number");
    }
    // A string or an array of strings.
    std::vector<std::string> strings(const std::string& key) {
        used_.insert(key);
        const toml::node* n = t_.get(key);
        if (!n) return {};
        if (n->is_string()) return {*n->value<std::string>()};
        const auto* arr = n->as_array();
        if (!arr) fail(key, "must be a string or an array of strings");
        std::vector<std::string> out;
        for (const auto& e : *arr) {
            if (!e.is_string()) fail(key, "must be a string or an array of strings");
            out.push_back(*e.value<std::string>());
        }
        return out;
    }
    // A size: an integer (bytes) or a string such as "4MB".
    std::optional<uint64_t> size(const std::string& key) {
        used_.insert(key);
        const toml::node* n = t_.get(key);
        if (!n) return std::nullopt;
        if (n->is_integer() && *n->value<int64_t>() >= 0) return *n->value<int64_t>();
        if (n->is_string()) {
            try {
                return common::parse_size(*n->value<std::string>());
            } catch (const std::exception& e) {
                fail(key, e.what());
            }
        }
        fail(key, "must be a size in bytes, e.g. 1048576 or \"1MiB\"");
    }
    std::optional<int64_t> duration(const std::string& key) {
        used_.insert(key);
        const toml::node* n = t_.get(key);
        if (!n) return std::nullopt;
        if (n->is_integer() || n->is_floating_point())
            return static_cast<int64_t>(std::llround(*n->value<double>() * 1e9));
        if (n->is_string()) {
            try {
                return common::parse_duration(*n->value<std::string>()).count();
            } catch (const std::exception& e) {
                fail(key, e.what());
            }
        }
        fail(key, "must be a duration, e.g. \"2s\" or \"150ms\"");
    }
    const toml::table* table(const std::string& key) {
        used_.insert(key);
        const toml::node* n = t_.get(key);
        if (!n) return nullptr;
        if (!n->is_table()) fail(key, "must be a table");
        return n->as_table();
    }
    // [[key]] arrays of tables.
    std::vector<const toml::table*> tables(const std::string& key) {
        used_.insert(key);
        const toml::node* n = t_.get(key);
        if (!n) return {};
        const auto* arr = n->as_array();
        if (!arr) fail(key, "must be an array of tables ([[" + key + "]])");
        std::vector<const toml::table*> out;
        for (const auto& e : *arr) {
            if (!e.is_table()) fail(key, "must be an array of tables ([[" + key + "]])");
            out.push_back(e.as_table());
        }
        return out;
    }
    void mark(const std::string& key) { used_.insert(key); }
    void no_unknown_keys() const {
        for (const auto& [k, v] : t_) {
            const std::string key(k.str());
            if (!used_.count(key)) fail(key, "unknown field (misspelt?)");
        }
    }
    const std::string& where() const { return where_; }
    const std::string& file() const { return file_; }

  private:
    const toml::table& t_;
    std::string file_, where_;
    std::set<std::string> used_;
};

std::string indexed(const std::string& what, size_t i) {
    return what + "[" + std::to_string(i) + "]";
}

// Names become parts of namespace and interface names.
void check_name(Fields& f, const std::string& key, const std::string& v, size_t max_len) {
    static const std::regex re("[a-z][a-z0-9]*");
    if (!std::regex_match(v, re) || v.size() > max_len)
        f.fail(key, "'" + v + "' must be 1.." + std::to_string(max_len) +
                        " characters of a-z and 0-9, starting with a letter");
}

bool valid_cidr(const std::string& s, int* family) {
    const auto slash = s.find('/');
    const std::string addr = s.substr(0, slash);
    unsigned char buf[16];
    int fam = addr.find(':') != std::string::npos ? AF_INET6 : AF_INET;
    if (inet_pton(fam, addr.c_str(), buf) != 1) return false;
    if (slash != std::string::npos) {
        const std::string len = s.substr(slash + 1);
        if (len.empty() || len.size() > 3 || !std::all_of(len.begin(), len.end(), ::isdigit))
            return false;
        if (std::stoi(len) > (fam == AF_INET ? 32 : 128)) return false;
    }
    if (family) *family = fam;
    return true;
}

void check_netem(Fields& f, const std::string& key, const std::string& spec) {
    try {
        impair::parse_spec(spec);
    } catch (const std::exception& e) {
        f.fail(key, e.what());
    }
}

Node parse_node(const toml::table& t, const std::string& file, const std::string& where,
                NodeKind kind) {
    Fields f(t, file, where);
    Node n;
    n.kind = kind;
    n.name = f.str_req("name");
    check_name(f, "name", n.name, 8);
    n.agent = f.boolean("agent").value_or(false);
    if (kind == NodeKind::switch_ && n.agent) f.fail("agent", "a switch runs no agent");
    if (const auto* s = f.table("sysctls")) {
        for (const auto& [k, v] : *s) {
            if (!v.is_string() && !v.is_integer())
                f.fail("sysctls", "value of '" + std::string(k.str()) + "' must be a string");
            n.sysctls[std::string(k.str())] =
                v.is_string() ? *v.value<std::string>() : std::to_string(*v.value<int64_t>());
        }
    }
    f.no_unknown_keys();
    return n;
}

// nginx and ab take only what their command lines and the generated
// configuration express; settings of the other types would be ignored.
void check_http(Fields& f, const Workload& w) {
    if (w.expect != "ok")
        f.fail("expect", "'" + w.expect + "': an http workload can only expect \"ok\"");
    if (w.concurrency > w.connections)
        f.fail("concurrency", std::to_string(w.concurrency) + " exceeds connections (" +
                                  std::to_string(w.connections) +
                                  "): ab cannot run more requests at a time than in total");
    if (w.response > (uint64_t{1} << 30)) f.fail("response", "must be at most 1GiB");
    for (const char* k :
         {"bytes", "direction", "request", "requests", "user_timeout", "connect_timeout", "listen"})
        if (f.has(k)) f.fail(k, "does not apply to an http workload");
}

// net.ipv4.tcp_available_congestion_control (empty when unreadable).
std::set<std::string> available_congestion_controls() {
    std::ifstream in("/proc/sys/net/ipv4/tcp_available_congestion_control");
    std::set<std::string> out;
    for (std::string name; in >> name;) out.insert(name);
    return out;
}

const char* const kDnsOnly[] = {
    "names", "servfail", "lookups", "family", "resolver_timeout", "resolver_attempts", "interval"};

// dnsmasq on port 53 and the C library's resolver: only what resolv.conf and
// the generated configuration express.
void parse_dns(Fields& f, Workload& w) {
    namespace dns = fc::workload::dns;
    for (const char* k : {"port", "connections", "concurrency", "bytes", "direction", "request",
                          "response", "requests", "user_timeout", "connect_timeout"})
        if (f.has(k)) f.fail(k, "does not apply to a dns workload");
    w.port = 53;
    w.names = f.strings("names");
    if (w.names.empty()) f.fail("names", "a dns workload needs names to look up");
    for (const auto& n : w.names)
        if (const auto why = dns::check_test_name(n); !why.empty()) f.fail("names", why);
    w.servfail = f.strings("servfail");
    for (const auto& n : w.servfail) {
        if (const auto why = dns::check_test_name(n); !why.empty()) f.fail("servfail", why);
        if (dns::zone_lookup(n))
            f.fail("servfail", "'" + n + "' has records in the zone; pick a name without any");
    }
    w.lookups = static_cast<uint32_t>(w.names.size());
    if (auto v = f.integer("lookups")) {
        if (*v < 1 || *v > 100000) f.fail("lookups", "must be 1..100000");
        w.lookups = static_cast<uint32_t>(*v);
    }
    w.family = f.str("family").value_or("any");
    if (!dns::family_from_string(w.family)) f.fail("family", "must be \"any\", \"4\" or \"6\"");
    if (auto v = f.duration("resolver_timeout")) {
        if (*v % 1'000'000'000 != 0 || *v < 1'000'000'000 || *v > 30'000'000'000)
            f.fail("resolver_timeout", "must be whole seconds, 1s..30s (resolv.conf timeout:)");
        w.resolver_timeout_s = static_cast<int>(*v / 1'000'000'000);
    }
    if (auto v = f.integer("resolver_attempts")) {
        if (*v < 1 || *v > 5) f.fail("resolver_attempts", "must be 1..5 (resolv.conf attempts:)");
        w.resolver_attempts = static_cast<int>(*v);
    }
    if (auto v = f.duration("interval")) {
        if (*v > 60'000'000'000) f.fail("interval", "must be at most 60s");
        w.interval_ns = *v;
    }
    w.expect = f.str("expect").value_or("mixed");
    const auto& ok = dns::expectations();
    if (std::find(ok.begin(), ok.end(), w.expect) == ok.end())
        f.fail("expect",
               "'" + w.expect + "' must be mixed, ok, nxdomain, nodata, servfail, timeout or any");
    if (!w.listen && w.expect != "timeout" && w.expect != "any")
        f.fail("expect", "'" + w.expect +
                             "': with listen = false nobody answers, so only \"timeout\" or "
                             "\"any\"");
    // The zone is fixed: an expectation the names cannot meet is a mistake in the file.
    if (w.listen && (w.expect == "ok" || w.expect == "nxdomain" || w.expect == "nodata" ||
                     w.expect == "servfail")) {
        const auto fam = *dns::family_from_string(w.family);
        for (const auto& n : w.names) {
            const auto want = *dns::expected_for(w.expect, n, fam, w.servfail);
            const auto zone = dns::expected_outcome(n, fam, w.servfail);
            if (want != zone)
                f.fail("expect", "'" + w.expect + "' but the zone gives " + n + " the outcome " +
                                     zone + " (family " + w.family + ")");
        }
    }
}

// The interfaces holding `addr` (no prefix length) on `host`.
std::vector<std::string> devs_with_addr(const Experiment& x, const std::string& host,
                                        const std::string& addr) {
    std::vector<std::string> out;
    auto same = [&](const std::string& cidr) { return cidr.substr(0, cidr.find('/')) == addr; };
    for (const Link& l : x.links) {
        if (l.a == host && std::any_of(l.a_addr.begin(), l.a_addr.end(), same))
            out.push_back("fc-" + l.name + "-a");
        if (l.b == host && std::any_of(l.b_addr.begin(), l.b_addr.end(), same))
            out.push_back("fc-" + l.name + "-b");
    }
    return out;
}

std::vector<std::string> devs_of(const Experiment& x, const std::string& host) {
    std::vector<std::string> out;
    for (const Link& l : x.links) {
        if (l.a == host) out.push_back("fc-" + l.name + "-a");
        if (l.b == host) out.push_back("fc-" + l.name + "-b");
    }
    return out;
}

// [[mptcp_endpoint]] and [[mptcp_limits]]: only with an MPTCP workload, on
// hosts or routers, addresses and interfaces of that node.
void parse_mptcp(Fields& top, Experiment& x) {
    const auto eps = top.tables("mptcp_endpoint");
    const auto lims = top.tables("mptcp_limits");
    std::set<std::pair<std::string, std::string>> seen_addr;
    std::set<std::pair<std::string, int>> seen_id;
    auto host_of = [&](Fields& f) {
        std::string h = f.str_req("host");
        const Node* n = x.node(h);
        if (!n || n->kind == NodeKind::switch_)
            f.fail("host", "no host or router named '" + h + "'");
        if (!x.has_mptcp())
            f.fail("host", "MPTCP path-manager settings need a workload with protocol = \"mptcp\"");
        return h;
    };
    for (size_t i = 0; i < eps.size(); ++i) {
        Fields f(*eps[i], top.file(), indexed("mptcp_endpoint", i));
        MptcpEndpoint e;
        e.host = host_of(f);
        e.addr = f.str_req("addr");
        if (!valid_cidr(e.addr, nullptr) || e.addr.find('/') != std::string::npos)
            f.fail("addr", "'" + e.addr + "' is not an address (no prefix length)");
        const auto holders = devs_with_addr(x, e.host, e.addr);
        if (holders.empty())
            f.fail("addr", "'" + e.addr + "' is not an address of " + e.host + " on any [[link]]");
        e.dev = f.str("dev").value_or(holders.front());
        const auto devs = devs_of(x, e.host);
        if (std::find(devs.begin(), devs.end(), e.dev) == devs.end())
            f.fail("dev", "'" + e.dev + "' is not an interface of " + e.host +
                              " (its links: fc-<link>-a|b)");
        if (!f.has("flags"))
            f.fail("", "missing field 'flags' (subflow, signal, backup, fullmesh)");
        e.flags = f.strings("flags");
        std::set<std::string> fl;
        for (const auto& v : e.flags) {
            if (v != "subflow" && v != "signal" && v != "backup" && v != "fullmesh")
                f.fail("flags", "'" + v + "' must be subflow, signal, backup or fullmesh");
            if (!fl.insert(v).second) f.fail("flags", "'" + v + "' given twice");
        }
        if (!fl.count("subflow") && !fl.count("signal"))
            f.fail("flags", "needs subflow or signal (else the endpoint is never used)");
        if (fl.count("fullmesh") && fl.count("signal"))
            f.fail("flags", "fullmesh cannot go with signal (the kernel refuses it)");
        if (auto v = f.duration("at")) {
            if (*v < 0) f.fail("at", "must be >= 0");
            e.at_ns = *v;
        }
        if (auto v = f.integer("id")) {
            if (*v < 1 || *v > 255) f.fail("id", "must be 1..255");
            e.id = static_cast<int>(*v);
            if (!seen_id.insert({e.host, e.id}).second)
                f.fail("id", std::to_string(e.id) + " is already used on " + e.host);
        }
        if (auto v = f.duration("remove_at")) {
            if (*v < 0) f.fail("remove_at", "must be >= 0");
            if (e.at_ns && *v <= *e.at_ns) f.fail("remove_at", "must come after 'at'");
            // `ip mptcp endpoint delete` names the endpoint by its id.
            if (!e.id) f.fail("remove_at", "needs an 'id' for the endpoint");
            e.remove_at_ns = *v;
        }
        if (!seen_addr.insert({e.host, e.addr}).second)
            f.fail("addr", "'" + e.addr + "' is already an endpoint of " + e.host);
        f.no_unknown_keys();
        x.mptcp_endpoints.push_back(e);
    }
    std::set<std::string> limit_hosts;
    for (size_t i = 0; i < lims.size(); ++i) {
        Fields f(*lims[i], top.file(), indexed("mptcp_limits", i));
        MptcpLimits l;
        l.host = host_of(f);
        if (!limit_hosts.insert(l.host).second)
            f.fail("host", "'" + l.host + "' already has [[mptcp_limits]]");
        for (const char* k : {"subflows", "add_addr_accepted"}) {
            if (auto v = f.integer(k)) {
                if (*v < 0 || *v > 8) f.fail(k, "must be 0..8 (the kernel's limit)");
                (std::string(k) == "subflows" ? l.subflows : l.add_addr_accepted) =
                    static_cast<int>(*v);
            }
        }
        if (!l.subflows && !l.add_addr_accepted)
            f.fail("", "needs subflows, add_addr_accepted or both");
        f.no_unknown_keys();
        x.mptcp_limits.push_back(l);
    }
}

}  // namespace

bool Experiment::has_mptcp() const {
    return std::any_of(workloads.begin(), workloads.end(),
                       [](const Workload& w) { return w.mptcp(); });
}

const char* workload_type_name(WorkloadType t) {
    switch (t) {
        case WorkloadType::bulk:
            return "bulk";
        case WorkloadType::rr:
            return "rr";
        case WorkloadType::churn:
            return "churn";
        case WorkloadType::http:
            return "http";
        case WorkloadType::dns:
            return "dns";
    }
    return "?";
}

const Node* Experiment::node(const std::string& n) const {
    for (const auto& x : nodes)
        if (x.name == n) return &x;
    return nullptr;
}

Experiment parse_experiment_text(const std::string& text, const std::string& path) {
    toml::table root;
    try {
        root = toml::parse(text, path);
    } catch (const toml::parse_error& e) {
        std::ostringstream o;
        o << path << ":" << e.source().begin.line << ": " << e.description();
        throw ExperimentError(o.str());
    }
    Experiment x;
    x.file = path;
    Fields top(root, path, "");

    const toml::table* meta = top.table("experiment");
    if (!meta) top.fail("", "missing table [experiment]");
    {
        Fields f(*meta, path, "experiment");
        x.name = f.str_req("name");
        static const std::regex re("[a-z0-9][a-z0-9-]*");
        if (!std::regex_match(x.name, re) || x.name.size() > 48)
            f.fail("name", "'" + x.name + "' must be 1..48 characters of a-z, 0-9 and '-'");
        x.description = f.str("description").value_or("");
        if (auto v = f.integer("seed")) {
            if (*v < 0) f.fail("seed", "must be >= 0");
            x.seed = static_cast<uint64_t>(*v);
        }
        if (auto v = f.integer("repetitions")) {
            if (*v < 1 || *v > 1000) f.fail("repetitions", "must be 1..1000");
            x.repetitions = static_cast<uint32_t>(*v);
        }
        if (auto v = f.duration("timeout")) {
            if (*v <= 0) f.fail("timeout", "must be > 0");
            x.timeout_ns = *v;
        }
        f.no_unknown_keys();
    }
    if (const toml::table* c = top.table("collector")) {
        Fields f(*c, path, "collector");
        x.collector_transport = f.str("transport").value_or("tcp");
        if (x.collector_transport != "tcp" && x.collector_transport != "udp")
            f.fail("transport", "must be \"tcp\" or \"udp\"");
        f.no_unknown_keys();
    }

    std::set<std::string> names;
    auto add_nodes = [&](const char* key, NodeKind kind) {
        const auto list = top.tables(key);
        for (size_t i = 0; i < list.size(); ++i) {
            Node n = parse_node(*list[i], path, indexed(key, i), kind);
            if (!names.insert(n.name).second) {
                Fields f(*list[i], path, indexed(key, i));
                f.fail("name", "'" + n.name + "' is already used by another host/router/switch");
            }
            x.nodes.push_back(std::move(n));
        }
    };
    add_nodes("host", NodeKind::host);
    add_nodes("router", NodeKind::router);
    add_nodes("switch", NodeKind::switch_);
    if (x.nodes.empty()) top.fail("", "no [[host]] declared");

    std::set<std::string> link_names;
    const auto links = top.tables("link");
    for (size_t i = 0; i < links.size(); ++i) {
        Fields f(*links[i], path, indexed("link", i));
        Link l;
        l.name = f.str_req("name");
        check_name(f, "name", l.name, 8);
        if (!link_names.insert(l.name).second) f.fail("name", "'" + l.name + "' is already used");
        l.a = f.str_req("a");
        l.b = f.str_req("b");
        for (const char* k : {"a", "b"}) {
            const std::string& v = std::string(k) == "a" ? l.a : l.b;
            if (!x.node(v)) f.fail(k, "no host, router or switch named '" + v + "'");
        }
        if (l.a == l.b) f.fail("b", "a link needs two different ends");
        l.a_addr = f.strings("a_addr");
        l.b_addr = f.strings("b_addr");
        for (const char* k : {"a_addr", "b_addr"}) {
            const auto& v = std::string(k) == "a_addr" ? l.a_addr : l.b_addr;
            const std::string& end = std::string(k) == "a_addr" ? l.a : l.b;
            if (!v.empty() && x.node(end)->kind == NodeKind::switch_)
                f.fail(k, "a switch port has no address");
            for (const auto& a : v)
                if (!valid_cidr(a, nullptr) || a.find('/') == std::string::npos)
                    f.fail(k, "'" + a + "' is not an address with a prefix length (CIDR)");
        }
        l.a_to_b = f.str("a_to_b").value_or("");
        l.b_to_a = f.str("b_to_a").value_or("");
        check_netem(f, "a_to_b", l.a_to_b);
        check_netem(f, "b_to_a", l.b_to_a);
        const auto changes = f.tables("change");
        for (size_t j = 0; j < changes.size(); ++j) {
            Fields c(*changes[j], path, indexed("link", i) + "." + indexed("change", j));
            LinkChange ch;
            auto at = c.duration("at");
            if (!at) c.fail("", "missing field 'at'");
            ch.at_ns = *at;
            ch.a_to_b = c.str("a_to_b");
            ch.b_to_a = c.str("b_to_a");
            if (!ch.a_to_b && !ch.b_to_a) c.fail("", "a change needs a_to_b, b_to_a or both");
            if (ch.a_to_b) check_netem(c, "a_to_b", *ch.a_to_b);
            if (ch.b_to_a) check_netem(c, "b_to_a", *ch.b_to_a);
            c.no_unknown_keys();
            l.changes.push_back(ch);
        }
        const bool has_impairment = !l.a_to_b.empty() || !l.b_to_a.empty() || !l.changes.empty();
        l.impaired = f.boolean("impaired").value_or(has_impairment);
        if (!l.impaired && has_impairment)
            f.fail("impaired", "is false but the link declares impairments");
        l.capture = f.boolean("capture").value_or(l.impaired);
        if (l.capture && !l.impaired)
            f.fail("capture", "captures are taken on impaired links only (set impaired = true)");
        if (auto m = f.integer("mtu")) {
            if (*m < 576 || *m > 9000) f.fail("mtu", "must be 576..9000");
            l.mtu = static_cast<int>(*m);
        }
        f.no_unknown_keys();
        x.links.push_back(std::move(l));
    }

    const auto routes = top.tables("route");
    for (size_t i = 0; i < routes.size(); ++i) {
        Fields f(*routes[i], path, indexed("route", i));
        Route r;
        r.node = f.str_req("host");
        const Node* n = x.node(r.node);
        if (!n || n->kind == NodeKind::switch_)
            f.fail("host", "no host or router named '" + r.node + "'");
        r.to = f.str_req("to");
        if (r.to != "default" && r.to != "default6" && !valid_cidr(r.to, nullptr))
            f.fail("to", "'" + r.to + "' is not a prefix, \"default\" or \"default6\"");
        r.type = f.str("type").value_or("unicast");
        if (r.type != "unicast" && r.type != "unreachable" && r.type != "blackhole" &&
            r.type != "prohibit")
            f.fail("type", "must be unicast, unreachable, blackhole or prohibit");
        r.via = f.str("via").value_or("");
        if (r.type == "unicast" && r.via.empty()) f.fail("via", "a unicast route needs a gateway");
        if (!r.via.empty() && (!valid_cidr(r.via, nullptr) || r.via.find('/') != std::string::npos))
            f.fail("via", "'" + r.via + "' is not an address");
        f.no_unknown_keys();
        x.routes.push_back(r);
    }

    std::set<std::string> wl_names;
    const auto wls = top.tables("workload");
    for (size_t i = 0; i < wls.size(); ++i) {
        Fields f(*wls[i], path, indexed("workload", i));
        Workload w;
        w.name = f.str_req("name");
        check_name(f, "name", w.name, 16);
        if (!wl_names.insert(w.name).second) f.fail("name", "'" + w.name + "' is already used");
        const std::string type = f.str_req("type");
        if (type == "bulk")
            w.type = WorkloadType::bulk;
        else if (type == "rr")
            w.type = WorkloadType::rr;
        else if (type == "churn")
            w.type = WorkloadType::churn;
        else if (type == "http")
            w.type = WorkloadType::http;
        else if (type == "dns")
            w.type = WorkloadType::dns;
        else
            f.fail("type", "'" + type + "' is not a workload type: bulk, rr, churn, http or dns");
        w.client = f.str_req("client");
        w.server = f.str_req("server");
        for (const char* k : {"client", "server"}) {
            const std::string& v = std::string(k) == "client" ? w.client : w.server;
            const Node* n = x.node(v);
            if (!n || n->kind == NodeKind::switch_)
                f.fail(k, "no host or router named '" + v + "'");
        }
        w.server_addr = f.str_req("server_addr");
        if (!valid_cidr(w.server_addr, nullptr) || w.server_addr.find('/') != std::string::npos)
            f.fail("server_addr", "'" + w.server_addr + "' is not an address");
        w.listen = f.boolean("listen").value_or(true);
        if (auto v = f.duration("start")) w.start_ns = *v;
        if (w.type == WorkloadType::dns) {
            for (const char* k : {"protocol", "server_mptcp"})
                if (f.has(k)) f.fail(k, "does not apply to a dns workload");
            parse_dns(f, w);
            f.no_unknown_keys();
            x.workloads.push_back(w);
            continue;
        }
        for (const char* k : kDnsOnly)
            if (f.has(k)) f.fail(k, std::string("does not apply to a ") + type + " workload");
        auto port = f.integer("port");
        if (!port || *port < 1 || *port > 65535) f.fail("port", "needs a port 1..65535");
        w.port = static_cast<uint16_t>(*port);
        if (auto v = f.integer("connections")) {
            if (*v < 1 || *v > 100000) f.fail("connections", "must be 1..100000");
            w.connections = static_cast<uint32_t>(*v);
        }
        if (auto v = f.integer("concurrency")) {
            if (*v < 1 || *v > 256) f.fail("concurrency", "must be 1..256");
            w.concurrency = static_cast<uint32_t>(*v);
        }
        if (auto v = f.size("bytes")) w.bytes = *v;
        w.direction = f.str("direction").value_or("up");
        if (w.direction != "up" && w.direction != "down")
            f.fail("direction", "must be \"up\" (client sends) or \"down\" (server sends)");
        if (auto v = f.size("request")) w.request = *v;
        if (auto v = f.size("response")) w.response = *v;
        if (auto v = f.integer("requests")) {
            if (*v < 1) f.fail("requests", "must be >= 1");
            w.requests = static_cast<uint32_t>(*v);
        }
        w.expect = f.str("expect").value_or("ok");
        static const std::set<std::string> outcomes = {"ok", "refused", "unreachable", "timeout",
                                                       "any"};
        if (!outcomes.count(w.expect))
            f.fail("expect", "'" + w.expect + "' must be ok, refused, unreachable, timeout or any");
        if (auto v = f.duration("user_timeout")) w.user_timeout_ns = *v;
        if (auto v = f.duration("connect_timeout")) w.connect_timeout_ns = *v;
        if (w.type == WorkloadType::http) check_http(f, w);
        w.protocol = f.str("protocol").value_or("tcp");
        if (w.protocol != "tcp" && w.protocol != "mptcp")
            f.fail("protocol", "'" + w.protocol + "' must be \"tcp\" or \"mptcp\"");
        if (w.mptcp() && w.type == WorkloadType::http)
            f.fail("protocol", "an http workload is TCP only (nginx and ab)");
        if (auto v = f.boolean("server_mptcp")) {
            if (!w.mptcp())
                f.fail("server_mptcp", "applies to protocol = \"mptcp\" workloads only");
            w.server_mptcp = *v;
        }
        if (auto v = f.str("congestion")) {
            if (w.type == WorkloadType::http)
                f.fail("congestion", "does not apply to an http workload (nginx and ab)");
            if (w.mptcp()) f.fail("congestion", "applies to TCP workloads only");
            const auto known = available_congestion_controls();
            if (!known.empty() && !known.count(*v)) {
                std::string list;
                for (const auto& k : known) list += (list.empty() ? "" : ", ") + k;
                f.fail("congestion", "'" + *v + "' is not one of this kernel's: " + list);
            }
            w.congestion = *v;
        }
        f.no_unknown_keys();
        x.workloads.push_back(w);
    }
    if (x.workloads.empty()) top.fail("", "no [[workload]] declared");
    // The C library reads one resolv.conf per namespace: one dns workload per client.
    std::map<std::string, std::string> dns_clients;
    for (size_t i = 0; i < x.workloads.size(); ++i) {
        const auto& w = x.workloads[i];
        if (w.type != WorkloadType::dns) continue;
        auto [it, fresh] = dns_clients.emplace(w.client, w.name);
        if (!fresh) {
            Fields f(*wls[i], path, indexed("workload", i));
            f.fail("client", "'" + w.client + "' already runs dns workload '" + it->second +
                                 "' (one resolv.conf per namespace)");
        }
    }
    std::map<std::pair<std::string, uint16_t>, std::string> ports;
    for (size_t i = 0; i < x.workloads.size(); ++i) {
        const auto& w = x.workloads[i];
        auto [it, fresh] = ports.emplace(std::make_pair(w.server, w.port), w.name);
        if (!fresh) {
            Fields f(*wls[i], path, indexed("workload", i));
            f.fail("port", std::to_string(w.port) + " on " + w.server + " is already used by '" +
                               it->second + "'");
        }
    }

    parse_mptcp(top, x);

    if (const toml::table* t = top.table("tolerance")) {
        Fields f(*t, path, "tolerance");
        for (const auto& [k, v] : *t) {
            const std::string key(k.str());
            f.mark(key);
            const auto* tt = v.as_table();
            if (!tt) f.fail(key, "must be a table such as { abs = 1000, rel = 0.1 }");
            Fields g(*tt, path, "tolerance." + key);
            Tolerance tol;
            tol.abs = g.number("abs").value_or(0);
            tol.rel = g.number("rel").value_or(0);
            tol.share = g.number("share").value_or(1.0);
            if (tol.abs < 0 || tol.rel < 0) g.fail("", "abs and rel must be >= 0");
            if (tol.share <= 0 || tol.share > 1) g.fail("share", "must be in (0, 1]");
            g.no_unknown_keys();
            x.tolerances[key] = tol;
        }
    }
    if (const toml::table* t = top.table("validation")) {
        Fields f(*t, path, "validation");
        if (const toml::table* skip = f.table("skip")) {
            Fields g(*skip, path, "validation.skip");
            for (const auto& kv : *skip) {
                const std::string key(kv.first.str());
                const auto slash = key.find('/');
                if (key.empty() || slash == 0 || slash + 1 == key.size() ||
                    key.find('/', slash + 1) != std::string::npos)
                    g.fail(key, "must be \"<source>\" or \"<kpi>/<source>\"");
                auto why = g.str(key);
                if (!why || why->empty())
                    g.fail(key, "must say why it is skipped (a non-empty string)");
                x.skips[key] = *why;
            }
        }
        f.no_unknown_keys();
    }
    top.no_unknown_keys();
    return x;
}

Experiment parse_experiment_file(const std::string& path) {
    std::ifstream in(path);
    if (!in) throw ExperimentError(path + ": cannot read the file");
    std::ostringstream s;
    s << in.rdbuf();
    return parse_experiment_text(s.str(), path);
}

}  // namespace fc::harness
