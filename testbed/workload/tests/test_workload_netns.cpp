// `flowcorder workload serve|client` as child processes in two namespaces
// joined by a veth (tests/support/netns). The truth lines are checked against
// each other and against what the test asked for: the client's and the
// server's view of the same connection must mirror each other, and the
// kernel's byte counters must equal the application's plus SYN/FIN.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "support/netns.hpp"
#include "workload_child.hpp"

namespace fs = std::filesystem;
using json = nlohmann::json;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

using fc::workload::test::Child;

constexpr uint64_t kMiB = 1024 * 1024;
constexpr uint64_t kHeader = 32;  // protocol.hpp

std::vector<json> read_lines(const fs::path& p) {
    std::vector<json> out;
    std::ifstream in(p);
    for (std::string line; std::getline(in, line);) out.push_back(json::parse(line));
    return out;
}

class Workload : public ::testing::Test {
  protected:
    void SetUp() override {
        dir_ = fs::temp_directory_path() / ("fc-workload-test-" + std::to_string(getpid()));
        fs::remove_all(dir_);
        fs::create_directories(dir_);
    }
    void TearDown() override { fs::remove_all(dir_); }

    fs::path path(const std::string& name) const { return dir_ / name; }

    std::unique_ptr<Child> start_server(std::vector<std::string> extra = {}) {
        std::vector<std::string> args{"serve",
                                      "--listen",
                                      std::string(net_.kServerV4) + ":5001",
                                      "--listen",
                                      "[" + std::string(net_.kServerV6) + "]:5001",
                                      "--truth",
                                      path("server.jsonl"),
                                      "--host",
                                      "server",
                                      "--workload",
                                      "w"};
        args.insert(args.end(), extra.begin(), extra.end());
        auto s = std::make_unique<Child>(net_.server_ns(), args, path("server.log"));
        EXPECT_TRUE(s->wait_ready()) << "server not ready: " << s->output();
        return s;
    }

    std::unique_ptr<Child> start_client(int family, std::vector<std::string> extra) {
        const std::string target = family == 4 ? std::string(net_.kServerV4) + ":5001"
                                               : "[" + std::string(net_.kServerV6) + "]:5001";
        std::vector<std::string> args{"client",  "--connect",          target,
                                      "--truth", path("client.jsonl"), "--host",
                                      "client",  "--workload",         "w"};
        args.insert(args.end(), extra.begin(), extra.end());
        return std::make_unique<Child>(net_.client_ns(), args, path("client.log"));
    }

    fc::test::VethPair net_;
    fs::path dir_;
};

void expect_mirrored(const json& c, const json& s) {
    EXPECT_EQ(c["local"], s["remote"]);
    EXPECT_EQ(c["lport"], s["rport"]);
    EXPECT_EQ(c["remote"], s["local"]);
    EXPECT_EQ(c["rport"], s["lport"]);
    EXPECT_EQ(c["family"], s["family"]);
    EXPECT_EQ(c["role"], "client");
    EXPECT_EQ(s["role"], "server");
    EXPECT_EQ(c["app_bytes_sent"], s["app_bytes_received"]);
    EXPECT_EQ(c["app_bytes_received"], s["app_bytes_sent"]);
    EXPECT_EQ(c["exchanges"], s["exchanges"]);
}

// Sequence space the kernel counts in bytes_acked besides data: our FIN, and
// on the client its SYN. An accepted socket is born with the SYN-ACK already
// acknowledged (snd_una = ISN + 1), so the server's SYN-ACK is not in it.
uint64_t control_bytes_acked(const json& t) { return t["role"] == "client" ? 2 : 1; }

