// fc_ingest_race: the collector's ingest rate against nfcapd's, on the same
// replayed IPFIX stream, in the same run.
//
// The stream is real Flowcorder output: profile records made by the TCP
// profiler from synthetic connection lives, encoded by fc::ipfix::Exporter
// (our templates, enterprise elements and RFC 5610 type records included)
// and captured as datagrams. Each trial starts a fresh listener (`flowcorder
// collect` into SQLite, or `nfcapd` into a flow directory) on a loopback UDP
// port, sends it the templates, then the data messages paced at a target
// rate for a fixed time, waits until its socket queue is empty, stops it and
// counts what it stored (SQLite rows; nfdump -I's TCP flow count). A trial
// passes when at least --threshold of the records sent were stored. The
// rate is searched upward (doubling, then bisection); the result is the
// sent rate of the highest passing trial. Listeners alternate order in each
// repetition and get the same receive buffer (nfcapd -B = the collector's
// own SO_RCVBUF request; both are checked with ss).
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench_support.hpp"
#include "common/ports.hpp"
#include "common/process.hpp"
#include "rate_search.hpp"

namespace fs = std::filesystem;
using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

// A signal stops the race at its next check; the listener's Child then
// stops it as the stack unwinds (and PR_SET_PDEATHSIG if we are killed).
volatile sig_atomic_t g_stop = 0;

void on_signal(int) { g_stop = 1; }

struct Interrupted : std::runtime_error {
    Interrupted() : std::runtime_error("interrupted") {}
};
void check_stop() {
    if (g_stop) throw Interrupted();
}

// The collector asks for an 8 MiB SO_RCVBUF (collector/collector.cpp);
// nfcapd gets the same request through -B. The kernel doubles both.
constexpr int kCollectorRcvbuf = 8 << 20;

struct Options {
    std::string flowcorder, nfcapd = "nfcapd", nfdump = "nfdump", out;
    int reps = 5;
    double trial_s = 5;
    double start_rate = 20000;
    double max_rate = 4e6;
    int bisect = 5;
    double threshold = 0.999;
    size_t stream_records = 50000;
    bool quick = false;
};

// ---- processes: common/process.hpp --------------------------------------

