#include "tcp_probes.hpp"

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <vector>

#include "tcp_monitor.skel.h"

namespace fc::tcp {

namespace {

std::runtime_error error(const std::string& what, int err) {
    return std::runtime_error(what + ": " + std::strerror(err < 0 ? -err : err));
}

class UniqueFd {
  public:
    explicit UniqueFd(int fd) : fd_(fd) {}
    ~UniqueFd() {
        if (fd_ >= 0) close(fd_);
    }
    UniqueFd(const UniqueFd&) = delete;
    UniqueFd& operator=(const UniqueFd&) = delete;
    int get() const { return fd_; }

  private:
    int fd_;
};

struct BtfDeleter {
    void operator()(btf* b) const { btf__free(b); }
};

// Looks up an enumerator of this kernel's enum skb_drop_reason.
bool drop_reason_value(const btf* vmlinux, const char* name, uint32_t* out) {
    int id = btf__find_by_name_kind(vmlinux, "skb_drop_reason", BTF_KIND_ENUM);
    if (id < 0) return false;
    const btf_type* t = btf__type_by_id(vmlinux, id);
    const struct btf_enum* e = btf_enum(t);
    for (int i = 0; i < btf_vlen(t); ++i, ++e) {
        if (std::strcmp(btf__name_by_offset(vmlinux, e->name_off), name) == 0) {
            *out = static_cast<uint32_t>(e->val);
            return true;
        }
    }
    return false;
}

// kfree_skb names the receiving socket only since Linux 6.11: its
// btf_trace_kfree_skb prototype then has 5 parameters (ctx, skb, location,
// reason, rx_sk).
bool kfree_skb_has_rx_sk(const btf* vmlinux) {
    int id = btf__find_by_name_kind(vmlinux, "btf_trace_kfree_skb", BTF_KIND_TYPEDEF);
    if (id < 0) return false;
    const btf_type* t = btf__type_by_id(vmlinux, id);
    t = btf__type_by_id(vmlinux, t->type);  // pointer
    if (!t || !btf_is_ptr(t)) return false;
    t = btf__type_by_id(vmlinux, t->type);  // func_proto
    return t && btf_is_func_proto(t) && btf_vlen(t) >= 5;
}

// The sockops RTT callback passes the sample itself since Linux 6.10; no
// BTF type says so, so the kernel release decides.
bool kernel_at_least(int major, int minor) {
    utsname u{};
    if (uname(&u) != 0) return false;
    int ma = 0, mi = 0;
    if (std::sscanf(u.release, "%d.%d", &ma, &mi) != 2) return false;
    return ma > major || (ma == major && mi >= minor);
}

void silence_libbpf_debug() {
    libbpf_set_print([](enum libbpf_print_level level, const char* fmt, va_list args) -> int {
        if (level == LIBBPF_DEBUG) return 0;
        return vfprintf(stderr, fmt, args);
    });
}

}  // namespace

void TcpProbes::SkelDeleter::operator()(tcp_monitor_bpf* s) const { tcp_monitor_bpf__destroy(s); }
void TcpProbes::RingDeleter::operator()(ring_buffer* rb) const { ring_buffer__free(rb); }

std::string find_cgroup2_mount() {
    std::ifstream mounts("/proc/mounts");
    std::string line;
    while (std::getline(mounts, line)) {
        std::istringstream in(line);
        std::string dev, dir, type;
        in >> dev >> dir >> type;
        if (type == "cgroup2") return dir;
    }
    throw std::runtime_error(
        "cgroup v2 is not mounted: the sockops probe attaches to a cgroup-v2 hierarchy "
        "(mount -t cgroup2 none /sys/fs/cgroup/unified)");
}

uint32_t resolve_netns_inode(const std::string& spec) {
    if (!spec.empty() && spec.find_first_not_of("0123456789") == std::string::npos)
        return static_cast<uint32_t>(std::stoul(spec));
    std::string path = spec.find('/') == std::string::npos ? "/var/run/netns/" + spec : spec;
    struct stat st {};
    if (stat(path.c_str(), &st) != 0)
        throw error("network namespace '" + spec + "' not found at " + path, errno);
    return static_cast<uint32_t>(st.st_ino);
}

TcpProbes::TcpProbes(const ProbeOptions& opts, EventHandler on_event, MptcpHandler on_mptcp)
    : on_event_(std::move(on_event)), on_mptcp_(std::move(on_mptcp)) {
    silence_libbpf_debug();
    skel_.reset(tcp_monitor_bpf__open());
    if (!skel_) throw error("cannot open the TCP probes' BPF object", errno);

    std::unique_ptr<btf, BtfDeleter> vmlinux(btf__load_vmlinux_btf());
    if (!vmlinux)
        throw std::runtime_error(
            "kernel BTF (/sys/kernel/btf/vmlinux) is missing: the probes are CO-RE and need it");

    auto* ro = skel_->rodata;
    ro->filter_netns_ino = opts.netns_inode;
    ro->track_ooo_distance = opts.ooo_distance ? 1 : 0;
    caps_.rtt_samples = kernel_at_least(6, 10);
    ro->rtt_cb_has_sample = caps_.rtt_samples ? 1 : 0;
    uint32_t old_data = 0, old_seq = 0;
    caps_.duplicate_detection =
        kfree_skb_has_rx_sk(vmlinux.get()) &&
        drop_reason_value(vmlinux.get(), "SKB_DROP_REASON_TCP_OLD_DATA", &old_data) &&
        drop_reason_value(vmlinux.get(), "SKB_DROP_REASON_TCP_OLD_SEQUENCE", &old_seq);
    ro->drop_reason_old_data = old_data;
    ro->drop_reason_old_seq = old_seq;
    // A late original behind its own retransmission fails PAWS instead (its
    // timestamp is older than the retransmission's); optional.
    uint32_t paws = 0;
    ro->drop_reason_paws =
        drop_reason_value(vmlinux.get(), "SKB_DROP_REASON_TCP_RFC7323_PAWS", &paws) ? paws : ~0u;
    if (!caps_.duplicate_detection) {
        bpf_program__set_autoload(skel_->progs.fc_kfree_skb, false);
        bpf_program__set_autoload(skel_->progs.fc_kfree_skb_nested, false);
    }
    bpf_program__set_autoload(skel_->progs.fc_naive_segment, opts.naive_per_segment);

    bpf_map__set_max_entries(skel_->maps.conns, opts.max_connections);
    bpf_map__set_max_entries(skel_->maps.events, opts.ringbuf_bytes);
    ro->ringbuf_wakeup_bytes = opts.batch_wakeups ? opts.ringbuf_bytes / 8 : 0;
    ro->track_mptcp = opts.mptcp ? 1 : 0;
    caps_.mptcp = opts.mptcp;

    if (int err = tcp_monitor_bpf__load(skel_.get()))
        throw error("the kernel refused to load the TCP probes (root, BPF and BTF are needed)",
                    err);

    // Raw tracepoints attach by section name. Each *_nested program makes up
    // for the runs the kernel skips of the one before it, so it must be
    // attached after it: the kernel calls a tracepoint's programs in the
    // order they were attached.
    struct {
        bpf_program* prog;
        bpf_link** link;
        const char* what;
        bool first;  // of the tracepoint's two programs
    } tps[] = {
        {skel_->progs.fc_set_state, &skel_->links.fc_set_state,
         "raw tracepoint inet_sock_set_state", true},
        {skel_->progs.fc_set_state_nested, &skel_->links.fc_set_state_nested,
         "raw tracepoint inet_sock_set_state (second program)", false},
        {skel_->progs.fc_cong_state, &skel_->links.fc_cong_state,
         "raw tracepoint tcp_cong_state_set", true},
        {skel_->progs.fc_cong_state_nested, &skel_->links.fc_cong_state_nested,
         "raw tracepoint tcp_cong_state_set (second program)", false},
        {skel_->progs.fc_receive_reset, &skel_->links.fc_receive_reset,
         "raw tracepoint tcp_receive_reset", true},
        {skel_->progs.fc_receive_reset_nested, &skel_->links.fc_receive_reset_nested,
         "raw tracepoint tcp_receive_reset (second program)", false},
        {skel_->progs.fc_kfree_skb, &skel_->links.fc_kfree_skb, "raw tracepoint kfree_skb", true},
        {skel_->progs.fc_kfree_skb_nested, &skel_->links.fc_kfree_skb_nested,
         "raw tracepoint kfree_skb (second program)", false},
        {skel_->progs.fc_error_report, &skel_->links.fc_error_report,
         "raw tracepoint inet_sk_error_report", true},
        {skel_->progs.fc_error_report_nested, &skel_->links.fc_error_report_nested,
         "raw tracepoint inet_sk_error_report (second program)", false},
        {skel_->progs.fc_naive_segment, &skel_->links.fc_naive_segment,
         "raw tracepoint tcp_probe (naive variant)", false},
    };
    const bool second_only = opts.tracepoint_programs == TracepointPrograms::second_only;
    for (auto& tp : tps) {
        if (!bpf_program__autoload(tp.prog) || (second_only && tp.first)) continue;
        *tp.link = bpf_program__attach(tp.prog);
        if (!*tp.link) throw error(std::string("cannot attach ") + tp.what, errno);
    }

    caps_.cgroup_path = opts.cgroup_path.empty() ? find_cgroup2_mount() : opts.cgroup_path;
    UniqueFd cg(open(caps_.cgroup_path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (cg.get() < 0) throw error("cannot open cgroup " + caps_.cgroup_path, errno);
    skel_->links.fc_sockops = bpf_program__attach_cgroup(skel_->progs.fc_sockops, cg.get());
    if (!skel_->links.fc_sockops)
        throw error("cannot attach the sockops probe to cgroup " + caps_.cgroup_path, errno);

    ring_.reset(
        ring_buffer__new(bpf_map__fd(skel_->maps.events), &TcpProbes::on_sample, this, nullptr));
    if (!ring_) throw error("cannot open the probes' ring buffer", errno);
}

TcpProbes::~TcpProbes() = default;

int TcpProbes::on_sample(void* ctx, void* data, size_t size) {
    static_assert(offsetof(fc_tcp_event, type) == offsetof(fc_mptcp_event, type));
    auto* self = static_cast<TcpProbes*>(ctx);
    if (size <= offsetof(fc_tcp_event, type)) return 0;
    const uint8_t type = static_cast<const uint8_t*>(data)[offsetof(fc_tcp_event, type)];
    if (type >= FC_EV_MP_OPEN_ACTIVE) {
        if (size < sizeof(fc_mptcp_event) || !self->on_mptcp_) return 0;
        fc_mptcp_event m;
        std::memcpy(&m, data, sizeof(m));
        self->on_mptcp_(m);
        return 0;
    }
    if (size < sizeof(fc_tcp_event)) return 0;
    fc_tcp_event e;
    std::memcpy(&e, data, sizeof(e));
    self->on_event_(e);
    return 0;
}

int TcpProbes::poll(int timeout_ms) {
    int n = ring_buffer__poll(ring_.get(), timeout_ms);
    if (n < 0 && n != -EINTR) throw error("reading the probes' ring buffer failed", n);
    // Events submitted without a wakeup raise no epoll event: drain them.
    const int m = ring_buffer__consume(ring_.get());
    if (m < 0 && m != -EINTR) throw error("reading the probes' ring buffer failed", m);
    return (n < 0 ? 0 : n) + (m < 0 ? 0 : m);
}

ProbeStats TcpProbes::stats() const {
    ProbeStats out;
    const int ncpu = libbpf_num_possible_cpus();
    std::vector<uint64_t> per_cpu(static_cast<size_t>(ncpu > 0 ? ncpu : 1));
    const int fd = bpf_map__fd(skel_->maps.stats);
    for (uint32_t i = 0; i < FC_STAT_MAX; ++i) {
        if (bpf_map_lookup_elem(fd, &i, per_cpu.data()) != 0) continue;
        for (uint64_t v : per_cpu) out.counters[i] += v;
    }
    bpf_program* prog = nullptr;
    bpf_object__for_each_program(prog, skel_->obj) {
        const int pfd = bpf_program__fd(prog);
        if (pfd < 0) continue;
        bpf_prog_info info{};
        uint32_t len = sizeof info;
        if (bpf_obj_get_info_by_fd(pfd, &info, &len) == 0)
            out.recursion_misses += info.recursion_misses;
    }
    return out;
}

bool TcpProbes::kernel_tracks(uint64_t skaddr) const {
    fc_conn_state st{};
    return bpf_map_lookup_elem(bpf_map__fd(skel_->maps.conns), &skaddr, &st) == 0;
}

}  // namespace fc::tcp
