// Unit tests of analyse_pcap on pcap files crafted here (libpcap's
// pcap_open_dead + pcap_dump, headers built by hand) whose answers follow
// from how they were built.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <pcap/pcap.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <vector>

#include "capture/analysis.hpp"

using fc::capture::analyse_pcap;
using fc::capture::Analysis;
using fc::capture::Connection;

namespace {

constexpr uint8_t FIN = 0x01, SYN = 0x02, RST = 0x04, PSH = 0x08, ACK = 0x10;
constexpr int64_t MS = 1000000, US = 1000;

void put16(std::vector<uint8_t>& b, size_t at, uint16_t v) {
    b[at] = uint8_t(v >> 8);
    b[at + 1] = uint8_t(v);
}
void put32(std::vector<uint8_t>& b, size_t at, uint32_t v) {
    put16(b, at, uint16_t(v >> 16));
    put16(b, at + 2, uint16_t(v));
}

// RFC 1071 checksum over big-endian 16-bit words.
uint32_t sum16(uint32_t sum, const uint8_t* p, size_t n) {
    for (size_t i = 0; i + 1 < n; i += 2) sum += uint32_t(p[i]) << 8 | p[i + 1];
    if (n & 1) sum += uint32_t(p[n - 1]) << 8;
    return sum;
}
uint16_t fold_not(uint32_t sum) {
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    return uint16_t(~sum);
}

// TCP timestamps option (kind 8), for CraftedCapture::next_options.
std::vector<uint8_t> ts_option(uint32_t tsval, uint32_t tsecr = 0) {
    std::vector<uint8_t> o{1, 1, 8, 10, 0, 0, 0, 0, 0, 0, 0, 0};
    for (int i = 0; i < 4; ++i) {
        o[4 + i] = uint8_t(tsval >> (24 - 8 * i));
        o[8 + i] = uint8_t(tsecr >> (24 - 8 * i));
    }
    return o;
}

// One TCP connection's packets written into a pcap file as they are added.
class CraftedCapture {
  public:
    CraftedCapture(const std::string& name, bool v6, int linktype = DLT_EN10MB,
                   uint32_t snaplen = 96)
        : path_((std::filesystem::temp_directory_path() / ("fc-cap-unit-" + name + ".pcap"))
                    .string()),
          v6_(v6),
          linktype_(linktype),
          snaplen_(snaplen) {
        dead_ = pcap_open_dead_with_tstamp_precision(linktype, 65535, PCAP_TSTAMP_PRECISION_NANO);
        dump_ = pcap_dump_open(dead_, path_.c_str());
        EXPECT_NE(dump_, nullptr) << pcap_geterr(dead_);
        inet_pton(v6 ? AF_INET6 : AF_INET, v6 ? "fd00::1" : "198.18.7.1", client_);
        inet_pton(v6 ? AF_INET6 : AF_INET, v6 ? "fd00::2" : "198.18.7.2", server_);
    }
    ~CraftedCapture() {
        if (dump_) pcap_dump_close(dump_);
        pcap_close(dead_);
        std::filesystem::remove(path_);
    }
    uint16_t cport = 40001, sport = 5001;

    // TCP options for the next packet added (padded to 4 bytes with NOPs).
    std::vector<uint8_t> next_options;
    // A bit to flip in the next packet once its checksums are written, counted
    // from the start of the IP header, as the impairment engine's corruption.
    int next_flip_bit = -1;

    void c2s(int64_t ts, uint32_t seq, uint32_t ack, uint8_t flags, uint32_t len = 0) {
        add(ts, true, seq, ack, flags, len);
    }
    void s2c(int64_t ts, uint32_t seq, uint32_t ack, uint8_t flags, uint32_t len = 0) {
        add(ts, false, seq, ack, flags, len);
    }
    // Closes the file and analyses it.
    Analysis analyse(bool keep_rtt_pairs = false) {
        pcap_dump_close(dump_);
        dump_ = nullptr;
        return analyse_pcap(path_, keep_rtt_pairs);
    }
    const std::string& path() const { return path_; }

  private:
    void add(int64_t ts, bool from_client, uint32_t seq, uint32_t ack, uint8_t flags,
             uint32_t len) {
        std::vector<uint8_t> f;
        size_t l3 = 0;
        const uint16_t ethertype = v6_ ? 0x86dd : 0x0800;
        if (linktype_ == DLT_EN10MB) {
            f.assign(14, 0);
            f[0] = 0x02;  // locally administered MACs
            f[6] = 0x02;
            put16(f, 12, ethertype);
            l3 = 14;
        } else if (linktype_ == DLT_LINUX_SLL) {
            f.assign(16, 0);
            put16(f, 0, from_client ? 4 : 0);  // outgoing / to us
            put16(f, 2, 1);
            put16(f, 14, ethertype);
            l3 = 16;
        } else if (linktype_ == DLT_LINUX_SLL2) {
            f.assign(20, 0);
            put16(f, 0, ethertype);
            l3 = 20;
        }
        const uint8_t* src = from_client ? client_ : server_;
        const uint8_t* dst = from_client ? server_ : client_;
        size_t l4;
        if (v6_) {
            // fixed header + an 8-byte destination-options header (skipped by the parser)
            f.resize(l3 + 48, 0);
            f[l3] = 0x60;
            put16(f, l3 + 4, uint16_t(8 + 20 + len));
            f[l3 + 6] = 60;
            f[l3 + 7] = 64;
            std::memcpy(&f[l3 + 8], src, 16);
            std::memcpy(&f[l3 + 24], dst, 16);
            f[l3 + 40] = 6;  // next: TCP
            f[l3 + 41] = 0;  // 8 bytes
            f[l3 + 42] = 1;  // PadN
            f[l3 + 43] = 4;
            l4 = l3 + 48;
        } else {
            f.resize(l3 + 20, 0);
            f[l3] = 0x45;
            put16(f, l3 + 2, uint16_t(20 + 20 + len));
            put16(f, l3 + 6, 0x4000);  // DF
            f[l3 + 8] = 64;
            f[l3 + 9] = 6;
            std::memcpy(&f[l3 + 12], src, 4);
            std::memcpy(&f[l3 + 16], dst, 4);
            l4 = l3 + 20;
        }
        std::vector<uint8_t> opts = std::move(next_options);
        next_options.clear();
        while (opts.size() % 4) opts.push_back(1);
        const size_t hl = 20 + opts.size();
        if (v6_)
            put16(f, l3 + 4, uint16_t(8 + hl + len));
        else
            put16(f, l3 + 2, uint16_t(20 + hl + len));
        f.resize(l4 + hl + len, 0);
        std::copy(opts.begin(), opts.end(), f.begin() + long(l4 + 20));
        put16(f, l4, from_client ? cport : sport);
        put16(f, l4 + 2, from_client ? sport : cport);
        put32(f, l4 + 4, seq);
        put32(f, l4 + 8, ack);
        f[l4 + 12] = uint8_t((hl / 4) << 4);
        f[l4 + 13] = flags;
        put16(f, l4 + 14, 65535);
        // Complete checksums, as on the testbed's links (offloads off).
        const size_t alen = v6_ ? 16 : 4;
        uint32_t sum = sum16(sum16(0, src, alen), dst, alen) + 6 + uint32_t(hl + len);
        put16(f, l4 + 16, fold_not(sum16(sum, &f[l4], hl + len)));
        if (!v6_) put16(f, l3 + 10, fold_not(sum16(0, &f[l3], 20)));
        if (next_flip_bit >= 0)
            f[l3 + size_t(next_flip_bit) / 8] ^= uint8_t(1u << (next_flip_bit % 8));
        next_flip_bit = -1;
        pcap_pkthdr h{};
        h.ts.tv_sec = ts / 1000000000;
        h.ts.tv_usec = ts % 1000000000;  // nanoseconds: the handle says so
        h.len = uint32_t(f.size());
        h.caplen = std::min<uint32_t>(h.len, snaplen_);  // headers only, like --snaplen
        pcap_dump(reinterpret_cast<u_char*>(dump_), &h, f.data());
    }

