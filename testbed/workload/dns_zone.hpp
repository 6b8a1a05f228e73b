// The testbed's DNS zone `fc.test` (FORMATS.md, "DNS workload truth"): a
// small fixed table that the harness turns into dnsmasq's configuration and
// that `flowcorder workload dns-client` derives its expectations from. Every
// address is inside 198.18.0.0/15 or fd00::/8 and nothing connects to them.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace fc::workload::dns {

inline constexpr const char* kZone = "fc.test";

struct ZoneName {
    std::string name;              // fully qualified, lower case, no trailing dot
    std::vector<std::string> v4;   // A records, in the order dnsmasq is given them
    std::vector<std::string> v6;   // AAAA records
    std::vector<std::string> txt;  // TXT records (a name with only TXT: NODATA for A/AAAA)
};

// a.fc.test (one A), aaaa.fc.test (one AAAA), both.fc.test (2 A + 2 AAAA),
// txt-only.fc.test (TXT only). Any other name under fc.test is NXDOMAIN.
const std::vector<ZoneName>& zone_table();
// The entry for a name (case-insensitive, a trailing dot ignored), or null.
const ZoneName* zone_lookup(std::string_view name);

// A DNS name strictly below fc.test: labels of 1..63 characters a-z, 0-9
// and '-' (not at either end), at most 253 characters. Returns "" if valid,
// else why not.
std::string check_test_name(std::string_view name);

// getaddrinfo's hints.ai_family: any (AF_UNSPEC), 4 (AF_INET), 6 (AF_INET6).
enum class Family { any, v4, v6 };
std::optional<Family> family_from_string(std::string_view s);
const char* to_string(Family f);
int to_af(Family f);

// The outcome a lookup must have when the zone is served as configured
// (FORMATS.md): "answer", "nodata", "nxdomain", or "temporary" for a name
// in `servfail`.
std::string expected_outcome(std::string_view name, Family f,
                             const std::vector<std::string>& servfail);

// The outcome every lookup must have under `expect` (ok, nxdomain, nodata,
// servfail, timeout), the per-name one under "mixed", or nullopt for "any".
// Throws std::invalid_argument for an unknown expectation.
std::optional<std::string> expected_for(std::string_view expect, std::string_view name, Family f,
                                        const std::vector<std::string>& servfail);

// The expectations `flowcorder workload dns-client --expect` accepts.
const std::vector<std::string>& expectations();

}  // namespace fc::workload::dns
