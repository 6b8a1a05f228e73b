#include "workload/server.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <list>
#include <stdexcept>
#include <thread>

#include "workload/mptcp_info.hpp"
#include "workload/protocol.hpp"
#include "workload/session.hpp"
#include "workload/signals.hpp"
#include "workload/truth.hpp"

namespace fc::workload {
namespace {

[[noreturn]] void throw_errno(const std::string& what) {
    throw std::runtime_error(what + ": " + std::strerror(errno));
}

Fd listen_on(const Endpoint& e, bool mptcp, const std::string& congestion) {
    const std::string where =
        describe(e.addr).addr + " port " + std::to_string(describe(e.addr).port);
    Fd fd(socket(e.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, mptcp ? kIpprotoMptcp : 0));
    if (!fd) throw_errno(std::string(mptcp ? "MPTCP " : "") + "socket for " + where);
    const int one = 1;
    setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    // IPv6 listeners take IPv6 only, so an IPv4 listener on the same port can coexist.
    if (e.family == AF_INET6) setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    if (!congestion.empty() && setsockopt(fd.get(), IPPROTO_TCP, TCP_CONGESTION, congestion.data(),
                                          congestion.size()) != 0)
        throw_errno("TCP_CONGESTION " + congestion + " on " + where);
    if (bind(fd.get(), reinterpret_cast<const sockaddr*>(&e.addr), e.len) != 0)
        throw_errno("bind " + where);
    if (listen(fd.get(), 1024) != 0) throw_errno("listen " + where);
    return fd;
}

// Connection threads; finished ones are joined as the server goes.
class Workers {
  public:
    ~Workers() { join_all(); }
    template <class F>
    void start(F&& body) {
        Worker& w = list_.emplace_back();
        w.thread = std::thread([&w, body = std::forward<F>(body)]() mutable {
            body();
            w.done = true;
        });
    }
    void reap() {
        for (auto it = list_.begin(); it != list_.end();) {
            if (it->done) {
                it->thread.join();
                it = list_.erase(it);
            } else {
                ++it;
            }
        }
    }
    bool empty() {
        reap();
        return list_.empty();
    }
    void join_all() {
        for (auto& w : list_) w.thread.join();
        list_.clear();
    }

  private:
    struct Worker {
        std::atomic<bool> done{false};
        std::thread thread;
    };
    std::list<Worker> list_;
};

struct Shared {
    const ServerOptions& options;
    TruthWriter& writer;
    std::atomic<bool> abort_now{false};
};

void serve(Fd fd, uint64_t index, int64_t accepted_ns, Shared& shared) {
    ConnTruth t;
    t.host = shared.options.host;
    t.workload = shared.options.workload;
    t.role = "server";
    t.conn = index;
    t.is_mptcp = shared.options.mptcp;
    t.t_start_ns = accepted_ns;
    t.t_connected_ns = accepted_ns;  // accept returns established connections
    const AddrPort local = local_of(fd.get()), peer = peer_of(fd.get());
    t.local = local.addr;
    t.lport = local.port;
    t.remote = peer.addr;
    t.rport = peer.port;
    t.family = t.local.find(':') == std::string::npos ? 4 : 6;
    const int one = 1;
    setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    Session s(std::move(fd),
              Limits{.idle_timeout = shared.options.idle_timeout,
                     .abort_now = &shared.abort_now,
                     .mptcp = shared.options.mptcp},
              t);
    std::array<uint8_t, kHeaderSize> raw{};
    Header h;
    if (s.recv_exact(raw)) {
        try {
            h = decode(raw);
            t.type = std::string(to_string(h.type));
        } catch (const std::invalid_argument& e) {
            std::fprintf(stderr, "workload %s: connection %llu from %s: %s\n", t.workload.c_str(),
                         static_cast<unsigned long long>(index), t.remote.c_str(), e.what());
            s.fail_protocol();
        }
    }
    for (uint32_t i = 0; i < h.count && !s.failed(); ++i)
        if (s.recv_bytes(h.request) && s.send_bytes(h.response)) ++t.exchanges;
    s.close_orderly();
    s.conclude();
    shared.writer.write(t);
}

}  // namespace

int run_server(const ServerOptions& o) {
    if (o.listen.empty()) throw std::runtime_error("no --listen address");
    TruthWriter writer(o.truth_path);
    StopSignals signals;
    std::vector<Fd> listeners;
    for (const auto& e : o.listen) listeners.push_back(listen_on(e, o.mptcp, o.congestion));
    Shared shared{o, writer};
    Workers workers;
    uint64_t next_index = 0;
    std::printf("ready\n");
    std::fflush(stdout);

    std::vector<pollfd> fds;
    for (const auto& l : listeners) fds.push_back({l.get(), POLLIN, 0});
    fds.push_back({signals.fd(), POLLIN, 0});
    for (;;) {
        for (auto& p : fds) p.revents = 0;
        if (poll(fds.data(), fds.size(), 200) < 0 && errno != EINTR) throw_errno("poll");
        workers.reap();
        if ((fds.back().revents & POLLIN) && signals.take()) break;  // SIGTERM/SIGINT
        for (size_t i = 0; i + 1 < fds.size(); ++i) {
            if (!(fds[i].revents & POLLIN)) continue;
            for (int c;
                 (c = accept4(fds[i].fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0;) {
                const int64_t now = realtime_ns();
                workers.start([fd = Fd(c), index = next_index++, now, &shared]() mutable {
                    serve(std::move(fd), index, now, shared);
                });
            }
        }
    }
    listeners.clear();  // stop accepting: new SYNs are refused from here on
    const auto deadline = std::chrono::steady_clock::now() + o.grace;
    while (!workers.empty() && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    shared.abort_now = true;  // the rest are reset and recorded as "aborted"
    workers.join_all();
    return 0;
}

}  // namespace fc::workload
