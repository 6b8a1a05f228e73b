// Unit tests of the netem models against their statistics. Fixed seeds; every
// bound is computed from the model (binomial / CLT, z = 5: a correct model
// fails one of these with probability < 1e-6 per check).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <queue>

#include "impair/log.hpp"
#include "impair/model.hpp"
#include "impair/spec.hpp"

using namespace fc::impair;

namespace {

constexpr double kZ = 5.0;
constexpr int64_t kMs = 1000000;

std::shared_ptr<const Spec> spec(const std::string& s) {
    return std::make_shared<const Spec>(parse_spec(s));
}

// Binomial: observed k of n within p +- z*sqrt(p(1-p)/n).
void expect_binomial(uint64_t k, uint64_t n, double p, const char* what) {
    const double sd = std::sqrt(p * (1 - p) / n);
    const double f = static_cast<double>(k) / n;
    EXPECT_NEAR(f, p, kZ * sd) << what << ": " << k << " of " << n;
}

// Feeds `n` packets 1 ms apart into an impairer with an always-empty queue
// (pure per-packet decisions).
std::vector<EnqueueResult> run(Impairer& imp, int n, uint32_t len = 1000) {
    std::vector<EnqueueResult> out;
    out.reserve(n);
    for (int i = 0; i < n; ++i) out.push_back(imp.enqueue(int64_t{i} * kMs, len, len - 14, 0, 0));
    return out;
}

std::string token_of(const std::string& s) {
    try {
        parse_spec(s);
    } catch (const SpecError& e) {
        return e.token();
    }
    return "<accepted>";
}

}  // namespace

TEST(ImpairSpec, ParsesAFullNetemLine) {
    const Spec s = parse_spec(
        "delay 10ms 2ms 25% distribution normal loss random 1% 10% duplicate 0.5% corrupt 0.1 "
        "reorder 5% 50% gap 3 rate 100mbit 20 limit 5000");
    EXPECT_EQ(s.latency_ns, 10 * kMs);
    EXPECT_EQ(s.jitter_ns, 2 * kMs);
    EXPECT_EQ(s.delay_corr, static_cast<uint32_t>(std::rint(0.25 * UINT32_MAX)));
    EXPECT_FALSE(s.dist_table.empty());
    EXPECT_EQ(s.loss_model, LossModel::random);
    EXPECT_NEAR(prob(s.loss), 0.01, 1e-9);
    EXPECT_NEAR(prob(s.loss_corr), 0.10, 1e-9);
    EXPECT_NEAR(prob(s.duplicate), 0.005, 1e-9);
    EXPECT_NEAR(prob(s.corrupt), 0.001, 1e-9);  // a bare number is a percentage, as in tc
    EXPECT_NEAR(prob(s.reorder), 0.05, 1e-9);
    EXPECT_EQ(s.gap, 3u);
    EXPECT_EQ(s.rate_bytes_per_s, 12500000u);
    EXPECT_EQ(s.packet_overhead, 20);
    EXPECT_EQ(s.limit, 5000u);
}

TEST(ImpairSpec, AppliesTcDefaults) {
    EXPECT_EQ(parse_spec("delay 1ms").limit, 1000u);
    EXPECT_EQ(parse_spec("delay 1ms reorder 10%").gap, 1u);  // tc sets gap 1
    const Spec ge = parse_spec("loss gemodel 1%");
    EXPECT_EQ(ge.ge_r, UINT32_MAX);  // r = 100 %
    EXPECT_EQ(ge.ge_h, 0u);          // 1-h = 100 %
    EXPECT_EQ(ge.ge_k1, 0u);         // 1-k = 0
    const Spec ge2 = parse_spec("loss gemodel 1% 10% 70% 0.1%");
    EXPECT_NEAR(prob(ge2.ge_h), 0.30, 1e-9);  // kernel keeps h = 1 - (1-h)
    const Spec st = parse_spec("loss state 2%");
    EXPECT_NEAR(prob(st.p31), 0.98, 1e-9);
    EXPECT_EQ(st.p32, 0u);
    EXPECT_EQ(st.p23, UINT32_MAX);
    EXPECT_EQ(st.p14, 0u);
    EXPECT_EQ(parse_spec("loss 3%").loss_model, LossModel::random);  // old syntax
    EXPECT_EQ(parse_time_ns("250"), 250000);                         // bare = usec
    EXPECT_EQ(parse_rate("1gbit"), 125000000u);
    EXPECT_EQ(parse_rate("10MBps"), 10000000u);
}

