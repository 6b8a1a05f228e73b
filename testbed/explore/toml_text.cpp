#include "toml_text.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <set>
#include <sstream>

namespace fc::explore {

namespace {

const std::vector<std::string> kSections = {
    "experiment", "collector",    "host",           "router",   "switch",   "link",
    "route",      "mptcp_limits", "mptcp_endpoint", "workload", "tolerance"};

const std::vector<std::string>& field_order(const std::string& section) {
    static const std::vector<std::string> kNode = {"name", "agent", "sysctls"};
    static const std::map<std::string, std::vector<std::string>> kOrder = {
        {"experiment", {"name", "description", "seed", "repetitions", "timeout"}},
        {"host", kNode},
        {"router", kNode},
        {"switch", kNode},
        {"link",
         {"name", "a", "b", "a_addr", "b_addr", "impaired", "capture", "mtu", "a_to_b", "b_to_a"}},
        {"link.change", {"at", "a_to_b", "b_to_a"}},
        {"route", {"host", "to", "via", "type"}},
        {"workload",
         {"name",
          "type",
          "protocol",
          "server_mptcp",
          "client",
          "server",
          "server_addr",
          "port",
          "listen",
          "connections",
          "concurrency",
          "bytes",
          "direction",
          "request",
          "response",
          "requests",
          "congestion",
          "names",
          "servfail",
          "lookups",
          "family",
          "resolver_timeout",
          "resolver_attempts",
          "interval",
          "expect",
          "start",
          "user_timeout",
          "connect_timeout"}},
        {"mptcp_limits", {"host", "subflows", "add_addr_accepted"}},
        {"mptcp_endpoint", {"host", "addr", "dev", "flags", "id", "at", "remove_at"}},
    };
    static const std::vector<std::string> kNone;
    const auto it = kOrder.find(section);
    return it == kOrder.end() ? kNone : it->second;
}

std::vector<std::string> ordered_keys(const toml::table& t, const std::vector<std::string>& first) {
    std::vector<std::string> keys;
    for (const auto& k : first)
        if (t.contains(k)) keys.push_back(k);
    for (auto&& [k, v] : t)  // the rest as the table keeps them (sorted)
        if (std::find(first.begin(), first.end(), k.str()) == first.end())
            keys.emplace_back(k.str());
    return keys;
}

bool is_table_array(const toml::node& n) {
    const auto* a = n.as_array();
    if (!a || a->empty()) return false;
    return std::all_of(a->begin(), a->end(), [](const toml::node& e) { return e.is_table(); });
}

std::string quoted(const std::string& s) {
    std::string o = "\"";
    for (const unsigned char c : s) {
        if (c == '"' || c == '\\') {
            o += '\\';
            o += static_cast<char>(c);
        } else if (c == '\n') {
            o += "\\n";
        } else if (c == '\t') {
            o += "\\t";
        } else if (c < 0x20 || c == 0x7f) {
            char b[8];
            std::snprintf(b, sizeof b, "\\u%04x", c);
            o += b;
        } else {
            o += static_cast<char>(c);
        }
    }
    return o + "\"";
}

std::string key_text(const std::string& k) {
    const bool bare = !k.empty() && std::all_of(k.begin(), k.end(), [](unsigned char c) {
        return std::isalnum(c) || c == '_' || c == '-';
    });
    return bare ? k : quoted(k);
}

std::string float_text(double v) {
    if (std::isnan(v)) return "nan";
    if (std::isinf(v)) return v < 0 ? "-inf" : "inf";
    char b[40];
    for (int p = 1; p <= 17; ++p) {  // the shortest text that reads back as v
        std::snprintf(b, sizeof b, "%.*g", p, v);
        if (std::strtod(b, nullptr) == v) break;
    }
    std::string s = b;
    if (s.find_first_of(".e") == std::string::npos) s += ".0";
    return s;
}

void value_text(std::ostream& o, const toml::node& n) {
    if (const auto* a = n.as_array()) {
        o << "[";
        for (size_t i = 0; i < a->size(); ++i) {
            o << (i ? ", " : "");
            value_text(o, *a->get(i));
        }
        o << "]";
    } else if (const auto* t = n.as_table()) {
        o << "{";
        bool first = true;
        for (const auto& k : ordered_keys(*t, {})) {
            o << (first ? " " : ", ") << key_text(k) << " = ";
            value_text(o, *t->get(k));
            first = false;
        }
        o << (first ? "}" : " }");
    } else if (n.is_string()) {
        o << quoted(*n.value<std::string>());
    } else if (n.is_integer()) {
        o << *n.value<int64_t>();
    } else if (n.is_floating_point()) {
        o << float_text(*n.value<double>());
    } else if (n.is_boolean()) {
        o << (*n.value<bool>() ? "true" : "false");
    } else {  // dates and times: toml++ prints them as TOML
        n.visit([&](const auto& v) {
            if constexpr (toml::is_value<decltype(v)>) o << v;
        });
    }
}

void emit_block(std::ostream& o, const toml::table& t, const std::string& path,
                const std::string& section, bool array_element) {
    o << (array_element ? "[[" : "[") << path << (array_element ? "]]\n" : "]\n");
    const auto keys = ordered_keys(t, field_order(section));
    for (const auto& k : keys) {
        if (is_table_array(*t.get(k))) continue;
        o << key_text(k) << " = ";
        value_text(o, *t.get(k));
        o << "\n";
    }
    for (const auto& k : keys)
        if (is_table_array(*t.get(k)))
            for (const auto& e : *t.get(k)->as_array()) {
                o << "\n";
                emit_block(o, *e.as_table(), path + "." + key_text(k), section + "." + k, true);
            }
}

std::string text_of(const toml::table& t, const char* key) {
    return t[key].value_or(std::string());
}

std::string describe_spec(const std::string& spec) {
    std::string out;
    for (const auto& term : netem_terms(spec)) {
        std::string k = term.kind;
        // "delay 5ms 1ms": a second number is jitter, which reorders too.
        if (k == "delay" && std::count(term.text.begin(), term.text.end(), ' ') >= 2)
            k += "+jitter";
        if (k == "distribution") k = term.text;
        out += (out.empty() ? "" : ", ") + k;
    }
    return out;
}

std::string describe_workload(const toml::table& w) {
    const std::string type = text_of(w, "type");
    std::string out = text_of(w, "protocol") == "mptcp" ? "mptcp " + type : type;
    if (type == "bulk") out += " " + w["direction"].value_or(std::string("up"));
    if (type == "dns") return out + " family " + w["family"].value_or(std::string("any"));
    out += text_of(w, "server_addr").find(':') == std::string::npos ? " v4" : " v6";
    if (w.contains("congestion")) out += " " + text_of(w, "congestion");
    return out;
}

}  // namespace

std::vector<NetemTerm> netem_terms(const std::string& spec) {
    static const std::set<std::string> kKeywords = {
        "delay", "latency",   "distribution", "loss", "drop", "reorder",
        "gap",   "duplicate", "corrupt",      "rate", "limit"};
    std::vector<NetemTerm> out;
    std::istringstream in(spec);
    std::string tok;
    while (in >> tok) {
        const bool gap_of_reorder = tok == "gap" && !out.empty() && out.back().kind == "reorder";
        if (out.empty() || (kKeywords.count(tok) && !gap_of_reorder)) {
            out.push_back({tok == "latency" ? "delay" : tok == "drop" ? "loss" : tok, tok});
            continue;
        }
        if (out.back().kind ==
            "loss") {  // its model: random (also a bare percentage), gemodel, state
            const bool named = tok == "random" || tok == "gemodel" || tok == "state";
            out.back().kind += named ? " " + tok : " random";
        }
        out.back().text += " " + tok;
    }
    return out;
}

std::string format_experiment(const toml::table& root) {
    std::ostringstream o;
    const auto keys = ordered_keys(root, kSections);
    for (const auto& k : keys) {  // plain values come before any table in TOML
        const toml::node& n = *root.get(k);
        if (n.is_table() || is_table_array(n)) continue;
        o << key_text(k) << " = ";
        value_text(o, n);
        o << "\n";
    }
    bool first = o.tellp() == 0;
    for (const auto& k : keys) {
        const toml::node& n = *root.get(k);
        if (n.is_table()) {
            o << (first ? "" : "\n");
            emit_block(o, *n.as_table(), key_text(k), k, false);
            first = false;
        } else if (is_table_array(n)) {
            for (const auto& e : *n.as_array()) {
                o << (first ? "" : "\n");
                emit_block(o, *e.as_table(), key_text(k), k, true);
                first = false;
            }
        }
    }
    return o.str();
}

std::string describe_experiment(const toml::table& root) {
    std::vector<std::string> parts;
    const toml::array* links = root["link"].as_array();
    const toml::array* loads = root["workload"].as_array();
    const size_t n_links = links ? links->size() : 0;
    bool mptcp = false;
    for (size_t i = 0; loads && i < loads->size(); ++i)
        if (const auto* w = (*loads)[i].as_table()) mptcp |= text_of(*w, "protocol") == "mptcp";
    parts.push_back(mptcp ? std::to_string(n_links) + " paths (MPTCP)"
                          : std::to_string(n_links) + (n_links == 1 ? " hop" : " hops"));
    for (size_t i = 0; links && i < links->size(); ++i) {
        const auto* l = (*links)[i].as_table();
        if (!l) continue;
        for (const char* dir : {"a_to_b", "b_to_a"})
            if (const std::string s = describe_spec(text_of(*l, dir)); !s.empty())
                parts.push_back(text_of(*l, "name") + " " + dir + " " + s);
        if (const auto* ch = (*l)["change"].as_array())
            for (const auto& c : *ch)
                if (const auto* ct = c.as_table())
                    parts.push_back(text_of(*l, "name") + " changes at " + text_of(*ct, "at"));
    }
    if (const auto* eps = root["mptcp_endpoint"].as_array())
        for (const auto& e : *eps)
            if (const auto* et = e.as_table()) {
                if (et->contains("at")) parts.push_back("endpoint added at " + text_of(*et, "at"));
                if (et->contains("remove_at"))
                    parts.push_back("endpoint removed at " + text_of(*et, "remove_at"));
            }
    std::string wl;
    for (size_t i = 0; loads && i < loads->size(); ++i)
        if (const auto* w = (*loads)[i].as_table())
            wl += (wl.empty() ? "" : ", ") + describe_workload(*w);
    if (!wl.empty()) parts.push_back(wl);
    std::string out;
    for (const auto& p : parts) out += (out.empty() ? "" : "; ") + p;
    return out;
}

}  // namespace fc::explore
