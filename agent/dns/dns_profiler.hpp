// The DNS plugin of the generic FSM. Two views of name resolution, each a
// single NEW -> terminal transition:
//   lookup  one getaddrinfo() call as the application saw it (uprobes);
//   query   one DNS question on the wire and its retransmissions, until the
//           reply or until the resolver gave up (cgroup_skb).
// A query sent from inside a traced lookup carries the lookup's flowId in
// fcDnsLookupId; so does the lookup's own profile, so one equality joins them.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/clock.hpp"
#include "core/fsm.hpp"
#include "core/profile.hpp"
#include "core/sink.hpp"
#include "dns_monitor.h"

namespace fc::dns {

// Values of fcDnsOutcome.
enum class Outcome : uint8_t {
    ANSWER = 0,
    NXDOMAIN = 1,
    NODATA = 2,
    SERVFAIL = 3,
    TIMEOUT = 4,
    OTHER = 5
};

// flowId ranges: TCP connections count from 1, DNS lookups from 2^62,
// DNS queries from 2^63, so every profile of an agent run has its own id.
inline constexpr uint64_t kLookupFlowBase = 1ull << 62;
inline constexpr uint64_t kQueryFlowBase = 1ull << 63;

struct DnsOptions {
    bool hash_names = false;  // export the keyed hash, never the name
    std::string hash_key;     // HMAC key; empty: random, new each run
    // A query outside any traced lookup (or whose lookup event was lost)
    // ends as a timeout once this long without a reply.
    uint64_t query_timeout_ns = 30'000'000'000ull;
};

struct Verdict {
    State end;
    CloseCause cause;
    Outcome outcome;
};
// The resolver's view: getaddrinfo's result, refined by what the wire said
// (EAI_AGAIN is both SERVFAIL and timeout).
Verdict lookup_verdict(int gai_rc, bool servfail_on_wire);
// The wire's view: a reply's RCODE and answer count.
Verdict reply_verdict(uint8_t rcode, uint16_t answers);

struct DnsCounters {
    uint64_t lookups = 0, queries = 0, replies = 0, unmatched_replies = 0, malformed = 0;
    uint64_t repeated_replies = 0;  // copies of a reply already counted
};

class DnsProfiler {
  public:
    DnsProfiler(const WallClock& clock, ProfileSink& sink, DnsOptions o = {});

    void on_lookup(const fc_dns_lookup_event& e);
    void on_packet(const fc_dns_packet_event& e);
    // Ends queries unanswered for longer than the timeout (see DnsOptions).
    void sweep(uint64_t mono_now_ns);
    // Agent shutdown: queries still waiting end in DESYNC (forced end).
    void finish_all();

    // First 8 bytes of HMAC-SHA256(key, lower-case name), big-endian.
    uint64_t name_hash(std::string_view name) const;
    const DnsCounters& counters() const { return n_; }
    size_t open_queries() const { return queries_.size(); }

  private:
    struct QueryKey {
        uint64_t cookie;
        uint16_t id;
        std::array<uint8_t, 16> server;
        uint16_t server_port;
        auto operator<=>(const QueryKey&) const = default;
    };
    struct Query {
        uint64_t flow_id = 0, lookup_id = 0;
        uint64_t first_ns = 0, last_ns = 0;  // monotonic
        uint64_t last_before_reply_ns = 0;   // what the reply answered
        // The first reply. A resolver may resend a question it already has
        // the answer to (glibc resends both A and AAAA when one timed out):
        // inside a lookup the query stays open until the lookup ends, so
        // such copies count as its attempts.
        bool answered = false;
        uint64_t reply_ns = 0;
        uint32_t reply_bytes = 0;
        uint8_t rcode = 255;
        uint16_t answers = 0;
        uint16_t attempts = 0, qtype = 0, dns_id = 0;
        uint32_t query_bytes = 0;
        uint32_t pid = 0, netns = 0;
        uint8_t family = 0;
        std::array<uint8_t, 16> local{}, server{};
        uint16_t local_port = 0, server_port = 0;
        std::string qname, comm;
    };
    struct LookupLinks {
        uint16_t queries = 0;
        bool servfail = false;
        std::vector<QueryKey> members;  // its queries not yet exported
    };

    // Exports a query: with its reply if it has one, else with `no_reply`
    // ending at `end_mono_ns`.
    void end_query(const Query& q, uint64_t end_mono_ns, const Verdict& no_reply);
    void set_name(ipfix::Record& r, const std::string& name) const;

    const WallClock& clock_;
    ProfileSink& sink_;
    DnsOptions o_;
    std::string key_;
    std::map<QueryKey, Query> queries_;
    std::unordered_map<uint64_t, LookupLinks> links_;  // by the probe's lookup id
    uint64_t next_query_ = 0;
    DnsCounters n_;
};

}  // namespace fc::dns
