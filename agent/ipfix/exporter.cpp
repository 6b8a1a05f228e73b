#include "exporter.hpp"

#include <fcntl.h>
#include <linux/sockios.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <deque>
#include <mutex>
#include <stdexcept>
#include <vector>

#include "codec.hpp"
#include "endpoint.hpp"
#include "wire.hpp"

namespace fc::ipfix {

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr size_t kUdpMtu = 1420;           // fixbuf's own UDP choice: fits a 1500-byte path
constexpr size_t kTcpMtu = 16384;          // stream transport: bigger messages, fewer headers
constexpr size_t kMaxOutBytes = 1u << 20;  // encoded but unwritten TCP bytes
constexpr milliseconds kBackoffMin{100};
constexpr milliseconds kBackoffMax{5000};
constexpr milliseconds kCloseDeadline{1000};

}  // namespace

struct Exporter::Impl {
    ExporterConfig cfg;
    Endpoint ep;
    InfoModelPtr model;
    size_t mtu;

    // Encoder: one fixbuf session per transport session.
    std::vector<uint8_t> msgbuf;
    fBuf_t* fbuf = nullptr;
    std::vector<Record> cur_recs;  // records in the message being built
    bool cur_open = false;         // something was appended since the last emit
    size_t per_message = 1;        // records of the largest template that fit a message

    // Queue (submit side).
    mutable std::mutex qmu;
    std::deque<Record> queue;
    bool dropping = false;
    uint64_t burst_drops = 0;

    std::atomic<uint64_t> submitted{0}, sent{0}, dropped{0}, messages{0}, send_errors{0},
        reconnects{0};

    // Transport (I/O side).
    std::mutex io;
    enum class Conn { Down, Connecting, Up } conn = Conn::Down;
    int fd = -1;
    Clock::time_point next_attempt{}, last_flush{}, last_templates{};
    bool templates_due = true;
    milliseconds backoff = kBackoffMin;
    bool ever_failed = false;
    bool down_logged = false;
    bool udp_error_logged = false;

    // TCP stream state: bytes encoded but not yet written, and messages written
    // but not yet acknowledged, with their records.
    std::vector<uint8_t> out;
    size_t out_off = 0;
    uint64_t appended = 0;  // stream offset after the last encoded byte
    uint64_t written = 0;   // stream offset after the last byte handed to the kernel
    struct Inflight {
        uint64_t end;
        std::vector<Record> recs;
    };
    std::deque<Inflight> inflight;

