#include "common/process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace fc::common {

CmdResult run_cmd(const std::vector<std::string>& argv) {
    CmdResult res;
    int pipefd[2];
    if (pipe2(pipefd, O_CLOEXEC) < 0) return res;
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    const pid_t pid = fork();
    if (pid < 0) {
        close(pipefd[0]);
        close(pipefd[1]);
        return res;
    }
    if (pid == 0) {
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, nullptr);
        dup2(pipefd[1], 1);
        dup2(pipefd[1], 2);
        execvp(args[0], args.data());
        _exit(127);
    }
    close(pipefd[1]);
    char buf[4096];
    ssize_t n;
    while ((n = read(pipefd[0], buf, sizeof buf)) > 0) res.output.append(buf, size_t(n));
    close(pipefd[0]);
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    res.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    while (!res.output.empty() && res.output.back() == '\n') res.output.pop_back();
    return res;
}

void must_run(const std::vector<std::string>& argv) {
    const auto r = run_cmd(argv);
    if (r.status != 0) {
        std::string cmd;
        for (const auto& a : argv) cmd += (cmd.empty() ? "" : " ") + a;
        throw std::runtime_error("'" + cmd + "' failed: " + r.output);
    }
}

int run_to_end(const std::vector<std::string>& argv, const std::string& output_path) {
    int out = -1;
    if (!output_path.empty()) {
        out = ::open(output_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (out < 0) return 127;
    }
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    const pid_t pid = fork();
    if (pid == 0) {
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, nullptr);
        signal(SIGPIPE, SIG_DFL);
        if (out >= 0) {
            dup2(out, 1);
            dup2(out, 2);
        }
        execvp(args[0], args.data());
        _exit(127);
    }
    if (out >= 0) ::close(out);
    if (pid < 0) return 127;
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

Child::Child(std::string name, std::vector<std::string> argv, const std::string& log_path,
             LineHandler on_line)
    : name_(std::move(name)), on_line_(std::move(on_line)) {
    log_fd_ = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (log_fd_ < 0) throw std::runtime_error("cannot write " + log_path + ": " + strerror(errno));
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0) throw std::runtime_error("pipe: " + std::string(strerror(errno)));
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    const pid_t parent = getpid();
    pid_ = fork();
    if (pid_ < 0) {
        ::close(p[0]);
        ::close(p[1]);
        throw std::runtime_error("fork: " + std::string(strerror(errno)));
    }
    if (pid_ == 0) {
        // Own process group: a Ctrl-C on the terminal reaches the harness
        // only, which then stops its children in order.
        setpgid(0, 0);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent) _exit(127);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, nullptr);
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        signal(SIGPIPE, SIG_DFL);
        dup2(p[1], 1);
        dup2(p[1], 2);
        int devnull = ::open("/dev/null", O_RDONLY);
        if (devnull >= 0) dup2(devnull, 0);
        execvp(args[0], args.data());
        dprintf(2, "cannot run %s: %s\n", args[0], strerror(errno));
        _exit(127);
    }
    ::close(p[1]);
    reader_ = std::thread([this, fd = p[0]] { reader(fd); });
}

void Child::reader(int fd) {
    char buf[4096];
    for (;;) {
        const ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        if (::write(log_fd_, buf, static_cast<size_t>(n)) < 0) {
        }
        if (on_line_) {
            partial_line_.append(buf, static_cast<size_t>(n));
            for (size_t nl; (nl = partial_line_.find('\n')) != std::string::npos;) {
                on_line_(partial_line_.substr(0, nl));
                partial_line_.erase(0, nl + 1);
            }
        }
        std::lock_guard lk(mu_);
        output_.append(buf, static_cast<size_t>(n));
        if (output_.size() > (8u << 20)) output_.erase(0, output_.size() - (4u << 20));
        cv_.notify_all();
    }
    ::close(fd);
    std::lock_guard lk(mu_);
    eof_ = true;
    cv_.notify_all();
}

std::string Child::output_tail(size_t max_bytes) const {
    std::lock_guard lk(mu_);
    return output_.size() <= max_bytes ? output_ : output_.substr(output_.size() - max_bytes);
}

void Child::wait_for(const std::string& marker, std::chrono::milliseconds timeout) {
    std::unique_lock lk(mu_);
    const bool ok = cv_.wait_for(lk, timeout,
                                 [&] { return output_.find(marker) != std::string::npos || eof_; });
    if (ok && output_.find(marker) != std::string::npos) return;
    const std::string tail =
        output_.size() > 1500 ? output_.substr(output_.size() - 1500) : output_;
    lk.unlock();
    throw std::runtime_error(name_ + (ok ? " exited" : " did not get ready in time") +
                             " (waiting for \"" + marker + "\"); its output:\n" + tail);
}

bool Child::reap(bool block) {
    if (exited_ || pid_ <= 0) return true;
    int st = 0;
    const pid_t r = waitpid(pid_, &st, block ? 0 : WNOHANG);
    if (r == pid_) {
        exited_ = true;
        status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        return true;
    }
    if (r < 0 && errno == ECHILD) {
        exited_ = true;
        return true;
    }
    return false;
}

bool Child::running() { return !reap(false); }

bool Child::wait_exit(std::chrono::milliseconds timeout) {
    const auto end = std::chrono::steady_clock::now() + timeout;
    while (!reap(false)) {
        if (std::chrono::steady_clock::now() >= end) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return true;
}

int Child::stop(int sig, std::chrono::milliseconds grace) {
    if (!reap(false)) {
        ::kill(pid_, sig);
        if (!wait_exit(grace)) {
            ::kill(-pid_, SIGKILL);  // the group: ip netns exec's child too
            ::kill(pid_, SIGKILL);
            reap(true);
        }
    }
    return status_;
}

Child::~Child() {
    stop(SIGTERM, std::chrono::milliseconds(2000));
    if (pid_ > 0) ::kill(-pid_, SIGKILL);  // anything it left in its group holds our pipe
    if (reader_.joinable()) reader_.join();
    if (log_fd_ >= 0) ::close(log_fd_);
}

}  // namespace fc::common