    std::string path_;
    bool v6_;
    int linktype_;
    uint32_t snaplen_;
    uint8_t client_[16]{}, server_[16]{};
    pcap_t* dead_;
    pcap_dumper_t* dump_;
};

// Population variance of a few values, for expected RTT statistics.
double variance(const std::vector<double>& v) {
    double m = 0, s = 0;
    for (double x : v) m += x;
    m /= double(v.size());
    for (double x : v) s += (x - m) * (x - m);
    return s / double(v.size());
}

const int64_t T0 = 1700000000LL * 1000000000LL;  // a realistic epoch time in ns

}  // namespace

TEST(CaptureAnalysis, CleanTransferCountsEverythingOnceAndSamplesRtt) {
    CraftedCapture cap("clean", false);
    const uint32_t c = 1000, s = 5000;
    cap.c2s(T0, c, 0, SYN);
    cap.s2c(T0 + 10 * MS, s, c + 1, SYN | ACK);
    cap.c2s(T0 + 10 * MS + 100 * US, c + 1, s + 1, ACK);
    cap.c2s(T0 + 11 * MS, c + 1, s + 1, ACK, 1000);
    cap.c2s(T0 + 11 * MS + 100 * US, c + 1001, s + 1, ACK, 1000);
    cap.c2s(T0 + 11 * MS + 200 * US, c + 2001, s + 1, ACK | PSH, 1000);
    cap.s2c(T0 + 21 * MS, s + 1, c + 2001, ACK);  // delayed ACK: covers two segments
    cap.s2c(T0 + 21 * MS + 200 * US, s + 1, c + 3001, ACK);
    cap.c2s(T0 + 22 * MS, c + 3001, s + 1, FIN | ACK);
    cap.s2c(T0 + 32 * MS, s + 1, c + 3002, FIN | ACK);
    cap.c2s(T0 + 32 * MS + 100 * US, c + 3002, s + 2, ACK);
    cap.s2c(T0 + 40 * MS, s + 1, c + 3002, FIN | ACK);  // the server's FIN again
    const Analysis a = cap.analyse(true);

    EXPECT_EQ(a.packets, 12u);
    EXPECT_EQ(a.tcp_packets, 12u);
    ASSERT_EQ(a.connections.size(), 1u);
    const Connection& k = a.connections[0];
    EXPECT_EQ(k.family, 4);
    EXPECT_EQ(k.client, "198.18.7.1");
    EXPECT_EQ(k.server, "198.18.7.2");
    EXPECT_EQ(k.cport, 40001);
    EXPECT_EQ(k.sport, 5001);
    EXPECT_EQ(k.first_ns, T0);
    EXPECT_EQ(k.last_ns, T0 + 40 * MS);
    EXPECT_EQ(k.syn, 1u);
    EXPECT_EQ(k.synack, 1u);
    ASSERT_TRUE(k.handshake_ns.has_value());
    EXPECT_EQ(*k.handshake_ns, 10 * MS);
    EXPECT_EQ(k.c2s.packets, 7u);
    EXPECT_EQ(k.s2c.packets, 5u);
    EXPECT_EQ(k.c2s.data_segs, 3u);
    EXPECT_EQ(k.c2s.data_bytes, 3000u);
    EXPECT_EQ(k.s2c.data_segs, 0u);  // zero-length ACKs are not data
    EXPECT_EQ(k.c2s.retrans_segs, 0u);
    EXPECT_EQ(k.c2s.dup_segs, 0u);
    EXPECT_EQ(k.c2s.ooo_segs, 0u);
    EXPECT_EQ(k.c2s.fin, 1u);
    EXPECT_EQ(k.s2c.fin, 2u);
    EXPECT_EQ(k.c2s.fin_retrans, 0u);
    EXPECT_EQ(k.s2c.fin_retrans, 1u);
    EXPECT_EQ(k.s2c.retrans_segs, 0u);  // not data
    EXPECT_EQ(k.c2s.rst + k.s2c.rst, 0u);
    // Segment -> first ACK covering its end: 10 ms, 9.9 ms, 10 ms.
    const std::vector<double> rtts{10000, 9900, 10000};
    EXPECT_EQ(k.c2s.rtt_us.samples, 3u);
    EXPECT_NEAR(k.c2s.rtt_us.mean, (10000 + 9900 + 10000) / 3.0, 1e-6);
    EXPECT_NEAR(k.c2s.rtt_us.variance(), variance(rtts), 1e-6);
    EXPECT_DOUBLE_EQ(k.c2s.rtt_us.min, 9900);
    EXPECT_DOUBLE_EQ(k.c2s.rtt_us.max, 10000);
    using P = std::pair<int64_t, int64_t>;
    EXPECT_EQ(
        k.c2s.rtt_pairs,
        (std::vector<P>{P{T0 + 11 * MS, T0 + 21 * MS}, P{T0 + 11 * MS + 100 * US, T0 + 21 * MS},
                        P{T0 + 11 * MS + 200 * US, T0 + 21 * MS + 200 * US}}));
    EXPECT_EQ(k.s2c.rtt_us.samples, 0u);  // no data that way
}

TEST(CaptureAnalysis, RetransmissionIsCountedAndKarnExcludesItsRtt) {
    CraftedCapture cap("retrans", false);
    const uint32_t c = 7, s = 900;
    cap.c2s(T0, c, 0, SYN);
    cap.s2c(T0 + 5 * MS, s, c + 1, SYN | ACK);
    cap.c2s(T0 + 5 * MS + 10 * US, c + 1, s + 1, ACK);
    cap.c2s(T0 + 6 * MS, c + 1, s + 1, ACK, 1200);              // A, lost beyond this point
    cap.c2s(T0 + 6 * MS + 50 * US, c + 1201, s + 1, ACK, 800);  // B
    cap.s2c(T0 + 11 * MS, s + 1, c + 1, ACK);                   // dup ACK for A
    cap.c2s(T0 + 30 * MS, c + 1, s + 1, ACK, 1200);             // A again: ambiguous ACK
    cap.s2c(T0 + 35 * MS, s + 1, c + 2001, ACK);                // covers A and B
    const Analysis a = cap.analyse();
    ASSERT_EQ(a.connections.size(), 1u);
    const auto& d = a.connections[0].c2s;
    EXPECT_EQ(d.data_segs, 3u);
    EXPECT_EQ(d.data_bytes, 3200u);
    EXPECT_EQ(d.retrans_segs, 1u);
    EXPECT_EQ(d.retrans_bytes, 1200u);
    // At this point the original A went through, so its copy is a duplicate too.
    EXPECT_EQ(d.dup_segs, 1u);
    EXPECT_EQ(d.ooo_segs, 0u);
    // Only B gives a sample (Karn): 35 ms - 6.05 ms.
    EXPECT_EQ(d.rtt_us.samples, 1u);
    EXPECT_NEAR(d.rtt_us.mean, 28950.0, 1e-6);
    EXPECT_NEAR(d.rtt_us.min, 28950.0, 1e-6);
    EXPECT_NEAR(d.rtt_us.max, 28950.0, 1e-6);
}

