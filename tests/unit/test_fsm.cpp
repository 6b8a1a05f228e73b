#include <gtest/gtest.h>

#include "core/fsm.hpp"

using fc::next_state;
using fc::State;
using fc::Trigger;

TEST(Fsm, CleanConnectionOpensThenFinishes) {
    EXPECT_EQ(next_state(State::NEW, Trigger::ESTABLISH), State::ESTABLISHED);
    EXPECT_EQ(next_state(State::ESTABLISHED, Trigger::FINISH), State::FINISHED);
}

TEST(Fsm, LossyPeriodIsARoundTrip) {
    EXPECT_EQ(next_state(State::ESTABLISHED, Trigger::LOSSY_ENTER), State::DEGRADED);
    EXPECT_EQ(next_state(State::DEGRADED, Trigger::LOSSY_EXIT), State::ESTABLISHED);
    // Already degraded, or not degraded: no transition, hence no profile.
    EXPECT_EQ(next_state(State::DEGRADED, Trigger::LOSSY_ENTER), std::nullopt);
    EXPECT_EQ(next_state(State::ESTABLISHED, Trigger::LOSSY_EXIT), std::nullopt);
}

TEST(Fsm, HandshakeLossStaysInNew) {
    EXPECT_EQ(next_state(State::NEW, Trigger::LOSSY_ENTER), std::nullopt);
    EXPECT_EQ(next_state(State::NEW, Trigger::LOSSY_EXIT), std::nullopt);
}

TEST(Fsm, ErrorsEndFromEveryLiveState) {
    for (State s : {State::NEW, State::ESTABLISHED, State::DEGRADED}) {
        EXPECT_EQ(next_state(s, Trigger::NETWORK_FAIL), State::NETWORK_ERROR);
        EXPECT_EQ(next_state(s, Trigger::PROTOCOL_FAIL), State::PROTOCOL_ERROR);
        EXPECT_EQ(next_state(s, Trigger::LOSE_TRACK), State::DESYNC);
        EXPECT_EQ(next_state(s, Trigger::FINISH), State::FINISHED);
    }
}

TEST(Fsm, TerminalStatesAreFinal) {
    for (State s : {State::FINISHED, State::NETWORK_ERROR, State::PROTOCOL_ERROR, State::DESYNC}) {
        EXPECT_TRUE(fc::is_terminal(s));
        for (Trigger t :
             {Trigger::ESTABLISH, Trigger::LOSSY_ENTER, Trigger::LOSSY_EXIT, Trigger::FINISH,
              Trigger::NETWORK_FAIL, Trigger::PROTOCOL_FAIL, Trigger::LOSE_TRACK, Trigger::CHANGE})
            EXPECT_EQ(next_state(s, t), std::nullopt)
                << fc::to_string(s) << " " << fc::to_string(t);
    }
}

TEST(Fsm, EstablishOnlyFromNew) {
    EXPECT_EQ(next_state(State::ESTABLISHED, Trigger::ESTABLISH), std::nullopt);
    EXPECT_EQ(next_state(State::DEGRADED, Trigger::ESTABLISH), std::nullopt);
}

TEST(Fsm, ChangeKeepsALiveEstablishedStateAndNothingElse) {
    EXPECT_EQ(next_state(State::ESTABLISHED, Trigger::CHANGE), State::ESTABLISHED);
    EXPECT_EQ(next_state(State::DEGRADED, Trigger::CHANGE), State::DEGRADED);
    EXPECT_EQ(next_state(State::NEW, Trigger::CHANGE), std::nullopt);
}
