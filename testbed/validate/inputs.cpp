#include "validate/inputs.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

namespace fc::validate {
namespace {

using nlohmann::json;

// A JSON value with the path that led to it, so that every error names the
// file and the field ("manifest.json: hosts[1].observation_domain: ...").
struct Field {
    const std::string& file;
    std::string path;
    const json& v;

    [[noreturn]] void fail(const std::string& what) const {
        throw InputError(file + ": " + (path.empty() ? "(document)" : path) + ": " + what);
    }
    Field at(const std::string& key) const {
        if (!v.is_object()) fail("expected an object");
        const auto it = v.find(key);
        const std::string p = path.empty() ? key : path + "." + key;
        if (it == v.end()) throw InputError(file + ": " + p + ": missing");
        return {file, p, *it};
    }
    std::optional<Field> find(const std::string& key) const {
        if (!v.is_object()) fail("expected an object");
        const auto it = v.find(key);
        if (it == v.end() || it->is_null()) return std::nullopt;
        return Field{file, path.empty() ? key : path + "." + key, *it};
    }
    Field index(size_t i) const { return {file, path + "[" + std::to_string(i) + "]", v[i]}; }
    size_t size() const {
        if (!v.is_array()) fail("expected an array");
        return v.size();
    }
    std::string str() const {
        if (!v.is_string()) fail("expected a string");
        return v.get<std::string>();
    }
    int64_t integer() const {
        if (!v.is_number_integer() && !v.is_number_unsigned()) fail("expected an integer");
        return v.get<int64_t>();
    }
    double number() const {
        if (!v.is_number()) fail("expected a number");
        return v.get<double>();
    }
    bool boolean() const {
        if (!v.is_boolean()) fail("expected true or false");
        return v.get<bool>();
    }
};

json parse_file(const std::string& path) {
    std::ifstream in(path);
    if (!in) throw InputError(path + ": cannot open");
    try {
        return json::parse(in);
    } catch (const json::parse_error& e) {
        throw InputError(path + ": not JSON: " + e.what());
    }
}

double opt_number(const Field& f, const std::string& key, double fallback) {
    const auto sub = f.find(key);
    return sub ? sub->number() : fallback;
}

DirStats read_dir(const Field& d) {
    DirStats s;
    s.data_segs = d.at("data_segs").number();
    s.retrans_segs = d.at("retrans_segs").number();
    s.dup_segs = d.at("dup_segs").number();
    s.ooo_segs = d.at("ooo_segs").number();
    s.ooo_dist_samples = opt_number(d, "ooo_dist_samples", 0);
    s.ooo_dist_mean = opt_number(d, "ooo_dist_mean", 0);
    s.fin = d.at("fin").number();
    s.rst = d.at("rst").number();
    s.fin_retrans = opt_number(d, "fin_retrans", 0);
    if (const auto r = d.find("rst_live")) s.rst_live = r->number();
    if (const auto p = d.find("packets")) s.packets = p->number();
    if (const auto r = d.find("resends")) {
        s.resends.emplace();
        for (size_t i = 0; i < r->size(); ++i) {
            const Field one = r->index(i);
            if (one.size() != 2) one.fail("expected [capture stamp, tail]");
            s.resends->push_back({one.index(0).integer(), one.index(1).integer() != 0});
        }
    }
    const Field rtt = d.at("rtt");
    s.rtt_samples = rtt.at("samples").number();
    s.rtt_mean_us = opt_number(rtt, "mean_us", 0);
    if (auto r = d.find("rtt_rounds")) {
        if (auto m = r->find("min_sum_us")) {
            s.rounds_min_sum_us.emplace();
            for (size_t i = 0; i < m->size(); ++i)
                s.rounds_min_sum_us->push_back(m->index(i).number());
        }
    }
    return s;
}

}  // namespace

std::string normalise_addr(const std::string& addr) {
    if (addr.find(':') == std::string::npos) return addr;
    in6_addr a6{};
    if (inet_pton(AF_INET6, addr.c_str(), &a6) != 1) return addr;
    char buf[INET6_ADDRSTRLEN];
    if (IN6_IS_ADDR_V4MAPPED(&a6)) {
        inet_ntop(AF_INET, &a6.s6_addr[12], buf, sizeof buf);
    } else {
        inet_ntop(AF_INET6, &a6, buf, sizeof buf);
    }
    return buf;
}

std::string addr_text(uint8_t ip_version, const uint8_t* a) {
    char buf[INET6_ADDRSTRLEN] = "";
    inet_ntop(ip_version == 4 ? AF_INET : AF_INET6, a, buf, sizeof buf);
    return normalise_addr(buf);
}

const HostInfo* Manifest::host(const std::string& name) const {
    for (const auto& h : hosts)
        if (h.name == name) return &h;
    return nullptr;
}

std::string AgentConn::key() const {
    return std::to_string(observation_domain) + ":" + std::to_string(flow_id);
}

Manifest read_manifest(const std::string& path) {
    const json doc = parse_file(path);
    const Field root{path, "", doc};
    Manifest m;
    m.path = path;
    m.dir = std::filesystem::path(path).parent_path().string();
    m.experiment = root.at("experiment").str();
    if (m.experiment.empty()) root.at("experiment").fail("empty");
    m.repetition = static_cast<int>(root.at("repetition").integer());
    if (auto f = root.find("t_start_ns")) m.t_start_ns = f->integer();
    if (auto f = root.find("t_end_ns")) m.t_end_ns = f->integer();

    const Field hosts = root.at("hosts");
    for (size_t i = 0; i < hosts.size(); ++i) {
        const Field h = hosts.index(i);
        HostInfo hi;
        hi.name = h.at("name").str();
        hi.agent = h.at("agent").boolean();
        if (hi.agent) hi.observation_domain = h.at("observation_domain").integer();
        m.hosts.push_back(hi);
    }

    if (auto links = root.find("links")) {
        for (size_t i = 0; i < links->size(); ++i) {
            const Field l = links->index(i);
            LinkInfo li;
            li.name = l.at("name").str();
            li.a = l.at("a").str();
            li.b = l.at("b").str();
            li.impaired = l.at("impaired").boolean();
            if (auto f = l.find("log")) li.log = f->str();
            if (auto caps = l.find("captures")) {
                for (const char* side : {"a", "b"})
                    if (auto c = caps->find(side)) li.captures[side] = c->str();
            }
            // "198.18.1.1/24", "fd00:fc:1::1/64": the address, as inet_ntop prints it.
            for (auto [key, out] :
                 {std::pair{"a_addr", &li.a_addr}, std::pair{"b_addr", &li.b_addr}})
                if (auto addrs = l.find(key))
                    for (size_t k = 0; k < addrs->size(); ++k) {
                        const std::string cidr = addrs->index(k).str();
                        out->push_back(normalise_addr(cidr.substr(0, cidr.find('/'))));
                    }
            for (const auto* end : {&li.a, &li.b})
                if (!m.host(*end)) l.fail("link end '" + *end + "' is not a host of hosts[]");
            m.links.push_back(li);
        }
    }

    const Field workloads = root.at("workloads");
    for (size_t i = 0; i < workloads.size(); ++i) {
        const Field w = workloads.index(i);
        const std::string name = w.at("name").str();
        m.workload_types[name] = w.find("type") ? w.at("type").str() : "";
        const Field truth = w.at("truth");
        for (size_t k = 0; k < truth.size(); ++k) m.truth_files.push_back(truth.index(k).str());
        if (auto mp = w.find("mptcp_truth")) {
            m.workload_types[name] = "mptcp";
            for (size_t k = 0; k < mp->size(); ++k) m.mptcp_truth.push_back(mp->index(k).str());
        }
        if (auto dns = w.find("dns_truth")) {
            m.dns_client_truth.push_back(dns->at("client").str());
            if (auto server = dns->find("server")) m.dns_server_truth.push_back(server->str());
        }
    }

    if (auto mon = root.find("mptcp_monitor")) {
        if (!mon->v.is_object()) mon->fail("expected an object");
        for (const auto& [host, _] : mon->v.items()) m.mptcp_monitor[host] = mon->at(host).str();
    }

    if (auto tol = root.find("tolerances")) {
        if (!tol->v.is_object()) tol->fail("expected an object");
        for (const auto& [key, _] : tol->v.items()) {
            const Field t = tol->at(key);
            Tolerance x{NAN, NAN, NAN};
            if (auto f = t.find("abs")) x.abs = f->number();
            if (auto f = t.find("rel")) x.rel = f->number();
            if (auto f = t.find("share")) {
                x.share = f->number();
                if (x.share < 0 || x.share > 1) f->fail("expected a share in [0, 1]");
            }
            m.tolerances[key] = x;
        }
    }
    if (auto skips = root.find("skips")) {
        if (!skips->v.is_object()) skips->fail("expected an object");
        for (const auto& [key, _] : skips->v.items()) m.skips[key] = skips->at(key).str();
    }
    return m;
}

// One value per non-blank line of a JSON Lines file; errors name file:line.
namespace {
template <typename T, typename Fn>
std::vector<T> read_jsonl(const std::string& path, Fn&& one) {
    std::ifstream in(path);
    if (!in) throw InputError(path + ": cannot open");
    std::vector<T> out;
    std::string line;
    for (int lineno = 1; std::getline(in, line); ++lineno) {
        if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
        const std::string where = path + ":" + std::to_string(lineno);
        json doc;
        try {
            doc = json::parse(line);
        } catch (const json::parse_error& e) {
            throw InputError(where + ": not JSON: " + e.what());
        }
        out.push_back(one(Field{where, "", doc}));
    }
    return out;
}
}  // namespace

std::vector<TruthConn> read_truth(const std::string& path) {
    return read_jsonl<TruthConn>(path, [&](const Field& f) {
        TruthConn t;
        t.file = path;
        t.host = f.at("host").str();
        t.workload = f.at("workload").str();
        t.role = f.at("role").str();
        if (t.role != "client" && t.role != "server")
            f.at("role").fail("expected client or server");
        t.conn = f.at("conn").integer();
        t.local = normalise_addr(f.at("local").str());
        t.remote = normalise_addr(f.at("remote").str());
        t.lport = f.at("lport").integer();
        t.rport = f.at("rport").integer();
        t.t_start_ns = f.at("t_start_ns").integer();
        t.t_end_ns = f.at("t_end_ns").integer();
        t.outcome = f.at("outcome").str();
        t.closed_by = f.at("closed_by").str();
        t.tcp_info_at_close = f.at("tcp_info_at_close").boolean();
        if (auto v = f.find("t_start_connect")) t.t_start_connect = v->boolean();
        if (auto v = f.find("t_connected_ns")) t.t_connected_ns = v->integer();
        if (auto ti = f.find("tcp_info")) {
            if (!ti->v.is_object()) ti->fail("expected an object or null");
            std::map<std::string, double> values;
            for (const auto& [key, _] : ti->v.items()) values[key] = ti->at(key).number();
            t.tcp_info = std::move(values);
        }
        return t;
    });
}

Capture read_capture(const std::string& path) {
    const json doc = parse_file(path);
    const Field root{path, "", doc};
    Capture c;
    c.path = path;
    c.pcap_drops = root.at("pcap_drops").integer();
    const Field conns = root.at("connections");
    for (size_t i = 0; i < conns.size(); ++i) {
        const Field e = conns.index(i);
        CaptureConn cc;
        cc.client = normalise_addr(e.at("client").str());
        cc.server = normalise_addr(e.at("server").str());
        cc.cport = e.at("cport").integer();
        cc.sport = e.at("sport").integer();
        if (auto f = e.find("first_ns")) cc.first_ns = f->integer();
        if (auto f = e.find("last_ns")) cc.last_ns = f->integer();
        cc.syn = e.at("syn").number();
        cc.synack = e.at("synack").number();
        if (auto f = e.find("handshake_ns")) cc.handshake_ns = f->number();
        if (auto f = e.find("mptcp")) cc.mptcp = f->str();
        if (auto f = e.find("mptcp_join_token")) cc.mptcp_join_token = f->integer();
        cc.c2s = read_dir(e.at("c2s"));
        cc.s2c = read_dir(e.at("s2c"));
        c.connections.push_back(cc);
    }
    if (auto dns = root.find("dns")) {
        for (size_t i = 0; i < dns->size(); ++i) {
            const Field e = dns->index(i);
            // A reply whose query the capture never saw (FORMATS.md: attempts
            // 0; a copy that lost its query to corruption on the way, say)
            // names no query a host sent: nothing to compare it with.
            if (e.at("attempts").integer() == 0) continue;
            CaptureDnsQuery q;
            q.client = normalise_addr(e.at("client").str());
            q.server = normalise_addr(e.at("server").str());
            q.client_port = e.at("client_port").integer();
            q.server_port = e.at("server_port").integer();
            q.id = e.at("id").integer();
            q.qname = e.at("qname").str();
            q.qtype = e.at("qtype").integer();
            q.attempts = e.at("attempts").integer();
            q.t_first_ns = e.at("t_first_query_ns").integer();
            q.t_last_ns = e.at("t_last_query_ns").integer();
            q.query_size = e.at("query_size").integer();
            if (auto f = e.find("t_reply_ns")) q.t_reply_ns = f->integer();
            if (auto f = e.find("t_last_query_before_reply_ns"))
                q.t_last_before_reply_ns = f->integer();
            if (auto f = e.find("reply_size")) q.reply_size = f->integer();
            if (auto f = e.find("rcode")) q.rcode = f->integer();
            if (auto f = e.find("answers")) q.answers = f->integer();
            c.dns.push_back(q);
        }
    }
    return c;
}

std::vector<DnsLookupTruth> read_dns_truth(const std::string& path) {
    return read_jsonl<DnsLookupTruth>(path, [&](const Field& f) {
        DnsLookupTruth t;
        t.file = path;
        t.host = f.at("host").str();
        t.workload = f.at("workload").str();
        t.lookup = f.at("lookup").integer();
        t.name = f.at("name").str();
        t.family = f.at("family").str();
        t.pid = f.at("pid").integer();
        t.t_start_ns = f.at("t_start_ns").integer();
        t.t_end_ns = f.at("t_end_ns").integer();
        t.rc = f.at("rc").integer();
        t.outcome = f.at("outcome").str();
        t.v4 = static_cast<int64_t>(f.at("v4").size());
        t.v6 = static_cast<int64_t>(f.at("v6").size());
        return t;
    });
}

std::vector<MptcpTruth> read_mptcp_truth(const std::string& path) {
    return read_jsonl<MptcpTruth>(path, [&](const Field& f) {
        MptcpTruth t;
        t.file = path;
        t.host = f.at("host").str();
        t.workload = f.at("workload").str();
        t.role = f.at("role").str();
        t.conn = f.at("conn").integer();
        t.local = normalise_addr(f.at("local").str());
        t.remote = normalise_addr(f.at("remote").str());
        t.lport = f.at("lport").integer();
        t.rport = f.at("rport").integer();
        t.t_start_ns = f.at("t_start_ns").integer();
        t.t_end_ns = f.at("t_end_ns").integer();
        t.outcome = f.at("outcome").str();
        const Field mp = f.at("mptcp");
        if (auto tok = mp.find("token")) t.token = tok->integer();
        t.fallback = mp.at("fallback").boolean();
        // A client that fell back has no MPTCP_FULL_INFO: info is null.
        if (auto info = mp.find("info")) {
            if (!info->v.is_object()) info->fail("expected an object or null");
            for (const auto& [k, v] : info->v.items())
                if (v.is_number()) t.info[k] = v.get<double>();
        }
        const Field sfs = mp.at("subflows");
        for (size_t i = 0; i < sfs.size(); ++i) {
            const Field sf = sfs.index(i);
            MptcpSubflowTruth s;
            s.local = normalise_addr(sf.at("local").str());
            s.remote = normalise_addr(sf.at("remote").str());
            s.lport = sf.at("lport").integer();
            s.rport = sf.at("rport").integer();
            if (auto fin = sf.find("final")) s.final = fin->boolean();
            const Field ti = sf.at("tcp_info");
            if (!ti.v.is_object()) ti.fail("expected an object");
            for (const auto& [k, v] : ti.v.items())
                if (v.is_number()) s.tcp_info[k] = v.get<double>();
            t.subflows.push_back(std::move(s));
        }
        return t;
    });
}

std::vector<MptcpEvent> read_mptcp_monitor(const std::string& path) {
    return read_jsonl<MptcpEvent>(path, [](const Field& f) {
        MptcpEvent e;
        e.t_ns = f.at("t_ns").integer();
        e.event = f.at("event").str();
        if (auto tok = f.find("token")) e.token = tok->integer();
        for (const char* k : {"saddr", "daddr"})
            if (auto a = f.find(k); a && a->v.is_string())
                (k[0] == 's' ? e.saddr : e.daddr) = normalise_addr(a->str());
        for (const char* k : {"sport", "dport"})
            if (auto p = f.find(k); p && p->v.is_number())
                (k[0] == 's' ? e.sport : e.dport) = p->integer();
        return e;
    });
}

std::vector<DnsServerQuery> read_dns_server_truth(const std::string& path) {
    return read_jsonl<DnsServerQuery>(path, [](const Field& f) {
        DnsServerQuery q;
        q.client = normalise_addr(f.at("client").str());
        q.client_port = f.at("client_port").integer();
        q.qtype = f.at("qtype").str();
        q.name = f.at("name").str();
        if (auto t = f.find("t_s")) q.t_s = t->integer();
        return q;
    });
}

}  // namespace fc::validate
