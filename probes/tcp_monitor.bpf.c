// SPDX-License-Identifier: GPL-2.0
/*
 * TCP probes: slow-path hooks only, so the per-connection cost is a handful
 * of events per transition, not per packet.
 *
 *   sockops (cgroup-v2 root)     open (active/passive), RTT samples, RTOs,
 *                                out-of-order distance on slow-path segments
 *   raw_tp inet_sock_set_state   ESTABLISHED and CLOSE transitions
 *   raw_tp tcp_cong_state_set    entering/leaving Recovery or Loss
 *   raw_tp tcp_receive_reset     close cause
 *   raw_tp kfree_skb             duplicate segments (dropped as old data)
 *
 * Each tracepoint has two programs, so that a run the kernel skips as nested
 * is made up by the other ("Nested runs" below).
 *
 * With track_mptcp (agent --mptcp), MPTCP too, from the same hooks: the MPTCP
 * socket (sk_protocol IPPROTO_MPTCP) goes through inet_sock_set_state like a
 * TCP socket (open, established, close); its subflows are TCP sockets with
 * tcp_sock.is_mptcp set, whose subflow context (icsk_ulp_data) names the
 * connection. A subflow's events carry its connection's id; a subflow
 * joining, closing or entering a lossy period is also an event of the
 * connection, which then carries struct mptcp_sock's data-level counters.
 *
 * Connections are tracked from their open onwards; those opened before the
 * agent started are not tracked (counted under FC_STAT_NOT_TRACKED when
 * they close) because their sockops callbacks were never enabled.
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "tcp_monitor.h"

char LICENSE[] SEC("license") = "GPL";

#define TCP_STATE_ESTABLISHED 1
#define TCP_STATE_SYN_SENT 2
#define TCP_STATE_SYN_RECV 3
#define TCP_STATE_CLOSE 7
#define TCP_STATE_LISTEN 10
#define CA_RECOVERY 3
#define CA_LOSS 4
#define ROLE_ACTIVE 1
#define ROLE_PASSIVE 2
#define FC_IPPROTO_MPTCP 262

/* Knobs, set by the agent before load. */
const volatile __u32 filter_netns_ino = 0; /* 0: every namespace */
const volatile __u8 track_ooo_distance = 1;
const volatile __u8 rtt_cb_has_sample = 1;     /* RTT_CB passes the sample (Linux >= 6.10) */
const volatile __u32 drop_reason_old_data = 0; /* enum skb_drop_reason values, */
const volatile __u32 drop_reason_old_seq = 0;  /* read from this kernel's BTF */
const volatile __u32 drop_reason_paws = ~0u;
const volatile __u64 ringbuf_wakeup_bytes = 0; /* 0: wake the agent for every event */
const volatile __u8 track_mptcp = 0;           /* agent --mptcp */

__u64 next_conn_id = 1;

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 65536);
    __type(key, __u64); /* struct sock address: stable for the socket's life */
    __type(value, struct fc_conn_state);
} conns SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_RINGBUF);
    __uint(max_entries, 1 << 20);
} events SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, FC_STAT_MAX);
    __type(key, __u32);
    __type(value, __u64);
} stats SEC(".maps");

static __always_inline void stat_inc(__u32 idx)
{
    __u64 *v = bpf_map_lookup_elem(&stats, &idx);
    if (v)
        *v += 1;
}

static __always_inline void fill_key(const struct sock *sk, struct fc_conn_key *k)
{
    __builtin_memset(k, 0, sizeof(*k));
    k->netns_ino = BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
    k->family = BPF_CORE_READ(sk, __sk_common.skc_family);
    k->sport = bpf_ntohs(BPF_CORE_READ((const struct inet_sock *)sk, inet_sport));
    k->dport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
    if (k->family == FC_AF_INET) {
        __be32 s = BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr);
        __be32 d = BPF_CORE_READ(sk, __sk_common.skc_daddr);
        __builtin_memcpy(k->saddr, &s, 4);
        __builtin_memcpy(k->daddr, &d, 4);
    } else {
        BPF_CORE_READ_INTO(&k->saddr, sk, __sk_common.skc_v6_rcv_saddr.in6_u.u6_addr8);
        BPF_CORE_READ_INTO(&k->daddr, sk, __sk_common.skc_v6_daddr.in6_u.u6_addr8);
    }
}

static __always_inline void fill_snapshot(const struct sock *sk, const struct fc_conn_state *st,
                                          struct fc_tcp_snapshot *s)
{
    const struct tcp_sock *tp = (const struct tcp_sock *)sk;

    s->bytes_acked = BPF_CORE_READ(tp, bytes_acked);
    s->bytes_received = BPF_CORE_READ(tp, bytes_received);
    s->bytes_sent = BPF_CORE_READ(tp, bytes_sent);
    s->bytes_retrans = BPF_CORE_READ(tp, bytes_retrans);
    s->segs_out = BPF_CORE_READ(tp, segs_out);
    s->segs_in = BPF_CORE_READ(tp, segs_in);
    s->data_segs_out = BPF_CORE_READ(tp, data_segs_out);
    s->data_segs_in = BPF_CORE_READ(tp, data_segs_in);
    s->total_retrans = BPF_CORE_READ(tp, total_retrans);
    s->lost = BPF_CORE_READ(tp, lost);
    s->lost_out = BPF_CORE_READ(tp, lost_out);
    s->rcv_ooopack = BPF_CORE_READ(tp, rcv_ooopack);
    s->dsack_dups = BPF_CORE_READ(tp, dsack_dups);
    s->reord_seen = BPF_CORE_READ(tp, reord_seen);
    s->srtt_us = BPF_CORE_READ(tp, srtt_us) >> 3;
    s->rttvar_us = BPF_CORE_READ(tp, mdev_us) >> 2;
    s->min_rtt_us = BPF_CORE_READ(tp, rtt_min.s[0].v);