// A clean, orderly connection: both sides closed with FIN, reached TCP_CLOSE,
// and each side's kernel counters equal its application bytes + SYN/FIN.
void expect_clean_close(const json& t) {
    SCOPED_TRACE(t.dump());
    EXPECT_EQ(t["outcome"], "ok");
    EXPECT_EQ(t["errno"], 0);
    EXPECT_EQ(t["closed_by"], "fin");
    EXPECT_EQ(t["tcp_info_at_close"], true);
    const json& ti = t["tcp_info"];
    ASSERT_TRUE(ti.is_object());
    EXPECT_EQ(ti["state"], 7);
    EXPECT_EQ(ti["bytes_acked"].get<uint64_t>(),
              t["app_bytes_sent"].get<uint64_t>() + control_bytes_acked(t));
    EXPECT_EQ(ti["bytes_received"].get<uint64_t>(), t["app_bytes_received"].get<uint64_t>() + 1);
    // No total_retrans == 0 here: on a loaded machine a tail-loss probe or a
    // spurious RTO retransmits even on a clean veth (the duplicate arrives and
    // is counted, so the data_segs equalities below still hold).
    for (const char* f : {"total_rto", "total_rto_recoveries", "total_rto_time"})
        EXPECT_TRUE(ti.contains(f)) << f << " missing: is the kernel older than 6.7?";
    const auto start = t["t_start_ns"].get<int64_t>(), conn = t["t_connected_ns"].get<int64_t>(),
               end = t["t_end_ns"].get<int64_t>();
    EXPECT_GT(start, 1'600'000'000'000'000'000);
    EXPECT_LE(start, conn);
    EXPECT_LE(conn, end);
}

struct BulkCase {
    int family;
    std::string direction;
};

// Readable names in ctest's listing instead of the struct's bytes.
void PrintTo(const BulkCase& c, std::ostream* os) { *os << "v" << c.family << " " << c.direction; }

class Bulk : public Workload, public ::testing::WithParamInterface<BulkCase> {};

TEST_P(Bulk, OneMiBBothSidesMirrorAndCountersMatchTheKernel) {
    const auto [family, direction] = GetParam();
    auto server = start_server();
    auto client =
        start_client(family, {"--type", "bulk", "--bytes", "1MiB", "--direction", direction});
    ASSERT_EQ(client->wait(), 0) << client->output();
    ASSERT_EQ(server->terminate(), 0) << server->output();
    const auto c = read_lines(path("client.jsonl")), s = read_lines(path("server.jsonl"));
    ASSERT_EQ(c.size(), 1u);
    ASSERT_EQ(s.size(), 1u);
    expect_mirrored(c[0], s[0]);
    expect_clean_close(c[0]);
    expect_clean_close(s[0]);
    EXPECT_EQ(c[0]["family"], family);
    EXPECT_EQ(c[0]["type"], "bulk");
    EXPECT_EQ(s[0]["type"], "bulk");
    const bool up = direction == "up";
    const json& sender = up ? c[0] : s[0];
    const json& receiver = up ? s[0] : c[0];
    EXPECT_EQ(sender["app_bytes_sent"], kMiB + (up ? kHeader : 0));
    EXPECT_EQ(receiver["app_bytes_sent"], up ? 0 : kHeader);
    EXPECT_EQ(sender["tcp_info"]["bytes_acked"],
              sender["app_bytes_sent"].get<uint64_t>() + (up ? 2 : 1));
    EXPECT_EQ(receiver["tcp_info"]["bytes_received"],
              receiver["app_bytes_received"].get<uint64_t>() + 1);
    // A clean veth: every data segment sent arrives once, in both directions.
    EXPECT_EQ(sender["tcp_info"]["data_segs_out"], receiver["tcp_info"]["data_segs_in"]);
    EXPECT_EQ(receiver["tcp_info"]["data_segs_out"], sender["tcp_info"]["data_segs_in"]);
}

INSTANTIATE_TEST_SUITE_P(Directions, Bulk,
                         ::testing::Values(BulkCase{4, "up"}, BulkCase{4, "down"},
                                           BulkCase{6, "up"}, BulkCase{6, "down"}),
                         [](const auto& info) {
                             return "v" + std::to_string(info.param.family) + "_" +
                                    info.param.direction;
                         });

TEST_F(Workload, RequestResponseCountsAreExact) {
    auto server = start_server();
    auto client = start_client(
        4, {"--type", "rr", "--requests", "20", "--request", "300", "--response", "5KB"});
    ASSERT_EQ(client->wait(), 0) << client->output();
    ASSERT_EQ(server->terminate(), 0) << server->output();
    const auto c = read_lines(path("client.jsonl")), s = read_lines(path("server.jsonl"));
    ASSERT_EQ(c.size(), 1u);
    ASSERT_EQ(s.size(), 1u);
    expect_mirrored(c[0], s[0]);
    expect_clean_close(c[0]);
    expect_clean_close(s[0]);
    EXPECT_EQ(c[0]["exchanges"], 20);
    EXPECT_EQ(c[0]["app_bytes_sent"], kHeader + 20 * 300);
    EXPECT_EQ(c[0]["app_bytes_received"], 20 * 5000);
    EXPECT_EQ(s[0]["type"], "rr");
}

