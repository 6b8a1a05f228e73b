// Registry -> fixbuf template -> exporter -> loopback (UDP, TCP, IPv4, IPv6)
// -> collector -> SQLite, checking every column of every row.
#include "test_ipfix_util.hpp"

namespace fc::test {
namespace {

struct Case {
    const char* scheme;
    const char* host;
    const char* addr;  // exporter_addr the collector must record
};

class CollectorRoundTrip : public ::testing::TestWithParam<Case> {};

uint64_t now_ns() {
    return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                     std::chrono::system_clock::now().time_since_epoch())
                                     .count());
}

TEST_P(CollectorRoundTrip, EveryTemplateEveryField) {
    const Case c = GetParam();
    TempDir dir;
    const std::string db = dir.file("profiles.sqlite");
    std::vector<Record> sent;
    const uint64_t t0 = now_ns();
    {
        collector::SqliteStore store(db);
        collector::Collector coll(
            {{std::string(c.scheme) + "://" + c.host + ":0"}, kDefaultEnterpriseNumber}, store);
        coll.start();
        const uint16_t port = coll.bound().at(0).port;
        Exporter ex({.url = std::string(c.scheme) + "://" + c.host + ":" + std::to_string(port),
                     .observation_domain = 77});
        for (unsigned v = 0; v < 4; ++v)
            for (const TemplateDef& t : kTemplates) {
                sent.push_back(test_record(t.key, v));
                ex.submit(sent.back());
            }
        ex.flush();
        ASSERT_TRUE(pump(&ex, &coll, [&] {
            const auto s = coll.stats();
            return s.profiles + s.agent_stats == sent.size() &&
                   ex.stats().records_sent == sent.size();
        })) << coll.stats().str();
        const ExporterStats es = ex.stats();
        EXPECT_EQ(es.records_dropped, 0u);
        EXPECT_EQ(es.send_errors, 0u);
        const auto cs = coll.stats();
        EXPECT_EQ(cs.malformed_total(), 0u) << cs.str();
        EXPECT_EQ(cs.sequence_gaps, 0u) << cs.str();
        EXPECT_EQ(cs.sequence_regressions, 0u) << cs.str();
        // Type records were decoded as records, not skipped.
        EXPECT_GT(cs.other_records, 0u);
        coll.stop();
    }
    const uint64_t t1 = now_ns();

    std::vector<Record> profiles, stats;
    for (const Record& r : sent) (templ(r.tmpl).scope & S_STATS ? stats : profiles).push_back(r);
    const auto check = [&](const char* table, const std::vector<Record>& want,
                           const std::vector<std::string>& cols) {
        const auto rows = query(db, std::string("SELECT * FROM ") + table + " ORDER BY id");
        ASSERT_EQ(rows.size(), want.size()) << table;
        for (size_t i = 0; i < rows.size(); ++i) {
            const Row& row = rows[i];
            const Record& r = want[i];
            EXPECT_EQ(show(row.at("exporter_addr")), show(std::string(c.addr)));
            EXPECT_EQ(show(row.at("observation_domain")), "77");
            EXPECT_EQ(show(row.at("template_id")), std::to_string(templ(r.tmpl).id));
            const int64_t rx = std::get<int64_t>(row.at("received_ns"));
            EXPECT_GE(rx, static_cast<int64_t>(t0));
            EXPECT_LE(rx, static_cast<int64_t>(t1));
            EXPECT_EQ(row.size(), cols.size() + 5) << table;
            for (const std::string& col : cols)
                EXPECT_EQ(show(row.at(col)), show(expected_value(r, col)))
                    << table << " row " << i << " (" << templ(r.tmpl).name << ") column " << col;
        }
    };
    check("profiles", profiles, collector::SqliteStore::profile_columns());
    check("agent_stats", stats, collector::SqliteStore::stats_columns());
    // The maximal record really went through as such.
    const auto max_row = query(db, "SELECT * FROM profiles WHERE id = 1").at(0);
    EXPECT_EQ(show(max_row.at("bytes_acked")), "-1");  // 2^64-1 as a signed SQLite integer
    EXPECT_EQ(show(max_row.at("window_end_ns")), std::to_string(kMaxNtpUnixNs));
    EXPECT_EQ(show(max_row.at("netns_inode")), "4294967295");
}

INSTANTIATE_TEST_SUITE_P(
    Transports, CollectorRoundTrip,
    ::testing::Values(Case{"udp", "127.0.0.1", "127.0.0.1"}, Case{"tcp", "127.0.0.1", "127.0.0.1"},
                      Case{"udp", "[::1]", "::1"}, Case{"tcp", "[::1]", "::1"}),
    [](const auto& info) {
        return std::string(info.param.scheme) + (info.param.host[0] == '[' ? "6" : "4");
    });

TEST(CollectorSchema, CreatedFromTheRegistry) {
    TempDir dir;
    const std::string db = dir.file("schema.sqlite");
    { collector::SqliteStore store(db); }
    const auto cols = query(db, "SELECT name FROM pragma_table_info('profiles')");
    std::vector<std::string> names;
    for (const Row& r : cols) names.push_back(std::get<std::string>(r.at("name")));
    std::vector<std::string> want = {"id", "exporter_addr", "observation_domain", "template_id",
                                     "received_ns"};
    for (const auto& c : collector::SqliteStore::profile_columns()) want.push_back(c);
    EXPECT_EQ(names, want);
    // Every profile field has its column, and v4/v6 addresses share one.
    for (const FieldDef& f : kFields)
        if (f.scope & (S_PROFILE | S_FLOW | S_TCP | S_DNS | S_DNS_LOOKUP | S_DNS_QUERY)) {
            EXPECT_NE(std::find(names.begin(), names.end(), std::string(f.column)), names.end())
                << f.column;
        }
    EXPECT_EQ(std::count(names.begin(), names.end(), "src_addr"), 1);
    // Reopening an existing database keeps it.
    { collector::SqliteStore again(db); }
    EXPECT_EQ(query(db, "SELECT name FROM pragma_table_info('profiles')").size(), want.size());
    EXPECT_EQ(std::get<std::string>(query(db, "PRAGMA journal_mode").at(0).at("journal_mode")),
              "wal");
}

}  // namespace
}  // namespace fc::test
