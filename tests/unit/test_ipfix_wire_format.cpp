// What the exporter puts on the wire, read back with an independent RFC 7011
// parser (no libfixbuf): message sizes, sequence numbers, template contents
// in registry order, RFC 5610 type records, and every field's bytes in
// network order (dateTimeNanoseconds as NTP, exact for truncating decoders).
#include <poll.h>

#include <set>

#include "ipfix/wire.hpp"
#include "test_ipfix_util.hpp"

namespace fc::test {
namespace {

struct Field {
    uint16_t id;
    uint32_t pen;
    uint16_t len;
};
struct Message {
    MessageHeader h;
    std::vector<uint8_t> bytes;
};

// Receives every datagram the exporter sent to `fd`.
std::vector<Message> drain(int fd) {
    std::vector<Message> out;
    uint8_t buf[65536];
    for (;;) {
        pollfd p{fd, POLLIN, 0};
        if (poll(&p, 1, 200) <= 0) break;
        const ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n <= 0) break;
        out.push_back({read_header(buf), std::vector<uint8_t>(buf, buf + n)});
    }
    return out;
}

// Splits a record into its fields' bytes (variable length per RFC 7011 7.).
std::vector<std::vector<uint8_t>> split(const std::vector<Field>& t, const uint8_t*& p,
                                        const uint8_t* end) {
    std::vector<std::vector<uint8_t>> v;
    for (const Field& f : t) {
        size_t len = f.len;
        if (len == 65535) {
            len = *p++;
            if (len == 255) {
                len = rd16(p);
                p += 2;
            }
        }
        EXPECT_LE(p + len, end);
        v.emplace_back(p, p + len);
        p += len;
    }
    return v;
}

uint64_t be(const std::vector<uint8_t>& b) {
    uint64_t v = 0;
    for (uint8_t x : b) v = v << 8 | x;
    return v;
}

TEST(IpfixWireFormat, ExporterOutputDecodesIndependently) {
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    socklen_t l = sizeof a;
    getsockname(fd, reinterpret_cast<sockaddr*>(&a), &l);

    constexpr uint32_t pen = 32473, domain = 4242;
    std::vector<Record> sent;
    {
        Exporter ex({.url = "udp://127.0.0.1:" + std::to_string(ntohs(a.sin_port)),
                     .observation_domain = domain,
                     .enterprise_number = pen});
        for (unsigned v = 0; v < 6; ++v)
            for (const TemplateDef& t : kTemplates) {
                sent.push_back(test_record(t.key, v));
                ex.submit(sent.back());
            }
        ex.flush();
        const ExporterStats st = ex.stats();
        EXPECT_EQ(st.records_submitted, sent.size());
        EXPECT_EQ(st.records_sent, sent.size());
        EXPECT_EQ(st.records_dropped, 0u);
        EXPECT_EQ(st.send_errors, 0u);
    }
    const std::vector<Message> msgs = drain(fd);
    close(fd);
    ASSERT_FALSE(msgs.empty());

    std::map<uint16_t, std::vector<Field>> templates;
    std::set<uint16_t> type_records;  // enterprise element ids described
    std::vector<std::pair<uint16_t, std::vector<std::vector<uint8_t>>>> records;
    uint32_t expected_seq = 0;
    for (const Message& m : msgs) {
        ASSERT_EQ(m.h.version, 10);
        ASSERT_EQ(m.h.length, m.bytes.size());
        EXPECT_LE(m.bytes.size(), 1420u) << "UDP message larger than the exporter's MTU";
        EXPECT_EQ(m.h.domain, domain);
        EXPECT_EQ(m.h.sequence, expected_seq) << "sequence = data records sent before";
        const uint8_t* p = m.bytes.data() + 16;
        const uint8_t* end = m.bytes.data() + m.bytes.size();
        while (p < end) {
            const uint16_t sid = rd16(p), slen = rd16(p + 2);
            ASSERT_GT(slen, 4) << "empty set";
            const uint8_t* send = p + slen;
            ASSERT_LE(send, end);
            p += 4;
            if (sid == 2 || sid == 3) {
                while (send - p >= 4) {
                    const uint16_t tid = rd16(p), count = rd16(p + 2);
                    p += 4;
                    if (sid == 3) p += 2;  // scope count
                    std::vector<Field> fields;
                    for (uint16_t i = 0; i < count; ++i) {
                        Field f{static_cast<uint16_t>(rd16(p) & 0x7fff), 0, rd16(p + 2)};
                        const bool ent = rd16(p) & 0x8000;
                        p += 4;
                        if (ent) {
                            f.pen = rd32(p);
                            p += 4;
                        }
                        fields.push_back(f);
                    }
                    templates[tid] = fields;
                }
            } else {
                ASSERT_TRUE(templates.count(sid)) << "data set " << sid << " before its template";
                const auto& t = templates[sid];
                while (p < send) {
                    auto vals = split(t, p, send);
                    ++expected_seq;
                    if (sid == kTypeInfoTemplateId) {
                        // privateEnterpriseNumber, informationElementId, ...
                        std::map<uint16_t, std::vector<uint8_t>> byid;
                        for (size_t i = 0; i < t.size(); ++i) byid[t[i].id] = vals[i];
                        EXPECT_EQ(be(byid[346]), pen);
                        const uint16_t id = static_cast<uint16_t>(be(byid[303]));
                        type_records.insert(id);
                        for (const FieldDef& f : kFields) {
                            if (!f.enterprise || f.id != id) continue;
                            EXPECT_EQ(std::string(byid[341].begin(), byid[341].end()), f.ie_name);
                            EXPECT_EQ(be(byid[339]), fixbuf_type(f.type)) << f.ie_name;
                            EXPECT_EQ(be(byid[344]), field_semantics_flags(f) >> 8) << f.ie_name;
                            EXPECT_EQ(be(byid[345]), field_units_flags(f) >> 16) << f.ie_name;
                            EXPECT_FALSE(byid[340].empty()) << "description of " << f.ie_name;
                        }
                    } else {
                        records.emplace_back(sid, std::move(vals));
                    }
                }
            }
            p = send;
        }
    }

    // Templates: registry order, IANA or our enterprise number, lengths.
    for (const TemplateDef& t : kTemplates) {
        ASSERT_TRUE(templates.count(t.id)) << t.name;
        const auto fields = template_fields(t.key);
        ASSERT_EQ(templates[t.id].size(), fields.size());
        for (size_t i = 0; i < fields.size(); ++i) {
            EXPECT_EQ(templates[t.id][i].id, fields[i]->id);
            EXPECT_EQ(templates[t.id][i].pen, fields[i]->enterprise ? pen : 0u);
            EXPECT_EQ(templates[t.id][i].len, field_length(fields[i]->type));
        }
    }
    for (const FieldDef& f : kFields)
        if (f.enterprise) {
            EXPECT_TRUE(type_records.count(f.id)) << "no type record: " << f.ie_name;
        }

    // Data: every field of every record, byte for byte.
    ASSERT_EQ(records.size(), sent.size());
    for (size_t i = 0; i < sent.size(); ++i) {
        const Record& r = sent[i];
        ASSERT_EQ(records[i].first, templ(r.tmpl).id);
        const auto fields = template_fields(r.tmpl);
        for (size_t j = 0; j < fields.size(); ++j) {
            const FieldDef& f = *fields[j];
            const auto& b = records[i].second[j];
            if (f.type == FieldType::IPV6) {
                const auto& a6 = f.key == FieldKey::DST_V6 ? r.dst_v6 : r.src_v6;
                EXPECT_TRUE(std::equal(b.begin(), b.end(), a6.begin())) << f.ie_name;
            } else if (is_string(f.type)) {
                const std::string_view t = r.get_text(f.key);
                ASSERT_EQ(b.size(), field_length(f.type)) << f.ie_name;
                EXPECT_EQ(std::string(b.begin(), b.begin() + t.size()), t) << f.ie_name;
                EXPECT_TRUE(
                    std::all_of(b.begin() + t.size(), b.end(), [](auto c) { return c == 0; }))
                    << f.ie_name << ": NUL padding";
            } else if (f.type == FieldType::DT_NS) {
                const uint64_t ntp = be(b), ns = r.get(f.key);
                uint64_t sec = (ntp >> 32) + (((ntp >> 32) < 2208988800ull) ? (1ull << 32) : 0) -
                               2208988800ull;
                EXPECT_EQ(sec, ns / 1000000000ull) << f.ie_name;
                // Truncating the fraction gives the exact nanosecond.
                EXPECT_EQ(((ntp & 0xFFFFFFFFull) * 1000000000ull) >> 32, ns % 1000000000ull)
                    << f.ie_name;
            } else {
                const uint64_t mask =
                    b.size() == 8 ? ~uint64_t{0} : ((uint64_t{1} << (8 * b.size())) - 1);
                EXPECT_EQ(be(b), r.get(f.key) & mask) << f.ie_name << " record " << i;
            }
        }
    }
}

TEST(IpfixWireFormat, UdpTemplatesAreRefreshed) {
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    socklen_t l = sizeof a;
    getsockname(fd, reinterpret_cast<sockaddr*>(&a), &l);
    Exporter ex({.url = "udp://127.0.0.1:" + std::to_string(ntohs(a.sin_port)),
                 .flush_interval = std::chrono::milliseconds(50),
                 .template_refresh = std::chrono::seconds(1)});
    int template_messages = 0;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(2600);
    while (std::chrono::steady_clock::now() < deadline) {
        ex.tick();
        for (const Message& m : drain(fd))
            if (rd16(m.bytes.data() + 16) == 3) ++template_messages;  // type-record template
        // A quiet exporter still exports a submitted record within the interval.
        if (template_messages > 0 && ex.stats().records_submitted == 0) {
            ex.submit(test_record(TemplateKey::TCP_V4, 1));
            poll(nullptr, 0, 120);
            ex.tick();
            EXPECT_EQ(ex.stats().records_sent, 1u) << "not exported within flush_interval";
        }
    }
    close(fd);
    // Sent at t=0, ~1 s and ~2 s.
    EXPECT_GE(template_messages, 3);
    EXPECT_LE(template_messages, 4);
}

}  // namespace
}  // namespace fc::test
