#include "packet_io.hpp"

#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <netinet/in.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <system_error>
#include <vector>

#ifndef PACKET_IGNORE_OUTGOING
#define PACKET_IGNORE_OUTGOING 23
#endif

namespace fc::impair {
namespace {

[[noreturn]] void fail(const std::string& what) {
    throw std::system_error(errno, std::generic_category(), what);
}

int packet_socket() {
    // Protocol 0: receives nothing until bind() names ETH_P_ALL, so no frame
    // of another interface slips into the ring while it is being set up.
    const int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
    if (fd < 0) fail("socket(AF_PACKET)");
    return fd;
}

void setopt(int fd, int level, int opt, int val, const char* what) {
    if (setsockopt(fd, level, opt, &val, sizeof val) < 0) fail(what);
}

void bind_all(int fd, int ifindex, uint16_t proto) {
    sockaddr_ll sll{};
    sll.sll_family = AF_PACKET;
    sll.sll_protocol = htons(proto);
    sll.sll_ifindex = ifindex;
    if (bind(fd, reinterpret_cast<sockaddr*>(&sll), sizeof sll) < 0) fail("bind(AF_PACKET)");
}

constexpr uint32_t kFrameSize = 2048;
constexpr uint32_t kBlockSize = 1 << 20;

class RingV2 : public RxPort {
  public:
    RingV2(int ifindex, size_t frames) {
        fd_ = packet_socket();
        setopt(fd_, SOL_PACKET, PACKET_VERSION, TPACKET_V2, "PACKET_VERSION");
        setopt(fd_, SOL_PACKET, PACKET_IGNORE_OUTGOING, 1, "PACKET_IGNORE_OUTGOING");
        tpacket_req req{};
        req.tp_block_size = kBlockSize;
        req.tp_frame_size = kFrameSize;
        req.tp_block_nr =
            static_cast<unsigned>((frames * kFrameSize + kBlockSize - 1) / kBlockSize);
        req.tp_frame_nr = req.tp_block_nr * (kBlockSize / kFrameSize);
        if (setsockopt(fd_, SOL_PACKET, PACKET_RX_RING, &req, sizeof req) < 0)
            fail("PACKET_RX_RING");
        nframes_ = req.tp_frame_nr;
        size_ = size_t{req.tp_block_nr} * kBlockSize;
        void* m = mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_LOCKED, fd_, 0);
        if (m == MAP_FAILED) m = mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_SHARED, fd_, 0);
        if (m == MAP_FAILED) fail("mmap(rx ring)");
        ring_ = static_cast<uint8_t*>(m);
        bind_all(fd_, ifindex, ETH_P_ALL);
    }
    ~RingV2() override {
        if (ring_) munmap(ring_, size_);
    }
    size_t poll_batch(const std::function<void(const RxFrame&)>& f, size_t max) override {
        size_t n = 0;
        while (n < max) {
            auto* h = reinterpret_cast<tpacket2_hdr*>(ring_ + size_t{idx_} * kFrameSize);
            const uint32_t status = __atomic_load_n(&h->tp_status, __ATOMIC_ACQUIRE);
            if (!(status & TP_STATUS_USER)) break;
            RxFrame fr{};
            fr.data = reinterpret_cast<const uint8_t*>(h) + h->tp_mac;
            fr.snaplen = h->tp_snaplen;
            fr.wire_len = h->tp_len;
            fr.ts_ns = int64_t{h->tp_sec} * 1000000000 + h->tp_nsec;
            fr.has_vlan = (status & TP_STATUS_VLAN_VALID) != 0;
            fr.vlan_tci = h->tp_vlan_tci;
            fr.vlan_tpid = (status & TP_STATUS_VLAN_TPID_VALID) ? h->tp_vlan_tpid : 0x8100;
            f(fr);
            __atomic_store_n(&h->tp_status, TP_STATUS_KERNEL, __ATOMIC_RELEASE);
            idx_ = idx_ + 1 == nframes_ ? 0 : idx_ + 1;
            ++n;
        }
        return n;
    }

  private:
    uint8_t* ring_ = nullptr;
    size_t size_ = 0;
    uint32_t nframes_ = 0, idx_ = 0;
};

