// --repeat's tally: validation.csv read back field by field (quotes, commas
// and newlines inside notes), one pass rate per verdict across rounds.
#include <gtest/gtest.h>

#include <algorithm>

#include "repeat.hpp"
#include "shard.hpp"

using namespace fc::harness;

TEST(Repeat, CsvKeepsQuotedCommasQuotesAndNewlines) {
    const auto rows = parse_csv("a,b,c\n1,\"x, \"\"y\"\"\nz\",3\r\n");
    ASSERT_EQ(rows.size(), 2u);
    ASSERT_EQ(rows[1].size(), 3u);
    EXPECT_EQ(rows[1][1], "x, \"y\"\nz");
    EXPECT_EQ(rows[1][2], "3");
    EXPECT_THROW(parse_csv("a,\"b\n"), std::runtime_error);
}

TEST(Repeat, TallyCountsEachVerdictPerRound) {
    const std::string header =
        "experiment,protocol,kpi,truth_source,compared,within_tolerance,median_abs_error,"
        "p95_abs_error,verdict,tolerance,note\n";
    std::map<std::string, VerdictRate> tally;
    tally_round(header +
                    "tcp-clean,tcp,bytes_acked,tcp_info,4,4,0,0,pass,exact,\n"
                    "tcp-clean,tcp,close,pcap,4,3,0,1,fail,exact,\"1 of 4, see details\"\n",
                tally);
    tally_round(header +
                    "tcp-clean,tcp,bytes_acked,tcp_info,4,4,0,0,pass,exact,\n"
                    "tcp-clean,tcp,close,pcap,4,4,0,0,pass,exact,\n",
                tally);
    ASSERT_EQ(tally.size(), 2u);
    EXPECT_EQ(tally["tcp-clean|tcp|bytes_acked|tcp_info"].passed, 2);
    EXPECT_EQ(tally["tcp-clean|tcp|close|pcap"].rounds, 2);
    EXPECT_EQ(tally["tcp-clean|tcp|close|pcap"].passed, 1);
}

TEST(Repeat, MalformedValidationCsvIsAnError) {
    std::map<std::string, VerdictRate> tally;
    EXPECT_THROW(tally_round("experiment,kpi\nx,y\n", tally), std::runtime_error);
    EXPECT_THROW(tally_round("experiment,protocol,kpi,truth_source,verdict\na,b\n", tally),
                 std::runtime_error);
}

TEST(Shard, ShardsPartitionTheFilesInOrder) {
    const std::vector<std::string> files = {"a", "b", "c", "d", "e"};
    unsigned k = 0, n = 0;
    ASSERT_EQ(parse_shard("2/3", k, n), "");
    EXPECT_EQ(shard_of(files, k, n), (std::vector<std::string>{"b", "e"}));
    std::vector<std::string> all;
    for (unsigned i = 1; i <= 3; ++i)
        for (const auto& f : shard_of(files, i, 3)) all.push_back(f);
    std::sort(all.begin(), all.end());
    EXPECT_EQ(all, files);
    for (const char* bad : {"0/3", "4/3", "2", "/3", "a/b", "2/", "1/1234567"})
        EXPECT_NE(parse_shard(bad, k, n), "") << bad;
}