    s->anc = st->anc;
}

/* The errno of the oldest ICMP error queued on the socket, or 0.
 *
 * Why: the application may consume sk_err (SO_ERROR, a failed read) before
 * the close tracepoint reads it. On an IPv4 socket tcp_v4_err() queues the
 * ICMP error first (ip_icmp_error, RECVERR or not), which already wakes
 * pollers, and only then sets sk_err and closes: a poller on another CPU can
 * read and clear sk_err in between. The queued copy stays until someone reads
 * MSG_ERRQUEUE, so it still says why the connection failed. */
static __always_inline __s32 queued_icmp_errno(const struct sock *sk)
{
    const struct sk_buff *skb = BPF_CORE_READ(sk, sk_error_queue.next);
    if (!skb || (const void *)skb == (const void *)&sk->sk_error_queue)
        return 0;
    struct sock_exterr_skb *serr = (struct sock_exterr_skb *)__builtin_preserve_access_index(
        &((struct sk_buff *)skb)->cb);
    return (__s32)BPF_CORE_READ(serr, ee.ee_errno);
}

/* Closed with SO_LINGER {1, 0} (tcp_close() then aborts: tcp_disconnect()
 * sets CLOSE, then sends the RST) and without the peer's FIN taken in
 * (SOCK_DONE, set by tcp_fin(); the close into TIME_WAIT has it). */
static __always_inline __u8 linger_abort(const struct sock *sk)
{
    const unsigned long flags = BPF_CORE_READ(sk, __sk_common.skc_flags);
    const unsigned long done = 1UL << bpf_core_enum_value(enum sock_flags, SOCK_DONE);
    const unsigned long linger = 1UL << bpf_core_enum_value(enum sock_flags, SOCK_LINGER);
    return (flags & linger) && !(flags & done) && BPF_CORE_READ(sk, sk_lingertime) == 0;
}

/* One event per transition. The sequence number advances even when the ring
 * buffer is full, so user space sees the gap and marks the connection DESYNC. */
static __always_inline void emit(const struct sock *sk, struct fc_conn_state *st, __u8 type,
                                 __u8 old_state, __u8 ca_state)
{
    st->seq += 1;
    struct fc_tcp_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
    if (!e) {
        stat_inc(FC_STAT_EVENTS_LOST);
        return;
    }
    e->ts_ns = bpf_ktime_get_ns();
    e->conn_id = st->conn_id;
    e->seq = st->seq;
    e->type = type;
    e->old_state = old_state;
    e->ca_state = ca_state;
    e->reset_rcvd = st->reset_rcvd;
    if (type == FC_EV_CLOSE) {
        __s32 err = BPF_CORE_READ(sk, sk_err);
        if (!err)
            err = st->last_err;
        /* Only a failed open: an ICMP error queued during a handshake that
         * then succeeded says nothing about a later close. */
        if (!err && (old_state == TCP_STATE_SYN_SENT || old_state == TCP_STATE_SYN_RECV))
            err = queued_icmp_errno(sk);
        e->sk_err = err;
    } else {
        e->sk_err = 0;
    }
    e->linger_abort = type == FC_EV_CLOSE ? linger_abort(sk) : 0;
    e->pad[0] = e->pad[1] = 0;
    e->role = st->role;
    e->skaddr = (__u64)(unsigned long)sk;
    if (type == FC_EV_OPEN_ACTIVE || type == FC_EV_OPEN_PASSIVE)
        fill_key(sk, &e->key);
    else
        __builtin_memset(&e->key, 0, sizeof(e->key));
    fill_snapshot(sk, st, &e->snap);
    e->mp = st->mp;
    /* Waking the agent for every event costs a context switch per
     * transition on a busy host; the agent drains the ring on its own
     * poll period anyway. Wake it only when the ring fills up. */
    __u64 avail = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA);
    bpf_ringbuf_submit(e, avail >= ringbuf_wakeup_bytes ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP);
    stat_inc(FC_STAT_EVENTS);
}

static __always_inline struct fc_conn_state *lookup(const struct sock *sk)
{
    __u64 skaddr = (__u64)(unsigned long)sk;
    return bpf_map_lookup_elem(&conns, &skaddr);
}

/* ---- MPTCP (track_mptcp only) ---- */

static __always_inline struct fc_conn_state *lookup_addr(__u64 addr)
{
    return bpf_map_lookup_elem(&conns, &addr);
}

/* The MPTCP socket's addresses; while it has none of its own yet (an active
 * open before connect() bound it, a passive one just cloned), those of the
 * subflow the event is about, which are the same 4-tuple for the initial one. */
