// Registry <-> libfixbuf glue shared by the exporter and the collector:
// information model with the registry's enterprise elements (RFC 5610
// metadata included), templates in registry order, and the packed record
// layout fixbuf's transcoder reads and writes for those templates.
#pragma once

#include <fixbuf/public.h>

#include <cstdint>
#include <memory>
#include <string>

#include "record.hpp"
#include "registry.hpp"

namespace fc::ipfix {

// Template id of the RFC 5610 information-element type records.
inline constexpr uint16_t kTypeInfoTemplateId = 512;

struct InfoModelDeleter {
    void operator()(fbInfoModel_t* m) const { fbInfoModelFree(m); }
};
using InfoModelPtr = std::unique_ptr<fbInfoModel_t, InfoModelDeleter>;

// fixbuf's default (IANA) model plus every enterprise field of the registry
// under `enterprise`, with name, type, semantics, units and description.
InfoModelPtr make_info_model(uint32_t enterprise);

// RFC 5610 metadata of a registry field (enterprise fields; IANA fields come
// from fixbuf's model). Semantics as FB_IE_* flag bits, units as FB_UNITS_*.
uint32_t field_semantics_flags(const FieldDef& f);
uint32_t field_units_flags(const FieldDef& f);
const char* semantics_name(uint32_t semantics_flags);
uint8_t fixbuf_type(FieldType t);
const char* type_name(FieldType t);  // RFC 7011 abstract data type name

// A template holding the fields of `t` in registry order. Throws
// std::runtime_error when an element is missing from the model.
fbTemplate_t* make_template(fbInfoModel_t* model, TemplateKey t);

// Bytes of one record of `t` in fixbuf's internal layout (fields packed in
// template order, no padding) - also its on-wire length, all fields being
// fixed-length.
size_t record_size(TemplateKey t);
inline constexpr size_t kMaxRecordSize = 512;

// Record <-> fixbuf internal layout. Integers and IPv4 addresses are native
// unsigned integers of the field's length, IPv6 addresses 16 bytes in network
// order, dateTimeMilliseconds a native uint64 of Unix ms, dateTimeNanoseconds
// a native uint64 holding the NTP timestamp (seconds since 1900 in the high
// 32 bits, 2^-32 s fractions in the low 32 bits) - fixbuf byte-swaps the
// 8 bytes as one integer, which yields RFC 7011's wire format.
void encode_record(const Record& r, uint8_t* out);
Record decode_record(TemplateKey t, const uint8_t* in);

// Unix nanoseconds <-> 64-bit NTP timestamp. NTP era 0 ends in 2036; times
// from then to 2106 are written in era 1 and decoded back (a decoded NTP
// seconds value below 1970's is read as era 1), so every Unix time in
// [1970, 2106) round-trips exactly to the nanosecond.
uint64_t unix_ns_to_ntp(uint64_t unix_ns);
uint64_t ntp_to_unix_ns(uint64_t ntp);
inline constexpr uint64_t kMaxNtpUnixNs = 4294967295999999999ull;  // 2106-02-07

// fixbuf error text, and free the error.
std::string take_error(GError*& err);

}  // namespace fc::ipfix
