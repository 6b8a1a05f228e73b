// Helpers for the testbed's integration tests and benchmark: namespaces the
// run creates (removed by their destructor), threads inside a namespace, a
// `flowcorder link` child process, UDP probes with kernel timestamps.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <functional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "impair/sys.hpp"

namespace fc::testbed {

inline void run_quiet(const std::vector<std::string>& argv) { fc::impair::run_cmd(argv); }

// A network namespace owned by the test: deleted (with its processes' links) at scope exit.
class TempNetns {
  public:
    explicit TempNetns(std::string name) : name_(std::move(name)) {
        run_quiet({"ip", "netns", "del", name_});
        fc::impair::must_run({"ip", "netns", "add", name_});
        fc::impair::must_run({"ip", "-n", name_, "link", "set", "lo", "up"});
    }
    ~TempNetns() { run_quiet({"ip", "netns", "del", name_}); }
    const std::string& name() const { return name_; }

  private:
    std::string name_;
};

// Runs fn in a new thread that has entered namespace `ns`.
inline std::thread thread_in_netns(const std::string& ns, std::function<void()> fn) {
    return std::thread([ns, fn = std::move(fn)] {
        const int fd = open(("/var/run/netns/" + ns).c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0 || setns(fd, CLONE_NEWNET) < 0) throw std::runtime_error("setns " + ns);
        close(fd);
        fn();
    });
}

// `flowcorder link ...` as a child; start() waits for its "ready" line.
class LinkProcess {
  public:
    LinkProcess(std::string bin, std::vector<std::string> args)
        : bin_(std::move(bin)), args_(std::move(args)) {}
    ~LinkProcess() { stop(); }

    // Returns false (with output()) when the process exits before it is ready.
    bool start(double timeout_s = 10) {
        int out[2];
        if (pipe2(out, O_CLOEXEC) < 0) return false;
        pid_ = fork();
        if (pid_ == 0) {
            dup2(out[1], 1);
            dup2(out[1], 2);
            std::vector<char*> a{const_cast<char*>(bin_.c_str()), const_cast<char*>("link")};
            for (auto& s : args_) a.push_back(const_cast<char*>(s.c_str()));
            a.push_back(nullptr);
            execv(bin_.c_str(), a.data());
            _exit(127);
        }
        close(out[1]);
        fd_ = out[0];
        const auto deadline =
            std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
        while (std::chrono::steady_clock::now() < deadline) {
            pollfd p{fd_, POLLIN, 0};
            if (poll(&p, 1, 100) > 0) {
                char buf[4096];
                const ssize_t n = read(fd_, buf, sizeof buf);
                if (n <= 0) break;  // exited
                out_.append(buf, size_t(n));
                if (out_.find(" ready: ") != std::string::npos) return true;
            }
        }
        return false;
    }
    // SIGTERM (or `sig`), wait, collect the rest of its output; returns the exit status.
    int stop(int sig = SIGTERM) {
        if (pid_ <= 0) return status_;
        kill(pid_, sig);
        drain();
        int st = 0;
        waitpid(pid_, &st, 0);
        pid_ = -1;
        status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        close(fd_);
        fd_ = -1;
        return status_;
    }
    // Waits for the process to exit on its own (e.g. after bad input).
    int wait() {
        drain();
        int st = 0;
        waitpid(pid_, &st, 0);
        pid_ = -1;
        status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        return status_;
    }
    pid_t pid() const { return pid_; }
    const std::string& output() const { return out_; }

  private:
    void drain() {
        char buf[4096];
        ssize_t n;
        while (fd_ >= 0 && (n = read(fd_, buf, sizeof buf)) > 0) out_.append(buf, size_t(n));
    }
    std::string bin_;
    std::vector<std::string> args_;
    pid_t pid_ = -1;
    int fd_ = -1;
    int status_ = -1;
    std::string out_;
};

inline int64_t ts_of(msghdr& m) {
    for (cmsghdr* c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
            timespec ts;
            std::memcpy(&ts, CMSG_DATA(c), sizeof ts);
            return int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec;
        }
    }
    return fc::impair::realtime_ns();
}

