// The user-space impairment engine: a private link namespace holding the
// inner ends of two veth pairs whose outer ends live in the caller's
// namespaces A and B. One thread per direction reads frames from one inner
// end (packet_io.hpp), asks the direction's Impairer what netem would do,
// keeps the survivors in a queue ordered by time_to_send and writes each one
// to the other inner end when its time comes. The kernel never forwards:
// the inner ends have no addresses and IPv6 is off in the link namespace.
//
// Timing: each direction thread runs with PR_SET_TIMERSLACK 1 ns, sleeps in
// ppoll() on its RX socket until `spin` before the next departure, then polls
// the ring without sleeping until that departure. Scheduling uses the
// kernel's receive timestamp of each frame (CLOCK_REALTIME), so time spent
// between the wire and our thread is not added to the emulated delay.
//
// Lifetime: the process moves itself into a fresh, unnamed network namespace
// (unshare(CLONE_NEWNET)) before creating anything. Nothing references that
// namespace but the process, so when the process dies for any reason,
// SIGKILL included, the kernel deletes the namespace, hence the inner veth
// ends, hence their outer peers in A and B: a crash leaves no link behind.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "log.hpp"
#include "model.hpp"
#include "packet_io.hpp"
#include "spec.hpp"

namespace fc::impair {

struct DirStats {
    std::atomic<uint64_t> rx{0}, forwarded{0}, duplicated{0}, reordered{0}, corrupted{0},
        dropped_loss{0}, dropped_limit{0}, rx_overflow{0}, tx_error{0}, tx_dropped{0}, too_big{0},
        shutdown{0}, queued{0}, max_queued{0};
    std::string json() const;
};

struct LinkOptions {
    std::string name = "link";
    std::string ns_a, ns_b;                     // existing namespaces (/var/run/netns)
    std::string dev_a, dev_b;                   // outer ends, created in ns_a / ns_b
    std::vector<std::string> addrs_a, addrs_b;  // optional addresses for them
    int mtu = 1500;
    std::shared_ptr<const Spec> ab, ba;
    uint64_t seed = 1;
    std::string log_path;
    RxKind io = RxKind::mmsg;
    size_t ring_frames = 8192;
    int64_t spin_ns = 50000;
    // SCHED_FIFO priority of the direction threads; 0 = normal scheduling.
    // Kernel netem departs from a softirq, ahead of every task: a user-space
    // engine keeps its time only when a busy core cannot hold it back (with a
    // core busy, UDP probes' delay error p99 1.1-3.6 ms at 0, 39-74 us at 10).
    int rt_priority = 10;
};

class Direction {
  public:
    Direction(int dir, RxPort* rx, TxPort* tx, std::shared_ptr<const Spec> spec, uint64_t seed,
              LogWriter* log, int64_t spin_ns, int rt_priority = 0);
    void start();
    void stop();
    void set_spec(std::shared_ptr<const Spec> spec);
    std::shared_ptr<const Spec> spec() const;
    const DirStats& stats() const { return stats_; }
    void log_aggregate(Reason why, uint64_t count);  // thread-safe

  private:
    struct Slot {
        LogRecord rec;
        uint32_t len;
        uint8_t data[2048];
    };
    struct Entry {
        int64_t tts;
        uint64_t order;
        uint32_t slot;
        bool operator>(const Entry& o) const {
            return tts != o.tts ? tts > o.tts : order > o.order;
        }
    };
    void run();
    void on_frame(const RxFrame& f);
    void send_due(int64_t now);
    uint32_t alloc_slot();

    int dir_;
    RxPort* rx_;
    TxPort* tx_;
    Impairer imp_;
    LogWriter* logw_;
    LogBuffer log_;
    int64_t spin_ns_;
    int rt_priority_;
    DirStats stats_;
    std::thread thread_;
    std::atomic<bool> stop_{false};
    mutable std::mutex spec_mu_;
    std::shared_ptr<const Spec> pending_, current_;
    std::atomic<bool> has_pending_{false};

    std::vector<std::unique_ptr<Slot>> slots_;
    std::vector<uint32_t> free_;
    std::vector<Entry> heap_;  // min-heap on (tts, order)
    uint64_t order_ = 0, seq_ = 0;
    int64_t last_tts_ = 0;
};

class Link {
  public:
    // Creates the topology and starts forwarding. Throws on failure, after
    // removing whatever it had created.
    explicit Link(const LinkOptions& opts);
    ~Link();  // stops forwarding, deletes the veth pairs
    Link(const Link&) = delete;
    Link& operator=(const Link&) = delete;

    Direction& dir(int d) { return *dirs_[d]; }
    // Polls the inner ends' tx_dropped counters and logs increases (call
    // periodically from the controlling thread).
    void poll_device_drops();
    std::string stats_json() const;
    void stop();

  private:
    void teardown();
    LinkOptions o_;
    bool created_a_ = false, created_b_ = false;
    std::unique_ptr<RxPort> rx_[2];
    std::unique_ptr<TxPort> tx_[2];
    std::unique_ptr<Direction> dirs_[2];
    LogWriter log_;
    uint64_t tx_dropped_base_[2] = {0, 0};
    bool stopped_ = false;
};

// Moves the calling process (which must still be single-threaded) into a new
// unnamed network namespace. Call once, before anything else.
void enter_private_netns();

}  // namespace fc::impair
