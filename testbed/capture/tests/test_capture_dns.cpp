// The capture analysis's "dns" array on pcap files crafted here: DNS messages
// over UDP built by hand (Ethernet, IPv4 or IPv6), whose entries follow from
// how they were built.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <pcap/pcap.h>

#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "capture/analysis.hpp"

using fc::capture::analyse_pcap;
using fc::capture::Analysis;
using fc::capture::DnsQuery;

namespace {

constexpr int64_t MS = 1000000;
constexpr uint16_t A = 1, AAAA = 28;

void put16(std::vector<uint8_t>& b, size_t at, uint16_t v) {
    b[at] = uint8_t(v >> 8);
    b[at + 1] = uint8_t(v);
}

// A DNS message: header, one question, `answers` A records (4 bytes each).
std::vector<uint8_t> dns_message(uint16_t id, bool response, const std::string& qname,
                                 uint16_t qtype, uint8_t rcode = 0, uint16_t answers = 0) {
    std::vector<uint8_t> m(12, 0);
    put16(m, 0, id);
    m[2] = response ? 0x81 : 0x01;  // QR, RD
    m[3] = response ? uint8_t(0x80 | rcode) : 0;
    put16(m, 4, 1);
    put16(m, 6, answers);
    size_t start = 0;
    while (start <= qname.size()) {
        const size_t dot = std::min(qname.find('.', start), qname.size());
        m.push_back(uint8_t(dot - start));
        m.insert(m.end(), qname.begin() + long(start), qname.begin() + long(dot));
        start = dot + 1;
    }
    m.push_back(0);
    m.insert(m.end(), {uint8_t(qtype >> 8), uint8_t(qtype), 0, 1});
    for (uint16_t i = 0; i < answers; ++i)  // name pointer, type A, class IN, TTL 0, 4 bytes
        m.insert(m.end(), {0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 0, 0, 4, 198, 18, 200, uint8_t(i)});
    return m;
}

// UDP datagrams between one client and one server, written as they are added.
class DnsCapture {
  public:
    DnsCapture(const std::string& name, bool v6, uint32_t snaplen = 512)
        : path_(
              (std::filesystem::temp_directory_path() / ("fc-cap-dns-" + name + ".pcap")).string()),
          v6_(v6),
          snaplen_(snaplen) {
        dead_ = pcap_open_dead_with_tstamp_precision(DLT_EN10MB, 65535, PCAP_TSTAMP_PRECISION_NANO);
        dump_ = pcap_dump_open(dead_, path_.c_str());
        EXPECT_NE(dump_, nullptr) << pcap_geterr(dead_);
        inet_pton(v6 ? AF_INET6 : AF_INET, v6 ? "fd00:fc:1::1" : "198.18.1.1", client_);
        inet_pton(v6 ? AF_INET6 : AF_INET, v6 ? "fd00:fc:2::1" : "198.18.2.1", server_);
    }
    ~DnsCapture() {
        if (dump_) pcap_dump_close(dump_);
        pcap_close(dead_);
        std::filesystem::remove(path_);
    }
    void query(int64_t ts, uint16_t cport, const std::vector<uint8_t>& msg) {
        add(ts, true, cport, msg);
    }
    void reply(int64_t ts, uint16_t cport, const std::vector<uint8_t>& msg) {
        add(ts, false, cport, msg);
    }
    Analysis analyse() {
        pcap_dump_close(dump_);
        dump_ = nullptr;
        return analyse_pcap(path_);
    }

