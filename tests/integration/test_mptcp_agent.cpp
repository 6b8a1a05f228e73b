// The MPTCP agent (agent --mptcp) against the real kernel: two namespaces
// joined by two veth pairs, a transfer over an IPPROTO_MPTCP socket that
// opens a second subflow over the second path. The truth for each end is
// the kernel's own MPTCP_INFO, read by the test on its socket just before
// close() (after the last byte either way), and what the test itself sent.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <functional>
#include <future>
#include <random>
#include <set>
#include <thread>

#include "core/fsm.hpp"
#include "core/profile.hpp"
#include "mptcp/mptcp_profiler.hpp"
#include "support/agent_thread.hpp"
#include "support/netns.hpp"

using fc::State;
using fc::ipfix::FieldKey;
using fc::ipfix::Record;
using fc::ipfix::TemplateKey;
using fc::mptcp::Why;
using namespace std::chrono_literals;

namespace {

#ifndef IPPROTO_MPTCP
constexpr int IPPROTO_MPTCP = 262;
#endif
constexpr int kSolMptcp = 284;  // SOL_MPTCP
constexpr int kMptcpInfo = 1;   // MPTCP_INFO
constexpr uint32_t kInfoFlagFallback = 1;

// struct mptcp_info as Linux 6.18 has it (the build machine's uapi header
// predates the byte counters). The kernel copies min(len, its size).
struct MptcpInfo {
    uint8_t subflows, add_addr_signal, add_addr_accepted, subflows_max;
    uint8_t add_addr_signal_max, add_addr_accepted_max;
    uint32_t flags;
    uint32_t token;
    uint64_t write_seq, snd_una, rcv_nxt;
    uint8_t local_addr_used, local_addr_max, csum_enabled;
    uint32_t retransmits;
    uint64_t bytes_retrans, bytes_sent, bytes_received, bytes_acked;
    uint8_t subflows_total, endp_laminar_max, reserved[2];
    uint32_t last_data_sent, last_data_recv, last_ack_recv;
};

// MPTCP_INFO of an MPTCP socket; ok = false if the kernel refused (a socket
// that fell back to TCP may say EOPNOTSUPP instead of setting the flag).
struct InfoRead {
    bool ok = false;
    MptcpInfo info{};
};
InfoRead read_mptcp_info(int fd) {
    InfoRead r;
    socklen_t len = sizeof(r.info);
    r.ok = getsockopt(fd, kSolMptcp, kMptcpInfo, &r.info, &len) == 0 && len >= 88;
    return r;
}

// MPTCP_INFO once everything this end sent, its DATA_FIN included, is
// acknowledged at data level (snd_una reached write_seq), up to 5 s: the
// counters cannot change any more, as TCP_INFO in CLOSE for TCP.
InfoRead read_final_mptcp_info(int fd) {
    InfoRead r;
    for (int i = 0; i < 500; ++i) {
        r = read_mptcp_info(fd);
        if (!r.ok || r.info.snd_una == r.info.write_seq) break;
        std::this_thread::sleep_for(10ms);
    }
    return r;
}

uint16_t random_port() {
    static std::mt19937 rng(std::random_device{}());
    return static_cast<uint16_t>(20000 + rng() % 20000);
}

sockaddr_in v4(const char* ip, uint16_t port) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    inet_pton(AF_INET, ip, &a.sin_addr);
    return a;
}

uint16_t local_port(int fd) {
    sockaddr_in a{};
    socklen_t len = sizeof(a);
    getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    return ntohs(a.sin_port);
}

bool write_all(int fd, size_t bytes) {
    std::vector<char> buf(1 << 16, 'x');
    for (size_t sent = 0; sent < bytes;) {
        const ssize_t n = write(fd, buf.data(), std::min(buf.size(), bytes - sent));
        if (n <= 0) return false;
        sent += static_cast<size_t>(n);
    }
    return true;
}

size_t read_to_eof(int fd) {
    std::vector<char> buf(1 << 16);
    size_t total = 0;
    for (ssize_t n; (n = read(fd, buf.data(), buf.size())) > 0;) total += static_cast<size_t>(n);
    return total;
}