class RingV3 : public RxPort {
  public:
    RingV3(int ifindex, size_t frames) {
        fd_ = packet_socket();
        setopt(fd_, SOL_PACKET, PACKET_VERSION, TPACKET_V3, "PACKET_VERSION");
        setopt(fd_, SOL_PACKET, PACKET_IGNORE_OUTGOING, 1, "PACKET_IGNORE_OUTGOING");
        tpacket_req3 req{};
        req.tp_block_size = kBlockSize;
        req.tp_frame_size = kFrameSize;
        req.tp_block_nr =
            static_cast<unsigned>((frames * kFrameSize + kBlockSize - 1) / kBlockSize);
        req.tp_frame_nr = req.tp_block_nr * (kBlockSize / kFrameSize);
        req.tp_retire_blk_tov = 1;  // ms: the smallest the kernel takes
        if (setsockopt(fd_, SOL_PACKET, PACKET_RX_RING, &req, sizeof req) < 0)
            fail("PACKET_RX_RING(v3)");
        nblocks_ = req.tp_block_nr;
        size_ = size_t{nblocks_} * kBlockSize;
        void* m = mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_SHARED, fd_, 0);
        if (m == MAP_FAILED) fail("mmap(rx ring v3)");
        ring_ = static_cast<uint8_t*>(m);
        bind_all(fd_, ifindex, ETH_P_ALL);
    }
    ~RingV3() override {
        if (ring_) munmap(ring_, size_);
    }
    size_t poll_batch(const std::function<void(const RxFrame&)>& f, size_t max) override {
        size_t n = 0;
        while (n < max) {
            auto* b = reinterpret_cast<tpacket_block_desc*>(ring_ + size_t{blk_} * kBlockSize);
            if (!(__atomic_load_n(&b->hdr.bh1.block_status, __ATOMIC_ACQUIRE) & TP_STATUS_USER))
                break;
            auto* h = reinterpret_cast<tpacket3_hdr*>(reinterpret_cast<uint8_t*>(b) +
                                                      b->hdr.bh1.offset_to_first_pkt);
            for (uint32_t i = 0; i < b->hdr.bh1.num_pkts; ++i) {
                RxFrame fr{};
                fr.data = reinterpret_cast<const uint8_t*>(h) + h->tp_mac;
                fr.snaplen = h->tp_snaplen;
                fr.wire_len = h->tp_len;
                fr.ts_ns = int64_t{h->tp_sec} * 1000000000 + h->tp_nsec;
                fr.has_vlan = (h->tp_status & TP_STATUS_VLAN_VALID) != 0;
                fr.vlan_tci = static_cast<uint16_t>(h->hv1.tp_vlan_tci);
                fr.vlan_tpid = (h->tp_status & TP_STATUS_VLAN_TPID_VALID)
                                   ? static_cast<uint16_t>(h->hv1.tp_vlan_tpid)
                                   : 0x8100;
                f(fr);
                ++n;
                h = reinterpret_cast<tpacket3_hdr*>(reinterpret_cast<uint8_t*>(h) +
                                                    h->tp_next_offset);
            }
            __atomic_store_n(&b->hdr.bh1.block_status, TP_STATUS_KERNEL, __ATOMIC_RELEASE);
            blk_ = blk_ + 1 == nblocks_ ? 0 : blk_ + 1;
        }
        return n;
    }

  private:
    uint8_t* ring_ = nullptr;
    size_t size_ = 0;
    uint32_t nblocks_ = 0, blk_ = 0;
};