  private:
    void add(int64_t ts, bool from_client, uint16_t cport, const std::vector<uint8_t>& msg) {
        std::vector<uint8_t> f(14, 0);
        f[0] = f[6] = 0x02;
        put16(f, 12, v6_ ? 0x86dd : 0x0800);
        const size_t l3 = 14;
        const uint8_t* src = from_client ? client_ : server_;
        const uint8_t* dst = from_client ? server_ : client_;
        const uint16_t udp_len = uint16_t(8 + msg.size());
        size_t l4;
        if (v6_) {
            f.resize(l3 + 40, 0);
            f[l3] = 0x60;
            put16(f, l3 + 4, udp_len);
            f[l3 + 6] = 17;
            f[l3 + 7] = 64;
            std::memcpy(&f[l3 + 8], src, 16);
            std::memcpy(&f[l3 + 24], dst, 16);
            l4 = l3 + 40;
        } else {
            f.resize(l3 + 20, 0);
            f[l3] = 0x45;
            put16(f, l3 + 2, uint16_t(20 + udp_len));
            f[l3 + 8] = 64;
            f[l3 + 9] = 17;
            std::memcpy(&f[l3 + 12], src, 4);
            std::memcpy(&f[l3 + 16], dst, 4);
            l4 = l3 + 20;
        }
        f.resize(l4 + 8, 0);
        put16(f, l4, from_client ? cport : 53);
        put16(f, l4 + 2, from_client ? 53 : cport);
        put16(f, l4 + 4, udp_len);
        f.insert(f.end(), msg.begin(), msg.end());
        pcap_pkthdr h{};
        h.ts.tv_sec = ts / 1000000000;
        h.ts.tv_usec = ts % 1000000000;
        h.len = uint32_t(f.size());
        h.caplen = std::min<uint32_t>(h.len, snaplen_);
        pcap_dump(reinterpret_cast<u_char*>(dump_), &h, f.data());
    }

    std::string path_;
    bool v6_;
    uint32_t snaplen_;
    uint8_t client_[16]{}, server_[16]{};
    pcap_t* dead_ = nullptr;
    pcap_dumper_t* dump_ = nullptr;
};

constexpr int64_t T0 = 1'700'000'000 * 1'000'000'000LL;

}  // namespace

TEST(CaptureDns, PlainExchange) {
    DnsCapture c("plain", false);
    const auto q = dns_message(0x1234, false, "a.fc.test", A);
    const auto r = dns_message(0x1234, true, "a.fc.test", A, 0, 1);
    c.query(T0, 40000, q);
    c.reply(T0 + 3 * MS, 40000, r);
    const Analysis a = c.analyse();
    EXPECT_EQ(a.packets, 2u);
    EXPECT_EQ(a.dns_packets, 2u);
    EXPECT_EQ(a.tcp_packets, 0u);
    EXPECT_TRUE(a.connections.empty());
    ASSERT_EQ(a.dns.size(), 1u);
    const DnsQuery& d = a.dns[0];
    EXPECT_EQ(d.family, 4);
    EXPECT_EQ(d.client, "198.18.1.1");
    EXPECT_EQ(d.client_port, 40000);
    EXPECT_EQ(d.server, "198.18.2.1");
    EXPECT_EQ(d.server_port, 53);
    EXPECT_EQ(d.id, 0x1234);
    EXPECT_EQ(d.qname, "a.fc.test");
    EXPECT_EQ(d.qtype, A);
    EXPECT_EQ(d.attempts, 1u);
    EXPECT_EQ(d.replies, 1u);
    EXPECT_EQ(d.t_first_query_ns, T0);
    EXPECT_EQ(d.t_last_query_ns, T0);
    EXPECT_EQ(d.t_reply_ns, T0 + 3 * MS);
    EXPECT_EQ(d.query_size, q.size());
    EXPECT_EQ(d.reply_size, r.size());
    EXPECT_EQ(d.rcode, 0);
    EXPECT_EQ(d.answers, 1);
    // The JSON carries the same, under the contract's names.
    const auto j = fc::capture::to_json(a);
    EXPECT_EQ(j["dns_packets"], 2);
    EXPECT_EQ(j["dns"][0]["client_port"], 40000);
    EXPECT_EQ(j["dns"][0]["qtype"], 1);
    EXPECT_EQ(j["dns"][0]["reply_size"], r.size());
    EXPECT_EQ(j["dns"][0]["t_reply_ns"], T0 + 3 * MS);
}

TEST(CaptureDns, RetransmittedQueryIsOneEntryWithAttempts) {
    DnsCapture c("retrans", false);
    const auto q = dns_message(7, false, "both.fc.test", A);
    c.query(T0, 40001, q);
    c.query(T0 + 1000 * MS, 40001, q);  // the resolver's timeout, same socket and id
    c.query(T0 + 2000 * MS, 40001, q);
    c.reply(T0 + 2002 * MS, 40001, dns_message(7, true, "both.fc.test", A, 0, 2));
    const Analysis a = c.analyse();
    ASSERT_EQ(a.dns.size(), 1u);
    EXPECT_EQ(a.dns[0].attempts, 3u);
    EXPECT_EQ(a.dns[0].t_first_query_ns, T0);
    EXPECT_EQ(a.dns[0].t_last_query_ns, T0 + 2000 * MS);
    EXPECT_EQ(a.dns[0].t_reply_ns, T0 + 2002 * MS);
    EXPECT_EQ(a.dns[0].answers, 2);
}