struct Probe {
    uint64_t seq;
    int64_t sent_ns;
};

// A UDP receiver bound in its thread's namespace; records (seq, one-way delay ns).
class UdpSink {
  public:
    explicit UdpSink(uint16_t port, bool echo = false) : echo_(echo) {
        fd_ = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        int one = 1;
        setsockopt(fd_, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one);
        int rcv = 8 << 20;
        setsockopt(fd_, SOL_SOCKET, SO_RCVBUFFORCE, &rcv, sizeof rcv);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(port);
        if (bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) < 0)
            throw std::runtime_error("bind udp");
    }
    ~UdpSink() { close(fd_); }
    // Receives until `stop` is set (checked every 50 ms).
    void run(const std::atomic<bool>& stop) {
        char buf[2048], ctrl[128];
        while (!stop) {
            pollfd p{fd_, POLLIN, 0};
            if (poll(&p, 1, 50) <= 0) continue;
            sockaddr_in from{};
            iovec iov{buf, sizeof buf};
            msghdr m{};
            m.msg_name = &from;
            m.msg_namelen = sizeof from;
            m.msg_iov = &iov;
            m.msg_iovlen = 1;
            m.msg_control = ctrl;
            m.msg_controllen = sizeof ctrl;
            const ssize_t n = recvmsg(fd_, &m, MSG_DONTWAIT);
            if (n < static_cast<ssize_t>(sizeof(Probe))) continue;
            Probe pr;
            std::memcpy(&pr, buf, sizeof pr);
            delays.push_back({pr.seq, ts_of(m) - pr.sent_ns});
            if (echo_)
                sendto(fd_, buf, size_t(n), 0, reinterpret_cast<sockaddr*>(&from), sizeof from);
        }
    }
    std::vector<std::pair<uint64_t, int64_t>> delays;

  private:
    int fd_;
    bool echo_;
};

// Sends `count` probes of `size` bytes to dst:port, paced `gap_ns` apart
// (absolute-time sleeps). With `echo_rtts`, collects echoed replies' RTTs.
inline void send_probes(const std::string& dst, uint16_t port, uint64_t count, int64_t gap_ns,
                        size_t size, std::vector<int64_t>* echo_rtts = nullptr) {
    const int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    inet_pton(AF_INET, dst.c_str(), &a.sin_addr);
    std::vector<char> buf(std::max(size, sizeof(Probe)));
    timespec next;
    clock_gettime(CLOCK_MONOTONIC, &next);
    auto drain = [&] {
        char rb[2048], ctrl[128];
        for (;;) {
            iovec iov{rb, sizeof rb};
            msghdr m{};
            m.msg_iov = &iov;
            m.msg_iovlen = 1;
            m.msg_control = ctrl;
            m.msg_controllen = sizeof ctrl;
            if (recvmsg(fd, &m, MSG_DONTWAIT) < static_cast<ssize_t>(sizeof(Probe))) break;
            Probe pr;
            std::memcpy(&pr, rb, sizeof pr);
            echo_rtts->push_back(ts_of(m) - pr.sent_ns);
        }
    };
    for (uint64_t i = 0; i < count; ++i) {
        next.tv_nsec += gap_ns;
        while (next.tv_nsec >= 1000000000) {
            next.tv_nsec -= 1000000000;
            ++next.tv_sec;
        }
        Probe pr{i, fc::impair::realtime_ns()};
        std::memcpy(buf.data(), &pr, sizeof pr);
        sendto(fd, buf.data(), buf.size(), 0, reinterpret_cast<sockaddr*>(&a), sizeof a);
        if (echo_rtts) drain();
        clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, nullptr);
    }
    if (echo_rtts) {
        const int64_t until = fc::impair::realtime_ns() + 500000000;
        while (fc::impair::realtime_ns() < until) {
            drain();
            usleep(1000);
        }
    }
    close(fd);
}

inline double percentile(std::vector<double> v, double p) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    const size_t i = std::min(v.size() - 1, static_cast<size_t>(p / 100.0 * (v.size() - 1) + 0.5));
    return v[i];
}

}  // namespace fc::testbed