TEST(ImpairSpec, ErrorsNameTheOffendingToken) {
    EXPECT_EQ(token_of("delay 10ms bogus 3"), "bogus");
    EXPECT_EQ(token_of("delay -5ms"), "-5ms");
    EXPECT_EQ(token_of("delay 10ms -1ms"), "-1ms");
    EXPECT_EQ(token_of("loss random 150%"), "150%");
    EXPECT_EQ(token_of("duplicate 101"), "101");
    EXPECT_EQ(token_of("loss whatever 1%"), "whatever");
    EXPECT_EQ(token_of("delay 10parsecs"), "10parsecs");
    EXPECT_EQ(token_of("reorder 10%"), "reorder");                   // needs a delay
    EXPECT_EQ(token_of("delay 1ms gap 5"), "gap");                   // gap without reorder
    EXPECT_EQ(token_of("delay 1ms distribution normal"), "normal");  // no jitter
    EXPECT_EQ(token_of("delay 1ms 1ms distribution nosuch"), "nosuch");
    EXPECT_EQ(token_of("rate 10furlongs"), "10furlongs");
    EXPECT_EQ(token_of("limit 0"), "0");
    EXPECT_EQ(token_of("delay"), "delay");  // missing value
    try {
        parse_spec("delay 10ms loss random 150%");
        FAIL() << "accepted";
    } catch (const SpecError& e) {
        EXPECT_NE(std::string(e.what()).find("150%"), std::string::npos) << e.what();
    }
}

TEST(ImpairModel, SameSeedSameDecisions) {
    auto s = spec("delay 10ms 5ms loss random 5% duplicate 5% corrupt 5% reorder 10% 20%");
    Impairer a(s, 42), b(s, 42), c(s, 43);
    const auto ra = run(a, 5000), rb = run(b, 5000), rc = run(c, 5000);
    int differ = 0;
    for (int i = 0; i < 5000; ++i) {
        ASSERT_EQ(ra[i].n, rb[i].n);
        for (int j = 0; j < ra[i].n; ++j) {
            ASSERT_EQ(ra[i].v[j].forward, rb[i].v[j].forward);
            ASSERT_EQ(ra[i].v[j].time_to_send, rb[i].v[j].time_to_send);
            ASSERT_EQ(ra[i].v[j].flags, rb[i].v[j].flags);
            ASSERT_EQ(ra[i].v[j].corrupt_bit, rb[i].v[j].corrupt_bit);
        }
        differ += ra[i].v[0].time_to_send != rc[i].v[0].time_to_send;
    }
    EXPECT_GT(differ, 4000);  // another seed, other decisions
}

TEST(ImpairModel, RandomLossRateWithinBinomialBound) {
    for (double pct : {0.1, 1.0, 2.0, 10.0}) {
        Impairer imp(spec("loss random " + std::to_string(pct) + "%"), 7);
        const int n = 400000;
        uint64_t lost = 0;
        for (const auto& r : run(imp, n)) lost += !r.v[0].forward;
        expect_binomial(lost, n, pct / 100, "loss random");
    }
}

TEST(ImpairModel, GilbertElliottLossRateAndMeanBurst) {
    // p = 1 %, r = 25 %, 1-h = 100 %, 1-k = 0: losses are exactly the bad state,
    // so burst lengths are geometric with mean 1/r and the loss rate is p/(p+r).
    const double p = 0.01, r = 0.25;
    Impairer imp(spec("loss gemodel 1% 25%"), 11);
    const int n = 1000000;
    uint64_t lost = 0, bursts = 0, run_len = 0;
    std::vector<uint64_t> lengths;
    for (const auto& e : run(imp, n)) {
        if (!e.v[0].forward) {
            ++lost;
            ++run_len;
        } else if (run_len) {
            lengths.push_back(run_len);
            run_len = 0;
        }
    }
    bursts = lengths.size();
    ASSERT_GT(bursts, 1000u);
    double mean = 0;
    for (auto l : lengths) mean += l;
    mean /= bursts;
    const double sd_burst = std::sqrt(1 - r) / r;  // geometric
    EXPECT_NEAR(mean, 1 / r, kZ * sd_burst / std::sqrt(bursts)) << "mean burst";
    // Loss fraction: a two-state Markov chain; variance inflated by the
    // chain's autocorrelation (1 + lambda) / (1 - lambda), lambda = 1 - p - r.
    const double pi = p / (p + r), lambda = 1 - p - r;
    const double sd = std::sqrt(pi * (1 - pi) / n * (1 + lambda) / (1 - lambda));
    EXPECT_NEAR(static_cast<double>(lost) / n, pi, kZ * sd) << "GE loss rate";
}

