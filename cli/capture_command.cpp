// flowcorder capture / analyse-pcap: libpcap captures on the testbed's links
// and our own TCP analysis of them (testbed/FORMATS.md, "Capture analysis").
#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>

#include "capture/analysis.hpp"
#include "capture/capture.hpp"
#include "commands.hpp"

namespace fc::cli {
namespace {

volatile std::sig_atomic_t g_stop = 0;

void on_stop_signal(int) { g_stop = 1; }

[[noreturn]] void fail(const char* cmd, const std::string& msg, int code) {
    std::fprintf(stderr, "flowcorder %s: %s\n", cmd, msg.c_str());
    throw CLI::RuntimeError(code);
}

// No SA_RESTART: the signal interrupts poll() so the capture stops promptly.
void install_stop_handlers() {
    struct sigaction sa {};
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
}

void add_capture(CLI::App& app) {
    auto* cmd = app.add_subcommand(
        "capture",
        "Capture packets with libpcap (ns timestamps) on an interface of a network namespace "
        "until SIGINT/SIGTERM; FILE.pcap.stats.json records pcap's drop counters");
    auto o = std::make_shared<capture::CaptureOptions>();
    cmd->add_option("--netns", o->netns, "Network namespace (/var/run/netns/NAME)");
    cmd->add_option("--iface", o->iface, "Interface to capture on")->required();
    cmd->add_option("--out", o->out, "pcap file to write")->required();
    cmd->add_option("--snaplen", o->snaplen, "Bytes kept per packet (headers)")
        ->capture_default_str()
        ->check(CLI::Range(68, 262144));
    cmd->add_option("--filter", o->filter, "pcap filter expression")->capture_default_str();
    cmd->add_option("--buffer-mib", o->buffer_mib, "Kernel capture buffer")
        ->capture_default_str()
        ->check(CLI::Range(1, 1024));
    cmd->callback([o] {
        install_stop_handlers();
        capture::CaptureResult r;
        try {
            r = capture::run_capture(*o, g_stop, [] {
                std::printf("capturing\n");
                std::fflush(stdout);
            });
            capture::write_stats_sidecar(*o, r);
        } catch (const capture::CaptureError& e) {
            fail("capture", e.what(), 1);
        }
        std::printf(
            "capture: %llu packets written to %s, pcap drops %llu (ps_drop %llu, ps_ifdrop %llu)\n",
            (unsigned long long)r.packets_written, o->out.c_str(), (unsigned long long)r.drops(),
            (unsigned long long)r.ps_drop, (unsigned long long)r.ps_ifdrop);
        if (r.drops())
            std::fprintf(stderr,
                         "flowcorder capture: WARNING: %llu packets DROPPED by the capture: %s is "
                         "incomplete and so is any analysis of it\n",
                         (unsigned long long)r.drops(), o->out.c_str());
    });
}

void add_analyse(CLI::App& app) {
    auto* cmd = app.add_subcommand("analyse-pcap",
                                   "TCP analysis of a capture per connection and direction (JSON)");
    auto file = std::make_shared<std::string>();
    auto out = std::make_shared<std::string>();
    auto name = std::make_shared<std::string>();
    auto drops = std::make_shared<int64_t>(-1);
    cmd->add_option("file", *file, "pcap or pcapng file")->required();
    cmd->add_option("-o,--output", *out, "JSON file (default: stdout)");
    cmd->add_option("--name", *name, "Value of \"capture\" (default: the file name)");
    cmd->add_option("--drops", *drops,
                    "pcap drop count to record (default: from FILE.stats.json if present)");
    cmd->callback([file, out, name, drops] {
        capture::Analysis a;
        try {
            a = capture::analyse_pcap(*file);
            if (*drops >= 0) {
                a.pcap_drops = uint64_t(*drops);
            } else if (const auto side = capture::stats_sidecar_path(*file);
                       std::filesystem::exists(side)) {
                a.pcap_drops = capture::read_sidecar_drops(side);
            }
        } catch (const capture::CaptureError& e) {
            fail("analyse-pcap", e.what(), 1);
        }
        if (!name->empty()) a.capture = *name;
        const std::string text = capture::to_json(a).dump(1) + "\n";
        if (out->empty()) {
            std::fputs(text.c_str(), stdout);
        } else {
            std::ofstream f(*out);
            f << text;
            if (!f) fail("analyse-pcap", "cannot write " + *out, 1);
        }
        if (a.pcap_drops.value_or(0) > 0)
            std::fprintf(stderr,
                         "flowcorder analyse-pcap: WARNING: the capture dropped %llu packets; "
                         "this analysis is incomplete\n",
                         (unsigned long long)*a.pcap_drops);
    });
}

}  // namespace

void add_capture_commands(CLI::App& app) {
    add_capture(app);
    add_analyse(app);
}

}  // namespace fc::cli