TEST(CaptureAnalysis, ReceiverSeesHoleThenOutOfOrderThenDuplicate) {
    // At the receiver's end: B was lost upstream, C arrives early, B's
    // retransmission fills the hole, then a spurious copy of C arrives.
    CraftedCapture cap("hole", false);
    const uint32_t c = 100000, s = 1;
    cap.c2s(T0, c, 0, SYN);
    cap.s2c(T0 + 1 * MS, s, c + 1, SYN | ACK);
    cap.c2s(T0 + 2 * MS, c + 1, s + 1, ACK);
    cap.c2s(T0 + 3 * MS, c + 1, s + 1, ACK, 1000);     // A
    cap.c2s(T0 + 3 * MS, c + 2001, s + 1, ACK, 1000);  // C: 1000 bytes above expected
    cap.c2s(T0 + 9 * MS, c + 1001, s + 1, ACK, 1000);  // B: fills, expected jumps past C
    cap.c2s(T0 + 9 * MS, c + 2001, s + 1, ACK, 1000);  // C again: wholly below expected
    const Analysis a = cap.analyse();
    ASSERT_EQ(a.connections.size(), 1u);
    const auto& d = a.connections[0].c2s;
    EXPECT_EQ(d.data_segs, 4u);
    EXPECT_EQ(d.ooo_segs, 1u);
    EXPECT_EQ(d.ooo_dist.samples, 1u);
    EXPECT_DOUBLE_EQ(d.ooo_dist.mean, 1000.0);
    EXPECT_EQ(d.dup_segs, 1u);
    // B was never seen here before: only C's second copy overlaps seen space.
    EXPECT_EQ(d.retrans_segs, 1u);
    EXPECT_EQ(d.retrans_bytes, 1000u);
}

TEST(CaptureAnalysis, ReorderingDistancesAreMeasuredFromTheExpectedSequence) {
    CraftedCapture cap("reorder", false);
    const uint32_t c = 42, s = 4242;
    cap.c2s(T0, c, 0, SYN);
    cap.s2c(T0 + MS, s, c + 1, SYN | ACK);
    cap.c2s(T0 + 2 * MS, c + 1, s + 1, ACK);
    // 500-byte segments 1..5 arrive as 1, 3, 4, 2, 5.
    auto seg = [&](int i, int64_t t) { cap.c2s(t, c + 1 + 500 * (i - 1), s + 1, ACK, 500); };
    seg(1, T0 + 3 * MS);
    seg(3, T0 + 3 * MS + 10 * US);
    seg(4, T0 + 3 * MS + 20 * US);
    seg(2, T0 + 3 * MS + 30 * US);
    seg(5, T0 + 3 * MS + 40 * US);
    const Analysis a = cap.analyse();
    const auto& d = a.connections.at(0).c2s;
    EXPECT_EQ(d.data_segs, 5u);
    EXPECT_EQ(d.ooo_segs, 2u);  // 3 (500 bytes early) and 4 (1000 bytes early)
    EXPECT_EQ(d.ooo_dist.samples, 2u);
    EXPECT_DOUBLE_EQ(d.ooo_dist.mean, 750.0);
    EXPECT_EQ(d.dup_segs, 0u);
    EXPECT_EQ(d.retrans_segs, 0u);
}

TEST(CaptureAnalysis, SequenceNumbersWrapAroundTwoToTheThirtyTwo) {
    CraftedCapture cap("wrap", false);
    const uint32_t c = 0xFFFFF000u, s = 0xFFFFFFF0u;  // both sides wrap
    const uint32_t mss = 1448;
    cap.c2s(T0, c, 0, SYN);
    cap.s2c(T0 + MS, s, c + 1, SYN | ACK);
    cap.c2s(T0 + 2 * MS, c + 1, s + 1, ACK);
    auto start = [&](int i) { return uint32_t(c + 1 + uint32_t(i) * mss); };
    // Segment 2 straddles 2^32 (0xFFFFF001 + 2896 .. + 4344).
    ASSERT_GT(start(2), start(1));
    ASSERT_LT(start(3), start(2));
    cap.c2s(T0 + 3 * MS, start(0), s + 1, ACK, mss);
    cap.c2s(T0 + 3 * MS + 10 * US, start(1), s + 1, ACK, mss);
    cap.c2s(T0 + 3 * MS + 20 * US, start(3), s + 1, ACK, mss);  // 2 overtaken
    cap.c2s(T0 + 3 * MS + 30 * US, start(2), s + 1, ACK, mss);
    cap.c2s(T0 + 3 * MS + 40 * US, start(4), s + 1, ACK, mss);
    cap.c2s(T0 + 8 * MS, start(2), s + 1, ACK, mss);            // 2 retransmitted
    cap.s2c(T0 + 13 * MS, s + 1, start(5), ACK);                // covers all, across the wrap
    cap.s2c(T0 + 13 * MS + 10 * US, s + 1, start(5), ACK, 20);  // server data wraps too
    cap.s2c(T0 + 13 * MS + 20 * US, s + 21, start(5), ACK, 20);
    cap.c2s(T0 + 14 * MS, start(5), s + 41, ACK);
    const Analysis a = cap.analyse();
    ASSERT_EQ(a.connections.size(), 1u);
    const auto& d = a.connections[0].c2s;
    EXPECT_EQ(d.data_segs, 6u);
    EXPECT_EQ(d.data_bytes, 6u * mss);
    EXPECT_EQ(d.retrans_segs, 1u);
    EXPECT_EQ(d.ooo_segs, 1u);
    EXPECT_DOUBLE_EQ(d.ooo_dist.mean, double(mss));
    EXPECT_EQ(d.dup_segs, 1u);
    EXPECT_EQ(d.rtt_us.samples, 4u);  // 0, 1, 3, 4; 2 is excluded by Karn
    EXPECT_DOUBLE_EQ(d.rtt_us.max, 10000.0);
    EXPECT_DOUBLE_EQ(d.rtt_us.min, 10000.0 - 40.0);
    const auto& r = a.connections[0].s2c;
    EXPECT_EQ(r.data_segs, 2u);
    EXPECT_EQ(r.retrans_segs + r.dup_segs + r.ooo_segs, 0u);
    EXPECT_EQ(r.rtt_us.samples, 2u);
    EXPECT_DOUBLE_EQ(r.rtt_us.max, 1000.0 - 10.0);
    // Rounds across the wrap: the handshake, then the ACK covering all of it
    // newly acks the resent segment 2: skipped.
    EXPECT_EQ(d.rtt_rounds_us.samples, 1u);
    EXPECT_DOUBLE_EQ(d.rtt_rounds_us.mean, 1000.0);
    EXPECT_EQ(d.rtt_rounds_skipped_retrans, 1u);
    // Server: SYN-ACK -> handshake ACK, then its first 20 bytes -> the client's ACK.
    EXPECT_EQ(r.rtt_rounds_us.samples, 2u);
    EXPECT_DOUBLE_EQ(r.rtt_rounds_us.max, 1000.0);
    EXPECT_DOUBLE_EQ(r.rtt_rounds_us.min, 1000.0 - 10.0);
    EXPECT_EQ(r.rtt_rounds_skipped_retrans, 0u);
}