TEST(CaptureDns, NoReplyLeavesReplyFieldsNull) {
    DnsCapture c("noreply", false);
    c.query(T0, 40002, dns_message(9, false, "a.fc.test", A));
    const Analysis a = c.analyse();
    ASSERT_EQ(a.dns.size(), 1u);
    EXPECT_EQ(a.dns[0].attempts, 1u);
    EXPECT_EQ(a.dns[0].replies, 0u);
    EXPECT_FALSE(a.dns[0].t_reply_ns);
    const auto j = fc::capture::to_json(a)["dns"][0];
    for (const char* k : {"t_reply_ns", "reply_size", "rcode", "answers"})
        EXPECT_TRUE(j[k].is_null()) << k;
}

TEST(CaptureDns, NxdomainRcode) {
    DnsCapture c("nx", false);
    c.query(T0, 40003, dns_message(11, false, "nx.fc.test", A));
    c.reply(T0 + MS, 40003, dns_message(11, true, "nx.fc.test", A, 3));
    const Analysis a = c.analyse();
    ASSERT_EQ(a.dns.size(), 1u);
    EXPECT_EQ(a.dns[0].rcode, 3);
    EXPECT_EQ(a.dns[0].answers, 0);
}

TEST(CaptureDns, Ipv6) {
    DnsCapture c("v6", true);
    c.query(T0, 50000, dns_message(21, false, "aaaa.fc.test", AAAA));
    c.reply(T0 + 300 * MS, 50000, dns_message(21, true, "aaaa.fc.test", AAAA, 0, 1));
    const Analysis a = c.analyse();
    ASSERT_EQ(a.dns.size(), 1u);
    EXPECT_EQ(a.dns[0].family, 6);
    EXPECT_EQ(a.dns[0].client, "fd00:fc:1::1");
    EXPECT_EQ(a.dns[0].server, "fd00:fc:2::1");
    EXPECT_EQ(a.dns[0].qtype, AAAA);
    EXPECT_EQ(a.dns[0].t_reply_ns, T0 + 300 * MS);
}

// getaddrinfo(AF_UNSPEC) sends A and AAAA from one socket with two ids; the
// replies may come in either order.
TEST(CaptureDns, AAndAaaaOnOneSocket) {
    DnsCapture c("both", false);
    c.query(T0, 40004, dns_message(100, false, "both.fc.test", A));
    c.query(T0 + 10'000, 40004, dns_message(101, false, "both.fc.test", AAAA));
    c.reply(T0 + MS, 40004, dns_message(101, true, "both.fc.test", AAAA, 0, 2));
    c.reply(T0 + 2 * MS, 40004, dns_message(100, true, "both.fc.test", A, 0, 2));
    const Analysis a = c.analyse();
    ASSERT_EQ(a.dns.size(), 2u);
    EXPECT_EQ(a.dns[0].id, 100);
    EXPECT_EQ(a.dns[0].qtype, A);
    EXPECT_EQ(a.dns[0].t_reply_ns, T0 + 2 * MS);
    EXPECT_EQ(a.dns[1].id, 101);
    EXPECT_EQ(a.dns[1].qtype, AAAA);
    EXPECT_EQ(a.dns[1].t_reply_ns, T0 + MS);
    for (const auto& d : a.dns) {
        EXPECT_EQ(d.client_port, 40004);
        EXPECT_EQ(d.attempts, 1u);
        EXPECT_EQ(d.replies, 1u);
    }
}

TEST(CaptureDns, ReplyWithoutItsQueryAndATruncatedQuestion) {
    DnsCapture c("odd", false, 14 + 20 + 8 + 14);  // the name cut short
    c.reply(T0, 40005, dns_message(5, true, "a.fc.test", A));
    c.query(T0 + MS, 40006, dns_message(6, false, "txt-only.fc.test", A));
    const Analysis a = c.analyse();
    ASSERT_EQ(a.dns.size(), 2u);
    EXPECT_EQ(a.dns[0].attempts, 0u);
    EXPECT_EQ(a.dns[0].replies, 1u);
    EXPECT_FALSE(a.dns[0].t_first_query_ns);
    EXPECT_FALSE(a.dns[1].qname);  // not captured whole
    EXPECT_EQ(a.dns[1].query_size, dns_message(6, false, "txt-only.fc.test", A).size());
}