// Waits until the MPTCP socket has `n` subflows (MPTCP_INFO), up to 5 s.
bool wait_subflows(int fd, int n) {
    for (int i = 0; i < 500; ++i) {
        const InfoRead r = read_mptcp_info(fd);
        if (r.ok && r.info.subflows_total == n) return true;
        std::this_thread::sleep_for(10ms);
    }
    return false;
}

struct Truth {
    InfoRead client, server;
    uint16_t client_port = 0;
    size_t server_received = 0, client_received = 0;
    // Most subflows MPTCP_INFO showed on the client while data flowed (by
    // the end of the exchange the kernel may have closed some already).
    int client_subflows_seen = 0;
};

constexpr size_t kReply = 1000;

// Client (MPTCP) sends `first` bytes, waits for the second subflow (MPTCP
// server), runs `midway` (with its socket), sends
// `second` bytes, shuts down; the server (MPTCP, or plain TCP if
// server_mptcp is false) reads to EOF, replies kReply bytes and closes. Each
// reads MPTCP_INFO after its last read, once all it sent is acknowledged,
// before close().
Truth transfer(const fc::test::TwoPaths& topo, bool server_mptcp, size_t first, size_t second,
               const std::function<void(int)>& midway = {}) {
    const uint16_t port = random_port();
    std::promise<void> listening;
    auto ready = listening.get_future();
    auto server = std::async(std::launch::async, [&]() -> std::pair<size_t, InfoRead> {
        fc::test::InNetns in(topo.server_ns());
        fc::test::Fd ls(socket(AF_INET, SOCK_STREAM, server_mptcp ? IPPROTO_MPTCP : 0));
        int one = 1;
        setsockopt(ls.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        // Any local address: the second subflow arrives on the path-1 address too.
        const sockaddr_in a = v4("0.0.0.0", port);
        if (ls.get() < 0 || bind(ls.get(), reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0 ||
            listen(ls.get(), 4) != 0)
            throw std::runtime_error(std::string("server socket: ") + std::strerror(errno));
        listening.set_value();
        fc::test::Fd c(accept(ls.get(), nullptr, nullptr));
        const size_t got = read_to_eof(c.get());
        if (!write_all(c.get(), kReply)) throw std::runtime_error("server write failed");
        shutdown(c.get(), SHUT_WR);
        read_to_eof(c.get());
        InfoRead info = server_mptcp ? read_final_mptcp_info(c.get()) : InfoRead{};
        return {got, info};
    });
    ready.wait();

    Truth t;
    {
        fc::test::InNetns in(topo.client_ns());
        fc::test::Fd s(socket(AF_INET, SOCK_STREAM, IPPROTO_MPTCP));
        if (s.get() < 0)
            throw std::runtime_error(std::string("MPTCP socket (needs CONFIG_MPTCP): ") +
                                     std::strerror(errno));
        const sockaddr_in a = v4(topo.kServerV4, port);
        if (connect(s.get(), reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0)
            throw std::runtime_error(std::string("connect: ") + std::strerror(errno));
        t.client_port = local_port(s.get());
        // The path manager opens the second subflow once the connection is
        // fully established, which takes data acknowledged at MPTCP level.
        if (!write_all(s.get(), first)) throw std::runtime_error("client write failed");
        if (server_mptcp && !wait_subflows(s.get(), 2))
            throw std::runtime_error("the second subflow never joined");
        t.client_subflows_seen = read_mptcp_info(s.get()).info.subflows_total;
        if (midway) midway(s.get());
        if (!write_all(s.get(), second)) throw std::runtime_error("client write failed");
        shutdown(s.get(), SHUT_WR);
        t.client_received = read_to_eof(s.get());
        t.client = read_final_mptcp_info(s.get());
    }
    auto [got, info] = server.get();
    t.server_received = got;
    t.server = info;
    return t;
}

uint64_t sum(const std::vector<Record>& rs, FieldKey k) {
    uint64_t s = 0;
    for (const auto& r : rs) s += r.get(k);
    return s;
}
uint64_t max_of(const std::vector<Record>& rs, FieldKey k) {
    uint64_t m = 0;
    for (const auto& r : rs) m = std::max(m, r.get(k));
    return m;
}
State start_state(const Record& r) { return static_cast<State>(r.get(FieldKey::START_STATE)); }
State end_state(const Record& r) { return static_cast<State>(r.get(FieldKey::END_STATE)); }
Why why(const Record& r) { return static_cast<Why>(r.get(FieldKey::MPTCP_TRIGGER)); }
bool ends_terminal(const std::vector<Record>& rs) {
    return !rs.empty() && fc::is_terminal(end_state(rs.back()));
}

// The MPTCP connection profiles exported in one namespace (the test's
// connection is the only one there).
fc::test::AgentThread::Filter connection_in(uint32_t netns) {
    return [=](const Record& r) {
        return (r.tmpl == TemplateKey::MPTCP_V4 || r.tmpl == TemplateKey::MPTCP_V6) &&
               r.get(FieldKey::NETNS_INODE) == netns;
    };
}
fc::test::AgentThread::Filter tcp_in(uint32_t netns) {
    return [=](const Record& r) {
        return (r.tmpl == TemplateKey::TCP_V4 || r.tmpl == TemplateKey::TCP_V6) &&
               r.get(FieldKey::NETNS_INODE) == netns;
    };
}

// One connection's chain: one flowId, profile_seq 0.., contiguous windows
// and states, NEW first, terminal last.
void expect_chain(const std::vector<Record>& rs) {
    ASSERT_FALSE(rs.empty());
    EXPECT_EQ(start_state(rs.front()), State::NEW);
    EXPECT_TRUE(fc::is_terminal(end_state(rs.back())));
    for (size_t i = 0; i < rs.size(); ++i) {
        EXPECT_EQ(rs[i].get(FieldKey::PROFILE_SEQ), i);
        EXPECT_EQ(rs[i].get(FieldKey::FLOW_ID), rs[0].get(FieldKey::FLOW_ID));
        EXPECT_EQ(rs[i].get(FieldKey::MPTCP_CONN_ID), rs[0].get(FieldKey::FLOW_ID));
        EXPECT_LE(rs[i].get(FieldKey::WINDOW_START_NS), rs[i].get(FieldKey::WINDOW_END_NS));
        if (i == 0) continue;
        EXPECT_EQ(start_state(rs[i]), end_state(rs[i - 1]));
        EXPECT_EQ(rs[i].get(FieldKey::WINDOW_START_NS), rs[i - 1].get(FieldKey::WINDOW_END_NS));
    }
}

// Subflow TCP profiles grouped by their own flowId.
std::map<uint64_t, std::vector<Record>> by_flow(const std::vector<Record>& rs) {
    std::map<uint64_t, std::vector<Record>> out;
    for (const Record& r : rs) out[r.get(FieldKey::FLOW_ID)].push_back(r);
    return out;
}

// As TcpAgentFailures: with both programs of each tracepoint, and with the
// second ones alone (the kernel skipping every run of the first).
using fc::tcp::TracepointPrograms;
class MptcpAgent : public ::testing::TestWithParam<TracepointPrograms> {
  protected:
    fc::test::TwoPaths topo;
    fc::test::AgentThread agent{0, false, true, GetParam()};

    std::vector<Record> wait_connection(uint32_t netns) {
        EXPECT_TRUE(agent.wait_for(connection_in(netns), ends_terminal, 5s))
            << "no terminal MPTCP connection profile in netns " << netns;
        return agent.records(connection_in(netns));
    }
};

// Data-level counters of one end against its MPTCP_INFO and the application.
void expect_bytes(const std::vector<Record>& conn, const MptcpInfo& ti, size_t app_sent,
                  size_t app_received, const char* side) {
    SCOPED_TRACE(side);
    EXPECT_EQ(sum(conn, FieldKey::MPTCP_BYTES_SENT), ti.bytes_sent);
    EXPECT_EQ(sum(conn, FieldKey::MPTCP_BYTES_RECEIVED), ti.bytes_received);
    EXPECT_EQ(sum(conn, FieldKey::MPTCP_BYTES_ACKED), ti.bytes_acked);
    EXPECT_EQ(sum(conn, FieldKey::MPTCP_BYTES_RETRANS), ti.bytes_retrans);
    // Clean paths: what the application wrote went out once and was acked
    // (the DATA_FIN takes one more unit of the data sequence space).
    EXPECT_EQ(sum(conn, FieldKey::MPTCP_BYTES_SENT), app_sent);
    EXPECT_EQ(sum(conn, FieldKey::MPTCP_BYTES_RECEIVED), app_received);
    EXPECT_EQ(sum(conn, FieldKey::MPTCP_BYTES_ACKED), app_sent + 1);
    EXPECT_EQ(conn.back().get(FieldKey::MPTCP_TOKEN), ti.token);
}

}  // namespace

TEST_P(MptcpAgent, TwoPathTransferGivesAConnectionChainWithAJoinAndMarkedSubflows) {
    constexpr size_t kBytes = 4'000'000;
    const Truth t = transfer(topo, true, kBytes / 2, kBytes / 2);
    ASSERT_EQ(t.server_received, kBytes);
    ASSERT_EQ(t.client_received, kReply);
    ASSERT_TRUE(t.client.ok && t.server.ok) << "MPTCP_INFO refused";
    ASSERT_EQ(t.client.info.flags & kInfoFlagFallback, 0u);
    ASSERT_EQ(t.client_subflows_seen, 2) << "the kernel itself saw no second subflow";

    for (const bool client : {true, false}) {
        SCOPED_TRACE(client ? "client" : "server");
        const uint32_t ns = client ? topo.client_inode() : topo.server_inode();
        const MptcpInfo& ti = client ? t.client.info : t.server.info;
        const auto conn = wait_connection(ns);
        ASSERT_GE(conn.size(), 3u);
        expect_chain(conn);
        // Opening: NEW -> ESTABLISHED by MP_CAPABLE, this side's role and 4-tuple.
        EXPECT_EQ(end_state(conn[0]), State::ESTABLISHED);
        EXPECT_EQ(why(conn[0]), Why::ESTABLISHED);
        EXPECT_EQ(conn[0].get(FieldKey::ROLE), client ? 1u : 2u);
        EXPECT_EQ(conn[0].get(client ? FieldKey::SRC_PORT : FieldKey::DST_PORT), t.client_port);
        EXPECT_EQ(conn[0].get(client ? FieldKey::DST_V4 : FieldKey::SRC_V4),
                  ntohl(inet_addr(topo.kServerV4)));
        // Exactly one join, as a transition of its own that keeps the state.
        std::vector<Record> joins;
        for (const Record& r : conn)
            if (why(r) == Why::SUBFLOW_JOINED) joins.push_back(r);
        ASSERT_EQ(joins.size(), 1u);
        EXPECT_EQ(start_state(joins[0]), State::ESTABLISHED);
        EXPECT_EQ(end_state(joins[0]), State::ESTABLISHED);
        EXPECT_EQ(joins[0].get(FieldKey::MPTCP_JOINS), 1u);
        EXPECT_EQ(joins[0].get(FieldKey::MPTCP_SUBFLOWS), 2u);
        EXPECT_EQ(sum(conn, FieldKey::MPTCP_JOINS), 1u);
        EXPECT_EQ(max_of(conn, FieldKey::MPTCP_SUBFLOWS_MAX), t.client_subflows_seen);
        // The end: an orderly close, every profile MPTCP (no fallback).
        EXPECT_EQ(end_state(conn.back()), State::FINISHED);
        EXPECT_EQ(why(conn.back()), Why::CLOSED);
        EXPECT_EQ(conn.back().get(FieldKey::CLOSE_CAUSE),
                  static_cast<uint64_t>(fc::CloseCause::FIN));
        EXPECT_EQ(max_of(conn, FieldKey::MPTCP_FALLBACK), 0u);
        expect_bytes(conn, ti, client ? kBytes : kReply, client ? kReply : kBytes,
                     client ? "client" : "server");

        // The subflows: two TCP connections in this namespace, both marked
        // with the connection's id and token, one initial and one join;
        // the join is the one the joined transition names.
        const uint64_t id = conn[0].get(FieldKey::FLOW_ID);
        const auto flows = by_flow(agent.records(tcp_in(ns)));
        ASSERT_EQ(flows.size(), 2u) << "no other TCP connection lives in this namespace";
        std::set<uint64_t> kinds;
        for (const auto& [flow, rs] : flows) {
            for (const Record& r : rs) {
                EXPECT_EQ(r.get(FieldKey::MPTCP_CONN_ID), id);
                EXPECT_EQ(r.get(FieldKey::MPTCP_TOKEN), ti.token);
            }
            const uint64_t kind = rs[0].get(FieldKey::MPTCP_SUBFLOW);
            kinds.insert(kind);
            if (kind == FC_MPTCP_SF_JOIN) {
                EXPECT_EQ(flow, joins[0].get(FieldKey::MPTCP_SF_FLOW_ID));
                // The join runs over path 2: the client's second address.
                EXPECT_EQ(rs[0].get(client ? FieldKey::SRC_V4 : FieldKey::DST_V4),
                          ntohl(inet_addr(topo.kClientV4Path2)));
            } else {
                EXPECT_EQ(rs[0].get(client ? FieldKey::SRC_PORT : FieldKey::DST_PORT),
                          t.client_port);
            }
        }
        EXPECT_EQ(kinds, (std::set<uint64_t>{FC_MPTCP_SF_INITIAL, FC_MPTCP_SF_JOIN}));
    }
}

TEST_P(MptcpAgent, ServerWithoutMptcpEndsAsFallback) {
    constexpr size_t kBytes = 300'000;
    const Truth t = transfer(topo, /*server_mptcp=*/false, kBytes, 0);
    ASSERT_EQ(t.server_received, kBytes);
    // The kernel's word: MPTCP_INFO says fallback, or refuses on a fallen-back socket.
    const bool kernel_fallback = !t.client.ok || (t.client.info.flags & kInfoFlagFallback);
    ASSERT_TRUE(kernel_fallback);

    const auto conn = wait_connection(topo.client_inode());
    expect_chain(conn);
    EXPECT_EQ(why(conn[0]), Why::FALLBACK);
    EXPECT_EQ(end_state(conn[0]), State::ESTABLISHED);
    for (const Record& r : conn) EXPECT_EQ(r.get(FieldKey::MPTCP_FALLBACK), 1u);
    EXPECT_EQ(end_state(conn.back()), State::FINISHED);
    EXPECT_EQ(why(conn.back()), Why::CLOSED);
    EXPECT_EQ(sum(conn, FieldKey::MPTCP_JOINS), 0u);
    EXPECT_EQ(max_of(conn, FieldKey::MPTCP_SUBFLOWS_MAX), 1u);
    // Data still goes through the MPTCP socket: the application's bytes.
    EXPECT_EQ(sum(conn, FieldKey::MPTCP_BYTES_SENT), kBytes);
    EXPECT_EQ(sum(conn, FieldKey::MPTCP_BYTES_RECEIVED), kReply);
    if (t.client.ok) {
        EXPECT_EQ(sum(conn, FieldKey::MPTCP_BYTES_SENT), t.client.info.bytes_sent);
        EXPECT_EQ(sum(conn, FieldKey::MPTCP_BYTES_RECEIVED), t.client.info.bytes_received);
    }
    // Its one subflow is the initial one, marked; the server saw plain TCP
    // and exports no MPTCP connection and no marking.
    const auto client_flows = by_flow(agent.records(tcp_in(topo.client_inode())));
    ASSERT_EQ(client_flows.size(), 1u);
    for (const Record& r : client_flows.begin()->second) {
        EXPECT_EQ(r.get(FieldKey::MPTCP_SUBFLOW), FC_MPTCP_SF_INITIAL);
        EXPECT_EQ(r.get(FieldKey::MPTCP_CONN_ID), conn[0].get(FieldKey::FLOW_ID));
    }
    EXPECT_TRUE(agent.records(connection_in(topo.server_inode())).empty());
    const auto server_tcp = agent.records(tcp_in(topo.server_inode()));
    ASSERT_FALSE(server_tcp.empty());
    for (const Record& r : server_tcp) {
        EXPECT_EQ(r.get(FieldKey::MPTCP_SUBFLOW), 0u);
        EXPECT_EQ(r.get(FieldKey::MPTCP_CONN_ID), 0u);
    }
}

TEST_P(MptcpAgent, SubflowClosedMidConnectionIsATransition) {
    constexpr size_t kBytes = 1'000'000;
    // Halfway, the client withdraws its path-2 endpoint: the kernel closes
    // that subflow and the transfer goes on over path 1.
    const Truth t = transfer(topo, true, kBytes / 2, kBytes / 2, [&](int fd) {
        fc::test::sh("ip -n " + topo.client_ns() + " mptcp endpoint delete id " +
                     std::to_string(topo.kClientEndpointId));
        if (!wait_subflows(fd, 1)) throw std::runtime_error("the path-2 subflow stayed open");
    });
    ASSERT_EQ(t.server_received, kBytes);
    ASSERT_TRUE(t.client.ok);
    ASSERT_EQ(t.client_subflows_seen, 2);

    const auto conn = wait_connection(topo.client_inode());
    expect_chain(conn);
    // ESTABLISHED, joined, subflow closed, ..., FINISHED: the close comes
    // after the join, keeps the state, names the join's subflow, and the
    // connection goes on with one subflow.
    size_t joined = conn.size(), closed = conn.size();
    for (size_t i = 0; i < conn.size(); ++i) {
        if (why(conn[i]) == Why::SUBFLOW_JOINED && joined == conn.size()) joined = i;
        if (why(conn[i]) == Why::SUBFLOW_CLOSED && closed == conn.size()) closed = i;
    }
    ASSERT_LT(joined, conn.size());
    ASSERT_LT(closed, conn.size());
    EXPECT_LT(joined, closed);
    EXPECT_LT(closed, conn.size() - 1) << "the subflow closed before the connection did";
    EXPECT_EQ(start_state(conn[closed]), State::ESTABLISHED);
    EXPECT_EQ(end_state(conn[closed]), State::ESTABLISHED);
    EXPECT_EQ(conn[closed].get(FieldKey::MPTCP_SUBFLOWS), 1u);
    EXPECT_EQ(conn[closed].get(FieldKey::MPTCP_SUBFLOWS_MAX), 2u);
    EXPECT_EQ(conn[closed].get(FieldKey::MPTCP_SF_CLOSES), 1u);
    EXPECT_EQ(conn[closed].get(FieldKey::MPTCP_SF_FLOW_ID),
              conn[joined].get(FieldKey::MPTCP_SF_FLOW_ID));
    EXPECT_EQ(conn.back().get(FieldKey::MPTCP_SUBFLOWS), 1u);
    EXPECT_EQ(end_state(conn.back()), State::FINISHED);
    expect_bytes(conn, t.client.info, kBytes, kReply, "client");
    // The closed subflow's own TCP profiles end before the connection's.
    const auto flows = by_flow(agent.records(tcp_in(topo.client_inode())));
    const auto sf = flows.find(conn[joined].get(FieldKey::MPTCP_SF_FLOW_ID));
    ASSERT_NE(sf, flows.end());
    ASSERT_TRUE(fc::is_terminal(end_state(sf->second.back())));
    EXPECT_LE(sf->second.back().get(FieldKey::WINDOW_END_NS),
              conn[closed].get(FieldKey::WINDOW_END_NS));
}

INSTANTIATE_TEST_SUITE_P(TracepointPrograms, MptcpAgent,
                         ::testing::Values(TracepointPrograms::both,
                                           TracepointPrograms::second_only),
                         [](const auto& info) {
                             return info.param == TracepointPrograms::both ? "BothPrograms"
                                                                           : "SecondProgramsAlone";
                         });
