// Subcommands of build/flowcorder. Each adds itself to the CLI11 app; a
// failing command throws CLI::RuntimeError(exit_code) after printing why.
#pragma once

#include <CLI/CLI.hpp>

namespace fc::cli {

void add_agent_command(CLI::App& app);     // agent_command.cpp
void add_collect_command(CLI::App& app);   // collect_command.cpp
void add_fields_command(CLI::App& app);    // fields_command.cpp
void add_link_command(CLI::App& app);      // link_command.cpp
void add_run_command(CLI::App& app);       // run_command.cpp (run, clean)
void add_explore_command(CLI::App& app);   // explore_command.cpp
void add_capture_commands(CLI::App& app);  // capture_command.cpp (capture, analyse-pcap)
void add_workload_command(CLI::App& app);  // workload_command.cpp
void add_validate_command(CLI::App& app);  // validate_command.cpp

// This binary's path (/proc/self/exe), for the children a command starts.
std::string self_exe();  // main.cpp

}  // namespace fc::cli
