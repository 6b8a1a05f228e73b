// TCP export when the collector is not there yet, goes away, or stays away
// longer than the backlog: nothing is lost silently.
#include <set>

#include "test_ipfix_util.hpp"

namespace fc::test {
namespace {

Record numbered(uint64_t i) {
    Record r = test_record(TemplateKey::TCP_V4, 1);
    r.set(FieldKey::FLOW_ID, i);
    return r;
}

std::vector<int64_t> flow_ids(const std::string& db) {
    std::vector<int64_t> ids;
    for (const Row& r : query(db, "SELECT flow_id FROM profiles ORDER BY id"))
        ids.push_back(std::get<int64_t>(r.at("flow_id")));
    return ids;
}

std::vector<int64_t> range(int64_t from, int64_t to) {
    std::vector<int64_t> v;
    for (int64_t i = from; i < to; ++i) v.push_back(i);
    return v;
}

TEST(CollectorTcp, ExportBeforeTheCollectorStartsLosesNothing) {
    const uint16_t port = free_port(SOCK_STREAM);
    const std::string url = "tcp://127.0.0.1:" + std::to_string(port);
    TempDir dir;
    const std::string db = dir.file("c.sqlite");
    Exporter ex({.url = url, .flush_interval = std::chrono::milliseconds(100)});
    for (int i = 0; i < 300; ++i) ex.submit(numbered(i));
    pump(
        &ex, nullptr, [] { return false; }, std::chrono::milliseconds(700));
    EXPECT_EQ(ex.stats().records_sent, 0u);
    EXPECT_EQ(ex.stats().records_dropped, 0u);
    {
        collector::SqliteStore store(db);
        collector::Collector coll({{url}, kDefaultEnterpriseNumber}, store);
        coll.start();
        ASSERT_TRUE(pump(
            &ex, &coll,
            [&] { return coll.stats().profiles == 300 && ex.stats().records_sent == 300; },
            std::chrono::milliseconds(8000)))
            << coll.stats().str();
        const ExporterStats s = ex.stats();
        EXPECT_GE(s.reconnects, 1u);
        EXPECT_EQ(s.records_dropped, 0u);
        EXPECT_EQ(coll.stats().sequence_gaps, 0u);

        // Collector restarts: what is submitted meanwhile arrives afterwards.
        coll.stop();
        for (int i = 300; i < 400; ++i) ex.submit(numbered(i));
        pump(
            &ex, nullptr, [] { return false; }, std::chrono::milliseconds(500));
    }
    {
        collector::SqliteStore store(db);
        collector::Collector coll({{url}, kDefaultEnterpriseNumber}, store);
        coll.start();
        ASSERT_TRUE(pump(
            &ex, &coll,
            [&] { return coll.stats().profiles >= 100 && ex.stats().records_sent == 400; },
            std::chrono::milliseconds(8000)))
            << coll.stats().str();
        EXPECT_GE(ex.stats().reconnects, 2u);
        EXPECT_EQ(ex.stats().records_dropped, 0u);
        coll.stop();
    }
    // Every record exactly once, in order.
    EXPECT_EQ(flow_ids(db), range(0, 400));
}

TEST(CollectorTcp, BacklogOverflowDropsOldestAndCountsThem) {
    const uint16_t port = free_port(SOCK_STREAM);
    const std::string url = "tcp://127.0.0.1:" + std::to_string(port);
    TempDir dir;
    const std::string db = dir.file("c.sqlite");
    Exporter ex({.url = url, .backlog_limit = 10});
    for (int i = 0; i < 25; ++i) ex.submit(numbered(i));
    pump(
        &ex, nullptr, [] { return false; }, std::chrono::milliseconds(300));
    EXPECT_EQ(ex.stats().records_submitted, 25u);
    EXPECT_EQ(ex.stats().records_dropped, 15u);
    {
        collector::SqliteStore store(db);
        collector::Collector coll({{url}, kDefaultEnterpriseNumber}, store);
        coll.start();
        ASSERT_TRUE(pump(
            &ex, &coll,
            [&] { return coll.stats().profiles == 10 && ex.stats().records_sent == 10; },
            std::chrono::milliseconds(8000)));
        coll.stop();
    }
    EXPECT_EQ(flow_ids(db), range(15, 25));
    const ExporterStats s = ex.stats();
    EXPECT_EQ(s.records_sent + s.records_dropped, s.records_submitted);
}

TEST(CollectorTcp, UnreachableAtShutdownIsCountedAsDropped) {
    const uint16_t port = free_port(SOCK_STREAM);
    auto ex = std::make_unique<Exporter>(
        ExporterConfig{.url = "tcp://127.0.0.1:" + std::to_string(port)});
    for (int i = 0; i < 5; ++i) ex->submit(numbered(i));
    ex->tick();
    const auto before = ex->stats();
    EXPECT_EQ(before.records_dropped, 0u);
    // The destructor tries, then reports: nothing vanishes without a count.
    testing::internal::CaptureStderr();
    ex.reset();
    const std::string err = testing::internal::GetCapturedStderr();
    EXPECT_NE(err.find("5 records not delivered"), std::string::npos) << err;
}

}  // namespace
}  // namespace fc::test
