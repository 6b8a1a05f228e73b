// The TCP plugin of the generic FSM: kernel events in, profiles out.
#pragma once

#include <cstdint>
#include <functional>
#include <unordered_map>

#include "core/clock.hpp"
#include "core/fsm.hpp"
#include "core/profile.hpp"
#include "core/sink.hpp"
#include "tcp_monitor.h"

namespace fc::tcp {

// How a socket's CLOSE maps onto the FSM: which trigger, which cause.
struct CloseVerdict {
    Trigger trigger;
    CloseCause cause;
};
// `linger_abort`: closed with SO_LINGER {1, 0} before the peer's FIN came
// (the probe's fc_tcp_event.linger_abort); a RST follows the transition.
CloseVerdict classify_close(uint8_t old_tcp_state, int sk_err, bool reset_received,
                            bool linger_abort = false);

class TcpProfiler {
  public:
    TcpProfiler(const WallClock& clock, ProfileSink& sink) : clock_(clock), sink_(sink) {}

    void on_event(const fc_tcp_event& e);

    // Connections whose kernel entry vanished without a CLOSE event reaching
    // us (ring buffer overflow) end in DESYNC once seen missing twice in a row.
    void sweep(const std::function<bool(uint64_t skaddr)>& kernel_has);

    // Agent shutdown: every open connection gets a DESYNC profile (forced end).
    void finish_all();

    size_t tracked() const { return conns_.size(); }
    uint64_t desyncs() const { return desyncs_; }
    uint64_t events_for_unknown() const { return unknown_; }

  private:
    struct Conn {
        fc_conn_key key{};
        uint64_t skaddr = 0;
        uint8_t role = 0;
        State state = State::NEW;
        uint64_t window_start_ns = 0;
        fc_tcp_snapshot base{};  // counters at the last transition
        fc_mptcp_mark mp{};      // MPTCP subflow: its connection (agent --mptcp)
        uint32_t last_seq = 0;
        uint32_t profiles = 0;
        int missing_sweeps = 0;
    };

    // Applies a trigger; emits a profile if the state changes. Returns true if
    // the connection reached a terminal state.
    bool apply(uint64_t conn_id, Conn& c, Trigger t, uint64_t at_ns, const fc_tcp_snapshot* snap,
               CloseCause cause = CloseCause::NONE, int sk_err = 0);
    void open(const fc_tcp_event& e);

    const WallClock& clock_;
    ProfileSink& sink_;
    std::unordered_map<uint64_t, Conn> conns_;
    uint64_t desyncs_ = 0;
    uint64_t unknown_ = 0;
};

}  // namespace fc::tcp