TEST(CaptureAnalysis, RttRoundsSampleOncePerRoundFromTheEarliestNewlyAckedSegment) {
    CraftedCapture cap("rounds", false);
    const uint32_t c = 1000, s = 5000;
    cap.c2s(T0, c, 0, SYN);
    cap.s2c(T0 + 10 * MS, s, c + 1, SYN | ACK);           // client's first sample: 10 ms
    cap.c2s(T0 + 10 * MS + 100 * US, c + 1, s + 1, ACK);  // server's first sample: 100 us
    // Round 1 (rtt_seq = ISN+1): four segments.
    for (int i = 0; i < 4; ++i)
        cap.c2s(T0 + 11 * MS + i * 100 * US, c + 1 + 1000 * uint32_t(i), s + 1, ACK, 1000);
    // Passes rtt_seq: 20.5 - 11.0 ms; rtt_seq becomes snd_nxt = ISN+4001.
    cap.s2c(T0 + 20 * MS + 500 * US, s + 1, c + 1001, ACK);
    cap.c2s(T0 + 20 * MS + 600 * US, c + 4001, s + 1, ACK, 1000);
    cap.c2s(T0 + 20 * MS + 700 * US, c + 5001, s + 1, ACK, 1000);
    cap.s2c(T0 + 21 * MS, s + 1, c + 2001, ACK);             // same round: no sample
    cap.s2c(T0 + 21 * MS + 500 * US, s + 1, c + 4001, ACK);  // reaches rtt_seq, not past it
    // Passes rtt_seq, newly acks two segments: timed from the earlier one,
    // 30 - 20.6 ms (not 20.7); rtt_seq becomes ISN+6001.
    cap.s2c(T0 + 30 * MS, s + 1, c + 6001, ACK);
    // The FIN takes a sequence number: its ACK passes rtt_seq, 41 - 31 ms.
    cap.c2s(T0 + 31 * MS, c + 6001, s + 1, FIN | ACK);
    cap.s2c(T0 + 41 * MS, s + 1, c + 6002, ACK);
    const Analysis a = cap.analyse();
    ASSERT_EQ(a.connections.size(), 1u);
    const auto& d = a.connections[0].c2s;
    EXPECT_EQ(d.rtt_us.samples, 6u);  // the per-segment series is unchanged
    const std::vector<double> rounds{10000, 9500, 9400, 10000};
    EXPECT_EQ(d.rtt_rounds_us.samples, 4u);
    EXPECT_NEAR(d.rtt_rounds_us.mean, 9725.0, 1e-6);
    EXPECT_NEAR(d.rtt_rounds_us.variance(), variance(rounds), 1e-6);
    EXPECT_DOUBLE_EQ(d.rtt_rounds_us.min, 9400.0);
    EXPECT_DOUBLE_EQ(d.rtt_rounds_us.max, 10000.0);
    EXPECT_EQ(d.rtt_rounds_skipped_retrans, 0u);
    const auto& r = a.connections[0].s2c;  // passive opener: SYN-ACK -> handshake ACK
    EXPECT_EQ(r.rtt_us.samples, 0u);
    EXPECT_EQ(r.rtt_rounds_us.samples, 1u);
    EXPECT_DOUBLE_EQ(r.rtt_rounds_us.mean, 100.0);
    const auto j = fc::capture::to_json(a)["connections"][0]["c2s"]["rtt_rounds"];
    EXPECT_EQ(j["samples"], 4);
    EXPECT_DOUBLE_EQ(j["mean_us"].get<double>(), 9725.0);
    EXPECT_DOUBLE_EQ(j["min_us"].get<double>(), 9400.0);
    EXPECT_DOUBLE_EQ(j["max_us"].get<double>(), 10000.0);
    EXPECT_EQ(j["skipped_retrans"], 0);
    // Every ACK advancing snd_una may start a round if the kernel processed
    // the one before it late: candidates 10 000 (the handshake), 9 500,
    // 9 900, 10 300 (from segment 3, sent at 11.2 ms), 9 400, 10 000. The
    // longest sequence is the greedy one (4); the cheapest of each length:
    // {9 400}, {9 500, 9 400}, {9 500, 9 400, 10 000}, all four greedy.
    EXPECT_EQ(d.rtt_round_min_sums_us, (std::vector<double>{9400, 18900, 28900, 38900}));
    EXPECT_EQ(j["min_sum_us"],
              nlohmann::ordered_json::parse("[9400.0, 18900.0, 28900.0, 38900.0]"));
    // The passive opener's handshake round is not in its agent's sight.
    EXPECT_TRUE(r.rtt_round_min_sums_us.empty());
}

// SACK option (kind 5) with the given block edges, after two NOPs.
std::vector<uint8_t> sack_option(std::vector<uint32_t> edges) {
    std::vector<uint8_t> o{1, 1, 5, uint8_t(2 + 4 * edges.size())};
    for (uint32_t e : edges)
        for (int i = 0; i < 4; ++i) o.push_back(uint8_t(e >> (24 - 8 * i)));
    return o;
}

// An ACK newly acking resent data gives the kernel no sample from that data
// (Karn); it takes one from a newly SACKed segment, else from the echoed
// timestamp. Each bounds the candidate from below.
TEST(CaptureAnalysis, RttRoundBoundOnAckOfResentDataFromSackOrTimestamp) {
    for (const bool sack : {false, true}) {
        CraftedCapture cap(sack ? "karn-sack" : "karn-ts", false);
        const uint32_t c = 7, s = 900;
        cap.next_options = ts_option(1);
        cap.c2s(T0, c, 0, SYN);
        cap.next_options = ts_option(900, 1);
        cap.s2c(T0 + 5 * MS, s, c + 1, SYN | ACK);  // 5 ms
        cap.next_options = ts_option(6, 900);
        cap.c2s(T0 + 6 * MS, c + 1, s + 1, ACK, 1200);  // A, lost
        cap.next_options = ts_option(6, 900);
        cap.c2s(T0 + 6 * MS + 50 * US, c + 1201, s + 1, ACK, 800);  // B
        cap.next_options = ts_option(20, 900);
        cap.c2s(T0 + 20 * MS, c + 2001, s + 1, ACK, 1000);  // C, lost
        cap.next_options = ts_option(21, 900);
        cap.c2s(T0 + 21 * MS, c + 3001, s + 1, ACK, 1000);  // D
        cap.next_options = ts_option(30, 900);
        cap.c2s(T0 + 30 * MS, c + 1, s + 1, ACK, 1200);  // A again
        // Acks A and B, echoing B's TSval (6): 30 - 6 ticks at least.
        cap.next_options = ts_option(935, 6);
        if (sack) {
            // D newly SACKed: sent at 21 ms, so 14 ms at least.
            const auto blk = sack_option({c + 3001, c + 4001});
            cap.next_options.insert(cap.next_options.end(), blk.begin(), blk.end());
        }
        cap.s2c(T0 + 35 * MS, s + 1, c + 2001, ACK);
        const Analysis a = cap.analyse();
        ASSERT_EQ(a.connections.size(), 1u);
        const double karn = sack ? 14000 : 24000;
        EXPECT_EQ(a.connections[0].c2s.rtt_round_min_sums_us,
                  (std::vector<double>{std::min(5000.0, karn), 5000 + karn}))
            << (sack ? "sack" : "timestamp");
    }
}

