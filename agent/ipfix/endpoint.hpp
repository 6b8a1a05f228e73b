// "udp://HOST:PORT" / "tcp://HOST:PORT" endpoints, shared by the exporter and
// the collector. IPv6 literals go in brackets: udp://[::1]:4739.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <vector>

namespace fc::ipfix {

enum class Transport : uint8_t { UDP, TCP };

struct Endpoint {
    Transport transport = Transport::UDP;
    std::string host;  // as written, without brackets
    uint16_t port = 0;
    sockaddr_storage addr{};  // resolved address
    socklen_t addr_len = 0;

    std::string str() const;  // canonical "udp://host:port"
};

// Parses and resolves one endpoint. Throws std::invalid_argument naming the
// problem (missing scheme, unknown scheme, bad port, unresolvable host...).
// Port 0 (any free port) only where `listening`.
Endpoint parse_endpoint(const std::string& url, bool listening = false);

// Comma-separated list of endpoints.
std::vector<Endpoint> parse_endpoints(const std::string& urls, bool listening = false);

// Numeric text form of a socket address: "127.0.0.1:4739" or "[::1]:4739".
std::string sockaddr_str(const sockaddr* sa);

}  // namespace fc::ipfix
