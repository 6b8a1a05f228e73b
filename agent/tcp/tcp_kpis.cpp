#include "tcp_kpis.hpp"

#include <arpa/inet.h>

#include <cstring>

#include "core/profile.hpp"

namespace fc::tcp {

using ipfix::FieldKey;

void fill_kpis(const fc_tcp_snapshot& a, const fc_tcp_snapshot& b, bool opening_window,
               ipfix::Record& r) {
    r.set(FieldKey::BYTES_ACKED, delta64(a.bytes_acked, b.bytes_acked));
    r.set(FieldKey::BYTES_RECEIVED, delta64(a.bytes_received, b.bytes_received));
    r.set(FieldKey::BYTES_SENT, delta64(a.bytes_sent, b.bytes_sent));
    r.set(FieldKey::BYTES_RETRANS, delta64(a.bytes_retrans, b.bytes_retrans));
    r.set(FieldKey::SEGS_OUT, delta32(a.segs_out, b.segs_out));
    r.set(FieldKey::SEGS_IN, delta32(a.segs_in, b.segs_in));
    r.set(FieldKey::DATA_SEGS_OUT, delta32(a.data_segs_out, b.data_segs_out));
    r.set(FieldKey::DATA_SEGS_IN, delta32(a.data_segs_in, b.data_segs_in));
    const uint64_t retrans = delta32(a.total_retrans, b.total_retrans);
    r.set(FieldKey::RETRANS_SEGS, retrans);
    r.set(FieldKey::SYN_RETRANS, opening_window ? retrans : 0);
    r.set(FieldKey::LOST_SEGS, delta32(a.lost, b.lost));
    r.set(FieldKey::LOST_OUT_END, b.lost_out);

    const MeanVar rtt = window_mean_var(delta64(a.anc.rtt_samples, b.anc.rtt_samples),
                                        delta64(a.anc.rtt_sum_us, b.anc.rtt_sum_us),
                                        delta64(a.anc.rtt_sumsq_us2, b.anc.rtt_sumsq_us2));
    r.set(FieldKey::RTT_SAMPLES, rtt.samples);
    r.set(FieldKey::RTT_MEAN_US, rtt.mean);
    r.set(FieldKey::RTT_VAR_US2, rtt.variance);
    r.set(FieldKey::SRTT_US_END, b.srtt_us);
    r.set(FieldKey::RTTVAR_US_END, b.rttvar_us);
    r.set(FieldKey::MIN_RTT_US_END, b.min_rtt_us == ~0u ? 0 : b.min_rtt_us);

    r.set(FieldKey::DUP_SEGS_IN, delta64(a.anc.dup_segs_in, b.anc.dup_segs_in));
    r.set(FieldKey::OOO_SEGS_IN, delta32(a.rcv_ooopack, b.rcv_ooopack));
    const MeanVar ooo = window_mean_var(delta64(a.anc.ooo_samples, b.anc.ooo_samples),
                                        delta64(a.anc.ooo_dist_sum, b.anc.ooo_dist_sum),
                                        delta64(a.anc.ooo_dist_sumsq, b.anc.ooo_dist_sumsq));
    r.set(FieldKey::OOO_DIST_SAMPLES, ooo.samples);
    r.set(FieldKey::OOO_DIST_MEAN, ooo.mean);
    r.set(FieldKey::OOO_DIST_VAR, ooo.variance);
    r.set(FieldKey::RTO_STALLS, delta64(a.anc.rto_count, b.anc.rto_count));
    r.set(FieldKey::DSACK_DUPS, delta32(a.dsack_dups, b.dsack_dups));
    r.set(FieldKey::REORD_SEEN, delta32(a.reord_seen, b.reord_seen));
}

namespace {
// ::ffff:a.b.c.d, what a dual-stack socket shows for an IPv4 peer.
bool v4_mapped(const uint8_t* a) {
    static constexpr uint8_t prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    return std::memcmp(a, prefix, sizeof(prefix)) == 0;
}
}  // namespace

void fill_identity(const fc_conn_key& key, uint64_t conn_id, uint8_t role, ipfix::Record& r,
                   ipfix::TemplateKey v4, ipfix::TemplateKey v6) {
    // IPv4 connections on IPv6 sockets are reported as the IPv4 they are.
    const bool mapped = key.family == FC_AF_INET6 && v4_mapped(key.saddr) && v4_mapped(key.daddr);
    if (key.family == FC_AF_INET6 && !mapped) {
        r.tmpl = v6;
        std::memcpy(r.src_v6.data(), key.saddr, 16);
        std::memcpy(r.dst_v6.data(), key.daddr, 16);
    } else {
        r.tmpl = v4;
        const size_t off = mapped ? 12 : 0;
        uint32_t s = 0, d = 0;
        std::memcpy(&s, key.saddr + off, 4);
        std::memcpy(&d, key.daddr + off, 4);
        r.set(FieldKey::SRC_V4, ntohl(s));
        r.set(FieldKey::DST_V4, ntohl(d));
    }
    r.set(FieldKey::SRC_PORT, key.sport);
    r.set(FieldKey::DST_PORT, key.dport);
    r.set(FieldKey::PROTOCOL, 6);
    r.set(FieldKey::FLOW_ID, conn_id);
    r.set(FieldKey::NETNS_INODE, key.netns_ino);
    r.set(FieldKey::ROLE, role);
}

void fill_subflow(const fc_mptcp_mark& mp, ipfix::Record& r) {
    r.set(FieldKey::MPTCP_CONN_ID, mp.conn_id);
    r.set(FieldKey::MPTCP_TOKEN, mp.token);
    r.set(FieldKey::MPTCP_SUBFLOW, mp.kind);
}

}  // namespace fc::tcp