static __always_inline void mp_fill_key(const struct sock *msk, const struct sock *sf_sk,
                                        struct fc_conn_key *k)
{
    fill_key(msk, k);
    if (!k->dport && sf_sk)
        fill_key(sf_sk, k);
}

/* A fallback after the handshake (explore-375: the server, handed a data
 * segment before the MP_CAPABLE third ACK, fell back and answered without
 * options, so the client fell back too). The kernel marks it with the msk
 * flag MPTCP_FALLBACK_DONE, a #define whose bit changed across releases and
 * is not in BTF; kernels with the fallback lock (6.16 on, and stable
 * backports) also forbid new subflows then (allow_subflows, set false only
 * by a fallback or an MP_FAIL that leads to one). Older kernels: the
 * handshake's fallback only (mp_fell_back()). */
static __always_inline __u8 mp_fell_back_later(const struct mptcp_sock *m)
{
    if (!bpf_core_field_exists(m->allow_subflows))
        return 0;
    return !BPF_CORE_READ(m, allow_subflows);
}

/* One event of an MPTCP connection, with struct mptcp_sock's data-level
 * counters. sf: the subflow it is about (SF_* and LOSSY_* events), or NULL. */
static __always_inline void emit_mp(const struct sock *msk, struct fc_conn_state *st, __u8 type,
                                    __u8 old_state, const struct fc_conn_state *sf,
                                    const struct sock *sf_sk, __u8 sf_old_state, __s32 sf_err)
{
    st->seq += 1;
    struct fc_mptcp_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
    if (!e) {
        stat_inc(FC_STAT_EVENTS_LOST);
        return;
    }
    const struct mptcp_sock *m = (const struct mptcp_sock *)msk;
    e->ts_ns = bpf_ktime_get_ns();
    e->conn_id = st->conn_id;
    e->seq = st->seq;
    e->type = type;
    e->old_state = old_state;
    e->role = st->role;
    e->reset_rcvd = BPF_CORE_READ(m, rcv_fastclose);
    e->sk_err = type == FC_EV_MP_CLOSE ? BPF_CORE_READ(msk, sk_err) : 0;
    if (type == FC_EV_MP_CLOSE && !e->sk_err)
        e->sk_err = st->last_err;
    e->token = BPF_CORE_READ(m, token);
    if (sf) {
        e->sf_conn_id = sf->conn_id;
        e->sf_kind = sf->mp.kind;
        e->sf_was_established = sf->mp.established;
    } else {
        e->sf_conn_id = 0;
        e->sf_kind = 0;
        e->sf_was_established = 0;
    }
    e->sf_old_state = sf_old_state;
    e->pad = 0;
    e->sf_err = sf_err;
    e->skaddr = (__u64)(unsigned long)msk;
    mp_fill_key(msk, sf_sk, &e->key);
    e->snap.bytes_sent = BPF_CORE_READ(m, bytes_sent);
    e->snap.bytes_received = BPF_CORE_READ(m, bytes_received);
    e->snap.bytes_acked = BPF_CORE_READ(m, bytes_acked);
    e->snap.bytes_retrans = BPF_CORE_READ(m, bytes_retrans);
    if (!st->mpc.fallback)
        st->mpc.fallback = mp_fell_back_later(m);
    e->snap.c = st->mpc;
    /* The window's maximum restarts from the current count. */
    st->mpc.subflows_max = st->mpc.subflows;
    __u64 avail = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA);
    bpf_ringbuf_submit(e, avail >= ringbuf_wakeup_bytes ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP);
    stat_inc(FC_STAT_EVENTS);
}

static __always_inline void mp_count_subflow(struct fc_conn_state *mst)
{
    mst->mpc.subflows += 1;
    if (mst->mpc.subflows > mst->mpc.subflows_max)
        mst->mpc.subflows_max = mst->mpc.subflows;
}

/* A subflow's connection, from its subflow context. Fills st->mp; returns
 * false for a plain TCP socket. */
static __always_inline bool mp_mark_subflow(const struct sock *sk, struct fc_conn_state *st)
{
    if (!track_mptcp || !BPF_CORE_READ((const struct tcp_sock *)sk, is_mptcp))
        return false;
    struct mptcp_subflow_context *ctx =
        BPF_CORE_READ((const struct inet_connection_sock *)sk, icsk_ulp_data);
    if (!ctx)
        return false;
    const struct sock *msk = BPF_CORE_READ(ctx, conn);
    if (!msk)
        return false;
    st->mp.msk = (__u64)(unsigned long)msk;
    st->mp.kind = (BPF_CORE_READ_BITFIELD_PROBED(ctx, request_join) ||
                   BPF_CORE_READ_BITFIELD_PROBED(ctx, mp_join))
                      ? FC_MPTCP_SF_JOIN
                      : FC_MPTCP_SF_INITIAL;
    /* An active join's context holds the token it joins (the peer's); the
     * connection's own token is the msk's, set by then. The initial
     * subflow's context has the local token before the msk does. */
    st->mp.token = st->mp.kind == FC_MPTCP_SF_JOIN
                       ? BPF_CORE_READ((const struct mptcp_sock *)msk, token)
                       : BPF_CORE_READ(ctx, token);
    struct fc_conn_state *mst = lookup(msk);
    st->mp.conn_id = mst ? mst->conn_id : 0;
    if (!mst)
        stat_inc(FC_STAT_MP_NOT_TRACKED);
    return true;
}

