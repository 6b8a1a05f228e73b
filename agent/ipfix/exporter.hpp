// IPFIX exporting process: registry templates, RFC 5610 type records, UDP
// (template refresh) or TCP (reconnect with backoff, bounded backlog).
//
// Threading: submit() and stats() may be called from any thread; tick(),
// flush() and the destructor do the I/O and must not run concurrently with
// each other (they serialise on an internal lock anyway).
//
// Delivery: on TCP a record counts as sent once the collector's kernel has
// acknowledged its bytes (SIOCOUTQ); records of messages not yet acknowledged
// when the connection drops are re-sent on the next connection, so a crash of
// the collector can duplicate records but never loses them silently. On UDP
// a record counts as sent when its datagram left; a failed send drops the
// message's records and counts them in records_dropped.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "record.hpp"
#include "registry.hpp"

namespace fc::ipfix {

struct ExporterConfig {
    std::string url;  // "udp://HOST:PORT" or "tcp://HOST:PORT" (IPv6 as udp://[::1]:4739)
    uint32_t observation_domain = 1;
    uint32_t enterprise_number = kDefaultEnterpriseNumber;
    std::chrono::milliseconds flush_interval{1000};  // a quiet host still exports within this
    std::chrono::seconds template_refresh{30};       // UDP only: templates + RFC5610 type records
    size_t backlog_limit = 100000;  // records kept while the collector is unreachable
};

struct ExporterStats {
    uint64_t records_submitted, records_sent, records_dropped, messages_sent, send_errors,
        reconnects;
};

class Exporter {
  public:
    explicit Exporter(ExporterConfig cfg);  // bad URL -> std::invalid_argument
    ~Exporter();                            // flushes what it can
    Exporter(const Exporter&) = delete;
    Exporter& operator=(const Exporter&) = delete;

    void submit(const Record& r);  // never blocks for long; enqueue
    void tick();   // call often (>= every 100 ms): flush on interval, refresh, reconnect
    void flush();  // send everything pending now (best effort)
    // At exit: flush until every record submitted is sent (or dropped and
    // counted) or `timeout` passes. True when nothing is left pending.
    bool drain(std::chrono::milliseconds timeout);
    ExporterStats stats() const;

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace fc::ipfix