// Without timestamps or SACK blocks the kernel cannot time such an ACK, so
// it never ends a round; a reset's ACK never does either.
TEST(CaptureAnalysis, RttRoundBoundSkipsUntimeableAcksAndResets) {
    CraftedCapture cap("karn-none", false);
    const uint32_t c = 7, s = 900;
    cap.c2s(T0, c, 0, SYN);
    cap.s2c(T0 + 5 * MS, s, c + 1, SYN | ACK);          // 5 ms
    cap.c2s(T0 + 6 * MS, c + 1, s + 1, ACK, 1200);      // lost
    cap.c2s(T0 + 30 * MS, c + 1, s + 1, ACK, 1200);     // resent
    cap.s2c(T0 + 35 * MS, s + 1, c + 1201, ACK);        // Karn, nothing else: no sample
    cap.c2s(T0 + 36 * MS, c + 1201, s + 1, ACK, 1000);  // sent once
    cap.s2c(T0 + 40 * MS, s + 1, c + 2201, RST | ACK);  // a reset: not timed
    const Analysis a = cap.analyse();
    ASSERT_EQ(a.connections.size(), 1u);
    EXPECT_EQ(a.connections[0].c2s.rtt_round_min_sums_us, (std::vector<double>{5000}));
}

TEST(CaptureAnalysis, RttRoundWhoseAckCoversResentDataIsSkipped) {
    CraftedCapture cap("rounds-retrans", false);
    const uint32_t c = 7, s = 900;
    cap.c2s(T0, c, 0, SYN);
    cap.s2c(T0 + 5 * MS, s, c + 1, SYN | ACK);  // 5 ms; rtt_seq = ISN+1
    cap.c2s(T0 + 5 * MS + 10 * US, c + 1, s + 1, ACK);
    cap.c2s(T0 + 6 * MS, c + 1, s + 1, ACK, 1200);              // A
    cap.c2s(T0 + 6 * MS + 50 * US, c + 1201, s + 1, ACK, 800);  // B
    cap.s2c(T0 + 11 * MS, s + 1, c + 1, ACK);                   // dup ACK: no advance
    cap.c2s(T0 + 30 * MS, c + 1, s + 1, ACK, 1200);             // A again
    // Passes rtt_seq but newly acks A, resent: skipped; rtt_seq = ISN+2001.
    cap.s2c(T0 + 35 * MS, s + 1, c + 2001, ACK);
    cap.c2s(T0 + 36 * MS, c + 2001, s + 1, ACK, 1000);  // C, sent once
    cap.s2c(T0 + 42 * MS, s + 1, c + 3001, ACK);        // 6 ms
    const Analysis a = cap.analyse();
    ASSERT_EQ(a.connections.size(), 1u);
    const auto& d = a.connections[0].c2s;
    EXPECT_EQ(d.rtt_rounds_us.samples, 2u);
    EXPECT_NEAR(d.rtt_rounds_us.mean, 5500.0, 1e-6);
    EXPECT_NEAR(d.rtt_rounds_us.variance(), 250000.0, 1e-6);
    EXPECT_DOUBLE_EQ(d.rtt_rounds_us.min, 5000.0);
    EXPECT_DOUBLE_EQ(d.rtt_rounds_us.max, 6000.0);
    EXPECT_EQ(d.rtt_rounds_skipped_retrans, 1u);
}

TEST(CaptureAnalysis, RttRoundsSkipTheHandshakeWhenSynOrSynAckWasResent) {
    CraftedCapture cap("rounds-syn", false);
    const uint32_t c = 50, s = 60;
    cap.c2s(T0, c, 0, SYN);
    cap.c2s(T0 + 1000 * MS, c, 0, SYN);                 // SYN resent
    cap.s2c(T0 + 1003 * MS, s, c + 1, SYN | ACK);       // ambiguous: skipped
    cap.s2c(T0 + 2003 * MS, s, c + 1, SYN | ACK);       // SYN-ACK resent
    cap.c2s(T0 + 2006 * MS, c + 1, s + 1, ACK);         // ambiguous: skipped
    cap.c2s(T0 + 2007 * MS, c + 1, s + 1, ACK, 500);    // rtt_seq = ISN+1: next round
    cap.s2c(T0 + 2010 * MS, s + 1, c + 501, ACK, 300);  // 3 ms for the client
    cap.c2s(T0 + 2014 * MS, c + 501, s + 301, ACK);     // 4 ms for the server
    const Analysis a = cap.analyse();
    ASSERT_EQ(a.connections.size(), 1u);
    const Connection& k = a.connections[0];
    EXPECT_EQ(k.c2s.rtt_rounds_skipped_retrans, 1u);
    EXPECT_EQ(k.c2s.rtt_rounds_us.samples, 1u);
    EXPECT_DOUBLE_EQ(k.c2s.rtt_rounds_us.mean, 3000.0);
    EXPECT_EQ(k.s2c.rtt_rounds_skipped_retrans, 1u);
    EXPECT_EQ(k.s2c.rtt_rounds_us.samples, 1u);
    EXPECT_DOUBLE_EQ(k.s2c.rtt_rounds_us.mean, 4000.0);
    // The kernel may time the ambiguous handshake from neither data nor
    // (absent) SACK blocks and timestamps: the client's one round is 3 ms.
    // The server's resent SYN-ACK leaves its first round open to its agent.
    EXPECT_EQ(k.c2s.rtt_round_min_sums_us, (std::vector<double>{3000}));
    EXPECT_EQ(k.s2c.rtt_round_min_sums_us, (std::vector<double>{4000}));
}

TEST(CaptureAnalysis, Ipv6WithExtensionHeader) {
    CraftedCapture cap("v6", true);
    const uint32_t c = 1, s = 2;
    cap.c2s(T0, c, 0, SYN);
    cap.s2c(T0 + 2 * MS, s, c + 1, SYN | ACK);
    cap.c2s(T0 + 2 * MS + 5 * US, c + 1, s + 1, ACK);
    cap.s2c(T0 + 3 * MS, s + 1, c + 1, ACK | PSH, 1400);  // server sends
    cap.s2c(T0 + 3 * MS + 5 * US, s + 1401, c + 1, ACK | PSH, 600);
    cap.c2s(T0 + 5 * MS, c + 1, s + 1401, ACK);
    cap.s2c(T0 + 9 * MS, s + 1401, c + 1, ACK | PSH, 600);  // retransmitted
    cap.c2s(T0 + 11 * MS, c + 1, s + 2001, ACK);
    cap.c2s(T0 + 12 * MS, c + 1, s + 2001, RST | ACK);
    const Analysis a = cap.analyse();
    ASSERT_EQ(a.connections.size(), 1u);
    const Connection& k = a.connections[0];
    EXPECT_EQ(k.family, 6);
    EXPECT_EQ(k.client, "fd00::1");
    EXPECT_EQ(k.server, "fd00::2");
    EXPECT_EQ(*k.handshake_ns, 2 * MS);
    EXPECT_EQ(k.s2c.data_segs, 3u);
    EXPECT_EQ(k.s2c.data_bytes, 2600u);
    EXPECT_EQ(k.s2c.retrans_segs, 1u);
    EXPECT_EQ(k.s2c.retrans_bytes, 600u);
    EXPECT_EQ(k.s2c.rtt_us.samples, 1u);
    EXPECT_DOUBLE_EQ(k.s2c.rtt_us.mean, 2000.0);
    EXPECT_EQ(k.c2s.rst, 1u);
    EXPECT_EQ(k.c2s.data_segs, 0u);
}

