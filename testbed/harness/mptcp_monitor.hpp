// `ip mptcp monitor` in one namespace for a whole repetition: the kernel
// path manager's events (CREATED, ESTABLISHED, SF_ESTABLISHED, ANNOUNCED,
// ...) as truth/<host>-mptcp-monitor.jsonl, one JSON line per event, stamped
// when read (testbed/FORMATS.md, "MPTCP path-manager truth").
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "common/process.hpp"

namespace fc::harness {

// One line of iproute2's monitor output, e.g.
// "[SF_ESTABLISHED] token=6a3b505c remid=0 locid=1 saddr4=198.18.2.1 ..."
// -> {"t_ns":..., "event":"SF_ESTABLISHED", "token":1782288476, "saddr":...}.
// nullopt for a line that is not an event ("[UNKNOWN 15]" is one: the
// kernel's event number, named when we know it). Throws nothing.
std::optional<nlohmann::ordered_json> parse_mptcp_monitor_line(const std::string& line,
                                                               int64_t t_ns);

class MptcpMonitor {
  public:
    // Starts `ip -n <netns> mptcp monitor`; writes events to out_path and
    // the raw output to raw_log_path.
    MptcpMonitor(const std::string& netns, const std::string& out_path,
                 const std::string& raw_log_path);
    ~MptcpMonitor();
    MptcpMonitor(const MptcpMonitor&) = delete;
    MptcpMonitor& operator=(const MptcpMonitor&) = delete;
    // SIGTERM, wait, flush. Returns the number of events written. Idempotent.
    size_t stop();
    pid_t pid() const { return child_ ? child_->pid() : -1; }

  private:
    void on_line(const std::string& line);
    std::unique_ptr<common::Child> child_;
    std::FILE* out_ = nullptr;
    std::FILE* raw_ = nullptr;
    size_t events_ = 0;
    bool stopped_ = false;
};

}  // namespace fc::harness