/* A subflow reached ESTABLISHED: the initial one is counted by its
 * connection when that establishes; a join is a transition of it. A passive
 * connection's first event waits for its initial subflow: the MPTCP socket,
 * just cloned from the listener, does not know its peer's address yet. */
static __always_inline void mp_subflow_established(const struct sock *sk, struct fc_conn_state *st)
{
    if (!st->mp.msk || st->mp.established)
        return;
    st->mp.established = 1;
    struct fc_conn_state *mst = lookup_addr(st->mp.msk);
    if (!mst)
        return;
    if (!st->mp.conn_id)
        st->mp.conn_id = mst->conn_id;
    const struct sock *msk = (const struct sock *)st->mp.msk;
    if (st->mp.kind != FC_MPTCP_SF_JOIN) {
        if (mst->role == ROLE_PASSIVE && mst->seq == 0)
            emit_mp(msk, mst, FC_EV_MP_OPEN_PASSIVE, 0, st, sk, 0, 0);
        return;
    }
    mst->mpc.joins += 1;
    mp_count_subflow(mst);
    emit_mp(msk, mst, FC_EV_MP_SF_JOINED, 0, st, NULL, 0, 0);
}

static __always_inline void mp_subflow_closed(const struct sock *sk, struct fc_conn_state *st,
                                              __u8 old_state)
{
    if (!st->mp.msk)
        return;
    struct fc_conn_state *mst = lookup_addr(st->mp.msk);
    if (!mst)
        return; /* the connection closed first */
    if (st->mp.established && mst->mpc.subflows > 0)
        mst->mpc.subflows -= 1;
    if (st->lossy && mst->mpc.lossy_subflows > 0)
        mst->mpc.lossy_subflows -= 1;
    /* Once the application closed the connection (the MPTCP socket left
     * ESTABLISHED), its subflows end as part of that close, whichever comes
     * first: no subflow close of its own, as the path manager counts them
     * (mptcp_close_ssk() sends SF_CLOSED only while ESTABLISHED). Counting
     * them raced the socket's own close. */
    const struct sock *msk = (const struct sock *)st->mp.msk;
    if (BPF_CORE_READ(msk, __sk_common.skc_state) != TCP_STATE_ESTABLISHED)
        return;
    mst->mpc.sf_closed += 1;
    __s32 err = BPF_CORE_READ(sk, sk_err);
    if (!err)
        err = st->last_err;
    emit_mp((const struct sock *)st->mp.msk, mst, FC_EV_MP_SF_CLOSED, 0, st, NULL, old_state, err);
}

static __always_inline void mp_subflow_lossy(struct fc_conn_state *st, __u8 lossy)
{
    if (!st->mp.msk)
        return;
    struct fc_conn_state *mst = lookup_addr(st->mp.msk);
    if (!mst)
        return;
    if (lossy) {
        mst->mpc.lossy_subflows += 1;
        if (mst->mpc.lossy_subflows == 1)
            emit_mp((const struct sock *)st->mp.msk, mst, FC_EV_MP_LOSSY_ENTER, 0, st, NULL, 0, 0);
    } else if (mst->mpc.lossy_subflows > 0) {
        mst->mpc.lossy_subflows -= 1;
        if (mst->mpc.lossy_subflows == 0)
            emit_mp((const struct sock *)st->mp.msk, mst, FC_EV_MP_LOSSY_EXIT, 0, st, NULL, 0, 0);
    }
}

/* Did the connection fall back to TCP at the handshake? The first subflow
 * asked for MPTCP (request_mptcp) and the peer's SYN-ACK did not carry
 * MP_CAPABLE (mp_capable stays 0). */
static __always_inline __u8 mp_fell_back(const struct sock *msk)
{
    const struct sock *first = BPF_CORE_READ((const struct mptcp_sock *)msk, first);
    if (!first)
        return 0;
    struct mptcp_subflow_context *ctx =
        BPF_CORE_READ((const struct inet_connection_sock *)first, icsk_ulp_data);
    if (!ctx)
        return 0;
    return BPF_CORE_READ_BITFIELD_PROBED(ctx, request_mptcp) &&
           !BPF_CORE_READ_BITFIELD_PROBED(ctx, mp_capable);
}

/* inet_sock_set_state on the MPTCP socket itself. Returns whether it changed
 * anything: a second run for the same transition does not (see "nested"). */