TEST_F(Workload, ChurnOfFiftyConnectionsFourAtATime) {
    auto server = start_server();
    auto client = start_client(6, {"--type", "churn", "--connections", "50", "--concurrency", "4"});
    ASSERT_EQ(client->wait(), 0) << client->output();
    ASSERT_EQ(server->terminate(), 0) << server->output();
    const auto c = read_lines(path("client.jsonl")), s = read_lines(path("server.jsonl"));
    ASSERT_EQ(c.size(), 50u);
    ASSERT_EQ(s.size(), 50u);
    std::map<uint16_t, json> server_by_peer_port;
    for (const auto& t : s) server_by_peer_port[t["rport"].get<uint16_t>()] = t;
    std::set<uint16_t> ports;
    std::set<uint64_t> conns;
    for (const auto& t : c) {
        ports.insert(t["lport"].get<uint16_t>());
        conns.insert(t["conn"].get<uint64_t>());
        expect_clean_close(t);
        EXPECT_EQ(t["app_bytes_sent"], kHeader + 1);
        EXPECT_EQ(t["app_bytes_received"], 1);
        ASSERT_TRUE(server_by_peer_port.contains(t["lport"].get<uint16_t>())) << t.dump();
        expect_mirrored(t, server_by_peer_port[t["lport"].get<uint16_t>()]);
    }
    EXPECT_EQ(ports.size(), 50u) << "client ports are not distinct";
    EXPECT_EQ(server_by_peer_port.size(), 50u);
    EXPECT_EQ(conns.size(), 50u);
    EXPECT_EQ(*conns.rbegin(), 49u);
}

TEST_F(Workload, RefusedWithoutListener) {
    auto ok = start_client(4, {"--type", "churn", "--expect", "refused"});
    ASSERT_EQ(ok->wait(), 0) << ok->output();
    const auto c = read_lines(path("client.jsonl"));
    ASSERT_EQ(c.size(), 1u);
    EXPECT_EQ(c[0]["outcome"], "refused");
    EXPECT_EQ(c[0]["errno"], ECONNREFUSED);
    EXPECT_TRUE(c[0]["tcp_info"].is_null());
    EXPECT_EQ(c[0]["tcp_info_at_close"], false);
    EXPECT_EQ(c[0]["closed_by"], "none");
    EXPECT_TRUE(c[0]["t_connected_ns"].is_null());
    EXPECT_NE(c[0]["lport"], 0) << "the client binds before connecting, so lport is known";
    EXPECT_EQ(c[0]["app_bytes_sent"], 0);

    auto wrong = start_client(4, {"--type", "churn", "--expect", "ok"});
    EXPECT_EQ(wrong->wait(), 1) << wrong->output();
    EXPECT_NE(wrong->output().find("1 refused of 1 connections, expected all ok"),
              std::string::npos)
        << wrong->output();
    EXPECT_EQ(wrong->output().find("Runtime error"), std::string::npos) << wrong->output();
}

