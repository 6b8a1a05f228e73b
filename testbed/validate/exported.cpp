#include "validate/exported.hpp"

#include <algorithm>

namespace fc::validate {

namespace {

// Why a profile has no value for `kpi`; empty when it has one.
std::string why_missing(const Profile& p, const std::string& kpi) {
    if (p.kpi.count(kpi)) return "";
    if (p.null_kpis.count(kpi)) return "NULL in profile " + std::to_string(p.profile_seq);
    return "column absent";
}

}  // namespace

Exported sum_of(const AgentConn& c, const std::string& kpi) {
    double s = 0;
    for (const auto& p : c.profiles) {
        if (auto why = why_missing(p, kpi); !why.empty()) return {std::nullopt, kpi + ": " + why};
        s += p.kpi.at(kpi);
    }
    return {s, ""};
}

Exported last_of(const AgentConn& c, const std::string& kpi) {
    const auto& p = c.profiles.back();
    if (auto why = why_missing(p, kpi); !why.empty()) return {std::nullopt, kpi + ": " + why};
    return {p.kpi.at(kpi), ""};
}

Exported max_of(const AgentConn& c, const std::string& kpi) {
    double m = 0;
    for (const auto& p : c.profiles) {
        if (auto why = why_missing(p, kpi); !why.empty()) return {std::nullopt, kpi + ": " + why};
        m = std::max(m, p.kpi.at(kpi));
    }
    return {m, ""};
}

Exported weighted_mean_of(const AgentConn& c, const std::string& mean, const std::string& weight) {
    double num = 0, den = 0;
    for (const auto& p : c.profiles) {
        for (const auto* k : {&mean, &weight})
            if (auto why = why_missing(p, *k); !why.empty()) return {std::nullopt, *k + ": " + why};
        num += p.kpi.at(mean) * p.kpi.at(weight);
        den += p.kpi.at(weight);
    }
    if (den <= 0) return {std::nullopt, "no " + weight + " in the agent's windows"};
    return {num / den, ""};
}

Exported value_of(const DnsProfile& p, const std::string& kpi) {
    if (const auto it = p.kpi.find(kpi); it != p.kpi.end()) return {it->second, ""};
    return {std::nullopt, kpi + ": " + (p.null_kpis.count(kpi) ? "NULL" : "column absent")};
}

void set_exported(Detail& d, const Exported& e) {
    d.missing = !e.value;
    d.exported = e.value.value_or(0);
    if (d.missing) d.note = e.missing + (d.note.empty() ? "" : "; " + d.note);
}

}  // namespace fc::validate
