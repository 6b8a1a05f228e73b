// `flowcorder workload serve|client --mptcp` in two namespaces joined by two
// veth pairs (tests/support/netns TwoPaths: the client's path-2 endpoint is
// a "subflow" endpoint). The MPTCP truth lines must hold what the
// application moved, the kernel's data-level counters, and one entry with
// TCP_INFO per subflow: two here.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
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

constexpr uint64_t kHeader = 32;  // protocol.hpp
constexpr uint64_t kBytes = 4'000'000;

using fc::workload::test::Child;

std::vector<json> read_lines(const fs::path& p) {
    std::vector<json> out;
    std::ifstream in(p);
    for (std::string line; std::getline(in, line);) out.push_back(json::parse(line));
    return out;
}

class WorkloadMptcp : public ::testing::Test {
  protected:
    void SetUp() override {
        dir_ = fs::temp_directory_path() / ("fc-workload-mptcp-" + std::to_string(getpid()));
        fs::remove_all(dir_);
        fs::create_directories(dir_);
        port_ = std::to_string(20000 + std::random_device{}() % 20000);
        // 100 Mbit/s (tbf: this kernel has no netem) out of both client interfaces: the
        // upload lasts long enough (~0.2 s) for the path-2 subflow to join
        // (the path manager opens it once the connection is fully established).
        for (int path : {1, 2})
            fc::test::sh("ip netns exec " + topo_.client_ns() + " tc qdisc add dev " +
                         topo_.client_dev(path) +
                         " root tbf rate 100mbit burst 32kb latency 100ms");
    }
    void TearDown() override { fs::remove_all(dir_); }

    // One bulk upload of kBytes; returns {client line, server line}.
    std::pair<json, json> upload(bool server_mptcp) {
        std::vector<std::string> sargs = {"serve",
                                          "--listen",
                                          std::string(topo_.kServerV4) + ":" + port_,
                                          "--truth",
                                          (dir_ / "server.jsonl").string(),
                                          "--host",
                                          "server",
                                          "--workload",
                                          "bulk"};
        if (server_mptcp) sargs.push_back("--mptcp");
        Child server(topo_.server_ns(), sargs, dir_ / "server.log");
        EXPECT_TRUE(server.wait_ready()) << server.output();
        Child client(
            topo_.client_ns(),
            {"client", "--connect", std::string(topo_.kServerV4) + ":" + port_, "--type", "bulk",
             "--bytes", std::to_string(kBytes), "--truth", (dir_ / "client.jsonl").string(),
             "--host", "client", "--workload", "bulk", "--mptcp"},
            dir_ / "client.log");
        EXPECT_EQ(client.wait(10s), 0) << client.output();
        EXPECT_EQ(server.terminate(), 0) << server.output();
        const auto c = read_lines(dir_ / "client.jsonl");
        const auto s = read_lines(dir_ / "server.jsonl");
        EXPECT_EQ(c.size(), 1u);
        EXPECT_EQ(s.size(), 1u);
        return {c.empty() ? json() : c[0], s.empty() ? json() : s[0]};
    }

    fc::test::TwoPaths topo_;
    fs::path dir_;
    std::string port_;
};

}  // namespace

