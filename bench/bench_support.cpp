#include "bench_support.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>

#include "core/clock.hpp"
#include "core/sink.hpp"
#include "ipfix/codec.hpp"
#include "ipfix/exporter.hpp"
#include "ipfix/wire.hpp"
#include "tcp/tcp_profiler.hpp"

namespace fc::bench {

namespace {

constexpr uint8_t kFinWait2 = 5;

fc_tcp_event base_event(uint64_t id, uint32_t seq, fc_tcp_event_type type, uint64_t ts) {
    fc_tcp_event e{};
    e.conn_id = id;
    e.seq = seq;
    e.type = static_cast<uint8_t>(type);
    e.ts_ns = ts;
    e.role = 1;
    e.skaddr = 0xffff888000000000ull + id * 2048;
    return e;
}

// Cumulative counters of a bulk sender `frac` of the way through its life.
fc_tcp_snapshot snapshot(uint32_t index, double frac, uint32_t losses) {
    fc_tcp_snapshot s{};
    const uint64_t total = 2'000'000 + uint64_t{index % 97} * 10'000;
    const auto bytes = static_cast<uint64_t>(static_cast<double>(total) * frac);
    const uint32_t segs = static_cast<uint32_t>(bytes / 1448);
    s.bytes_acked = bytes;
    s.bytes_sent = bytes + uint64_t{losses} * 1448;
    s.bytes_received = 120 + static_cast<uint64_t>(frac * 400);
    s.bytes_retrans = uint64_t{losses} * 1448;
    s.segs_out = segs + losses + 2;
    s.segs_in = segs / 2 + 2;
    s.data_segs_out = segs + losses;
    s.data_segs_in = 1;
    s.total_retrans = losses;
    s.lost = losses;
    s.srtt_us = 10'000 + index % 1000;
    s.rttvar_us = 1'000 + index % 100;
    s.min_rtt_us = 9'800;
    s.anc.rtt_samples = segs / 20 + 1;
    s.anc.rtt_sum_us = s.anc.rtt_samples * 10'050;
    s.anc.rtt_sumsq_us2 = s.anc.rtt_samples * 10'050ull * 10'050ull + s.anc.rtt_samples * 250'000;
    s.anc.rto_count = losses > 3 ? 1 : 0;
    return s;
}

int udp_socket_or_throw() {
    const int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
    return fd;
}

}  // namespace

Life connection_life(uint64_t conn_id, uint64_t t0, uint32_t index) {
    Life l;
    l[0] = base_event(conn_id, 1, FC_EV_OPEN_ACTIVE, t0);
    fc_conn_key& k = l[0].key;
    k.netns_ino = 4026531840u;
    k.sport = static_cast<uint16_t>(32768 + index % 28000);
    k.dport = 443;
    if (index % 4 == 3) {
        k.family = FC_AF_INET6;
        const uint8_t s6[16] = {0xfd, 0, 0, 0xfc, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};
        std::memcpy(k.saddr, s6, 16);
        std::memcpy(k.daddr, s6, 16);
        k.daddr[14] = static_cast<uint8_t>(index >> 8);
        k.daddr[15] = static_cast<uint8_t>(index);
    } else {
        k.family = FC_AF_INET;
        const uint32_t s = htonl(0xC6120002u), d = htonl(0xC6130000u + (index & 0xffff));
        std::memcpy(k.saddr, &s, 4);
        std::memcpy(k.daddr, &d, 4);
    }
    l[0].snap = snapshot(index, 0, 0);
    l[1] = base_event(conn_id, 2, FC_EV_ESTABLISHED, t0 + 10'000'000);
    l[1].snap = snapshot(index, 0.001, 0);
    l[2] = base_event(conn_id, 3, FC_EV_LOSSY_ENTER, t0 + 400'000'000);
    l[2].snap = snapshot(index, 0.4, 1);
    l[2].ca_state = 3;  // TCP_CA_Recovery
    l[3] = base_event(conn_id, 4, FC_EV_LOSSY_EXIT, t0 + 420'000'000);
    l[3].snap = snapshot(index, 0.41, 3);
    l[4] = base_event(conn_id, 5, FC_EV_CLOSE, t0 + 1'000'000'000);
    l[4].snap = snapshot(index, 1.0, 3);
    l[4].old_state = kFinWait2;
    return l;
}

void retarget(Life& life, uint64_t conn_id, uint64_t t0) {
    const uint64_t old_t0 = life[0].ts_ns;
    for (fc_tcp_event& e : life) {
        e.conn_id = conn_id;
        e.skaddr = 0xffff888000000000ull + conn_id * 2048;
        e.ts_ns = e.ts_ns - old_t0 + t0;
    }
}

std::vector<ipfix::Record> profile_records(size_t n) {
    WallClock clock;
    VectorSink sink;
    tcp::TcpProfiler prof(clock, sink);
    const uint64_t t0 = WallClock::mono_now_ns();
    for (uint32_t i = 0; sink.records.size() < n; ++i)
        for (const fc_tcp_event& e : connection_life(i + 1, t0 + uint64_t{i} * 1'000'000, i))
            prof.on_event(e);
    sink.records.resize(n);
    return std::move(sink.records);
}

bool is_preamble(const uint8_t* m, size_t len) {
    for (size_t off = ipfix::kMessageHeaderLen; off + ipfix::kSetHeaderLen <= len;) {
        const uint16_t id = ipfix::rd16(m + off), slen = ipfix::rd16(m + off + 2);
        if (slen < ipfix::kSetHeaderLen) return false;
        if (id < ipfix::kMinDataSetId || id == ipfix::kTypeInfoTemplateId) return true;
        off += slen;
    }
    return false;
}

size_t count_profile_records(const uint8_t* m, size_t len) {
    if (len < ipfix::kMessageHeaderLen || ipfix::rd16(m + 2) != len) return SIZE_MAX;
    size_t n = 0;
    for (size_t off = ipfix::kMessageHeaderLen; off < len;) {
        if (len - off < ipfix::kSetHeaderLen) return SIZE_MAX;
        const uint16_t id = ipfix::rd16(m + off), slen = ipfix::rd16(m + off + 2);
        if (slen < ipfix::kSetHeaderLen || slen > len - off) return SIZE_MAX;
        const ipfix::TemplateDef* t = nullptr;
        for (const ipfix::TemplateDef& d : ipfix::kTemplates)
            if (d.id == id) t = &d;
        if (t) n += (slen - ipfix::kSetHeaderLen) / ipfix::record_size(t->key);
        off += slen;
    }
    return n;
}

IpfixStream capture_stream(const std::vector<ipfix::Record>& recs) {
    const int rx = udp_socket_or_throw();
    int big = 16 << 20;
    setsockopt(rx, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t alen = sizeof a;
    if (bind(rx, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        getsockname(rx, reinterpret_cast<sockaddr*>(&a), &alen) != 0) {
        close(rx);
        throw std::runtime_error(std::string("bind: ") + std::strerror(errno));
    }
    IpfixStream s;
    std::vector<uint32_t> seqs;
    {
        ipfix::ExporterConfig cfg;
        cfg.url = "udp://127.0.0.1:" + std::to_string(ntohs(a.sin_port));
        cfg.template_refresh = std::chrono::hours(24);
        cfg.backlog_limit = recs.size() + 1;
        ipfix::Exporter ex(cfg);
        std::vector<uint8_t> buf(65536);
        auto drain = [&] {
            for (;;) {
                const ssize_t n = recv(rx, buf.data(), buf.size(), MSG_DONTWAIT);
                if (n <= 0) return;
                const uint8_t* m = buf.data();
                std::vector<uint8_t> msg(m, m + n);
                if (is_preamble(m, static_cast<size_t>(n))) {
                    if (!s.data.empty())
                        throw std::runtime_error("capture: templates after data (refresh?)");
                    s.preamble.push_back(std::move(msg));
                    continue;
                }
                const size_t k = count_profile_records(m, static_cast<size_t>(n));
                if (k == SIZE_MAX || k == 0)
                    throw std::runtime_error("capture: unexpected message from the exporter");
                seqs.push_back(ipfix::read_header(m).sequence);
                s.data_records.push_back(static_cast<uint32_t>(k));
                s.total_data_records += k;
                s.data.push_back(std::move(msg));
            }
        };
        for (size_t i = 0; i < recs.size(); i += 1000) {
            for (size_t j = i; j < std::min(recs.size(), i + 1000); ++j) ex.submit(recs[j]);
            ex.flush();
            drain();
        }
        const ipfix::ExporterStats st = ex.stats();
        drain();
        if (st.records_sent != recs.size() || st.records_dropped != 0)
            throw std::runtime_error("capture: exporter sent " + std::to_string(st.records_sent) +
                                     " of " + std::to_string(recs.size()) + " records");
    }
    close(rx);
    if (s.total_data_records != recs.size() || s.preamble.empty())
        throw std::runtime_error("capture: captured " + std::to_string(s.total_data_records) +
                                 " of " + std::to_string(recs.size()) + " records");
    for (size_t j = 0; j + 1 < seqs.size(); ++j)
        if (seqs[j + 1] - seqs[j] != s.data_records[j])
            throw std::runtime_error("capture: sequence numbers do not match record counts");
    return s;
}

uint32_t first_data_sequence(const IpfixStream& s) {
    return s.data.empty() ? 0 : ipfix::read_header(s.data.front().data()).sequence;
}

Replay::Replay(const IpfixStream& s) : s_(s), seq_(first_data_sequence(s)) {
    if (s.data.empty()) throw std::invalid_argument("Replay: empty stream");
}

void Replay::next_parts(uint8_t hdr[16], const uint8_t*& body, size_t& body_len,
                        uint32_t& records) {
    const std::vector<uint8_t>& m = s_.data[i_];
    std::memcpy(hdr, m.data(), ipfix::kMessageHeaderLen);
    hdr[8] = static_cast<uint8_t>(seq_ >> 24);
    hdr[9] = static_cast<uint8_t>(seq_ >> 16);
    hdr[10] = static_cast<uint8_t>(seq_ >> 8);
    hdr[11] = static_cast<uint8_t>(seq_);
    body = m.data() + ipfix::kMessageHeaderLen;
    body_len = m.size() - ipfix::kMessageHeaderLen;
    records = s_.data_records[i_];
    seq_ += records;
    sent_ += records;
    i_ = (i_ + 1) % s_.data.size();
}

const std::vector<uint8_t>& Replay::next(uint32_t& records) {
    uint8_t hdr[ipfix::kMessageHeaderLen];
    const uint8_t* body = nullptr;
    size_t len = 0;
    next_parts(hdr, body, len, records);
    buf_.assign(hdr, hdr + sizeof hdr);
    buf_.insert(buf_.end(), body, body + len);
    return buf_;
}

}  // namespace fc::bench
