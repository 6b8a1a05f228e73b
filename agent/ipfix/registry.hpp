// The IPFIX information-element registry, compiled from fields.def and
// templates.def. Exporter, collector, SQLite schema, validator and docs all
// read this. Header-only (target fc_registry): the validator reads the
// schema without linking any agent code.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace fc::ipfix {

// STR16/STR128: RFC 7011 strings sent at a fixed length (NUL-padded, cut
// to fit), so every record of a template keeps one size.
enum class FieldType : uint8_t { U8, U16, U32, U64, IPV4, IPV6, DT_MS, DT_NS, STR16, STR128 };
enum class Family : uint8_t { ANY, V4, V6 };
// RFC 5610 data type semantics; SEM_IANA: the element is IANA's, so are its semantics.
enum class Semantics : uint8_t { SEM_IANA, IDENTIFIER, DELTA, TOTAL, QUANTITY };
// S_PROFILE: every profile (FSM, window, identity); S_FLOW: transport flow
// identity (addresses, ports, protocol); then one bit per protocol view.
enum Scope : uint32_t {
    S_PROFILE = 1u << 0,
    S_TCP = 1u << 1,
    S_STATS = 1u << 2,
    S_FLOW = 1u << 3,
    S_DNS = 1u << 4,         // both DNS views
    S_DNS_LOOKUP = 1u << 5,  // resolver view (one getaddrinfo call)
    S_DNS_QUERY = 1u << 6,   // wire view (one query and its retransmissions)
    S_MPTCP = 1u << 7,       // MPTCP connection profiles (subflows are TCP profiles)
};

// Default private enterprise number: 32473 is reserved by IANA for
// documentation and examples (RFC 5612); deployments pass their own.
inline constexpr uint32_t kDefaultEnterpriseNumber = 32473;

enum class FieldKey : uint16_t {
#define FC_FIELD(key, ...) key,
#include "fields.def"
#undef FC_FIELD
};
inline constexpr size_t kFieldCount = 0
#define FC_FIELD(key, ...) +1
#include "fields.def"
#undef FC_FIELD
    ;

struct FieldDef {
    FieldKey key;
    std::string_view ie_name;
    std::string_view column;
    bool enterprise;
    uint16_t id;
    FieldType type;
    Semantics semantics;
    uint32_t scope;
    Family family;
    std::string_view units;
    std::string_view description;
};

namespace detail {
inline constexpr bool IANA = false;
inline constexpr bool ENT = true;
using enum FieldType;
using enum Family;
using enum Semantics;
}  // namespace detail

inline constexpr std::array<FieldDef, kFieldCount> kFields = {{
#define FC_FIELD(key, ie, col, pen, id, type, sem, scope, fam, units, desc) \
    {FieldKey::key, ie,    col,         detail::pen, id,  detail::type,     \
     detail::sem,   scope, detail::fam, units,       desc},
#include "fields.def"
#undef FC_FIELD
}};

enum class TemplateKey : uint16_t {
#define FC_TEMPLATE(key, ...) key,
#include "templates.def"
#undef FC_TEMPLATE
};
inline constexpr size_t kTemplateCount = 0
#define FC_TEMPLATE(key, ...) +1
#include "templates.def"
#undef FC_TEMPLATE
    ;

struct TemplateDef {
    TemplateKey key;
    uint16_t id;
    uint32_t scope;
    Family family;
    uint8_t protocol;  // IP protocol number, 0 for non-profile records
    std::string_view name;
};

inline constexpr std::array<TemplateDef, kTemplateCount> kTemplates = {{
#define FC_TEMPLATE(key, tid, scope, fam, proto, name) \
    {TemplateKey::key, tid, scope, detail::fam, proto, name},
#include "templates.def"
#undef FC_TEMPLATE
}};

constexpr const FieldDef& field(FieldKey k) { return kFields[static_cast<size_t>(k)]; }
constexpr const TemplateDef& templ(TemplateKey k) { return kTemplates[static_cast<size_t>(k)]; }

constexpr size_t field_length(FieldType t) {
    switch (t) {
        case FieldType::U8:
            return 1;
        case FieldType::U16:
            return 2;
        case FieldType::U32:
        case FieldType::IPV4:
            return 4;
        case FieldType::U64:
        case FieldType::DT_MS:
        case FieldType::DT_NS:
            return 8;
        case FieldType::IPV6:
        case FieldType::STR16:
            return 16;
        case FieldType::STR128:
            return 128;
    }
    return 0;
}

constexpr bool is_string(FieldType t) { return t == FieldType::STR16 || t == FieldType::STR128; }

constexpr bool template_has(const TemplateDef& t, const FieldDef& f) {
    return (f.scope & t.scope) != 0 && (f.family == Family::ANY || f.family == t.family);
}

// Fields of a template, in registry order (which is also the wire order).
inline std::vector<const FieldDef*> template_fields(TemplateKey t) {
    std::vector<const FieldDef*> out;
    const TemplateDef& td = templ(t);
    for (const FieldDef& f : kFields)
        if (template_has(td, f)) out.push_back(&f);
    return out;
}

// Ids of the templates whose scope has one of `bits` (S_TCP: 256, 257).
inline std::vector<uint16_t> template_ids(uint32_t bits) {
    std::vector<uint16_t> ids;
    for (const TemplateDef& t : kTemplates)
        if (t.scope & bits) ids.push_back(t.id);
    return ids;
}

// Columns of the fields with one of the scope bits `bits`, each once, in
// registry order (readers of the store, which is keyed by column name).
inline std::vector<std::string_view> scope_columns(uint32_t bits) {
    std::vector<std::string_view> cols;
    for (const FieldDef& f : kFields)
        if ((f.scope & bits) && std::find(cols.begin(), cols.end(), f.column) == cols.end())
            cols.push_back(f.column);
    return cols;
}

}  // namespace fc::ipfix
