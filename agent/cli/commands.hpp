// Subcommands of build/flowcorder. Each adds itself to the CLI11 app; a
// failing command throws CLI::RuntimeError(exit_code) after printing why.
#pragma once

#include <CLI/CLI.hpp>

namespace fc::cli {

void add_agent_command(CLI::App& app);     // agent_command.cpp
void add_collect_command(CLI::App& app);   // collect_command.cpp
void add_fields_command(CLI::App& app);    // fields_command.cpp
void add_link_command(CLI::App& app);      // link_command.cpp
void add_validate_command(CLI::App& app);  // testbed/validate/validate_command.cpp

}  // namespace fc::cli