static __always_inline bool mp_set_state(const struct sock *msk, int oldstate, int newstate)
{
    const struct mptcp_sock *m = (const struct mptcp_sock *)msk;
    struct fc_conn_state *st = lookup(msk);
    if (!st) {
        __u8 role;
        if (oldstate == TCP_STATE_CLOSE && newstate == TCP_STATE_SYN_SENT)
            role = ROLE_ACTIVE;
        else if (oldstate == TCP_STATE_LISTEN && newstate == TCP_STATE_ESTABLISHED)
            role = ROLE_PASSIVE; /* cloned from the listener for an MP_CAPABLE SYN */
        else
            return false;
        if (filter_netns_ino &&
            BPF_CORE_READ(msk, __sk_common.skc_net.net, ns.inum) != filter_netns_ino)
            return false;
        struct fc_conn_state init = {};
        init.conn_id = __sync_fetch_and_add(&next_conn_id, 1);
        init.role = role;
        if (role == ROLE_PASSIVE)
            init.mpc.subflows = init.mpc.subflows_max = 1; /* the initial subflow */
        __u64 skaddr = (__u64)(unsigned long)msk;
        if (bpf_map_update_elem(&conns, &skaddr, &init, BPF_NOEXIST)) {
            stat_inc(FC_STAT_TABLE_FULL);
            return false;
        }
        /* A passive open is reported with its initial subflow (above). */
        st = bpf_map_lookup_elem(&conns, &skaddr);
        if (st && role == ROLE_ACTIVE)
            emit_mp(msk, st, FC_EV_MP_OPEN_ACTIVE, 0, NULL, NULL, 0, 0);
        return true;
    }
    if (newstate == TCP_STATE_ESTABLISHED && oldstate == TCP_STATE_SYN_SENT) {
        if (st->established)
            return false; /* reported by the tracepoint's other program */
        st->established = 1;
        st->mpc.fallback = mp_fell_back(msk);
        mp_count_subflow(st); /* the initial subflow */
        emit_mp(msk, st, FC_EV_MP_ESTABLISHED, oldstate, NULL, BPF_CORE_READ(m, first), 0, 0);
        return true;
    }
    if (newstate != TCP_STATE_CLOSE)
        return false;
    emit_mp(msk, st, FC_EV_MP_CLOSE, oldstate, NULL, BPF_CORE_READ(m, first), 0, 0);
    __u64 skaddr = (__u64)(unsigned long)msk;
    bpf_map_delete_elem(&conns, &skaddr);
    return true;
}

/* ---- sockops: opens, RTT samples, RTOs, slow-path segments ---- */

static __always_inline void track_open(struct bpf_sock_ops *skops, const struct sock *sk, __u8 role)
{
    if (filter_netns_ino && BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum) != filter_netns_ino)
        return;

    struct fc_conn_state init = {};
    init.conn_id = __sync_fetch_and_add(&next_conn_id, 1);
    init.role = role;
    __u64 skaddr = (__u64)(unsigned long)sk;
    if (bpf_map_update_elem(&conns, &skaddr, &init, BPF_NOEXIST)) {
        stat_inc(FC_STAT_TABLE_FULL);
        return;
    }
    struct fc_conn_state *st = bpf_map_lookup_elem(&conns, &skaddr);
    if (!st)
        return;
    mp_mark_subflow(sk, st);

    /* Only the callbacks we use: every extra flag costs per-segment work. */
    int flags = BPF_SOCK_OPS_RTT_CB_FLAG | BPF_SOCK_OPS_RTO_CB_FLAG;
    if (track_ooo_distance)
        flags |= BPF_SOCK_OPS_PARSE_ALL_HDR_OPT_CB_FLAG;
    bpf_sock_ops_cb_flags_set(skops, flags);

    /* SYN-ACK timeouts happen on the request socket, which runs no sockops
     * callbacks; the kernel (>= 6.7) hands their count to the child as
     * total_rto. Start from it so the opening window counts them. */
    if (role == ROLE_PASSIVE && bpf_core_field_exists(((struct tcp_sock *)0)->total_rto))
        st->anc.rto_count = BPF_CORE_READ((const struct tcp_sock *)sk, total_rto);

    emit(sk, st, role == ROLE_ACTIVE ? FC_EV_OPEN_ACTIVE : FC_EV_OPEN_PASSIVE, 0, 0);
    if (role == ROLE_PASSIVE)
        mp_subflow_established(sk, st);
}

static __always_inline void on_rtt(const struct sock *sk, __u64 mrtt_us)
{
    struct fc_conn_state *st = lookup(sk);
    stat_inc(FC_STAT_RTT_CB);
    if (!st)
        return;
    st->anc.rtt_samples += 1;
    st->anc.rtt_sum_us += mrtt_us;
    st->anc.rtt_sumsq_us2 += mrtt_us * mrtt_us;
}

static __always_inline void on_rto(const struct sock *sk)
{
    struct fc_conn_state *st = lookup(sk);
    if (st)
        st->anc.rto_count += 1;
}

/* Called for segments that took the slow path (header prediction failed):
 * out-of-order arrivals always do. Distance = seq - rcv_nxt in bytes.
 *
 * One callback per skb, and an skb may hold several wire segments: while
 * the application holds the socket (recvmsg), arrivals wait in its backlog,
 * which coalesces contiguous segments (tcp_add_backlog(), the kernel's
 * TCPBacklogCoalesce counter); GRO does the same where it is on. Each wire
 * segment is one sample at its own distance, as rcv_ooopack counts them:
 * the skb's payload is taken as full-sized segments of rcv_mss bytes, the
 * last one shorter.
 *
 * rcv_mss is the kernel's estimate of the peer's segment size, measured
 * from data already taken in; until then it holds the initial guess of at
 * most 536 bytes (tcp_initialize_rcv_mss()), and a first data segment that
 * arrives out of order would count as three. A segment can be no larger
 * than the MSS we advertised less the options every segment carries, so
 * that bound stands in for an estimate that may still be the guess; a real
 * segment size under 536 bytes (IPv4's minimum) is not worth the doubt
 * (explore-395, -423). */
