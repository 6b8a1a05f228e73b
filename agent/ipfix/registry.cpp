#include "registry.hpp"

namespace fc::ipfix {

std::vector<const FieldDef*> template_fields(TemplateKey t) {
    std::vector<const FieldDef*> out;
    const TemplateDef& td = templ(t);
    for (const FieldDef& f : kFields)
        if (template_has(td, f)) out.push_back(&f);
    return out;
}

}  // namespace fc::ipfix
