// SPDX-License-Identifier: GPL-2.0
/*
 * DNS probes (loaded only with `flowcorder agent --dns`).
 *
 *   uprobe/uretprobe getaddrinfo   the resolver's view: one event per call
 *   cgroup_skb egress/ingress      the wire's view: one event per DNS
 *                                  message over UDP port 53
 *
 * No parsing beyond the IP and UDP headers happens here: the message's
 * first bytes go to user space, which parses them (DNS names are awkward in
 * a verifier-checked loop and rare enough to be cheap to copy).
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "dns_monitor.h"

char LICENSE[] SEC("license") = "GPL";

#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD
#define DNS_PORT 53

const volatile __u32 filter_netns_ino = 0; /* 0: every namespace */

__u64 next_lookup_id = 0;

/* The C library's struct addrinfo (x86-64 and other LP64 ABIs). */
struct fc_addrinfo {
    int ai_flags;
    int ai_family;
    int ai_socktype;
    int ai_protocol;
    __u32 ai_addrlen;
    void *ai_addr;
    char *ai_canonname;
    struct fc_addrinfo *ai_next;
};

struct inflight {
    __u64 start_ns;
    __u64 lookup_id;
    const char *node;
    struct fc_addrinfo **res;
    __u8 family_hint;
};

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 8192);
    __type(key, __u32); /* thread id */
    __type(value, struct inflight);
} lookups SEC(".maps");

/* Sockets that sent a query we reported: their replies are ours too. */
struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __uint(max_entries, 16384);
    __type(key, __u64); /* socket cookie */
    __type(value, __u32); /* netns inode */
} dns_socks SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_RINGBUF);
    __uint(max_entries, 1 << 20);
} events SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, FC_DNS_STAT_MAX);
    __type(key, __u32);
    __type(value, __u64);
} stats SEC(".maps");

static __always_inline void stat_inc(__u32 idx)
{
    __u64 *v = bpf_map_lookup_elem(&stats, &idx);
    if (v)
        __sync_fetch_and_add(v, 1);
}

static __always_inline __u32 current_netns(void)
{
    struct task_struct *t = (struct task_struct *)bpf_get_current_task();
    return BPF_CORE_READ(t, nsproxy, net_ns, ns.inum);
}

/* BPF_KPROBE/BPF_KRETPROBE read the same registers for uprobes. */
SEC("uprobe")
int BPF_KPROBE(fc_gai_enter, const char *node, const char *service, const struct fc_addrinfo *hints,
               struct fc_addrinfo **res)
{
    __u32 ns = current_netns();
    if (filter_netns_ino && ns != filter_netns_ino)
        return 0;
    struct inflight f = {};
    f.start_ns = bpf_ktime_get_ns();
    f.lookup_id = __sync_fetch_and_add(&next_lookup_id, 1) + 1;
    f.node = node;
    f.res = res;
    if (hints) {
        int fam = 0;
        bpf_probe_read_user(&fam, sizeof(fam), &hints->ai_family);
        f.family_hint = (__u8)fam;
    }
    __u32 tid = (__u32)bpf_get_current_pid_tgid();
    bpf_map_update_elem(&lookups, &tid, &f, BPF_ANY);
    return 0;
}

SEC("uretprobe")
int BPF_KRETPROBE(fc_gai_exit, int rc)
{
    __u64 id = bpf_get_current_pid_tgid();
    __u32 tid = (__u32)id;
    struct inflight *f = bpf_map_lookup_elem(&lookups, &tid);
    if (!f)
        return 0;
    struct fc_dns_lookup_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
    if (!e) {
        stat_inc(FC_DNS_STAT_EVENTS_LOST);
        bpf_map_delete_elem(&lookups, &tid);
        return 0;
    }
    e->kind = FC_DNS_EV_LOOKUP;
    e->family_hint = f->family_hint;
    e->rc = rc;
    e->pid = id >> 32;
    e->tid = tid;
    e->netns_ino = current_netns();
    e->lookup_id = f->lookup_id;
    e->start_ns = f->start_ns;
    e->end_ns = bpf_ktime_get_ns();
    bpf_get_current_comm(e->comm, sizeof(e->comm));
    if (bpf_probe_read_user_str(e->name, sizeof(e->name), f->node) < 0)
        e->name[0] = 0;
    e->n_addrs = 0;
    e->more_addrs = 0;
    struct fc_addrinfo *ai = 0;
    if (rc == 0 && f->res)
        bpf_probe_read_user(&ai, sizeof(ai), f->res);
    for (int i = 0; i < FC_DNS_MAX_ADDRS && ai; i++) {
        struct fc_addrinfo cur = {};
        if (bpf_probe_read_user(&cur, sizeof(cur), ai) < 0)
            break;
        struct fc_dns_addr *a = &e->addrs[i];
        a->family = (__u8)cur.ai_family;
        __builtin_memset(a->addr, 0, sizeof(a->addr));
        if (cur.ai_family == 2 && cur.ai_addr) /* sockaddr_in: address at offset 4 */
            bpf_probe_read_user(a->addr, 4, (char *)cur.ai_addr + 4);
        else if (cur.ai_family == 10 && cur.ai_addr) /* sockaddr_in6: at offset 8 */
            bpf_probe_read_user(a->addr, 16, (char *)cur.ai_addr + 8);
        e->n_addrs = i + 1;
        ai = cur.ai_next;
    }
    if (ai)
        e->more_addrs = 1;
    bpf_map_delete_elem(&lookups, &tid);
    stat_inc(FC_DNS_STAT_LOOKUPS);
    bpf_ringbuf_submit(e, 0);
    return 0;
}

