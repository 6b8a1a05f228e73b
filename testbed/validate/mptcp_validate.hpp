// The MPTCP half of the validator: each connection side the workload saw
// (MPTCP_FULL_INFO just before close) against the agent's connection record
// chain, its subflows' TCP profiles, the path manager's events (`ip mptcp
// monitor`) and the captures' MP_JOIN handshakes. Rows have protocol "mptcp".
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "validate/inputs.hpp"
#include "validate/validate.hpp"

namespace fc::validate {

// `subflows`: every TCP connection of the repetition's agents marked as an
// MPTCP subflow (mptcp_subflow != 0).
void validate_mptcp_rep(const Manifest& m, const std::vector<MptcpTruth>& truth,
                        const std::vector<const AgentConn*>& connections,
                        const std::vector<const AgentConn*>& subflows, Result& r);

}  // namespace fc::validate
