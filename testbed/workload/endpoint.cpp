#include "workload/endpoint.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <unistd.h>

#include <charconv>
#include <stdexcept>

namespace fc::workload {

void Fd::reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
}

Endpoint parse_endpoint(std::string_view text) {
    const std::string quoted = "invalid address '" + std::string(text) + "'";
    std::string host;
    std::string_view port_text;
    if (!text.empty() && text.front() == '[') {
        const size_t close = text.find(']');
        if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':')
            throw std::invalid_argument(quoted + ": expected [IPv6]:PORT");
        host = std::string(text.substr(1, close - 1));
        port_text = text.substr(close + 2);
    } else {
        const size_t colon = text.rfind(':');
        if (colon == std::string_view::npos || text.find(':') != colon)
            throw std::invalid_argument(quoted + ": expected IPv4:PORT or [IPv6]:PORT");
        host = std::string(text.substr(0, colon));
        port_text = text.substr(colon + 1);
    }
    unsigned port = 0;
    const auto [end, ec] =
        std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (ec != std::errc{} || end != port_text.data() + port_text.size() || port > 65535 ||
        port_text.empty())
        throw std::invalid_argument(quoted + ": bad port '" + std::string(port_text) + "'");
    Endpoint e;
    if (auto* a4 = reinterpret_cast<sockaddr_in*>(&e.addr);
        inet_pton(AF_INET, host.c_str(), &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET;
        a4->sin_port = htons(static_cast<uint16_t>(port));
        e.len = sizeof(sockaddr_in);
        e.family = AF_INET;
    } else if (auto* a6 = reinterpret_cast<sockaddr_in6*>(&e.addr);
               inet_pton(AF_INET6, host.c_str(), &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons(static_cast<uint16_t>(port));
        e.len = sizeof(sockaddr_in6);
        e.family = AF_INET6;
    } else {
        throw std::invalid_argument(quoted + ": '" + host + "' is not a numeric IP address");
    }
    return e;
}

AddrPort describe(const sockaddr_storage& ss) {
    char buf[INET6_ADDRSTRLEN] = "";
    AddrPort ap;
    if (ss.ss_family == AF_INET) {
        const auto* a = reinterpret_cast<const sockaddr_in*>(&ss);
        inet_ntop(AF_INET, &a->sin_addr, buf, sizeof buf);
        ap.port = ntohs(a->sin_port);
    } else if (ss.ss_family == AF_INET6) {
        const auto* a = reinterpret_cast<const sockaddr_in6*>(&ss);
        inet_ntop(AF_INET6, &a->sin6_addr, buf, sizeof buf);
        ap.port = ntohs(a->sin6_port);
    }
    ap.addr = buf;
    return ap;
}

AddrPort local_of(int fd) {
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return {};
    return describe(ss);
}

AddrPort peer_of(int fd) {
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    if (getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return {};
    return describe(ss);
}

}  // namespace fc::workload