static __always_inline int on_packet(struct __sk_buff *skb, int egress)
{
    /* Every packet of every socket passes here: leave TCP and the rest at
     * the cost of two socket-field reads, before touching the packet. */
    struct bpf_sock *bsk = skb->sk;
    if (!bsk)
        return 1;
    bsk = bpf_sk_fullsock(bsk);
    if (!bsk || bsk->protocol != IPPROTO_UDP)
        return 1;
    __u8 family;
    __u32 l4;
    __u8 saddr[16] = {}, daddr[16] = {};
    if (skb->protocol == bpf_htons(ETH_P_IP)) {
        struct iphdr ip;
        if (bpf_skb_load_bytes(skb, 0, &ip, sizeof(ip)) < 0 || ip.protocol != IPPROTO_UDP)
            return 1;
        if (ip.frag_off & bpf_htons(0x3fff)) /* fragments: not ours to parse */
            return 1;
        family = 2;
        l4 = ip.ihl * 4;
        __builtin_memcpy(saddr, &ip.saddr, 4);
        __builtin_memcpy(daddr, &ip.daddr, 4);
    } else if (skb->protocol == bpf_htons(ETH_P_IPV6)) {
        struct ipv6hdr ip6;
        if (bpf_skb_load_bytes(skb, 0, &ip6, sizeof(ip6)) < 0 || ip6.nexthdr != IPPROTO_UDP)
            return 1;
        family = 10;
        l4 = sizeof(ip6);
        __builtin_memcpy(saddr, &ip6.saddr, 16);
        __builtin_memcpy(daddr, &ip6.daddr, 16);
    } else {
        return 1;
    }
    struct udphdr udp;
    if (bpf_skb_load_bytes(skb, l4, &udp, sizeof(udp)) < 0)
        return 1;
    __u16 sport = bpf_ntohs(udp.source), dport = bpf_ntohs(udp.dest);
    if ((egress ? dport : sport) != DNS_PORT)
        return 1;

    __u64 cookie = bpf_get_socket_cookie(skb);
    __u32 ns = 0;
    __u64 pid_tgid = 0;
    __u64 lookup_id = 0;
    if (egress) {
        /* UDP sends run in the sender's context: its thread and namespace. */
        ns = current_netns();
        if (filter_netns_ino && ns != filter_netns_ino)
            return 1;
        pid_tgid = bpf_get_current_pid_tgid();
        __u32 tid = (__u32)pid_tgid;
        struct inflight *f = bpf_map_lookup_elem(&lookups, &tid);
        if (f)
            lookup_id = f->lookup_id;
        bpf_map_update_elem(&dns_socks, &cookie, &ns, BPF_ANY);
    } else {
        __u32 *known = bpf_map_lookup_elem(&dns_socks, &cookie);
        if (!known)
            return 1;
        ns = *known;
    }

    __u32 msg_len = bpf_ntohs(udp.len);
    if (msg_len < sizeof(udp) + 12)
        return 1;
    msg_len -= sizeof(udp);
    struct fc_dns_packet_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
    if (!e) {
        stat_inc(FC_DNS_STAT_EVENTS_LOST);
        return 1;
    }
    e->kind = FC_DNS_EV_PACKET;
    e->egress = egress;
    e->family = family;
    e->pad = 0;
    e->pid = pid_tgid >> 32;
    e->tid = (__u32)pid_tgid;
    e->netns_ino = ns;
    e->ts_ns = bpf_ktime_get_ns();
    e->sock_cookie = cookie;
    e->lookup_id = lookup_id;
    __builtin_memcpy(e->saddr, saddr, 16);
    __builtin_memcpy(e->daddr, daddr, 16);
    e->sport = sport;
    e->dport = dport;
    e->msg_len = msg_len;
    if (egress)
        bpf_get_current_comm(e->comm, sizeof(e->comm));
    else
        __builtin_memset(e->comm, 0, sizeof(e->comm));
    __u32 n = msg_len < FC_DNS_MSG_MAX ? msg_len : FC_DNS_MSG_MAX;
    if (n < 1 || n > FC_DNS_MSG_MAX || bpf_skb_load_bytes(skb, l4 + sizeof(udp), e->msg, n) < 0)
        n = 0;
    e->captured = n;
    stat_inc(FC_DNS_STAT_PACKETS);
    bpf_ringbuf_submit(e, 0);
    return 1;
}

SEC("cgroup_skb/egress")
int fc_dns_egress(struct __sk_buff *skb)
{
    return on_packet(skb, 1);
}

SEC("cgroup_skb/ingress")
int fc_dns_ingress(struct __sk_buff *skb)
{
    return on_packet(skb, 0);
}
