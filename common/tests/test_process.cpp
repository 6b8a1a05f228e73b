// The one child-process helper, on real processes (sh, sleep).
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "common/process.hpp"

using namespace fc::common;
using namespace std::chrono_literals;

namespace {

std::string temp_log(const char* name) {
    return (std::filesystem::temp_directory_path() /
            (std::string("fc-common-") + name + "-" + std::to_string(getpid()) + ".log"))
        .string();
}

// Running or sleeping; a zombie waiting for a reaper that may never come (PID
// 1 in a container) counts as gone.
bool alive(pid_t pid) {
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    if (!std::getline(stat, line)) return false;
    const auto paren = line.rfind(')');
    return paren != std::string::npos && paren + 2 < line.size() && line[paren + 2] != 'Z';
}

}  // namespace

TEST(RunCmd, ReturnsExitCodeAndBothStreamsWithoutTrailingNewlines) {
    const CmdResult r = run_cmd({"sh", "-c", "echo out; echo err >&2; exit 3"});
    EXPECT_EQ(r.status, 3);
    EXPECT_EQ(r.output, "out\nerr");
}

TEST(RunCmd, AMissingProgramIs127AndMustRunNamesTheCommand) {
    EXPECT_EQ(run_cmd({"fc-no-such-program"}).status, 127);
    try {
        must_run({"sh", "-c", "echo nope; exit 1"});
        FAIL() << "must_run accepted a failing command";
    } catch (const std::runtime_error& e) {
        EXPECT_STREQ(e.what(), "'sh -c echo nope; exit 1' failed: nope");
    }
}

TEST(Child, WaitsForItsMarkerLogsItsOutputAndReportsTheSignalThatStoppedIt) {
    const std::string log = temp_log("marker");
    {
        Child c("sleeper", {"sh", "-c", "echo ready now; exec sleep 30"}, log);
        c.wait_for("ready", 5s);
        EXPECT_TRUE(c.running());
        EXPECT_EQ(c.stop(SIGTERM, 2s), 128 + SIGTERM);
        EXPECT_FALSE(c.running());
        EXPECT_EQ(c.stop(SIGTERM, 2s), 128 + SIGTERM);  // idempotent
    }
    std::ifstream in(log);
    std::stringstream text;
    text << in.rdbuf();
    EXPECT_EQ(text.str(), "ready now\n");
    std::filesystem::remove(log);
}

TEST(Child, WaitForThrowsWithTheOutputWhenTheChildExitsFirst) {
    const std::string log = temp_log("exits");
    Child c("quitter", {"sh", "-c", "echo giving up; exit 2"}, log);
    try {
        c.wait_for("ready", 5s);
        FAIL() << "no marker, yet wait_for returned";
    } catch (const std::runtime_error& e) {
        const std::string what = e.what();
        EXPECT_NE(what.find("quitter exited"), std::string::npos) << what;
        EXPECT_NE(what.find("giving up"), std::string::npos) << what;
    }
    EXPECT_TRUE(c.wait_exit(5s));
    EXPECT_EQ(c.exit_status(), 2);
    std::filesystem::remove(log);
}

// Its own process group, killed whole: a grandchild does not outlive it.
TEST(Child, GoingOutOfScopeStopsTheWholeGroup) {
    const std::string log = temp_log("group");
    pid_t grandchild = -1;
    {
        Child c("parent", {"sh", "-c", "sleep 30 & echo pid $!; wait"}, log);
        c.wait_for("pid ", 5s);
        const std::string out = c.output_tail();
        grandchild = std::stoi(out.substr(out.find("pid ") + 4));
        ASSERT_TRUE(alive(grandchild));
        EXPECT_EQ(getpgid(grandchild), c.pid());
    }
    // Reaped by init once killed; give it a moment to disappear.
    for (int i = 0; i < 100 && alive(grandchild); ++i) std::this_thread::sleep_for(10ms);
    EXPECT_FALSE(alive(grandchild));
    std::filesystem::remove(log);
}

TEST(RunToEnd, ExitCodeSignalAndOutputFile) {
    const std::string log = temp_log("to-end");
    EXPECT_EQ(run_to_end({"sh", "-c", "echo to file; echo err >&2; exit 4"}, log), 4);
    std::ifstream in(log);
    std::stringstream text;
    text << in.rdbuf();
    EXPECT_EQ(text.str(), "to file\nerr\n");
    EXPECT_EQ(run_to_end({"sh", "-c", "kill -TERM $$"}), 128 + SIGTERM);
    EXPECT_EQ(run_to_end({"fc-no-such-program"}), 127);
    std::filesystem::remove(log);
}