TEST(CaptureAnalysis, LinuxCookedCapturesGiveTheSameAnswer) {
    for (int lt : {DLT_LINUX_SLL, DLT_LINUX_SLL2}) {
        CraftedCapture cap("sll" + std::to_string(lt), lt == DLT_LINUX_SLL2, lt);
        cap.c2s(T0, 10, 0, SYN);
        cap.s2c(T0 + 3 * MS, 20, 11, SYN | ACK);
        cap.c2s(T0 + 4 * MS, 11, 21, ACK, 100);
        cap.c2s(T0 + 4 * MS, 11, 21, ACK, 100);
        cap.s2c(T0 + 7 * MS, 21, 111, ACK);
        const Analysis a = cap.analyse();
        ASSERT_EQ(a.connections.size(), 1u) << lt;
        const Connection& k = a.connections[0];
        EXPECT_EQ(*k.handshake_ns, 3 * MS) << lt;
        EXPECT_EQ(k.c2s.data_segs, 2u) << lt;
        EXPECT_EQ(k.c2s.retrans_segs, 1u) << lt;
        EXPECT_EQ(k.c2s.dup_segs, 1u) << lt;
        EXPECT_EQ(k.c2s.rtt_us.samples, 0u) << lt;  // its range was sent twice
    }
}

TEST(CaptureAnalysis, RolesAndConnectionBoundaries) {
    // Mid-connection capture (no SYN): the lower port is the server.
    {
        CraftedCapture cap("nosyn", false);
        cap.cport = 80;  // "client" of the crafting helper sends from port 80
        cap.sport = 50000;
        cap.s2c(T0, 500, 1000, ACK, 100);
        cap.c2s(T0 + MS, 1000, 600, ACK);
        const Analysis a = cap.analyse();
        ASSERT_EQ(a.connections.size(), 1u);
        EXPECT_EQ(a.connections[0].sport, 80);
        EXPECT_EQ(a.connections[0].cport, 50000);
        EXPECT_FALSE(a.connections[0].handshake_ns.has_value());
        EXPECT_EQ(a.connections[0].c2s.data_segs, 1u);
        EXPECT_EQ(a.connections[0].c2s.rtt_us.samples, 1u);
    }
    // The SYN decides even against the port rule; a 4-tuple reused after a
    // RST is a second connection.
    {
        CraftedCapture cap("reuse", false);
        cap.cport = 22;
        cap.sport = 60000;
        cap.c2s(T0, 1, 0, SYN);
        cap.s2c(T0 + MS, 9, 2, RST | ACK);
        cap.c2s(T0 + 1000 * MS, 777, 0, SYN);
        cap.s2c(T0 + 1001 * MS, 9, 778, SYN | ACK);
        const Analysis a = cap.analyse();
        ASSERT_EQ(a.connections.size(), 2u);
        EXPECT_EQ(a.connections[0].cport, 22);
        EXPECT_EQ(a.connections[0].sport, 60000);
        EXPECT_EQ(a.connections[0].synack, 0u);
        EXPECT_FALSE(a.connections[0].handshake_ns.has_value());
        EXPECT_EQ(a.connections[0].s2c.rst, 1u);
        EXPECT_EQ(a.connections[1].syn, 1u);
        EXPECT_EQ(*a.connections[1].handshake_ns, MS);
    }
}

TEST(CaptureAnalysis, JsonHasEveryFieldOfTheFormat) {
    CraftedCapture cap("json", false);
    cap.c2s(T0, 1, 0, SYN);
    Analysis a = cap.analyse();
    a.pcap_drops = 3;
    const auto j = fc::capture::to_json(a);
    for (const char* k :
         {"capture", "packets", "tcp_bad_csum", "tcp_csum_unverified", "pcap_drops", "connections"})
        EXPECT_TRUE(j.contains(k)) << k;
    EXPECT_EQ(j["pcap_drops"], 3);
    const auto& c = j["connections"].at(0);
    for (const char* k : {"client", "cport", "server", "sport", "first_ns", "last_ns", "syn",
                          "synack", "handshake_ns", "mptcp", "mptcp_join_token", "c2s", "s2c"})
        EXPECT_TRUE(c.contains(k)) << k;
    EXPECT_TRUE(c["handshake_ns"].is_null());
    EXPECT_TRUE(c["mptcp"].is_null());
    for (const char* k :
         {"packets", "data_segs", "data_bytes", "retrans_segs", "retrans_bytes", "dup_segs",
          "ooo_segs", "ooo_dist_samples", "ooo_dist_mean", "paws_drops", "after_close", "fin",
          "fin_retrans", "resends", "rst", "rst_live", "rtt", "rtt_rounds"})
        EXPECT_TRUE(c["c2s"].contains(k)) << k;
    for (const char* k : {"samples", "mean_us", "var_us2", "min_us", "max_us"})
        EXPECT_TRUE(c["s2c"]["rtt"].contains(k)) << k;
    for (const char* k : {"samples", "mean_us", "var_us2", "min_us", "max_us", "skipped_retrans"})
        EXPECT_TRUE(c["s2c"]["rtt_rounds"].contains(k)) << k;
}

TEST(CaptureAnalysis, UnreadableOrUnsupportedFilesAreErrors) {
    EXPECT_THROW(analyse_pcap("/nonexistent/x.pcap"), fc::capture::CaptureError);
    const std::string path =
        (std::filesystem::temp_directory_path() / "fc-cap-unit-ieee80211.pcap").string();
    pcap_t* dead = pcap_open_dead(DLT_IEEE802_11, 65535);
    pcap_dumper_t* d = pcap_dump_open(dead, path.c_str());
    pcap_pkthdr h{};
    const uint8_t frame[32]{};
    h.len = h.caplen = sizeof frame;
    pcap_dump(reinterpret_cast<u_char*>(d), &h, frame);
    pcap_dump_close(d);
    pcap_close(dead);
    EXPECT_THROW(analyse_pcap(path), fc::capture::CaptureError);
    std::filesystem::remove(path);
}

