#include "dns_message.hpp"

#include <cctype>

namespace fc::dns {

namespace {
uint16_t be16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
}  // namespace

std::optional<DnsMessage> parse_dns_message(const uint8_t* p, size_t n) {
    if (n < 12) return std::nullopt;
    DnsMessage m;
    m.id = be16(p);
    m.response = (p[2] & 0x80) != 0;
    m.opcode = (p[2] >> 3) & 0x0F;
    m.rcode = p[3] & 0x0F;
    m.qdcount = be16(p + 4);
    m.ancount = be16(p + 6);
    if (m.qdcount == 0) return m;
    // The question's name: labels only (a question carries no compression
    // pointer in practice; one would end the parse without a question).
    size_t i = 12;
    std::string name;
    while (true) {
        if (i >= n) return m;
        const uint8_t len = p[i];
        if (len == 0) {
            ++i;
            break;
        }
        if ((len & 0xC0) != 0 || i + 1 + len > n || name.size() + len + 1 > 255) return m;
        if (!name.empty()) name.push_back('.');
        for (size_t k = 0; k < len; ++k)
            name.push_back(
                static_cast<char>(std::tolower(static_cast<unsigned char>(p[i + 1 + k]))));
        i += 1 + len;
    }
    if (i + 4 > n) return m;
    m.qname = std::move(name);
    m.qtype = be16(p + i);
    m.question = true;
    return m;
}

}  // namespace fc::dns
