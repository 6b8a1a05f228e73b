// flowcorder workload: traffic with ground truth for the testbed. `serve`
// answers what clients ask for, `client` runs bulk / rr / churn connections;
// both write one JSON line per connection with the kernel's final TCP_INFO
// (testbed/FORMATS.md, "Workload ground truth").
#include <cstdio>
#include <memory>
#include <set>
#include <stdexcept>

#include "commands.hpp"
#include "common/units.hpp"
#include "workload/client.hpp"
#include "workload/dns_client.hpp"
#include "workload/dns_servfail.hpp"
#include "workload/server.hpp"

namespace fc::cli {
namespace {

[[noreturn]] void fail(const std::string& msg, int code) {
    std::fprintf(stderr, "flowcorder workload: %s\n", msg.c_str());
    throw CLI::RuntimeError(code);
}

// CLI11 validators that check a value parses and name the option on failure.
const CLI::Validator kSize(
    [](std::string& s) {
        try {
            common::parse_size(s);
            return std::string();
        } catch (const std::invalid_argument& e) {
            return std::string(e.what());
        }
    },
    "SIZE");
const CLI::Validator kDuration(
    [](std::string& s) {
        try {
            common::parse_duration(s);
            return std::string();
        } catch (const std::invalid_argument& e) {
            return std::string(e.what());
        }
    },
    "DURATION");
const CLI::Validator kEndpoint(
    [](std::string& s) {
        try {
            workload::parse_endpoint(s);
            return std::string();
        } catch (const std::invalid_argument& e) {
            return std::string(e.what());
        }
    },
    "ADDR:PORT");

struct CommonText {
    std::string truth, host, workload, congestion;
};

void add_common(CLI::App* cmd, CommonText& c) {
    cmd->add_option("--truth", c.truth, "Ground-truth file (JSON lines, appended)")->required();
    // setsockopt works where the namespace's sysctl may not: a new network
    // namespace allows only reno and bbr by sysctl (KERNEL.md).
    cmd->add_option("--congestion", c.congestion,
                    "TCP congestion control of every socket (TCP_CONGESTION: reno, cubic, "
                    "bbr...; default: the namespace's)");
    cmd->add_option("--host", c.host, "Host name written into the truth")->required();
    cmd->add_option("--workload", c.workload, "Workload name written into the truth")->required();
}

void add_serve(CLI::App* parent) {
    auto* cmd = parent->add_subcommand(
        "serve", "Accept connections and serve what each client's header asks for");
    struct Text : CommonText {
        std::vector<std::string> listen;
        std::string idle_timeout = "5s";
        bool mptcp = false;
    };
    auto t = std::make_shared<Text>();
    cmd->add_option("--listen", t->listen, "Address to listen on: 198.18.0.2:5001, [fd00::2]:5001")
        ->required()
        ->check(kEndpoint);
    add_common(cmd, *t);
    cmd->add_option("--idle-timeout", t->idle_timeout,
                    "Reset a connection after this long without progress")
        ->check(kDuration)
        ->capture_default_str();
    cmd->add_flag("--mptcp", t->mptcp,
                  "Listen with IPPROTO_MPTCP sockets; truth lines get the connection's "
                  "MPTCP_FULL_INFO");
    cmd->callback([t] {
        workload::ServerOptions o;
        o.mptcp = t->mptcp;
        for (const auto& l : t->listen) o.listen.push_back(workload::parse_endpoint(l));
        o.truth_path = t->truth;
        o.host = t->host;
        o.workload = t->workload;
        o.idle_timeout = common::parse_duration(t->idle_timeout);
        o.congestion = t->congestion;
        int rc = 0;
        try {
            rc = workload::run_server(o);
        } catch (const std::runtime_error& e) {
            fail(e.what(), 1);
        }
        if (rc) throw CLI::RuntimeError(rc);
    });
}

void add_client(CLI::App* parent) {
    auto* cmd = parent->add_subcommand(
        "client",
        "Run connections of one type against a workload server; exit 0 iff every "
        "outcome is --expect");
    struct Text : CommonText {
        std::string connect, type, direction = "up", bytes = "1MiB", request = "100",
                                   response = "1000", user_timeout = "3s", connect_timeout = "5s",
                                   idle_timeout = "30s", expect = "ok";
        uint32_t requests = 10, connections = 1, concurrency = 1;
        bool mptcp = false;
    };
    auto t = std::make_shared<Text>();
    cmd->add_option("--connect", t->connect, "Server address: 198.18.0.2:5001, [fd00::2]:5001")
        ->required()
        ->check(kEndpoint);
    cmd->add_option("--type", t->type, "bulk, rr or churn")
        ->required()
        ->check(CLI::IsMember({"bulk", "rr", "churn"}));
    add_common(cmd, *t);
    cmd->add_option("--connections", t->connections, "Number of connections")
        ->check(CLI::Range(1u, 10'000'000u))
        ->capture_default_str();
    cmd->add_option("--concurrency", t->concurrency, "At most this many at a time")
        ->check(CLI::Range(1u, 10'000u))
        ->capture_default_str();
    cmd->add_option("--bytes", t->bytes, "bulk: bytes to transfer (1MB, 64KiB, 100)")
        ->check(kSize)
        ->capture_default_str();
    cmd->add_option("--direction", t->direction, "bulk: up (client sends) or down")
        ->check(CLI::IsMember({"up", "down"}))
        ->capture_default_str();
    cmd->add_option("--request", t->request, "rr: request size")
        ->check(kSize)
        ->capture_default_str();
    cmd->add_option("--response", t->response, "rr: response size")
        ->check(kSize)
        ->capture_default_str();
    cmd->add_option("--requests", t->requests, "rr: exchanges per connection")
        ->check(CLI::Range(1u, 1'000'000'000u))
        ->capture_default_str();
    cmd->add_option("--user-timeout", t->user_timeout,
                    "TCP_USER_TIMEOUT: give up when sent data stays unacknowledged this long")
        ->check(kDuration)
        ->capture_default_str();
    cmd->add_option("--connect-timeout", t->connect_timeout, "Give up connecting after this long")
        ->check(kDuration)
        ->capture_default_str();
    cmd->add_option("--idle-timeout", t->idle_timeout,
                    "Reset a connection after this long without progress (outcome aborted)")
        ->check(kDuration)
        ->capture_default_str();
    cmd->add_option("--expect", t->expect, "Expected outcome of every connection")
        ->check(CLI::IsMember(
            {"ok", "refused", "unreachable", "timeout", "reset", "aborted", "error", "any"}))
        ->capture_default_str();
    cmd->add_flag("--mptcp", t->mptcp,
                  "Connect with IPPROTO_MPTCP sockets; truth lines get the connection's "
                  "MPTCP_FULL_INFO");
    cmd->callback([t] {
        workload::ClientOptions o;
        o.mptcp = t->mptcp;
        o.connect = workload::parse_endpoint(t->connect);
        o.type = *workload::type_from_string(t->type);
        o.direction = *workload::direction_from_string(t->direction);
        o.bytes = common::parse_size(t->bytes);
        o.request = common::parse_size(t->request);
        o.response = common::parse_size(t->response);
        o.requests = t->requests;
        o.connections = t->connections;
        o.concurrency = t->concurrency;
        o.user_timeout = common::parse_duration(t->user_timeout);
        o.connect_timeout = common::parse_duration(t->connect_timeout);
        o.idle_timeout = common::parse_duration(t->idle_timeout);
        if (o.user_timeout.count() <= 0) fail("--user-timeout must be positive", 2);
        if (o.connect_timeout.count() <= 0) fail("--connect-timeout must be positive", 2);
        if (o.idle_timeout.count() <= 0) fail("--idle-timeout must be positive", 2);
        o.expect = t->expect;
        o.congestion = t->congestion;
        o.truth_path = t->truth;
        o.host = t->host;
        o.workload = t->workload;
        int rc = 0;
        try {
            rc = workload::run_client(o);
        } catch (const std::runtime_error& e) {
            fail(e.what(), 1);
        }
        if (rc) throw CLI::RuntimeError(rc);
    });
}

void add_dns_client(CLI::App* parent) {
    auto* cmd = parent->add_subcommand(
        "dns-client",
        "Look names up with the C library's getaddrinfo() (resolver from /etc/resolv.conf), one "
        "truth line per lookup; exit 0 iff every outcome is what --expect says");
    struct Text : CommonText {
        std::vector<std::string> names, servfail;
        uint32_t lookups = 1;
        std::string family = "any", interval = "50ms", expect = "mixed", server,
                    resolv_conf = "/etc/resolv.conf";
    };
    auto t = std::make_shared<Text>();
    cmd->add_option("--names", t->names, "Names to look up in this order, round robin (a,b,c)")
        ->required()
        ->delimiter(',');
    add_common(cmd, *t);
    cmd->add_option("--lookups", t->lookups, "Lookups in total")
        ->check(CLI::Range(1u, 1'000'000u))
        ->capture_default_str();
    cmd->add_option("--family", t->family, "hints.ai_family: any, 4 or 6")
        ->check(CLI::IsMember({"any", "4", "6"}))
        ->capture_default_str();
    cmd->add_option("--interval", t->interval, "Pause between lookups")
        ->check(kDuration)
        ->capture_default_str();
    cmd->add_option("--expect", t->expect,
                    "mixed (per name, from the fc.test zone), ok, nxdomain, nodata, servfail, "
                    "timeout or any")
        ->check(CLI::IsMember(workload::dns::expectations()))
        ->capture_default_str();
    cmd->add_option("--servfail", t->servfail, "Names the server answers SERVFAIL for (a,b)")
        ->delimiter(',');
    cmd->add_option("--server", t->server,
                    "Refuse to run unless resolv.conf's first nameserver is this address");
    cmd->add_option("--resolv-conf", t->resolv_conf, "Where the C library reads its resolver")
        ->capture_default_str();
    cmd->callback([t] {
        workload::dns::ClientOptions o;
        o.names = t->names;
        o.servfail = t->servfail;
        o.lookups = t->lookups;
        o.family = *workload::dns::family_from_string(t->family);
        o.interval = common::parse_duration(t->interval);
        o.expect = t->expect;
        o.server = t->server;
        o.resolv_conf = t->resolv_conf;
        o.truth_path = t->truth;
        o.host = t->host;
        o.workload = t->workload;
        int rc = 0;
        try {
            rc = workload::dns::run_dns_client(o);
        } catch (const std::exception& e) {
            fail(e.what(), 1);
        }
        if (rc) throw CLI::RuntimeError(rc);
    });
}

void add_dns_servfail(CLI::App* parent) {
    auto* cmd = parent->add_subcommand(
        "dns-servfail",
        "Answer every DNS query on a UDP address with SERVFAIL (dnsmasq's upstream for the "
        "experiment's servfail names)");
    auto listen = std::make_shared<std::string>();
    cmd->add_option("--listen", *listen, "UDP address: 127.0.0.1:5300, [::1]:5300")
        ->required()
        ->check(kEndpoint);
    cmd->callback([listen] {
        int rc = 0;
        try {
            rc = workload::dns::run_servfail_responder(workload::parse_endpoint(*listen));
        } catch (const std::runtime_error& e) {
            fail(e.what(), 1);
        }
        if (rc) throw CLI::RuntimeError(rc);
    });
}

}  // namespace

void add_workload_command(CLI::App& app) {
    auto* cmd = app.add_subcommand(
        "workload",
        "Testbed traffic with ground truth: a server and a bulk/rr/churn client that record "
        "each connection's outcome and final TCP_INFO as JSON lines, and a DNS lookup client");
    cmd->require_subcommand(1);
    add_serve(cmd);
    add_client(cmd);
    add_dns_client(cmd);
    add_dns_servfail(cmd);
}

}  // namespace fc::cli