std::string file_text(const fs::path& path) {
    std::ifstream f(path);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

// ---- sockets --------------------------------------------------------------

struct UdpPortState {
    bool found = false;
    uint64_t rx_queue = 0, drops = 0;
};

// The listening socket's line in /proc/net/udp: receive queue and drops.
UdpPortState udp_port_state(uint16_t port) {
    UdpPortState s;
    std::ifstream f("/proc/net/udp");
    std::string line;
    char want[16];
    std::snprintf(want, sizeof want, "0100007F:%04X", port);
    while (std::getline(f, line)) {
        std::istringstream is(line);
        std::string sl, local, remote, st, queues, tr, retr, uid, timeout, inode, ref, ptr, drops;
        if (!(is >> sl >> local >> remote >> st >> queues >> tr >> retr >> uid >> timeout >>
              inode >> ref >> ptr >> drops))
            continue;
        if (local != want) continue;
        s.found = true;
        const auto colon = queues.find(':');
        s.rx_queue = std::stoull(queues.substr(colon + 1), nullptr, 16);
        s.drops = std::stoull(drops);
    }
    return s;
}

// Effective receive buffer of the socket bound to the port (ss's skmem rb).
long effective_rcvbuf(uint16_t port) {
    const std::string out =
        fc::common::run_cmd({"ss", "-Hulmn", "sport = :" + std::to_string(port)}).output;
    std::smatch m;
    if (std::regex_search(out, m, std::regex("rb([0-9]+)"))) return std::stol(m[1]);
    return -1;
}

// ---- counting what was stored -------------------------------------------

uint64_t count_sqlite_profiles(const fs::path& db) {
    sqlite3* h = nullptr;
    uint64_t n = 0;
    if (sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
        sqlite3_stmt* st = nullptr;
        if (sqlite3_prepare_v2(h, "SELECT count(*) FROM profiles", -1, &st, nullptr) == SQLITE_OK &&
            sqlite3_step(st) == SQLITE_ROW)
            n = static_cast<uint64_t>(sqlite3_column_int64(st, 0));
        sqlite3_finalize(st);
    }
    sqlite3_close(h);
    return n;
}

uint64_t count_nfcapd_flows(const std::string& nfdump, const fs::path& dir) {
    // nfdump -I sums the flow files' statistics; every record we send is TCP.
    const std::string out = fc::common::run_cmd({nfdump, "-I", "-R", dir.string()}).output;
    std::smatch m;
    if (std::regex_search(out, m, std::regex("Flows_tcp: *([0-9]+)"))) return std::stoull(m[1]);
    return 0;
}

// ---- one trial -------------------------------------------------------------

enum class Kind { Collector, Nfcapd };
const char* kind_name(Kind k) { return k == Kind::Collector ? "collector" : "nfcapd"; }

struct Trial {
    Kind kind;
    double target_rate = 0, sent_rate = 0, seconds = 0;
    uint64_t sent = 0, stored = 0, kernel_drops = 0, send_errors = 0;
    double stored_frac = 0, drain_s = 0;
    long rcvbuf = -1;
    bool pass = false, sender_limited = false, clean_exit = false;
};

json to_json(const Trial& t) {
    return {{"listener", kind_name(t.kind)},
            {"target_rate", t.target_rate},
            {"sent_rate", t.sent_rate},
            {"seconds", t.seconds},
            {"sent", t.sent},
            {"stored", t.stored},
            {"stored_frac", t.stored_frac},
            {"kernel_drops", t.kernel_drops},
            {"drain_s", t.drain_s},
            {"rcvbuf_effective", t.rcvbuf},
            {"pass", t.pass},
            {"sender_limited", t.sender_limited},
            {"clean_exit", t.clean_exit},
            {"send_errors", t.send_errors}};
}

void sleep_until(Clock::time_point t) {
    const auto now = Clock::now();
    if (t - now > std::chrono::microseconds(100)) std::this_thread::sleep_for(t - now);
}

Trial run_trial(Kind kind, double rate, const Options& o, const fc::bench::IpfixStream& stream,
                const fs::path& root, int serial) {
    Trial t;
    t.kind = kind;
    t.target_rate = rate;
    const fs::path dir = root / (std::string(kind_name(kind)) + "-" + std::to_string(serial));
    fs::create_directories(dir);
    const uint16_t port = fc::common::free_loopback_port(SOCK_DGRAM);
    std::vector<std::string> argv;
    if (kind == Kind::Collector) {
        argv = {o.flowcorder, "collect",
                "--listen",   "udp://127.0.0.1:" + std::to_string(port),
                "--db",       (dir / "collect.sqlite").string()};
    } else {
        fs::create_directories(dir / "flows");
        argv = {o.nfcapd,
                "-b",
                "127.0.0.1",
                "-p",
                std::to_string(port),
                "-w",
                (dir / "flows").string(),
                "-t",
                "3600",
                "-B",
                std::to_string(kCollectorRcvbuf)};
    }
    fc::common::Child child(kind_name(kind), argv, dir / "listener.log");
    const auto up_deadline = Clock::now() + std::chrono::seconds(10);
    while (!udp_port_state(port).found) {
        check_stop();
        if (!child.running() || Clock::now() > up_deadline)
            throw std::runtime_error(std::string(kind_name(kind)) +
                                     " did not start: " + file_text(dir / "listener.log"));
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    t.rcvbuf = effective_rcvbuf(port);
    const uint64_t drops_before = udp_port_state(port).drops;

    const int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    int sndbuf = 4 << 20;
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(port);
    if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
        close(fd);
        throw std::runtime_error(std::string("connect: ") + std::strerror(errno));
    }
    for (const auto& m : stream.preamble) send(fd, m.data(), m.size(), 0);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));

    // Paced send: records sent never run ahead of rate * elapsed. Messages
    // that are due go out together with sendmmsg (up to kBatch), headers
    // rewritten in place of copies, so the sender stays ahead of the
    // listeners as long as possible.
    fc::bench::Replay replay(stream);
    const auto total = static_cast<uint64_t>(rate * o.trial_s);
    uint64_t sent = 0, send_errors = 0, queued = 0;
    constexpr size_t kBatch = 32;
    uint8_t hdrs[kBatch][16];
    iovec iov[kBatch][2];
    mmsghdr msgs[kBatch];
    uint32_t recs[kBatch];
    size_t nb = 0;
    const auto start = Clock::now();
    auto due = [&](uint64_t records) {
        return start + std::chrono::duration_cast<Clock::duration>(
                           std::chrono::duration<double>(static_cast<double>(records) / rate));
    };
    while (sent < total) {
        check_stop();
        // Everything due by now, at least one message.
        sleep_until(due(queued));
        const auto now = Clock::now();
        nb = 0;
        while (nb < kBatch && queued < total && (nb == 0 || due(queued) <= now)) {
            const uint8_t* body = nullptr;
            size_t blen = 0;
            replay.next_parts(hdrs[nb], body, blen, recs[nb]);
            iov[nb][0] = {hdrs[nb], 16};
            iov[nb][1] = {const_cast<uint8_t*>(body), blen};
            msgs[nb] = {};
            msgs[nb].msg_hdr.msg_iov = iov[nb];
            msgs[nb].msg_hdr.msg_iovlen = 2;
            queued += recs[nb];
            ++nb;
        }
        size_t done = 0;
        while (done < nb) {
            const int r = sendmmsg(fd, msgs + done, static_cast<unsigned>(nb - done), 0);
            if (r <= 0) {  // this message failed: its records are not counted as sent
                ++send_errors;
                ++done;
                continue;
            }
            for (int k = 0; k < r; ++k) sent += recs[done + k];
            done += static_cast<size_t>(r);
        }
        if (queued >= total) break;
    }
    t.seconds = std::chrono::duration<double>(Clock::now() - start).count();
    close(fd);
    t.sent = sent;
    t.sent_rate = static_cast<double>(sent) / t.seconds;
    t.sender_limited = t.sent_rate < 0.97 * rate;

    // Drain: the socket queue empty for a while, then stop (both listeners
    // finish what they read before exiting on SIGTERM).
    const auto dstart = Clock::now();
    int empty = 0;
    while (empty < 5 && Clock::now() - dstart < std::chrono::seconds(60)) {
        check_stop();
        empty = udp_port_state(port).rx_queue == 0 ? empty + 1 : 0;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    t.drain_s = std::chrono::duration<double>(Clock::now() - dstart).count();
    t.kernel_drops = udp_port_state(port).drops - drops_before;
    t.clean_exit = child.stop(SIGTERM, std::chrono::seconds(30)) == 0;
    t.stored = kind == Kind::Collector ? count_sqlite_profiles(dir / "collect.sqlite")
                                       : count_nfcapd_flows(o.nfdump, dir / "flows");
    t.stored_frac = sent ? static_cast<double>(t.stored) / static_cast<double>(sent) : 0;
    t.send_errors = send_errors;
    // More stored than sent would be a counting error: never a pass.
    t.pass = t.stored_frac >= o.threshold && t.stored <= sent && send_errors == 0;
    fs::remove_all(dir);
    return t;
}

}  // namespace

