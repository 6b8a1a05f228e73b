// SIGTERM/SIGINT as readable events: blocked in the calling thread (and so in
// every thread it starts afterwards), delivered through a signalfd that the
// main loop polls; the previous mask is restored by the destructor.
#pragma once

#include <signal.h>

#include "workload/endpoint.hpp"

namespace fc::workload {

class StopSignals {
  public:
    StopSignals();  // throws std::runtime_error
    ~StopSignals();
    StopSignals(const StopSignals&) = delete;
    StopSignals& operator=(const StopSignals&) = delete;

    int fd() const { return fd_.get(); }
    // Consumes a pending signal, so restoring the mask later does not deliver
    // it (and kill us after a clean shutdown). True if there was one.
    bool take();
    // Waits up to timeout_ms for a signal; true (and consumed) if one came.
    bool wait(int timeout_ms);

  private:
    sigset_t set_{}, old_{};
    Fd fd_;
};

}  // namespace fc::workload
