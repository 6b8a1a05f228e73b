// Our own TCP analysis of one libpcap capture (FORMATS.md, "Capture
// analysis"): per connection and direction, what the packets on the wire say
// about retransmissions, duplicates, reordering and RTT. Independent of the
// agent on purpose: it is one of the truths the agent is checked against.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace fc::capture {

class CaptureError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

// Mean / variance / min / max without keeping the samples (Welford).
struct RunningStats {
    uint64_t samples = 0;
    double mean = 0, m2 = 0, min = 0, max = 0;
    void add(double x);
    double variance() const { return samples > 1 ? m2 / double(samples) : 0.0; }
};

struct DirectionStats {
    uint64_t packets = 0, data_segs = 0, data_bytes = 0;
    uint64_t retrans_segs = 0, retrans_bytes = 0;
    uint64_t dup_segs = 0, ooo_segs = 0;
    RunningStats ooo_dist;  // bytes
    // Receiver view: data segments its PAWS check (RFC 7323) drops, and data
    // segments arriving once its socket is gone (TIME_WAIT or CLOSE). Neither
    // advances the emulated rcv_nxt nor counts as out of order.
    uint64_t paws_drops = 0, after_close = 0;
    uint64_t fin = 0, rst = 0;
    // The first reset of d if its receiver still had a socket then (not in
    // TIME_WAIT or CLOSE, as receiver_gone() emulates): one that ended a
    // connection, even one whose FINs had crossed (a FIN never acknowledged).
    uint64_t rst_live = 0;
    uint64_t fin_retrans = 0;  // FIN-only segments resending a FIN already sent
    // Every resend (data or bare FIN) at its capture stamp, and whether it
    // resent the highest sequence sent so far: a tail loss probe's shape,
    // the one resend a sender makes outside Recovery and Loss. The
    // validator holds them against the agent's DEGRADED windows.
    struct Resend {
        int64_t ts_ns;
        bool tail;
    };
    std::vector<Resend> resends;
    RunningStats rtt_us;
    // Each RTT sample's (segment, ACK) timestamps; kept only on request (tests, plots).
    std::vector<std::pair<int64_t, int64_t>> rtt_pairs;
    // The kernel's once-per-round RTT sampling (tcp_rtt_estimator's rtt_seq)
    // emulated at this end: the handshake, then the first ACK passing rtt_seq.
    RunningStats rtt_rounds_us;
    uint64_t rtt_rounds_skipped_retrans = 0;  // rounds whose ACK newly acked resent data
    // The first round's sample (the handshake's), if it was timed: a passive
    // opener's agent cannot see that one, so the validator takes it out.
    std::optional<double> rtt_rounds_first_us;
    // The kernel processes an ACK when it gets the socket, maybe later than
    // the capture saw it, so its rounds are any of several sequences
    // (RoundBound): [k - 1] is the smallest sum of k samples any gives, and
    // the size the most samples any gives. Rounds a passive opener's agent
    // cannot see (the handshake's) are left out.
    std::vector<double> rtt_round_min_sums_us;
};

struct Connection {
    int family = 4;  // 4 or 6
    std::string client, server;
    uint16_t cport = 0, sport = 0;
    int64_t first_ns = 0, last_ns = 0;
    uint64_t syn = 0, synack = 0;
    std::optional<int64_t> handshake_ns;
    // The first SYN's MPTCP option (TCP option 30): "capable" (MP_CAPABLE, a
    // connection's initial subflow), "join" (MP_JOIN, an added subflow) or
    // none; for a join, the receiver's token the SYN names.
    std::optional<std::string> mptcp;
    std::optional<uint32_t> mptcp_join_token;
    DirectionStats c2s, s2c;
};

// One DNS query over UDP port 53 as seen at the capture point, identified by
// (client address, client port, server address, server port, DNS id) and its
// question; every copy of it counts as an attempt (FORMATS.md, "dns").
struct DnsQuery {
    int family = 4;
    std::string client, server;
    uint16_t client_port = 0, server_port = 0;
    uint16_t id = 0;
    std::optional<std::string> qname;  // null if not captured whole
    std::optional<uint16_t> qtype;
    uint64_t attempts = 0;  // copies of the query (0: a reply whose query was not seen)
    uint64_t replies = 0;   // copies of the reply
    std::optional<int64_t> t_first_query_ns, t_last_query_ns;
    // The last copy sent before the first reply: what the reply answered.
    std::optional<int64_t> t_last_query_before_reply_ns;
    std::optional<uint32_t> query_size;  // DNS message bytes (UDP payload) of the first copy
    // Of the first reply; null when none was captured.
    std::optional<int64_t> t_reply_ns;
    std::optional<uint32_t> reply_size;
    std::optional<uint8_t> rcode;
    std::optional<uint16_t> answers;  // ANCOUNT
};

struct Analysis {
    std::string capture;       // --name, or the file name
    uint64_t packets = 0;      // all records in the file
    uint64_t tcp_packets = 0;  // of which parsed as TCP (not counted: truncated, fragments, other)
    // TCP segments the receiving host drops on a bad IPv4 header or TCP
    // checksum (corrupted on the path): left out of every connection and of
    // tcp_packets. Unverified: the TCP checksum could not be recomputed
    // (headers-only capture, or the sender's checksum offload).
    uint64_t tcp_bad_csum = 0, tcp_csum_unverified = 0;
    uint64_t dns_packets = 0;             // of which parsed as DNS over UDP port 53
    std::optional<uint64_t> pcap_drops;   // unknown when no sidecar and no --drops
    std::vector<Connection> connections;  // in order of their first packet
    std::vector<DnsQuery> dns;            // in order of their first packet
};

// Reads a pcap/pcapng file (Ethernet, Linux cooked v1/v2, raw IP) with
// nanosecond timestamps and analyses every TCP connection and DNS query in it.
Analysis analyse_pcap(const std::string& path, bool keep_rtt_pairs = false);

nlohmann::ordered_json to_json(const Analysis& a);

// The capture's sidecar written by `flowcorder capture`: FILE.pcap -> FILE.pcap.stats.json.
std::string stats_sidecar_path(const std::string& pcap_path);

}  // namespace fc::capture
