#include "tcp_profiler.hpp"

#include <cerrno>

#include "tcp_kpis.hpp"

namespace fc::tcp {

namespace {
// Linux TCP states (include/net/tcp_states.h).
constexpr uint8_t kSynSent = 2, kSynRecv = 3, kFinWait1 = 4, kFinWait2 = 5, kCloseWait = 8,
                  kEstablished = 1;
}  // namespace

CloseVerdict classify_close(uint8_t old_state, int sk_err, bool reset_received, bool linger_abort) {
    if (reset_received || sk_err == ECONNREFUSED || sk_err == ECONNRESET || sk_err == EPIPE) {
        const bool refused = old_state == kSynSent || sk_err == ECONNREFUSED;
        return {Trigger::PROTOCOL_FAIL, refused ? CloseCause::REFUSED : CloseCause::RESET_RECEIVED};
    }
    switch (sk_err) {
        case 0:
            break;
        case ETIMEDOUT:
            return {Trigger::NETWORK_FAIL, CloseCause::TIMEOUT};
        case EHOSTUNREACH:
        case ENETUNREACH:
        case EHOSTDOWN:
        case ENETDOWN:
            return {Trigger::NETWORK_FAIL, CloseCause::UNREACHABLE};
        default:
            return {Trigger::NETWORK_FAIL, CloseCause::OTHER_ERROR};
    }
    // No error: the kernel sets CLOSE before it sends an abortive RST, so an
    // abort is recognised by the state it leaves (tcp_need_reset()).
    // FIN_WAIT2 is left for TIME_WAIT too: there only the linger flag tells.
    if (old_state == kFinWait2 && linger_abort)
        return {Trigger::PROTOCOL_FAIL, CloseCause::RESET_SENT};
    switch (old_state) {
        case kSynSent:
            return {Trigger::FINISH, CloseCause::LOCAL_ABORT};
        case kEstablished:
        case kCloseWait:
        case kFinWait1:
        case kSynRecv:
            return {Trigger::PROTOCOL_FAIL, CloseCause::RESET_SENT};
        default:
            return {Trigger::FINISH, CloseCause::FIN};
    }
}

bool TcpProfiler::apply(uint64_t conn_id, Conn& c, Trigger t, uint64_t at_ns,
                        const fc_tcp_snapshot* snap, CloseCause cause, int sk_err) {
    std::optional<State> to = next_state(c.state, t);
    if (!to) return false;

    ipfix::Record r;
    fill_identity(c.key, conn_id, c.role, r);
    fill_subflow(c.mp, r);
    fill_transition({c.state, *to, c.window_start_ns, at_ns, c.profiles}, r);
    if (snap) fill_kpis(c.base, *snap, c.state == State::NEW, r);
    r.set(ipfix::FieldKey::CLOSE_CAUSE, static_cast<uint64_t>(cause));
    r.set(ipfix::FieldKey::CLOSE_ERRNO, static_cast<uint64_t>(sk_err > 0 ? sk_err : 0));
    sink_.emit(r);

    c.state = *to;
    c.window_start_ns = at_ns;
    if (snap) c.base = *snap;
    c.profiles += 1;
    if (*to == State::DESYNC) desyncs_ += 1;
    return is_terminal(*to);
}

void TcpProfiler::open(const fc_tcp_event& e) {
    Conn c;
    c.key = e.key;
    c.skaddr = e.skaddr;
    c.role = e.role;
    c.mp = e.mp;
    c.last_seq = e.seq;
    const uint64_t at = clock_.from_monotonic(e.ts_ns);
    if (e.type == FC_EV_OPEN_ACTIVE) {
        c.window_start_ns = at;
        c.base = e.snap;
        conns_[e.conn_id] = c;
        return;
    }
    // Passive: the socket exists only once the handshake is over. The opening
    // window starts when the SYN-ACK left, one handshake RTT (the kernel's
    // first sample) before now; its counters start from zero.
    const uint64_t handshake_ns = static_cast<uint64_t>(e.snap.srtt_us) * 1000;
    c.window_start_ns = handshake_ns < at ? at - handshake_ns : at;
    auto [it, _] = conns_.insert_or_assign(e.conn_id, c);
    apply(e.conn_id, it->second, Trigger::ESTABLISH, at, &e.snap);
}

void TcpProfiler::on_event(const fc_tcp_event& e) {
    if (e.type == FC_EV_OPEN_ACTIVE || e.type == FC_EV_OPEN_PASSIVE) {
        open(e);
        return;
    }
    auto it = conns_.find(e.conn_id);
    if (it == conns_.end()) {
        unknown_ += 1;
        return;
    }
    Conn& c = it->second;
    const uint64_t at = clock_.from_monotonic(e.ts_ns);
    c.missing_sweeps = 0;
    // A subflow may learn its connection's id after its open.
    if (e.mp.kind != FC_MPTCP_SF_NONE) c.mp = e.mp;
    bool done = false;
    if (e.seq != c.last_seq + 1) {
        done = apply(e.conn_id, c, Trigger::LOSE_TRACK, at, &e.snap, CloseCause::LOST_TRACK);
    } else {
        c.last_seq = e.seq;
        switch (e.type) {
            case FC_EV_ESTABLISHED:
                apply(e.conn_id, c, Trigger::ESTABLISH, at, &e.snap);
                break;
            case FC_EV_LOSSY_ENTER:
                apply(e.conn_id, c, Trigger::LOSSY_ENTER, at, &e.snap);
                break;
            case FC_EV_LOSSY_EXIT:
                apply(e.conn_id, c, Trigger::LOSSY_EXIT, at, &e.snap);
                break;
            case FC_EV_CLOSE: {
                CloseVerdict v =
                    classify_close(e.old_state, e.sk_err, e.reset_rcvd != 0, e.linger_abort != 0);
                apply(e.conn_id, c, v.trigger, at, &e.snap, v.cause, e.sk_err);
                done = true;  // the kernel forgot this connection whatever we made of it
                break;
            }
            default:
                break;
        }
    }
    if (done) conns_.erase(it);
}

void TcpProfiler::sweep(const std::function<bool(uint64_t)>& kernel_has) {
    const uint64_t now = WallClock::now_ns();
    for (auto it = conns_.begin(); it != conns_.end();) {
        Conn& c = it->second;
        if (kernel_has(c.skaddr)) {
            c.missing_sweeps = 0;
        } else if (++c.missing_sweeps >= 2) {
            apply(it->first, c, Trigger::LOSE_TRACK, now, nullptr, CloseCause::LOST_TRACK);
            it = conns_.erase(it);
            continue;
        }
        ++it;
    }
}

void TcpProfiler::finish_all() {
    const uint64_t now = WallClock::now_ns();
    for (auto& [id, c] : conns_)
        apply(id, c, Trigger::LOSE_TRACK, now, nullptr, CloseCause::LOST_TRACK);
    conns_.clear();
}

}  // namespace fc::tcp
