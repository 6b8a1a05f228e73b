// The collector under bad input and loss: malformed messages counted per
// cause and dropped while it keeps serving; a TCP peer sending garbage is
// disconnected without disturbing others; sequence gaps are measured.
#include <poll.h>

#include "ipfix/wire.hpp"
#include "test_ipfix_util.hpp"

namespace fc::test {
namespace {

struct Sock {
    int fd;
    explicit Sock(int type) : fd(socket(AF_INET, type, 0)) {}
    ~Sock() { close(fd); }
};

sockaddr_in loopback(uint16_t port) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return a;
}

std::vector<uint8_t> header(uint16_t version, uint16_t length, uint32_t seq = 0) {
    std::vector<uint8_t> m(16, 0);
    wr16(m.data(), version);
    wr16(m.data() + 2, length);
    m[11] = static_cast<uint8_t>(seq);
    m[15] = 1;  // domain 1
    return m;
}

std::vector<uint8_t> message(const std::vector<uint8_t>& sets) {
    std::vector<uint8_t> m = header(10, static_cast<uint16_t>(16 + sets.size()));
    m.insert(m.end(), sets.begin(), sets.end());
    return m;
}

TEST(CollectorRobustness, MalformedInputIsCountedPerCauseAndDropped) {
    TempDir dir;
    collector::SqliteStore store(dir.file("c.sqlite"));
    collector::Collector coll(
        {{"udp://127.0.0.1:0", "tcp://127.0.0.1:0"}, kDefaultEnterpriseNumber}, store);
    coll.start();
    const uint16_t uport = coll.bound().at(0).port, tport = coll.bound().at(1).port;

    const std::vector<std::pair<std::string, std::vector<uint8_t>>> bad = {
        {"short_message", {'h', 'e', 'l', 'l', 'o'}},
        {"bad_version", header(9, 16)},
        {"truncated_message", header(10, 100)},
        {"length_mismatch",
         [] {
             auto m = header(10, 16);
             m.resize(20, 0);
             return m;
         }()},
        {"bad_set_length", message({1, 0, 0, 2})},
        {"bad_set_length", message({1, 0, 0, 40, 0, 0, 0, 0})},
        {"data_set_without_template", message({3, 231, 0, 8, 1, 2, 3, 4})},
        {"bad_template", message({0, 2, 0, 12, 0, 5, 0, 1, 0, 8, 0, 4})},        // template id 5
        {"bad_template", message({0, 2, 0, 8, 1, 0, 0, 3})},                     // fields missing
        {"bad_template", message({0, 3, 0, 14, 1, 0, 0, 1, 0, 0, 0, 8, 0, 4})},  // scope 0
        {"bad_template", message({0, 2, 0, 12, 1, 0, 0, 1, 0, 8, 0, 0})},        // length 0
        {"reserved_set_id", message({0, 7, 0, 8, 1, 2, 3, 4})},
    };
    Sock u(SOCK_DGRAM);
    const sockaddr_in ua = loopback(uport);
    std::map<std::string, uint64_t> want;
    for (const auto& [cause, bytes] : bad) {
        ASSERT_EQ(sendto(u.fd, bytes.data(), bytes.size(), 0,
                         reinterpret_cast<const sockaddr*>(&ua), sizeof ua),
                  static_cast<ssize_t>(bytes.size()));
        ++want[cause];
    }
    // Random bytes with a valid-looking header.
    uint64_t x = 12345;
    for (int i = 0; i < 50; ++i) {
        std::vector<uint8_t> junk(16 + i * 7);
        for (auto& b : junk) b = static_cast<uint8_t>((x = x * 6364136223846793005ull + 1) >> 56);
        wr16(junk.data(), 10);
        wr16(junk.data() + 2, static_cast<uint16_t>(junk.size()));
        sendto(u.fd, junk.data(), junk.size(), 0, reinterpret_cast<const sockaddr*>(&ua),
               sizeof ua);
    }
    ASSERT_TRUE(pump(nullptr, &coll, [&] {
        const auto s = coll.stats();
        for (const auto& [cause, n] : want)
            if (s.malformed.count(cause) == 0 || s.malformed.at(cause) < n) return false;
        return true;
    })) << coll.stats().str();
    const auto after_udp = coll.stats();
    for (const auto& [cause, n] : want) EXPECT_GE(after_udp.malformed.at(cause), n) << cause;
    EXPECT_EQ(after_udp.profiles, 0u);

    // A TCP exporter keeps working while another TCP peer sends garbage.
    Exporter good({.url = "tcp://127.0.0.1:" + std::to_string(tport)});
    for (unsigned v = 0; v < 5; ++v) good.submit(test_record(TemplateKey::TCP_V4, v));
    good.flush();
    ASSERT_TRUE(pump(&good, &coll, [&] { return coll.stats().profiles == 5; }));

    Sock t(SOCK_STREAM);
    const sockaddr_in ta = loopback(tport);
    ASSERT_EQ(connect(t.fd, reinterpret_cast<const sockaddr*>(&ta), sizeof ta), 0);
    const char garbage[] = "GET / HTTP/1.0\r\n\r\n";
    ASSERT_GT(send(t.fd, garbage, sizeof garbage, 0), 0);
    bool disconnected = false;
    pump(nullptr, &coll, [&] {
        pollfd p{t.fd, POLLIN, 0};
        if (poll(&p, 1, 0) > 0) {
            char b[16];
            disconnected = recv(t.fd, b, sizeof b, MSG_DONTWAIT) <= 0;
        }
        return disconnected;
    });
    EXPECT_TRUE(disconnected) << "garbage-sending TCP peer still connected";
    EXPECT_EQ(coll.stats().malformed.at("bad_version"), after_udp.malformed.at("bad_version") + 1);

    for (unsigned v = 5; v < 10; ++v) good.submit(test_record(TemplateKey::TCP_V4, v));
    good.flush();
    ASSERT_TRUE(pump(&good, &coll, [&] { return coll.stats().profiles == 10; }))
        << coll.stats().str();
    EXPECT_EQ(good.stats().send_errors, 0u);
    EXPECT_EQ(good.stats().reconnects, 0u);

    // And UDP still decodes valid input.
    Exporter udp({.url = "udp://127.0.0.1:" + std::to_string(uport)});
    udp.submit(test_record(TemplateKey::TCP_V6, 1));
    udp.flush();
    ASSERT_TRUE(pump(&udp, &coll, [&] { return coll.stats().profiles == 11; }));
    EXPECT_EQ(coll.stats().sequence_gaps, 0u) << coll.stats().str();
}

// Captures what an exporter sends, then replays it to a collector with one
// data message left out: the gap must equal that message's record count.
TEST(CollectorRobustness, SequenceGapsAreMeasured) {
    Sock cap(SOCK_DGRAM);
    sockaddr_in ca = loopback(0);
    ASSERT_EQ(bind(cap.fd, reinterpret_cast<sockaddr*>(&ca), sizeof ca), 0);
    socklen_t l = sizeof ca;
    getsockname(cap.fd, reinterpret_cast<sockaddr*>(&ca), &l);
    constexpr size_t kRecords = 40;
    {
        Exporter ex({.url = "udp://127.0.0.1:" + std::to_string(ntohs(ca.sin_port))});
        for (size_t i = 0; i < kRecords; ++i)
            ex.submit(test_record(TemplateKey::TCP_V4, 1 + i % 3));
        ex.flush();
    }
    std::vector<std::vector<uint8_t>> msgs;
    uint8_t buf[65536];
    for (;;) {
        pollfd p{cap.fd, POLLIN, 0};
        if (poll(&p, 1, 200) <= 0) break;
        const ssize_t n = recv(cap.fd, buf, sizeof buf, 0);
        msgs.emplace_back(buf, buf + n);
    }
    // The data messages carry template 256 records; pick one in the middle.
    std::vector<size_t> data;
    for (size_t i = 0; i < msgs.size(); ++i)
        if (rd16(msgs[i].data() + 16) == 256) data.push_back(i);
    ASSERT_GE(data.size(), 3u);
    const size_t skip = data[1];
    const uint32_t missing = rd32(msgs[data[2]].data() + 8) - rd32(msgs[skip].data() + 8);
    ASSERT_GT(missing, 0u);

    TempDir dir;
    collector::SqliteStore store(dir.file("c.sqlite"));
    collector::Collector coll({{"udp://127.0.0.1:0"}, kDefaultEnterpriseNumber}, store);
    coll.start();
    Sock out(SOCK_DGRAM);
    const sockaddr_in to = loopback(coll.bound().at(0).port);
    for (size_t i = 0; i < msgs.size(); ++i) {
        if (i == skip) continue;
        sendto(out.fd, msgs[i].data(), msgs[i].size(), 0, reinterpret_cast<const sockaddr*>(&to),
               sizeof to);
    }
    ASSERT_TRUE(pump(nullptr, &coll, [&] { return coll.stats().profiles == kRecords - missing; }))
        << coll.stats().str();
    auto s = coll.stats();
    EXPECT_EQ(s.sequence_gaps, 1u);
    EXPECT_EQ(s.records_missing, missing);
    EXPECT_EQ(s.malformed_total(), 0u) << s.str();

    // A replayed (old) message is a regression, not a gap.
    sendto(out.fd, msgs[data[0]].data(), msgs[data[0]].size(), 0,
           reinterpret_cast<const sockaddr*>(&to), sizeof to);
    ASSERT_TRUE(pump(nullptr, &coll, [&] { return coll.stats().sequence_regressions == 1; }));
    EXPECT_EQ(coll.stats().sequence_gaps, 1u);
}

}  // namespace
}  // namespace fc::test
