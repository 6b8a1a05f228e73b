#include <unistd.h>

#include <climits>
#include <cstdio>

#include "commands.hpp"

std::string fc::cli::self_exe() {
    char buf[PATH_MAX];
    const ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
    return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "flowcorder";
}

int main(int argc, char** argv) {
    CLI::App app{
        "Flowcorder: per-connection transport performance profiles from the end-host, "
        "exported as IPFIX"};
    app.require_subcommand(1);
    fc::cli::add_agent_command(app);
    fc::cli::add_capture_commands(app);
    fc::cli::add_collect_command(app);
    fc::cli::add_fields_command(app);
    fc::cli::add_link_command(app);
    fc::cli::add_run_command(app);
    fc::cli::add_explore_command(app);
    fc::cli::add_workload_command(app);
    fc::cli::add_validate_command(app);
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e);
    }
    return 0;
}