class Mmsg : public RxPort {
  public:
    Mmsg(int ifindex, size_t frames) {
        fd_ = packet_socket();
        setopt(fd_, SOL_PACKET, PACKET_IGNORE_OUTGOING, 1, "PACKET_IGNORE_OUTGOING");
        setopt(fd_, SOL_SOCKET, SO_TIMESTAMPNS, 1, "SO_TIMESTAMPNS");
        const int rcvbuf = static_cast<int>(std::min<size_t>(frames * 4096, 1 << 30));
        if (setsockopt(fd_, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf) < 0)
            setopt(fd_, SOL_SOCKET, SO_RCVBUF, rcvbuf, "SO_RCVBUF");
        bufs_.resize(kBatch * kFrameSize);
        ctrl_.resize(kBatch * kCtrl);
        bind_all(fd_, ifindex, ETH_P_ALL);
    }
    size_t poll_batch(const std::function<void(const RxFrame&)>& f, size_t max) override {
        size_t total = 0;
        while (total < max) {
            mmsghdr msgs[kBatch];
            iovec iov[kBatch];
            for (size_t i = 0; i < kBatch; ++i) {
                iov[i] = {bufs_.data() + i * kFrameSize, kFrameSize};
                msgs[i] = {};
                msgs[i].msg_hdr.msg_iov = &iov[i];
                msgs[i].msg_hdr.msg_iovlen = 1;
                msgs[i].msg_hdr.msg_control = ctrl_.data() + i * kCtrl;
                msgs[i].msg_hdr.msg_controllen = kCtrl;
            }
            const int n = recvmmsg(fd_, msgs, kBatch, MSG_DONTWAIT | MSG_TRUNC, nullptr);
            if (n <= 0) break;
            for (int i = 0; i < n; ++i) {
                RxFrame fr{};
                fr.data = bufs_.data() + size_t(i) * kFrameSize;
                fr.wire_len = msgs[i].msg_len;
                fr.snaplen = std::min<uint32_t>(msgs[i].msg_len, kFrameSize);
                for (cmsghdr* c = CMSG_FIRSTHDR(&msgs[i].msg_hdr); c;
                     c = CMSG_NXTHDR(&msgs[i].msg_hdr, c)) {
                    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
                        timespec ts;
                        std::memcpy(&ts, CMSG_DATA(c), sizeof ts);
                        fr.ts_ns = int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec;
                    }
                }
                if (fr.ts_ns == 0) {
                    timespec ts;
                    clock_gettime(CLOCK_REALTIME, &ts);
                    fr.ts_ns = int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec;
                }
                f(fr);
            }
            total += n;
            if (n < static_cast<int>(kBatch)) break;
        }
        return total;
    }

  private:
    static constexpr size_t kBatch = 64;
    static constexpr size_t kCtrl = 64;
    std::vector<uint8_t> bufs_, ctrl_;
};

}  // namespace

RxKind rx_kind_from_string(const std::string& s) {
    if (s == "ring") return RxKind::ring;
    if (s == "ring-v3") return RxKind::ring_v3;
    if (s == "mmsg") return RxKind::mmsg;
    throw std::invalid_argument("unknown I/O path '" + s + "' (ring, ring-v3, mmsg)");
}

const char* rx_kind_name(RxKind k) {
    switch (k) {
        case RxKind::ring:
            return "ring";
        case RxKind::ring_v3:
            return "ring-v3";
        case RxKind::mmsg:
            return "mmsg";
    }
    return "?";
}

RxPort::~RxPort() {
    if (fd_ >= 0) close(fd_);
}

std::unique_ptr<RxPort> RxPort::open(RxKind kind, int ifindex, size_t ring_frames) {
    switch (kind) {
        case RxKind::ring:
            return std::make_unique<RingV2>(ifindex, ring_frames);
        case RxKind::ring_v3:
            return std::make_unique<RingV3>(ifindex, ring_frames);
        case RxKind::mmsg:
            return std::make_unique<Mmsg>(ifindex, ring_frames);
    }
    return nullptr;
}

uint64_t RxPort::take_drops() {
    tpacket_stats_v3 st{};  // the v1/v2 layout is its prefix
    socklen_t len = sizeof st;
    if (getsockopt(fd_, SOL_PACKET, PACKET_STATISTICS, &st, &len) < 0) return 0;
    return st.tp_drops;
}

TxPort::TxPort(int ifindex) {
    fd_ = packet_socket();
    setopt(fd_, SOL_PACKET, PACKET_QDISC_BYPASS, 1, "PACKET_QDISC_BYPASS");
    const int sndbuf = 16 << 20;
    if (setsockopt(fd_, SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf, sizeof sndbuf) < 0)
        setopt(fd_, SOL_SOCKET, SO_SNDBUF, sndbuf, "SO_SNDBUF");
    bind_all(fd_, ifindex, 0);  // protocol 0: this socket receives nothing
}

TxPort::~TxPort() {
    if (fd_ >= 0) close(fd_);
}

size_t TxPort::send(const uint8_t* const* frames, const uint32_t* lens, size_t n, int* err) {
    constexpr size_t kMax = 64;
    size_t done = 0;
    *err = 0;
    while (done < n) {
        const size_t k = std::min(kMax, n - done);
        mmsghdr msgs[kMax];
        iovec iov[kMax];
        for (size_t i = 0; i < k; ++i) {
            iov[i] = {const_cast<uint8_t*>(frames[done + i]), lens[done + i]};
            msgs[i] = {};
            msgs[i].msg_hdr.msg_iov = &iov[i];
            msgs[i].msg_hdr.msg_iovlen = 1;
        }
        const int r = sendmmsg(fd_, msgs, static_cast<unsigned>(k), 0);
        if (r <= 0) {
            *err = r < 0 ? errno : EIO;
            return done;
        }
        done += static_cast<size_t>(r);
    }
    return done;
}

}  // namespace fc::impair
