// Where flowcorder looks for its data files (common/data_dir.hpp).
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <climits>
#include <filesystem>
#include <string>

#include "common/data_dir.hpp"

namespace fs = std::filesystem;

namespace {
fs::path exe_dir() {
    char buf[PATH_MAX];
    const ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
    return fs::path(std::string(buf, n > 0 ? static_cast<size_t>(n) : 0)).parent_path();
}

struct TempDir {
    fs::path p;
    TempDir() {
        char tmpl[] = "/tmp/fc_data_dir.XXXXXX";
        p = mkdtemp(tmpl);
    }
    ~TempDir() { fs::remove_all(p); }
};
}  // namespace

TEST(DataDir, EnvironmentFirstWhenItHoldsExperiments) {
    TempDir d;
    fs::create_directories(d.p / "experiments");
    setenv("FC_DATA_DIR", d.p.c_str(), 1);
    EXPECT_EQ(fc::common::data_dir(), d.p.string());
    unsetenv("FC_DATA_DIR");
}

// This test binary sits in build/ of the source tree, like build/flowcorder:
// the tree above it is found, not a path compiled in.
TEST(DataDir, TheTreeAboveTheExecutableOtherwise) {
    TempDir d;  // no experiments/ in it: skipped
    setenv("FC_DATA_DIR", d.p.c_str(), 1);
    const fs::path above = exe_dir().parent_path();
    ASSERT_TRUE(fs::is_directory(above / "experiments")) << above;
    EXPECT_EQ(fc::common::data_dir(), above.string());
    unsetenv("FC_DATA_DIR");
}