#define FC_TCP_MSS_DEFAULT 536
static __always_inline void on_segment(struct bpf_sock_ops *skops, const struct sock *sk)
{
    stat_inc(FC_STAT_HDR_CB);
    void *data = (void *)(long)skops->skb_data;
    void *data_end = (void *)(long)skops->skb_data_end;
    struct tcphdr *th = data;
    if ((void *)(th + 1) > data_end)
        return;
    __u32 hdr_len = th->doff * 4;
    if (skops->skb_len <= hdr_len)
        return; /* no payload */
    __s32 dist = (__s32)(bpf_ntohl(th->seq) - skops->rcv_nxt);
    if (dist <= 0)
        return;
    struct fc_conn_state *st = lookup(sk);
    if (!st)
        return;
    __u32 payload = skops->skb_len - hdr_len;
    __u32 mss = BPF_CORE_READ((const struct inet_connection_sock *)sk, icsk_ack.rcv_mss);
    const struct tcp_sock *tp = (const struct tcp_sock *)sk;
    /* An active opener's advmss had the timestamp option taken off with the
     * SYN-ACK (tcp_rcv_synsent_state_process()), a passive one's did not
     * (tcp_v4/v6_syn_recv_sock()). */
    __u32 max_seg = BPF_CORE_READ(tp, advmss);
    if (st->role == ROLE_PASSIVE)
        max_seg -= BPF_CORE_READ(tp, tcp_header_len) - sizeof(struct tcphdr);
    if (mss <= FC_TCP_MSS_DEFAULT && max_seg > FC_TCP_MSS_DEFAULT && max_seg < 65536)
        mss = max_seg;
    __u64 k = 1;
    if (mss && payload > mss)
        k = (payload + mss - 1) / mss;
    if (k > 64)
        k = 64;
    /* sum over i < k of (d + i*mss) and of its square */
    __u64 d = (__u64)dist, g = k > 1 ? mss : 0;
    __u64 s1 = k * (k - 1) / 2, s2 = (k - 1) * k * (2 * k - 1) / 6;
    st->anc.ooo_samples += k;
    st->anc.ooo_dist_sum += k * d + g * s1;
    st->anc.ooo_dist_sumsq += k * d * d + 2 * d * g * s1 + g * g * s2;
}

SEC("sockops")
int fc_sockops(struct bpf_sock_ops *skops)
{
    struct bpf_sock *bsk = skops->sk;
    if (!bsk)
        return 1;
    struct tcp_sock *tp = bpf_skc_to_tcp_sock(bsk);
    if (!tp)
        return 1;
    const struct sock *sk = (const struct sock *)tp;

    switch (skops->op) {
    case BPF_SOCK_OPS_TCP_CONNECT_CB:
        track_open(skops, sk, ROLE_ACTIVE);
        break;
    case BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB:
        track_open(skops, sk, ROLE_PASSIVE);
        break;
    case BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB:
        /* tcp_finish_connect() sets ESTABLISHED, then lets MPTCP check an
         * active join (subflow_finish_connect()): one arriving after the
         * connection's DATA_FIN is reset and closed there, which deleted
         * its entry. Only then does this callback run: a join still here
         * was admitted (explore-379). */
        if (track_mptcp && skops->state == TCP_STATE_ESTABLISHED &&
            BPF_CORE_READ(tp, is_mptcp)) {
            struct fc_conn_state *st = lookup(sk);
            if (st && st->mp.kind == FC_MPTCP_SF_JOIN)
                mp_subflow_established(sk, st);
        }
        break;
    case BPF_SOCK_OPS_RTT_CB:
        /* args[0] is this sample in microseconds; older kernels pass nothing,
         * and the smoothed RTT is the best stand-in they offer. */
        on_rtt(sk, rtt_cb_has_sample ? skops->args[0] : skops->srtt_us >> 3);
        break;
    case BPF_SOCK_OPS_RTO_CB:
        /* args[2] = "expired": this timeout ends the connection (retries or
         * user timeout exhausted) and nothing is retransmitted; that is the
         * close cause, not a stall. The kernel's total_rto skips it too. */
        if (!skops->args[2])
            on_rto(sk);
        break;
    case BPF_SOCK_OPS_PARSE_HDR_OPT_CB:
        on_segment(skops, sk);
        break;
    }
    return 1;
}

/* ---- tracepoints: lifecycle, congestion state, resets, duplicates ----
 *
 * Nested runs. The kernel runs a raw-tracepoint program at most once per CPU
 * at a time: when the tracepoint fires while the same program is running on
 * that CPU, the nested run is skipped and only counted
 * (bpf_prog_info.recursion_misses; __bpf_trace_run()). These tracepoints fire
 * in process context (a socket's backlog processed by release_sock(), a
 * connect() or close()) and in the softirqs that can interrupt it (timers,
 * packet reception), so an event can be lost without a trace in the ring
 * buffer. (Suspected, not shown, of two rare suite failures: over 26 loaded
 * rounds and a 300-scenario batch the kernel skipped no run, and a missed
 * loss episode recurred with nothing skipped.) Each tracepoint therefore
 * has a second program,
 * attached after the first, that runs the same handler. The kernel calls
 * them one after the other and skips only the one the interrupted context is
 * in, so at least one of them runs for every firing. Every handler is
 * idempotent: the second run of a transition finds it done (the state
 * recorded, the entry deleted) and changes nothing; duplicate drops, the one
 * count, are deduplicated by the skb (dup_seen()). The second program counts
 * what only it handled (FC_STAT_NESTED_CAUGHT). */

