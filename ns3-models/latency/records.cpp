#include "latency/records.hpp"

#include <charconv>
#include <istream>
#include <ostream>
#include <stdexcept>
#include <string>
#include <string_view>

namespace flowcorder::latency {
namespace {

constexpr std::string_view kRecordHeader =
    "src,dst,sport,dport,proto,first_ns,last_ns,packets,bytes,end_reason";
constexpr std::string_view kPacketHeader =
    "src,dst,sport,dport,proto,ip_id,ip_length,t_a_ns,t_b_ns";

void write_key(std::ostream& out, const FlowKey& key) {
    out << format_ipv4(key.src) << ',' << format_ipv4(key.dst) << ',' << key.sport << ','
        << key.dport << ',' << unsigned{key.proto};
}

// Splits one CSV line into its comma-separated fields, with a line number for errors.
class Fields {
  public:
    Fields(std::string_view line, size_t line_number) : m_rest(line), m_line(line_number) {}

    std::string_view next() {
        if (m_done) fail("too few fields");
        const size_t comma = m_rest.find(',');
        std::string_view field = m_rest.substr(0, comma);
        if (comma == std::string_view::npos) {
            m_done = true;
        } else {
            m_rest.remove_prefix(comma + 1);
        }
        return field;
    }

    template <typename T>
    T number() {
        const std::string_view field = next();
        T value{};
        auto [end, ec] = std::from_chars(field.data(), field.data() + field.size(), value);
        if (ec != std::errc{} || end != field.data() + field.size()) {
            fail("bad number '" + std::string(field) + "'");
        }
        return value;
    }

    uint32_t address() {
        const std::string_view field = next();
        auto value = parse_ipv4_address(field);
        if (!value) fail("bad IPv4 address '" + std::string(field) + "'");
        return *value;
    }

    FlowKey key() {
        FlowKey key;
        key.src = address();
        key.dst = address();
        key.sport = number<uint16_t>();
        key.dport = number<uint16_t>();
        key.proto = number<uint8_t>();
        return key;
    }

    void finish() const {
        if (!m_done) fail("too many fields");
    }

    [[noreturn]] void fail(const std::string& what) const {
        throw std::runtime_error("CSV line " + std::to_string(m_line) + ": " + what);
    }

  private:
    std::string_view m_rest;
    size_t m_line;
    bool m_done = false;
};

template <typename Row, typename Parse>
std::vector<Row> read_csv(std::istream& in, std::string_view header, Parse parse) {
    std::string line;
    if (!std::getline(in, line) || line != header) {
        throw std::runtime_error("CSV: expected header '" + std::string(header) + "'");
    }
    std::vector<Row> rows;
    size_t line_number = 1;
    while (std::getline(in, line)) {
        ++line_number;
        if (line.empty()) continue;
        Fields fields(line, line_number);
        rows.push_back(parse(fields));
        fields.finish();
    }
    return rows;
}

}  // namespace

void write_records_csv(std::ostream& out, const std::vector<FlowRecord>& records) {
    out << kRecordHeader << '\n';
    for (const FlowRecord& r : records) {
        write_key(out, r.key);
        out << ',' << r.first_ns << ',' << r.last_ns << ',' << r.packets << ',' << r.bytes << ','
            << unsigned{static_cast<uint8_t>(r.end_reason)} << '\n';
    }
}

std::vector<FlowRecord> read_records_csv(std::istream& in) {
    return read_csv<FlowRecord>(in, kRecordHeader, [](Fields& f) {
        FlowRecord r;
        r.key = f.key();
        r.first_ns = f.number<int64_t>();
        r.last_ns = f.number<int64_t>();
        r.packets = f.number<uint64_t>();
        r.bytes = f.number<uint64_t>();
        const auto reason = f.number<uint8_t>();
        if (reason < 1 || reason > 5) f.fail("bad end_reason");
        r.end_reason = static_cast<EndReason>(reason);
        return r;
    });
}

void write_packets_csv(std::ostream& out, const std::vector<PacketTruth>& packets) {
    out << kPacketHeader << '\n';
    for (const PacketTruth& p : packets) {
        write_key(out, p.key);
        out << ',' << p.ip_id << ',' << p.ip_length << ',' << p.t_a_ns << ',' << p.t_b_ns << '\n';
    }
}

std::vector<PacketTruth> read_packets_csv(std::istream& in) {
    return read_csv<PacketTruth>(in, kPacketHeader, [](Fields& f) {
        PacketTruth p;
        p.key = f.key();
        p.ip_id = f.number<uint16_t>();
        p.ip_length = f.number<uint16_t>();
        p.t_a_ns = f.number<int64_t>();
        p.t_b_ns = f.number<int64_t>();
        return p;
    });
}

}  // namespace flowcorder::latency
