/*
 * The kernel/user contract of the TCP probes: event and map layouts, shared
 * by tcp_monitor.bpf.c and the agent. Nothing else crosses the boundary.
 *
 * The probes keep, per tracked connection, the ancillary state the kernel
 * does not (RTT sample sums, RTOs, duplicates, out-of-order distances) and,
 * on each lifecycle or congestion-state transition, emit one event carrying
 * a snapshot of cumulative counters. User space turns consecutive snapshots
 * into per-window deltas.
 */
#ifndef FC_TCP_MONITOR_H
#define FC_TCP_MONITOR_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define FC_AF_INET 2
#define FC_AF_INET6 10

struct fc_conn_key {
    __u32 netns_ino;
    __u16 family;
    __u16 sport; /* host byte order, local */
    __u16 dport; /* host byte order, remote */
    __u16 pad;
    __u8 saddr[16]; /* local; IPv4 in the first 4 bytes */
    __u8 daddr[16]; /* remote */
};

/* Cumulative state the kernel does not keep: the probes do. */
struct fc_tcp_ancillary {
    __u64 rto_count;
    __u64 rtt_samples;
    __u64 rtt_sum_us;
    __u64 rtt_sumsq_us2;
    __u64 dup_segs_in;
    __u64 ooo_samples;
    __u64 ooo_dist_sum;
    __u64 ooo_dist_sumsq;
};

/* Cumulative counters at one instant: struct tcp_sock's and the probes'. */
struct fc_tcp_snapshot {
    /* kernel state (struct tcp_sock) */
    __u64 bytes_acked;
    __u64 bytes_received;
    __u64 bytes_sent;
    __u64 bytes_retrans;
    __u32 segs_out;
    __u32 segs_in;
    __u32 data_segs_out;
    __u32 data_segs_in;
    __u32 total_retrans;
    __u32 lost;
    __u32 lost_out;
    __u32 rcv_ooopack;
    __u32 dsack_dups;
    __u32 reord_seen;
    __u32 srtt_us;   /* smoothed RTT, microseconds */
    __u32 rttvar_us; /* mdev, microseconds */
    __u32 min_rtt_us;
    __u32 pad;
    struct fc_tcp_ancillary anc;
};

enum fc_tcp_event_type {
    FC_EV_OPEN_ACTIVE = 1, /* connect(): SYN about to leave (sockops TCP_CONNECT_CB) */
    FC_EV_OPEN_PASSIVE =
        2, /* accepted connection now ESTABLISHED (sockops PASSIVE_ESTABLISHED_CB) */
    FC_EV_ESTABLISHED = 3, /* SYN_SENT -> ESTABLISHED */
    FC_EV_LOSSY_ENTER = 4, /* congestion state entered Recovery or Loss */
    FC_EV_LOSSY_EXIT = 5,  /* congestion state left Recovery/Loss */
    FC_EV_CLOSE = 6,       /* socket state -> CLOSE */
};

struct fc_tcp_event {
    __u64 ts_ns;     /* bpf_ktime_get_ns(): CLOCK_MONOTONIC */
    __u64 conn_id;   /* assigned by the probes at open, unique per load */
    __u32 seq;       /* per-connection event counter: a gap means lost events */
    __u8 type;       /* enum fc_tcp_event_type */
    __u8 old_state;  /* TCP state before a CLOSE transition */
    __u8 ca_state;   /* congestion state for LOSSY_* */
    __u8 reset_rcvd; /* tcp_receive_reset seen on this connection */
    __s32 sk_err;    /* socket error at CLOSE (errno, positive) */
    __u8 role;       /* 1 active, 2 passive */
    __u8 pad[3];
    __u64 skaddr;           /* key of the conns map */
    struct fc_conn_key key; /* filled on OPEN_* events only */
    struct fc_tcp_snapshot snap;
};

/* Per-connection state in the bounded map conns, keyed by socket address. */
struct fc_conn_state {
    __u64 conn_id;
    __u32 seq;
    __u8 lossy;
    __u8 reset_rcvd;
    __u8 role; /* 1 active, 2 passive */
    __u8 pad;
    __s32 last_err; /* errno last reported on the socket (inet_sk_error_report) */
    struct fc_tcp_ancillary anc;
};

/* Indices of the per-CPU statistics array. */
enum fc_stat {
    FC_STAT_EVENTS = 0,  /* events put on the ring buffer */
    FC_STAT_EVENTS_LOST, /* ring buffer full */
    FC_STAT_TABLE_FULL,  /* connection not tracked: conns map full */
    FC_STAT_RTT_CB,      /* sockops RTT callbacks */
    FC_STAT_HDR_CB,      /* sockops header-parse callbacks (slow-path segments) */
    FC_STAT_DUP_DROPS,   /* duplicate segments seen through kfree_skb */
    FC_STAT_NOT_TRACKED, /* transitions of connections opened before the agent */
    FC_STAT_NAIVE_SEGMENTS, /* segments seen by the naive variant (agent --naive only) */
    FC_STAT_MAX,
};

#endif /* FC_TCP_MONITOR_H */
