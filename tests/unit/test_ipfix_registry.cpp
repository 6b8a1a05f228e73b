// The registry as libfixbuf sees it: IANA elements exist in fixbuf's model
// with the same name and type, enterprise elements carry RFC 5610 metadata,
// templates build in registry order; NTP timestamp and endpoint parsing.
#include <cstring>
#include <set>

#include "ipfix/endpoint.hpp"
#include "ipfix/wire.hpp"
#include "test_ipfix_util.hpp"

namespace fc::test {
namespace {

TEST(IpfixRegistry, IanaElementsMatchFixbufModel) {
    InfoModelPtr model = make_info_model(kDefaultEnterpriseNumber);
    for (const FieldDef& f : kFields) {
        if (f.enterprise) continue;
        const fbInfoElement_t* ie = fbInfoModelGetElementByID(model.get(), f.id, 0);
        ASSERT_NE(ie, nullptr) << f.ie_name << " (" << f.id << ") not in fixbuf's IANA model";
        EXPECT_EQ(std::string(ie->ref.name), f.ie_name) << "IANA id " << f.id;
        EXPECT_EQ(ie->type, fixbuf_type(f.type)) << f.ie_name;
    }
}

TEST(IpfixRegistry, EnterpriseElementsCarryRfc5610Metadata) {
    constexpr uint32_t pen = 4242;
    InfoModelPtr model = make_info_model(pen);
    for (const FieldDef& f : kFields) {
        if (!f.enterprise) continue;
        const fbInfoElement_t* ie = fbInfoModelGetElementByID(model.get(), f.id, pen);
        ASSERT_NE(ie, nullptr) << f.ie_name;
        EXPECT_EQ(std::string(ie->ref.name), f.ie_name);
        EXPECT_EQ(ie->ent, pen);
        // Strings are variable-length in the model; templates fix their size.
        EXPECT_EQ(ie->len, is_string(f.type) ? FB_IE_VARLEN : field_length(f.type));
        EXPECT_EQ(ie->type, fixbuf_type(f.type));
        EXPECT_EQ(ie->flags & 0x0000ff00u, field_semantics_flags(f)) << f.ie_name;
        EXPECT_EQ(ie->flags & 0xffff0000u, field_units_flags(f)) << f.ie_name;
        EXPECT_EQ((ie->flags & FB_IE_F_ENDIAN) != 0,
                  f.type != FieldType::IPV6 && !is_string(f.type))
            << f.ie_name;
        ASSERT_NE(ie->description, nullptr);
        EXPECT_TRUE(std::string(ie->description).starts_with(std::string(f.description)));
        // Not under the default number when another one is configured.
        EXPECT_EQ(fbInfoModelGetElementByID(model.get(), f.id, kDefaultEnterpriseNumber), nullptr);
    }
    // Counters over the window are deltaCounters, kernel levels quantities.
    EXPECT_EQ(field_semantics_flags(field(FieldKey::BYTES_ACKED)), FB_IE_DELTACOUNTER);
    EXPECT_EQ(field_semantics_flags(field(FieldKey::SRTT_US_END)), FB_IE_QUANTITY);
    EXPECT_EQ(field_units_flags(field(FieldKey::SRTT_US_END)), FB_UNITS_MICROSECONDS);
    EXPECT_EQ(field_semantics_flags(field(FieldKey::STAT_EVENTS)), FB_IE_TOTALCOUNTER);
    EXPECT_EQ(field_semantics_flags(field(FieldKey::END_STATE)), FB_IE_IDENTIFIER);
}

TEST(IpfixRegistry, NamesAndIdsAreUnique) {
    std::set<std::pair<bool, uint16_t>> ids;
    std::set<std::string_view> names;
    for (const FieldDef& f : kFields) {
        EXPECT_TRUE(ids.insert({f.enterprise, f.id}).second) << "duplicate id " << f.id;
        EXPECT_TRUE(names.insert(f.ie_name).second) << "duplicate name " << f.ie_name;
    }
    for (const TemplateDef& t : kTemplates) {
        std::set<std::string_view> cols;
        for (const FieldDef* f : template_fields(t.key))
            EXPECT_TRUE(cols.insert(f->column).second) << t.name << ": column " << f->column;
    }
}

TEST(IpfixRegistry, TemplatesBuildInRegistryOrder) {
    InfoModelPtr model = make_info_model(kDefaultEnterpriseNumber);
    for (const TemplateDef& t : kTemplates) {
        fbTemplate_t* tmpl = make_template(model.get(), t.key);
        const auto fields = template_fields(t.key);
        ASSERT_EQ(fbTemplateCountElements(tmpl), fields.size()) << t.name;
        size_t bytes = 0;
        for (size_t i = 0; i < fields.size(); ++i) {
            const fbInfoElement_t* ie = fbTemplateGetIndexedIE(tmpl, static_cast<uint32_t>(i));
            EXPECT_EQ(ie->num, fields[i]->id) << t.name << " position " << i;
            EXPECT_EQ(ie->ent, fields[i]->enterprise ? kDefaultEnterpriseNumber : 0u);
            EXPECT_EQ(ie->len, field_length(fields[i]->type));
            bytes += ie->len;
        }
        EXPECT_EQ(record_size(t.key), bytes);
        fbTemplateFreeUnused(tmpl);
    }
}

// Wireshark-style decoding: truncate the fraction to nanoseconds.
uint64_t truncating_ntp_to_ns(uint64_t ntp) {
    return ((ntp >> 32) - 2208988800ull) * 1000000000ull +
           (((ntp & 0xFFFFFFFFull) * 1000000000ull) >> 32);
}

TEST(IpfixCodec, NtpTimestampsRoundTripToTheNanosecond) {
    const uint64_t cases[] = {0,
                              1,
                              999999999,
                              1000000000,
                              1700000000123456789ull,
                              2085978495999999999ull,  // last ns of NTP era 0 (2036-02-07)
                              2085978496000000000ull,  // first of era 1
                              kMaxNtpUnixNs};
    for (uint64_t ns : cases) {
        EXPECT_EQ(ntp_to_unix_ns(unix_ns_to_ntp(ns)), ns) << ns;
        if (ns < 2085978496000000000ull) {
            EXPECT_EQ(truncating_ntp_to_ns(unix_ns_to_ntp(ns)), ns) << ns;
        }
    }
    // Seconds since 1900 in the high word, 2^-32 s units in the low word.
    EXPECT_EQ(unix_ns_to_ntp(0), 2208988800ull << 32);
    EXPECT_EQ(unix_ns_to_ntp(500000000), (2208988800ull << 32) | 0x80000000ull);
    uint64_t x = 88172645463325252ull;
    for (int i = 0; i < 100000; ++i) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        const uint64_t ns = x % (kMaxNtpUnixNs + 1);
        ASSERT_EQ(ntp_to_unix_ns(unix_ns_to_ntp(ns)), ns) << ns;
    }
}

TEST(IpfixCodec, RecordLayoutRoundTrips) {
    for (const TemplateDef& t : kTemplates) {
        for (unsigned v = 0; v < 3; ++v) {
            const Record r = test_record(t.key, v);
            uint8_t buf[kMaxRecordSize];
            encode_record(r, buf);
            const Record back = decode_record(t.key, buf);
            EXPECT_EQ(back.num, r.num) << t.name << " variant " << v;
            EXPECT_EQ(back.src_v6, r.src_v6);
            EXPECT_EQ(back.dst_v6, r.dst_v6);
        }
    }
}

TEST(IpfixWire, StripEmptySets) {
    uint8_t m[16 + 4 + 8 + 4] = {0, 10, 0, 32};
    // empty set 256, set 257 with 4 data bytes, empty set 258
    const uint8_t sets[] = {1, 0, 0, 4, 1, 1, 0, 8, 0xde, 0xad, 0xbe, 0xef, 1, 2, 0, 4};
    std::memcpy(m + 16, sets, sizeof sets);
    const size_t len = strip_empty_sets(m, sizeof m);
    ASSERT_EQ(len, 24u);
    EXPECT_EQ(rd16(m + 2), 24);
    EXPECT_EQ(rd16(m + 16), 257);
    EXPECT_EQ(rd32(m + 20), 0xdeadbeefu);
}

TEST(IpfixEndpoint, ParsesAndRejects) {
    Endpoint e = parse_endpoint("tcp://127.0.0.1:4739");
    EXPECT_EQ(e.transport, Transport::TCP);
    EXPECT_EQ(e.port, 4739);
    e = parse_endpoint("udp://[::1]:9995");
    EXPECT_EQ(e.transport, Transport::UDP);
    EXPECT_EQ(e.host, "::1");
    EXPECT_EQ(e.addr.ss_family, AF_INET6);
    EXPECT_EQ(e.str(), "udp://[::1]:9995");
    const std::pair<const char*, const char*> bad[] = {{"127.0.0.1:4739", "missing scheme"},
                                                       {"sctp://127.0.0.1:4739", "unknown scheme"},
                                                       {"udp://127.0.0.1", "missing port"},
                                                       {"udp://127.0.0.1:0", "out of range"},
                                                       {"udp://127.0.0.1:70000", "out of range"},
                                                       {"udp://127.0.0.1:x", "number"},
                                                       {"udp://::1:4739", "brackets"},
                                                       {"udp://:4739", "missing host"},
                                                       {"udp://[::1:4739", "unterminated"}};
    for (const auto& [url, why] : bad) {
        try {
            parse_endpoint(url);
            ADD_FAILURE() << url << " accepted";
        } catch (const std::invalid_argument& ex) {
            EXPECT_NE(std::string(ex.what()).find(why), std::string::npos)
                << url << ": " << ex.what();
        }
    }
    EXPECT_THROW(Exporter({.url = "http://x:1"}), std::invalid_argument);
}

}  // namespace
}  // namespace fc::test
