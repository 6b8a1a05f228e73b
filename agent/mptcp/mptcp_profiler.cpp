#include "mptcp_profiler.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>

#include "core/profile.hpp"
#include "tcp/tcp_kpis.hpp"
#include "tcp/tcp_profiler.hpp"

namespace fc::mptcp {

using ipfix::FieldKey;

void fill_kpis(const fc_mptcp_snapshot& a, const fc_mptcp_snapshot& b, uint16_t subflows_max,
               ipfix::Record& r) {
    r.set(FieldKey::MPTCP_BYTES_SENT, delta64(a.bytes_sent, b.bytes_sent));
    r.set(FieldKey::MPTCP_BYTES_RECEIVED, delta64(a.bytes_received, b.bytes_received));
    r.set(FieldKey::MPTCP_BYTES_ACKED, delta64(a.bytes_acked, b.bytes_acked));
    r.set(FieldKey::MPTCP_BYTES_RETRANS, delta64(a.bytes_retrans, b.bytes_retrans));
    r.set(FieldKey::MPTCP_JOINS, delta32(a.c.joins, b.c.joins));
    r.set(FieldKey::MPTCP_SF_CLOSES, delta32(a.c.sf_closed, b.c.sf_closed));
    r.set(FieldKey::MPTCP_SUBFLOWS, b.c.subflows);
    r.set(FieldKey::MPTCP_SUBFLOWS_MAX, std::max<uint16_t>(subflows_max, b.c.subflows));
    r.set(FieldKey::MPTCP_FALLBACK, b.c.fallback);
}

void fill_identity(const fc_conn_key& key, uint64_t conn_id, uint8_t role, uint32_t token,
                   ipfix::Record& r) {
    // MPTCP is TCP on the wire: TCP's identity, in MPTCP's templates.
    tcp::fill_identity(key, conn_id, role, r, ipfix::TemplateKey::MPTCP_V4,
                       ipfix::TemplateKey::MPTCP_V6);
    r.set(FieldKey::MPTCP_CONN_ID, conn_id);
    r.set(FieldKey::MPTCP_TOKEN, token);
}

void MptcpProfiler::apply(uint64_t conn_id, Conn& c, Trigger t, Why why, uint64_t at_ns,
                          const fc_mptcp_snapshot* snap, uint64_t sf_flow_id, CloseCause cause,
                          int err) {
    std::optional<State> to = next_state(c.state, t);
    if (!to) return;

    ipfix::Record r;
    fill_identity(c.key, conn_id, c.role, c.token, r);
    fill_transition({c.state, *to, c.window_start_ns, at_ns, c.profiles}, r);
    // Without a snapshot (agent stopped, lost track) the window's counters
    // are unknown: zero deltas, levels as last seen.
    fill_kpis(c.base, snap ? *snap : c.base, c.window_max, r);
    r.set(FieldKey::MPTCP_TRIGGER, static_cast<uint64_t>(why));
    r.set(FieldKey::MPTCP_SF_FLOW_ID, sf_flow_id);
    r.set(FieldKey::CLOSE_CAUSE, static_cast<uint64_t>(cause));
    r.set(FieldKey::CLOSE_ERRNO, static_cast<uint64_t>(err > 0 ? err : 0));
    sink_.emit(r);

    c.state = *to;
    c.window_start_ns = at_ns;
    if (snap) c.base = *snap;
    c.window_max = c.base.c.subflows;
    c.profiles += 1;
    if (*to == State::DESYNC) n_.desyncs += 1;
}

void MptcpProfiler::open(const fc_mptcp_event& e) {
    Conn c;
    c.key = e.key;
    c.skaddr = e.skaddr;
    c.role = e.role;
    c.token = e.token;
    c.last_seq = e.seq;
    c.base = e.snap;
    c.window_max = e.snap.c.subflows_max;
    c.window_start_ns = clock_.from_monotonic(e.ts_ns);
    n_.connections += 1;
    auto [it, _] = conns_.insert_or_assign(e.conn_id, c);
    // A passive MPTCP socket is born established (cloned from the listener
    // once the MP_CAPABLE handshake is over): its opening window is empty.
    if (e.type == FC_EV_MP_OPEN_PASSIVE)
        apply(e.conn_id, it->second, Trigger::ESTABLISH, Why::ESTABLISHED, c.window_start_ns,
              &e.snap);
}

void MptcpProfiler::on_event(const fc_mptcp_event& e) {
    if (e.type == FC_EV_MP_OPEN_ACTIVE || e.type == FC_EV_MP_OPEN_PASSIVE) {
        open(e);
        return;
    }
    auto it = conns_.find(e.conn_id);
    if (it == conns_.end()) {
        n_.unknown_events += 1;
        return;
    }
    Conn& c = it->second;
    const uint64_t at = clock_.from_monotonic(e.ts_ns);
    c.missing_sweeps = 0;
    // The MPTCP socket learns its addresses and token during the handshake.
    if (e.key.dport != 0) c.key = e.key;
    if (e.token != 0) c.token = e.token;
    c.window_max = std::max(c.window_max, e.snap.c.subflows_max);
    if (e.seq != c.last_seq + 1) {
        apply(e.conn_id, c, Trigger::LOSE_TRACK, Why::LOST_TRACK, at, &e.snap, 0,
              CloseCause::LOST_TRACK);
        conns_.erase(it);
        return;
    }
    c.last_seq = e.seq;
    switch (e.type) {
        case FC_EV_MP_ESTABLISHED:
            if (e.snap.c.fallback) n_.fallbacks += 1;
            apply(e.conn_id, c, Trigger::ESTABLISH,
                  e.snap.c.fallback ? Why::FALLBACK : Why::ESTABLISHED, at, &e.snap);
            break;
        case FC_EV_MP_SF_JOINED:
            n_.joins += 1;
            apply(e.conn_id, c, Trigger::CHANGE, Why::SUBFLOW_JOINED, at, &e.snap, e.sf_conn_id);
            break;
        case FC_EV_MP_SF_CLOSED:
            n_.subflow_closes += 1;
            // The last lossy subflow going away ends the lossy period.
            apply(e.conn_id, c,
                  c.state == State::DEGRADED && e.snap.c.lossy_subflows == 0 ? Trigger::LOSSY_EXIT
                                                                             : Trigger::CHANGE,
                  Why::SUBFLOW_CLOSED, at, &e.snap, e.sf_conn_id);
            break;
        case FC_EV_MP_LOSSY_ENTER:
            apply(e.conn_id, c, Trigger::LOSSY_ENTER, Why::LOSSY_ENTER, at, &e.snap, e.sf_conn_id);
            break;
        case FC_EV_MP_LOSSY_EXIT:
            apply(e.conn_id, c, Trigger::LOSSY_EXIT, Why::LOSSY_EXIT, at, &e.snap, e.sf_conn_id);
            break;
        case FC_EV_MP_CLOSE: {
            // The MPTCP socket's states are TCP's; MP_FASTCLOSE received
            // stands for a reset received.
            const tcp::CloseVerdict v =
                tcp::classify_close(e.old_state, e.sk_err, e.reset_rcvd != 0);
            apply(e.conn_id, c, v.trigger, Why::CLOSED, at, &e.snap, 0, v.cause, e.sk_err);
            conns_.erase(it);
            break;
        }
        default:
            break;
    }
}

void MptcpProfiler::sweep(const std::function<bool(uint64_t)>& kernel_has) {
    const uint64_t now = WallClock::now_ns();
    for (auto it = conns_.begin(); it != conns_.end();) {
        Conn& c = it->second;
        if (kernel_has(c.skaddr)) {
            c.missing_sweeps = 0;
        } else if (++c.missing_sweeps >= 2) {
            apply(it->first, c, Trigger::LOSE_TRACK, Why::LOST_TRACK, now, nullptr, 0,
                  CloseCause::LOST_TRACK);
            it = conns_.erase(it);
            continue;
        }
        ++it;
    }
}

void MptcpProfiler::finish_all() {
    const uint64_t now = WallClock::now_ns();
    for (auto& [id, c] : conns_)
        apply(id, c, Trigger::LOSE_TRACK, Why::LOST_TRACK, now, nullptr, 0, CloseCause::LOST_TRACK);
    conns_.clear();
}

}  // namespace fc::mptcp
