// The generic connection state machine (DESIGN.md, "The generic FSM").
// Protocol-agnostic: TCP, MPTCP subflows and connections, and DNS queries
// all drive this one table with the same triggers.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace fc {

// Values are exported as fcStartState/fcEndState: keep them stable.
enum class State : uint8_t {
    NEW = 1,
    ESTABLISHED = 2,
    DEGRADED = 3,
    FINISHED = 4,
    NETWORK_ERROR = 5,
    PROTOCOL_ERROR = 6,
    DESYNC = 7,
};

enum class Trigger : uint8_t {
    ESTABLISH,      // handshake completed
    LOSSY_ENTER,    // a lossy period starts (RTO, recovery; MPTCP: subflow change)
    LOSSY_EXIT,     // the lossy period is over
    FINISH,         // orderly end
    NETWORK_FAIL,   // unreachable, timeout
    PROTOCOL_FAIL,  // reset, refused
    LOSE_TRACK,     // the instrumentation missed events
    CHANGE,         // the connection changed but keeps its state (MPTCP: a subflow
                    // joined or closed): one profile, start state = end state
};

constexpr bool is_terminal(State s) {
    return s == State::FINISHED || s == State::NETWORK_ERROR || s == State::PROTOCOL_ERROR ||
           s == State::DESYNC;
}

// The transition table. nullopt: the trigger does not change the state (and
// so yields no profile), e.g. a lossy period during the handshake, whose
// cost is carried by the opening profile's counters instead. CHANGE is the
// one self-transition: ESTABLISHED or DEGRADED to itself.
std::optional<State> next_state(State from, Trigger t);

std::string_view to_string(State s);
std::string_view to_string(Trigger t);

}  // namespace fc
