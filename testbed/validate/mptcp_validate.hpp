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
// MPTCP subflow (mptcp_subflow != 0). `plain`: its other TCP connections;
// the ones an MPTCP truth claims (a passive side that fell back before its
// MPTCP socket existed, so its agent rightly saw plain TCP) are returned,
// for the TCP half to leave alone.
std::vector<const AgentConn*> validate_mptcp_rep(const Manifest& m,
                                                 const std::vector<MptcpTruth>& truth,
                                                 const std::vector<const AgentConn*>& connections,
                                                 const std::vector<const AgentConn*>& subflows,
                                                 const std::vector<const AgentConn*>& plain,
                                                 Result& r);

}  // namespace fc::validate