// The path dies mid-transfer (nftables drops everything in the server's
// namespace): the client's TCP_USER_TIMEOUT fires, the server gives up on
// its idle peer and resets.
TEST_F(Workload, DeadPathEndsInClientTimeoutAndServerAbort) {
    auto server = start_server({"--idle-timeout", "2s"});
    auto client = start_client(
        4, {"--type", "bulk", "--bytes", "1TB", "--user-timeout", "2s", "--expect", "timeout"});
    std::this_thread::sleep_for(500ms);
    const std::string in = "ip netns exec " + net_.server_ns() + " nft ";
    fc::test::sh(in + "add table inet fc_wl_drop");
    fc::test::sh(in +
                 "'add chain inet fc_wl_drop in { type filter hook input priority -300; "
                 "policy drop; }'");
    fc::test::sh(in +
                 "'add chain inet fc_wl_drop out { type filter hook output priority -300; "
                 "policy drop; }'");
    const auto dropped_at = Clock::now();
    ASSERT_EQ(client->wait(20s), 0) << client->output();
    const auto client_took = Clock::now() - dropped_at;
    EXPECT_LT(client_took, 2s + 3s) << "user timeout 2 s + slack";
    EXPECT_GT(client_took, 1500ms);
    // The server's line appears once its idle timeout fired (no SIGTERM yet).
    std::vector<json> s;
    for (auto end = Clock::now() + 10s; Clock::now() < end && s.empty();
         std::this_thread::sleep_for(50ms))
        s = read_lines(path("server.jsonl"));
    const auto server_took = Clock::now() - dropped_at;
    ASSERT_EQ(s.size(), 1u) << server->output();
    EXPECT_GT(server_took, 1900ms);
    ASSERT_EQ(server->terminate(), 0) << server->output();

    const auto c = read_lines(path("client.jsonl"));
    ASSERT_EQ(c.size(), 1u);
    EXPECT_EQ(c[0]["outcome"], "timeout");
    EXPECT_EQ(c[0]["errno"], ETIMEDOUT);
    EXPECT_EQ(c[0]["closed_by"], "error");
    ASSERT_TRUE(c[0]["tcp_info"].is_object());
    EXPECT_EQ(c[0]["tcp_info"]["state"], 7);  // the kernel gave up: tcp_done
    EXPECT_GT(c[0]["tcp_info"]["total_retrans"], 0);
    EXPECT_GT(c[0]["app_bytes_sent"], 0);

    EXPECT_EQ(s[0]["outcome"], "aborted");
    EXPECT_EQ(s[0]["closed_by"], "rst_sent");
    EXPECT_EQ(s[0]["tcp_info_at_close"], false);
    ASSERT_TRUE(s[0]["tcp_info"].is_object());
    EXPECT_EQ(s[0]["tcp_info"]["state"], 1);  // still ESTABLISHED when we gave up
    EXPECT_EQ(c[0]["lport"], s[0]["rport"]);
}

// SIGTERM with a transfer running: the server stops accepting, gives the
// connection 2 s, then resets it and records it; the client sees the reset.
TEST_F(Workload, SigtermAbortsRunningConnectionsAfterGrace) {
    auto server = start_server();
    auto client = start_client(
        4, {"--type", "bulk", "--bytes", "1TB", "--direction", "down", "--expect", "reset"});
    std::this_thread::sleep_for(300ms);
    const auto t0 = Clock::now();
    ASSERT_EQ(server->terminate(), 0) << server->output();
    const auto took = Clock::now() - t0;
    EXPECT_GT(took, 1900ms);
    EXPECT_LT(took, 4s);
    ASSERT_EQ(client->wait(10s), 0) << client->output();
    const auto c = read_lines(path("client.jsonl")), s = read_lines(path("server.jsonl"));
    ASSERT_EQ(s.size(), 1u);
    ASSERT_EQ(c.size(), 1u);
    EXPECT_EQ(s[0]["outcome"], "aborted");
    EXPECT_EQ(s[0]["closed_by"], "rst_sent");
    EXPECT_EQ(c[0]["outcome"], "reset");
    EXPECT_EQ(c[0]["errno"], ECONNRESET);
    EXPECT_EQ(c[0]["closed_by"], "rst_received");
    EXPECT_EQ(c[0]["tcp_info"]["state"], 7);
    // Bytes in flight when the RST came are counted by the server only.
    EXPECT_LE(c[0]["app_bytes_received"], s[0]["app_bytes_sent"]);
    // A new connection after SIGTERM is refused (no listener any more).
    auto late = start_client(4, {"--type", "churn", "--expect", "refused"});
    EXPECT_EQ(late->wait(), 0) << late->output();
}

}  // namespace

