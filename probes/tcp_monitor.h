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

/* MPTCP marking of a TCP socket that is a subflow (agent --mptcp only; all
 * zero for plain TCP). Kept in the subflow's fc_conn_state, copied into
 * every event of the subflow. */
enum fc_mptcp_subflow_kind {
    FC_MPTCP_SF_NONE = 0,    /* plain TCP */
    FC_MPTCP_SF_INITIAL = 1, /* the connection's first subflow (MP_CAPABLE) */
    FC_MPTCP_SF_JOIN = 2,    /* an additional subflow (MP_JOIN) */
};

struct fc_mptcp_mark {
    __u64 conn_id; /* the MPTCP connection's id (its own events' conn_id), 0 if untracked */
    __u64 msk;     /* address of the MPTCP socket: key of its conns entry */
    __u32 token;   /* the connection's local token */
    __u8 kind;     /* enum fc_mptcp_subflow_kind */
    __u8 established; /* counted in its connection's subflows */
    __u8 pad[2];
};

enum fc_tcp_event_type {
    FC_EV_OPEN_ACTIVE = 1, /* connect(): SYN about to leave (sockops TCP_CONNECT_CB) */
    FC_EV_OPEN_PASSIVE =
        2, /* accepted connection now ESTABLISHED (sockops PASSIVE_ESTABLISHED_CB) */
    FC_EV_ESTABLISHED = 3, /* SYN_SENT -> ESTABLISHED */
    FC_EV_LOSSY_ENTER = 4, /* congestion state entered Recovery or Loss */
    FC_EV_LOSSY_EXIT = 5,  /* congestion state left Recovery/Loss */
    FC_EV_CLOSE = 6,       /* socket state -> CLOSE */
    /* MPTCP connection level (struct fc_mptcp_event), agent --mptcp only */
    FC_EV_MP_OPEN_ACTIVE = 16,  /* MPTCP socket CLOSE -> SYN_SENT (connect) */
    FC_EV_MP_OPEN_PASSIVE = 17, /* MPTCP socket cloned from a listener: established */
    FC_EV_MP_ESTABLISHED = 18,  /* MPTCP socket SYN_SENT -> ESTABLISHED */
    FC_EV_MP_SF_JOINED = 19,    /* an MP_JOIN subflow reached ESTABLISHED */
    FC_EV_MP_SF_CLOSED = 20,    /* a subflow reached CLOSE */
    FC_EV_MP_LOSSY_ENTER = 21,  /* first subflow of the connection in Recovery/Loss */
    FC_EV_MP_LOSSY_EXIT = 22,   /* no subflow in Recovery/Loss any more */
    FC_EV_MP_CLOSE = 23,        /* MPTCP socket -> CLOSE */
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
    /* CLOSE: the application closed with SO_LINGER {1, 0} before the peer's
     * FIN arrived, so the kernel resets after this transition; from
     * FIN_WAIT2 only this tells an abort from the close into TIME_WAIT. */
    __u8 linger_abort;
    __u8 pad[2];
    __u64 skaddr;           /* key of the conns map */
    struct fc_conn_key key; /* filled on OPEN_* events only */
    struct fc_tcp_snapshot snap;
    struct fc_mptcp_mark mp; /* subflow marking; zero for plain TCP */
};

/* MPTCP connection state kept by the probes, cumulative. */
struct fc_mptcp_conn {
    __u32 joins;          /* MP_JOIN subflows that reached ESTABLISHED */
    __u32 sf_closed;      /* subflows closed (established or not) */
    __u16 subflows;       /* established subflows now, the initial one included */
    __u16 subflows_max;   /* most established subflows since the previous event */
    __u16 lossy_subflows; /* subflows now in Recovery or Loss */
    __u8 fallback;        /* 1: fell back to plain TCP (at the handshake or later) */
    __u8 pad;
};

/* Cumulative counters of the MPTCP socket (struct mptcp_sock) and the
 * probes' own, at one instant. Data-level: bytes of the connection's data
 * sequence space, whichever subflow carried them. */
struct fc_mptcp_snapshot {
    __u64 bytes_sent;     /* data handed to subflows, reinjections included */
    __u64 bytes_received; /* data received in order at connection level */
    __u64 bytes_acked;    /* data acknowledged by DATA_ACK */
    __u64 bytes_retrans;  /* data reinjected/retransmitted at connection level */
    struct fc_mptcp_conn c;
};

/* Events of an MPTCP connection (types FC_EV_MP_*). Same header as
 * fc_tcp_event up to `type`, so one ring buffer carries both. */
struct fc_mptcp_event {
    __u64 ts_ns;
    __u64 conn_id; /* the MPTCP connection's id: same counter as TCP's */
    __u32 seq;
    __u8 type;      /* enum fc_tcp_event_type, FC_EV_MP_* */
    __u8 old_state; /* MPTCP socket's state before a CLOSE */
    __u8 role;      /* 1 active, 2 passive */
    __u8 reset_rcvd; /* MP_FASTCLOSE received */
    __s32 sk_err;   /* MPTCP socket error at CLOSE */
    __u32 token;
    /* subflow events (SF_JOINED, SF_CLOSED): which subflow, why */
    __u64 sf_conn_id; /* the subflow's TCP conn_id, 0 if untracked */
    __u8 sf_kind;     /* enum fc_mptcp_subflow_kind */
    __u8 sf_old_state;
    __u8 sf_was_established;
    __u8 pad;
    __s32 sf_err;
    __u64 skaddr;
    struct fc_conn_key key; /* best known addresses: the MPTCP socket's, else its first subflow's */
    struct fc_mptcp_snapshot snap;
};

/* Per-connection state in the bounded map conns, keyed by socket address. */
struct fc_conn_state {
    __u64 conn_id;
    __u32 seq;
    __u8 lossy;
    __u8 reset_rcvd;
    __u8 role; /* 1 active, 2 passive */
    __u8 established; /* the active open's ESTABLISHED was reported */
    __s32 last_err; /* errno last reported on the socket (inet_sk_error_report) */
    struct fc_tcp_ancillary anc;
    struct fc_mptcp_mark mp;   /* TCP subflow: its connection */
    struct fc_mptcp_conn mpc;  /* MPTCP socket: its subflows */
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
    FC_STAT_MP_NOT_TRACKED, /* MPTCP subflows whose connection was not tracked */
    FC_STAT_NESTED_CAUGHT,  /* events only the second program of a tracepoint handled */
    FC_STAT_MAX,
};

#endif /* FC_TCP_MONITOR_H */