TEST(CaptureAnalysis, MptcpSynsSayCapableOrJoinWithTheReceiverToken) {
    for (const bool v6 : {false, true}) {
        SCOPED_TRACE(v6 ? "IPv6" : "IPv4");
        CraftedCapture cap(v6 ? "mptcp6" : "mptcp4", v6);
        // Initial subflow: MSS, then MP_CAPABLE v1 on the SYN (length 4, no key).
        cap.next_options = {2, 4, 0x05, 0xb4, 30, 4, 0x01, 0x81};
        cap.c2s(T0, 100, 0, SYN);
        cap.next_options = {30, 12, 0x01, 0x81, 1, 2,
                            3,  4,  5,    6,    7, 8};  // SYN-ACK: MP_CAPABLE + key
        cap.s2c(T0 + MS, 900, 101, SYN | ACK);
        cap.c2s(T0 + 2 * MS, 101, 901, ACK);
        // Join subflow from another port: NOPs, then MP_JOIN SYN (length 12):
        // subtype 1 | B, address id 7, receiver token 0xdeadbeef, nonce.
        cap.cport = 40002;
        cap.next_options = {1, 1, 30, 12, 0x10, 7, 0xde, 0xad, 0xbe, 0xef, 9, 9, 9, 9};
        cap.c2s(T0 + 10 * MS, 5000, 0, SYN);
        // The SYN-ACK's MP_JOIN (subtype 1 too) does not decide anything.
        cap.next_options = {30, 16, 0x10, 0, 1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4};
        cap.s2c(T0 + 11 * MS, 7000, 5001, SYN | ACK);
        // Plain TCP: SYN with MSS and SACK-permitted only.
        cap.cport = 40003;
        cap.next_options = {2, 4, 0x05, 0xb4, 4, 2};
        cap.c2s(T0 + 20 * MS, 1, 0, SYN);
        // A data segment carrying option 30 (a DSS) does not make a connection MPTCP.
        cap.cport = 40004;
        cap.next_options = {30, 4, 0x20, 0x01};
        cap.c2s(T0 + 30 * MS, 1, 1, ACK, 10);
        const Analysis a = cap.analyse();
        ASSERT_EQ(a.connections.size(), 4u);
        EXPECT_EQ(a.connections[0].mptcp, "capable");
        EXPECT_FALSE(a.connections[0].mptcp_join_token);
        EXPECT_EQ(a.connections[0].handshake_ns, MS);
        EXPECT_EQ(a.connections[1].cport, 40002);
        EXPECT_EQ(a.connections[1].mptcp, "join");
        ASSERT_TRUE(a.connections[1].mptcp_join_token);
        EXPECT_EQ(*a.connections[1].mptcp_join_token, 0xdeadbeefu);
        EXPECT_FALSE(a.connections[2].mptcp);
        EXPECT_FALSE(a.connections[3].mptcp);
        const auto j = fc::capture::to_json(a);
        EXPECT_EQ(j["connections"][0]["mptcp"], "capable");
        EXPECT_EQ(j["connections"][1]["mptcp"], "join");
        EXPECT_EQ(j["connections"][1]["mptcp_join_token"], 0xdeadbeefu);
        EXPECT_TRUE(j["connections"][2]["mptcp"].is_null());
        EXPECT_TRUE(j["connections"][2]["mptcp_join_token"].is_null());
    }
}

// Issue 12. What the receiver's capture holds but its TCP never processes
// must not count as received: packets dropped on their checksum, data
// dropped by PAWS, and arrivals once the receiver's socket is gone.

TEST(CaptureAnalysis, CorruptedSegmentsNeverReachTcp) {
    for (const bool v6 : {false, true}) {
        SCOPED_TRACE(v6 ? "IPv6" : "IPv4");
        // Whole packets (the runner's snaplen when a link corrupts).
        CraftedCapture cap(v6 ? "corrupt6" : "corrupt4", v6, DLT_EN10MB, 65535);
        const uint32_t c = 1000, s = 5000;
        const int l4 = v6 ? 48 : 20;  // TCP header offset from the IP header
        cap.c2s(T0, c, 0, SYN);
        cap.s2c(T0 + MS, s, c + 1, SYN | ACK);
        cap.c2s(T0 + 2 * MS, c + 1, s + 1, ACK);
        cap.c2s(T0 + 3 * MS, c + 1, s + 1, ACK, 1000);  // A
        cap.next_flip_bit = (l4 + 20 + 100) * 8 + 3;    // B: a payload bit
        cap.c2s(T0 + 3 * MS + 10 * US, c + 1001, s + 1, ACK, 1000);
        cap.next_flip_bit = (l4 + 4) * 8 + 6;  // C: a bit of the sequence number
        cap.c2s(T0 + 3 * MS + 20 * US, c + 2001, s + 1, ACK, 1000);
        cap.c2s(T0 + 3 * MS + 30 * US, c + 3001, s + 1, ACK, 1000);  // D
        if (!v6)
            cap.next_flip_bit = 8 * 8;  // E: the IPv4 TTL (header checksum)
        else
            cap.next_flip_bit = 2 * 8 + 1;  // E: a flow label bit, no checksum covers it
        cap.c2s(T0 + 3 * MS + 40 * US, c + 4001, s + 1, ACK, 1000);
        cap.c2s(T0 + 20 * MS, c + 1001, s + 1, ACK, 1000);  // B, C retransmitted
        cap.c2s(T0 + 20 * MS + 10 * US, c + 2001, s + 1, ACK, 1000);
        if (!v6) cap.c2s(T0 + 20 * MS + 20 * US, c + 4001, s + 1, ACK, 1000);  // E again
        const Analysis a = cap.analyse();
        EXPECT_EQ(a.tcp_bad_csum, v6 ? 2u : 3u);
        EXPECT_EQ(a.tcp_csum_unverified, 0u);
        ASSERT_EQ(a.connections.size(), 1u);
        const auto& d = a.connections[0].c2s;
        EXPECT_EQ(d.data_segs, 5u);  // A, D, E, B, C as they reached TCP
        // The retransmissions fill the holes the corrupted copies left: new
        // to the receiver, as the kernel sees them (before: 2 or 3 duplicates).
        EXPECT_EQ(d.dup_segs, 0u);
        // D arrived 2000 bytes early (and an IPv6 E, 3000); no distance of
        // the order of a flipped sequence bit.
        EXPECT_EQ(d.ooo_segs, v6 ? 2u : 1u);
        EXPECT_DOUBLE_EQ(d.ooo_dist.max, v6 ? 3000.0 : 2000.0);
        EXPECT_EQ(d.retrans_segs, 0u);
    }
}

TEST(CaptureAnalysis, HeadersOnlyCapturesCannotVerifyTheTcpChecksum) {
    CraftedCapture cap("csum-trunc", false);  // 96 bytes kept, as --snaplen
    cap.c2s(T0, 1, 0, SYN);
    cap.next_flip_bit = (20 + 20 + 500) * 8;  // beyond the captured bytes
    cap.c2s(T0 + MS, 2, 0, ACK, 1000);
    cap.next_flip_bit = 8 * 8;  // the IPv4 header is always verified
    cap.c2s(T0 + 2 * MS, 1002, 0, ACK, 1000);
    const Analysis a = cap.analyse();
    EXPECT_EQ(a.tcp_bad_csum, 1u);
    EXPECT_EQ(a.tcp_csum_unverified, 1u);  // the SYN fits whole and is verified
    EXPECT_EQ(a.connections.at(0).c2s.data_segs, 1u);
}

TEST(CaptureAnalysis, DataDroppedByPawsIsNotReceived) {
    // At the receiver's end: B was lost upstream; its retransmission
    // (fresh TSval 130) overtakes D, sent 20 ms before it (TSval 110), and
    // fills the hole at rcv_nxt, so ts_recent = 130 and PAWS drops D.
    CraftedCapture cap("paws", false);
    const uint32_t c = 1, s = 77;
    cap.next_options = ts_option(90);
    cap.c2s(T0, c, 0, SYN);
    cap.next_options = ts_option(500, 90);
    cap.s2c(T0 + MS, s, c + 1, SYN | ACK);
    auto data = [&](int64_t t, uint32_t at, uint32_t tsval) {
        cap.next_options = ts_option(tsval, 500);
        cap.c2s(t, c + 1 + at, s + 1, ACK, 1000);
    };
    auto ack = [&](int64_t t, uint32_t upto) {
        cap.next_options = ts_option(501, 100);
        cap.s2c(t, s + 1, c + 1 + upto, ACK);
    };
    data(T0 + 2 * MS, 0, 100);  // A
    ack(T0 + 2 * MS + US, 1000);
    data(T0 + 3 * MS, 2000, 100);   // C, above the hole B left
    ack(T0 + 3 * MS + US, 1000);    // duplicate ACK: rcv_wup stays at B
    data(T0 + 40 * MS, 1000, 130);  // B retransmitted: fills the hole
    ack(T0 + 40 * MS + US, 3000);
    data(T0 + 41 * MS, 3000, 110);         // D, the original: fails PAWS
    data(T0 + 41 * MS + 10 * US, 0, 100);  // A again, old: PAWS, and a duplicate
    data(T0 + 70 * MS, 3000, 160);         // D retransmitted: new to the receiver
    const Analysis a = cap.analyse();
    const auto& d = a.connections.at(0).c2s;
    EXPECT_EQ(d.paws_drops, 2u);
    EXPECT_EQ(d.dup_segs, 1u);  // A's copy only (before: D's retransmission too)
    EXPECT_EQ(d.ooo_segs, 1u);  // C
    EXPECT_DOUBLE_EQ(d.ooo_dist.mean, 1000.0);
}

