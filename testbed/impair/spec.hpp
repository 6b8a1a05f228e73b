// netem's parameter syntax (tc-netem(8)), parsed into the numbers sch_netem
// itself works with: probabilities and correlations as u32 thresholds
// (percent * UINT32_MAX, as iproute2's set_percent), times in nanoseconds,
// rates in bytes per second. A Spec is immutable once parsed; the engine swaps
// whole Specs when impairments change mid-run.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace fc::impair {

// A bad specification. token() is the offending word (empty when the problem
// is a missing value at the end or a combination of keywords).
class SpecError : public std::runtime_error {
  public:
    SpecError(const std::string& msg, std::string token)
        : std::runtime_error(msg), token_(std::move(token)) {}
    const std::string& token() const { return token_; }

  private:
    std::string token_;
};

enum class LossModel : uint8_t { none, random, gemodel, state };

struct Spec {
    // delay TIME [JITTER [CORRELATION]] [distribution NAME]
    int64_t latency_ns = 0;
    int64_t jitter_ns = 0;
    uint32_t delay_corr = 0;
    std::string distribution = "uniform";  // uniform = no table (netem's default)
    std::vector<int16_t> dist_table;       // iproute2's NAME.dist, read at parse time

    // loss random P [CORR] | loss gemodel p [r [1-h [1-k]]] | loss state p13 [...]
    LossModel loss_model = LossModel::none;
    uint32_t loss = 0, loss_corr = 0;
    // Gilbert-Elliott, as the kernel stores it: p, r, h (= 1 - "1-h"), k1 (= "1-k").
    uint32_t ge_p = 0, ge_r = 0, ge_h = 0, ge_k1 = 0;
    // 4-state Markov model (GI).
    uint32_t p13 = 0, p31 = 0, p32 = 0, p23 = 0, p14 = 0;

    uint32_t reorder = 0, reorder_corr = 0, gap = 0;
    uint32_t duplicate = 0, dup_corr = 0;
    uint32_t corrupt = 0, corrupt_corr = 0;

    uint64_t rate_bytes_per_s = 0;  // 0 = no rate limit
    int32_t packet_overhead = 0;

    uint32_t limit = 1000;  // netem's default

    std::string text;  // the specification as given (normalised whitespace)

    bool empty() const;  // nothing but the queue limit
};

// Where iproute2 keeps the .dist tables: $TC_LIB_DIR, else the first of the
// Debian/Ubuntu multiarch path, /usr/lib/tc, /usr/lib64/tc that exists.
std::string default_dist_dir();

// Parses a netem specification ("delay 10ms 2ms 25% distribution normal loss
// random 1%"). Throws SpecError naming the offending token.
Spec parse_spec(std::string_view text, const std::string& dist_dir = default_dist_dir());

// Reads an iproute2 distribution table (NAME.dist). Throws SpecError.
std::vector<int16_t> load_distribution(const std::string& name, const std::string& dist_dir);

// Parsing helpers with tc's units, exposed for the CLI and the schedule.
int64_t parse_time_ns(const std::string& token);   // "10ms", "1.5s", "250us", bare = us
uint32_t parse_percent(const std::string& token);  // "1%", "0.5" (= 0.5 %); 0..100
uint64_t parse_rate(const std::string& token);     // bytes/s; "100mbit", "1gbit", "10MBps"

// The probability a u32 threshold stands for.
inline double prob(uint32_t threshold) { return threshold / 4294967295.0; }

}  // namespace fc::impair
