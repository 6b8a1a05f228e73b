#include "spec.hpp"

#include <cctype>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace fc::impair {
namespace {

bool starts_numeric(const std::string& s) {
    return !s.empty() && (std::isdigit(static_cast<unsigned char>(s[0])) || s[0] == '.');
}
bool starts_signed_numeric(const std::string& s) {
    return starts_numeric(s) || (s.size() > 1 && (s[0] == '-' || s[0] == '+') &&
                                 (std::isdigit(static_cast<unsigned char>(s[1])) || s[1] == '.'));
}

std::string lower(std::string s) {
    for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

uint32_t to_threshold(double fraction) {
    return static_cast<uint32_t>(std::rint(fraction * 4294967295.0));
}

class Tokens {
  public:
    explicit Tokens(std::string_view text) {
        std::istringstream in{std::string(text)};
        std::string t;
        while (in >> t) toks_.push_back(t);
    }
    bool done() const { return i_ >= toks_.size(); }
    const std::string& next(const std::string& what, const std::string& after) {
        if (done()) throw SpecError("missing " + what + " after '" + after + "'", after);
        return toks_[i_++];
    }
    bool peek_numeric() const { return !done() && starts_numeric(toks_[i_]); }
    bool peek_signed_numeric() const { return !done() && starts_signed_numeric(toks_[i_]); }
    const std::string& peek() const { return toks_[i_]; }
    std::string joined() const {
        std::string out;
        for (const auto& t : toks_) out += (out.empty() ? "" : " ") + t;
        return out;
    }

  private:
    std::vector<std::string> toks_;
    size_t i_ = 0;
};

}  // namespace

bool Spec::empty() const {
    return latency_ns == 0 && jitter_ns == 0 && loss_model == LossModel::none && reorder == 0 &&
           duplicate == 0 && corrupt == 0 && rate_bytes_per_s == 0;
}

std::string default_dist_dir() {
    if (const char* env = std::getenv("TC_LIB_DIR"); env && *env) return env;
    for (const char* d : {"/usr/lib/x86_64-linux-gnu/tc", "/usr/lib/aarch64-linux-gnu/tc",
                          "/usr/lib/tc", "/usr/lib64/tc"}) {
        if (std::filesystem::exists(std::string(d) + "/normal.dist")) return d;
    }
    return "/usr/lib/tc";
}

int64_t parse_time_ns(const std::string& token) {
    const char* s = token.c_str();
    char* end = nullptr;
    const double v = std::strtod(s, &end);
    if (end == s || !std::isfinite(v)) throw SpecError("not a time: '" + token + "'", token);
    const std::string unit = lower(end);
    double mult;
    if (unit.empty() || unit == "us" || unit == "usec" || unit == "usecs")
        mult = 1e3;  // tc: a bare number is microseconds
    else if (unit == "s" || unit == "sec" || unit == "secs")
        mult = 1e9;
    else if (unit == "ms" || unit == "msec" || unit == "msecs")
        mult = 1e6;
    else if (unit == "ns" || unit == "nsec" || unit == "nsecs")
        mult = 1;
    else
        throw SpecError("unknown time unit in '" + token + "'", token);
    if (v < 0) throw SpecError("negative time: '" + token + "'", token);
    return static_cast<int64_t>(std::llround(v * mult));
}

uint32_t parse_percent(const std::string& token) {
    const char* s = token.c_str();
    char* end = nullptr;
    const double v = std::strtod(s, &end);
    if (end == s || !std::isfinite(v) || (*end && std::string(end) != "%"))
        throw SpecError("not a percentage: '" + token + "'", token);
    if (v < 0) throw SpecError("negative percentage: '" + token + "'", token);
    if (v > 100) throw SpecError("percentage over 100: '" + token + "'", token);
    return to_threshold(v / 100.0);
}

uint64_t parse_rate(const std::string& token) {
    const char* s = token.c_str();
    char* end = nullptr;
    const double v = std::strtod(s, &end);
    if (end == s || !std::isfinite(v)) throw SpecError("not a rate: '" + token + "'", token);
    if (v <= 0) throw SpecError("rate must be positive: '" + token + "'", token);
    const std::string unit = lower(end);
    struct U {
        const char* name;
        double bits_per_unit;
    };
    static const U units[] = {
        {"", 1},
        {"bit", 1},
        {"kbit", 1e3},
        {"mbit", 1e6},
        {"gbit", 1e9},
        {"tbit", 1e12},
        {"kibit", 1024.},
        {"mibit", 1048576.},
        {"gibit", 1073741824.},
        {"bps", 8},
        {"kbps", 8e3},
        {"mbps", 8e6},
        {"gbps", 8e9},
        {"tbps", 8e12},
        {"kibps", 8 * 1024.},
        {"mibps", 8 * 1048576.},
        {"gibps", 8 * 1073741824.},
    };
    for (const auto& u : units) {
        if (unit == u.name) {
            const double bytes = v * u.bits_per_unit / 8.0;
            if (bytes < 1) throw SpecError("rate below 1 byte/s: '" + token + "'", token);
            return static_cast<uint64_t>(std::llround(bytes));
        }
    }
    throw SpecError("unknown rate unit in '" + token + "'", token);
}

std::vector<int16_t> load_distribution(const std::string& name, const std::string& dist_dir) {
    const std::string path = dist_dir + "/" + name + ".dist";
    std::ifstream in(path);
    if (!in)
        throw SpecError("no distribution table '" + name + "' (" + path + " not readable)", name);
    std::vector<int16_t> table;
    std::string line;
    while (std::getline(in, line)) {
        if (line.empty() || line[0] == '#') continue;
        const char* p = line.c_str();
        for (;;) {
            char* end = nullptr;
            const long x = std::strtol(p, &end, 0);
            if (end == p) break;
            if (x < INT16_MIN || x > INT16_MAX || table.size() >= 16384)
                throw SpecError("distribution table " + path + " malformed", name);
            table.push_back(static_cast<int16_t>(x));
            p = end;
        }
    }
    if (table.empty()) throw SpecError("distribution table " + path + " is empty", name);
    return table;
}

Spec parse_spec(std::string_view text, const std::string& dist_dir) {
    Spec s;
    Tokens t(text);
    s.text = t.joined();
    bool reorder_given = false, gap_given = false, dist_given = false, loss_given = false;
    std::string dist_token;
    while (!t.done()) {
        const std::string kw = t.next("keyword", "");
        if (kw == "delay" || kw == "latency") {
            s.latency_ns = parse_time_ns(t.next("TIME", kw));
            if (t.peek_signed_numeric()) {
                s.jitter_ns = parse_time_ns(t.next("JITTER", kw));
                if (t.peek_signed_numeric()) s.delay_corr = parse_percent(t.next("CORR", kw));
            }
        } else if (kw == "distribution") {
            const std::string name = t.next("distribution name", kw);
            dist_token = name;
            dist_given = true;
            s.distribution = name;
            if (name != "uniform") s.dist_table = load_distribution(name, dist_dir);
        } else if (kw == "loss" || kw == "drop") {
            if (loss_given) throw SpecError("loss given twice", kw);
            loss_given = true;
            std::string model = t.next("loss model or PERCENT", kw);
            if (starts_signed_numeric(model) || model == "random") {
                if (model == "random") model = t.next("PERCENT", "random");
                s.loss_model = LossModel::random;
                s.loss = parse_percent(model);
                if (t.peek_signed_numeric()) s.loss_corr = parse_percent(t.next("CORR", kw));
            } else if (model == "gemodel") {
                s.loss_model = LossModel::gemodel;
                s.ge_p = parse_percent(t.next("p", model));
                // iproute2's defaults for omitted parameters: r = 100 %, 1-h = 100 %, 1-k = 0.
                s.ge_r = to_threshold(1.0);
                s.ge_h = 0;
                s.ge_k1 = 0;
                if (t.peek_signed_numeric()) {
                    s.ge_r = parse_percent(t.next("r", model));
                    if (t.peek_signed_numeric()) {
                        // given as 1-h (loss probability in the bad state); kept as h
                        s.ge_h = UINT32_MAX - parse_percent(t.next("1-h", model));
                        if (t.peek_signed_numeric()) s.ge_k1 = parse_percent(t.next("1-k", model));
                    }
                }
            } else if (model == "state") {
                s.loss_model = LossModel::state;
                const uint32_t p13 = parse_percent(t.next("p13", model));
                // iproute2's defaults: p31 = 1 - p13, p32 = 0, p23 = 100 %, p14 = 0.
                s.p13 = p13;
                s.p31 = UINT32_MAX - p13;
                s.p32 = 0;
                s.p23 = UINT32_MAX;
                s.p14 = 0;
                uint32_t* rest[] = {&s.p31, &s.p32, &s.p23, &s.p14};
                const char* names[] = {"p31", "p32", "p23", "p14"};
                for (int i = 0; i < 4 && t.peek_signed_numeric(); ++i)
                    *rest[i] = parse_percent(t.next(names[i], model));
            } else {
                throw SpecError("unknown loss model '" + model + "'", model);
            }
        } else if (kw == "reorder") {
            reorder_given = true;
            s.reorder = parse_percent(t.next("PERCENT", kw));
            if (t.peek_signed_numeric()) s.reorder_corr = parse_percent(t.next("CORR", kw));
            if (!t.done() && t.peek() == "gap") {
                t.next("gap", kw);
                const std::string g = t.next("DISTANCE", "gap");
                char* end = nullptr;
                const long v = std::strtol(g.c_str(), &end, 10);
                if (end == g.c_str() || *end || v < 1 || v > UINT32_MAX)
                    throw SpecError("gap must be a positive integer: '" + g + "'", g);
                s.gap = static_cast<uint32_t>(v);
                gap_given = true;
            }
        } else if (kw == "gap") {
            const std::string g = t.next("DISTANCE", kw);
            char* end = nullptr;
            const long v = std::strtol(g.c_str(), &end, 10);
            if (end == g.c_str() || *end || v < 1 || v > UINT32_MAX)
                throw SpecError("gap must be a positive integer: '" + g + "'", g);
            s.gap = static_cast<uint32_t>(v);
            gap_given = true;
        } else if (kw == "duplicate") {
            s.duplicate = parse_percent(t.next("PERCENT", kw));
            if (t.peek_signed_numeric()) s.dup_corr = parse_percent(t.next("CORR", kw));
        } else if (kw == "corrupt") {
            s.corrupt = parse_percent(t.next("PERCENT", kw));
            if (t.peek_signed_numeric()) s.corrupt_corr = parse_percent(t.next("CORR", kw));
        } else if (kw == "rate") {
            s.rate_bytes_per_s = parse_rate(t.next("RATE", kw));
            if (t.peek_signed_numeric()) {
                const std::string o = t.next("PACKETOVERHEAD", kw);
                char* end = nullptr;
                const long v = std::strtol(o.c_str(), &end, 10);
                if (end == o.c_str() || *end || v < -65535 || v > 65535)
                    throw SpecError("packet overhead must be an integer: '" + o + "'", o);
                s.packet_overhead = static_cast<int32_t>(v);
                if (t.peek_signed_numeric())
                    throw SpecError("cell size/overhead are not supported: '" + t.peek() + "'",
                                    t.peek());
            }
        } else if (kw == "limit") {
            const std::string l = t.next("PACKETS", kw);
            char* end = nullptr;
            const long v = std::strtol(l.c_str(), &end, 10);
            if (end == l.c_str() || *end || v < 1 || v > 10000000)
                throw SpecError("limit must be 1..10000000 packets: '" + l + "'", l);
            s.limit = static_cast<uint32_t>(v);
        } else if (starts_signed_numeric(kw)) {
            throw SpecError("unexpected value '" + kw + "' (which keyword does it belong to?)", kw);
        } else {
            throw SpecError("unknown keyword '" + kw + "'", kw);
        }
    }
    if (reorder_given && s.reorder > 0) {
        if (s.latency_ns == 0)
            throw SpecError("reordering not possible without specifying some delay", "reorder");
        if (s.gap == 0) s.gap = 1;  // as tc does
    } else if (gap_given) {
        throw SpecError("gap specified without reorder probability", "gap");
    }
    if (dist_given && (s.latency_ns == 0 || s.jitter_ns == 0))
        throw SpecError("distribution specified but no latency and jitter values", dist_token);
    return s;
}

}  // namespace fc::impair
