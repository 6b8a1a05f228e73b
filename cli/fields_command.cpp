// flowcorder fields [--markdown]: the IPFIX registry, as text or as the
// Markdown committed in docs/ipfix-fields.md.
#include <cstdio>

#include "commands.hpp"
#include "ipfix/fields_doc.hpp"

namespace fc::cli {

void add_fields_command(CLI::App& app) {
    auto* cmd = app.add_subcommand("fields", "Print the IPFIX information elements and templates");
    auto markdown = std::make_shared<bool>(false);
    cmd->add_flag("--markdown", *markdown, "Markdown, as committed in docs/ipfix-fields.md");
    cmd->callback([markdown] {
        const std::string out = *markdown ? ipfix::fields_markdown() : ipfix::fields_text();
        std::fwrite(out.data(), 1, out.size(), stdout);
    });
}

}  // namespace fc::cli
