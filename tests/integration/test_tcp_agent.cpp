// The TCP agent against the real kernel: namespaces, veth, real probes.
// Every KPI checked here is compared with the kernel's own TCP_INFO, read by
// the test on each socket once it reached CLOSE (so no later segment can
// change it), or with what the test itself did.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <future>
#include <random>
#include <thread>

#include "core/fsm.hpp"
#include "core/profile.hpp"
#include "support/agent_thread.hpp"
#include "support/netns.hpp"

using fc::State;
using fc::ipfix::FieldKey;
using fc::ipfix::Record;
using namespace std::chrono_literals;

namespace {

uint16_t random_port() {
    static std::mt19937 rng(std::random_device{}());
    return static_cast<uint16_t>(20000 + rng() % 20000);
}

sockaddr_storage make_addr(int family, const char* ip, uint16_t port, socklen_t* len) {
    sockaddr_storage ss{};
    if (family == AF_INET) {
        auto* a = reinterpret_cast<sockaddr_in*>(&ss);
        a->sin_family = AF_INET;
        a->sin_port = htons(port);
        inet_pton(AF_INET, ip, &a->sin_addr);
        *len = sizeof(sockaddr_in);
    } else {
        auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
        a->sin6_family = AF_INET6;
        a->sin6_port = htons(port);
        inet_pton(AF_INET6, ip, &a->sin6_addr);
        *len = sizeof(sockaddr_in6);
    }
    return ss;
}

uint16_t local_port(int fd) {
    sockaddr_storage ss{};
    socklen_t len = sizeof(ss);
    getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
    return ntohs(ss.ss_family == AF_INET ? reinterpret_cast<sockaddr_in*>(&ss)->sin_port
                                         : reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
}

bool port_pair(const Record& r, uint16_t src, uint16_t dst) {
    return r.get(FieldKey::SRC_PORT) == src && r.get(FieldKey::DST_PORT) == dst;
}

// The profiles one end of a connection exported: its local and remote ports,
// in its namespace.
fc::test::AgentThread::Filter one_end(uint16_t local, uint16_t remote, uint32_t netns) {
    return [=](const Record& r) {
        return port_pair(r, local, remote) && r.get(FieldKey::NETNS_INODE) == netns;
    };
}

uint64_t sum(const std::vector<Record>& rs, FieldKey k) {
    uint64_t s = 0;
    for (const auto& r : rs) s += r.get(k);
    return s;
}

State end_state(const Record& r) { return static_cast<State>(r.get(FieldKey::END_STATE)); }
State start_state(const Record& r) { return static_cast<State>(r.get(FieldKey::START_STATE)); }

bool ends_terminal(const std::vector<Record>& rs) {
    return !rs.empty() && fc::is_terminal(end_state(rs.back()));
}

struct TransferResult {
    tcp_info client{}, server{};
    uint16_t client_port = 0;
};

// Client in the client namespace sends `bytes` to a server in the server
// namespace, both close in order, and each reads TCP_INFO once in CLOSE.
// on_progress(received) runs in the server thread as data arrives.
TransferResult transfer(const fc::test::VethPair& topo, int family, uint16_t port, size_t bytes,
                        const std::function<void(size_t)>& on_progress = {}, int server_rcvbuf = 0,
                        uint32_t client_pacing_bytes_per_s = 0) {
    const char* server_ip = family == AF_INET ? topo.kServerV4 : topo.kServerV6;
    std::promise<void> listening;
    auto ready = listening.get_future();
    auto server = std::async(std::launch::async, [&]() -> tcp_info {
        fc::test::InNetns in(topo.server_ns());
        fc::test::Fd ls(socket(family, SOCK_STREAM, 0));
        int one = 1;
        setsockopt(ls.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (server_rcvbuf > 0)  // inherited by the accepted socket
            setsockopt(ls.get(), SOL_SOCKET, SO_RCVBUFFORCE, &server_rcvbuf, sizeof(server_rcvbuf));
        socklen_t len;
        sockaddr_storage a = make_addr(family, server_ip, port, &len);
        if (bind(ls.get(), reinterpret_cast<sockaddr*>(&a), len) != 0 || listen(ls.get(), 4) != 0)
            throw std::runtime_error(std::string("server bind/listen: ") + std::strerror(errno));
        listening.set_value();
        fc::test::Fd c(accept(ls.get(), nullptr, nullptr));
        std::vector<char> buf(1 << 16);
        size_t total = 0;
        for (ssize_t n; (n = read(c.get(), buf.data(), buf.size())) > 0;) {
            total += static_cast<size_t>(n);
            if (on_progress) on_progress(total);
        }
        if (total != bytes) throw std::runtime_error("server received " + std::to_string(total));
        shutdown(c.get(), SHUT_WR);
        if (!fc::test::wait_tcp_closed(c.get(), 10000))
            throw std::runtime_error("server never reached CLOSE");
        return fc::test::read_tcp_info(c.get());
    });
    ready.wait();

    TransferResult res;
    {
        fc::test::InNetns in(topo.client_ns());
        fc::test::Fd s(socket(family, SOCK_STREAM, 0));
        if (client_pacing_bytes_per_s > 0)  // TCP's internal pacing, no qdisc needed
            setsockopt(s.get(), SOL_SOCKET, SO_MAX_PACING_RATE, &client_pacing_bytes_per_s,
                       sizeof(client_pacing_bytes_per_s));
        socklen_t len;
        sockaddr_storage a = make_addr(family, server_ip, port, &len);
        if (connect(s.get(), reinterpret_cast<sockaddr*>(&a), len) != 0)
            throw std::runtime_error(std::string("connect: ") + std::strerror(errno));
        res.client_port = local_port(s.get());
        std::vector<char> buf(1 << 16, 'x');
        for (size_t sent = 0; sent < bytes;) {
            ssize_t n = write(s.get(), buf.data(), std::min(buf.size(), bytes - sent));
            if (n <= 0) throw std::runtime_error("client write failed");
            sent += static_cast<size_t>(n);
        }
        shutdown(s.get(), SHUT_WR);
        while (read(s.get(), buf.data(), buf.size()) > 0) {
        }
        if (!fc::test::wait_tcp_closed(s.get(), 10000))
            throw std::runtime_error("client never reached CLOSE");
        res.client = fc::test::read_tcp_info(s.get());
    }
    res.server = server.get();
    return res;
}

// Every counter KPI summed over a connection's profiles equals TCP_INFO at
// close; every "at window end" KPI of the last profile equals it too.
void expect_matches_tcp_info(const std::vector<Record>& rs, const tcp_info& ti, const char* side) {
    SCOPED_TRACE(side);
    ASSERT_FALSE(rs.empty());
    EXPECT_EQ(sum(rs, FieldKey::BYTES_ACKED), ti.tcpi_bytes_acked);
    EXPECT_EQ(sum(rs, FieldKey::BYTES_RECEIVED), ti.tcpi_bytes_received);
    EXPECT_EQ(sum(rs, FieldKey::BYTES_SENT), ti.tcpi_bytes_sent);
    EXPECT_EQ(sum(rs, FieldKey::BYTES_RETRANS), ti.tcpi_bytes_retrans);
    EXPECT_EQ(sum(rs, FieldKey::SEGS_OUT), ti.tcpi_segs_out);
    EXPECT_EQ(sum(rs, FieldKey::SEGS_IN), ti.tcpi_segs_in);
    EXPECT_EQ(sum(rs, FieldKey::DATA_SEGS_OUT), ti.tcpi_data_segs_out);
    EXPECT_EQ(sum(rs, FieldKey::DATA_SEGS_IN), ti.tcpi_data_segs_in);
    EXPECT_EQ(sum(rs, FieldKey::RETRANS_SEGS), ti.tcpi_total_retrans);
    EXPECT_EQ(sum(rs, FieldKey::DSACK_DUPS), ti.tcpi_dsack_dups);
    EXPECT_EQ(sum(rs, FieldKey::REORD_SEEN), ti.tcpi_reord_seen);
    EXPECT_EQ(sum(rs, FieldKey::OOO_SEGS_IN), ti.tcpi_rcv_ooopack);
    const Record& last = rs.back();
    EXPECT_EQ(last.get(FieldKey::SRTT_US_END), ti.tcpi_rtt);
    EXPECT_EQ(last.get(FieldKey::RTTVAR_US_END), ti.tcpi_rttvar);
    EXPECT_EQ(last.get(FieldKey::MIN_RTT_US_END), ti.tcpi_min_rtt);
    EXPECT_EQ(last.get(FieldKey::LOST_OUT_END), ti.tcpi_lost);
}

// Windows of one connection are contiguous and its states chain.
void expect_contiguous_chain(const std::vector<Record>& rs) {
    for (size_t i = 0; i < rs.size(); ++i) {
        EXPECT_EQ(rs[i].get(FieldKey::PROFILE_SEQ), i);
        EXPECT_LE(rs[i].get(FieldKey::WINDOW_START_NS), rs[i].get(FieldKey::WINDOW_END_NS));
        if (i == 0) continue;
        EXPECT_EQ(start_state(rs[i]), end_state(rs[i - 1]));
        EXPECT_EQ(rs[i].get(FieldKey::WINDOW_START_NS), rs[i - 1].get(FieldKey::WINDOW_END_NS));
        EXPECT_EQ(rs[i].get(FieldKey::FLOW_ID), rs[0].get(FieldKey::FLOW_ID));
    }
}

class TcpAgent : public ::testing::TestWithParam<int> {
  protected:
    fc::test::VethPair topo;
};

}  // namespace

TEST_P(TcpAgent, KnownSizeTransferMatchesKernelTcpInfoExactly) {
    const int family = GetParam();
    fc::test::AgentThread agent;
    const uint16_t port = random_port();
    const size_t bytes = 3 * 1024 * 1024 + 12345;
    TransferResult t = transfer(topo, family, port, bytes);

    auto client_f = one_end(t.client_port, port, topo.client_inode());
    auto server_f = one_end(port, t.client_port, topo.server_inode());
    ASSERT_TRUE(agent.wait_for(client_f, ends_terminal, 5s));
    ASSERT_TRUE(agent.wait_for(server_f, ends_terminal, 5s));
    auto client = agent.records(client_f);
    auto server = agent.records(server_f);

    // The application moved exactly `bytes`; the kernel counts SYN and FIN too.
    EXPECT_EQ(t.client.tcpi_bytes_acked, bytes + 2);
    expect_matches_tcp_info(client, t.client, "client");
    expect_matches_tcp_info(server, t.server, "server");
    expect_contiguous_chain(client);
    expect_contiguous_chain(server);

    for (const auto* rs : {&client, &server}) {
        EXPECT_EQ(start_state(rs->front()), State::NEW);
        EXPECT_EQ(end_state(rs->front()), State::ESTABLISHED);
        EXPECT_EQ(end_state(rs->back()), State::FINISHED);
        EXPECT_EQ(rs->back().get(FieldKey::CLOSE_CAUSE),
                  static_cast<uint64_t>(fc::CloseCause::FIN));
        EXPECT_GT(sum(*rs, FieldKey::RTT_SAMPLES), 0u);
        EXPECT_EQ(rs->front().get(FieldKey::SYN_RETRANS), 0u);
    }
    // RTT samples: no per-sample truth without captures (the testbed's job);
    // these bounds catch unit or source errors. Each sample comes from an
    // incoming ACK; their mean is at least the kernel's minimum sample and
    // stays near the kernel's smoothed value of the same samples.
    for (const auto* rs : {&client, &server}) {
        for (const auto& r : *rs) {
            if (r.get(FieldKey::RTT_SAMPLES) == 0) continue;
            EXPECT_LE(r.get(FieldKey::RTT_SAMPLES), r.get(FieldKey::SEGS_IN));
            EXPECT_GE(r.get(FieldKey::RTT_MEAN_US), rs->back().get(FieldKey::MIN_RTT_US_END));
            EXPECT_LE(r.get(FieldKey::RTT_MEAN_US), 4 * r.get(FieldKey::SRTT_US_END) + 1000);
        }
    }
    EXPECT_EQ(client.front().get(FieldKey::ROLE), 1u);
    EXPECT_EQ(server.front().get(FieldKey::ROLE), 2u);
    EXPECT_EQ(client.front().tmpl,
              family == AF_INET ? fc::ipfix::TemplateKey::TCP_V4 : fc::ipfix::TemplateKey::TCP_V6);
    // The handshake's RTT sample lands in the opening window of the client.
    EXPECT_GE(client.front().get(FieldKey::RTT_SAMPLES), 1u);
}

INSTANTIATE_TEST_SUITE_P(Families, TcpAgent, ::testing::Values(AF_INET, AF_INET6),
                         [](const auto& info) { return info.param == AF_INET ? "IPv4" : "IPv6"; });

// Each failure runs twice: with both programs of each tracepoint, as
// shipped, and with the second ones alone, as if the kernel had skipped
// every run of the first (tcp_monitor.bpf.c, "Nested runs"): either way no
// event may be lost or counted twice.
using fc::tcp::TracepointPrograms;
class TcpAgentFailures : public ::testing::TestWithParam<TracepointPrograms> {
  protected:
    fc::test::VethPair topo;
    // The second programs alone did the work they are there for.
    void expect_second_programs_worked(const fc::test::AgentThread& agent) const {
        if (GetParam() == TracepointPrograms::second_only) {
            EXPECT_GT(agent.probe_stats().get(FC_STAT_NESTED_CAUGHT), 0u);
        }
    }
};

TEST_P(TcpAgentFailures, RefusedConnectionEndsInProtocolError) {
    fc::test::AgentThread agent(0, false, false, GetParam());
    const uint16_t port = random_port();  // nobody listens there
    uint16_t cport = 0;
    {
        fc::test::InNetns in(topo.client_ns());
        fc::test::Fd s(socket(AF_INET, SOCK_STREAM, 0));
        socklen_t len;
        sockaddr_storage a = make_addr(AF_INET, topo.kServerV4, port, &len);
        ASSERT_NE(connect(s.get(), reinterpret_cast<sockaddr*>(&a), len), 0);
        ASSERT_EQ(errno, ECONNREFUSED);
        cport = local_port(s.get());
    }
    auto f = [&](const Record& r) { return port_pair(r, cport, port); };
    ASSERT_TRUE(agent.wait_for(f, ends_terminal, 5s));
    auto rs = agent.records(f);
    ASSERT_EQ(rs.size(), 1u);
    EXPECT_EQ(start_state(rs[0]), State::NEW);
    EXPECT_EQ(end_state(rs[0]), State::PROTOCOL_ERROR);
    EXPECT_EQ(rs[0].get(FieldKey::CLOSE_CAUSE), static_cast<uint64_t>(fc::CloseCause::REFUSED));
    EXPECT_EQ(rs[0].get(FieldKey::CLOSE_ERRNO), static_cast<uint64_t>(ECONNREFUSED));
    EXPECT_EQ(rs[0].get(FieldKey::SEGS_OUT), 1u);  // the SYN
}

// TCP_INFO is no ground truth here: a failed connect() disconnects the
// socket, which zeroes its counters. The firewall rule's own packet counter
// is: it saw every SYN the client sent.
TEST_P(TcpAgentFailures, DroppedSynEndsInNetworkErrorWithSynRetransmissions) {
    const uint16_t port = random_port();
    const std::string nft = "ip netns exec " + topo.server_ns() + " nft ";
    fc::test::sh(nft +
                 "add table inet fct '{ chain in { type filter hook input priority 0; tcp dport " +
                 std::to_string(port) + " counter drop; }; }'");
    fc::test::AgentThread agent(0, false, false, GetParam());
    uint16_t cport = 0;
    {
        fc::test::InNetns in(topo.client_ns());
        fc::test::Fd s(socket(AF_INET, SOCK_STREAM, 0));
        int syn_count = 2;  // give up after two SYN retransmissions
        setsockopt(s.get(), IPPROTO_TCP, TCP_SYNCNT, &syn_count, sizeof(syn_count));
        socklen_t len;
        sockaddr_storage a = make_addr(AF_INET, topo.kServerV4, port, &len);
        ASSERT_NE(connect(s.get(), reinterpret_cast<sockaddr*>(&a), len), 0);
        ASSERT_EQ(errno, ETIMEDOUT);
        cport = local_port(s.get());
    }
    const uint64_t syns_seen = fc::test::nft_counter_packets(topo.server_ns(), "fct");
    auto f = [&](const Record& r) { return port_pair(r, cport, port); };
    ASSERT_TRUE(agent.wait_for(f, ends_terminal, 5s));
    auto rs = agent.records(f);
    ASSERT_EQ(rs.size(), 1u);
    EXPECT_EQ(end_state(rs[0]), State::NETWORK_ERROR);
    EXPECT_EQ(rs[0].get(FieldKey::CLOSE_CAUSE), static_cast<uint64_t>(fc::CloseCause::TIMEOUT));
    EXPECT_EQ(rs[0].get(FieldKey::CLOSE_ERRNO), static_cast<uint64_t>(ETIMEDOUT));
    ASSERT_GE(syns_seen, 3u);
    EXPECT_EQ(rs[0].get(FieldKey::SYN_RETRANS), syns_seen - 1);
    EXPECT_EQ(rs[0].get(FieldKey::RETRANS_SEGS), syns_seen - 1);
    EXPECT_EQ(rs[0].get(FieldKey::SEGS_OUT), syns_seen);
    // One RTO before each SYN retransmission; the last expiry ends the
    // connect (its close cause) and is not a stall, as in tcpi_total_rto.
    EXPECT_EQ(rs[0].get(FieldKey::RTO_STALLS), syns_seen - 1);
    EXPECT_EQ(rs[0].get(FieldKey::BYTES_ACKED), 0u);
}

TEST_P(TcpAgentFailures, DropBurstMidTransferGivesDegradedRoundTrip) {
    fc::test::AgentThread agent(0, false, false, GetParam());
    const uint16_t port = random_port();
    const std::string nft = "ip netns exec " + topo.server_ns() + " nft ";
    bool installed = false, removed = false;
    // Between 2 MiB and 4 MiB received, every 10th packet to the server is dropped.
    TransferResult t = transfer(topo, AF_INET, port, 12 * 1024 * 1024, [&](size_t got) {
        if (!installed && got >= 2u << 20) {
            fc::test::sh(
                nft +
                "add table inet fct '{ chain in { type filter hook input priority 0; tcp dport " +
                std::to_string(port) + " numgen inc mod 10 == 0 drop; }; }'");
            installed = true;
        } else if (installed && !removed && got >= 4u << 20) {
            fc::test::sh(nft + "delete table inet fct");
            removed = true;
        }
    });
    ASSERT_TRUE(installed && removed);
    auto client_f = one_end(t.client_port, port, topo.client_inode());
    ASSERT_TRUE(agent.wait_for(client_f, ends_terminal, 5s));
    auto rs = agent.records(client_f);
    expect_contiguous_chain(rs);
    expect_matches_tcp_info(rs, t.client, "sender");
    ASSERT_GT(t.client.tcpi_total_retrans, 0u);

    size_t into = 0, out_of = 0;
    uint64_t degraded_retrans = 0;
    for (const auto& r : rs) {
        if (start_state(r) == State::ESTABLISHED && end_state(r) == State::DEGRADED) ++into;
        if (start_state(r) == State::DEGRADED && end_state(r) == State::ESTABLISHED) {
            ++out_of;
            degraded_retrans += r.get(FieldKey::RETRANS_SEGS);
        }
    }
    EXPECT_GE(into, 1u);
    EXPECT_EQ(into, out_of);  // every lossy period ended before the close
    EXPECT_GT(degraded_retrans, 0u);
    EXPECT_EQ(sum(rs, FieldKey::RETRANS_SEGS), t.client.tcpi_total_retrans);
    expect_second_programs_worked(agent);

    // The receiver saw the segments after each hole arrive out of order.
    auto server_f = one_end(port, t.client_port, topo.server_inode());
    ASSERT_TRUE(agent.wait_for(server_f, ends_terminal, 5s));
    auto srv = agent.records(server_f);
    expect_matches_tcp_info(srv, t.server, "receiver");
    EXPECT_GT(sum(srv, FieldKey::OOO_SEGS_IN), 0u);
    EXPECT_GT(sum(srv, FieldKey::OOO_DIST_SAMPLES), 0u);
    for (const auto& r : srv) {
        // A hole is at least one segment and at most the receive window.
        if (r.get(FieldKey::OOO_DIST_SAMPLES) == 0) continue;
        EXPECT_GE(r.get(FieldKey::OOO_DIST_MEAN), 1000u);
        EXPECT_LE(r.get(FieldKey::OOO_DIST_MEAN), 64u << 20);
    }
}

// ACKs from the receiver are blacked out for a while: the sender's
// retransmission timer fires and it resends data the receiver already has.
// The receiver's buffer is larger than the transfer, so the sender is never
// window-limited (a zero window would put it in persist mode, not RTO).
// Ground truth: the namespaces' MIB counters (each holds this one
// connection): TcpExt:TCPTimeouts at the sender for RTOs, and
// TcpExt:DelayedACKLost at the receiver, which the kernel bumps for every
// data skb arriving wholly below rcv_nxt. The sender's segmentation offload
// is off so that one skb is one segment and the two counts compare exactly.
TEST_P(TcpAgentFailures, AckBlackoutGivesRtoStallsAndDuplicatesReceived) {
    fc::test::AgentThread agent(0, false, false, GetParam());
    const uint16_t port = random_port();
    const std::string nft = "ip netns exec " + topo.client_ns() + " nft ";
    fc::test::sh("ip -n " + topo.client_ns() + " link set dev " + topo.client_dev() +
                 " gso_max_segs 1");
    std::thread blackout;
    // Paced at 50 Mbit/s, 4 MiB take ~0.7 s: the blackout (from 1 MiB on,
    // 0.9 s long) surely hits data in flight.
    TransferResult t = transfer(
        topo, AF_INET, port, 4 * 1024 * 1024,
        [&](size_t got) {
            if (blackout.joinable() || got < (1u << 20)) return;
            fc::test::sh(
                nft +
                "add table inet fct '{ chain in { type filter hook input priority 0; tcp sport " +
                std::to_string(port) + " drop; }; }'");
            blackout = std::thread([&] {
                std::this_thread::sleep_for(900ms);
                fc::test::sh(nft + "delete table inet fct");
            });
        },
        32 << 20, 50'000'000 / 8);
    blackout.join();
    const uint64_t rtos = fc::test::netstat_counter(topo.client_ns(), "TcpExt", "TCPTimeouts");
    const uint64_t dup_skbs =
        fc::test::netstat_counter(topo.server_ns(), "TcpExt", "DelayedACKLost");

    auto client_f = one_end(t.client_port, port, topo.client_inode());
    auto server_f = one_end(port, t.client_port, topo.server_inode());
    ASSERT_TRUE(agent.wait_for(client_f, ends_terminal, 5s));
    ASSERT_TRUE(agent.wait_for(server_f, ends_terminal, 5s));
    auto snd = agent.records(client_f);
    auto rcv = agent.records(server_f);
    expect_matches_tcp_info(snd, t.client, "sender");
    expect_matches_tcp_info(rcv, t.server, "receiver");

    ASSERT_GT(rtos, 0u);
    EXPECT_EQ(sum(snd, FieldKey::RTO_STALLS), rtos);
    ASSERT_GT(dup_skbs, 0u);
    EXPECT_EQ(sum(rcv, FieldKey::DUP_SEGS_IN), dup_skbs);
    // An RTO puts the sender in Loss: a lossy period, so a DEGRADED window.
    bool degraded = false;
    for (const auto& r : snd) degraded |= end_state(r) == State::DEGRADED;
    EXPECT_TRUE(degraded);
    expect_second_programs_worked(agent);
}

// A server that sent its FIN and waits in FIN_WAIT2 for the peer's gives up
// with SO_LINGER {1, 0}: the kernel leaves FIN_WAIT2 and then resets (seen
// in tcp-loss-gemodel when the client's FIN was lost three times). The
// same linger setting on a socket that took the peer's FIN in is an orderly
// close into TIME_WAIT: FIN_WAIT2 -> CLOSE both times, told apart by the
// peer's FIN (SOCK_DONE).
TEST_P(TcpAgentFailures, LingerAbortFromFinWait2IsAResetSentAndTheTimeWaitCloseIsNot) {
    fc::test::AgentThread agent(0, false, false, GetParam());
    for (const bool peer_fin : {false, true}) {
        const uint16_t port = random_port();
        fc::test::Fd ls, cl;
        {
            fc::test::InNetns in(topo.server_ns());
            ls = fc::test::Fd(socket(AF_INET, SOCK_STREAM, 0));
            socklen_t len;
            sockaddr_storage a = make_addr(AF_INET, topo.kServerV4, port, &len);
            ASSERT_EQ(bind(ls.get(), reinterpret_cast<sockaddr*>(&a), len), 0);
            ASSERT_EQ(listen(ls.get(), 1), 0);
        }
        {
            fc::test::InNetns in(topo.client_ns());
            cl = fc::test::Fd(socket(AF_INET, SOCK_STREAM, 0));
            socklen_t len;
            sockaddr_storage a = make_addr(AF_INET, topo.kServerV4, port, &len);
            ASSERT_EQ(connect(cl.get(), reinterpret_cast<sockaddr*>(&a), len), 0);
        }
        const uint16_t cport = local_port(cl.get());
        fc::test::Fd sv(accept(ls.get(), nullptr, nullptr));
        ASSERT_GE(sv.get(), 0);
        const linger abort{1, 0};
        ASSERT_EQ(setsockopt(sv.get(), SOL_SOCKET, SO_LINGER, &abort, sizeof abort), 0);
        ASSERT_EQ(shutdown(sv.get(), SHUT_WR), 0);
        auto state_of = [&](int fd) {
            tcp_info ti{};
            socklen_t n = sizeof ti;
            getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &n);
            return ti.tcpi_state;
        };
        for (int i = 0; i < 200 && state_of(sv.get()) != 5 /* FIN_WAIT2 */; ++i)
            std::this_thread::sleep_for(5ms);
        ASSERT_EQ(state_of(sv.get()), 5) << "the client never acknowledged the server's FIN";
        if (peer_fin) {
            cl = fc::test::Fd();  // the client's FIN: the server goes to TIME_WAIT
            for (int i = 0; i < 200 && state_of(sv.get()) != 7 /* CLOSE */; ++i)
                std::this_thread::sleep_for(5ms);
        }
        sv = fc::test::Fd();  // close(): an abort only while the peer's FIN is due
        auto f = one_end(port, cport, topo.server_inode());
        ASSERT_TRUE(agent.wait_for(f, ends_terminal, 5s)) << "peer_fin " << peer_fin;
        const auto rs = agent.records(f);
        const auto want = peer_fin ? fc::CloseCause::FIN : fc::CloseCause::RESET_SENT;
        EXPECT_EQ(rs.back().get(FieldKey::CLOSE_CAUSE), static_cast<uint64_t>(want))
            << "peer_fin " << peer_fin;
        EXPECT_EQ(end_state(rs.back()), peer_fin ? State::FINISHED : State::PROTOCOL_ERROR);
    }
}

TEST_P(TcpAgentFailures, NamespaceFilterSeesOnlyItsNamespace) {
    fc::test::AgentThread agent(topo.server_inode(), false, false, GetParam());
    const uint16_t port = random_port();
    TransferResult t = transfer(topo, AF_INET, port, 100000);
    auto server_f = [&](const Record& r) { return port_pair(r, port, t.client_port); };
    auto client_f = [&](const Record& r) { return port_pair(r, t.client_port, port); };
    ASSERT_TRUE(agent.wait_for(server_f, ends_terminal, 5s));
    EXPECT_TRUE(agent.records(client_f).empty());
    for (const auto& r : agent.records([](const Record&) { return true; }))
        EXPECT_EQ(r.get(FieldKey::NETNS_INODE), topo.server_inode());
}

// An ICMP host-unreachable for a SYN: IPv4 queues the ICMP error on the
// socket (waking pollers) before it sets sk_err and closes, so an
// application spinning on SO_ERROR can take sk_err before the close
// tracepoint reads it. The exported cause must not depend on who wins.
TEST_P(TcpAgentFailures, UnreachableCauseSurvivesAnApplicationRacingForSoError) {
    const uint16_t port = random_port();
    fc::test::sh("ip netns exec " + topo.server_ns() +
                 " nft add table inet fcu '{ chain in { type filter hook input priority 0; tcp "
                 "dport " +
                 std::to_string(port) + " reject with icmp type host-unreachable; }; }'");
    // One ICMP error per SYN, however fast they come.
    fc::test::sh("ip netns exec " + topo.server_ns() + " sysctl -qw net.ipv4.icmp_ratelimit=0");
    fc::test::AgentThread agent(0, false, false, GetParam());
    constexpr int kMaxConnections = 300;
    constexpr int kRacesWanted = 3;
    std::vector<uint16_t> cports;
    int won = 0;  // SO_ERROR returned the error while the socket was not yet closed
    {
        fc::test::InNetns in(topo.client_ns());
        for (int i = 0; i < kMaxConnections && (won < kRacesWanted || i < 20); ++i) {
            fc::test::Fd s(socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0));
            socklen_t len;
            sockaddr_storage a = make_addr(AF_INET, topo.kServerV4, port, &len);
            ASSERT_NE(connect(s.get(), reinterpret_cast<sockaddr*>(&a), len), 0);
            ASSERT_EQ(errno, EINPROGRESS);
            cports.push_back(local_port(s.get()));
            int err = 0;
            const auto deadline = std::chrono::steady_clock::now() + 5s;
            while (err == 0 && std::chrono::steady_clock::now() < deadline) {
                socklen_t el = sizeof err;
                getsockopt(s.get(), SOL_SOCKET, SO_ERROR, &err, &el);
            }
            ASSERT_EQ(err, EHOSTUNREACH);
            tcp_info ti{};
            socklen_t tl = sizeof ti;
            getsockopt(s.get(), IPPROTO_TCP, TCP_INFO, &ti, &tl);
            if (ti.tcpi_state != 7) ++won;  // 7: TCP_CLOSE
        }
    }
    std::printf("the application took sk_err before the close in %d of %zu connections\n", won,
                cports.size());
    // Without a won race this test would not test the race.
    ASSERT_GE(won, 1) << "no connection raced in " << cports.size() << " tries";
    for (uint16_t cport : cports) {
        auto f = [&](const Record& r) { return port_pair(r, cport, port); };
        ASSERT_TRUE(agent.wait_for(f, ends_terminal, 5s)) << "port " << cport;
        auto rs = agent.records(f);
        ASSERT_EQ(rs.size(), 1u);
        EXPECT_EQ(end_state(rs[0]), State::NETWORK_ERROR) << "port " << cport;
        EXPECT_EQ(rs[0].get(FieldKey::CLOSE_CAUSE),
                  static_cast<uint64_t>(fc::CloseCause::UNREACHABLE))
            << "port " << cport;
        EXPECT_EQ(rs[0].get(FieldKey::CLOSE_ERRNO), static_cast<uint64_t>(EHOSTUNREACH))
            << "port " << cport;
    }
}

INSTANTIATE_TEST_SUITE_P(TracepointPrograms, TcpAgentFailures,
                         ::testing::Values(TracepointPrograms::both,
                                           TracepointPrograms::second_only),
                         [](const auto& info) {
                             return info.param == TracepointPrograms::both ? "BothPrograms"
                                                                           : "SecondProgramsAlone";
                         });
