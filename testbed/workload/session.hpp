// One established connection's I/O, shared by client and server: sending and
// receiving counted bytes with an idle limit, the orderly close, and reading
// the truth at the very end.
//
// The close is what makes TCP_INFO a ground truth: once a side has sent
// everything it shuts its write side, reads until EOF, then polls TCP_INFO
// until tcpi_state is TCP_CLOSE (both FINs sent and acknowledged: the active
// closer went through TIME_WAIT, which moves the user socket to CLOSE, the
// passive one through LAST_ACK). Only then is TCP_INFO read and the socket
// closed, so no later segment can change the numbers, and they equal what the
// kernel holds at the connection's end.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <span>
#include <string>

#include "workload/endpoint.hpp"
#include "workload/mptcp_info.hpp"
#include "workload/truth.hpp"

namespace fc::workload {

struct Limits {
    // Give up (RST, outcome "aborted") when no byte moved for this long.
    std::chrono::nanoseconds idle_timeout = std::chrono::seconds(5);
    // How long to wait for TCP_CLOSE after EOF before reading TCP_INFO anyway.
    std::chrono::nanoseconds close_timeout = std::chrono::seconds(5);
    // Set by the owner to abort every session now (server shutdown).
    const std::atomic<bool>* abort_now = nullptr;
    // An IPPROTO_MPTCP socket: the close waits for the DATA_FIN to be
    // acknowledged (MPTCP_INFO snd_una == write_seq) instead of TCP_CLOSE,
    // and conclude() reads MPTCP_FULL_INFO into the truth's "mptcp".
    bool mptcp = false;
};

class Session {
  public:
    // `fd` is connected and non-blocking; `truth` receives the counters and outcome.
    Session(Fd fd, Limits limits, ConnTruth& truth);

    // Each returns false once the session has failed (then the rest is skipped).
    // `prefix` goes first, in the same writes as the n pattern bytes after it
    // (so the header and a small request share a segment).
    bool send_bytes(uint64_t n, std::span<const uint8_t> prefix = {});
    bool recv_exact(std::span<uint8_t> into);
    bool recv_bytes(uint64_t n);  // discarded
    // A peer that broke the protocol: RST, outcome "error" with EPROTO.
    void fail_protocol();
    // shutdown(SHUT_WR), read until EOF, wait for TCP_CLOSE.
    bool close_orderly();
    // Reads TCP_INFO into the truth, stamps t_end_ns, closes (with RST if we gave up).
    void conclude();

    bool failed() const { return failed_; }
    int fd() const { return fd_.get(); }

  private:
    enum class Wait { ready, idle, aborted, error };
    Wait wait_for(short events);
    bool fail_wait(Wait w);
    bool fail_errno(int err);
    void fail_aborted();

    Fd fd_;
    Limits limits_;
    ConnTruth& truth_;
    std::chrono::steady_clock::time_point last_progress_;
    bool failed_ = false;
    bool send_rst_ = false;
    bool subflows_acked_ = false;
    // MPTCP: subflow views taken every kSnapshotEvery of I/O and at EOF.
    void snapshot(bool force);
    SubflowSnapshots snapshots_;
    std::chrono::steady_clock::time_point
        last_snapshot_{};  // MPTCP: every subflow's unacked reached 0 at the close
};

// Maps a socket errno to the truth's outcome and closed_by.
void set_error_outcome(ConnTruth& t, int err);

}  // namespace fc::workload