TEST(ImpairModel, FourStateMeanBurstAndRate) {
    // p13 = 2 %, p31 = 30 %, p32 = 0 (default), p14 = 0: a burst stays lost with
    // probability 1 - p31, so bursts are geometric with mean 1/p31.
    const double p13 = 0.02, p31 = 0.30;
    Impairer imp(spec("loss state 2% 30%"), 13);
    const int n = 1000000;
    uint64_t lost = 0, run_len = 0;
    std::vector<uint64_t> lengths;
    for (const auto& e : run(imp, n)) {
        if (!e.v[0].forward) {
            ++lost;
            ++run_len;
        } else if (run_len) {
            lengths.push_back(run_len);
            run_len = 0;
        }
    }
    double mean = 0;
    for (auto l : lengths) mean += l;
    mean /= lengths.size();
    EXPECT_NEAR(mean, 1 / p31, kZ * std::sqrt(1 - p31) / p31 / std::sqrt(lengths.size()));
    const double pi = p13 / (p13 + p31), lambda = 1 - p13 - p31;
    const double sd = std::sqrt(pi * (1 - pi) / n * (1 + lambda) / (1 - lambda));
    EXPECT_NEAR(static_cast<double>(lost) / n, pi, kZ * sd);
}

TEST(ImpairModel, ReorderFraction) {
    Impairer imp(spec("delay 10ms reorder 25%"), 17);
    const int n = 200000;
    uint64_t reordered = 0;
    for (const auto& r : run(imp, n)) {
        if (r.v[0].flags & flag_reordered) {
            ++reordered;
            EXPECT_EQ(r.v[0].time_to_send % kMs, 0);  // sent at arrival
        }
    }
    expect_binomial(reordered, n, 0.25, "reorder");
}

TEST(ImpairModel, ReorderGapKeepsNMinusOneInOrder) {
    // gap 5, reorder 100 %: packets 5, 10, 15, ... jump the queue (netem: the
    // first gap-1 packets after a reorder are always delayed).
    Impairer imp(spec("delay 10ms reorder 100% gap 5"), 19);
    const auto rs = run(imp, 100);
    for (int i = 0; i < 100; ++i)
        EXPECT_EQ(!!(rs[i].v[0].flags & flag_reordered), (i + 1) % 5 == 0) << i;
}

TEST(ImpairModel, DuplicateFraction) {
    Impairer imp(spec("duplicate 5%"), 23);
    const int n = 400000;
    uint64_t dups = 0;
    for (const auto& r : run(imp, n)) {
        ASSERT_GE(r.n, 1);
        if (r.n == 2) {
            ++dups;
            EXPECT_TRUE(r.v[0].flags & flag_duplicate);
            EXPECT_TRUE(r.v[0].forward && r.v[1].forward);
        }
    }
    expect_binomial(dups, n, 0.05, "duplicate");
}

TEST(ImpairModel, CorruptFractionAndBitRange) {
    Impairer imp(spec("corrupt 10%"), 29);
    const int n = 200000;
    uint64_t c = 0;
    for (const auto& r : run(imp, n, 200)) {
        if (r.v[0].flags & flag_corrupted) {
            ++c;
            EXPECT_LT(r.v[0].corrupt_bit, 186u * 8);
        }
    }
    expect_binomial(c, n, 0.10, "corrupt");
}

namespace {
struct Moments {
    double mean, sd;
};
Moments delay_moments(const std::string& s, int n) {
    Impairer imp(spec(s), 31);
    double sum = 0, sq = 0;
    for (int i = 0; i < n; ++i) {
        const auto r = imp.enqueue(0, 1000, 986, 0, 0);
        const double d = static_cast<double>(r.v[0].time_to_send);
        sum += d;
        sq += d * d;
    }
    const double mean = sum / n;
    return {mean, std::sqrt(sq / n - mean * mean)};
}
Moments table_moments(const std::string& name) {
    const auto t = load_distribution(name, default_dist_dir());
    double sum = 0, sq = 0;
    for (auto v : t) {
        sum += v / 8192.0;
        sq += (v / 8192.0) * (v / 8192.0);
    }
    const double mean = sum / t.size();
    return {mean, std::sqrt(sq / t.size() - mean * mean)};
}
}  // namespace

