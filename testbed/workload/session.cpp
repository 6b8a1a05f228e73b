#include "workload/session.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "workload/mptcp_info.hpp"

namespace fc::workload {
namespace {

constexpr size_t kChunk = 64 * 1024;
constexpr auto kPollSlice = std::chrono::milliseconds(50);
constexpr auto kSnapshotEvery = std::chrono::milliseconds(20);

// Payload bytes: a fixed non-zero pattern, so captures show real data.
const std::array<uint8_t, kChunk>& pattern() {
    static const auto p = [] {
        std::array<uint8_t, kChunk> a{};
        for (size_t i = 0; i < a.size(); ++i) a[i] = static_cast<uint8_t>('a' + i % 26);
        return a;
    }();
    return p;
}

}  // namespace

void set_error_outcome(ConnTruth& t, int err) {
    t.err = err;
    switch (err) {
        case ECONNRESET:
        case EPIPE:
            t.outcome = "reset";
            t.closed_by = "rst_received";
            return;
        case ECONNREFUSED:
            t.outcome = "refused";
            break;
        case ETIMEDOUT:
            t.outcome = "timeout";
            break;
        case EHOSTUNREACH:
        case ENETUNREACH:
            t.outcome = "unreachable";
            break;
        default:
            t.outcome = "error";
    }
    // The kernel dropped the connection itself, no FIN or RST from either side
    // ("none" when it never was established).
    t.closed_by = t.t_connected_ns ? "error" : "none";
}

Session::Session(Fd fd, Limits limits, ConnTruth& truth)
    : fd_(std::move(fd)),
      limits_(limits),
      truth_(truth),
      last_progress_(std::chrono::steady_clock::now()) {}

Session::Wait Session::wait_for(short events) {
    for (;;) {
        if (limits_.abort_now && limits_.abort_now->load()) return Wait::aborted;
        const auto idle_left =
            limits_.idle_timeout - (std::chrono::steady_clock::now() - last_progress_);
        if (idle_left <= std::chrono::nanoseconds::zero()) return Wait::idle;
        const auto slice = std::min<std::chrono::nanoseconds>(idle_left, kPollSlice);
        pollfd p{fd_.get(), events, 0};
        const int timeout_ms =
            static_cast<int>(std::chrono::ceil<std::chrono::milliseconds>(slice).count());
        const int r = poll(&p, 1, timeout_ms);
        if (r > 0) return Wait::ready;  // errors show up in the next send/recv
        if (r < 0 && errno != EINTR) return Wait::error;
    }
}

bool Session::fail_wait(Wait w) {
    if (w == Wait::error) return fail_errno(errno);
    fail_aborted();
    return false;
}

bool Session::fail_errno(int err) {
    failed_ = true;
    set_error_outcome(truth_, err);
    return false;
}

void Session::fail_aborted() {
    failed_ = true;
    send_rst_ = true;
    truth_.outcome = "aborted";
    truth_.err = 0;
    truth_.closed_by = "rst_sent";
}

void Session::fail_protocol() {
    failed_ = true;
    send_rst_ = true;
    truth_.outcome = "error";
    truth_.err = EPROTO;
    truth_.closed_by = "rst_sent";
}

bool Session::send_bytes(uint64_t n, std::span<const uint8_t> prefix) {
    if (failed_) return false;
    if (prefix.size() > kChunk / 2) throw std::length_error("send_bytes: prefix too long");
    std::array<uint8_t, kChunk> first{};  // prefix + the start of the pattern
    uint64_t left = prefix.size() + n;
    size_t prefix_left = prefix.size();
    while (left > 0) {
        const uint8_t* data = pattern().data();
        size_t len = static_cast<size_t>(std::min<uint64_t>(left, kChunk));
        if (prefix_left > 0) {
            const size_t off = prefix.size() - prefix_left;
            std::memcpy(first.data(), prefix.data() + off, prefix_left);
            std::memcpy(first.data() + prefix_left, pattern().data(), len - prefix_left);
            data = first.data();
        }
        const ssize_t w = send(fd_.get(), data, len, MSG_NOSIGNAL);
        if (w > 0) {
            const auto sent = static_cast<size_t>(w);
            left -= sent;
            prefix_left -= std::min(prefix_left, sent);
            truth_.app_bytes_sent += sent;
            last_progress_ = std::chrono::steady_clock::now();
            snapshot(false);
        } else if (errno == EAGAIN || errno == EINTR) {
            if (const Wait wt = wait_for(POLLOUT); wt != Wait::ready) return fail_wait(wt);
        } else {
            return fail_errno(errno);
        }
    }
    return true;
}

bool Session::recv_exact(std::span<uint8_t> into) {
    size_t got = 0;
    while (!failed_ && got < into.size()) {
        const ssize_t r = recv(fd_.get(), into.data() + got, into.size() - got, 0);
        if (r > 0) {
            got += static_cast<size_t>(r);
            truth_.app_bytes_received += static_cast<uint64_t>(r);
            last_progress_ = std::chrono::steady_clock::now();
            snapshot(false);
        } else if (r == 0) {
            fail_protocol();  // EOF before the announced bytes
        } else if (errno == EAGAIN || errno == EINTR) {
            if (const Wait wt = wait_for(POLLIN); wt != Wait::ready) return fail_wait(wt);
        } else {
            return fail_errno(errno);
        }
    }
    return !failed_;
}

bool Session::recv_bytes(uint64_t n) {
    static thread_local std::array<uint8_t, kChunk> sink;
    while (!failed_ && n > 0) {
        const size_t want = static_cast<size_t>(std::min<uint64_t>(n, sink.size()));
        if (!recv_exact(std::span(sink.data(), want))) break;
        n -= want;
    }
    return !failed_;
}

bool Session::close_orderly() {
    if (failed_) return false;
    if (shutdown(fd_.get(), SHUT_WR) != 0) return fail_errno(errno);
    for (;;) {
        uint8_t extra = 0;
        const ssize_t r = recv(fd_.get(), &extra, 1, 0);
        if (r == 0) {  // the peer's FIN
            snapshot(true);
            break;
        }
        if (r > 0) {
            fail_protocol();  // more than announced
            return false;
        }
        if (errno != EAGAIN && errno != EINTR) return fail_errno(errno);
        if (const Wait wt = wait_for(POLLIN); wt != Wait::ready) return fail_wait(wt);
    }
    truth_.closed_by = "fin";
    // MPTCP: every byte sent, the DATA_FIN included, acknowledged at data
    // level; the counters cannot change any more. A fallen-back socket
    // refuses MPTCP_INFO and is waited for like TCP below.
    if (limits_.mptcp && read_mptcp_info(fd_.get())) {
        const int ms = static_cast<int>(
            std::chrono::duration_cast<std::chrono::milliseconds>(limits_.close_timeout).count());
        if (wait_mptcp_acked(fd_.get(), ms))
            subflows_acked_ = wait_subflows_acked(fd_.get(), std::min(ms, 1000));
        snapshot(true);
        return true;
    }
    // Our FIN may still be unacknowledged: wait for the kernel to finish.
    const auto deadline = std::chrono::steady_clock::now() + limits_.close_timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        const auto s = read_tcp_info(fd_.get());
        if (!s || s->info.tcpi_state == 7 /* TCP_CLOSE */) break;
        if (limits_.abort_now && limits_.abort_now->load()) break;
        poll(nullptr, 0, 1);
    }
    return true;
}

