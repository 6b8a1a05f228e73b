#include "workload/mptcp_info.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cerrno>
#include <chrono>
#include <map>
#include <thread>
#include <vector>

#include "workload/endpoint.hpp"

namespace fc::workload {

static_assert(sizeof(KernelMptcpInfo) == 96, "struct mptcp_info layout of Linux 6.18");
static_assert(sizeof(KernelMptcpSubflowInfo) == 264, "struct mptcp_subflow_info");
static_assert(offsetof(KernelMptcpFullInfo, mptcp_info) == 40, "struct mptcp_full_info");

std::optional<KernelMptcpInfo> read_mptcp_info(int fd) {
    KernelMptcpInfo i{};
    socklen_t len = sizeof i;
    if (getsockopt(fd, kSolMptcp, kMptcpInfoOpt, &i, &len) != 0 ||
        len < offsetof(KernelMptcpInfo, mptcpi_subflows_total))
        return std::nullopt;
    return i;
}

bool wait_mptcp_acked(int fd, int timeout_ms) {
    const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    for (;;) {
        const auto i = read_mptcp_info(fd);
        if (!i) return false;
        if (i->mptcpi_snd_una == i->mptcpi_write_seq) return true;
        if (std::chrono::steady_clock::now() >= end) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
}

nlohmann::json to_json(const KernelMptcpInfo& i) {
    nlohmann::json j;
    j["subflows"] = i.mptcpi_subflows;
    j["add_addr_signal"] = i.mptcpi_add_addr_signal;
    j["add_addr_accepted"] = i.mptcpi_add_addr_accepted;
    j["subflows_max"] = i.mptcpi_subflows_max;
    j["add_addr_signal_max"] = i.mptcpi_add_addr_signal_max;
    j["add_addr_accepted_max"] = i.mptcpi_add_addr_accepted_max;
    j["flags"] = i.mptcpi_flags;
    j["token"] = i.mptcpi_token;
    j["write_seq"] = i.mptcpi_write_seq;
    j["snd_una"] = i.mptcpi_snd_una;
    j["rcv_nxt"] = i.mptcpi_rcv_nxt;
    j["local_addr_used"] = i.mptcpi_local_addr_used;
    j["local_addr_max"] = i.mptcpi_local_addr_max;
    j["csum_enabled"] = i.mptcpi_csum_enabled;
    j["retransmits"] = i.mptcpi_retransmits;
    j["bytes_retrans"] = i.mptcpi_bytes_retrans;
    j["bytes_sent"] = i.mptcpi_bytes_sent;
    j["bytes_received"] = i.mptcpi_bytes_received;
    j["bytes_acked"] = i.mptcpi_bytes_acked;
    j["subflows_total"] = i.mptcpi_subflows_total;
    j["endp_laminar_max"] = i.mptcpi_endp_laminar_max;
    j["last_data_sent"] = i.mptcpi_last_data_sent;
    j["last_data_recv"] = i.mptcpi_last_data_recv;
    j["last_ack_recv"] = i.mptcpi_last_ack_recv;
    return j;
}

namespace {

nlohmann::json subflow_json(const AddrPort& l, const AddrPort& r, nlohmann::json tcp_info) {
    return {{"local", l.addr},
            {"lport", l.port},
            {"remote", r.addr},
            {"rport", r.port},
            {"tcp_info", std::move(tcp_info)}};
}

}  // namespace

namespace {

struct FullRead {
    static constexpr uint32_t kMax = 16;  // subflows we ask for (the kernel's limit is 8)
    std::vector<KernelMptcpSubflowInfo> sf = std::vector<KernelMptcpSubflowInfo>(kMax);
    std::vector<KernelTcpInfo> ti = std::vector<KernelTcpInfo>(kMax);
    KernelMptcpFullInfo full{};
    int err = 0;  // 0: read
};

void read_full(int fd, FullRead& r) {
    r.full = {};
    r.full.size_tcpinfo_user = sizeof(KernelTcpInfo);
    r.full.size_sfinfo_user = sizeof(KernelMptcpSubflowInfo);
    r.full.size_arrays_user = FullRead::kMax;
    r.full.subflow_info = reinterpret_cast<uintptr_t>(r.sf.data());
    r.full.tcp_info = reinterpret_cast<uintptr_t>(r.ti.data());
    socklen_t len = sizeof r.full;
    r.err = getsockopt(fd, kSolMptcp, kMptcpFullInfoOpt, &r.full, &len) == 0 ? 0 : errno;
}

}  // namespace

bool wait_subflows_acked(int fd, int timeout_ms) {
    const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    FullRead r;
    for (;;) {
        read_full(fd, r);
        if (r.err) return false;
        bool all = true;
        for (uint32_t k = 0; k < std::min(r.full.num_subflows, FullRead::kMax); ++k)
            all = all && r.ti[k].tcpi_unacked == 0;
        if (all) return true;
        if (std::chrono::steady_clock::now() >= end) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
}

nlohmann::json read_mptcp_truth(int fd) {
    FullRead r;
    read_full(fd, r);
    const auto& sf = r.sf;
    const auto& ti = r.ti;
    const KernelMptcpFullInfo& full = r.full;
    constexpr uint32_t kMax = FullRead::kMax;
    nlohmann::json out;
    if (r.err) {
        const int err = r.err;
        // Fallen back to TCP: SOL_MPTCP goes to the one TCP subflow, which
        // refuses it (EOPNOTSUPP). TCP_INFO on the MPTCP socket after the
        // close does not reach that subflow either (zeros, no peer), so no
        // subflow is reported: the TCP side's truth is the server's TCP line.
        out["token"] = nullptr;
        out["fallback"] = true;
        out["info"] = nullptr;
        out["full_info_errno"] = err;
        nlohmann::json subs = nlohmann::json::array();
        out["subflows"] = subs;
        return out;
    }
    const KernelMptcpInfo& i = full.mptcp_info;
    out["token"] = i.mptcpi_token;
    out["fallback"] = (i.mptcpi_flags & kMptcpInfoFlagFallback) != 0;
    out["info"] = to_json(i);
    out["num_subflows"] = full.num_subflows;
    nlohmann::json subs = nlohmann::json::array();
    const uint32_t n = std::min(full.num_subflows, kMax);
    const socklen_t ti_len = std::min<uint32_t>(full.size_tcpinfo_kernel, sizeof(KernelTcpInfo));
    for (uint32_t k = 0; k < n; ++k) {
        TcpInfoSnapshot s;
        s.info = ti[k];
        s.length = ti_len;
        nlohmann::json one =
            subflow_json(describe(sf[k].local), describe(sf[k].remote), to_json(s));
        one["id"] = sf[k].id;
        subs.push_back(std::move(one));
    }
    out["subflows"] = subs;
    return out;
}

bool subflow_released(const nlohmann::json& sf) {
    const auto& l = sf["local"];
    return !l.is_string() || l == "" || l == "0.0.0.0" || l == "::" || sf["rport"] == 0 ||
           !sf["tcp_info"].is_object() || sf["tcp_info"].value("state", 0) == 0;
}

void SubflowSnapshots::take(int fd, int64_t now_ns) {
    const nlohmann::json t = read_mptcp_truth(fd);
    if (t["fallback"].get<bool>()) return;
    for (nlohmann::json sf : t["subflows"]) {
        if (subflow_released(sf)) continue;
        sf["t_snapshot_ns"] = now_ns;
        const auto id = sf["id"].get<uint32_t>();  // before the move (operator= takes by value)
        seen_[id] = std::move(sf);
    }
}

void SubflowSnapshots::merge_into(nlohmann::json& truth) const {
    if (!truth.is_object() || !truth["subflows"].is_array()) return;
    nlohmann::json out = nlohmann::json::array();
    std::map<uint32_t, bool> live;
    for (nlohmann::json sf : truth["subflows"]) {
        if (subflow_released(sf)) continue;  // its last snapshot stands in below
        sf["final"] = true;
        live[sf["id"].get<uint32_t>()] = true;
        out.push_back(std::move(sf));
    }
    for (const auto& [id, sf] : seen_) {
        if (live.count(id)) continue;
        nlohmann::json one = sf;
        one["final"] = false;
        out.push_back(std::move(one));
    }
    truth["subflows"] = std::move(out);
}

}  // namespace fc::workload
