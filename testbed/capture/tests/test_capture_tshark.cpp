// Integration test: a real TCP transfer through the impairment engine
// (`flowcorder link`), captured by `flowcorder capture` on both ends,
// analysed by `flowcorder analyse-pcap` and checked against the engine's
// per-packet log and against tshark's TCP analysis of the same files.
// Namespaces fc-cap-a / fc-cap-b, addresses 198.18.9.0/24. Root needed.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/prctl.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <numeric>
#include <set>
#include <sstream>

#include "capture/analysis.hpp"
#include "impair/log.hpp"
#include "netns_util.hpp"

using fc::testbed::TempNetns;
using fc::testbed::thread_in_netns;

namespace {

const std::string kBin = FC_FLOWCORDER_BIN;
const std::string kA = "198.18.9.1", kB = "198.18.9.2";
constexpr uint16_t kPort = 5001;
constexpr size_t kBytes = 4 << 20;

std::string tmp(const std::string& n) {
    return (std::filesystem::temp_directory_path() / ("fc-cap-it-" + n)).string();
}

// A `flowcorder SUBCOMMAND ...` child: started, waited for until a word
// appears in its output, stopped by a signal. It dies with the test (PDEATHSIG).
class Child {
  public:
    explicit Child(std::vector<std::string> args) : args_(std::move(args)) {}
    ~Child() { stop(SIGKILL); }
    bool start(const std::string& ready_word, double timeout_s = 10) {
        int out[2];
        if (pipe2(out, O_CLOEXEC) < 0) return false;
        pid_ = fork();
        if (pid_ == 0) {
            prctl(PR_SET_PDEATHSIG, SIGTERM);
            dup2(out[1], 1);
            dup2(out[1], 2);
            std::vector<char*> a{const_cast<char*>(kBin.c_str())};
            for (auto& s : args_) a.push_back(const_cast<char*>(s.c_str()));
            a.push_back(nullptr);
            execv(kBin.c_str(), a.data());
            _exit(127);
        }
        close(out[1]);
        fd_ = out[0];
        const auto until =
            std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
        while (std::chrono::steady_clock::now() < until) {
            pollfd p{fd_, POLLIN, 0};
            if (poll(&p, 1, 100) <= 0) continue;
            char buf[4096];
            const ssize_t n = read(fd_, buf, sizeof buf);
            if (n <= 0) return false;
            out_.append(buf, size_t(n));
            if (out_.find(ready_word) != std::string::npos) return true;
        }
        return false;
    }
    int stop(int sig = SIGINT) {
        if (pid_ <= 0) return status_;
        kill(pid_, sig);
        char buf[4096];
        ssize_t n;
        while ((n = read(fd_, buf, sizeof buf)) > 0) out_.append(buf, size_t(n));
        int st = 0;
        waitpid(pid_, &st, 0);
        close(fd_);
        pid_ = fd_ = -1;
        status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        return status_;
    }
    const std::string& output() const { return out_; }

