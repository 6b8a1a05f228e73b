// Helpers shared by the IPFIX exporter/collector unit tests.
#pragma once

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sqlite3.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <variant>
#include <vector>

#include "collector/collector.hpp"
#include "collector/sqlite_store.hpp"
#include "ipfix/codec.hpp"
#include "ipfix/exporter.hpp"
#include "ipfix/record.hpp"
#include "ipfix/registry.hpp"

namespace fc::test {

using namespace fc::ipfix;

struct TempDir {
    std::filesystem::path path;
    TempDir() {
        char tmpl[] = "/tmp/fc_ipfix_test.XXXXXX";
        path = mkdtemp(tmpl);
    }
    ~TempDir() { std::filesystem::remove_all(path); }
    std::string file(const std::string& name) const { return (path / name).string(); }
};

using Value = std::variant<std::monostate, int64_t, std::string>;
using Row = std::map<std::string, Value>;

inline std::vector<Row> query(const std::string& db_path, const std::string& sql) {
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
    sqlite3_stmt* st = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr), SQLITE_OK)
        << sqlite3_errmsg(db);
    std::vector<Row> rows;
    while (st && sqlite3_step(st) == SQLITE_ROW) {
        Row r;
        for (int i = 0; i < sqlite3_column_count(st); ++i) {
            const std::string name = sqlite3_column_name(st, i);
            switch (sqlite3_column_type(st, i)) {
                case SQLITE_NULL:
                    r[name] = std::monostate{};
                    break;
                case SQLITE_INTEGER:
                    r[name] = int64_t{sqlite3_column_int64(st, i)};
                    break;
                default:
                    r[name] =
                        std::string(reinterpret_cast<const char*>(sqlite3_column_text(st, i)));
            }
        }
        rows.push_back(std::move(r));
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return rows;
}

inline std::string show(const Value& v) {
    if (std::holds_alternative<std::monostate>(v)) return "NULL";
    if (auto* i = std::get_if<int64_t>(&v)) return std::to_string(*i);
    return "'" + std::get<std::string>(v) + "'";
}

// A record of template `t` in which every field holds a value of its own.
// variant 0: the largest value each type can carry; variant >= 1: distinct,
// non-trivial values (every byte of wide fields non-zero).
inline Record test_record(TemplateKey t, unsigned variant) {
    Record r;
    r.tmpl = t;
    for (const FieldDef* f : template_fields(t)) {
        const uint64_t k = static_cast<uint64_t>(f->key) + 1;
        uint64_t v = 0;
        switch (f->type) {
            case FieldType::U8:
                v = variant == 0 ? 0xFF : (0x11 * variant + k) & 0xFF;
                break;
            case FieldType::U16:
                v = variant == 0 ? 0xFFFF : 0x0100 * variant + k;
                break;
            case FieldType::U32:
                v = variant == 0 ? 0xFFFFFFFFu : 0x01020300u * variant + k;
                break;
            case FieldType::IPV4:
                v = variant == 0 ? 0xFFFFFFFEu : 0xC0A80000u + 256 * variant + k;
                break;
            case FieldType::U64:
                v = variant == 0 ? ~uint64_t{0} : 0x0102030405060000ull * variant + k * 0x101;
                break;
            case FieldType::DT_MS:
                v = variant == 0 ? ~uint64_t{0} : 1700000000000ull + 1000 * variant + k;
                break;
            case FieldType::DT_NS:
                v = variant == 0 ? kMaxNtpUnixNs
                                 : 1700000000123456789ull + 1000000007ull * variant + k * 13;
                break;
            case FieldType::IPV6: {
                auto& a = f->key == FieldKey::DST_V6 ? r.dst_v6 : r.src_v6;
                for (int b = 0; b < 16; ++b)
                    a[b] =
                        static_cast<uint8_t>(variant == 0 ? 0xFF - b : 0x20 + 7 * b + k + variant);
                continue;
            }
            case FieldType::STR16:
            case FieldType::STR128: {
                // variant 0: the longest string that fits (length - 1 bytes).
                const size_t n = variant == 0 ? field_length(f->type) - 1 : 3 + k % 7 + variant;
                std::string s;
                for (size_t i = 0; i < n; ++i) s.push_back(static_cast<char>('a' + (i + k) % 26));
                r.set_text(f->key, s);
                continue;
            }
        }
        r.set(f->key, v);
    }
    return r;
}

// What the collector must have stored for `r` in `column`.
inline Value expected_value(const Record& r, const std::string& column) {
    for (const FieldDef* f : template_fields(r.tmpl)) {
        if (f->column != column) continue;
        switch (f->type) {
            case FieldType::IPV4:
                return collector::ipv4_str(static_cast<uint32_t>(r.get(f->key)));
            case FieldType::IPV6:
                return collector::ipv6_str(f->key == FieldKey::DST_V6 ? r.dst_v6.data()
                                                                      : r.src_v6.data());
            case FieldType::STR16:
            case FieldType::STR128:
                return std::string(r.get_text(f->key));
            default:
                return static_cast<int64_t>(r.get(f->key));
        }
    }
    return std::monostate{};
}

// A loopback port nobody listens on right now.
inline uint16_t free_port(int type) {
    int fd = socket(AF_INET, type, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t l = sizeof a;
    getsockname(fd, reinterpret_cast<sockaddr*>(&a), &l);
    close(fd);
    return ntohs(a.sin_port);
}

// Drives exporter and collector until `done` or the timeout; returns done().
inline bool pump(Exporter* ex, collector::Collector* coll, const std::function<bool()>& done,
                 std::chrono::milliseconds timeout = std::chrono::milliseconds(5000)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        if (ex) ex->tick();
        if (coll) coll->poll_once(10);
        if (done()) return true;
    }
    return done();
}

}  // namespace fc::test