namespace {

// No route (ENETUNREACH, at once) and no neighbour on the link (EHOSTUNREACH
// once ARP gives up, about 3 s, hence a user timeout longer than that): both
// are "unreachable", never established.
TEST_F(Workload, UnreachableWithoutRouteOrNeighbour) {
    // 198.19.0.0/16 has no route in the client's namespace; 198.18.0.99 is on
    // the veth's subnet but nobody answers ARP for it.
    for (const char* target : {"198.19.0.1:5001", "198.18.0.99:5001"}) {
        SCOPED_TRACE(target);
        fs::remove(path("client.jsonl"));
        Child client(
            net_.client_ns(),
            {"client", "--connect", target, "--type", "churn", "--truth", path("client.jsonl"),
             "--host", "client", "--workload", "w", "--connect-timeout", "10s", "--user-timeout",
             "10s", "--expect", "unreachable"},
            path("client.log"));
        ASSERT_EQ(client.wait(20s), 0) << client.output();
        const auto c = read_lines(path("client.jsonl"));
        ASSERT_EQ(c.size(), 1u);
        EXPECT_EQ(c[0]["outcome"], "unreachable");
        EXPECT_TRUE(c[0]["errno"] == ENETUNREACH || c[0]["errno"] == EHOSTUNREACH) << c[0];
        EXPECT_EQ(c[0]["closed_by"], "none");
        EXPECT_TRUE(c[0]["tcp_info"].is_null());
        EXPECT_TRUE(c[0]["t_connected_ns"].is_null());
    }
}

// SYNs dropped by the server's namespace: our own connect deadline fires
// first (1 s, before the 3 s user timeout), outcome timeout.
TEST_F(Workload, ConnectTimeoutWhenSynsAreDropped) {
    auto server = start_server();
    const std::string in = "ip netns exec " + net_.server_ns() + " nft ";
    fc::test::sh(in + "add table inet fc_wl_drop");
    fc::test::sh(in +
                 "'add chain inet fc_wl_drop in { type filter hook input priority -300; "
                 "policy drop; }'");
    const auto t0 = Clock::now();
    auto client =
        start_client(6, {"--type", "churn", "--connect-timeout", "1s", "--expect", "timeout"});
    ASSERT_EQ(client->wait(10s), 0) << client->output();
    const auto took = Clock::now() - t0;
    EXPECT_GT(took, 900ms);
    EXPECT_LT(took, 2500ms);
    ASSERT_EQ(server->terminate(), 0) << server->output();
    const auto c = read_lines(path("client.jsonl"));
    ASSERT_EQ(c.size(), 1u);
    EXPECT_EQ(c[0]["outcome"], "timeout");
    EXPECT_EQ(c[0]["errno"], ETIMEDOUT);
    EXPECT_EQ(c[0]["closed_by"], "none");
    EXPECT_TRUE(c[0]["tcp_info"].is_null());
    EXPECT_NE(c[0]["lport"], 0);
    EXPECT_TRUE(read_lines(path("server.jsonl")).empty()) << "the server never accepted it";
}

}  // namespace

namespace {

// SIGTERM to the client: running connections are reset and recorded
// ("aborted"), no new one starts, exit status 1 (not every connection ran).
TEST_F(Workload, ClientSigtermRecordsAbortedConnections) {
    auto server = start_server();
    auto client = start_client(4, {"--type", "bulk", "--bytes", "1TB", "--connections", "5",
                                   "--concurrency", "2", "--expect", "any"});
    std::this_thread::sleep_for(500ms);
    const auto t0 = Clock::now();
    EXPECT_EQ(client->terminate(), 1) << client->output();
    EXPECT_LT(Clock::now() - t0, 2s);
    EXPECT_NE(client->output().find("stopped by a signal after 2 of 5"), std::string::npos)
        << client->output();
    ASSERT_EQ(server->terminate(), 0) << server->output();
    const auto c = read_lines(path("client.jsonl")), s = read_lines(path("server.jsonl"));
    ASSERT_EQ(c.size(), 2u);
    ASSERT_EQ(s.size(), 2u);
    for (const auto& t : c) {
        EXPECT_EQ(t["outcome"], "aborted") << t;
        EXPECT_EQ(t["closed_by"], "rst_sent") << t;
        EXPECT_EQ(t["tcp_info"]["state"], 1) << t;  // read before the RST
    }
    for (const auto& t : s) {
        EXPECT_EQ(t["outcome"], "reset") << t;
        EXPECT_EQ(t["closed_by"], "rst_received") << t;
    }
}

}  // namespace
