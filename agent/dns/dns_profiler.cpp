#include "dns_profiler.hpp"

#include <glib.h>
#include <netdb.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <random>
#include <set>

#include "dns_message.hpp"

namespace fc::dns {

using ipfix::FieldKey;

namespace {

constexpr uint8_t kRcodeServfail = 2, kRcodeNxdomain = 3;
const Verdict kTimedOut{State::NETWORK_ERROR, CloseCause::TIMEOUT, Outcome::TIMEOUT};

std::string lower(std::string_view s) {
    std::string out(s);
    for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

std::string random_key() {
    std::random_device rd;
    std::string k(32, '\0');
    for (char& c : k) c = static_cast<char>(rd());
    return k;
}

uint8_t family_hint_code(uint8_t af) { return af == AF_INET ? 4 : af == AF_INET6 ? 6 : 0; }

}  // namespace

Verdict lookup_verdict(int rc, bool servfail_on_wire) {
    if (rc == 0) return {State::FINISHED, CloseCause::NONE, Outcome::ANSWER};
    if (rc == EAI_NONAME)
        return {State::PROTOCOL_ERROR, CloseCause::OTHER_ERROR, Outcome::NXDOMAIN};
#ifdef EAI_NODATA
    if (rc == EAI_NODATA) return {State::PROTOCOL_ERROR, CloseCause::OTHER_ERROR, Outcome::NODATA};
#endif
    if (rc == EAI_AGAIN)
        return servfail_on_wire
                   ? Verdict{State::PROTOCOL_ERROR, CloseCause::OTHER_ERROR, Outcome::SERVFAIL}
                   : Verdict{State::NETWORK_ERROR, CloseCause::TIMEOUT, Outcome::TIMEOUT};
    return {State::PROTOCOL_ERROR, CloseCause::OTHER_ERROR, Outcome::OTHER};
}

Verdict reply_verdict(uint8_t rcode, uint16_t answers) {
    // NOERROR without answers (NODATA) is a successful exchange: the A query
    // of a name that only has AAAA records is not an error on the wire.
    if (rcode == 0)
        return {State::FINISHED, CloseCause::NONE, answers ? Outcome::ANSWER : Outcome::NODATA};
    if (rcode == kRcodeNxdomain)
        return {State::PROTOCOL_ERROR, CloseCause::OTHER_ERROR, Outcome::NXDOMAIN};
    if (rcode == kRcodeServfail)
        return {State::PROTOCOL_ERROR, CloseCause::OTHER_ERROR, Outcome::SERVFAIL};
    return {State::PROTOCOL_ERROR, CloseCause::OTHER_ERROR, Outcome::OTHER};
}

DnsProfiler::DnsProfiler(const WallClock& clock, ProfileSink& sink, DnsOptions o)
    : clock_(clock), sink_(sink), o_(std::move(o)) {
    key_ = o_.hash_key.empty() ? random_key() : o_.hash_key;
}

uint64_t DnsProfiler::name_hash(std::string_view name) const {
    const std::string n = lower(name);
    GHmac* h =
        g_hmac_new(G_CHECKSUM_SHA256, reinterpret_cast<const guchar*>(key_.data()), key_.size());
    g_hmac_update(h, reinterpret_cast<const guchar*>(n.data()), static_cast<gssize>(n.size()));
    guint8 digest[32];
    gsize len = sizeof digest;
    g_hmac_get_digest(h, digest, &len);
    g_hmac_unref(h);
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v = v << 8 | digest[i];
    return v;
}

void DnsProfiler::set_name(ipfix::Record& r, const std::string& name) const {
    r.set(FieldKey::DNS_NAME_HASH, name_hash(name));
    if (!o_.hash_names) r.set_text(FieldKey::DNS_NAME, lower(name));
}

void DnsProfiler::on_lookup(const fc_dns_lookup_event& e) {
    ++n_.lookups;
    const uint64_t end_mono = e.end_ns;
    LookupLinks links;
    if (auto it = links_.find(e.lookup_id); it != links_.end()) {
        links = std::move(it->second);
        links_.erase(it);
    }
    // The lookup is over: its queries go out, answered or given up on.
    for (const QueryKey& k : links.members) {
        auto q = queries_.find(k);
        if (q == queries_.end()) continue;
        end_query(q->second, end_mono, kTimedOut);
        queries_.erase(q);
    }

    const Verdict v = lookup_verdict(e.rc, links.servfail);
    ipfix::Record r;
    r.tmpl = ipfix::TemplateKey::DNS_LOOKUP;
    const uint64_t flow_id = kLookupFlowBase | e.lookup_id;
    r.set(FieldKey::FLOW_ID, flow_id);
    r.set(FieldKey::DNS_LOOKUP_ID, flow_id);
    fill_transition(
        {State::NEW, v.end, clock_.from_monotonic(e.start_ns), clock_.from_monotonic(end_mono), 0},
        r);
    r.set(FieldKey::CLOSE_CAUSE, static_cast<uint64_t>(v.cause));
    r.set(FieldKey::ROLE, 1);
    r.set(FieldKey::NETNS_INODE, e.netns_ino);
    r.set(FieldKey::PROCESS_ID, e.pid);
    r.set_text(FieldKey::PROCESS_NAME, std::string(e.comm, strnlen(e.comm, sizeof e.comm)));
    set_name(r, std::string(e.name, strnlen(e.name, sizeof e.name)));
    r.set(FieldKey::DNS_OUTCOME, static_cast<uint64_t>(v.outcome));
    r.set(FieldKey::DNS_FAMILY, family_hint_code(e.family_hint));
    r.set(FieldKey::DNS_GAI_ERROR, static_cast<uint64_t>(e.rc < 0 ? -e.rc : e.rc));
    // getaddrinfo lists an address once per socket type unless hints narrow
    // it: count distinct addresses.
    std::set<std::array<uint8_t, 17>> seen;
    uint64_t v4 = 0, v6 = 0;
    const int n = std::min<int>(e.n_addrs, FC_DNS_MAX_ADDRS);
    for (int i = 0; i < n; ++i) {
        const fc_dns_addr& a = e.addrs[i];
        if (a.family != AF_INET && a.family != AF_INET6) continue;
        std::array<uint8_t, 17> k{};
        k[0] = a.family;
        std::memcpy(k.data() + 1, a.addr, a.family == AF_INET ? 4 : 16);
        if (!seen.insert(k).second) continue;
        (a.family == AF_INET ? v4 : v6) += 1;
    }
    r.set(FieldKey::DNS_V4_ADDRS, v4);
    r.set(FieldKey::DNS_V6_ADDRS, v6);
    r.set(FieldKey::DNS_QUERIES, links.queries);
    r.set(FieldKey::DNS_LATENCY_US, (end_mono - e.start_ns + 500) / 1000);
    sink_.emit(r);
}

void DnsProfiler::on_packet(const fc_dns_packet_event& e) {
    const auto m = parse_dns_message(e.msg, std::min<size_t>(e.captured, FC_DNS_MSG_MAX));
    if (!m || m->response != !e.egress) {
        ++n_.malformed;
        return;
    }
    if (e.egress) {
        QueryKey k{e.sock_cookie, m->id, {}, e.dport};
        std::memcpy(k.server.data(), e.daddr, 16);
        auto [it, fresh] = queries_.try_emplace(k);
        Query& q = it->second;
        if (fresh) {
            ++n_.queries;
            q.flow_id = kQueryFlowBase | ++next_query_;
            q.lookup_id = e.lookup_id;
            q.first_ns = e.ts_ns;
            q.dns_id = m->id;
            q.qtype = m->qtype;
            q.qname = m->qname;
            q.query_bytes = e.msg_len;
            q.pid = e.pid;
            q.netns = e.netns_ino;
            q.family = e.family;
            std::memcpy(q.local.data(), e.saddr, 16);
            std::memcpy(q.server.data(), e.daddr, 16);
            q.local_port = e.sport;
            q.server_port = e.dport;
            q.comm.assign(e.comm, strnlen(e.comm, sizeof e.comm));
            if (e.lookup_id) {
                LookupLinks& l = links_[e.lookup_id];
                ++l.queries;
                l.members.push_back(k);
            }
        }
        ++q.attempts;
        q.last_ns = e.ts_ns;
        if (!q.answered) q.last_before_reply_ns = e.ts_ns;
        return;
    }
    QueryKey k{e.sock_cookie, m->id, {}, e.sport};
    std::memcpy(k.server.data(), e.saddr, 16);
    auto it = queries_.find(k);
    if (it == queries_.end()) {
        ++n_.unmatched_replies;  // a late reply, or another copy of one
        return;
    }
    Query& q = it->second;
    if (q.answered) {
        ++n_.repeated_replies;  // the answer to a copy resent after the first reply
        return;
    }
    ++n_.replies;
    q.answered = true;
    q.reply_ns = e.ts_ns;
    q.reply_bytes = e.msg_len;
    q.rcode = m->rcode;
    q.answers = m->ancount;
    if (q.lookup_id) {
        if (auto l = links_.find(q.lookup_id); l != links_.end()) {
            if (reply_verdict(q.rcode, q.answers).outcome == Outcome::SERVFAIL)
                l->second.servfail = true;
            return;  // exported when its lookup ends (see Query::answered)
        }
    }
    end_query(q, e.ts_ns, kTimedOut);
    queries_.erase(it);
}

void DnsProfiler::end_query(const Query& q, uint64_t end_mono_ns, const Verdict& no_reply) {
    const Verdict v = q.answered ? reply_verdict(q.rcode, q.answers) : no_reply;
    if (q.answered) end_mono_ns = q.reply_ns;  // the transition happened at the reply
    ipfix::Record r;
    r.tmpl =
        q.family == AF_INET6 ? ipfix::TemplateKey::DNS_QUERY_V6 : ipfix::TemplateKey::DNS_QUERY_V4;
    if (q.family == AF_INET6) {
        std::memcpy(r.src_v6.data(), q.local.data(), 16);
        std::memcpy(r.dst_v6.data(), q.server.data(), 16);
    } else {
        uint32_t s, d;
        std::memcpy(&s, q.local.data(), 4);
        std::memcpy(&d, q.server.data(), 4);
        r.set(FieldKey::SRC_V4, ntohl(s));
        r.set(FieldKey::DST_V4, ntohl(d));
    }
    r.set(FieldKey::SRC_PORT, q.local_port);
    r.set(FieldKey::DST_PORT, q.server_port);
    r.set(FieldKey::PROTOCOL, 17);
    r.set(FieldKey::FLOW_ID, q.flow_id);
    r.set(FieldKey::DNS_LOOKUP_ID, q.lookup_id ? (kLookupFlowBase | q.lookup_id) : 0);
    fill_transition({State::NEW, v.end, clock_.from_monotonic(q.first_ns),
                     clock_.from_monotonic(end_mono_ns), 0},
                    r);
    r.set(FieldKey::CLOSE_CAUSE, static_cast<uint64_t>(v.cause));
    r.set(FieldKey::ROLE, 1);
    r.set(FieldKey::NETNS_INODE, q.netns);
    r.set(FieldKey::PROCESS_ID, q.pid);
    r.set_text(FieldKey::PROCESS_NAME, q.comm);
    set_name(r, q.qname);
    r.set(FieldKey::DNS_OUTCOME, static_cast<uint64_t>(v.outcome));
    r.set(FieldKey::DNS_ID, q.dns_id);
    r.set(FieldKey::DNS_QTYPE, q.qtype);
    r.set(FieldKey::DNS_ATTEMPTS, q.attempts);
    const auto us = [](uint64_t ns) { return (ns + 500) / 1000; };
    r.set(FieldKey::DNS_LAT_FIRST_US, q.answered ? us(q.reply_ns - q.first_ns) : 0);
    r.set(FieldKey::DNS_LAT_LAST_US, q.answered ? us(q.reply_ns - q.last_before_reply_ns) : 0);
    r.set(FieldKey::DNS_QUERY_BYTES, q.query_bytes);
    r.set(FieldKey::DNS_REPLY_BYTES, q.reply_bytes);
    r.set(FieldKey::DNS_RCODE, q.rcode);
    r.set(FieldKey::DNS_ANSWERS, q.answers);
    sink_.emit(r);
}

void DnsProfiler::sweep(uint64_t now) {
    for (auto it = queries_.begin(); it != queries_.end();) {
        const Query& q = it->second;
        const bool waiting_lookup = q.lookup_id && links_.count(q.lookup_id);
        const uint64_t limit = o_.query_timeout_ns * (waiting_lookup ? 4 : 1);
        if (now - q.first_ns < limit) {
            ++it;
            continue;
        }
        if (q.lookup_id) links_.erase(q.lookup_id);  // its lookup event was lost
        end_query(q, now, kTimedOut);
        it = queries_.erase(it);
    }
}

void DnsProfiler::finish_all() {
    const uint64_t now = WallClock::mono_now_ns();
    for (const auto& [k, q] : queries_)
        end_query(q, now, {State::DESYNC, CloseCause::LOST_TRACK, Outcome::OTHER});
    queries_.clear();
    links_.clear();
}

}  // namespace fc::dns
