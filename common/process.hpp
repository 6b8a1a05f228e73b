// Child processes, the one place that forks and execs them.
// Child: a long-lived one (agents, collector, links, captures, workloads):
// its own process group, dies with its parent (PR_SET_PDEATHSIG), writes
// stdout+stderr to a log file, and is stopped (signal, grace period,
// SIGKILL) when its owner goes out of scope.
// run_cmd / must_run: a short command run to its end, output in memory.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace fc::common {

struct CmdResult {
    int status = -1;     // exit code, or -1 if it could not run or a signal ended it
    std::string output;  // stdout + stderr, trailing newlines removed
};
// Runs argv[0] from PATH with an empty signal mask; waits for it.
CmdResult run_cmd(const std::vector<std::string>& argv);
// Same, throwing std::runtime_error with the command and its output on failure.
void must_run(const std::vector<std::string>& argv);
// Runs argv to its end with this process's stdout and stderr, or with both
// going to `output_path` when given. Returns the exit code, 128+signal if a
// signal ended it, 127 if it could not run.
int run_to_end(const std::vector<std::string>& argv, const std::string& output_path = "");

class Child {
  public:
    // Starts argv (argv[0] looked up in PATH). Output goes to log_path and,
    // line by line, to `on_line` (called on the reader thread, never after
    // the Child is destroyed).
    using LineHandler = std::function<void(const std::string& line)>;
    Child(std::string name, std::vector<std::string> argv, const std::string& log_path,
          LineHandler on_line = nullptr);
    ~Child();
    Child(const Child&) = delete;
    Child& operator=(const Child&) = delete;

    // Waits until a line containing `marker` appears in the output; throws
    // (with the output's tail) if the process exits first or on timeout.
    void wait_for(const std::string& marker, std::chrono::milliseconds timeout);
    // Sends `sig`, waits up to `grace`, then SIGKILL. Returns the exit status
    // (128+signal if killed by one). Idempotent.
    int stop(int sig, std::chrono::milliseconds grace);
    // Waits for a natural exit up to `timeout`; returns false on timeout.
    bool wait_exit(std::chrono::milliseconds timeout);
    bool running();
    int exit_status() const { return status_; }
    const std::string& name() const { return name_; }
    std::string output_tail(size_t max_bytes = 2000) const;
    pid_t pid() const { return pid_; }

  private:
    void reader(int fd);
    bool reap(bool block);

    std::string name_;
    pid_t pid_ = -1;
    int status_ = -1;
    bool exited_ = false;
    std::thread reader_;
    mutable std::mutex mu_;
    std::condition_variable cv_;
    std::string output_;  // everything seen (also in the log file)
    bool eof_ = false;
    int log_fd_ = -1;
    LineHandler on_line_;
    std::string partial_line_;  // reader thread only
};

}  // namespace fc::common
