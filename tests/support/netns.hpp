// Test topology helpers: namespaces, veth, firewall rules and sockets made
// by the test itself, removed by destructors (also when a test fails).
#pragma once

#include <linux/tcp.h>  // struct tcp_info with the RFC 4898 byte counters

#include <cstdint>
#include <string>

namespace fc::test {

// Runs a shell command; throws with its output if it fails.
void sh(const std::string& cmd);

// Two namespaces joined by a veth pair:
//   <prefix>-c  198.18.0.1/24  fd00:fc::1/64   (client side)
//   <prefix>-s  198.18.0.2/24  fd00:fc::2/64   (server side)
// 198.18.0.0/15 is reserved for benchmarking (RFC 2544) and fd00::/8 is
// unique-local: neither leaves the namespaces this test creates.
class VethPair {
  public:
    VethPair();
    ~VethPair();
    VethPair(const VethPair&) = delete;
    VethPair& operator=(const VethPair&) = delete;

    const std::string& client_ns() const { return client_; }
    const std::string& server_ns() const { return server_; }
    std::string client_dev() const { return prefix_ + "c"; }
    std::string server_dev() const { return prefix_ + "s"; }
    uint32_t client_inode() const;
    uint32_t server_inode() const;
    static constexpr const char* kClientV4 = "198.18.0.1";
    static constexpr const char* kServerV4 = "198.18.0.2";
    static constexpr const char* kClientV6 = "fd00:fc::1";
    static constexpr const char* kServerV6 = "fd00:fc::2";

  private:
    std::string prefix_, client_, server_;
};

// Two namespaces joined by two veth pairs (two paths), MPTCP enabled in both:
//   path 1: <prefix>-c 198.18.1.1/24 fd00:fc1::1/64  <->  <prefix>-s 198.18.1.2/24 fd00:fc1::2/64
//   path 2: <prefix>-c 198.18.2.1/24 fd00:fc2::1/64  <->  <prefix>-s 198.18.2.2/24 fd00:fc2::2/64
// Both sides accept 2 extra subflows; the client has its path-2 IPv4
// address as a "subflow" endpoint, so an MPTCP connection over path 1
// opens a second subflow from 198.18.2.1 once established.
class TwoPaths {
  public:
    TwoPaths();
    ~TwoPaths();
    TwoPaths(const TwoPaths&) = delete;
    TwoPaths& operator=(const TwoPaths&) = delete;

    const std::string& client_ns() const { return client_; }
    const std::string& server_ns() const { return server_; }
    std::string client_dev(int path) const { return prefix_ + "c" + std::to_string(path); }
    uint32_t client_inode() const;
    uint32_t server_inode() const;
    static constexpr const char* kClientV4 = "198.18.1.1";
    static constexpr const char* kServerV4 = "198.18.1.2";
    static constexpr const char* kClientV4Path2 = "198.18.2.1";
    static constexpr const char* kServerV4Path2 = "198.18.2.2";
    static constexpr int kClientEndpointId = 7;  // the path-2 endpoint's id

  private:
    std::string prefix_, client_, server_;
};

// Switches the calling thread into a namespace for its lifetime.
class InNetns {
  public:
    explicit InNetns(const std::string& name);
    ~InNetns();
    InNetns(const InNetns&) = delete;
    InNetns& operator=(const InNetns&) = delete;

  private:
    int self_ = -1;
};

// An owned file descriptor.
class Fd {
  public:
    Fd() = default;
    explicit Fd(int fd) : fd_(fd) {}
    ~Fd();
    Fd(Fd&& o) noexcept : fd_(o.release()) {}
    Fd& operator=(Fd&& o) noexcept;
    int get() const { return fd_; }
    int release() {
        int f = fd_;
        fd_ = -1;
        return f;
    }

  private:
    int fd_ = -1;
};

tcp_info read_tcp_info(int fd);
// A counter of /proc/net/netstat or /proc/net/snmp as seen in a namespace,
// e.g. ("TcpExt", "DelayedACKLost"). Per-namespace MIBs are per-connection
// ground truth when the test's connection is the namespace's only one.
uint64_t netstat_counter(const std::string& ns, const std::string& group, const std::string& name);
// Sum of the packet counters of an nftables table (inet family) in a namespace.
uint64_t nft_counter_packets(const std::string& ns, const std::string& table);
// Waits until the socket reaches TCP_CLOSE (both FINs done), up to timeout_ms.
bool wait_tcp_closed(int fd, int timeout_ms);

}  // namespace fc::test
