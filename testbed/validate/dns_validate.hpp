// The DNS half of the validator: each lookup the workload's tool timed
// against the agent's resolver-view profile, each query the capture saw
// against the agent's wire-view profile, the server's query log and the
// impairment log against the attempts. Rows have protocol "dns".
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "validate/inputs.hpp"
#include "validate/validate.hpp"

namespace fc::validate {

void validate_dns_rep(const Manifest& m, const std::vector<DnsLookupTruth>& lookups,
                      const std::vector<DnsServerQuery>& server_log,
                      const std::vector<const DnsProfile*>& agent, Result& r);

}  // namespace fc::validate
