// SQLite storage of collected IPFIX records. The schema is generated from the
// IPFIX registry: table `profiles` has one column per field of any profile
// template, `agent_stats` one per field of the statistics template, and
// `flows` holds standard flow records from foreign exporters (softflowd...).
//
// Conventions: addresses are text ("192.0.2.1", "2001:db8::1"); every
// integer is an SQLite INTEGER, so an unsigned64 above 2^63-1 reads back as
// its two's-complement negative (cast to uint64 to recover it); timestamps
// are Unix time in the unit the column name says (_ns, _ms).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "ipfix/record.hpp"

struct sqlite3;
struct sqlite3_stmt;

namespace fc::collector {

// Where and when a record arrived.
struct RecordMeta {
    std::string exporter_addr;  // IP address of the exporting process
    uint32_t observation_domain = 0;
    uint16_t template_id = 0;
    uint64_t received_ns = 0;  // Unix ns
};

// A flow record of a foreign exporter, reduced to standard elements.
struct FlowRow {
    std::string src_addr, dst_addr;
    uint16_t src_port = 0, dst_port = 0;
    uint8_t protocol = 0;
    uint64_t octets = 0, packets = 0;
    std::optional<int64_t> start_ms, end_ms;  // Unix ms, when the exporter said
    uint8_t flow_end_reason = 0;
};

class SqliteStore {
  public:
    // Opens (creating if missing) the database and its tables; WAL mode.
    // Throws std::runtime_error on failure.
    explicit SqliteStore(const std::string& path);
    ~SqliteStore();  // commits
    SqliteStore(const SqliteStore&) = delete;
    SqliteStore& operator=(const SqliteStore&) = delete;

    void add_profile(const ipfix::Record& r, const RecordMeta& m);
    void add_stats(const ipfix::Record& r, const RecordMeta& m);
    void add_flow(const FlowRow& f, const RecordMeta& m);

    void commit();        // commits the open transaction, if any
    void maybe_commit();  // commits when the transaction is >= 1 s old or large
    uint64_t rows_written() const { return rows_; }

    // The CREATE TABLE statements (for docs and tests).
    static std::vector<std::string> schema();
    // Column names of `profiles` / `agent_stats` after the metadata columns,
    // in order, with the registry fields behind them.
    static std::vector<std::string> profile_columns();
    static std::vector<std::string> stats_columns();

  private:
    void begin();
    void exec(const std::string& sql);
    void bind_record(sqlite3_stmt* st, const ipfix::Record& r, const std::vector<std::string>& cols,
                     int first);

    // Registry field behind each column, per (column list, template).
    std::map<std::pair<const std::vector<std::string>*, ipfix::TemplateKey>,
             std::vector<const ipfix::FieldDef*>>
        column_fields_;

    sqlite3* db_ = nullptr;
    sqlite3_stmt* ins_profile_ = nullptr;
    sqlite3_stmt* ins_stats_ = nullptr;
    sqlite3_stmt* ins_flow_ = nullptr;
    bool in_tx_ = false;
    size_t tx_rows_ = 0;
    std::chrono::steady_clock::time_point tx_start_{};
    uint64_t rows_ = 0;
};

// Text form of an IPv4 address held in host order, and of an IPv6 address.
std::string ipv4_str(uint32_t host_order);
std::string ipv6_str(const uint8_t* bytes16);

}  // namespace fc::collector
