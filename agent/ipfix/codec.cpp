#include "codec.hpp"

#include <algorithm>
#include <cstring>
#include <deque>
#include <mutex>
#include <stdexcept>

namespace fc::ipfix {

namespace {

constexpr uint64_t kNtpUnixOffset = 2208988800ull;  // seconds 1900-01-01 -> 1970-01-01
constexpr uint64_t kNsPerSec = 1000000000ull;

}  // namespace

uint32_t field_semantics_flags(const FieldDef& f) {
    switch (f.semantics) {
        case Semantics::IDENTIFIER:
            return FB_IE_IDENTIFIER;
        case Semantics::DELTA:
            return FB_IE_DELTACOUNTER;
        case Semantics::TOTAL:
            return FB_IE_TOTALCOUNTER;
        case Semantics::QUANTITY:
            return FB_IE_QUANTITY;
        case Semantics::SEM_IANA:
            return FB_IE_DEFAULT;  // fixbuf's model carries IANA's
    }
    return FB_IE_DEFAULT;
}

uint32_t field_units_flags(const FieldDef& f) {
    if (f.units == "octets") return FB_UNITS_OCTETS;
    if (f.units == "milliseconds") return FB_UNITS_MILLISECONDS;
    if (f.units == "microseconds") return FB_UNITS_MICROSECONDS;
    if (f.units == "nanoseconds") return FB_UNITS_NANOSECONDS;
    return 0;  // none, or no IANA unit matches (the description says which)
}

const char* semantics_name(uint32_t s) {
    switch (s) {
        case FB_IE_QUANTITY:
            return "quantity";
        case FB_IE_TOTALCOUNTER:
            return "totalCounter";
        case FB_IE_DELTACOUNTER:
            return "deltaCounter";
        case FB_IE_IDENTIFIER:
            return "identifier";
        case FB_IE_FLAGS:
            return "flags";
        default:
            return "default";
    }
}

uint8_t fixbuf_type(FieldType t) {
    switch (t) {
        case FieldType::U8:
            return FB_UINT_8;
        case FieldType::U16:
            return FB_UINT_16;
        case FieldType::U32:
            return FB_UINT_32;
        case FieldType::U64:
            return FB_UINT_64;
        case FieldType::IPV4:
            return FB_IP4_ADDR;
        case FieldType::IPV6:
            return FB_IP6_ADDR;
        case FieldType::DT_MS:
            return FB_DT_MILSEC;
        case FieldType::DT_NS:
            return FB_DT_NANOSEC;
        case FieldType::STR16:
        case FieldType::STR128:
            return FB_STRING;
    }
    return FB_OCTET_ARRAY;
}

const char* type_name(FieldType t) {
    switch (t) {
        case FieldType::U8:
            return "unsigned8";
        case FieldType::U16:
            return "unsigned16";
        case FieldType::U32:
            return "unsigned32";
        case FieldType::U64:
            return "unsigned64";
        case FieldType::IPV4:
            return "ipv4Address";
        case FieldType::IPV6:
            return "ipv6Address";
        case FieldType::DT_MS:
            return "dateTimeMilliseconds";
        case FieldType::DT_NS:
            return "dateTimeNanoseconds";
        case FieldType::STR16:
        case FieldType::STR128:
            return "string";
    }
    return "octetArray";
}

InfoModelPtr make_info_model(uint32_t enterprise) {
    // fixbuf keeps the description pointer: the strings live for the process.
    static std::mutex mu;
    static std::deque<std::string> strings;
    InfoModelPtr model(fbInfoModelAlloc());
    std::lock_guard lock(mu);
    for (const FieldDef& f : kFields) {
        if (!f.enterprise) continue;
        const std::string& name = strings.emplace_back(f.ie_name);
        std::string d(f.description);
        if (!f.units.empty() && field_units_flags(f) == 0)
            d += " (unit: " + std::string(f.units) + ")";
        const std::string& desc = strings.emplace_back(std::move(d));
        uint32_t flags = field_semantics_flags(f) | field_units_flags(f);
        if (f.type != FieldType::IPV6 && !is_string(f.type)) flags |= FB_IE_F_ENDIAN;
        // Strings are variable-length elements; our templates fix their size.
        const uint16_t len =
            is_string(f.type) ? FB_IE_VARLEN : static_cast<uint16_t>(field_length(f.type));
        fbInfoElement_t ie = FB_IE_INIT_FULL(name.c_str(), enterprise, f.id, len, flags, 0, 0,
                                             fixbuf_type(f.type), desc.c_str());
        fbInfoModelAddElement(model.get(), &ie);
    }
    return model;
}

fbTemplate_t* make_template(fbInfoModel_t* model, TemplateKey t) {
    fbTemplate_t* tmpl = fbTemplateAlloc(model);
    for (const FieldDef* f : template_fields(t)) {
        std::string name(f->ie_name);
        fbInfoElementSpec_t spec{name.data(), static_cast<uint16_t>(field_length(f->type)), 0};
        GError* err = nullptr;
        if (!fbTemplateAppendSpec(tmpl, &spec, 0, &err)) {
            fbTemplateFreeUnused(tmpl);
            throw std::runtime_error("IPFIX template " + std::string(templ(t).name) +
                                     ": cannot add element " + name + ": " + take_error(err));
        }
    }
    return tmpl;
}

size_t record_size(TemplateKey t) {
    size_t n = 0;
    for (const FieldDef* f : template_fields(t)) n += field_length(f->type);
    return n;
}

uint64_t unix_ns_to_ntp(uint64_t unix_ns) {
    const uint64_t sec = unix_ns / kNsPerSec;
    const uint64_t rem = unix_ns % kNsPerSec;
    const uint64_t ntp_sec = (sec + kNtpUnixOffset) & 0xFFFFFFFFull;  // era wraps in 2036
    // Round up to the next 2^-32 s (rem < 1e9, so this stays below 2^32): a
    // decoder that truncates (Wireshark) and one that rounds (ours) then both
    // get the exact nanosecond back, a 2^-32 s step being shorter than 1 ns.
    const uint64_t frac = ((rem << 32) + kNsPerSec - 1) / kNsPerSec;
    return (ntp_sec << 32) | frac;
}

uint64_t ntp_to_unix_ns(uint64_t ntp) {
    uint64_t ntp_sec = ntp >> 32;
    const uint64_t frac = ntp & 0xFFFFFFFFull;
    if (ntp_sec < kNtpUnixOffset) ntp_sec += 1ull << 32;  // era 1 (2036-2106)
    const uint64_t sec = ntp_sec - kNtpUnixOffset;
    const uint64_t ns = (frac * kNsPerSec + (1ull << 31)) >> 32;
    return sec * kNsPerSec + ns;
}

void encode_record(const Record& r, uint8_t* out) {
    for (const FieldDef* f : template_fields(r.tmpl)) {
        const uint64_t v = r.get(f->key);
        switch (f->type) {
            case FieldType::U8: {
                const uint8_t x = static_cast<uint8_t>(v);
                std::memcpy(out, &x, 1);
                break;
            }
            case FieldType::U16: {
                const uint16_t x = static_cast<uint16_t>(v);
                std::memcpy(out, &x, 2);
                break;
            }
            case FieldType::U32:
            case FieldType::IPV4: {
                const uint32_t x = static_cast<uint32_t>(v);
                std::memcpy(out, &x, 4);
                break;
            }
            case FieldType::U64:
            case FieldType::DT_MS:
                std::memcpy(out, &v, 8);
                break;
            case FieldType::DT_NS: {
                const uint64_t x = unix_ns_to_ntp(v);
                std::memcpy(out, &x, 8);
                break;
            }
            case FieldType::IPV6:
                std::memcpy(out, f->key == FieldKey::DST_V6 ? r.dst_v6.data() : r.src_v6.data(),
                            16);
                break;
            case FieldType::STR16:
            case FieldType::STR128: {
                // NUL-padded; at most length-1 bytes so a C reader finds a NUL.
                const std::string_view t = r.get_text(f->key);
                const size_t len = field_length(f->type);
                std::memset(out, 0, len);
                std::memcpy(out, t.data(), std::min(t.size(), len - 1));
                break;
            }
        }
        out += field_length(f->type);
    }
}

Record decode_record(TemplateKey t, const uint8_t* in) {
    Record r;
    r.tmpl = t;
    for (const FieldDef* f : template_fields(t)) {
        uint64_t v = 0;
        switch (f->type) {
            case FieldType::U8:
                v = in[0];
                break;
            case FieldType::U16: {
                uint16_t x;
                std::memcpy(&x, in, 2);
                v = x;
                break;
            }
            case FieldType::U32:
            case FieldType::IPV4: {
                uint32_t x;
                std::memcpy(&x, in, 4);
                v = x;
                break;
            }
            case FieldType::U64:
            case FieldType::DT_MS:
                std::memcpy(&v, in, 8);
                break;
            case FieldType::DT_NS: {
                uint64_t x;
                std::memcpy(&x, in, 8);
                v = x == 0 ? 0 : ntp_to_unix_ns(x);  // 0 = absent (not in the template)
                break;
            }
            case FieldType::IPV6:
                std::memcpy(f->key == FieldKey::DST_V6 ? r.dst_v6.data() : r.src_v6.data(), in, 16);
                break;
            case FieldType::STR16:
            case FieldType::STR128: {
                const char* c = reinterpret_cast<const char*>(in);
                r.set_text(f->key, std::string(c, strnlen(c, field_length(f->type))));
                break;
            }
        }
        if (f->type != FieldType::IPV6 && !is_string(f->type)) r.set(f->key, v);
        in += field_length(f->type);
    }
    return r;
}

std::string take_error(GError*& err) {
    std::string s = err ? err->message : "unknown error";
    if (err) g_clear_error(&err);
    return s;
}

}  // namespace fc::ipfix
