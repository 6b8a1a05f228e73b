#include "workload/dns_zone.hpp"

#include <sys/socket.h>

#include <algorithm>
#include <cctype>
#include <stdexcept>

namespace fc::workload::dns {

namespace {

std::string normalise(std::string_view name) {
    std::string out(name);
    if (!out.empty() && out.back() == '.') out.pop_back();
    for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

}  // namespace

const std::vector<ZoneName>& zone_table() {
    static const std::vector<ZoneName> table = {
        {"a.fc.test", {"198.18.200.1"}, {}, {}},
        {"aaaa.fc.test", {}, {"fd00:fc:200::1"}, {}},
        {"both.fc.test",
         {"198.18.200.2", "198.18.200.3"},
         {"fd00:fc:200::2", "fd00:fc:200::3"},
         {}},
        {"txt-only.fc.test", {}, {}, {"flowcorder test zone: no address here"}},
    };
    return table;
}

const ZoneName* zone_lookup(std::string_view name) {
    const std::string n = normalise(name);
    for (const auto& z : zone_table())
        if (z.name == n) return &z;
    return nullptr;
}

std::string check_test_name(std::string_view name) {
    const std::string n = normalise(name);
    const std::string suffix = std::string(".") + kZone;
    if (n.size() <= suffix.size() || n.compare(n.size() - suffix.size(), suffix.size(), suffix))
        return "'" + std::string(name) + "' is not a name below " + kZone;
    if (n.size() > 253) return "'" + std::string(name) + "' is longer than 253 characters";
    size_t start = 0;
    while (start <= n.size()) {
        const size_t dot = std::min(n.find('.', start), n.size());
        const std::string_view label(n.data() + start, dot - start);
        if (label.empty() || label.size() > 63)
            return "'" + std::string(name) + "' has a label of " + std::to_string(label.size()) +
                   " characters (1..63)";
        for (char c : label)
            if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-')
                return "'" + std::string(name) + "': '" + std::string(1, c) +
                       "' is not allowed in a name (a-z, 0-9, '-')";
        if (label.front() == '-' || label.back() == '-')
            return "'" + std::string(name) + "': a label cannot start or end with '-'";
        start = dot + 1;
    }
    return "";
}

std::optional<Family> family_from_string(std::string_view s) {
    if (s == "any") return Family::any;
    if (s == "4") return Family::v4;
    if (s == "6") return Family::v6;
    return std::nullopt;
}

const char* to_string(Family f) {
    switch (f) {
        case Family::any:
            return "any";
        case Family::v4:
            return "4";
        case Family::v6:
            return "6";
    }
    return "?";
}

int to_af(Family f) { return f == Family::v4 ? AF_INET : f == Family::v6 ? AF_INET6 : AF_UNSPEC; }

std::string expected_outcome(std::string_view name, Family f,
                             const std::vector<std::string>& servfail) {
    const std::string n = normalise(name);
    for (const auto& s : servfail)
        if (normalise(s) == n) return "temporary";
    const ZoneName* z = zone_lookup(n);
    if (!z) return "nxdomain";
    const bool v4 = f != Family::v6 && !z->v4.empty();
    const bool v6 = f != Family::v4 && !z->v6.empty();
    return v4 || v6 ? "answer" : "nodata";
}

const std::vector<std::string>& expectations() {
    static const std::vector<std::string> e = {"mixed",    "ok",      "nxdomain", "nodata",
                                               "servfail", "timeout", "any"};
    return e;
}

std::optional<std::string> expected_for(std::string_view expect, std::string_view name, Family f,
                                        const std::vector<std::string>& servfail) {
    if (expect == "mixed") return expected_outcome(name, f, servfail);
    if (expect == "ok") return "answer";
    if (expect == "nxdomain") return "nxdomain";
    if (expect == "nodata") return "nodata";
    // getaddrinfo reports a SERVFAIL and a resolver timeout alike (EAI_AGAIN).
    if (expect == "servfail" || expect == "timeout") return "temporary";
    if (expect == "any") return std::nullopt;
    throw std::invalid_argument("'" + std::string(expect) +
                                "' is not an expectation: mixed, ok, nxdomain, nodata, servfail, "
                                "timeout or any");
}

}  // namespace fc::workload::dns