TEST(ImpairModel, DelayUniformMeanAndSpread) {
    const int n = 400000;
    const auto m = delay_moments("delay 10ms 2ms", n);
    const double sd = 2.0 * 2 * kMs / std::sqrt(12.0);  // uniform over 2 * jitter
    EXPECT_NEAR(m.mean, 10.0 * kMs, kZ * sd / std::sqrt(n));
    // sd of the sample sd of a uniform: sd * sqrt((kurtosis - 1) / (4n)), kurtosis 1.8
    EXPECT_NEAR(m.sd, sd, kZ * sd * std::sqrt(0.8 / (4.0 * n)));
}

TEST(ImpairModel, DelayTableDistributionsMatchTheirTables) {
    // Expected moments come from iproute2's own tables: mu + sigma * mean(table),
    // sigma * sd(table); the sampling bounds from the CLT (sd bound: normal
    // approximation with a 4x allowance for the tables' heavy tails).
    const int n = 400000;
    for (const char* name : {"normal", "pareto", "paretonormal"}) {
        const auto tm = table_moments(name);
        const auto m = delay_moments(std::string("delay 10ms 2ms distribution ") + name, n);
        const double mu = 10.0 * kMs + 2.0 * kMs * tm.mean, sd = 2.0 * kMs * tm.sd;
        EXPECT_NEAR(m.mean, mu, kZ * sd / std::sqrt(n)) << name;
        EXPECT_NEAR(m.sd, sd, 4 * kZ * sd / std::sqrt(2.0 * n)) << name;
    }
    const auto normal = table_moments("normal");
    EXPECT_NEAR(normal.mean, 0.0, 0.01);
    EXPECT_NEAR(normal.sd, 1.0, 0.02);
}

TEST(ImpairModel, DelayCorrelationKeepsTheRangeAndMean) {
    // netem reduces the correlated u32 modulo 2*jitter (or the table size), so
    // delay correlation barely correlates successive delays; tc-netem(8) says
    // as much. We keep netem's arithmetic: range and mean must be unchanged.
    Impairer imp(spec("delay 10ms 2ms 90%"), 37);
    const int n = 100000;
    double sum = 0;
    for (int i = 0; i < n; ++i) {
        const int64_t d = imp.enqueue(0, 1000, 986, 0, 0).v[0].time_to_send;
        ASSERT_GE(d, 8 * kMs);
        ASSERT_LT(d, 12 * kMs);
        sum += d;
    }
    // The correlated draw is a weighted average of uniforms: its spread is
    // smaller, so the uniform's sd is a safe (larger) bound for the mean.
    EXPECT_NEAR(sum / n, 10.0 * kMs, kZ * (4.0 * kMs / std::sqrt(12.0)) / std::sqrt(n));
}

TEST(ImpairModel, RateWithinTwoPercent) {
    for (const char* s : {"rate 10mbit", "delay 5ms rate 100mbit", "rate 1gbit 24"}) {
        auto sp = spec(std::string(s) + " limit 100000");
        Impairer imp(sp, 41);
        // Offered load twice the rate: packets queue behind each other.
        const uint32_t len = 1514;
        const double ptime = (len + sp->packet_overhead) * 1e9 / sp->rate_bytes_per_s;
        std::deque<int64_t> q;  // departure times of queued packets (FIFO here)
        int64_t last = 0, first_arrival = 0, last_departure = 0;
        const int n = 20000;
        for (int i = 0; i < n; ++i) {
            const int64_t now = static_cast<int64_t>(i * ptime / 2);
            while (!q.empty() && q.front() <= now) q.pop_front();
            const auto r = imp.enqueue(now, len, len - 14, q.size(), last);
            ASSERT_TRUE(r.v[0].forward);
            last = r.v[0].time_to_send;
            q.push_back(last);
            last_departure = last;
        }
        const double secs = (last_departure - first_arrival - sp->latency_ns) / 1e9;
        const double rate = n * double(len + sp->packet_overhead) / secs;
        EXPECT_NEAR(rate / sp->rate_bytes_per_s, 1.0, 0.02) << s;
    }
}

TEST(ImpairModel, LimitDropsOverflow) {
    Impairer imp(spec("rate 1mbit limit 10"), 43);
    size_t qlen = 0;
    int64_t last = 0;
    int dropped = 0;
    for (int i = 0; i < 25; ++i) {
        const auto r = imp.enqueue(0, 1000, 986, qlen, last);
        if (r.v[0].forward) {
            ++qlen;
            last = r.v[0].time_to_send;
        } else {
            EXPECT_EQ(r.v[0].reason, Reason::limit);
            ++dropped;
        }
    }
    EXPECT_EQ(dropped, 15);
}

