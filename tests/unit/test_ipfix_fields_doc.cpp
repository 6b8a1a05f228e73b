// docs/ipfix-fields.md is `flowcorder fields --markdown`: fail when it and
// the registry disagree.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "ipfix/fields_doc.hpp"

namespace {

std::filesystem::path source_dir() {
#ifdef FC_SOURCE_DIR
    return FC_SOURCE_DIR;
#else
    // CMake compiles with absolute paths: <src>/tests/unit/this_file.cpp
    return std::filesystem::path(__FILE__).parent_path().parent_path().parent_path();
#endif
}

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
