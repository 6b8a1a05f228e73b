// flowcorder link: the user-space impairment engine (netem's job without
// sch_netem) on a link between two network namespaces. See testbed/impair/
// and README.md, section "Impairment engine".
#include <cstdio>
#include <memory>

#include "commands.hpp"
#include "impair/log.hpp"
#include "impair/runner.hpp"
#include "impair/spec.hpp"

namespace fc::cli {
namespace {

[[noreturn]] void fail(const std::string& msg, int code) {
    std::fprintf(stderr, "flowcorder link: %s\n", msg.c_str());
    throw CLI::RuntimeError(code);
}

void add_set(CLI::App* link) {
    auto* cmd = link->add_subcommand("set", "Change a running link's impairment (control socket)");
    auto control = std::make_shared<std::string>();
    auto dir = std::make_shared<std::string>("both");
    auto spec = std::make_shared<std::string>();
    cmd->add_option("--control", *control, "The running link's control socket")->required();
    cmd->add_option("--dir", *dir, "ab, ba or both")->check(CLI::IsMember({"ab", "ba", "both"}));
    cmd->add_option("spec", *spec, "netem specification, e.g. \"delay 20ms loss random 5%\"")
        ->required();
    cmd->callback([control, dir, spec] {
        try {
            impair::parse_spec(*spec);
        } catch (const impair::SpecError& e) {
            fail(e.what(), 2);
        }
        std::string reply;
        try {
            reply = impair::control_request(*control, "set " + *dir + " " + *spec);
        } catch (const std::exception& e) {
            fail(e.what(), 1);
        }
        if (reply != "ok") fail(reply, 1);
        std::printf("ok\n");
    });
}

void add_simple(CLI::App* link, const char* name, const char* help) {
    auto* cmd = link->add_subcommand(name, help);
    auto control = std::make_shared<std::string>();
    cmd->add_option("--control", *control, "The running link's control socket")->required();
    const std::string word = name;
    cmd->callback([control, word] {
        try {
            std::printf("%s\n", impair::control_request(*control, word).c_str());
        } catch (const std::exception& e) {
            fail(e.what(), 1);
        }
    });
}

void add_log_csv(CLI::App* link) {
    auto* cmd = link->add_subcommand("log-csv", "Convert a link's binary per-packet log to CSV");
    auto file = std::make_shared<std::string>();
    auto out = std::make_shared<std::string>();
    cmd->add_option("file", *file, "Binary log written with --log")->required();
    cmd->add_option("-o,--output", *out, "CSV file (default: stdout)");
    cmd->callback([file, out] {
        try {
            const auto log = impair::read_log(*file);
            std::FILE* f = out->empty() ? stdout : std::fopen(out->c_str(), "w");
            if (!f) fail("cannot write " + *out, 1);
            impair::write_csv(log, f);
            if (f != stdout) std::fclose(f);
        } catch (const CLI::RuntimeError&) {
            throw;
        } catch (const std::exception& e) {
            fail(e.what(), 1);
        }
    });
}

}  // namespace

void add_link_command(CLI::App& app) {
    auto* link = app.add_subcommand(
        "link",
        "Emulate a link between two network namespaces with netem's impairments, in user space "
        "(per direction; per-packet ground-truth log)");
    link->require_subcommand(0, 1);
    auto o = std::make_shared<impair::RunOptions>();
    auto io = std::make_shared<std::string>("mmsg");
    auto spin_us = std::make_shared<double>(50);
    link->add_option("--ns-a", o->link.ns_a, "Namespace of side A (exists; you address it)");
    link->add_option("--ns-b", o->link.ns_b, "Namespace of side B");
    link->add_option("--name", o->link.name, "Link name (<= 10 characters)")->capture_default_str();
    link->add_option("--dev-a", o->link.dev_a, "Interface created in A (default fc-NAME-a)");
    link->add_option("--dev-b", o->link.dev_b, "Interface created in B (default fc-NAME-b)");
    link->add_option("--addr-a", o->link.addrs_a, "Address(es) for the A interface (CIDR)");
    link->add_option("--addr-b", o->link.addrs_b, "Address(es) for the B interface (CIDR)");
    link->add_option("--ab", o->ab_text, "netem specification for A->B (default: none)");
    link->add_option("--ba", o->ba_text, "netem specification for B->A (default: none)");
    link->add_option("--seed", o->link.seed, "Random seed (same seed + same packets = same run)")
        ->capture_default_str();
    link->add_option("--log", o->link.log_path, "Binary per-packet log (see link log-csv)");
    link->add_option("--schedule", o->schedule, "TOML file of [[change]] at=..., ab=..., ba=...");
    link->add_option("--control", o->control, "Unix socket for link set/stats/stop");
    link->add_option("--duration", o->duration_s, "Stop after this many seconds (0 = on signal)");
    link->add_option("--io", *io,
                     "Packet I/O path: mmsg (recvmmsg/sendmmsg), ring (TPACKET_V2), ring-v3")
        ->capture_default_str();
    link->add_option("--ring-frames", o->link.ring_frames, "RX ring size in frames")
        ->capture_default_str();
    link->add_option("--spin-us", *spin_us, "Poll without sleeping this long before a departure")
        ->capture_default_str();
    link->add_option("--rt-priority", o->link.rt_priority,
                     "SCHED_FIFO priority of the forwarding threads (0 = normal scheduling)")
        ->capture_default_str();
    link->add_option("--mtu", o->link.mtu, "MTU of the link's interfaces")->capture_default_str();
    link->add_option("--backend", o->backend, "auto, engine or netem (kernel qdisc)")
        ->capture_default_str();
    add_set(link);
    add_simple(link, "stats", "Print a running link's counters (JSON)");
    add_simple(link, "stop", "Stop a running link");
    add_log_csv(link);
    link->callback([link, o, io, spin_us] {
        if (!link->get_subcommands().empty()) return;  // set / stats / stop / log-csv
        if (o->link.ns_a.empty() || o->link.ns_b.empty()) fail("--ns-a and --ns-b are required", 2);
        if (o->link.name.empty() || o->link.name.size() > 10)
            fail("--name must be 1..10 characters", 2);
        if (o->link.dev_a.empty()) o->link.dev_a = "fc-" + o->link.name + "-a";
        if (o->link.dev_b.empty()) o->link.dev_b = "fc-" + o->link.name + "-b";
        for (const auto* d : {&o->link.dev_a, &o->link.dev_b})
            if (d->size() > 15) fail("interface name '" + *d + "' longer than 15 characters", 2);
        try {
            o->link.io = impair::rx_kind_from_string(*io);
        } catch (const std::exception& e) {
            fail(e.what(), 2);
        }
        o->link.spin_ns = static_cast<int64_t>(*spin_us * 1000);
        try {
            o->link.ab = std::make_shared<const impair::Spec>(impair::parse_spec(o->ab_text));
        } catch (const impair::SpecError& e) {
            fail(std::string("--ab: ") + e.what(), 2);
        }
        try {
            o->link.ba = std::make_shared<const impair::Spec>(impair::parse_spec(o->ba_text));
        } catch (const impair::SpecError& e) {
            fail(std::string("--ba: ") + e.what(), 2);
        }
        try {
            const int rc = impair::run_link(*o);
            if (rc) throw CLI::RuntimeError(rc);
        } catch (const impair::SpecError& e) {
            fail(e.what(), 2);
        } catch (const CLI::RuntimeError&) {
            throw;
        } catch (const std::exception& e) {
            fail(e.what(), 1);
        }
    });
}

}  // namespace fc::cli
