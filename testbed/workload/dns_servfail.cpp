#include "workload/dns_servfail.hpp"

#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>

#include "workload/signals.hpp"

namespace fc::workload::dns {

std::optional<std::vector<uint8_t>> servfail_reply(const uint8_t* q, size_t len) {
    if (len < 12 || (q[2] & 0x80)) return std::nullopt;  // too short, or a response
    if (q[4] != 0 || q[5] != 1) return std::nullopt;     // QDCOUNT must be 1
    size_t i = 12;
    while (i < len && q[i] != 0) {
        if ((q[i] & 0xc0) != 0) return std::nullopt;  // no compression in a question
        i += size_t(q[i]) + 1;
    }
    if (i + 5 > len) return std::nullopt;  // root label, QTYPE, QCLASS
    i += 5;
    std::vector<uint8_t> r(q, q + i);
    r[2] = uint8_t(0x80 | (q[2] & 0x79));   // QR, the query's opcode and RD; AA and TC clear
    r[3] = uint8_t(0x80 | 2);               // RA, RCODE SERVFAIL
    for (int k = 6; k < 12; ++k) r[k] = 0;  // ANCOUNT, NSCOUNT, ARCOUNT
    return r;
}

int run_servfail_responder(const Endpoint& listen) {
    StopSignals signals;
    Fd fd(socket(listen.family, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    if (!fd || bind(fd.get(), reinterpret_cast<const sockaddr*>(&listen.addr), listen.len) != 0)
        throw std::runtime_error("cannot bind " + describe(listen.addr).addr + ":" +
                                 std::to_string(describe(listen.addr).port) + ": " +
                                 std::strerror(errno));
    std::printf("dns-servfail: answering SERVFAIL on %s port %u\nready\n",
                describe(listen.addr).addr.c_str(), describe(listen.addr).port);
    std::fflush(stdout);
    uint64_t answered = 0, ignored = 0;
    uint8_t buf[4096];
    for (;;) {
        pollfd p[2] = {{fd.get(), POLLIN, 0}, {signals.fd(), POLLIN, 0}};
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR) continue;
            throw std::runtime_error(std::string("poll: ") + std::strerror(errno));
        }
        if (p[1].revents && signals.take()) break;
        if (!p[0].revents) continue;
        sockaddr_storage from{};
        socklen_t flen = sizeof from;
        const ssize_t n = recvfrom(fd.get(), buf, sizeof buf, MSG_DONTWAIT,
                                   reinterpret_cast<sockaddr*>(&from), &flen);
        if (n < 0) continue;
        const auto r = servfail_reply(buf, size_t(n));
        if (!r) {
            ++ignored;
            continue;
        }
        if (sendto(fd.get(), r->data(), r->size(), 0, reinterpret_cast<sockaddr*>(&from), flen) ==
            ssize_t(r->size()))
            ++answered;
    }
    std::printf("dns-servfail: %llu queries answered SERVFAIL, %llu ignored\n",
                (unsigned long long)answered, (unsigned long long)ignored);
    return 0;
}

}  // namespace fc::workload::dns
