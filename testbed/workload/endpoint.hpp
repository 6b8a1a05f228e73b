// Socket addresses as the CLI writes them: "198.18.0.2:5001", "[fd00::2]:5001".
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace fc::workload {

struct Endpoint {
    sockaddr_storage addr{};
    socklen_t len = 0;
    int family = 0;  // AF_INET or AF_INET6
};

// Numeric addresses only (no DNS: the truth must not depend on a resolver).
// Throws std::invalid_argument quoting the text.
Endpoint parse_endpoint(std::string_view text);

// inet_ntop of the address and the port in host order.
struct AddrPort {
    std::string addr;
    uint16_t port = 0;
};
AddrPort describe(const sockaddr_storage& ss);
AddrPort local_of(int fd);  // getsockname; empty address if it fails
AddrPort peer_of(int fd);   // getpeername

// An owned file descriptor, closed by its destructor.
class Fd {
  public:
    Fd() = default;
    explicit Fd(int fd) : fd_(fd) {}
    ~Fd() { reset(); }
    Fd(Fd&& o) noexcept : fd_(o.release()) {}
    Fd& operator=(Fd&& o) noexcept {
        if (this != &o) {
            reset();
            fd_ = o.release();
        }
        return *this;
    }
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    int get() const { return fd_; }
    explicit operator bool() const { return fd_ >= 0; }
    int release() {
        const int f = fd_;
        fd_ = -1;
        return f;
    }
    void reset();

  private:
    int fd_ = -1;
};

}  // namespace fc::workload