static __always_inline bool tcp_set_state_event(const struct sock *sk, int oldstate, int newstate,
                                                bool second)
{
    /* The state first: most transitions concern no handler here. */
    const bool mp_open = track_mptcp && newstate == TCP_STATE_SYN_SENT;
    if (newstate != TCP_STATE_ESTABLISHED && newstate != TCP_STATE_CLOSE && !mp_open)
        return false;
    const __u16 protocol = BPF_CORE_READ(sk, sk_protocol);
    if (track_mptcp && protocol == FC_IPPROTO_MPTCP)
        return mp_set_state(sk, oldstate, newstate);
    if (protocol != IPPROTO_TCP || mp_open)
        return false;

    struct fc_conn_state *st = lookup(sk);
    if (!st) {
        /* After the first program's close, the second finds no entry. */
        if (!second && newstate == TCP_STATE_CLOSE && oldstate != TCP_STATE_LISTEN &&
            oldstate != TCP_STATE_CLOSE && oldstate != TCP_STATE_SYN_RECV &&
            (!filter_netns_ino ||
             BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum) == filter_netns_ino))
            stat_inc(FC_STAT_NOT_TRACKED);
        return false;
    }

    if (newstate == TCP_STATE_ESTABLISHED) {
        if (oldstate != TCP_STATE_SYN_SENT || st->established)
            return false;
        st->established = 1;
        st->lossy = 0; /* SYN timeouts were the opening window's business */
        emit(sk, st, FC_EV_ESTABLISHED, oldstate, 0);
        /* An active join is admitted only after this (sockops). */
        if (st->mp.kind != FC_MPTCP_SF_JOIN)
            mp_subflow_established(sk, st);
        return true;
    }
    emit(sk, st, FC_EV_CLOSE, oldstate, 0);
    mp_subflow_closed(sk, st, oldstate);
    __u64 skaddr = (__u64)(unsigned long)sk;
    bpf_map_delete_elem(&conns, &skaddr);
    return true;
}

SEC("raw_tp/inet_sock_set_state")
int BPF_PROG(fc_set_state, const struct sock *sk, int oldstate, int newstate)
{
    tcp_set_state_event(sk, oldstate, newstate, false);
    return 0;
}

SEC("raw_tp/inet_sock_set_state")
int BPF_PROG(fc_set_state_nested, const struct sock *sk, int oldstate, int newstate)
{
    if (tcp_set_state_event(sk, oldstate, newstate, true))
        stat_inc(FC_STAT_NESTED_CAUGHT);
    return 0;
}

static __always_inline bool cong_state_event(const struct sock *sk, __u8 ca_state)
{
    int state = BPF_CORE_READ(sk, __sk_common.skc_state);
    if (state == TCP_STATE_SYN_SENT || state == TCP_STATE_SYN_RECV)
        return false;
    struct fc_conn_state *st = lookup(sk);
    if (!st)
        return false;
    __u8 lossy = ca_state == CA_RECOVERY || ca_state == CA_LOSS;
    if (lossy == st->lossy)
        return false;
    st->lossy = lossy;
    emit(sk, st, lossy ? FC_EV_LOSSY_ENTER : FC_EV_LOSSY_EXIT, state, ca_state);
    mp_subflow_lossy(st, lossy);
    return true;
}

SEC("raw_tp/tcp_cong_state_set")
int BPF_PROG(fc_cong_state, const struct sock *sk, __u8 ca_state)
{
    cong_state_event(sk, ca_state);
    return 0;
}

SEC("raw_tp/tcp_cong_state_set")
int BPF_PROG(fc_cong_state_nested, const struct sock *sk, __u8 ca_state)
{
    if (cong_state_event(sk, ca_state))
        stat_inc(FC_STAT_NESTED_CAUGHT);
    return 0;
}

/* Every hard error on a TCP socket (reset, ICMP unreachable, timeout) is
 * reported here before the socket closes. */
static __always_inline bool error_report_event(const struct sock *sk)
{
    struct fc_conn_state *st = lookup(sk);
    if (!st)
        return false;
    __s32 err = BPF_CORE_READ(sk, sk_err);
    if (st->last_err == err)
        return false;
    st->last_err = err;
    return true;
}

SEC("raw_tp/inet_sk_error_report")
int BPF_PROG(fc_error_report, const struct sock *sk)
{
    error_report_event(sk);
    return 0;
}

SEC("raw_tp/inet_sk_error_report")
int BPF_PROG(fc_error_report_nested, const struct sock *sk)
{
    if (error_report_event(sk))
        stat_inc(FC_STAT_NESTED_CAUGHT);
    return 0;
}

/* The overhead evaluation's "naive" agent (experiments/overhead): what an
 * agent pays if it reads the connection's state on every received segment
 * instead of on the slow paths only. Loaded only with `agent --naive`, never
 * otherwise. The snapshot goes to a per-CPU scratch slot (no stack room). */
struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct fc_tcp_snapshot);
} naive_scratch SEC(".maps");

