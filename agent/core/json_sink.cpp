#include <arpa/inet.h>

#include <nlohmann/json.hpp>

#include "fsm.hpp"
#include "sink.hpp"

namespace fc {

using ipfix::FieldType;

namespace {
std::string addr_text(int family, const void* bytes) {
    char buf[INET6_ADDRSTRLEN] = {};
    inet_ntop(family, bytes, buf, sizeof(buf));
    return buf;
}
}  // namespace

void JsonLinesSink::emit(const ipfix::Record& r) {
    nlohmann::ordered_json j;
    j["template"] = ipfix::templ(r.tmpl).name;
    const ipfix::TemplateDef& t = ipfix::templ(r.tmpl);
    for (const ipfix::FieldDef& f : ipfix::kFields) {
        if (!ipfix::template_has(t, f)) continue;
        if (f.type == FieldType::IPV4) {
            uint32_t be = htonl(static_cast<uint32_t>(r.get(f.key)));
            j[std::string(f.column)] = addr_text(AF_INET, &be);
        } else if (f.type == FieldType::IPV6) {
            const auto& a = f.key == ipfix::FieldKey::SRC_V6 ? r.src_v6 : r.dst_v6;
            j[std::string(f.column)] = addr_text(AF_INET6, a.data());
        } else if (ipfix::is_string(f.type)) {
            j[std::string(f.column)] = std::string(r.get_text(f.key));
        } else {
            j[std::string(f.column)] = r.get(f.key);
        }
    }
    if (t.scope & ipfix::S_PROFILE) {
        j["start_state_name"] = to_string(static_cast<State>(r.get(ipfix::FieldKey::START_STATE)));
        j["end_state_name"] = to_string(static_cast<State>(r.get(ipfix::FieldKey::END_STATE)));
    }
    std::string line = j.dump();
    line.push_back('\n');
    std::fwrite(line.data(), 1, line.size(), out_);
    std::fflush(out_);
}

}  // namespace fc
