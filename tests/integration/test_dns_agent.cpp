// The DNS probes against the real kernel, the real C library and a real DNS
// server (dnsmasq) in a namespace of the test's own. The truth for each
// lookup is what the test's own child process saw from getaddrinfo(); the
// truth for the wire is an nftables counter of the queries that reached the
// server's namespace.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netdb.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "core/clock.hpp"
#include "core/fsm.hpp"
#include "dns/dns_profiler.hpp"
#include "support/agent_thread.hpp"
#include "support/netns.hpp"

using fc::State;
using fc::dns::Outcome;
using fc::ipfix::FieldKey;
using fc::ipfix::Record;
using fc::ipfix::TemplateKey;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

// dnsmasq serving a test zone of our own, in the server namespace.
class Dnsmasq {
  public:
    Dnsmasq(const std::string& ns, const std::string& listen) {
        dir_ = fs::temp_directory_path() / ("fc-dns-test-" + std::to_string(getpid()));
        fs::create_directories(dir_);
        pid_ = fork();
        if (pid_ == 0) {
            const std::string la = "--listen-address=" + listen;
            const std::string log = "--log-facility=" + (dir_ / "dnsmasq.log").string();
            execlp("ip", "ip", "netns", "exec", ns.c_str(), "dnsmasq", "--keep-in-foreground",
                   "--no-resolv", "--no-hosts", "--no-poll", "--bind-interfaces", la.c_str(),
                   "--cache-size=0", "--local=/fc.test/", "--address=/a.fc.test/198.18.200.1",
                   "--host-record=both.fc.test,198.18.200.2,fd00:200::2",
                   "--txt-record=txt.fc.test,no address here", "--log-queries", log.c_str(),
                   "--pid-file=", "--user=root", static_cast<char*>(nullptr));
            _exit(127);
        }
        // Ready when it answers: the log says so.
        for (int i = 0; i < 100; ++i) {
            std::ifstream in(dir_ / "dnsmasq.log");
            std::string all((std::istreambuf_iterator<char>(in)), {});
            if (all.find("started") != std::string::npos) break;
            std::this_thread::sleep_for(50ms);
        }
        std::this_thread::sleep_for(100ms);
    }
    ~Dnsmasq() {
        if (pid_ > 0) {
            kill(pid_, SIGTERM);
            waitpid(pid_, nullptr, 0);
        }
        std::error_code ec;
        fs::remove_all(dir_, ec);
    }
    Dnsmasq(const Dnsmasq&) = delete;
    Dnsmasq& operator=(const Dnsmasq&) = delete;
    const fs::path& dir() const { return dir_; }

  private:
    pid_t pid_ = -1;
    fs::path dir_;
};

struct LookupTruth {
    pid_t pid = 0;
    int rc = 0;
    uint64_t t0 = 0, t1 = 0;
    int v4 = 0, v6 = 0;
};