SEC("raw_tp/tcp_probe")
int BPF_PROG(fc_naive_segment, const struct sock *sk, const struct sk_buff *skb)
{
    struct fc_conn_state *st = lookup(sk);
    if (!st)
        return 0;
    __u32 zero = 0;
    struct fc_tcp_snapshot *snap = bpf_map_lookup_elem(&naive_scratch, &zero);
    if (!snap)
        return 0;
    fill_snapshot(sk, st, snap);
    stat_inc(FC_STAT_NAIVE_SEGMENTS);
    return 0;
}

static __always_inline bool receive_reset_event(const struct sock *sk)
{
    struct fc_conn_state *st = lookup(sk);
    if (!st || st->reset_rcvd)
        return false;
    st->reset_rcvd = 1;
    return true;
}

SEC("raw_tp/tcp_receive_reset")
int BPF_PROG(fc_receive_reset, const struct sock *sk)
{
    receive_reset_event(sk);
    return 0;
}

SEC("raw_tp/tcp_receive_reset")
int BPF_PROG(fc_receive_reset_nested, const struct sock *sk)
{
    if (receive_reset_event(sk))
        stat_inc(FC_STAT_NESTED_CAUGHT);
    return 0;
}

/* The skbs whose drop the first kfree_skb program counted on this CPU, for
 * the second to skip. A few slots, not one: a nested firing between the two
 * programs' runs of one drop pushes and takes its own. */
#define FC_DUP_SEEN_SLOTS 4
struct fc_dup_seen {
    __u64 skb[FC_DUP_SEEN_SLOTS];
    __u32 next;
    __u32 pad;
};

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct fc_dup_seen);
} dup_seen SEC(".maps");

/* First program: remember the skb. Second: was it counted already? */
static __always_inline bool dup_seen_check(const struct sk_buff *skb, bool second)
{
    __u32 zero = 0;
    struct fc_dup_seen *seen = bpf_map_lookup_elem(&dup_seen, &zero);
    if (!seen)
        return false;
    const __u64 addr = (__u64)(unsigned long)skb;
    if (!second) {
        seen->skb[seen->next % FC_DUP_SEEN_SLOTS] = addr;
        seen->next += 1;
        return false;
    }
    for (int i = 0; i < FC_DUP_SEEN_SLOTS; i++) {
        if (seen->skb[i] == addr) {
            seen->skb[i] = 0;
            return true;
        }
    }
    return false;
}

/* Segments wholly below rcv_nxt are dropped with reason TCP_OLD_DATA (after
 * validation) or TCP_OLD_SEQUENCE (before rcv_wup): the drop is the slow path
 * and it names the receiving socket (kernel >= 6.11, checked at load). */
static __always_inline bool kfree_skb_event(const struct sk_buff *skb, __u32 reason,
                                            const struct sock *rx_sk, bool second)
{
    const bool paws = reason == drop_reason_paws;
    if (reason != drop_reason_old_data && reason != drop_reason_old_seq && !paws)
        return false;
    if (!rx_sk)
        return false;
    struct fc_conn_state *st = lookup(rx_sk);
    if (!st)
        return false;
    /* Only segments carrying data: TCP_OLD_SEQUENCE also drops old pure
     * ACKs (one reordered behind later data, say), which are not
     * duplicates of anything the peer sent. TCP_SKB_CB is filled by
     * tcp_v4_rcv/tcp_v6_rcv before either drop point. */
    struct tcp_skb_cb *cb = (struct tcp_skb_cb *)((char *)skb + bpf_core_field_offset(skb->cb));
    __u32 seq = BPF_CORE_READ(cb, seq);
    __u32 end_seq = BPF_CORE_READ(cb, end_seq);
    __u16 flags = BPF_CORE_READ(cb, tcp_flags);
    __u32 payload = end_seq - seq - ((flags & 0x01) ? 1 : 0) - ((flags & 0x02) ? 1 : 0);
    if ((__s32)payload <= 0)
        return false;
    /* PAWS drops old segments whatever their sequence: only those wholly
     * below rcv_nxt are duplicates of what was received. */
    if (paws && (__s32)(end_seq - BPF_CORE_READ((const struct tcp_sock *)rx_sk, rcv_nxt)) > 0)
        return false;
    if (dup_seen_check(skb, second))
        return false;
    /* A GSO/GRO skb stands for several wire segments. */
    unsigned char *head = BPF_CORE_READ(skb, head);
    struct skb_shared_info *shinfo = (struct skb_shared_info *)(head + BPF_CORE_READ(skb, end));
    __u16 segs = BPF_CORE_READ(shinfo, gso_segs);
    st->anc.dup_segs_in += segs ? segs : 1;
    stat_inc(FC_STAT_DUP_DROPS);
    return true;
}

SEC("raw_tp/kfree_skb")
int BPF_PROG(fc_kfree_skb, struct sk_buff *skb, void *location, __u32 reason, const struct sock *rx_sk)
{
    kfree_skb_event(skb, reason, rx_sk, false);
    return 0;
}

SEC("raw_tp/kfree_skb")
int BPF_PROG(fc_kfree_skb_nested, struct sk_buff *skb, void *location, __u32 reason,
             const struct sock *rx_sk)
{
    if (kfree_skb_event(skb, reason, rx_sk, true))
        stat_inc(FC_STAT_NESTED_CAUGHT);
    return 0;
}
