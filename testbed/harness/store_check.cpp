#include "store_check.hpp"

#include <sqlite3.h>

#include <regex>
#include <stdexcept>
#include <thread>
#include <vector>

namespace fc::harness {

std::optional<uint64_t> exported_at_exit(const std::string& out) {
    static const std::regex re(R"(flowcorder agent: exit: (\d+) records exported)");
    std::optional<uint64_t> n;
    for (std::sregex_iterator it(out.begin(), out.end(), re), end; it != end; ++it)
        n = std::stoull((*it)[1].str());
    return n;
}

uint64_t stored_rows(const std::string& db, uint32_t domain) {
    sqlite3* h = nullptr;
    if (sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
        const std::string why = h ? sqlite3_errmsg(h) : "out of memory";
        sqlite3_close(h);
        throw std::runtime_error(db + ": " + why);
    }
    sqlite3_busy_timeout(h, 2000);
    const auto column = [](sqlite3_stmt* st) {
        return reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
    };
    std::vector<std::string> tables;
    sqlite3_stmt* st = nullptr;
    // Only the tables the collector writes records into carry the column.
    const char* list =
        "SELECT m.name FROM sqlite_master m WHERE m.type = 'table' AND EXISTS "
        "(SELECT 1 FROM pragma_table_info(m.name) p WHERE p.name = 'observation_domain')";
    if (sqlite3_prepare_v2(h, list, -1, &st, nullptr) == SQLITE_OK)
        while (sqlite3_step(st) == SQLITE_ROW) tables.emplace_back(column(st));
    sqlite3_finalize(st);
    uint64_t n = 0;
    for (const auto& t : tables) {
        const std::string q = "SELECT count(*) FROM \"" + t + "\" WHERE observation_domain = ?";
        if (sqlite3_prepare_v2(h, q.c_str(), -1, &st, nullptr) != SQLITE_OK) continue;
        sqlite3_bind_int64(st, 1, domain);
        if (sqlite3_step(st) == SQLITE_ROW) n += static_cast<uint64_t>(sqlite3_column_int64(st, 0));
        sqlite3_finalize(st);
    }
    sqlite3_close(h);
    return n;
}

uint64_t wait_stored(const std::string& db, uint32_t domain, uint64_t exported,
                     std::chrono::milliseconds timeout) {
    const auto end = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        const uint64_t n = stored_rows(db, domain);
        if (n >= exported || std::chrono::steady_clock::now() >= end) return n;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
}

}  // namespace fc::harness
