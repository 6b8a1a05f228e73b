// The validator's readers: one function per input file of FORMATS.md. Each
// throws InputError naming the file and the field when the input is unusable.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "ipfix/registry.hpp"
#include "validate/validate.hpp"

namespace fc::validate {

struct HostInfo {
    std::string name;
    bool agent = false;
    int64_t observation_domain = -1;
};

struct LinkInfo {
    std::string name, a, b;
    bool impaired = false;
    std::string log;  // relative to the repetition directory; may be empty
    std::map<std::string, std::string> captures;  // "a"/"b" -> path stem
    // The addresses of each end (normalised, prefix length dropped); empty
    // in manifests from before they were recorded.
    std::vector<std::string> a_addr, b_addr;
};

struct Manifest {
    std::string path;  // of manifest.json
    std::string dir;   // the repetition directory
    std::string experiment;
    int repetition = 0;
    int64_t t_start_ns = 0, t_end_ns = 0;
    std::vector<HostInfo> hosts;
    std::vector<LinkInfo> links;
    std::vector<std::string> truth_files;                         // relative to dir
    std::vector<std::string> dns_client_truth, dns_server_truth;  // workloads[].dns_truth
    std::vector<std::string> mptcp_truth;                         // workloads[].mptcp_truth
    std::map<std::string, std::string> mptcp_monitor;             // host -> path (mptcp_monitor)
    std::map<std::string, std::string> workload_types;            // workload name -> type
    std::map<std::string, Tolerance> tolerances;  // key "kpi" or "kpi/source"; unset fields NaN
    std::map<std::string, std::string> skips;     // declared skips: "source" or "kpi/source" -> why
    const HostInfo* host(const std::string& name) const;
};

struct TruthConn {
    std::string file;
    std::string host, workload, role;
    int64_t conn = 0;
    std::string local, remote;
    int64_t lport = 0, rport = 0;
    int64_t t_start_ns = 0, t_end_ns = 0;
    // When connect() (or accept()) returned an established connection.
    std::optional<int64_t> t_connected_ns;
    std::string outcome, closed_by;
    bool tcp_info_at_close = false;
    // false: t_start_ns only brackets the connection from before, it is not
    // the connect() call (the http workload's client side).
    bool t_start_connect = true;
    std::optional<std::map<std::string, double>> tcp_info;
};

struct Profile {
    int64_t observation_domain = 0, flow_id = 0, profile_seq = 0;
    std::string src, dst;
    int64_t sport = 0, dport = 0, protocol = 0, role = 0;
    int64_t window_start_ns = 0, window_end_ns = 0;
    int64_t start_state = 0, end_state = 0, close_cause = 0;
    std::map<std::string, double> kpi;  // every KPI column present in the table
    std::set<std::string> null_kpis;    // KPI columns present but NULL in this row
};

// All profiles of one (observation_domain, flow_id), sorted by profile_seq.
struct AgentConn {
    int64_t observation_domain = 0, flow_id = 0;
    std::vector<Profile> profiles;
    std::string key() const;
};

struct DirStats {
    double data_segs = 0, retrans_segs = 0, dup_segs = 0, ooo_segs = 0;
    double ooo_dist_samples = 0, ooo_dist_mean = 0;
    double fin = 0, rst = 0, fin_retrans = 0;
    std::optional<double> rst_live;  // absent in captures analysed before it existed
    std::optional<double> packets;   // every segment, control ones included
    double rtt_samples = 0, rtt_mean_us = 0;
    // The kernel's once-per-round RTT sampling, from the capture (absent in
    // captures analysed before it existed). [k - 1]: the smallest sum (us) of k samples the
    // kernel's rounds can give; the size: the most samples they can give (capture/round_bound.hpp).
    std::optional<std::vector<double>> rounds_min_sum_us;
    // Each resend's capture stamp and whether it resent the tail (absent in
    // captures analysed before it existed).
    struct Resend {
        int64_t ts_ns = 0;
        bool tail = false;
    };
    std::optional<std::vector<Resend>> resends;
};

struct CaptureConn {
    std::string client, server;
    int64_t cport = 0, sport = 0;
    int64_t first_ns = 0, last_ns = 0;
    double syn = 0, synack = 0;
    std::optional<double> handshake_ns;
    DirStats c2s, s2c;
    std::string mptcp;             // the SYN's option: "capable", "join" or ""
    int64_t mptcp_join_token = 0;  // an MP_JOIN SYN's receiver token
};

// One DNS query as the capture saw it: its copies and its reply.
struct CaptureDnsQuery {
    std::string client, server;
    int64_t client_port = 0, server_port = 0, id = 0;
    std::string qname;
    int64_t qtype = 0, attempts = 0;
    int64_t t_first_ns = 0, t_last_ns = 0;
    std::optional<int64_t> t_last_before_reply_ns;
    std::optional<int64_t> t_reply_ns;
    int64_t query_size = 0;
    std::optional<int64_t> reply_size, rcode, answers;
};

struct Capture {
    std::string path;
    int64_t pcap_drops = 0;
    std::vector<CaptureConn> connections;
    std::vector<CaptureDnsQuery> dns;  // absent in older analyses: empty
};

// One getaddrinfo() call as the workload's lookup tool timed it
// (truth/<host>-<workload>-dns.jsonl).
struct DnsLookupTruth {
    std::string file;
    std::string host, workload, name, family, outcome;
    int64_t lookup = 0, pid = 0, rc = 0;
    int64_t t_start_ns = 0, t_end_ns = 0;
    int64_t v4 = 0, v6 = 0;  // distinct addresses returned
};

// One query the DNS server logged (truth/<host>-<workload>-dnsmasq.jsonl).
struct DnsServerQuery {
    std::string client, qtype, name;
    int64_t client_port = 0;
    std::optional<int64_t> t_s;  // the log line's second (dnsmasq logs whole seconds)
};

// One side of an MPTCP connection as the workload saw it just before close
// (MPTCP_FULL_INFO; truth/<host>-<workload>-<role>-mptcp.jsonl).
struct MptcpSubflowTruth {
    std::string local, remote;
    int64_t lport = 0, rport = 0;
    // false: the kernel had released the subflow before the final read; its
    // tcp_info is the last live snapshot and may lag the end.
    bool final = true;
    std::map<std::string, double> tcp_info;
};
struct MptcpTruth {
    std::string file, host, workload, role, outcome;
    int64_t conn = 0;
    std::string local, remote;
    int64_t lport = 0, rport = 0;
    int64_t t_start_ns = 0, t_end_ns = 0;
    int64_t token = 0;
    bool fallback = false;
    std::map<std::string, double> info;  // struct mptcp_info by field name
    std::vector<MptcpSubflowTruth> subflows;
};

// One event of `ip mptcp monitor` (truth/<host>-mptcp-monitor.jsonl).
struct MptcpEvent {
    int64_t t_ns = 0;
    std::string event;
    int64_t token = 0;
    // The subflow an SF_* event is about, as this host sees it ("" / 0 else).
    std::string saddr, daddr;
    int64_t sport = 0, dport = 0;
};

// A DNS profile (the lookup template or a query template): one row each.
struct DnsProfile {
    int64_t observation_domain = 0, flow_id = 0, template_id = 0;
    std::string src, dst, name;
    int64_t sport = 0, dport = 0, pid = 0, lookup_id = 0;
    int64_t window_start_ns = 0, window_end_ns = 0;
    int64_t start_state = 0, end_state = 0, close_cause = 0;
    std::map<std::string, double> kpi;  // the dns_* columns
    std::set<std::string> null_kpis;    // dns_* columns present but NULL in this row
    bool is_lookup() const {
        return template_id == ipfix::templ(ipfix::TemplateKey::DNS_LOOKUP).id;
    }
};

// `::ffff:a.b.c.d` -> `a.b.c.d`; IPv6 in inet_ntop's canonical form.
std::string normalise_addr(const std::string& addr);
// An engine log record's address (ip_version 4 or 6), normalised.
std::string addr_text(uint8_t ip_version, const uint8_t* a);

Manifest read_manifest(const std::string& path);
std::vector<TruthConn> read_truth(const std::string& path);
Capture read_capture(const std::string& path);
// Every TCP profile of the table (templates 256, 257), grouped per connection. Only
// the identity columns are required; a KPI column absent or NULL fails each
// comparison that needed it (exported.hpp).
std::vector<AgentConn> read_profiles(const std::string& sqlite_path);
// Every DNS profile of the table (templates 260-262); none in an older schema.
std::vector<DnsProfile> read_dns_profiles(const std::string& sqlite_path);
std::vector<DnsLookupTruth> read_dns_truth(const std::string& path);
std::vector<DnsServerQuery> read_dns_server_truth(const std::string& path);
std::vector<MptcpTruth> read_mptcp_truth(const std::string& path);
std::vector<MptcpEvent> read_mptcp_monitor(const std::string& path);
// MPTCP connection records (templates 263/264), grouped per connection like
// TCP's; their KPIs are the mptcp_* columns.
std::vector<AgentConn> read_mptcp_profiles(const std::string& sqlite_path);

}  // namespace fc::validate