TEST(CaptureAnalysis, NothingIsReceivedOnceTheReceiversSocketIsGone) {
    // Receiver = server. LAST_ACK -> CLOSE: the client's FIN, the server's
    // FIN, the client's ACK of it; then a late copy of the client's data.
    {
        CraftedCapture cap("close-lastack", false);
        const uint32_t c = 10, s = 20;
        cap.c2s(T0, c, 0, SYN);
        cap.s2c(T0 + MS, s, c + 1, SYN | ACK);
        cap.c2s(T0 + 2 * MS, c + 1, s + 1, ACK, 1000);
        cap.c2s(T0 + 2 * MS + US, c + 1001, s + 1, FIN | ACK);
        cap.s2c(T0 + 3 * MS, s + 1, c + 1002, FIN | ACK);
        cap.c2s(T0 + 13 * MS, c + 1002, s + 2, ACK);
        cap.c2s(T0 + 14 * MS, c + 1, s + 2, ACK, 1000);  // reaches no socket
        const Analysis a = cap.analyse();
        const auto& d = a.connections.at(0).c2s;
        EXPECT_EQ(d.after_close, 1u);
        EXPECT_EQ(d.dup_segs, 0u);
        EXPECT_EQ(d.retrans_segs, 1u);  // the sender did send it again
    }
    // Receiver = client, the first to close: FIN_WAIT2 -> TIME_WAIT on the
    // server's FIN; a copy of the server's data after it.
    {
        CraftedCapture cap("close-timewait", false);
        const uint32_t c = 10, s = 20;
        cap.c2s(T0, c, 0, SYN);
        cap.s2c(T0 + MS, s, c + 1, SYN | ACK);
        cap.c2s(T0 + 2 * MS, c + 1, s + 1, FIN | ACK);
        cap.s2c(T0 + 3 * MS, s + 1, c + 2, ACK, 500);  // acks the client's FIN
        cap.s2c(T0 + 3 * MS + US, s + 501, c + 2, ACK, 500);
        cap.s2c(T0 + 4 * MS, s + 1, c + 2, ACK, 500);  // a duplicate: counted
        cap.s2c(T0 + 5 * MS, s + 1001, c + 2, FIN | ACK);
        cap.c2s(T0 + 5 * MS + US, c + 2, s + 1002, ACK);
        cap.s2c(T0 + 9 * MS, s + 501, c + 2, ACK, 500);  // in TIME_WAIT: not
        const Analysis a = cap.analyse();
        const auto& d = a.connections.at(0).s2c;
        EXPECT_EQ(d.dup_segs, 1u);
        EXPECT_EQ(d.after_close, 1u);
    }
}

// Each resend keeps its stamp and whether it resent the tail (the highest
// sequence sent so far), the shape of a tail loss probe.
TEST(CaptureAnalysis, ResendsKeepTheirStampAndWhetherTheyResentTheTail) {
    CraftedCapture cap("resends", false);
    const uint32_t c = 7, s = 900;
    cap.c2s(T0, c, 0, SYN);
    cap.s2c(T0 + MS, s, c + 1, SYN | ACK);
    cap.c2s(T0 + 2 * MS, c + 1, s + 1, ACK, 1000);          // A
    cap.c2s(T0 + 2 * MS + US, c + 1001, s + 1, ACK, 1000);  // B, the tail
    cap.c2s(T0 + 20 * MS, c + 1001, s + 1, ACK, 1000);      // B again: a probe's shape
    cap.c2s(T0 + 30 * MS, c + 1, s + 1, ACK, 1000);         // A again: the head
    cap.c2s(T0 + 40 * MS, c + 2001, s + 1, FIN | ACK);
    cap.c2s(T0 + 50 * MS, c + 2001, s + 1, FIN | ACK);  // a bare FIN resent: the tail
    const Analysis a = cap.analyse();
    const auto& d = a.connections.at(0).c2s;
    ASSERT_EQ(d.resends.size(), 3u);
    EXPECT_EQ(d.resends[0].ts_ns, T0 + 20 * MS);
    EXPECT_TRUE(d.resends[0].tail);
    EXPECT_EQ(d.resends[1].ts_ns, T0 + 30 * MS);
    EXPECT_FALSE(d.resends[1].tail);
    EXPECT_EQ(d.resends[2].ts_ns, T0 + 50 * MS);
    EXPECT_TRUE(d.resends[2].tail);
}

// A reset counts as live when its receiver still had a socket: FINs that
// crossed but one never acknowledged leave the other end in LAST_ACK.
TEST(CaptureAnalysis, AResetIsLiveUntilTheReceiversFinIsAcknowledged) {
    for (const bool acked : {false, true}) {
        CraftedCapture cap(acked ? "rst-late" : "rst-live", false);
        const uint32_t c = 10, s = 20;
        cap.c2s(T0, c, 0, SYN);
        cap.s2c(T0 + MS, s, c + 1, SYN | ACK);
        cap.s2c(T0 + 2 * MS, s + 1, c + 1, FIN | ACK, 500);  // the server's data and FIN
        cap.c2s(T0 + 3 * MS, c + 1, s + 502, FIN | ACK);     // the client takes it, closes
        if (acked) cap.s2c(T0 + 4 * MS, s + 502, c + 2, ACK);
        cap.s2c(T0 + 9 * MS, s + 502, c + 1, RST | ACK);  // the server gives up
        const Analysis a = cap.analyse();
        const auto& k = a.connections.at(0);
        EXPECT_EQ(k.s2c.rst, 1u);
        EXPECT_EQ(k.s2c.rst_live, acked ? 0u : 1u) << (acked ? "acked" : "unacked");
    }
}

TEST(CaptureAnalysis, AFinOvertakingTheLastDataIsOutOfOrderWithoutADistance) {
    CraftedCapture cap("fin-ooo", false);
    cap.c2s(T0, 1, 0, SYN);
    cap.s2c(T0 + MS, 9, 2, SYN | ACK);
    cap.c2s(T0 + 2 * MS, 2, 10, ACK, 500);
    cap.c2s(T0 + 2 * MS + 20 * US, 1002, 10, FIN | ACK);  // before the data it follows
    cap.c2s(T0 + 2 * MS + 40 * US, 502, 10, ACK, 500);
    const Analysis a = cap.analyse();
    const auto& d = a.connections.at(0).c2s;
    EXPECT_EQ(d.ooo_segs, 1u);
    EXPECT_EQ(d.ooo_dist.samples, 0u);
    EXPECT_EQ(d.dup_segs, 0u);
}
