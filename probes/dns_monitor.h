/*
 * The kernel/user contract of the DNS probes (dns_monitor.bpf.c): two event
 * kinds on one ring buffer, told apart by their first byte.
 *
 *   lookup  one C-library getaddrinfo() call, from entry to return (uprobe
 *           and uretprobe): name, result, the addresses it returned;
 *   packet  one DNS message over UDP port 53 leaving or reaching a socket
 *           (cgroup_skb egress/ingress), with the first bytes of the message:
 *           user space parses it, the kernel only finds it.
 *
 * A query sent while a traced getaddrinfo() runs on the same thread carries
 * that lookup's id: it links the resolver's view to the wire's.
 */
#ifndef FC_DNS_MONITOR_H
#define FC_DNS_MONITOR_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define FC_DNS_NAME_MAX 128
#define FC_DNS_MSG_MAX 256  /* bytes of each DNS message copied: header + question + some */
#define FC_DNS_MAX_ADDRS 16 /* addrinfo entries read per lookup */

enum fc_dns_event_kind {
    FC_DNS_EV_LOOKUP = 1,
    FC_DNS_EV_PACKET = 2,
};

struct fc_dns_addr {
    __u8 family; /* 2 AF_INET, 10 AF_INET6 */
    __u8 pad[3];
    __u8 addr[16];
};

struct fc_dns_lookup_event {
    __u8 kind; /* FC_DNS_EV_LOOKUP */
    __u8 family_hint; /* hints->ai_family: 0 AF_UNSPEC, 2, 10 */
    __u8 n_addrs;     /* entries in addrs[] */
    __u8 more_addrs;  /* the list went on beyond FC_DNS_MAX_ADDRS */
    __s32 rc;         /* getaddrinfo's return value */
    __u32 pid, tid, netns_ino;
    __u64 lookup_id;
    __u64 start_ns, end_ns; /* CLOCK_MONOTONIC (bpf_ktime_get_ns) */
    char comm[16];
    char name[FC_DNS_NAME_MAX];
    struct fc_dns_addr addrs[FC_DNS_MAX_ADDRS];
};

struct fc_dns_packet_event {
    __u8 kind;   /* FC_DNS_EV_PACKET */
    __u8 egress; /* 1 leaving the socket (a query), 0 reaching it (a reply) */
    __u8 family; /* 2 or 10 */
    __u8 pad;
    __u32 pid, tid, netns_ino; /* egress only: the sending thread */
    __u64 ts_ns;               /* CLOCK_MONOTONIC */
    __u64 sock_cookie;
    __u64 lookup_id; /* egress: the sender's getaddrinfo in progress, 0 if none */
    __u8 saddr[16], daddr[16]; /* as on the packet; IPv4 in the first 4 bytes */
    __u16 sport, dport;        /* host order */
    __u16 msg_len;             /* DNS message length (UDP payload) */
    __u16 captured;            /* bytes of it in msg[] */
    char comm[16];
    __u8 msg[FC_DNS_MSG_MAX];
};

enum fc_dns_stat {
    FC_DNS_STAT_LOOKUPS = 0,
    FC_DNS_STAT_PACKETS,
    FC_DNS_STAT_EVENTS_LOST, /* ring buffer full */
    FC_DNS_STAT_MAX,
};

#endif
