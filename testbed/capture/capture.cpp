#include "capture/capture.hpp"

#include <fcntl.h>
#include <pcap/pcap.h>
#include <poll.h>
#include <sched.h>
#include <unistd.h>

#include <ctime>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>

#include "capture/analysis.hpp"

namespace fc::capture {
namespace {

int64_t realtime_ns() {
    timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return int64_t(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

void enter_netns(const std::string& name) {
    const std::string path = "/var/run/netns/" + name;
    const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw CaptureError("no network namespace " + path);
    const int rc = setns(fd, CLONE_NEWNET);
    close(fd);
    if (rc < 0) throw CaptureError("setns " + path + " failed (root needed)");
}

struct PcapCloser {
    void operator()(pcap_t* p) const { pcap_close(p); }
};
struct DumperCloser {
    void operator()(pcap_dumper_t* d) const { pcap_dump_close(d); }
};

// pcap_set_* return 0 or an error code; the handle explains the error.
void check(int rc, const char* what) {
    if (rc != 0) throw CaptureError(std::string(what) + ": " + pcap_statustostr(rc));
}

std::unique_ptr<pcap_t, PcapCloser> open_handle(const CaptureOptions& o) {
    char err[PCAP_ERRBUF_SIZE] = "";
    std::unique_ptr<pcap_t, PcapCloser> p(pcap_create(o.iface.c_str(), err));
    if (!p) throw CaptureError("pcap_create " + o.iface + ": " + err);
    check(pcap_set_snaplen(p.get(), o.snaplen), "snaplen");
    check(pcap_set_immediate_mode(p.get(), 1), "immediate mode");
    check(pcap_set_buffer_size(p.get(), o.buffer_mib << 20), "buffer size");
    check(pcap_set_tstamp_precision(p.get(), PCAP_TSTAMP_PRECISION_NANO), "nanosecond timestamps");
    const int rc = pcap_activate(p.get());
    if (rc < 0)
        throw CaptureError("pcap_activate " + o.iface + ": " + pcap_statustostr(rc) + " (" +
                           pcap_geterr(p.get()) + ")");
    if (!o.filter.empty()) {
        bpf_program prog;
        if (pcap_compile(p.get(), &prog, o.filter.c_str(), 1, PCAP_NETMASK_UNKNOWN) < 0)
            throw CaptureError("filter \"" + o.filter + "\": " + pcap_geterr(p.get()));
        const int set = pcap_setfilter(p.get(), &prog);
        pcap_freecode(&prog);
        if (set < 0) throw CaptureError("setfilter: " + std::string(pcap_geterr(p.get())));
    }
    if (pcap_setnonblock(p.get(), 1, err) < 0) throw CaptureError(std::string("nonblock: ") + err);
    return p;
}

}  // namespace

CaptureResult run_capture(const CaptureOptions& o, const volatile std::sig_atomic_t& stop,
                          const std::function<void()>& on_active) {
    if (!o.netns.empty()) enter_netns(o.netns);  // before the handle: it binds in this namespace
    auto p = open_handle(o);
    std::unique_ptr<pcap_dumper_t, DumperCloser> dump(pcap_dump_open(p.get(), o.out.c_str()));
    if (!dump) throw CaptureError("cannot write " + o.out + ": " + pcap_geterr(p.get()));
    const int fd = pcap_get_selectable_fd(p.get());
    if (fd < 0) throw CaptureError("no selectable fd for " + o.iface);

    CaptureResult r;
    r.t_start_ns = realtime_ns();
    on_active();
    auto* user = reinterpret_cast<u_char*>(dump.get());
    auto dispatch = [&] {
        const int n = pcap_dispatch(p.get(), -1, pcap_dump, user);
        if (n < 0) throw CaptureError("pcap_dispatch: " + std::string(pcap_geterr(p.get())));
        r.packets_written += uint64_t(n);
        return n;
    };
    int64_t last_flush = r.t_start_ns;
    while (!stop) {
        pollfd pfd{fd, POLLIN, 0};
        poll(&pfd, 1, 100);  // EINTR from the stop signal is fine
        dispatch();
        // Flushed about once a second so that a killed capture still leaves a usable file.
        if (const int64_t now = realtime_ns(); now - last_flush > 1000000000) {
            pcap_dump_flush(dump.get());
            last_flush = now;
        }
    }
    while (dispatch() > 0) {
    }
    r.t_end_ns = realtime_ns();
    pcap_stat st{};
    if (pcap_stats(p.get(), &st) < 0)
        throw CaptureError("pcap_stats: " + std::string(pcap_geterr(p.get())));
    r.ps_recv = st.ps_recv;
    r.ps_drop = st.ps_drop;
    r.ps_ifdrop = st.ps_ifdrop;
    if (pcap_dump_flush(dump.get()) < 0) throw CaptureError("cannot flush " + o.out);
    return r;
}

void write_stats_sidecar(const CaptureOptions& o, const CaptureResult& r) {
    const nlohmann::ordered_json j = {{"netns", o.netns},
                                      {"iface", o.iface},
                                      {"snaplen", o.snaplen},
                                      {"filter", o.filter},
                                      {"t_start_ns", r.t_start_ns},
                                      {"t_end_ns", r.t_end_ns},
                                      {"packets_written", r.packets_written},
                                      {"ps_recv", r.ps_recv},
                                      {"ps_drop", r.ps_drop},
                                      {"ps_ifdrop", r.ps_ifdrop},
                                      {"drops", r.drops()}};
    const std::string path = stats_sidecar_path(o.out);
    std::ofstream f(path);
    f << j.dump(2) << "\n";
    if (!f) throw CaptureError("cannot write " + path);
}

uint64_t read_sidecar_drops(const std::string& sidecar_path) {
    std::ifstream f(sidecar_path);
    if (!f) throw CaptureError("cannot read " + sidecar_path);
    try {
        return nlohmann::json::parse(f).at("drops").get<uint64_t>();
    } catch (const nlohmann::json::exception& e) {
        throw CaptureError(sidecar_path + ": " + e.what());
    }
}

}  // namespace fc::capture
