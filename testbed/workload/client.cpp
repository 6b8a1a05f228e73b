#include "workload/client.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>
#include <vector>

#include "workload/mptcp_info.hpp"
#include "workload/session.hpp"
#include "workload/signals.hpp"
#include "workload/truth.hpp"

namespace fc::workload {
namespace {

int ms_of(std::chrono::nanoseconds d) {
    return static_cast<int>(std::chrono::ceil<std::chrono::milliseconds>(d).count());
}

// Local ports this run has used. The kernel may hand a port out again as soon
// as our side of an earlier connection is closed (the server holds the
// TIME_WAIT), which would give two truth lines the same 4-tuple.
class UsedPorts {
  public:
    bool claim(uint16_t port) {
        std::lock_guard lock(mu_);
        return ports_.insert(port).second;
    }

  private:
    std::mutex mu_;
    std::set<uint16_t> ports_;
};

// A socket bound to port 0 (so the local port is known even if connect
// fails) on a port not used before in this run, if one can be found: sockets
// that got a used port stay open meanwhile so that the kernel picks another.
Fd bound_socket(const ClientOptions& o, UsedPorts& used) {
    std::vector<Fd> rejected;
    for (;;) {
        Fd fd(socket(o.connect.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
                     o.mptcp ? kIpprotoMptcp : 0));
        if (!fd) return {};
        sockaddr_storage any{};
        any.ss_family = static_cast<sa_family_t>(o.connect.family);
        if (bind(fd.get(), reinterpret_cast<sockaddr*>(&any), o.connect.len) != 0) {
            // Ports exhausted by the rejects: reuse one rather than fail.
            if (errno == EADDRINUSE && !rejected.empty()) return std::move(rejected.front());
            return {};
        }
        if (used.claim(local_of(fd.get()).port) || rejected.size() >= 64) return fd;
        rejected.push_back(std::move(fd));
    }
}

// TCP_USER_TIMEOUT turns a path that dies mid-transfer into ETIMEDOUT.
// Returns the connected socket, or an empty Fd with the failure in `t`.
Fd open_connection(const ClientOptions& o, UsedPorts& used, ConnTruth& t) {
    t.t_start_ns = realtime_ns();  // again just before connect(), if it gets there
    Fd fd = bound_socket(o, used);
    const unsigned user_timeout_ms = static_cast<unsigned>(ms_of(o.user_timeout));
    const int one = 1;
    // An MPTCP socket may not take TCP_USER_TIMEOUT (ENOPROTOOPT on 6.18): then the
    // kernel's default retransmission limits apply.
    const bool user_timeout_set = fd && setsockopt(fd.get(), IPPROTO_TCP, TCP_USER_TIMEOUT,
                                                   &user_timeout_ms, sizeof user_timeout_ms) == 0;
    if (fd && !o.congestion.empty() &&
        setsockopt(fd.get(), IPPROTO_TCP, TCP_CONGESTION, o.congestion.data(),
                   o.congestion.size()) != 0) {
        set_error_outcome(t, errno);
        t.t_end_ns = realtime_ns();
        return {};
    }
    if (!fd || (!user_timeout_set && !(o.mptcp && (errno == ENOPROTOOPT || errno == EOPNOTSUPP))) ||
        setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0) {
        set_error_outcome(t, errno);
        t.t_end_ns = realtime_ns();
        return {};
    }
    t.lport = local_of(fd.get()).port;
    int err = 0;
    // The agent's opening window starts inside connect(): read the clock as
    // close to it as we can.
    t.t_start_ns = realtime_ns();
    if (connect(fd.get(), reinterpret_cast<const sockaddr*>(&o.connect.addr), o.connect.len) != 0) {
        err = errno;
        if (err == EINPROGRESS) {
            pollfd p{fd.get(), POLLOUT, 0};
            int r;
            do r = poll(&p, 1, ms_of(o.connect_timeout));
            while (r < 0 && errno == EINTR);
            socklen_t len = sizeof err;
            if (r == 0)
                err = ETIMEDOUT;  // our own connect deadline
            else if (r < 0 || getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len) != 0)
                err = errno;
        }
    }
    if (const AddrPort local = local_of(fd.get()); !local.addr.empty()) t.local = local.addr;
    if (err != 0) {
        set_error_outcome(t, err);
        t.t_end_ns = realtime_ns();
        return {};  // a failed connect leaves no TCP_INFO worth reporting: null
    }
    t.t_connected_ns = realtime_ns();
    return fd;
}

ConnTruth run_connection(const ClientOptions& o, const Header& h, UsedPorts& used,
                         const std::atomic<bool>& stopping, uint64_t index) {
    ConnTruth t;
    t.host = o.host;
    t.workload = o.workload;
    t.role = "client";
    t.conn = index;
    t.is_mptcp = o.mptcp;
    t.type = std::string(to_string(o.type));
    t.family = o.connect.family == AF_INET ? 4 : 6;
    const AddrPort server = describe(o.connect.addr);
    t.remote = server.addr;
    t.rport = server.port;
    t.local = o.connect.family == AF_INET ? "0.0.0.0" : "::";
    Fd fd = open_connection(o, used, t);
    if (!fd) return t;
    Session s(std::move(fd),
              Limits{.idle_timeout = o.idle_timeout, .abort_now = &stopping, .mptcp = o.mptcp}, t);
    const auto header = encode(h);
    for (uint32_t i = 0; i < h.count && !s.failed(); ++i) {
        const bool first = i == 0;
        if (s.send_bytes(h.request,
                         first ? std::span<const uint8_t>(header) : std::span<const uint8_t>()) &&
            s.recv_bytes(h.response))
            ++t.exchanges;
    }
    s.close_orderly();
    s.conclude();
    return t;
}

// "2 timeout, 1 reset" for the outcomes that differ from `expect`.
std::string describe_mismatches(const std::map<std::string, uint32_t>& outcomes,
                                const std::string& expect) {
    std::string out;
    for (const auto& [outcome, n] : outcomes) {
        if (outcome == expect) continue;
        out += (out.empty() ? "" : ", ") + std::to_string(n) + " " + outcome;
    }
    return out;
}

}  // namespace

