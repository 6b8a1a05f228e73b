// The MPTCP plugin of the generic FSM: connection-level events in, profiles
// of the MPTCP connection out (templates mptcp4/mptcp6).
//
// The probes are the TCP probes' (probes/tcp_monitor.bpf.c, loaded with
// ProbeOptions::mptcp): the MPTCP socket's own state changes (open,
// established, close) and its subflows' joins, closes and lossy periods,
// each with struct mptcp_sock's data-level counters. The subflows themselves
// are TCP sockets: their profiles come from the TCP profiler, marked with
// fcMptcpSubflow and this connection's flowId in fcMptcpConnectionId.
//
// Transitions: NEW -> ESTABLISHED (MP_CAPABLE, or fallback to TCP); a
// subflow joining or closing is a CHANGE (same state, one profile);
// ESTABLISHED <-> DEGRADED while at least one subflow is in Recovery or Loss;
// the MPTCP socket's CLOSE ends it, with a TCP-like cause. fcMptcpTrigger
// says which of these ended each window.
#pragma once

#include <cstdint>
#include <functional>
#include <unordered_map>

#include "core/clock.hpp"
#include "core/fsm.hpp"
#include "core/profile.hpp"
#include "core/sink.hpp"
#include "tcp_monitor.h"

namespace fc::mptcp {

// Values of fcMptcpTrigger (agent/ipfix/fields.def).
enum class Why : uint8_t {
    NONE = 0,
    ESTABLISHED = 1,
    FALLBACK = 2,
    SUBFLOW_JOINED = 3,
    SUBFLOW_CLOSED = 4,
    LOSSY_ENTER = 5,
    LOSSY_EXIT = 6,
    CLOSED = 7,
    LOST_TRACK = 8,
};

// KPI fields over the window [a, b]; subflows_max is the window's maximum.
void fill_kpis(const fc_mptcp_snapshot& a, const fc_mptcp_snapshot& b, uint16_t subflows_max,
               ipfix::Record& r);

// Template (mptcp4/mptcp6), addresses, ports, protocol, ids, role.
void fill_identity(const fc_conn_key& key, uint64_t conn_id, uint8_t role, uint32_t token,
                   ipfix::Record& r);

struct MptcpCounters {
    uint64_t connections = 0;  // opened while the agent watched
    uint64_t fallbacks = 0;    // of which fell back to TCP at the handshake
    uint64_t joins = 0;        // subflow-joined transitions
    uint64_t subflow_closes = 0;
    uint64_t desyncs = 0;
    uint64_t unknown_events = 0;  // events of connections opened before the agent
};

class MptcpProfiler {
  public:
    MptcpProfiler(const WallClock& clock, ProfileSink& sink) : clock_(clock), sink_(sink) {}

    void on_event(const fc_mptcp_event& e);

    // Connections whose kernel entry vanished without a CLOSE reaching us
    // end in DESYNC once seen missing twice in a row (as TCP's).
    void sweep(const std::function<bool(uint64_t skaddr)>& kernel_has);
    // Agent shutdown: every open connection gets a DESYNC profile.
    void finish_all();

    size_t tracked() const { return conns_.size(); }
    const MptcpCounters& counters() const { return n_; }

  private:
    struct Conn {
        fc_conn_key key{};
        uint64_t skaddr = 0;
        uint8_t role = 0;
        uint32_t token = 0;
        State state = State::NEW;
        uint64_t window_start_ns = 0;
        fc_mptcp_snapshot base{};  // counters at the last transition
        uint16_t window_max = 0;   // most subflows during the current window
        uint32_t last_seq = 0;
        uint32_t profiles = 0;
        int missing_sweeps = 0;
    };

    // Applies a trigger; emits a profile if the FSM moves (CHANGE included).
    void apply(uint64_t conn_id, Conn& c, Trigger t, Why why, uint64_t at_ns,
               const fc_mptcp_snapshot* snap, uint64_t sf_flow_id = 0,
               CloseCause cause = CloseCause::NONE, int err = 0);
    void open(const fc_mptcp_event& e);

    const WallClock& clock_;
    ProfileSink& sink_;
    std::unordered_map<uint64_t, Conn> conns_;
    MptcpCounters n_;
};

}  // namespace fc::mptcp
