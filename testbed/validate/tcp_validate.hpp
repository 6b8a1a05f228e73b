// The TCP half of the validator (validate.cpp): each connection side the
// workloads saw against its agent connection, judged against TCP_INFO at
// close, the captures at the host's ends, the impairment engine's log and
// the workload's outcome; every agent connection without truth is an orphan.
// Rows have protocol "tcp".
#pragma once

#include <vector>

#include "validate/inputs.hpp"
#include "validate/validate.hpp"

namespace fc::validate {

// `agent`: the repetition's agent connections that are not MPTCP subflows.
void validate_tcp_rep(const Manifest& m, std::vector<TruthConn> truth,
                      const std::vector<const AgentConn*>& agent, Result& r);

}  // namespace fc::validate
