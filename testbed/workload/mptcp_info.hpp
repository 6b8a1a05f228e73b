// MPTCP ground truth of one connection side: getsockopt(SOL_MPTCP,
// MPTCP_FULL_INFO) (struct mptcp_info plus, per subflow, its addresses and
// struct tcp_info). The system's <linux/mptcp.h> predates MPTCP_FULL_INFO and
// the byte counters, so we mirror Linux 6.18's layouts, as tcp_info.hpp does
// for struct tcp_info; the kernel copies min(our size, its size).
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>

#include "workload/tcp_info.hpp"

namespace fc::workload {

#ifdef IPPROTO_MPTCP
constexpr int kIpprotoMptcp = IPPROTO_MPTCP;
#else
constexpr int kIpprotoMptcp = 262;
#endif
constexpr int kSolMptcp = 284;                  // SOL_MPTCP
constexpr int kMptcpInfoOpt = 1;                // MPTCP_INFO
constexpr int kMptcpFullInfoOpt = 4;            // MPTCP_FULL_INFO
constexpr uint32_t kMptcpInfoFlagFallback = 1;  // MPTCP_INFO_FLAG_FALLBACK

struct KernelMptcpInfo {
    uint8_t mptcpi_subflows;
    uint8_t mptcpi_add_addr_signal;
    uint8_t mptcpi_add_addr_accepted;
    uint8_t mptcpi_subflows_max;
    uint8_t mptcpi_add_addr_signal_max;
    uint8_t mptcpi_add_addr_accepted_max;
    uint32_t mptcpi_flags;
    uint32_t mptcpi_token;
    uint64_t mptcpi_write_seq;
    uint64_t mptcpi_snd_una;
    uint64_t mptcpi_rcv_nxt;
    uint8_t mptcpi_local_addr_used;
    uint8_t mptcpi_local_addr_max;
    uint8_t mptcpi_csum_enabled;
    uint32_t mptcpi_retransmits;
    uint64_t mptcpi_bytes_retrans;
    uint64_t mptcpi_bytes_sent;
    uint64_t mptcpi_bytes_received;
    uint64_t mptcpi_bytes_acked;
    uint8_t mptcpi_subflows_total;
    uint8_t mptcpi_endp_laminar_max;
    uint8_t reserved[2];
    uint32_t mptcpi_last_data_sent;
    uint32_t mptcpi_last_data_recv;
    uint32_t mptcpi_last_ack_recv;
};

struct KernelMptcpSubflowInfo {
    uint32_t id;
    sockaddr_storage local;   // struct mptcp_subflow_addrs: two
    sockaddr_storage remote;  // __kernel_sockaddr_storage unions
};

struct KernelMptcpFullInfo {
    uint32_t size_tcpinfo_kernel;
    uint32_t size_tcpinfo_user;
    uint32_t size_sfinfo_kernel;
    uint32_t size_sfinfo_user;
    uint32_t num_subflows;
    uint32_t size_arrays_user;
    alignas(8) uint64_t subflow_info;  // user pointers
    alignas(8) uint64_t tcp_info;
    KernelMptcpInfo mptcp_info;
};

// MPTCP_INFO: nullopt when the kernel refuses (a socket that fell back to
// TCP passes SOL_MPTCP on to its TCP subflow, which does not know it).
std::optional<KernelMptcpInfo> read_mptcp_info(int fd);

// Waits (up to timeout_ms) until everything this side sent, its DATA_FIN
// included, is acknowledged at data level (snd_una == write_seq). Returns
// false on timeout or when MPTCP_INFO is refused.
bool wait_mptcp_acked(int fd, int timeout_ms);

// Then (up to timeout_ms) until every subflow's own data and FIN are
// acknowledged too (tcpi_unacked 0): the DATA_ACK may come over another
// subflow before a subflow's own ACK. False if that did not happen (a dead
// path's subflow never gets its ACK).
bool wait_subflows_acked(int fd, int timeout_ms);

// {"token", "fallback", "info": {...}, "subflows": [...]} (FORMATS.md,
// "MPTCP workload truth"). On a fallen-back socket (MPTCP_FULL_INFO refused)
// token and info are null, fallback is true and the one subflow's TCP_INFO
// comes from getsockopt(TCP_INFO), which then reaches the TCP socket.
nlohmann::json read_mptcp_truth(int fd);

// A subflow entry of read_mptcp_truth() the kernel has already closed and
// released: no addresses left, or an all-zero tcp_info.
bool subflow_released(const nlohmann::json& sf);

// The last live view of each subflow (by id), taken while the connection
// runs: the kernel releases subflows when the connection ends (on the side
// that finishes last, often before our final read), and a released subflow's
// TCP_INFO reads zeros. merge_into() replaces released or vanished subflows
// of the final read by their last snapshot, marked "final": false with its
// "t_snapshot_ns"; subflows read at the end are "final": true.
class SubflowSnapshots {
  public:
    void take(int fd, int64_t now_ns);
    void merge_into(nlohmann::json& truth) const;

  private:
    std::map<uint32_t, nlohmann::json> seen_;
};

// The mptcp_info fields by name (without "mptcpi_"), all of them.
nlohmann::json to_json(const KernelMptcpInfo& i);

}  // namespace fc::workload