void Session::snapshot(bool force) {
    if (!limits_.mptcp) return;
    const auto now = std::chrono::steady_clock::now();
    if (!force && now - last_snapshot_ < kSnapshotEvery) return;
    last_snapshot_ = now;
    snapshots_.take(fd_.get(), realtime_ns());
}

void Session::conclude() {
    truth_.tcp_info = read_tcp_info(fd_.get());
    char ca[16] = "";
    socklen_t ca_len = sizeof ca;
    if (getsockopt(fd_.get(), IPPROTO_TCP, TCP_CONGESTION, ca, &ca_len) == 0)
        truth_.congestion.assign(ca, strnlen(ca, std::min<size_t>(ca_len, sizeof ca)));
    if (limits_.mptcp) {
        truth_.mptcp = read_mptcp_truth(fd_.get());
        (*truth_.mptcp)["subflows_acked"] = subflows_acked_;
        snapshots_.merge_into(*truth_.mptcp);
        // TCP_INFO of the MPTCP socket is not a subflow's: per subflow it is in "mptcp".
        truth_.tcp_info.reset();
    }
    truth_.t_end_ns = realtime_ns();
    if (send_rst_) {
        const linger l{1, 0};  // close() now sends RST instead of FIN
        setsockopt(fd_.get(), SOL_SOCKET, SO_LINGER, &l, sizeof l);
    }
    fd_.reset();
}

}  // namespace fc::workload
