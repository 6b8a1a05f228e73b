#include "log.hpp"

#include <arpa/inet.h>

#include <cstring>
#include <fstream>
#include <stdexcept>

#include "model.hpp"

namespace fc::impair {
namespace {

uint16_t be16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
uint32_t be32(const uint8_t* p) {
    return uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | p[3];
}

void parse_l4(const uint8_t* p, uint32_t avail, uint32_t l4_len, LogRecord& r) {
    if (r.proto == IPPROTO_TCP && avail >= 20) {
        r.sport = be16(p);
        r.dport = be16(p + 2);
        r.tcp_seq = be32(p + 4);
        r.tcp_ack = be32(p + 8);
        const uint32_t doff = (p[12] >> 4) * 4u;
        r.tcp_flags = p[13];
        r.payload_len = static_cast<uint16_t>(l4_len > doff ? l4_len - doff : 0);
    } else if (r.proto == IPPROTO_UDP && avail >= 8) {
        r.sport = be16(p);
        r.dport = be16(p + 2);
        const uint32_t ulen = be16(p + 4);
        r.payload_len = static_cast<uint16_t>(ulen >= 8 ? ulen - 8 : 0);
        if ((r.sport == 53 || r.dport == 53) && avail >= 10) {
            r.has_dns_id = 1;
            r.dns_id = be16(p + 8);
        }
    }
}

}  // namespace

bool lost_to_corruption(const LogRecord& r) {
    if (!(r.flags & flag_corrupted)) return false;
    if (r.ip_version != 6) return true;
    const uint32_t b = r.corrupt_bit;
    return !((b >= 4 && b < 32) || (b >= 56 && b < 64));
}

uint32_t parse_frame(const uint8_t* f, uint32_t len, LogRecord& r) {
    r.frame_len = static_cast<uint16_t>(len);
    if (len < 14) return len;
    uint32_t off = 12;
    uint16_t et = be16(f + off);
    if ((et == 0x8100 || et == 0x88a8) && len >= 18) {
        off += 4;
        et = be16(f + off);
    }
    off += 2;
    r.ethertype = et;
    const uint8_t* ip = f + off;
    const uint32_t avail = len - off;
    if (et == 0x0800 && avail >= 20 && (ip[0] >> 4) == 4) {
        r.ip_version = 4;
        const uint32_t ihl = (ip[0] & 0xf) * 4u;
        const uint32_t tot = be16(ip + 2);
        r.proto = ip[9];
        std::memcpy(r.src, ip + 12, 4);
        std::memcpy(r.dst, ip + 16, 4);
        const bool first_fragment = (be16(ip + 6) & 0x1fff) == 0;
        if (first_fragment && ihl >= 20 && avail > ihl && tot > ihl)
            parse_l4(ip + ihl, avail - ihl, tot - ihl, r);
    } else if (et == 0x86dd && avail >= 40 && (ip[0] >> 4) == 6) {
        r.ip_version = 6;
        r.proto = ip[6];
        std::memcpy(r.src, ip + 8, 16);
        std::memcpy(r.dst, ip + 24, 16);
        parse_l4(ip + 40, avail - 40, be16(ip + 4), r);
    }
    return off;
}

LogWriter::~LogWriter() { close(); }

void LogWriter::open(const std::string& path, uint64_t seed, uint64_t start_ns,
                     const std::string& name) {
    f_ = std::fopen(path.c_str(), "wb");
    if (!f_) throw std::runtime_error("cannot write log " + path + ": " + std::strerror(errno));
    std::setvbuf(f_, nullptr, _IOFBF, 1 << 20);
    LogHeader h{};
    std::memcpy(h.magic, "FCIMPLG1", 8);
    h.version = 1;
    h.record_size = sizeof(LogRecord);
    h.seed = seed;
    h.start_realtime_ns = start_ns;
    std::strncpy(h.name, name.c_str(), sizeof(h.name) - 1);
    std::fwrite(&h, sizeof h, 1, f_);
}

void LogWriter::write(const LogRecord* recs, size_t n) {
    std::lock_guard lk(mu_);
    if (f_) std::fwrite(recs, sizeof(LogRecord), n, f_);
}

void LogWriter::close() {
    std::lock_guard lk(mu_);
    if (f_) std::fclose(f_);
    f_ = nullptr;
}

LogFile read_log(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("cannot read " + path);
    LogFile lf{};
    if (!in.read(reinterpret_cast<char*>(&lf.header), sizeof lf.header) ||
        std::memcmp(lf.header.magic, "FCIMPLG1", 8) != 0)
        throw std::runtime_error(path + " is not an impairment log (bad header)");
    if (lf.header.record_size != sizeof(LogRecord))
        throw std::runtime_error(path + ": record size " + std::to_string(lf.header.record_size) +
                                 ", expected " + std::to_string(sizeof(LogRecord)));
    LogRecord r;
    while (in.read(reinterpret_cast<char*>(&r), sizeof r)) lf.records.push_back(r);
    return lf;
}

void write_csv(const LogFile& log, std::FILE* out) {
    std::fprintf(out,
                 "t_in_ns,t_out_ns,delay_ns,dir,seq,action,reason,duplicate,reordered,corrupted,"
                 "loss_cancelled,rate_queued,count,frame_len,ip_version,proto,src,dst,sport,dport,"
                 "tcp_seq,tcp_ack,tcp_flags,payload_len,dns_id,corrupt_bit\n");
    for (const auto& r : log.records) {
        char src[INET6_ADDRSTRLEN] = "", dst[INET6_ADDRSTRLEN] = "";
        if (r.ip_version == 4) {
            inet_ntop(AF_INET, r.src, src, sizeof src);
            inet_ntop(AF_INET, r.dst, dst, sizeof dst);
        } else if (r.ip_version == 6) {
            inet_ntop(AF_INET6, r.src, src, sizeof src);
            inet_ntop(AF_INET6, r.dst, dst, sizeof dst);
        }
        std::string dns = r.has_dns_id ? std::to_string(r.dns_id) : "";
        std::fprintf(
            out,
            "%llu,%llu,%lld,%s,%llu,%s,%s,%d,%d,%d,%d,%d,%u,%u,%u,%u,%s,%s,%u,%u,%u,%u,"
            "0x%02x,%u,%s,%u\n",
            static_cast<unsigned long long>(r.t_in_ns), static_cast<unsigned long long>(r.t_out_ns),
            static_cast<long long>(r.delay_ns), r.dir == 0 ? "ab" : "ba",
            static_cast<unsigned long long>(r.seq), r.action == 0 ? "forwarded" : "dropped",
            reason_name(static_cast<Reason>(r.reason)), !!(r.flags & flag_duplicate),
            !!(r.flags & flag_reordered), !!(r.flags & flag_corrupted),
            !!(r.flags & flag_loss_cancelled), !!(r.flags & flag_rate_queued), r.count, r.frame_len,
            r.ip_version, r.proto, src, dst, r.sport, r.dport, r.tcp_seq, r.tcp_ack, r.tcp_flags,
            r.payload_len, dns.c_str(), r.corrupt_bit);
    }
}

}  // namespace fc::impair
