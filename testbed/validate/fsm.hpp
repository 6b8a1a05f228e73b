// The generic state machine as the profiles carry it (docs/ipfix-fields.md):
// states, close causes, the chain of a connection's profiles, and what a
// TCP workload's outcome says its terminal profile must be.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "validate/inputs.hpp"

namespace fc::validate {

enum State : int64_t {
    kNew = 1,
    kEstablished = 2,
    kDegraded = 3,
    kFinished = 4,
    kNetErr = 5,
    kProtoErr = 6,
    kDesync = 7
};
enum Cause : int64_t {
    kFin = 1,
    kRstSent = 2,
    kRstReceived = 3,
    kTimeout = 4,
    kRefused = 5,
    kUnreachable = 6,
    kOther = 9
};

// Defects of a connection's profile chain (profile_seq without gaps, NEW
// first, contiguous windows, no DESYNC, a terminal end); empty when complete.
std::vector<std::string> chain_defects(const AgentConn& c);

// Expected (end state, close cause) of the terminal profile; state 0 = NETWORK
// or PROTOCOL_ERROR both accepted (errno outside the table).
std::optional<std::pair<int64_t, int64_t>> expected_close(const TruthConn& t);

// What a capture can tell about the close: 1 FIN both ways, 2 a reset, 0 neither.
int64_t close_category_of_cause(int64_t cause);

}  // namespace fc::validate
