// IPFIX collecting process: own UDP/TCP sockets, one libfixbuf session per
// transport session (UDP: per exporter address and port; TCP: per
// connection), records decoded with the registry and stored in SQLite.
//
// Input is vetted before fixbuf sees it (header, set and template
// structure); anything malformed is counted per cause, logged once per
// cause, and dropped. A TCP peer that breaks the message framing is
// disconnected; other sessions are unaffected. Sequence numbers are checked
// per (transport session, observation domain): RFC 7011 makes them the count
// of data records sent before the message, so a jump forward is the number
// of records lost.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "collector/sqlite_store.hpp"
#include "ipfix/endpoint.hpp"
#include "ipfix/registry.hpp"

namespace fc::collector {

struct CollectorConfig {
    // Endpoints to listen on; port 0 picks a free port (see bound()).
    std::vector<std::string> listen{"udp://127.0.0.1:4739", "tcp://127.0.0.1:4739"};
    uint32_t enterprise_number = ipfix::kDefaultEnterpriseNumber;
};

struct CollectorStats {
    uint64_t messages = 0;         // IPFIX messages accepted for decoding
    uint64_t records = 0;          // data records decoded (all kinds)
    uint64_t profiles = 0;         // rows stored in `profiles`
    uint64_t agent_stats = 0;      // rows stored in `agent_stats`
    uint64_t flows = 0;            // rows stored in `flows`
    uint64_t other_records = 0;    // options/type records and records of unknown templates
    uint64_t sequence_gaps = 0;    // gap events
    uint64_t records_missing = 0;  // sum of the gaps (records the exporter sent that never came)
    uint64_t sequence_regressions = 0;  // messages older than expected (reordered/duplicated)
    uint64_t tcp_connections = 0;
    uint64_t udp_sessions = 0;
    std::map<std::string, uint64_t> malformed;  // cause -> messages (or sets) dropped

    uint64_t malformed_total() const;
    std::string str() const;  // one human-readable paragraph
};

class Collector {
  public:
    Collector(CollectorConfig cfg, SqliteStore& store);
    ~Collector();
    Collector(const Collector&) = delete;
    Collector& operator=(const Collector&) = delete;

    void start();  // binds every endpoint; throws std::runtime_error naming the one that failed
    // Endpoints as bound (ports resolved), same order as the config.
    std::vector<ipfix::Endpoint> bound() const;
    // Waits up to timeout_ms for input, processes what arrived, commits the
    // store when due (at least every second).
    void poll_once(int timeout_ms);
    void stop();  // closes the sockets and commits
    CollectorStats stats() const;

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace fc::collector
