// The collector's acknowledgement: the agent's exit line is read, and rows
// are counted per observation domain over every record table of the store.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <filesystem>

#include "store_check.hpp"

using namespace fc::harness;

TEST(StoreCheck, ExitLineGivesTheLastExportedCount) {
    EXPECT_EQ(exported_at_exit("flowcorder agent: 3 open connections\n"), std::nullopt);
    EXPECT_EQ(exported_at_exit("x\nflowcorder agent: exit: 42 records exported, 0 dropped, 0 "
                               "not sent\n"),
              42u);
}

TEST(StoreCheck, RowsAreCountedPerDomainOverRecordTables) {
    const std::string db = std::filesystem::temp_directory_path() /
                           ("fc-store-check-" + std::to_string(getpid()) + ".sqlite");
    std::filesystem::remove(db);
    sqlite3* h = nullptr;
    ASSERT_EQ(sqlite3_open(db.c_str(), &h), SQLITE_OK);
    const char* sql =
        "CREATE TABLE profiles (id INTEGER PRIMARY KEY, observation_domain INTEGER);"
        "CREATE TABLE agent_stats (id INTEGER PRIMARY KEY, observation_domain INTEGER);"
        "CREATE TABLE meta (k TEXT);"
        "INSERT INTO profiles (observation_domain) VALUES (1), (1), (2);"
        "INSERT INTO agent_stats (observation_domain) VALUES (1), (3);"
        "INSERT INTO meta VALUES ('schema');";
    ASSERT_EQ(sqlite3_exec(h, sql, nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(h);
    EXPECT_EQ(stored_rows(db, 1), 3u);
    EXPECT_EQ(stored_rows(db, 2), 1u);
    EXPECT_EQ(stored_rows(db, 4), 0u);
    // Already there: no wait; never there: the count after the timeout.
    EXPECT_EQ(wait_stored(db, 1, 3, std::chrono::milliseconds(0)), 3u);
    EXPECT_EQ(wait_stored(db, 2, 5, std::chrono::milliseconds(100)), 1u);
    EXPECT_THROW(stored_rows("/nonexistent/dir/x.sqlite", 1), std::runtime_error);
    std::filesystem::remove(db);
}
