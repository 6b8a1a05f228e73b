#include "fsm.hpp"

namespace fc {

std::optional<State> next_state(State from, Trigger t) {
    if (is_terminal(from)) return std::nullopt;
    switch (t) {
        case Trigger::FINISH:
            return State::FINISHED;
        case Trigger::NETWORK_FAIL:
            return State::NETWORK_ERROR;
        case Trigger::PROTOCOL_FAIL:
            return State::PROTOCOL_ERROR;
        case Trigger::LOSE_TRACK:
            return State::DESYNC;
        case Trigger::ESTABLISH:
            if (from == State::NEW) return State::ESTABLISHED;
            return std::nullopt;
        case Trigger::LOSSY_ENTER:
            if (from == State::ESTABLISHED) return State::DEGRADED;
            return std::nullopt;
        case Trigger::LOSSY_EXIT:
            if (from == State::DEGRADED) return State::ESTABLISHED;
            return std::nullopt;
        case Trigger::CHANGE:
            if (from == State::ESTABLISHED || from == State::DEGRADED) return from;
            return std::nullopt;
    }
    return std::nullopt;
}

std::string_view to_string(State s) {
    switch (s) {
        case State::NEW:
            return "NEW";
        case State::ESTABLISHED:
            return "ESTABLISHED";
        case State::DEGRADED:
            return "DEGRADED";
        case State::FINISHED:
            return "FINISHED";
        case State::NETWORK_ERROR:
            return "NETWORK_ERROR";
        case State::PROTOCOL_ERROR:
            return "PROTOCOL_ERROR";
        case State::DESYNC:
            return "DESYNC";
    }
    return "?";
}

std::string_view to_string(Trigger t) {
    switch (t) {
        case Trigger::ESTABLISH:
            return "ESTABLISH";
        case Trigger::LOSSY_ENTER:
            return "LOSSY_ENTER";
        case Trigger::LOSSY_EXIT:
            return "LOSSY_EXIT";
        case Trigger::FINISH:
            return "FINISH";
        case Trigger::NETWORK_FAIL:
            return "NETWORK_FAIL";
        case Trigger::PROTOCOL_FAIL:
            return "PROTOCOL_FAIL";
        case Trigger::LOSE_TRACK:
            return "LOSE_TRACK";
        case Trigger::CHANGE:
            return "CHANGE";
    }
    return "?";
}

}  // namespace fc
