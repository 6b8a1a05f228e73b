// The few fields of a DNS message (RFC 1035 section 4.1) the agent needs:
// header and first question. Parsed from the first bytes the probe copied.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

namespace fc::dns {

struct DnsMessage {
    uint16_t id = 0;
    bool response = false;  // QR
    uint8_t opcode = 0;
    uint8_t rcode = 0;
    uint16_t qdcount = 0, ancount = 0;
    std::string qname;  // lower case, dotted, no trailing dot ("" for the root)
    uint16_t qtype = 0;
    bool question = false;  // qname/qtype were read
};

// nullopt when the bytes are not even a DNS header. A question cut short by
// the copy leaves `question` false; the header alone is still returned.
std::optional<DnsMessage> parse_dns_message(const uint8_t* p, size_t n);

}  // namespace fc::dns
