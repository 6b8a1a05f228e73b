#include "dns_probes.hpp"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <vector>

#include "dns_monitor.skel.h"
#include "tcp/tcp_probes.hpp"

namespace fc::dns {

namespace {

std::runtime_error error(const std::string& what, int err) {
    return std::runtime_error(what + ": " + std::strerror(err < 0 ? -err : err));
}

}  // namespace

void DnsProbes::SkelDeleter::operator()(dns_monitor_bpf* s) const { dns_monitor_bpf__destroy(s); }
void DnsProbes::RingDeleter::operator()(ring_buffer* rb) const { ring_buffer__free(rb); }

std::string find_own_libc() {
    std::ifstream maps("/proc/self/maps");
    std::string line;
    while (std::getline(maps, line)) {
        const auto slash = line.find('/');
        if (slash == std::string::npos) continue;
        const std::string path = line.substr(slash);
        const auto base = path.substr(path.rfind('/') + 1);
        if (base.rfind("libc.so", 0) == 0 || base.rfind("libc-", 0) == 0) return path;
    }
    throw std::runtime_error("cannot find the C library in /proc/self/maps: give --libc PATH");
}

DnsProbes::DnsProbes(const DnsProbeOptions& o, LookupHandler on_lookup, PacketHandler on_packet)
    : on_lookup_(std::move(on_lookup)), on_packet_(std::move(on_packet)) {
    libc_ = o.libc_path.empty() ? find_own_libc() : o.libc_path;
    if (access(libc_.c_str(), R_OK) != 0) throw error("cannot read the C library " + libc_, errno);
    skel_.reset(dns_monitor_bpf__open());
    if (!skel_) throw error("cannot open the DNS probes", errno);
    skel_->rodata->filter_netns_ino = o.netns_inode;
    if (int err = dns_monitor_bpf__load(skel_.get()))
        throw error("cannot load the DNS probes (BPF verifier or missing kernel support)", err);

    LIBBPF_OPTS(bpf_uprobe_opts, enter, .retprobe = false, .func_name = "getaddrinfo");
    skel_->links.fc_gai_enter =
        bpf_program__attach_uprobe_opts(skel_->progs.fc_gai_enter, -1, libc_.c_str(), 0, &enter);
    if (!skel_->links.fc_gai_enter)
        throw error("cannot attach a uprobe to getaddrinfo in " + libc_, errno);
    LIBBPF_OPTS(bpf_uprobe_opts, leave, .retprobe = true, .func_name = "getaddrinfo");
    skel_->links.fc_gai_exit =
        bpf_program__attach_uprobe_opts(skel_->progs.fc_gai_exit, -1, libc_.c_str(), 0, &leave);
    if (!skel_->links.fc_gai_exit)
        throw error("cannot attach a uretprobe to getaddrinfo in " + libc_, errno);

    cgroup_ = o.cgroup_path.empty() ? tcp::find_cgroup2_mount() : o.cgroup_path;
    const int cg = open(cgroup_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (cg < 0) throw error("cannot open cgroup " + cgroup_, errno);
    skel_->links.fc_dns_egress = bpf_program__attach_cgroup(skel_->progs.fc_dns_egress, cg);
    const int egress_err = errno;
    skel_->links.fc_dns_ingress = bpf_program__attach_cgroup(skel_->progs.fc_dns_ingress, cg);
    const int ingress_err = errno;
    close(cg);
    if (!skel_->links.fc_dns_egress)
        throw error("cannot attach the DNS egress probe (cgroup_skb) to " + cgroup_, egress_err);
    if (!skel_->links.fc_dns_ingress)
        throw error("cannot attach the DNS ingress probe (cgroup_skb) to " + cgroup_, ingress_err);

    ring_.reset(
        ring_buffer__new(bpf_map__fd(skel_->maps.events), &DnsProbes::on_sample, this, nullptr));
    if (!ring_) throw error("cannot open the DNS probes' ring buffer", errno);
}

DnsProbes::~DnsProbes() = default;

int DnsProbes::on_sample(void* ctx, void* data, size_t size) {
    auto* self = static_cast<DnsProbes*>(ctx);
    if (size < 1) return 0;
    const uint8_t kind = *static_cast<const uint8_t*>(data);
    if (kind == FC_DNS_EV_LOOKUP && size >= sizeof(fc_dns_lookup_event)) {
        fc_dns_lookup_event e;
        std::memcpy(&e, data, sizeof e);
        self->on_lookup_(e);
    } else if (kind == FC_DNS_EV_PACKET && size >= sizeof(fc_dns_packet_event)) {
        fc_dns_packet_event e;
        std::memcpy(&e, data, sizeof e);
        self->on_packet_(e);
    }
    return 0;
}

int DnsProbes::poll() {
    const int n = ring_buffer__consume(ring_.get());
    if (n < 0 && n != -EINTR) throw error("reading the DNS probes' ring buffer failed", n);
    return n < 0 ? 0 : n;
}

DnsProbeStats DnsProbes::stats() const {
    DnsProbeStats out;
    const int ncpu = libbpf_num_possible_cpus();
    std::vector<uint64_t> per_cpu(static_cast<size_t>(ncpu > 0 ? ncpu : 1));
    const int fd = bpf_map__fd(skel_->maps.stats);
    for (uint32_t i = 0; i < FC_DNS_STAT_MAX; ++i) {
        if (bpf_map_lookup_elem(fd, &i, per_cpu.data()) != 0) continue;
        for (uint64_t v : per_cpu) out.counters[i] += v;
    }
    return out;
}

}  // namespace fc::dns