// getaddrinfo(name) in a child process inside namespace `ns`, whose
// /etc/resolv.conf is `resolv` (as `ip netns exec` arranges it).
LookupTruth lookup_in(const std::string& ns, const std::string& resolv, const std::string& name,
                      int family) {
    int p[2];
    if (pipe(p) != 0) throw std::runtime_error("pipe");
    const pid_t child = fork();
    if (child == 0) {
        close(p[0]);
        LookupTruth t;
        const int nsfd = open(("/var/run/netns/" + ns).c_str(), O_RDONLY | O_CLOEXEC);
        if (nsfd < 0 || setns(nsfd, CLONE_NEWNET) != 0 || unshare(CLONE_NEWNS) != 0 ||
            mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0 ||
            mount(resolv.c_str(), "/etc/resolv.conf", nullptr, MS_BIND, nullptr) != 0)
            _exit(3);
        addrinfo hints{};
        hints.ai_family = family;
        hints.ai_socktype = SOCK_STREAM;
        addrinfo* res = nullptr;
        t.pid = getpid();
        t.t0 = fc::WallClock::now_ns();
        t.rc = getaddrinfo(name.c_str(), nullptr, &hints, &res);
        t.t1 = fc::WallClock::now_ns();
        std::set<std::string> seen;
        for (addrinfo* a = res; a; a = a->ai_next) {
            char buf[INET6_ADDRSTRLEN] = {};
            const void* src = a->ai_family == AF_INET
                                  ? static_cast<const void*>(
                                        &reinterpret_cast<sockaddr_in*>(a->ai_addr)->sin_addr)
                                  : static_cast<const void*>(
                                        &reinterpret_cast<sockaddr_in6*>(a->ai_addr)->sin6_addr);
            inet_ntop(a->ai_family, src, buf, sizeof buf);
            if (seen.insert(buf).second) (a->ai_family == AF_INET ? t.v4 : t.v6) += 1;
        }
        if (res) freeaddrinfo(res);
        const ssize_t w = write(p[1], &t, sizeof t);
        _exit(w == sizeof t ? 0 : 4);
    }
    close(p[1]);
    LookupTruth t;
    const ssize_t n = read(p[0], &t, sizeof t);
    close(p[0]);
    int status = 0;
    waitpid(child, &status, 0);
    if (n != sizeof t || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        throw std::runtime_error("lookup child failed (status " + std::to_string(status) + ")");
    return t;
}

class DnsAgent : public ::testing::Test {
  protected:
    void SetUp() override {
        resolv_ = (fs::temp_directory_path() / ("fc-resolv-" + std::to_string(getpid()))).string();
        // One counter per server address family: the queries that reached the server side.
        fc::test::sh("ip netns exec " + topo.server_ns() +
                     " nft add table inet fcdns '{ chain in { type filter hook input priority 0; "
                     "udp dport 53 counter; }; }'");
    }
    void TearDown() override { fs::remove(resolv_); }
    void nameserver(const std::string& addr, int timeout_s, int attempts) {
        std::ofstream(resolv_) << "nameserver " << addr << "\noptions timeout:" << timeout_s
                               << " attempts:" << attempts << "\n";
    }
    // The lookup's own profile and the query profiles linked to it.
    std::pair<std::vector<Record>, std::vector<Record>> views(pid_t pid) {
        auto mine = [pid](const Record& r) {
            return r.tmpl == TemplateKey::DNS_LOOKUP &&
                   r.get(FieldKey::PROCESS_ID) == uint64_t(pid);
        };
        agent.wait_for(
            mine, [](const auto& v) { return !v.empty(); }, 5s);
        auto lookups = agent.records(mine);
        std::vector<Record> queries;
        if (lookups.size() == 1) {
            const uint64_t id = lookups[0].get(FieldKey::DNS_LOOKUP_ID);
            queries = agent.records([id](const Record& r) {
                return r.tmpl != TemplateKey::DNS_LOOKUP && r.get(FieldKey::DNS_LOOKUP_ID) == id;
            });
        }
        return {lookups, queries};
    }

    fc::test::VethPair topo;
    fc::test::AgentThread agent{0, true};
    std::string resolv_;
};

uint64_t state(const Record& r) { return r.get(FieldKey::END_STATE); }
uint64_t u(State s) { return static_cast<uint64_t>(s); }
uint64_t u(Outcome o) { return static_cast<uint64_t>(o); }

TEST_F(DnsAgent, AnswersNxdomainAndNodataAsTheResolverAndTheWireSawThem) {
    Dnsmasq server(topo.server_ns(), topo.kServerV4);
    nameserver(topo.kServerV4, 2, 2);
    struct Case {
        const char* name;
        int family;
        int rc;
        Outcome outcome;
        State end;
        uint8_t rcode;
    };
    const Case cases[] = {
        {"a.fc.test", AF_INET, 0, Outcome::ANSWER, State::FINISHED, 0},
        {"both.fc.test", AF_UNSPEC, 0, Outcome::ANSWER, State::FINISHED, 0},
        {"nx.fc.test", AF_UNSPEC, EAI_NONAME, Outcome::NXDOMAIN, State::PROTOCOL_ERROR, 3},
        {"txt.fc.test", AF_UNSPEC, EAI_NODATA, Outcome::NODATA, State::PROTOCOL_ERROR, 0},
    };
    uint64_t attempts = 0;
    for (const Case& c : cases) {
        SCOPED_TRACE(c.name);
        const LookupTruth t = lookup_in(topo.client_ns(), resolv_, c.name, c.family);
        ASSERT_EQ(t.rc, c.rc) << gai_strerror(t.rc);
        auto [lookups, queries] = views(t.pid);
        ASSERT_EQ(lookups.size(), 1u);
        const Record& l = lookups[0];
        EXPECT_EQ(l.get_text(FieldKey::DNS_NAME), c.name);
        EXPECT_EQ(l.get(FieldKey::DNS_OUTCOME), u(c.outcome));
        EXPECT_EQ(state(l), u(c.end));
        EXPECT_EQ(l.get(FieldKey::DNS_GAI_ERROR), static_cast<uint64_t>(-t.rc));
        EXPECT_EQ(l.get(FieldKey::DNS_V4_ADDRS), static_cast<uint64_t>(t.v4));
        EXPECT_EQ(l.get(FieldKey::DNS_V6_ADDRS), static_cast<uint64_t>(t.v6));
        EXPECT_EQ(l.get(FieldKey::DNS_FAMILY), c.family == AF_INET ? 4u : 0u);
        // Inside the child's own clock readings, and most of that interval.
        EXPECT_GE(l.get(FieldKey::WINDOW_START_NS) + 200'000, t.t0);
        EXPECT_LE(l.get(FieldKey::WINDOW_END_NS), t.t1 + 200'000);
        EXPECT_LE(l.get(FieldKey::DNS_LATENCY_US), (t.t1 - t.t0) / 1000 + 1);
        EXPECT_EQ(l.get_text(FieldKey::PROCESS_NAME).substr(0, 4), "fc_i");  // the test binary
        // The wire: one query per family asked (A, and AAAA for AF_UNSPEC).
        ASSERT_EQ(queries.size(), c.family == AF_INET ? 1u : 2u);
        EXPECT_EQ(l.get(FieldKey::DNS_QUERIES), queries.size());
        std::set<uint64_t> qtypes;
        for (const Record& q : queries) {
            EXPECT_EQ(q.tmpl, TemplateKey::DNS_QUERY_V4);
            EXPECT_EQ(q.get_text(FieldKey::DNS_NAME), c.name);
            EXPECT_EQ(q.get(FieldKey::DST_PORT), 53u);
            EXPECT_EQ(q.get(FieldKey::DST_V4), ntohl(inet_addr(topo.kServerV4)));
            EXPECT_EQ(q.get(FieldKey::PROCESS_ID), static_cast<uint64_t>(t.pid));
            EXPECT_EQ(q.get(FieldKey::DNS_ATTEMPTS), 1u);
            EXPECT_EQ(q.get(FieldKey::DNS_RCODE), c.rcode);
            EXPECT_GT(q.get(FieldKey::DNS_REPLY_BYTES), 12u);
            EXPECT_GT(q.get(FieldKey::DNS_LAT_FIRST_US), 0u);
            EXPECT_EQ(q.get(FieldKey::DNS_LAT_FIRST_US), q.get(FieldKey::DNS_LAT_LAST_US));
            // Every query lies inside its lookup.
            EXPECT_GE(q.get(FieldKey::WINDOW_START_NS), l.get(FieldKey::WINDOW_START_NS));
            EXPECT_LE(q.get(FieldKey::WINDOW_END_NS), l.get(FieldKey::WINDOW_END_NS));
            qtypes.insert(q.get(FieldKey::DNS_QTYPE));
            attempts += q.get(FieldKey::DNS_ATTEMPTS);
        }
        EXPECT_TRUE(qtypes.count(1));
        if (c.family == AF_UNSPEC) {
            EXPECT_TRUE(qtypes.count(28));
        }
    }
    EXPECT_EQ(attempts, fc::test::nft_counter_packets(topo.server_ns(), "fcdns"));
}

TEST_F(DnsAgent, SilentServerGivesRetransmissionsThenTimeouts) {
    // No server at all, and the queries are dropped before anything could answer.
    fc::test::sh("ip netns exec " + topo.server_ns() +
                 " nft add rule inet fcdns in udp dport 53 drop");
    nameserver(topo.kServerV4, 1, 2);
    const LookupTruth t = lookup_in(topo.client_ns(), resolv_, "both.fc.test", AF_UNSPEC);
    ASSERT_EQ(t.rc, EAI_AGAIN) << gai_strerror(t.rc);
    auto [lookups, queries] = views(t.pid);
    ASSERT_EQ(lookups.size(), 1u);
    EXPECT_EQ(state(lookups[0]), u(State::NETWORK_ERROR));
    EXPECT_EQ(lookups[0].get(FieldKey::DNS_OUTCOME), u(Outcome::TIMEOUT));
    EXPECT_EQ(lookups[0].get(FieldKey::CLOSE_CAUSE),
              static_cast<uint64_t>(fc::CloseCause::TIMEOUT));
    ASSERT_FALSE(queries.empty());
    uint64_t attempts = 0;
    for (const Record& q : queries) {
        EXPECT_EQ(state(q), u(State::NETWORK_ERROR));
        EXPECT_EQ(q.get(FieldKey::DNS_OUTCOME), u(Outcome::TIMEOUT));
        EXPECT_EQ(q.get(FieldKey::DNS_RCODE), 255u);
        EXPECT_EQ(q.get(FieldKey::DNS_REPLY_BYTES), 0u);
        attempts += q.get(FieldKey::DNS_ATTEMPTS);
    }
    const uint64_t seen = fc::test::nft_counter_packets(topo.server_ns(), "fcdns");
    EXPECT_EQ(attempts, seen);
    EXPECT_GT(attempts, queries.size()) << "the resolver retried, so some query has attempts > 1";
}

TEST_F(DnsAgent, IpV6ServerGivesIpV6QueryProfiles) {
    Dnsmasq server(topo.server_ns(), topo.kServerV6);
    nameserver(topo.kServerV6, 2, 2);
    const LookupTruth t = lookup_in(topo.client_ns(), resolv_, "both.fc.test", AF_INET6);
    ASSERT_EQ(t.rc, 0) << gai_strerror(t.rc);
    auto [lookups, queries] = views(t.pid);
    ASSERT_EQ(lookups.size(), 1u);
    EXPECT_EQ(lookups[0].get(FieldKey::DNS_V6_ADDRS), 1u);
    EXPECT_EQ(lookups[0].get(FieldKey::DNS_V4_ADDRS), 0u);
    EXPECT_EQ(lookups[0].get(FieldKey::DNS_FAMILY), 6u);
    ASSERT_EQ(queries.size(), 1u);
    EXPECT_EQ(queries[0].tmpl, TemplateKey::DNS_QUERY_V6);
    EXPECT_EQ(queries[0].get(FieldKey::DNS_QTYPE), 28u);
    in6_addr server_addr{};
    inet_pton(AF_INET6, topo.kServerV6, &server_addr);
    EXPECT_EQ(0, std::memcmp(queries[0].dst_v6.data(), &server_addr, 16));
}

}  // namespace