int run_client(const ClientOptions& o) {
    if (!o.congestion.empty()) {
        // An unknown or disallowed algorithm is the caller's mistake: say so
        // once, before any connection, instead of N "error" outcomes.
        Fd probe(socket(o.connect.family, SOCK_STREAM | SOCK_CLOEXEC, 0));
        if (!probe || setsockopt(probe.get(), IPPROTO_TCP, TCP_CONGESTION, o.congestion.data(),
                                 o.congestion.size()) != 0)
            throw std::runtime_error("TCP_CONGESTION " + o.congestion + ": " +
                                     std::strerror(errno));
    }
    TruthWriter writer(o.truth_path);
    const Header h = make_header(o.type, o.direction, o.bytes, o.request, o.response, o.requests);
    StopSignals signals;
    std::atomic<bool> stopping{false};  // SIGTERM/SIGINT: abort, record, start no more
    std::atomic<uint32_t> next{0}, done{0}, workers_left{std::min(o.concurrency, o.connections)};
    std::mutex mu;
    std::map<std::string, uint32_t> outcomes;
    UsedPorts used;
    auto worker = [&] {
        for (uint32_t i; !stopping && (i = next++) < o.connections;) {
            const ConnTruth t = run_connection(o, h, used, stopping, i);
            writer.write(t);
            {
                std::lock_guard lock(mu);
                ++outcomes[t.outcome];
            }
            ++done;
        }
        --workers_left;
    };
    {
        std::vector<std::jthread> workers;
        for (uint32_t i = 0; i < std::min(o.concurrency, o.connections); ++i)
            workers.emplace_back(worker);
        auto last_report = std::chrono::steady_clock::now();
        while (workers_left.load() > 0) {
            if (signals.wait(20)) stopping = true;
            if (std::chrono::steady_clock::now() - last_report >= std::chrono::seconds(1)) {
                last_report = std::chrono::steady_clock::now();
                std::fprintf(stderr, "workload %s: %u/%u connections done\n", o.workload.c_str(),
                             done.load(), o.connections);
            }
        }
    }
    if (done.load() < o.connections) {
        std::fprintf(stderr, "workload %s: stopped by a signal after %u of %u connections\n",
                     o.workload.c_str(), done.load(), o.connections);
        return 1;
    }
    if (o.expect == "any") return 0;
    const std::string mismatches = describe_mismatches(outcomes, o.expect);
    if (mismatches.empty()) return 0;
    std::fprintf(stderr, "workload %s: %s of %u connections, expected all %s\n", o.workload.c_str(),
                 mismatches.c_str(), o.connections, o.expect.c_str());
    return 1;
}

}  // namespace fc::workload
