// `make bench` (impairment part): two namespaces joined through
// `flowcorder link`, measured against a plain veth pair in the same run.
// Prints a table and writes results/bench-impairment/summary.json.
//
//   goodput_mbps_direct        iperf3 TCP over a plain veth pair (kernel defaults)
//   goodput_mbps_clean         iperf3 TCP through the engine, no impairment
//   goodput_mbps_10ms_0p1loss  through "delay 10ms loss random 0.1%" (A->B; B->A clean)
//   delay_error_us_p50/p99     one-way delay minus 10 ms, 50 Mbit/s of paced UDP
//   max_pps                    64-byte UDP forwarded per second before the first overflow
// and the same goodput / delay error for each RX I/O path (--io).
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "impair/runner.hpp"
#include "netns_util.hpp"

using namespace fc::testbed;
using json = nlohmann::json;

namespace {

std::string g_bin;
const std::string kA = "198.18.0.1", kB = "198.18.0.2";

struct Topo {
    TempNetns a{"fc-bench-a"}, b{"fc-bench-b"};
};

std::vector<std::string> link_args(Topo& t, const std::string& ab, const std::string& io,
                                   const std::string& ctl = "") {
    std::vector<std::string> v = {"--ns-a",   t.a.name(), "--ns-b",   t.b.name(), "--name", "bench",
                                  "--addr-a", kA + "/24", "--addr-b", kB + "/24", "--ab",   ab,
                                  "--io",     io,         "--seed",   "1"};
    if (!ctl.empty()) {
        v.push_back("--control");
        v.push_back(ctl);
    }
    return v;
}

// iperf3 TCP A -> B for `secs`; returns receiver goodput in Mbit/s.
double iperf(Topo& t, const std::string& dst, int secs) {
    const pid_t srv = fork();
    if (srv == 0) {
        const int null = open("/dev/null", O_WRONLY);
        dup2(null, 1);
        dup2(null, 2);
        execlp("ip", "ip", "netns", "exec", t.b.name().c_str(), "iperf3", "-s", "-1", "-p", "5201",
               static_cast<char*>(nullptr));
        _exit(127);
    }
    usleep(400000);
    const auto r = fc::impair::run_cmd({"ip", "netns", "exec", t.a.name(), "iperf3", "-c", dst,
                                        "-p", "5201", "-t", std::to_string(secs), "-J"});
    int st;
    waitpid(srv, &st, 0);
    try {
        const auto j = json::parse(r.output);
        return j["end"]["sum_received"]["bits_per_second"].get<double>() / 1e6;
    } catch (...) {
        std::fprintf(stderr, "iperf3 failed: %s\n", r.output.substr(0, 400).c_str());
        return 0;
    }
}

// 50 Mbit/s of 1250-byte UDP probes for `secs`; returns one-way delay errors (us).
std::vector<double> delay_errors(Topo& t, double secs, double delay_us) {
    std::atomic<bool> stop{false}, ready{false};
    std::vector<std::pair<uint64_t, int64_t>> got;
    std::thread sink = thread_in_netns(t.b.name(), [&] {
        UdpSink s(9000);
        ready = true;
        s.run(stop);
        got = s.delays;
    });
    while (!ready) usleep(1000);
    std::thread warm = thread_in_netns(t.a.name(), [&] { send_probes(kB, 9001, 5, 2000000, 64); });
    warm.join();
    usleep(100000);
    const size_t size = 1250 - 28;  // 1250 bytes of IP packet
    const int64_t gap = 200000;     // 5000 pps * 1250 B * 8 = 50 Mbit/s
    const uint64_t n = static_cast<uint64_t>(secs * 1e9 / gap);
    std::thread src = thread_in_netns(t.a.name(), [&] { send_probes(kB, 9000, n, gap, size); });
    src.join();
    usleep(200000);
    stop = true;
    sink.join();
    std::vector<double> e;
    for (auto& [s, d] : got) e.push_back(d / 1e3 - delay_us);
    if (e.size() < n)
        std::fprintf(stderr, "delay probes: %zu of %llu arrived\n", e.size(),
                     (unsigned long long)n);
    return e;
}

uint64_t stat_of(const std::string& stats, const std::string& dir, const std::string& key) {
    try {
        return json::parse(stats)[dir][key].get<uint64_t>();
    } catch (...) {
        return 0;
    }
}

// 64-byte UDP at increasing rates; the forwarded rate of the last step without
// an overflow (ring, veth drop or queue limit).
json max_pps(Topo& t, const std::string& ctl) {
    json steps = json::array();
    double best = 0;
    for (double rate : {25e3, 50e3, 100e3, 150e3, 200e3, 300e3, 400e3, 600e3}) {
        const std::string before = fc::impair::control_request(ctl, "stats");
        std::atomic<uint64_t> sent{0};
        const double secs = 1.0;
        std::thread src = thread_in_netns(t.a.name(), [&] {
            const int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
            sockaddr_in a{};
            a.sin_family = AF_INET;
            a.sin_port = htons(9);  // discard: B has no listener; the engine forwards anyway
            inet_pton(AF_INET, kB.c_str(), &a.sin_addr);
            connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
            char payload[64] = {};
            mmsghdr msgs[64];
            iovec iov{payload, sizeof payload};
            for (auto& m : msgs) {
                m = {};
                m.msg_hdr.msg_iov = &iov;
                m.msg_hdr.msg_iovlen = 1;
            }
            timespec next;
            clock_gettime(CLOCK_MONOTONIC, &next);
            const int ticks = static_cast<int>(secs * 1000);
            double owed = 0;
            for (int i = 0; i < ticks; ++i) {
                owed += rate / 1000;
                while (owed >= 1) {
                    const int k = static_cast<int>(std::min(64.0, owed));
                    const int r = sendmmsg(fd, msgs, k, 0);
                    if (r <= 0) break;
                    sent += r;
                    owed -= r;
                }
                next.tv_nsec += 1000000;
                if (next.tv_nsec >= 1000000000) {
                    next.tv_nsec -= 1000000000;
                    ++next.tv_sec;
                }
                clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, nullptr);
            }
            close(fd);
        });
        src.join();
        usleep(300000);
        const std::string after = fc::impair::control_request(ctl, "stats");
        auto d = [&](const char* k) { return stat_of(after, "ab", k) - stat_of(before, "ab", k); };
        const uint64_t fwd = d("forwarded"),
                       over = d("rx_overflow") + d("tx_dropped") + d("dropped_limit");
        steps.push_back({{"offered_pps", rate},
                         {"sent_pps", sent / secs},
                         {"forwarded_pps", fwd / secs},
                         {"overflow", over}});
        std::printf("  max_pps step: offered %.0f, sent %.0f, forwarded %.0f pps, overflow %llu\n",
                    rate, sent / secs, fwd / secs, (unsigned long long)over);
        if (over > 0) break;
        best = fwd / secs;
        if (sent / secs < rate * 0.9) break;  // the sender is the limit now
    }
    return {{"max_pps", best}, {"steps", steps}};
}

}  // namespace

