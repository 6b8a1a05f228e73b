// A `flowcorder workload` child process in a namespace, for the workload's
// integration tests.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

namespace fc::workload::test {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// `ip netns exec NS flowcorder workload ARGS...`, output into a file; killed
// (SIGKILL after SIGTERM) if still running when the test ends.
class Child {
  public:
    Child(const std::string& ns, const std::vector<std::string>& args, const fs::path& log)
        : log_(log) {
        std::vector<std::string> argv{"ip", "netns", "exec", ns, FC_FLOWCORDER_BIN, "workload"};
        argv.insert(argv.end(), args.begin(), args.end());
        pid_ = fork();
        if (pid_ == 0) {
            const int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
            dup2(fd, 1);
            dup2(fd, 2);
            std::vector<char*> a;
            for (auto& s : argv) a.push_back(s.data());
            a.push_back(nullptr);
            execvp("ip", a.data());
            _exit(127);
        }
    }
    ~Child() {
        if (pid_ > 0) {
            kill(pid_, SIGTERM);
            if (!wait_for(5s)) {
                kill(pid_, SIGKILL);
                waitpid(pid_, nullptr, 0);
            }
        }
    }
    Child(const Child&) = delete;
    Child& operator=(const Child&) = delete;

    std::string output() const {
        std::ifstream in(log_);
        return std::string(std::istreambuf_iterator<char>(in), {});
    }
    bool wait_ready(std::chrono::seconds timeout = 10s) {
        for (auto end = Clock::now() + timeout; Clock::now() < end;
             std::this_thread::sleep_for(10ms))
            if (output().find("ready\n") != std::string::npos) return true;
        return false;
    }
    // Exit status, or -1 if still running after `timeout`.
    int wait(std::chrono::milliseconds timeout = 60s) { return wait_for(timeout) ? status_ : -1; }
    int terminate() {
        kill(pid_, SIGTERM);
        return wait(10s);
    }

  private:
    bool wait_for(std::chrono::milliseconds timeout) {
        if (pid_ <= 0) return true;
        for (auto end = Clock::now() + timeout; Clock::now() < end;
             std::this_thread::sleep_for(5ms)) {
            int st = 0;
            if (waitpid(pid_, &st, WNOHANG) == pid_) {
                status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
                pid_ = -1;
                return true;
            }
        }
        return false;
    }
    fs::path log_;
    pid_t pid_ = -1;
    int status_ = -1;
};

}  // namespace fc::workload::test
