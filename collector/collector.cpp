#include "collector.hpp"

#include <fcntl.h>
#include <fixbuf/public.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <set>
#include <stdexcept>

#include "ipfix/codec.hpp"
#include "ipfix/wire.hpp"

namespace fc::collector {

using namespace fc::ipfix;

namespace {

constexpr size_t kMaxMessage = 65535;
constexpr int kMaxWaitMs = 200;  // poll slice: keeps commits at least every second

// Internal template ids (collector side only).
constexpr uint16_t kIntRegistryBase = 60000;  // + index in kTemplates
constexpr uint16_t kIntTypeInfo = 60100;
constexpr uint16_t kIntFlow = 60101;
constexpr uint16_t kIntInfo = 60102;

enum class Kind : uint8_t { Registry, Flow, ExporterInfo, TypeInfo, Other };

struct TmplCtx {
    Kind kind = Kind::Other;
    size_t registry_index = 0;                               // Kind::Registry
    bool has_ms = false, has_s = false, has_uptime = false;  // Kind::Flow
};

// Internal layout for foreign flow records: the standard elements we keep.
struct __attribute__((packed)) FlowRec {
    uint32_t src4, dst4;
    uint8_t src6[16], dst6[16];
    uint16_t sport, dport;
    uint8_t proto, end_reason;
    uint64_t octets_delta, packets_delta, octets_total, packets_total;
    uint32_t start_s, end_s;
    uint64_t start_ms, end_ms;
    uint32_t start_uptime, end_uptime;
    uint64_t init_ms;
};

fbInfoElementSpec_t kFlowSpec[] = {{const_cast<char*>("sourceIPv4Address"), 4, 0},
                                   {const_cast<char*>("destinationIPv4Address"), 4, 0},
                                   {const_cast<char*>("sourceIPv6Address"), 16, 0},
                                   {const_cast<char*>("destinationIPv6Address"), 16, 0},
                                   {const_cast<char*>("sourceTransportPort"), 2, 0},
                                   {const_cast<char*>("destinationTransportPort"), 2, 0},
                                   {const_cast<char*>("protocolIdentifier"), 1, 0},
                                   {const_cast<char*>("flowEndReason"), 1, 0},
                                   {const_cast<char*>("octetDeltaCount"), 8, 0},
                                   {const_cast<char*>("packetDeltaCount"), 8, 0},
                                   {const_cast<char*>("octetTotalCount"), 8, 0},
                                   {const_cast<char*>("packetTotalCount"), 8, 0},
                                   {const_cast<char*>("flowStartSeconds"), 4, 0},
                                   {const_cast<char*>("flowEndSeconds"), 4, 0},
                                   {const_cast<char*>("flowStartMilliseconds"), 8, 0},
                                   {const_cast<char*>("flowEndMilliseconds"), 8, 0},
                                   {const_cast<char*>("flowStartSysUpTime"), 4, 0},
                                   {const_cast<char*>("flowEndSysUpTime"), 4, 0},
                                   {const_cast<char*>("systemInitTimeMilliseconds"), 8, 0},
                                   FB_IESPEC_NULL};
static_assert(sizeof(FlowRec) ==
              4 + 4 + 16 + 16 + 2 + 2 + 1 + 1 + 4 * 8 + 4 + 4 + 8 + 8 + 4 + 4 + 8);

fbInfoElementSpec_t kInfoSpec[] = {{const_cast<char*>("systemInitTimeMilliseconds"), 8, 0},
                                   FB_IESPEC_NULL};

bool has_element(fbTemplate_t* t, const char* name) {
    fbInfoElementSpec_t spec{const_cast<char*>(name), 0, 0};
    return fbTemplateContainsElementByName(t, &spec);
}

uint64_t now_unix_ns() {
    return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                     std::chrono::system_clock::now().time_since_epoch())
                                     .count());
}

std::string ip_only(const sockaddr* sa) {
    std::string s = sockaddr_str(sa);
    const auto colon = s.rfind(':');
    s = s.substr(0, colon);
    if (!s.empty() && s.front() == '[') s = s.substr(1, s.size() - 2);
    return s;
}

}  // namespace

uint64_t CollectorStats::malformed_total() const {
    uint64_t n = 0;
    for (const auto& [cause, count] : malformed) n += count;
    return n;
}

