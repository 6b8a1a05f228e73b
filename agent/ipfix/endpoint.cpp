#include "endpoint.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>

#include <cstring>
#include <stdexcept>

namespace fc::ipfix {

std::string Endpoint::str() const {
    std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
    return std::string(transport == Transport::UDP ? "udp" : "tcp") + "://" + h + ":" +
           std::to_string(port);
}

Endpoint parse_endpoint(const std::string& url, bool listening) {
    auto bad = [&](const std::string& why) {
        return std::invalid_argument("bad IPFIX endpoint '" + url + "': " + why +
                                     " (expected udp://HOST:PORT or tcp://HOST:PORT)");
    };
    Endpoint ep;
    const auto sep = url.find("://");
    if (sep == std::string::npos) throw bad("missing scheme");
    const std::string scheme = url.substr(0, sep);
    if (scheme == "udp")
        ep.transport = Transport::UDP;
    else if (scheme == "tcp")
        ep.transport = Transport::TCP;
    else
        throw bad("unknown scheme '" + scheme + "'");
    std::string rest = url.substr(sep + 3);
    std::string port_str;
    if (!rest.empty() && rest[0] == '[') {
        const auto close = rest.find(']');
        if (close == std::string::npos) throw bad("unterminated '[' in IPv6 address");
        ep.host = rest.substr(1, close - 1);
        if (close + 1 >= rest.size() || rest[close + 1] != ':') throw bad("missing port");
        port_str = rest.substr(close + 2);
    } else {
        const auto colon = rest.rfind(':');
        if (colon == std::string::npos) throw bad("missing port");
        ep.host = rest.substr(0, colon);
        if (ep.host.find(':') != std::string::npos)
            throw bad("IPv6 addresses must be written in brackets");
        port_str = rest.substr(colon + 1);
    }
    if (ep.host.empty()) throw bad("missing host");
    if (port_str.empty() || port_str.size() > 5 ||
        port_str.find_first_not_of("0123456789") != std::string::npos)
        throw bad("port must be a number");
    const unsigned long port = std::stoul(port_str);
    if ((port == 0 && !listening) || port > 65535) throw bad("port out of range 1-65535");
    ep.port = static_cast<uint16_t>(port);

    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = ep.transport == Transport::UDP ? SOCK_DGRAM : SOCK_STREAM;
    if (listening) hints.ai_flags = AI_PASSIVE;
    addrinfo* res = nullptr;
    const int rc = getaddrinfo(ep.host.c_str(), port_str.c_str(), &hints, &res);
    if (rc != 0 || res == nullptr)
        throw bad("cannot resolve host '" + ep.host + "': " + gai_strerror(rc));
    std::memcpy(&ep.addr, res->ai_addr, res->ai_addrlen);
    ep.addr_len = res->ai_addrlen;
    freeaddrinfo(res);
    return ep;
}

std::vector<Endpoint> parse_endpoints(const std::string& urls, bool listening) {
    std::vector<Endpoint> out;
    size_t start = 0;
    while (start <= urls.size()) {
        const auto comma = urls.find(',', start);
        const std::string one =
            urls.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        if (!one.empty()) out.push_back(parse_endpoint(one, listening));
        if (comma == std::string::npos) break;
        start = comma + 1;
    }
    if (out.empty()) throw std::invalid_argument("no IPFIX endpoint given");
    return out;
}

std::string sockaddr_str(const sockaddr* sa) {
    char buf[INET6_ADDRSTRLEN] = "?";
    if (sa->sa_family == AF_INET) {
        auto* in = reinterpret_cast<const sockaddr_in*>(sa);
        inet_ntop(AF_INET, &in->sin_addr, buf, sizeof buf);
        return std::string(buf) + ":" + std::to_string(ntohs(in->sin_port));
    }
    if (sa->sa_family == AF_INET6) {
        auto* in6 = reinterpret_cast<const sockaddr_in6*>(sa);
        inet_ntop(AF_INET6, &in6->sin6_addr, buf, sizeof buf);
        return "[" + std::string(buf) + "]:" + std::to_string(ntohs(in6->sin6_port));
    }
    return "?";
}

}  // namespace fc::ipfix