    explicit Impl(ExporterConfig c) : cfg(std::move(c)) {
        ep = parse_endpoint(cfg.url);
        if (cfg.backlog_limit == 0) throw std::invalid_argument("backlog_limit must be > 0");
        model = make_info_model(cfg.enterprise_number);
        mtu = ep.transport == Transport::UDP ? kUdpMtu : kTcpMtu;
        msgbuf.resize(mtu);
        size_t largest = 1;
        for (const TemplateDef& t : kTemplates) largest = std::max(largest, record_size(t.key));
        per_message = std::max<size_t>(1, (mtu - 16 - 4) / largest);
        last_flush = Clock::now();
        if (ep.transport == Transport::UDP) {
            fd = socket(ep.addr.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
            if (fd < 0 || connect(fd, reinterpret_cast<sockaddr*>(&ep.addr), ep.addr_len) != 0)
                throw std::runtime_error("IPFIX exporter: cannot open UDP socket to " + ep.str() +
                                         ": " + std::strerror(errno));
            conn = Conn::Up;
            new_session();
        }
    }

    ~Impl() {
        if (fbuf) fBufFree(fbuf);
        if (fd >= 0) close(fd);
    }

    void log(const std::string& msg) const {
        std::fprintf(stderr, "flowcorder exporter -> %s: %s\n", ep.str().c_str(), msg.c_str());
    }

    // ---- encoder ---------------------------------------------------------

    void new_session() {
        if (fbuf) fBufFree(fbuf);  // frees the previous session and exporter
        fbuf = nullptr;
        cur_recs.clear();
        cur_open = false;
        fbSession_t* session = fbSessionAlloc(model.get());
        fbSessionSetDomain(session, cfg.observation_domain);
        GError* err = nullptr;
        // Templates go in before the buffer exists, so adding them writes nothing.
        for (const TemplateDef& t : kTemplates) {
            if (!fbSessionAddTemplate(session, TRUE, t.id, make_template(model.get(), t.key),
                                      &err) ||
                !fbSessionAddTemplate(session, FALSE, t.id, make_template(model.get(), t.key),
                                      &err)) {
                fbSessionFree(session);
                throw std::runtime_error("IPFIX exporter: cannot add template " +
                                         std::string(t.name) + ": " + take_error(err));
            }
        }
        if (fbSessionSetMetadataExportElements(session, TRUE, kTypeInfoTemplateId, &err) !=
            kTypeInfoTemplateId) {
            fbSessionFree(session);
            throw std::runtime_error("IPFIX exporter: cannot set up RFC 5610 type records: " +
                                     take_error(err));
        }
        fbExporter_t* exp = fbExporterAllocBuffer(msgbuf.data(), static_cast<uint16_t>(mtu));
        fbuf = fBufAllocForExport(session, exp);
        fBufSetAutomaticMode(fbuf, FALSE);  // we emit: one message = one datagram
        templates_due = true;
    }

    void emit() {
        if (!cur_open) return;
        GError* err = nullptr;
        std::vector<Record> recs;
        recs.swap(cur_recs);
        cur_open = false;
        if (!fBufEmit(fbuf, &err)) {
            log("cannot emit IPFIX message: " + take_error(err));
            dropped += recs.size();
            return;
        }
        size_t len = fbExporterGetMsgLen(fBufGetExporter(fbuf));
        len = strip_empty_sets(msgbuf.data(), len);
        deliver(msgbuf.data(), len, std::move(recs));
    }

    // Runs `op` (which writes into the current message); on end-of-message
    // emits and retries once in a fresh message.
    template <typename Op>
    bool write_or_emit(Op op, const char* what) {
        GError* err = nullptr;
        if (op(&err)) return cur_open = true;
        if (g_error_matches(err, FB_ERROR_DOMAIN, FB_ERROR_EOM)) {
            g_clear_error(&err);
            emit();
            if (op(&err)) return cur_open = true;
        }
        log(std::string("cannot encode ") + what + ": " + take_error(err));
        return false;
    }

    void send_templates() {
        emit();
        fbSession_t* session = fBufGetSession(fbuf);
        // RFC 5610: the type-record template and one type record per
        // enterprise element, then the data templates that use them.
        write_or_emit(
            [&](GError** e) { return fbSessionExportTemplate(session, kTypeInfoTemplateId, e); },
            "type-record template");
        for (const FieldDef& f : kFields) {
            if (!f.enterprise) continue;
            const fbInfoElement_t* ie =
                fbInfoModelGetElementByID(model.get(), f.id, cfg.enterprise_number);
            write_or_emit(
                [&](GError** e) {
                    return fbInfoElementWriteOptionsRecord(fbuf, ie, kTypeInfoTemplateId,
                                                           kTypeInfoTemplateId, e);
                },
                "type record");
        }
        for (const TemplateDef& t : kTemplates)
            write_or_emit([&](GError** e) { return fbSessionExportTemplate(session, t.id, e); },
                          "template");
        emit();
        templates_due = false;
        last_templates = Clock::now();
    }

    void append(const Record& r) {
        uint8_t rec[kMaxRecordSize];
        const uint16_t tid = templ(r.tmpl).id;
        encode_record(r, rec);
        const size_t size = record_size(r.tmpl);
        const bool ok = write_or_emit(
            [&](GError** e) {
                return fBufSetInternalTemplate(fbuf, tid, e) &&
                       fBufSetExportTemplate(fbuf, tid, e) && fBufAppend(fbuf, rec, size, e);
            },
            "record");
        if (ok)
            cur_recs.push_back(r);
        else
            ++dropped;
    }

    // ---- transport -------------------------------------------------------

    void deliver(const uint8_t* msg, size_t len, std::vector<Record> recs) {
        if (ep.transport == Transport::UDP) {
            if (send(fd, msg, len, MSG_NOSIGNAL) == static_cast<ssize_t>(len)) {
                ++messages;
                sent += recs.size();
                udp_error_logged = false;
            } else {
                ++send_errors;
                dropped += recs.size();
                if (!udp_error_logged)
                    log(std::string("UDP send failed (") + std::strerror(errno) +
                        "); records of failed messages are dropped and counted until sends "
                        "succeed again");
                udp_error_logged = true;
            }
            return;
        }
        out.insert(out.end(), msg, msg + len);
        appended += len;
        inflight.push_back({appended, std::move(recs)});
    }

    void try_connect() {
        const auto now = Clock::now();
        if (conn == Conn::Down) {
            if (now < next_attempt) return;
            fd = socket(ep.addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
            if (fd < 0) return connect_failed(errno);
            if (connect(fd, reinterpret_cast<sockaddr*>(&ep.addr), ep.addr_len) == 0)
                return connected();
            if (errno != EINPROGRESS) return connect_failed(errno);
            conn = Conn::Connecting;
        }
        if (conn == Conn::Connecting) {
            pollfd p{fd, POLLOUT, 0};
            if (poll(&p, 1, 0) <= 0) return;
            int soerr = 0;
            socklen_t l = sizeof soerr;
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &l);
            if (soerr != 0) return connect_failed(soerr);
            connected();
        }
    }

    void connected() {
        conn = Conn::Up;
        backoff = kBackoffMin;
        if (ever_failed) {
            ++reconnects;
            log("connected after failure; re-sending " + std::to_string(queued()) +
                " queued records");
        }
        down_logged = false;
        new_session();  // new transport session: sequence from 0, templates again
    }

    void connect_failed(int err) {
        if (fd >= 0) close(fd);
        fd = -1;
        conn = Conn::Down;
        ever_failed = true;
        next_attempt = Clock::now() + backoff;
        backoff = std::min(backoff * 2, kBackoffMax);
        if (!down_logged)
            log(std::string("collector unreachable (") + std::strerror(err) +
                "); retrying with backoff, keeping up to " + std::to_string(cfg.backlog_limit) +
                " records");
        down_logged = true;
    }

    // The TCP connection broke: everything not acknowledged goes back to the
    // head of the queue, to be re-sent on the next connection.
    void connection_lost(const std::string& why) {
        ++send_errors;
        std::vector<Record> back;
        for (auto& m : inflight)
            for (auto& r : m.recs) back.push_back(std::move(r));
        for (auto& r : cur_recs) back.push_back(std::move(r));
        inflight.clear();
        cur_recs.clear();
        cur_open = false;
        out.clear();
        out_off = 0;
        appended = written = 0;
        if (fd >= 0) close(fd);
        fd = -1;
        conn = Conn::Down;
        ever_failed = true;
        next_attempt = Clock::now();  // first retry right away, then back off
        log("connection lost (" + why + "); " + std::to_string(back.size()) +
            " unacknowledged records will be re-sent");
        down_logged = true;
        std::lock_guard lock(qmu);
        for (auto it = back.rbegin(); it != back.rend(); ++it) queue.push_front(std::move(*it));
        while (queue.size() > cfg.backlog_limit) drop_oldest_locked();
    }

    void check_peer() {
        if (ep.transport != Transport::TCP || conn != Conn::Up) return;
        pollfd p{fd, POLLIN, 0};
        if (poll(&p, 1, 0) <= 0) return;
        char buf[512];
        const ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
        if (n == 0) return connection_lost("closed by the collector");
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
            return connection_lost(std::strerror(errno));
        // A collector has nothing to say; anything it sends is ignored.
    }

    void write_out() {
        if (ep.transport != Transport::TCP || conn != Conn::Up) return;
        while (out_off < out.size()) {
            const ssize_t n =
                send(fd, out.data() + out_off, out.size() - out_off, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (n > 0) {
                out_off += static_cast<size_t>(n);
                written += static_cast<uint64_t>(n);
            } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                break;
            } else {
                return connection_lost(n < 0 ? std::strerror(errno) : "short write");
            }
        }
        if (out_off == out.size()) {
            out.clear();
            out_off = 0;
        }
        process_acks();
    }

    void process_acks() {
        if (ep.transport != Transport::TCP || conn != Conn::Up) return;
        int unacked = 0;
        if (ioctl(fd, SIOCOUTQ, &unacked) != 0) return;
        const uint64_t acked = written - static_cast<uint64_t>(unacked);
        while (!inflight.empty() && inflight.front().end <= acked) {
            sent += inflight.front().recs.size();
            ++messages;
            inflight.pop_front();
        }
    }

    // ---- queue -----------------------------------------------------------

    size_t queued() const {
        std::lock_guard lock(qmu);
        return queue.size();
    }

    void drop_oldest_locked() {
        queue.pop_front();
        ++dropped;
        ++burst_drops;
        if (!dropping)
            log("export backlog full (" + std::to_string(cfg.backlog_limit) +
                " records): dropping the oldest records until the collector catches up");
        dropping = true;
    }

    std::vector<Record> take(size_t n) {
        std::lock_guard lock(qmu);
        std::vector<Record> recs;
        n = std::min(n, queue.size());
        recs.reserve(n);
        for (size_t i = 0; i < n; ++i) {
            recs.push_back(std::move(queue.front()));
            queue.pop_front();
        }
        if (dropping && queue.size() < cfg.backlog_limit) {
            log("backlog drained below its limit; " + std::to_string(burst_drops) +
                " records were dropped while it was full");
            dropping = false;
            burst_drops = 0;
        }
        return recs;
    }

    // ---- driving ---------------------------------------------------------

    bool transport_up() {
        if (ep.transport == Transport::TCP) {
            if (conn != Conn::Up) try_connect();
            check_peer();
        }
        return conn == Conn::Up;
    }

    void flush_now() {
        if (!transport_up()) return;
        write_out();
        if (conn != Conn::Up) return;
        if (templates_due) send_templates();
        while (conn == Conn::Up && out.size() - out_off < kMaxOutBytes) {
            std::vector<Record> batch = take(256);
            if (batch.empty()) break;
            for (const Record& r : batch) append(r);
            if (ep.transport == Transport::TCP) write_out();
        }
        if (conn == Conn::Up) emit();
        write_out();
        last_flush = Clock::now();
    }

    void tick() {
        const auto now = Clock::now();
        if (!transport_up()) return;
        write_out();
        if (conn != Conn::Up) return;
        if (ep.transport == Transport::UDP && now - last_templates >= cfg.template_refresh)
            templates_due = true;
        const size_t q = queued();
        if (templates_due || q >= per_message || (q > 0 && now - last_flush >= cfg.flush_interval))
            flush_now();
    }

    void close_out() {
        const auto deadline = Clock::now() + kCloseDeadline;
        for (;;) {
            flush_now();
            const bool pending = queued() > 0 || !out.empty() || !inflight.empty();
            if (!pending || ep.transport == Transport::UDP || Clock::now() >= deadline) break;
            poll(nullptr, 0, 10);
        }
        uint64_t lost = queued() + cur_recs.size();
        for (auto& m : inflight) lost += m.recs.size();
        if (lost > 0) {
            dropped += lost;
            log("closing with " + std::to_string(lost) +
                " records not delivered (collector unreachable); counted as dropped");
        }
    }
};

Exporter::Exporter(ExporterConfig cfg) : impl_(std::make_unique<Impl>(std::move(cfg))) {}

Exporter::~Exporter() {
    std::lock_guard lock(impl_->io);
    try {
        impl_->close_out();
    } catch (const std::exception& e) {
        impl_->log(std::string("error while closing: ") + e.what());
    }
}

void Exporter::submit(const Record& r) {
    std::lock_guard lock(impl_->qmu);
    ++impl_->submitted;
    if (impl_->queue.size() >= impl_->cfg.backlog_limit) impl_->drop_oldest_locked();
    impl_->queue.push_back(r);
}

void Exporter::tick() {
    std::lock_guard lock(impl_->io);
    impl_->tick();
}

void Exporter::flush() {
    std::lock_guard lock(impl_->io);
    impl_->flush_now();
}

bool Exporter::drain(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        tick();
        flush();
        const ExporterStats s = stats();
        if (s.records_sent + s.records_dropped >= s.records_submitted) return true;
        if (std::chrono::steady_clock::now() >= deadline) return false;
        poll(nullptr, 0, 20);
    }
}

ExporterStats Exporter::stats() const {
    return {impl_->submitted.load(), impl_->sent.load(),        impl_->dropped.load(),
            impl_->messages.load(),  impl_->send_errors.load(), impl_->reconnects.load()};
}

}  // namespace fc::ipfix