std::string CollectorStats::str() const {
    std::string s = "messages " + std::to_string(messages) + ", records " +
                    std::to_string(records) + " (profiles " + std::to_string(profiles) +
                    ", agent_stats " + std::to_string(agent_stats) + ", flows " +
                    std::to_string(flows) + ", other " + std::to_string(other_records) +
                    "), sequence gaps " + std::to_string(sequence_gaps) + " (" +
                    std::to_string(records_missing) + " records missing, " +
                    std::to_string(sequence_regressions) + " regressions), sessions udp " +
                    std::to_string(udp_sessions) + " tcp " + std::to_string(tcp_connections) +
                    ", malformed " + std::to_string(malformed_total());
    if (!malformed.empty()) {
        s += " (";
        bool first = true;
        for (const auto& [cause, count] : malformed) {
            s += (first ? "" : ", ") + cause + " " + std::to_string(count);
            first = false;
        }
        s += ")";
    }
    return s;
}

struct Collector::Impl {
    CollectorConfig cfg;
    SqliteStore& store;
    InfoModelPtr model;
    std::vector<Endpoint> endpoints;
    std::vector<int> listen_fds;

    struct Seq {
        uint32_t next;
    };
    struct Session {
        std::string key, addr;
        Transport transport;
        fBuf_t* fbuf = nullptr;
        std::map<uint32_t, Seq> seq;           // per observation domain
        std::map<uint32_t, uint64_t> init_ms;  // systemInitTimeMilliseconds per domain
        int fd = -1;                           // TCP
        std::vector<uint8_t> rbuf;             // TCP bytes not yet framed
        ~Session() {
            if (fbuf) fBufFree(fbuf);
            if (fd >= 0) close(fd);
        }
    };
    std::map<std::string, std::unique_ptr<Session>> udp_sessions;
    std::vector<std::unique_ptr<Session>> tcp_sessions;

    mutable std::mutex smu;
    CollectorStats st;
    std::set<std::string> logged_causes;
    bool gap_logged = false;

    Impl(CollectorConfig c, SqliteStore& s) : cfg(std::move(c)), store(s) {
        model = make_info_model(cfg.enterprise_number);
        for (const std::string& u : cfg.listen) endpoints.push_back(parse_endpoint(u, true));
    }

    ~Impl() { close_all(); }

    void close_all() {
        udp_sessions.clear();
        tcp_sessions.clear();
        for (int fd : listen_fds)
            if (fd >= 0) close(fd);
        listen_fds.clear();
    }

    void log(const std::string& m) { std::fprintf(stderr, "flowcorder collect: %s\n", m.c_str()); }

    void malformed(const std::string& cause, const std::string& from, const std::string& detail) {
        {
            std::lock_guard lock(smu);
            ++st.malformed[cause];
        }
        if (logged_causes.insert(cause).second)
            log("dropped malformed input from " + from + ": " + cause +
                (detail.empty() ? "" : " (" + detail + ")") +
                "; further input with this problem is counted silently");
    }

    // ---- sockets ---------------------------------------------------------

    // libfixbuf reports skipped sets and sequence jumps through GLib
    // warnings; we count those conditions ourselves, so only a few of its
    // messages are shown.
    static void on_glib_log(const gchar*, GLogLevelFlags, const gchar* msg, gpointer) {
        static int shown = 0;
        if (shown < 3)
            std::fprintf(stderr, "flowcorder collect: libfixbuf: %s%s\n", msg,
                         ++shown == 3 ? " (further libfixbuf messages suppressed)" : "");
    }