int main(int argc, char** argv) {
    Options o;
    CLI::App app{"Collector vs nfcapd: highest loss-free ingest rate on the same IPFIX stream"};
    app.add_option("--flowcorder", o.flowcorder, "flowcorder binary (default: next to this one)");
    app.add_option("--nfcapd", o.nfcapd, "nfcapd binary");
    app.add_option("--nfdump", o.nfdump, "nfdump binary");
    app.add_option("--reps", o.reps, "repetitions (each searches both listeners)")
        ->check(CLI::PositiveNumber);
    app.add_option("--trial-seconds", o.trial_s, "seconds of paced sending per trial");
    app.add_option("--start-rate", o.start_rate, "first target rate, records/s");
    app.add_option("--max-rate", o.max_rate, "highest target rate, records/s");
    app.add_option("--bisect", o.bisect, "bisection steps after doubling");
    app.add_option("--threshold", o.threshold, "fraction of records that must be stored");
    app.add_option("--stream-records", o.stream_records, "distinct records in the stream");
    app.add_flag("--quick", o.quick, "1 repetition, 1 s trials, 3 bisections (about 40 s)");
    app.add_option("--out", o.out, "JSON results");
    CLI11_PARSE(app, argc, argv);
    if (o.quick) {
        o.reps = 1;
        o.trial_s = 1;
        o.bisect = 3;
    }
    if (o.flowcorder.empty())
        o.flowcorder = (fs::read_symlink("/proc/self/exe").parent_path() / "flowcorder").string();

    struct sigaction sa {};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
    sigaction(SIGHUP, &sa, nullptr);

    char tmpl[] = "/tmp/fc_ingest_race.XXXXXX";
    if (!mkdtemp(tmpl)) {
        std::perror("mkdtemp");
        return 1;
    }
    const fs::path root = tmpl;
    int rc = 0;
    try {
        const fc::bench::IpfixStream stream =
            fc::bench::capture_stream(fc::bench::profile_records(o.stream_records));
        size_t bytes = 0;
        for (const auto& m : stream.data) bytes += m.size();
        std::fprintf(stderr,
                     "ingest race: stream of %zu data messages, %llu records (%.1f records, %.0f "
                     "bytes per message), %zu preamble messages\n",
                     stream.data.size(), static_cast<unsigned long long>(stream.total_data_records),
                     static_cast<double>(stream.total_data_records) / stream.data.size(),
                     static_cast<double>(bytes) / stream.data.size(), stream.preamble.size());
        json trials = json::array(), reps = json::array();
        long rcvbuf_eff[2] = {-1, -1};
        std::vector<double> rates[2];
        int sender_bound[2] = {0, 0};
        int serial = 0;
        for (int rep = 0; rep < o.reps; ++rep) {
            const Kind order[2] = {rep % 2 ? Kind::Nfcapd : Kind::Collector,
                                   rep % 2 ? Kind::Collector : Kind::Nfcapd};
            for (Kind k : order) {
                auto trial = [&](double rate) {
                    const Trial t = run_trial(k, rate, o, stream, root, serial++);
                    long& rb = rcvbuf_eff[k == Kind::Collector ? 0 : 1];
                    rb = std::max(rb, t.rcvbuf);
                    json j = to_json(t);
                    j["rep"] = rep;
                    trials.push_back(j);
                    std::fprintf(stderr,
                                 "  rep %d %-9s target %9.0f sent %9.0f/s (%llu) stored %.4f "
                                 "drops %llu %s%s\n",
                                 rep, kind_name(k), t.target_rate, t.sent_rate,
                                 static_cast<unsigned long long>(t.sent), t.stored_frac,
                                 static_cast<unsigned long long>(t.kernel_drops),
                                 t.pass ? "pass" : "FAIL",
                                 t.sender_limited ? " (sender-bound)" : "");
                    return fc::bench::TrialOutcome{t.pass, t.sent_rate, t.sender_limited};
                };
                const fc::bench::SearchResult r =
                    fc::bench::search_rate(trial, o.start_rate, o.max_rate, o.bisect);
                rates[k == Kind::Collector ? 0 : 1].push_back(r.best_rate);
                if (r.sender_limited) ++sender_bound[k == Kind::Collector ? 0 : 1];
                reps.push_back({{"rep", rep},
                                {"listener", kind_name(k)},
                                {"records_per_s", r.best_rate},
                                {"lowest_failing_target", r.fail_rate},
                                {"sender_limited", r.sender_limited},
                                {"trials", r.trials}});
            }
        }
        const fc::bench::Summary c = fc::bench::summarize(rates[0]),
                                 n = fc::bench::summarize(rates[1]);
        // sender_bound_reps: repetitions whose search ended because the
        // sender could go no faster with everything stored: the listener's
        // rate is then a lower bound.
        auto sj = [](const fc::bench::Summary& s, int bound) {
            return json{{"median", s.median},
                        {"min", s.min},
                        {"max", s.max},
                        {"n", s.n},
                        {"sender_bound_reps", bound},
                        {"is_lower_bound", bound > 0 && static_cast<size_t>(bound) * 2 >= s.n}};
        };
        json out = {
            {"collector_records_per_s", c.median},
            {"nfcapd_records_per_s", n.median},
            {"collector", sj(c, sender_bound[0])},
            {"nfcapd", sj(n, sender_bound[1])},
            {"ratio_collector_over_nfcapd", n.median > 0 ? c.median / n.median : 0},
            {"collector_ge_nfcapd", c.median >= n.median},
            {"method",
             {{"trial_seconds", o.trial_s},
              {"threshold_stored_fraction", o.threshold},
              {"start_rate", o.start_rate},
              {"max_rate", o.max_rate},
              {"bisect_steps", o.bisect},
              {"repetitions", o.reps},
              {"rcvbuf_requested_bytes", kCollectorRcvbuf},
              {"rcvbuf_note",
               "both listeners request the same SO_RCVBUF (collector: built in; nfcapd: -B); "
               "rcvbuf_effective per trial is ss's rb. A full buffer absorbs about rb/truesize "
               "datagrams, so a trial's loss-free rate can exceed the sustained rate by up to "
               "that many records / trial_seconds, equally for both"},
              {"rcvbuf_effective_bytes", {{"collector", rcvbuf_eff[0]}, {"nfcapd", rcvbuf_eff[1]}}},
              {"buffer_inflation_bound_records_per_s",
               static_cast<double>(std::max(rcvbuf_eff[0], rcvbuf_eff[1])) /
                   (static_cast<double>(bytes) / stream.data.size()) *
                   (static_cast<double>(stream.total_data_records) / stream.data.size()) /
                   o.trial_s},
              {"stream_messages", stream.data.size()},
              {"stream_records", stream.total_data_records},
              {"records_per_message",
               static_cast<double>(stream.total_data_records) / stream.data.size()},
              {"message_bytes_mean", static_cast<double>(bytes) / stream.data.size()},
              {"counting",
               "collector: SELECT count(*) FROM profiles; nfcapd: nfdump -I Flows_tcp"}}},
            {"repetitions", reps},
            {"trials", trials}};
        std::printf("\n%-10s %5s %14s %14s %14s\n", "listener", "reps", "median rec/s", "min rec/s",
                    "max rec/s");
        std::printf("%-10s %5zu %14.0f %14.0f %14.0f%s\n", "collector", c.n, c.median, c.min, c.max,
                    sender_bound[0] ? "  (sender-bound in some reps: lower bound)" : "");
        std::printf("%-10s %5zu %14.0f %14.0f %14.0f%s\n", "nfcapd", n.n, n.median, n.min, n.max,
                    sender_bound[1] ? "  (sender-bound in some reps: lower bound)" : "");
        std::printf("same SO_RCVBUF request %d bytes; effective rb collector %ld, nfcapd %ld\n",
                    kCollectorRcvbuf, rcvbuf_eff[0], rcvbuf_eff[1]);
        std::printf("collector / nfcapd = %.3f\n", n.median > 0 ? c.median / n.median : 0.0);
        if (!o.out.empty()) {
            std::ofstream f(o.out);
            f << out.dump(2) << "\n";
        }
    } catch (const Interrupted&) {
        std::fprintf(stderr, "ingest race: interrupted\n");
        rc = 130;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "ingest race: %s\n", e.what());
        rc = 1;
    }
    std::error_code ec;
    fs::remove_all(root, ec);
    return rc;
}
