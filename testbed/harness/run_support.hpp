// What a run's parts share: interruption by signal, clocks, the progress
// line, small formatting helpers and the environment record.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "runner.hpp"

namespace fc::harness {

// SIGINT/SIGTERM set a flag; the run checks it between steps and unwinds
// (every child, namespace and link is removed on the way out).
struct Interrupted : std::runtime_error {
    Interrupted() : std::runtime_error("interrupted") {}
};
void install_signal_handlers();
void check_interrupt();  // throws Interrupted after a signal

int64_t now_ns();  // CLOCK_REALTIME, as the captures and the engine stamp
double mono_s();
std::string random_tag();                                      // 4 hex digits
std::string endpoint(const std::string& addr, uint16_t port);  // [v6]:port or v4:port
std::string secs(int64_t ns);                                  // "1.234s"

// Progress lines: one per phase, prefixed with the repetition.
class Progress {
  public:
    explicit Progress(std::string prefix);
    void step(const std::string& what);
    double elapsed() const;

  private:
    std::string prefix_;
    double t0_;
};

// The machine, kernel, packages and commit a run used (environment.json).
nlohmann::json environment(const RunOptions& o);

}  // namespace fc::harness