    void start() {
        g_log_set_handler(nullptr,
                          static_cast<GLogLevelFlags>(G_LOG_LEVEL_WARNING | G_LOG_LEVEL_MESSAGE |
                                                      G_LOG_LEVEL_INFO | G_LOG_LEVEL_DEBUG),
                          &Impl::on_glib_log, nullptr);
        for (Endpoint& ep : endpoints) {
            const bool udp = ep.transport == Transport::UDP;
            int fd = socket(ep.addr.ss_family,
                            (udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
            int one = 1;
            if (fd >= 0) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
            if (fd >= 0 && udp) {
                int rcvbuf = 8 << 20;
                setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
            }
            if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&ep.addr), ep.addr_len) != 0 ||
                (!udp && listen(fd, 64) != 0)) {
                const std::string why = std::strerror(errno);
                if (fd >= 0) close(fd);
                close_all();
                throw std::runtime_error("cannot listen on " + ep.str() + ": " + why);
            }
            socklen_t len = sizeof ep.addr;
            getsockname(fd, reinterpret_cast<sockaddr*>(&ep.addr), &len);
            ep.addr_len = len;
            ep.port = ntohs(ep.addr.ss_family == AF_INET
                                ? reinterpret_cast<sockaddr_in*>(&ep.addr)->sin_port
                                : reinterpret_cast<sockaddr_in6*>(&ep.addr)->sin6_port);
            listen_fds.push_back(fd);
        }
    }

    std::unique_ptr<Session> new_session(const std::string& key, const std::string& addr,
                                         Transport t) {
        auto s = std::make_unique<Session>();
        s->key = key;
        s->addr = addr;
        s->transport = t;
        fbSession_t* session = fbSessionAlloc(model.get());
        GError* err = nullptr;
        auto add = [&](uint16_t tid, fbTemplate_t* tmpl) {
            if (!tmpl || !fbSessionAddTemplate(session, TRUE, tid, tmpl, &err))
                throw std::runtime_error("collector: internal template " + std::to_string(tid) +
                                         ": " + take_error(err));
        };
        for (size_t i = 0; i < kTemplates.size(); ++i)
            add(static_cast<uint16_t>(kIntRegistryBase + i),
                make_template(model.get(), kTemplates[i].key));
        add(kIntTypeInfo, fbInfoElementAllocTypeTemplate(model.get(), &err));
        fbTemplate_t* flow = fbTemplateAlloc(model.get());
        if (!fbTemplateAppendSpecArray(flow, kFlowSpec, 0, &err))
            throw std::runtime_error("collector: flow template: " + take_error(err));
        add(kIntFlow, flow);
        fbTemplate_t* info = fbTemplateAlloc(model.get());
        if (!fbTemplateAppendSpecArray(info, kInfoSpec, 0, &err))
            throw std::runtime_error("collector: info template: " + take_error(err));
        add(kIntInfo, info);
        fbSessionAddNewTemplateCallback(session, &Impl::on_new_template, this);
        s->fbuf = fBufAllocForCollection(session, nullptr);
        fBufSetAutomaticMode(s->fbuf, FALSE);
        return s;
    }

    static void on_new_template(fbSession_t*, uint16_t, fbTemplate_t* tmpl, void* app,
                                void** tmpl_ctx, fbTemplateCtxFree_fn* free_fn) {
        auto* self = static_cast<Impl*>(app);
        *tmpl_ctx = new TmplCtx(self->classify(tmpl));
        *free_fn = [](void* ctx, void*) { delete static_cast<TmplCtx*>(ctx); };
    }

    TmplCtx classify(fbTemplate_t* t) {
        TmplCtx c;
        if (fbInfoModelTypeInfoRecord(t)) {
            c.kind = Kind::TypeInfo;
            return c;
        }
        // The registry template sharing the most elements with it, provided
        // one of those is one of our enterprise elements.
        size_t best = 0, best_score = 0;
        bool best_ours = false;
        for (size_t i = 0; i < kTemplates.size(); ++i) {
            size_t score = 0;
            bool ours = false;
            for (const FieldDef* f : template_fields(kTemplates[i].key)) {
                if (has_element(t, std::string(f->ie_name).c_str())) {
                    ++score;
                    ours = ours || f->enterprise;
                }
            }
            if (ours && score > best_score) {
                best = i;
                best_score = score;
                best_ours = true;
            }
        }
        if (best_ours) {
            c.kind = Kind::Registry;
            c.registry_index = best;
        } else if (has_element(t, "sourceIPv4Address") || has_element(t, "sourceIPv6Address")) {
            c.kind = Kind::Flow;
            c.has_ms = has_element(t, "flowStartMilliseconds");
            c.has_s = has_element(t, "flowStartSeconds");
            c.has_uptime = has_element(t, "flowStartSysUpTime");
        } else if (has_element(t, "systemInitTimeMilliseconds")) {
            c.kind = Kind::ExporterInfo;
        }
        return c;
    }

    // ---- message vetting -------------------------------------------------

    // Structural checks RFC 7011 allows us to make without templates. Returns
    // the cause when the message must be dropped; counts data sets whose
    // template is unknown (fixbuf skips those).
    std::string vet(Session& s, const uint8_t* m, size_t len) {
        if (len < kMessageHeaderLen) return "short_message";
        const MessageHeader h = read_header(m);
        if (h.version != kIpfixVersion) return "bad_version";
        if (h.length != len) return h.length > len ? "truncated_message" : "length_mismatch";
        fbSession_t* session = fBufGetSession(s.fbuf);
        fbSessionSetDomain(session, h.domain);
        std::set<uint16_t> defined;
        size_t off = kMessageHeaderLen;
        while (off < len) {
            if (len - off < kSetHeaderLen) return "bad_set_length";
            const uint16_t id = rd16(m + off);
            const uint16_t slen = rd16(m + off + 2);
            if (slen < kSetHeaderLen || slen > len - off) return "bad_set_length";
            const uint8_t* p = m + off + kSetHeaderLen;
            const uint8_t* end = m + off + slen;
            if (id == kTemplateSetId || id == kOptionsTemplateSetId) {
                while (end - p >= 4) {
                    const uint16_t tid = rd16(p);
                    const uint16_t count = rd16(p + 2);
                    p += 4;
                    if (tid < kMinDataSetId) return "bad_template";
                    if (count == 0) continue;  // withdrawal
                    if (id == kOptionsTemplateSetId) {
                        if (end - p < 2) return "bad_template";
                        const uint16_t scope = rd16(p);
                        p += 2;
                        if (scope == 0 || scope > count) return "bad_template";
                    }
                    for (uint16_t i = 0; i < count; ++i) {
                        if (end - p < 4) return "bad_template";
                        const uint16_t ie = rd16(p);
                        const uint16_t flen = rd16(p + 2);
                        p += 4;
                        if (flen == 0) return "bad_template";
                        if (ie & 0x8000) {
                            if (end - p < 4) return "bad_template";
                            p += 4;
                        }
                    }
                    defined.insert(tid);
                }
            } else if (id >= kMinDataSetId) {
                if (!defined.count(id) && !fbSessionGetTemplate(session, FALSE, id, nullptr))
                    malformed("data_set_without_template", s.key, "set id " + std::to_string(id));
            } else {
                return "reserved_set_id";
            }
            off += slen;
        }
        return {};
    }

    // ---- decoding --------------------------------------------------------

    void process_message(Session& s, uint8_t* m, size_t len) {
        const std::string cause = vet(s, m, len);
        if (!cause.empty()) return malformed(cause, s.key, "");
        const MessageHeader h = read_header(m);
        const uint64_t received = now_unix_ns();
        fBufSetBuffer(s.fbuf, m, len);
        uint64_t n = 0;
        for (;;) {
            GError* err = nullptr;
            uint16_t ext_tid = 0;
            fbTemplate_t* t = fBufNextCollectionTemplate(s.fbuf, &ext_tid, &err);
            if (!t) {
                if (!g_error_matches(err, FB_ERROR_DOMAIN, FB_ERROR_EOM) &&
                    !g_error_matches(err, FB_ERROR_DOMAIN, FB_ERROR_BUFSZ))
                    malformed("undecodable", s.key, err ? err->message : "");
                g_clear_error(&err);
                break;
            }
            const auto* ctx = static_cast<const TmplCtx*>(fbTemplateGetContext(t));
            const TmplCtx none;
            if (!ctx) ctx = &none;
            uint16_t itid = kIntInfo;
            switch (ctx->kind) {
                case Kind::Registry:
                    itid = static_cast<uint16_t>(kIntRegistryBase + ctx->registry_index);
                    break;
                case Kind::Flow:
                    itid = kIntFlow;
                    break;
                case Kind::TypeInfo:
                    itid = kIntTypeInfo;
                    break;
                default:
                    itid = kIntInfo;
            }
            alignas(16) uint8_t rec[1024];
            size_t rlen = sizeof rec;
            if (!fBufSetInternalTemplate(s.fbuf, itid, &err) ||
                !fBufNext(s.fbuf, rec, &rlen, &err)) {
                malformed("undecodable", s.key, err ? err->message : "");
                g_clear_error(&err);
                break;
            }
            ++n;
            RecordMeta meta{s.addr, h.domain, ext_tid, received};
            dispatch(s, *ctx, h.domain, rec, meta);
        }
        std::lock_guard lock(smu);
        ++st.messages;
        st.records += n;
        auto it = s.seq.find(h.domain);
        if (it != s.seq.end() && h.sequence != it->second.next) {
            const uint32_t ahead = h.sequence - it->second.next;
            if (ahead < (1u << 31)) {
                ++st.sequence_gaps;
                st.records_missing += ahead;
                if (!gap_logged)
                    log("sequence gap from " + s.key + " domain " + std::to_string(h.domain) +
                        ": " + std::to_string(ahead) +
                        " records missing; further gaps are counted in the statistics");
                gap_logged = true;
            } else {
                // Older than expected (reordered or replayed): keep expecting
                // the newer sequence so it is not later mistaken for a gap.
                ++st.sequence_regressions;
                return;
            }
        }
        s.seq[h.domain].next = h.sequence + static_cast<uint32_t>(n);
    }

    void dispatch(Session& s, const TmplCtx& ctx, uint32_t domain, const uint8_t* rec,
                  const RecordMeta& meta) {
        switch (ctx.kind) {
            case Kind::Registry: {
                const TemplateDef& td = kTemplates[ctx.registry_index];
                const Record r = decode_record(td.key, rec);
                if (td.scope & S_STATS) {
                    store.add_stats(r, meta);
                    std::lock_guard lock(smu);
                    ++st.agent_stats;
                } else {
                    store.add_profile(r, meta);
                    std::lock_guard lock(smu);
                    ++st.profiles;
                }
                return;
            }
            case Kind::Flow: {
                FlowRec f;
                std::memcpy(&f, rec, sizeof f);
                static const uint8_t zero16[16] = {};
                FlowRow row;
                const bool v6 =
                    std::memcmp(f.src6, zero16, 16) != 0 || std::memcmp(f.dst6, zero16, 16) != 0;
                row.src_addr = v6 ? ipv6_str(f.src6) : ipv4_str(f.src4);
                row.dst_addr = v6 ? ipv6_str(f.dst6) : ipv4_str(f.dst4);
                row.src_port = f.sport;
                row.dst_port = f.dport;
                row.protocol = f.proto;
                row.flow_end_reason = f.end_reason;
                row.octets = f.octets_delta ? f.octets_delta : f.octets_total;
                row.packets = f.packets_delta ? f.packets_delta : f.packets_total;
                if (ctx.has_ms) {
                    row.start_ms = static_cast<int64_t>(f.start_ms);
                    row.end_ms = static_cast<int64_t>(f.end_ms);
                } else if (ctx.has_s) {
                    row.start_ms = int64_t{f.start_s} * 1000;
                    row.end_ms = int64_t{f.end_s} * 1000;
                } else if (ctx.has_uptime) {
                    // sysUpTime is relative to the exporter's start, given in
                    // the record or an options record; read as signed so
                    // packets older than the start (pcap replay) stay right.
                    uint64_t init = f.init_ms;
                    if (!init) {
                        auto it = s.init_ms.find(domain);
                        if (it != s.init_ms.end()) init = it->second;
                    }
                    if (init) {
                        row.start_ms =
                            static_cast<int64_t>(init) + static_cast<int32_t>(f.start_uptime);
                        row.end_ms =
                            static_cast<int64_t>(init) + static_cast<int32_t>(f.end_uptime);
                    }
                }
                store.add_flow(row, meta);
                std::lock_guard lock(smu);
                ++st.flows;
                return;
            }
            case Kind::ExporterInfo: {
                uint64_t init;
                std::memcpy(&init, rec, 8);
                if (init) s.init_ms[domain] = init;
                break;
            }
            case Kind::TypeInfo: {
                auto* o = reinterpret_cast<fbInfoElementOptRec_t*>(const_cast<uint8_t*>(rec));
                if (o->ie_pen != 0 && !fbInfoModelGetElementByID(model.get(), o->ie_id, o->ie_pen))
                    fbInfoElementAddOptRecElement(model.get(), o);
                break;
            }
            case Kind::Other:
                break;
        }
        std::lock_guard lock(smu);
        ++st.other_records;
    }

    // ---- I/O -------------------------------------------------------------

    void read_udp(size_t li) {
        static uint8_t buf[kMaxMessage + 1];
        for (int i = 0; i < 256; ++i) {
            sockaddr_storage peer{};
            socklen_t plen = sizeof peer;
            const ssize_t n = recvfrom(listen_fds[li], buf, sizeof buf, MSG_TRUNC,
                                       reinterpret_cast<sockaddr*>(&peer), &plen);
            if (n < 0) return;
            const std::string from = sockaddr_str(reinterpret_cast<sockaddr*>(&peer));
            const std::string key = "udp " + from + " -> " + endpoints[li].str();
            auto it = udp_sessions.find(key);
            if (it == udp_sessions.end()) {
                it = udp_sessions
                         .emplace(key, new_session(key, ip_only(reinterpret_cast<sockaddr*>(&peer)),
                                                   Transport::UDP))
                         .first;
                std::lock_guard lock(smu);
                ++st.udp_sessions;
            }
            if (static_cast<size_t>(n) > kMaxMessage) {
                malformed("oversized_datagram", key, "");
                continue;
            }
            process_message(*it->second, buf, static_cast<size_t>(n));
        }
    }

    void accept_tcp(size_t li) {
        for (;;) {
            sockaddr_storage peer{};
            socklen_t plen = sizeof peer;
            const int fd = accept4(listen_fds[li], reinterpret_cast<sockaddr*>(&peer), &plen,
                                   SOCK_NONBLOCK | SOCK_CLOEXEC);
            if (fd < 0) return;
            const std::string from = sockaddr_str(reinterpret_cast<sockaddr*>(&peer));
            auto s = new_session("tcp " + from + " -> " + endpoints[li].str(),
                                 ip_only(reinterpret_cast<sockaddr*>(&peer)), Transport::TCP);
            s->fd = fd;
            tcp_sessions.push_back(std::move(s));
            std::lock_guard lock(smu);
            ++st.tcp_connections;
        }
    }

    // Returns false when the connection is over.
    bool read_tcp(Session& s) {
        uint8_t buf[65536];
        for (;;) {
            const ssize_t n = recv(s.fd, buf, sizeof buf, 0);
            if (n == 0) {
                if (!s.rbuf.empty()) malformed("truncated_message", s.key, "connection closed");
                return false;
            }
            if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
            s.rbuf.insert(s.rbuf.end(), buf, buf + n);
            // Frame: RFC 7011 messages back to back, length from the header.
            size_t off = 0;
            while (s.rbuf.size() - off >= 4) {
                const uint16_t ver = rd16(s.rbuf.data() + off);
                const uint16_t mlen = rd16(s.rbuf.data() + off + 2);
                if (ver != kIpfixVersion || mlen < kMessageHeaderLen) {
                    malformed(ver != kIpfixVersion ? "bad_version" : "short_message", s.key,
                              "stream framing lost, peer disconnected");
                    return false;
                }
                if (s.rbuf.size() - off < mlen) break;
                process_message(s, s.rbuf.data() + off, mlen);
                off += mlen;
            }
            s.rbuf.erase(s.rbuf.begin(), s.rbuf.begin() + static_cast<ptrdiff_t>(off));
        }
    }

    void poll_once(int timeout_ms) {
        std::vector<pollfd> fds;
        for (int fd : listen_fds) fds.push_back({fd, POLLIN, 0});
        for (auto& s : tcp_sessions) fds.push_back({s->fd, POLLIN, 0});
        const int rc = poll(fds.data(), fds.size(), std::min(timeout_ms, kMaxWaitMs));
        if (rc > 0) {
            for (size_t i = 0; i < listen_fds.size(); ++i) {
                if (!(fds[i].revents & POLLIN)) continue;
                if (endpoints[i].transport == Transport::UDP)
                    read_udp(i);
                else
                    accept_tcp(i);
            }
            // Sessions accepted above are not in `fds`; they are polled next time.
            const size_t ntcp = fds.size() - listen_fds.size();
            std::vector<bool> done(tcp_sessions.size(), false);
            for (size_t j = 0; j < ntcp; ++j)
                if (fds[listen_fds.size() + j].revents & (POLLIN | POLLHUP | POLLERR))
                    done[j] = !read_tcp(*tcp_sessions[j]);
            for (size_t j = tcp_sessions.size(); j-- > 0;)
                if (done[j]) tcp_sessions.erase(tcp_sessions.begin() + static_cast<ptrdiff_t>(j));
        }
        store.maybe_commit();
    }
};

Collector::Collector(CollectorConfig cfg, SqliteStore& store)
    : impl_(std::make_unique<Impl>(std::move(cfg), store)) {}

Collector::~Collector() { stop(); }

void Collector::start() { impl_->start(); }

std::vector<Endpoint> Collector::bound() const { return impl_->endpoints; }

void Collector::poll_once(int timeout_ms) { impl_->poll_once(timeout_ms); }

void Collector::stop() {
    impl_->close_all();
    impl_->store.commit();
}

CollectorStats Collector::stats() const {
    std::lock_guard lock(impl_->smu);
    return impl_->st;
}

}  // namespace fc::collector
