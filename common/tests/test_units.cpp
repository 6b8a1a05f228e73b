// The one size and duration parser (experiment files and command lines).
#include <gtest/gtest.h>

#include <string>

#include "common/units.hpp"

using namespace fc::common;
using namespace std::chrono_literals;

TEST(Size, DecimalAndBinarySuffixes) {
    EXPECT_EQ(parse_size("100"), 100u);
    EXPECT_EQ(parse_size("100B"), 100u);
    EXPECT_EQ(parse_size("1KB"), 1000u);
    EXPECT_EQ(parse_size("1k"), 1000u);
    EXPECT_EQ(parse_size("1MB"), 1000000u);
    EXPECT_EQ(parse_size("2GB"), 2000000000u);
    EXPECT_EQ(parse_size("64KiB"), 65536u);
    EXPECT_EQ(parse_size("64kib"), 65536u);
    EXPECT_EQ(parse_size("1MiB"), 1048576u);
    EXPECT_EQ(parse_size("3GiB"), 3ull * 1024 * 1024 * 1024);
    EXPECT_EQ(parse_size("1.5KiB"), 1536u);
    EXPECT_EQ(parse_size("1.5k"), 1500u);
    EXPECT_EQ(parse_size("0"), 0u);
}

TEST(Size, RejectsJunkWithTheTextInTheMessage) {
    for (const char* bad : {"", "MB", "-1", "1XB", "1.5", "0.1B", "1..2MB", "1 MB", "99999999TB"}) {
        try {
            parse_size(bad);
            ADD_FAILURE() << "accepted '" << bad << "'";
        } catch (const std::invalid_argument& e) {
            EXPECT_NE(std::string(e.what()).find(std::string("'") + bad + "'"), std::string::npos)
                << e.what();
        }
    }
}

TEST(Duration, Units) {
    EXPECT_EQ(parse_duration("5s"), 5s);
    EXPECT_EQ(parse_duration("3"), 3s);
    EXPECT_EQ(parse_duration("250ms"), 250ms);
    EXPECT_EQ(parse_duration("1.5s"), 1500ms);
    EXPECT_EQ(parse_duration("5.000s"), 5s);  // as the harness writes it
    EXPECT_EQ(parse_duration("20us"), 20us);
    EXPECT_EQ(parse_duration("250us"), 250us);
    EXPECT_EQ(parse_duration("7ns"), 7ns);
    EXPECT_EQ(parse_duration("2m"), 120s);
    EXPECT_THROW(parse_duration("5h"), std::invalid_argument);
    EXPECT_THROW(parse_duration("-1s"), std::invalid_argument);
    EXPECT_THROW(parse_duration("s"), std::invalid_argument);
}

TEST(Size, MessageStartsWithTheQuotedTextAndWhatItIsNot) {
    try {
        parse_size("four");
        FAIL() << "accepted 'four'";
    } catch (const std::invalid_argument& e) {
        EXPECT_EQ(std::string(e.what()).rfind("'four' is not a size", 0), 0u) << e.what();
    }
    try {
        parse_duration("soon");
        FAIL() << "accepted 'soon'";
    } catch (const std::invalid_argument& e) {
        EXPECT_EQ(std::string(e.what()).rfind("'soon' is not a duration", 0), 0u) << e.what();
    }
}