  private:
    std::vector<std::string> args_;
    pid_t pid_ = -1;
    int fd_ = -1;
    int status_ = -1;
    std::string out_;
};

// tshark's view: one line per matching frame with the requested fields (tab-separated).
std::vector<std::string> tshark_lines(const std::string& pcap, const std::string& filter,
                                      const std::string& fields = "frame.number") {
    std::string cmd = "tshark -n -o tcp.calculate_timestamps:TRUE -r '" + pcap + "' -Y '" + filter +
                      "' -T fields";
    std::istringstream names(fields);
    for (std::string f; names >> f;) cmd += " -e " + f;
    cmd += " 2>/dev/null";
    std::FILE* f = popen(cmd.c_str(), "r");
    if (!f) throw std::runtime_error("cannot run tshark");
    std::vector<std::string> lines;
    char buf[512];
    while (std::fgets(buf, sizeof buf, f)) {
        std::string s(buf);
        while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
        if (!s.empty()) lines.push_back(s);
    }
    if (pclose(f) != 0) throw std::runtime_error("tshark failed: " + cmd);
    return lines;
}
std::vector<std::string> split_tabs(const std::string& line) {
    std::vector<std::string> v;
    std::istringstream in(line);
    for (std::string x; std::getline(in, x, '\t');) v.push_back(x);
    return v;
}
// "1700000000.123456789" (tshark's frame.time_epoch) -> ns, without a double's rounding.
int64_t epoch_ns(const std::string& s) {
    const size_t dot = s.find('.');
    std::string frac = dot == std::string::npos ? "" : s.substr(dot + 1);
    frac.resize(9, '0');
    return std::stoll(s.substr(0, dot)) * 1000000000 + std::stoll(frac);
}
size_t tshark_count(const std::string& pcap, const std::string& filter) {
    return tshark_lines(pcap, filter).size();
}

nlohmann::json analyse(const std::string& pcap) {
    const std::string out = pcap + ".json";
    const auto r = fc::impair::run_cmd({kBin, "analyse-pcap", pcap, "-o", out});
    if (r.status != 0) throw std::runtime_error("analyse-pcap failed: " + r.output);
    std::ifstream f(out);
    return nlohmann::json::parse(f);
}

// The transfer: A connects to B and sends kBytes, then both close.
size_t transfer(const TempNetns& a, const TempNetns& b) {
    std::atomic<size_t> received{0};
    std::atomic<bool> listening{false};
    auto with_timeout = [](int fd) {
        timeval tv{30, 0};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    };
    std::thread server = thread_in_netns(b.name(), [&] {
        const int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        int one = 1;
        setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        sockaddr_in sa{};
        sa.sin_family = AF_INET;
        sa.sin_port = htons(kPort);
        bind(l, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
        listen(l, 1);
        with_timeout(l);
        listening = true;
        const int c = accept(l, nullptr, nullptr);
        if (c >= 0) {
            with_timeout(c);
            char buf[65536];
            ssize_t n;
            while ((n = read(c, buf, sizeof buf)) > 0) received += size_t(n);
            close(c);
        }
        close(l);
    });
    while (!listening) usleep(1000);
    std::thread client = thread_in_netns(a.name(), [&] {
        const int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        with_timeout(s);
        sockaddr_in sa{};
        sa.sin_family = AF_INET;
        sa.sin_port = htons(kPort);
        inet_pton(AF_INET, kB.c_str(), &sa.sin_addr);
        if (connect(s, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0) {
            std::vector<char> buf(65536, 'x');
            size_t sent = 0;
            while (sent < kBytes) {
                const ssize_t n = write(s, buf.data(), std::min(buf.size(), kBytes - sent));
                if (n <= 0) break;
                sent += size_t(n);
            }
            shutdown(s, SHUT_WR);
            char c;
            while (read(s, &c, 1) > 0) {
            }
        }
        close(s);
    });
    client.join();
    server.join();
    return received;
}

// The run's files, removed however the test ends.
struct TempFiles {
    std::vector<std::string> paths;
    ~TempFiles() {
        for (const auto& p : paths)
            for (const char* ext : {"", ".json", ".stats.json"}) std::filesystem::remove(p + ext);
    }
};

double mean(const std::vector<double>& v) {
    return v.empty() ? 0 : std::accumulate(v.begin(), v.end(), 0.0) / double(v.size());
}

}  // namespace

TEST(CaptureVsTshark, ImpairedTransferAgreesWithEngineLogAndTshark) {
    TempNetns na("fc-cap-a"), nb("fc-cap-b");
    const std::string log = tmp("link.implog"), pa = tmp("a.pcap"), pb = tmp("b.pcap");
    const TempFiles files{{log, pa, pb}};
    for (const auto& f : files.paths) std::filesystem::remove(f);
    Child link({"link", "--ns-a", na.name(), "--ns-b", nb.name(), "--name", "capt", "--addr-a",
                kA + "/24", "--addr-b", kB + "/24", "--ab",
                "loss random 2% delay 5ms reorder 25% 50%", "--ba", "delay 5ms", "--seed", "3",
                "--log", log});
    ASSERT_TRUE(link.start(" ready: ")) << link.output();
    Child cap_a({"capture", "--netns", na.name(), "--iface", "fc-capt-a", "--out", pa});
    Child cap_b({"capture", "--netns", nb.name(), "--iface", "fc-capt-b", "--out", pb});
    ASSERT_TRUE(cap_a.start("capturing")) << cap_a.output();
    ASSERT_TRUE(cap_b.start("capturing")) << cap_b.output();

    ASSERT_EQ(transfer(na, nb), kBytes);
    usleep(300000);  // the last ACKs cross the 5 ms link
    EXPECT_EQ(cap_a.stop(SIGINT), 0) << cap_a.output();
    EXPECT_EQ(cap_b.stop(SIGTERM), 0) << cap_b.output();
    EXPECT_EQ(link.stop(), 0) << link.output();
    std::printf("A: %sB: %s", cap_a.output().c_str(), cap_b.output().c_str());
    // A capture with drops is incomplete: nothing below would mean anything.
    ASSERT_NE(cap_a.output().find("pcap drops 0 "), std::string::npos) << cap_a.output();
    ASSERT_NE(cap_b.output().find("pcap drops 0 "), std::string::npos) << cap_b.output();

    const auto ja = analyse(pa), jb = analyse(pb);
    ASSERT_EQ(ja["pcap_drops"], 0);  // read from the capture's sidecar
    ASSERT_EQ(jb["pcap_drops"], 0);
    ASSERT_EQ(ja["connections"].size(), 1u) << ja.dump(1);
    ASSERT_EQ(jb["connections"].size(), 1u) << jb.dump(1);
    const auto &ca = ja["connections"][0], &cb = jb["connections"][0];
    EXPECT_EQ(ca["client"], kA);
    EXPECT_EQ(ca["server"], kB);
    EXPECT_EQ(ca["sport"], kPort);
    EXPECT_EQ(ca["cport"], cb["cport"]);
    const auto &snd = ca["c2s"], &rcv = cb["c2s"];  // the data direction at each end
    std::printf("sender end (A): %s\nreceiver end (B): %s\n", snd.dump().c_str(),
                rcv.dump().c_str());

    // --- The engine's log: what left A, what it dropped, what reached B. ---
    const auto lf = fc::impair::read_log(log);
    uint64_t data_in = 0, data_dropped = 0;
    for (const auto& r : lf.records) {
        if (r.dir != 0 || r.proto != IPPROTO_TCP || r.payload_len == 0) continue;
        ASSERT_EQ(r.count, 1u) << "aggregate record (ring overflow?) in the data direction";
        ++data_in;
        if (r.action == uint8_t(fc::impair::Action::dropped)) ++data_dropped;
    }
    // Every data segment A sent went into the engine; B saw exactly the forwarded ones.
    EXPECT_EQ(snd["data_segs"], data_in);
    EXPECT_EQ(rcv["data_segs"], data_in - data_dropped);
    // A dropped data segment must be sent again for the transfer to complete.
    EXPECT_GE(snd["retrans_segs"].get<uint64_t>(), data_dropped);
    EXPECT_GT(data_dropped, 0u) << "2 % loss dropped nothing: the test proves little";
    // At the sender every byte goes out once plus its retransmissions.
    EXPECT_EQ(snd["data_bytes"].get<uint64_t>() - snd["retrans_bytes"].get<uint64_t>(), kBytes);

    // --- tshark's second opinion on the same files. ---
    const std::string data_ab = "ip.src==" + kA + " && tcp.len>0";
    // Exact: the data segments each end saw.
    EXPECT_EQ(tshark_count(pa, data_ab), snd["data_segs"].get<size_t>());
    EXPECT_EQ(tshark_count(pb, data_ab), rcv["data_segs"].get<size_t>());

    // Sender's end. Nothing can be reordered before the engine, so every data
    // segment below the highest sequence already sent is a retransmission in
    // both analyses. tshark splits them by its heuristics: "retransmission",
    // "fast_retransmission", "spurious_retransmission" (already ACKed), and
    // "out_of_order" (sent within its reordering threshold of the previous
    // highest segment, e.g. a fast retransmit right after new data). Together
    // they are exactly our retrans_segs.
    const std::string again =
        "(tcp.analysis.retransmission || tcp.analysis.fast_retransmission || "
        "tcp.analysis.spurious_retransmission || tcp.analysis.out_of_order)";
    const size_t ts_again_a = tshark_count(pa, data_ab + " && " + again);
    std::printf("tshark at A: retransmission %zu, fast %zu, spurious %zu, out_of_order %zu\n",
                tshark_count(pa, data_ab + " && tcp.analysis.retransmission"),
                tshark_count(pa, data_ab + " && tcp.analysis.fast_retransmission"),
                tshark_count(pa, data_ab + " && tcp.analysis.spurious_retransmission"),
                tshark_count(pa, data_ab + " && tcp.analysis.out_of_order"));
    EXPECT_EQ(ts_again_a, snd["retrans_segs"].get<size_t>());

    // Receiver's end. The definitions differ, so only bounds hold:
    // - tshark flags a segment starting below the highest sequence seen so
    //   far (one of the four flags above). Our duplicates end at or below the
    //   emulated rcv_nxt, itself at or below that highest sequence, so every
    //   one of ours is flagged; tshark also flags hole fillers, which we don't
    //   count as duplicates.
    // - tshark's "spurious_retransmission" means wholly below the receiver's
    //   last ACK, and an ACK never exceeds rcv_nxt: each is one of our duplicates.
    // - tshark's "lost_segment" marks a segment starting above the highest
    //   sequence seen (a gap opens); ours counts every segment starting above
    //   rcv_nxt, i.e. also those arriving while a gap stays open.
    const size_t ts_again_b = tshark_count(pb, data_ab + " && " + again);
    const size_t ts_spurious_b =
        tshark_count(pb, data_ab + " && tcp.analysis.spurious_retransmission");
    const size_t ts_lost_b = tshark_count(pb, data_ab + " && tcp.analysis.lost_segment");
    std::printf("tshark at B: flagged %zu, spurious %zu, lost_segment %zu, out_of_order %zu\n",
                ts_again_b, ts_spurious_b, ts_lost_b,
                tshark_count(pb, data_ab + " && tcp.analysis.out_of_order"));
    // - tshark knows neither PAWS nor the receiver's socket lifetime: a data
    //   segment PAWS drops (see FORMATS.md) may be its gap opener, and one
    //   arriving once the receiver's socket is gone may be its spurious one.
    EXPECT_LE(rcv["dup_segs"].get<size_t>(), ts_again_b);
    EXPECT_GE(rcv["dup_segs"].get<size_t>() + rcv["after_close"].get<size_t>(), ts_spurious_b);
    EXPECT_GE(rcv["ooo_segs"].get<size_t>() + rcv["paws_drops"].get<size_t>(), ts_lost_b);
    EXPECT_GT(rcv["ooo_segs"].get<size_t>(), 0u) << "25 % reordering produced no reordering";

    // Handshake at A: SYN to SYN-ACK, tshark's time since the stream's previous frame.
    const auto synack = tshark_lines(pa, "tcp.flags.syn==1 && tcp.flags.ack==1", "tcp.time_delta");
    ASSERT_FALSE(synack.empty());
    ASSERT_FALSE(ca["handshake_ns"].is_null());
    const double hs_ns = ca["handshake_ns"].get<double>(), ts_hs_ns = std::stod(synack[0]) * 1e9;
    if (ca["syn"] == 1) {
        EXPECT_NEAR(hs_ns, ts_hs_ns, 1.0);  // both from the same two ns timestamps
    } else {  // a lost SYN: ours runs from the first SYN, tshark's from the last
        EXPECT_GT(hs_ns, ts_hs_ns);
    }
    EXPECT_GE(hs_ns, 5e6);  // at least the one-way delay back (the SYN may skip the queue)

    // RTT at A. Ours is one sample per segment (to the first ACK covering
    // it, Karn); tshark's ack_rtt one per ACK, from one segment that ACK newly
    // covers, with no Karn, and only while its unacked-segment list tracks the
    // flow. So every tshark sample whose segment carries data and was never
    // sent twice must be one of ours, to the nanosecond. The means cannot
    // agree: behind a hole every segment waits for the retransmission before
    // an ACK covers it, and ours samples them all.
    std::map<int64_t, std::tuple<int64_t, int64_t, int64_t>> data_frames;  // no -> ts, seq, nxt
    for (const auto& l :
         tshark_lines(pa, data_ab, "frame.number frame.time_epoch tcp.seq tcp.nxtseq")) {
        const auto v = split_tabs(l);
        data_frames[std::stoll(v.at(0))] = {epoch_ns(v.at(1)), std::stoll(v.at(2)),
                                            std::stoll(v.at(3))};
    }
    std::vector<std::pair<int64_t, int64_t>> resent;  // ranges tshark saw sent again
    for (const auto& l : tshark_lines(pa, data_ab + " && " + again)) {
        const auto& [t, s, e] = data_frames.at(std::stoll(l));
        resent.emplace_back(s, e);
    }
    auto sent_twice = [&](int64_t s, int64_t e) {
        for (const auto& [rs, re] : resent)
            if (rs < e && s < re) return true;
        return false;
    };
    const auto ours = fc::capture::analyse_pcap(pa, true);
    const auto& pairs = ours.connections.at(0).c2s.rtt_pairs;
    const std::set<std::pair<int64_t, int64_t>> our_pairs(pairs.begin(), pairs.end());
    std::vector<double> ts_rtt;
    size_t comparable = 0, matched = 0;
    for (const auto& l :
         tshark_lines(pa, "ip.src==" + kB + " && tcp.analysis.ack_rtt",
                      "frame.time_epoch tcp.analysis.acks_frame tcp.analysis.ack_rtt")) {
        const auto v = split_tabs(l);
        ts_rtt.push_back(std::stod(v.at(2)) * 1e6);
        const auto it = data_frames.find(std::stoll(v.at(1)));
        if (it == data_frames.end()) continue;  // the ACK of a SYN or a bare FIN
        const auto& [seg_ns, s, e] = it->second;
        if (sent_twice(s, e)) continue;
        ++comparable;
        matched += our_pairs.count({seg_ns, epoch_ns(v.at(0))});
    }
    const auto& rtt = snd["rtt"];
    std::printf(
        "RTT at A: ours %llu samples mean %.1f us (min %.1f max %.1f); tshark %zu samples mean "
        "%.1f us, %zu comparable, %zu of them ours too\n",
        (unsigned long long)rtt["samples"].get<uint64_t>(), rtt["mean_us"].get<double>(),
        rtt["min_us"].get<double>(), rtt["max_us"].get<double>(), ts_rtt.size(), mean(ts_rtt),
        comparable, matched);
    EXPECT_EQ(pairs.size(), rtt["samples"].get<size_t>());
    ASSERT_GT(comparable, 50u);
    EXPECT_EQ(matched, comparable);
    EXPECT_GE(rtt["samples"].get<size_t>(), comparable);
    EXPECT_GE(rtt["min_us"].get<double>(), 5000.0);  // the ACK's 5 ms at the very least

    // Once-per-round RTT (the kernel's sampling): fewer samples than one per
    // segment, and on average at least both directions' 5 ms.
    const auto& rounds = snd["rtt_rounds"];
    std::printf("RTT rounds at A: %llu samples mean %.1f us (min %.1f max %.1f), %llu skipped\n",
                (unsigned long long)rounds["samples"].get<uint64_t>(),
                rounds["mean_us"].get<double>(), rounds["min_us"].get<double>(),
                rounds["max_us"].get<double>(),
                (unsigned long long)rounds["skipped_retrans"].get<uint64_t>());
    EXPECT_GE(rounds["samples"].get<uint64_t>(), 1u);
    EXPECT_LE(rounds["samples"].get<uint64_t>(), rtt["samples"].get<uint64_t>());
    EXPECT_GE(rounds["mean_us"].get<double>(), 10000.0);
    // The rounds processed as captured are one possible sequence (the
    // client's, c2s, includes its handshake round): none of as many rounds
    // is cheaper than the cheapest, and none is longer than the longest.
    const auto& sums = rounds["min_sum_us"];
    const auto n = rounds["samples"].get<size_t>();
    ASSERT_GE(sums.size(), n);
    if (rounds["skipped_retrans"].get<uint64_t>() == 0) {
        EXPECT_LE(sums[n - 1].get<double>() / double(n), rounds["mean_us"].get<double>() + 1e-3);
    }
}

TEST(CaptureVsTshark, CaptureFailsClearlyOnAMissingNamespaceOrInterface) {
    const auto r1 = fc::impair::run_cmd(
        {kBin, "capture", "--netns", "fc-cap-none", "--iface", "lo", "--out", tmp("x.pcap")});
    EXPECT_EQ(r1.status, 1);
    EXPECT_NE(r1.output.find("fc-cap-none"), std::string::npos) << r1.output;
    TempNetns n("fc-cap-c");
    const auto r2 = fc::impair::run_cmd(
        {kBin, "capture", "--netns", n.name(), "--iface", "fc-nope", "--out", tmp("x.pcap")});
    EXPECT_EQ(r2.status, 1);
    EXPECT_NE(r2.output.find("fc-nope"), std::string::npos) << r2.output;
    EXPECT_EQ(r2.output.find("capturing"), std::string::npos) << r2.output;
    std::filesystem::remove(tmp("x.pcap"));
}