TEST(ImpairModel, JitterReordersLikeNetem) {
    // Packets 100 us apart with 10 ms +- 5 ms of jitter: departure order differs
    // from arrival order (netem's tfifo sorts by time_to_send).
    Impairer imp(spec("delay 10ms 5ms"), 47);
    int inversions = 0;
    int64_t prev = 0;
    for (int i = 0; i < 1000; ++i) {
        const int64_t t = imp.enqueue(i * 100000, 1000, 986, 0, 0).v[0].time_to_send;
        inversions += t < prev;
        prev = t;
    }
    EXPECT_GT(inversions, 300);
}

TEST(ImpairLog, ParsesFramesAndRoundTripsToCsv) {
    // Ethernet + IPv4 + UDP to port 53 with DNS id 0xbeef.
    uint8_t f[14 + 20 + 8 + 12] = {};
    f[12] = 0x08;
    uint8_t* ip = f + 14;
    ip[0] = 0x45;
    ip[3] = 20 + 8 + 12;
    ip[9] = 17;
    ip[12] = 198, ip[13] = 18, ip[14] = 0, ip[15] = 1;
    ip[16] = 198, ip[17] = 18, ip[18] = 0, ip[19] = 2;
    uint8_t* udp = ip + 20;
    udp[0] = 0x9c, udp[1] = 0x40;  // 40000
    udp[3] = 53;
    udp[5] = 20;
    udp[8] = 0xbe, udp[9] = 0xef;
    LogRecord r{};
    EXPECT_EQ(parse_frame(f, sizeof f, r), 14u);
    EXPECT_EQ(r.ip_version, 4);
    EXPECT_EQ(r.proto, 17);
    EXPECT_EQ(r.sport, 40000);
    EXPECT_EQ(r.dport, 53);
    EXPECT_EQ(r.payload_len, 12);
    EXPECT_TRUE(r.has_dns_id);
    EXPECT_EQ(r.dns_id, 0xbeef);

    const std::string path =
        (std::filesystem::temp_directory_path() / "fc-impair-log-test.bin").string();
    {
        LogWriter w;
        w.open(path, 5, 1, "t");
        r.action = static_cast<uint8_t>(Action::dropped);
        r.reason = static_cast<uint8_t>(Reason::loss_random);
        w.write(&r, 1);
    }
    const auto lf = read_log(path);
    ASSERT_EQ(lf.records.size(), 1u);
    char* buf = nullptr;
    size_t len = 0;
    std::FILE* mem = open_memstream(&buf, &len);
    write_csv(lf, mem);
    std::fclose(mem);
    const std::string csv(buf, len);
    std::free(buf);
    std::filesystem::remove(path);
    EXPECT_NE(csv.find("dropped,loss_random"), std::string::npos) << csv;
    EXPECT_NE(csv.find("198.18.0.1,198.18.0.2,40000,53"), std::string::npos) << csv;
    EXPECT_NE(csv.find(",48879,"), std::string::npos) << csv;  // DNS id
}

// Which corrupted packets the receiver discards: every IPv4 one (header
// checksum, then TCP's or UDP's); IPv6 ones unless the bit is in the traffic
// class, flow label or hop limit, which no checksum covers.
TEST(ImpairLog, CorruptionIsLossUnlessNoChecksumCoversTheBit) {
    fc::impair::LogRecord r{};
    r.ip_version = 4;
    r.corrupt_bit = 10;
    EXPECT_FALSE(fc::impair::lost_to_corruption(r));  // not corrupted at all
    r.flags = fc::impair::flag_corrupted;
    for (uint32_t bit : {0u, 10u, 70u, 200u, 4000u}) {
        r.corrupt_bit = bit;
        EXPECT_TRUE(fc::impair::lost_to_corruption(r)) << bit;
    }
    r.ip_version = 6;
    for (uint32_t bit : {0u, 3u, 32u, 48u, 55u, 64u, 400u}) {
        r.corrupt_bit = bit;
        EXPECT_TRUE(fc::impair::lost_to_corruption(r)) << bit;
    }
    for (uint32_t bit : {4u, 12u, 31u, 56u, 63u}) {
        r.corrupt_bit = bit;
        EXPECT_FALSE(fc::impair::lost_to_corruption(r)) << bit;
    }
}
