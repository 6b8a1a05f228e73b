#include "workload/tcp_info.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <cstddef>
#include <cstring>

namespace fc::workload {

// 6.18's size; a mismatch means the mirror above lost a field.
static_assert(sizeof(KernelTcpInfo) == 280, "struct tcp_info layout of Linux 6.18");

std::optional<TcpInfoSnapshot> read_tcp_info(int fd) {
    TcpInfoSnapshot s;
    socklen_t len = sizeof(s.info);
    if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &s.info, &len) != 0) return std::nullopt;
    s.length = len;
    return s;
}

const std::vector<TcpInfoField>& truth_fields() {
#define FC_FIELD(name) \
    TcpInfoField { #name, offsetof(KernelTcpInfo, tcpi_##name), sizeof(KernelTcpInfo::tcpi_##name) }
    static const std::vector<TcpInfoField> fields{
        // The fields FORMATS.md promises, then extras that help explain them.
        FC_FIELD(state), FC_FIELD(total_retrans), FC_FIELD(lost), FC_FIELD(rtt), FC_FIELD(rttvar),
        FC_FIELD(min_rtt), FC_FIELD(bytes_acked), FC_FIELD(bytes_received), FC_FIELD(bytes_sent),
        FC_FIELD(bytes_retrans), FC_FIELD(segs_out), FC_FIELD(segs_in), FC_FIELD(data_segs_out),
        FC_FIELD(data_segs_in), FC_FIELD(dsack_dups), FC_FIELD(reord_seen), FC_FIELD(rcv_ooopack),
        FC_FIELD(total_rto), FC_FIELD(total_rto_recoveries), FC_FIELD(total_rto_time),
        FC_FIELD(retransmits), FC_FIELD(backoff), FC_FIELD(snd_mss), FC_FIELD(delivered),
        // extras
        FC_FIELD(ca_state), FC_FIELD(probes), FC_FIELD(rto), FC_FIELD(rcv_mss), FC_FIELD(unacked),
        FC_FIELD(sacked), FC_FIELD(retrans), FC_FIELD(pmtu), FC_FIELD(snd_cwnd),
        FC_FIELD(snd_ssthresh), FC_FIELD(reordering), FC_FIELD(rcv_rtt), FC_FIELD(delivery_rate),
        FC_FIELD(busy_time), FC_FIELD(rwnd_limited), FC_FIELD(sndbuf_limited),
        FC_FIELD(delivered_ce), FC_FIELD(notsent_bytes), FC_FIELD(snd_wnd), FC_FIELD(rcv_wnd),
        FC_FIELD(rehash), FC_FIELD(received_ce)};
#undef FC_FIELD
    return fields;
}

nlohmann::json to_json(const TcpInfoSnapshot& s) {
    nlohmann::json j = nlohmann::json::object();
    const auto* base = reinterpret_cast<const unsigned char*>(&s.info);
    for (const auto& f : truth_fields()) {
        if (f.offset + f.size > s.length) continue;  // this kernel does not have it
        uint64_t v = 0;
        switch (f.size) {
            case 1:
                v = base[f.offset];
                break;
            case 2: {
                uint16_t x;
                std::memcpy(&x, base + f.offset, 2);
                v = x;
                break;
            }
            case 4: {
                uint32_t x;
                std::memcpy(&x, base + f.offset, 4);
                v = x;
                break;
            }
            default:
                std::memcpy(&v, base + f.offset, 8);
        }
        j[std::string(f.name)] = v;
    }
    return j;
}

}  // namespace fc::workload
