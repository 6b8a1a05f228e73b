// docs/ipfix-fields.md is `flowcorder fields --markdown`: fail when it and
// the registry disagree.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/data_dir.hpp"
#include "ipfix/fields_doc.hpp"

namespace {

// The tree above this test binary (build/), found as flowcorder finds it:
// no binary carries its source path.
std::filesystem::path source_dir() { return fc::common::data_dir(); }

TEST(IpfixFieldsDoc, CommittedMarkdownMatchesRegistry) {
    const auto path = source_dir() / "docs" / "ipfix-fields.md";
    std::ifstream in(path);
    ASSERT_TRUE(in) << "cannot read " << path;
    std::stringstream ss;
    ss << in.rdbuf();
    EXPECT_EQ(ss.str(), fc::ipfix::fields_markdown())
        << path << " is stale: regenerate it with\n"
        << "  build/flowcorder fields --markdown > docs/ipfix-fields.md";
}

TEST(IpfixFieldsDoc, TextListsEveryField) {
    const std::string text = fc::ipfix::fields_text();
    const std::string md = fc::ipfix::fields_markdown();
    EXPECT_NE(text.find("fcRttMeanMicroseconds"), std::string::npos);
    EXPECT_NE(md.find("| `flowStartNanoseconds` | IANA | 156 | dateTimeNanoseconds |"),
              std::string::npos);
}

}  // namespace