TEST_F(WorkloadMptcp, TwoPathUploadTruthHoldsTheBytesAndBothSubflows) {
    const auto [c, s] = upload(true);
    ASSERT_TRUE(c.is_object() && s.is_object());
    const uint64_t sent = kBytes + kHeader;
    EXPECT_EQ(c["protocol"], "mptcp");
    EXPECT_EQ(c["outcome"], "ok");
    EXPECT_EQ(c["closed_by"], "fin");
    EXPECT_EQ(c["app_bytes_sent"], sent);
    EXPECT_EQ(s["app_bytes_received"], sent);
    EXPECT_TRUE(c["tcp_info"].is_null());  // per subflow instead

    const json& m = c["mptcp"];
    EXPECT_EQ(m["fallback"], false);
    ASSERT_TRUE(m["info"].is_object());
    EXPECT_NE(m["token"], 0);
    EXPECT_EQ(m["token"], m["info"]["token"]);
    // Data level: what the application wrote, sent once, acked with the DATA_FIN.
    EXPECT_EQ(m["info"]["bytes_sent"], sent);
    EXPECT_EQ(m["info"]["bytes_acked"], sent + 1);
    EXPECT_EQ(m["info"]["bytes_retrans"], 0);
    EXPECT_EQ(m["info"]["snd_una"], m["info"]["write_seq"]);
    for (const char* k : {"subflows",
                          "add_addr_signal",
                          "add_addr_accepted",
                          "subflows_max",
                          "add_addr_signal_max",
                          "add_addr_accepted_max",
                          "flags",
                          "token",
                          "write_seq",
                          "snd_una",
                          "rcv_nxt",
                          "local_addr_used",
                          "local_addr_max",
                          "csum_enabled",
                          "retransmits",
                          "bytes_retrans",
                          "bytes_sent",
                          "bytes_received",
                          "bytes_acked",
                          "subflows_total",
                          "last_data_sent",
                          "last_data_recv",
                          "last_ack_recv"})
        EXPECT_TRUE(m["info"].contains(k)) << k;

    // Two subflows: the initial one from the connection's own address and
    // port, the join from the path-2 address; each with its final TCP_INFO.
    ASSERT_EQ(m["subflows"].size(), 2u) << m.dump();
    EXPECT_EQ(m["num_subflows"], 2);
    EXPECT_EQ(m["subflows_acked"], true);
    std::set<std::string> locals;
    uint64_t acked = 0;
    for (const json& sf : m["subflows"]) {
        locals.insert(sf["local"].get<std::string>());
        EXPECT_EQ(sf["remote"], topo_.kServerV4);
        EXPECT_EQ(sf["rport"], std::stoi(port_));
        ASSERT_TRUE(sf["tcp_info"].is_object());
        for (const char* k : {"state", "bytes_acked", "bytes_sent", "segs_out", "rtt", "snd_mss"})
            EXPECT_TRUE(sf["tcp_info"].contains(k)) << k;
        EXPECT_EQ(sf["tcp_info"]["state"], 7);  // TCP_CLOSE
        EXPECT_EQ(sf["final"], true);
        EXPECT_EQ(sf["tcp_info"]["unacked"], 0);
        acked += sf["tcp_info"]["bytes_acked"].get<uint64_t>();
        if (sf["local"] == topo_.kClientV4) {
            EXPECT_EQ(sf["lport"], c["lport"]);
        }
    }
    EXPECT_EQ(locals, (std::set<std::string>{topo_.kClientV4, topo_.kClientV4Path2}));
    // Subflow level: the data once, plus each subflow's SYN and FIN.
    EXPECT_EQ(acked, sent + 2 + 2);

    // The server: the same bytes received at data level, its own token.
    const json& sm = s["mptcp"];
    EXPECT_EQ(s["protocol"], "mptcp");
    EXPECT_EQ(s["outcome"], "ok");
    EXPECT_EQ(sm["fallback"], false);
    EXPECT_EQ(sm["info"]["bytes_received"], sent);
    EXPECT_EQ(sm["info"]["bytes_acked"], 1);  // its DATA_FIN
    EXPECT_NE(sm["token"], m["token"]);
    // Its subflows may be released by the time it reads (it finishes last):
    // then their last live view stands in, never a zeroed entry.
    ASSERT_FALSE(sm["subflows"].empty());
    for (const json& sf : sm["subflows"]) {
        EXPECT_EQ(sf["remote"] == topo_.kClientV4 || sf["remote"] == topo_.kClientV4Path2, true)
            << sf.dump();
        EXPECT_NE(sf["tcp_info"]["state"], 0);
        if (sf["final"] == false) {
            EXPECT_TRUE(sf["t_snapshot_ns"].is_number());
        }
    }
}

TEST_F(WorkloadMptcp, PlainTcpServerMakesTheClientFallBack) {
    const auto [c, s] = upload(false);
    ASSERT_TRUE(c.is_object() && s.is_object());
    const uint64_t sent = kBytes + kHeader;
    EXPECT_EQ(c["outcome"], "ok");
    EXPECT_EQ(c["app_bytes_sent"], sent);
    EXPECT_EQ(c["mptcp"]["fallback"], true);
    EXPECT_TRUE(c["mptcp"]["token"].is_null());
    // The server is plain TCP: a TCP truth line with the kernel's final TCP_INFO.
    EXPECT_FALSE(s.contains("mptcp"));
    EXPECT_EQ(s["app_bytes_received"], sent);
    ASSERT_TRUE(s["tcp_info"].is_object());
    EXPECT_EQ(s["tcp_info"]["bytes_received"], sent + 1);
}
