// Human-readable views of the IPFIX registry: `flowcorder fields` and the
// committed docs/ipfix-fields.md (its --markdown output).
#pragma once

#include <string>

namespace fc::ipfix {

std::string fields_text();      // aligned plain-text table
std::string fields_markdown();  // docs/ipfix-fields.md

}  // namespace fc::ipfix
