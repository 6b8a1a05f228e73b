// A crafted collector database for validator tests: table `profiles` with
// the union of the rows' columns (addresses and names as TEXT).
#pragma once

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

namespace fc::validate::test {

inline void write_profiles_table(const std::filesystem::path& path,
                                 const std::vector<nlohmann::json>& rows) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
    std::set<std::string> cols;
    for (const auto& r : rows)
        for (const auto& [k, _] : r.items()) cols.insert(k);
    std::string create = "CREATE TABLE profiles (id INTEGER PRIMARY KEY";
    for (const auto& c : cols)
        create += ", " + c +
                  ((c == "src_addr" || c == "dst_addr" || c == "dns_name") ? " TEXT" : " INTEGER");
    ASSERT_EQ(sqlite3_exec(db, (create + ")").c_str(), nullptr, nullptr, nullptr), SQLITE_OK)
        << sqlite3_errmsg(db);
    for (const auto& r : rows) {
        std::string names, vals;
        for (const auto& [k, v] : r.items()) {
            names += (names.empty() ? "" : ",") + k;
            vals += (vals.empty() ? "" : ",") +
                    (v.is_string() ? "'" + v.get<std::string>() + "'" : v.dump());
        }
        const std::string sql = "INSERT INTO profiles (" + names + ") VALUES (" + vals + ")";
        ASSERT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK) << sql;
    }
    sqlite3_close(db);
}

}  // namespace fc::validate::test