int main(int argc, char** argv) {
    g_bin = argc > 1 ? argv[1] : "build/flowcorder";
    const std::string out_dir = argc > 2 ? argv[2] : "results/bench-impairment";
    const int secs = 5;
    json j;
    auto loadavg = [] {
        std::ifstream f("/proc/loadavg");
        std::string s;
        std::getline(f, s);
        return s;
    };
    j["loadavg_start"] = loadavg();  // this machine is shared: say how busy it was
    Topo t;
    // 1) A plain veth pair between the same namespaces.
    fc::impair::must_run({"ip", "link", "add", "fc-bd-a", "netns", t.a.name(), "type", "veth",
                          "peer", "name", "fc-bd-b", "netns", t.b.name()});
    fc::impair::must_run(
        {"ip", "-n", t.a.name(), "addr", "add", "198.19.0.1/24", "dev", "fc-bd-a"});
    fc::impair::must_run(
        {"ip", "-n", t.b.name(), "addr", "add", "198.19.0.2/24", "dev", "fc-bd-b"});
    fc::impair::must_run({"ip", "-n", t.a.name(), "link", "set", "fc-bd-a", "up"});
    fc::impair::must_run({"ip", "-n", t.b.name(), "link", "set", "fc-bd-b", "up"});
    j["goodput_mbps_direct"] = iperf(t, "198.19.0.2", secs);
    std::printf("direct veth: %.0f Mbit/s\n", j["goodput_mbps_direct"].get<double>());
    fc::impair::run_cmd({"ip", "-n", t.a.name(), "link", "del", "fc-bd-a"});

    // 2) Per I/O path: clean goodput and delay error.
    json paths;
    for (const char* io : {"ring", "ring-v3", "mmsg"}) {
        json p;
        {
            LinkProcess link(g_bin, link_args(t, "", io));
            if (!link.start()) {
                std::fprintf(stderr, "link failed: %s\n", link.output().c_str());
                return 1;
            }
            p["goodput_mbps_clean"] = iperf(t, kB, secs);
            link.stop();
            std::printf("io=%s clean: %.0f Mbit/s; %s\n", io, p["goodput_mbps_clean"].get<double>(),
                        link.output().substr(link.output().rfind("stats")).substr(0, 200).c_str());
        }
        {
            LinkProcess link(g_bin, link_args(t, "delay 10ms", io));
            if (!link.start()) return 1;
            auto e = delay_errors(t, 3.0, 10000);
            link.stop();
            p["delay_error_us_p50"] = percentile(e, 50);
            p["delay_error_us_p99"] = percentile(e, 99);
            p["delay_error_us_max"] = percentile(e, 100);
            p["delay_probes"] = e.size();
            std::printf(
                "io=%s delay 10ms: error p50 %.1f us, p99 %.1f us, max %.1f us (%zu probes)\n", io,
                p["delay_error_us_p50"].get<double>(), p["delay_error_us_p99"].get<double>(),
                p["delay_error_us_max"].get<double>(), e.size());
        }
        paths[io] = p;
    }
    j["io_paths"] = paths;
    // The headline numbers are the default path's (mmsg, chosen by this benchmark).
    j["goodput_mbps_clean"] = paths["mmsg"]["goodput_mbps_clean"];
    j["delay_error_us_p50"] = paths["mmsg"]["delay_error_us_p50"];
    j["delay_error_us_p99"] = paths["mmsg"]["delay_error_us_p99"];

    // 3) delay 10ms loss random 0.1% (A->B), netem's default limit and a larger one.
    for (const char* spec :
         {"delay 10ms loss random 0.1%", "delay 10ms loss random 0.1% limit 10000"}) {
        LinkProcess link(g_bin, link_args(t, spec, "mmsg"));
        if (!link.start()) return 1;
        const double g = iperf(t, kB, 10);
        link.stop();
        const std::string key = std::string(spec).find("limit") == std::string::npos
                                    ? "goodput_mbps_10ms_0p1loss"
                                    : "goodput_mbps_10ms_0p1loss_limit10000";
        j[key] = g;
        std::printf("\"%s\": %.0f Mbit/s; %s\n", spec, g,
                    link.output().substr(link.output().rfind("stats")).substr(0, 300).c_str());
    }

    // 4) max_pps.
    {
        const std::string ctl = "/tmp/fc-bench-ctl.sock";
        LinkProcess link(g_bin, link_args(t, "", "mmsg", ctl));
        if (!link.start()) return 1;
        const auto m = max_pps(t, ctl);
        link.stop();
        j["max_pps"] = m["max_pps"];
        j["max_pps_steps"] = m["steps"];
    }

    std::printf("\n%-34s %12s\n", "metric", "value");
    for (const char* k : {"goodput_mbps_direct", "goodput_mbps_clean", "goodput_mbps_10ms_0p1loss",
                          "goodput_mbps_10ms_0p1loss_limit10000", "delay_error_us_p50",
                          "delay_error_us_p99", "max_pps"})
        std::printf("%-34s %12.1f\n", k, j[k].get<double>());
    std::printf("\n%-8s %14s %12s %12s\n", "io", "clean Mbit/s", "err p50 us", "err p99 us");
    for (const char* io : {"ring", "ring-v3", "mmsg"})
        std::printf("%-8s %14.0f %12.1f %12.1f\n", io,
                    paths[io]["goodput_mbps_clean"].get<double>(),
                    paths[io]["delay_error_us_p50"].get<double>(),
                    paths[io]["delay_error_us_p99"].get<double>());
    j["loadavg_end"] = loadavg();
    std::printf("load average: start %s, end %s\n", j["loadavg_start"].get<std::string>().c_str(),
                j["loadavg_end"].get<std::string>().c_str());
    std::filesystem::create_directories(out_dir);
    std::ofstream(out_dir + "/summary.json") << j.dump(2) << "\n";
    std::printf("\nwritten %s/summary.json\n", out_dir.c_str());
    return 0;
}
