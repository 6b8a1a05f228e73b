// flowcorder collect: IPFIX collector into SQLite.
// flowcorder ipfix-selftest (hidden): exports a few records of every template
// with known values, for the interoperability tests.
#include <arpa/inet.h>
#include <poll.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <memory>
#include <string>

#include "collector/collector.hpp"
#include "collector/sqlite_store.hpp"
#include "commands.hpp"
#include "ipfix/exporter.hpp"

namespace fc::cli {

namespace {

volatile std::sig_atomic_t g_stop = 0;
volatile std::sig_atomic_t g_usr1 = 0;

void on_signal(int sig) {
    if (sig == SIGUSR1)
        g_usr1 = 1;
    else
        g_stop = 1;
}

void install_signals() {
    struct sigaction sa {};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;  // no SA_RESTART: poll() returns at once
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
    sigaction(SIGUSR1, &sa, nullptr);
}

struct CollectOptions {
    std::string listen = "udp://127.0.0.1:4739,tcp://127.0.0.1:4739";
    std::string db;
    uint32_t enterprise = ipfix::kDefaultEnterpriseNumber;
    bool stats = false;
    double stats_interval = 10;
    double duration = 0;
};

[[noreturn]] void fail(const std::string& msg, int code = 1) {
    std::fprintf(stderr, "flowcorder collect: %s\n", msg.c_str());
    throw CLI::RuntimeError(code);
}

void run_collect(const CollectOptions& o) {
    std::vector<std::string> urls;
    std::unique_ptr<collector::SqliteStore> store;
    std::unique_ptr<collector::Collector> coll;
    try {
        for (const auto& ep : ipfix::parse_endpoints(o.listen, true)) urls.push_back(ep.str());
        store = std::make_unique<collector::SqliteStore>(o.db);
        coll = std::make_unique<collector::Collector>(
            collector::CollectorConfig{urls, o.enterprise}, *store);
        coll->start();
    } catch (const std::exception& e) {
        fail(e.what());
    }
    std::string where;
    for (const auto& ep : coll->bound()) where += (where.empty() ? "" : ", ") + ep.str();
    std::fprintf(stderr, "flowcorder collect: listening on %s, storing into %s\n", where.c_str(),
                 o.db.c_str());
    install_signals();
    using Clock = std::chrono::steady_clock;
    const auto start = Clock::now();
    auto next_stats = start + std::chrono::duration<double>(o.stats_interval);
    auto print = [&](const char* when) {
        std::fprintf(stderr, "flowcorder collect: %s: %s\n", when, coll->stats().str().c_str());
    };
    try {
        while (!g_stop) {
            coll->poll_once(200);
            const auto now = Clock::now();
            if (g_usr1) {
                g_usr1 = 0;
                print("stats");
            }
            if (o.stats && now >= next_stats) {
                print("stats");
                next_stats = now + std::chrono::duration<double>(o.stats_interval);
            }
            if (o.duration > 0 && now - start >= std::chrono::duration<double>(o.duration)) break;
        }
        coll->stop();
    } catch (const std::exception& e) {
        fail(e.what());
    }
    print("exit");
}

// ---- ipfix-selftest ------------------------------------------------------

// 2024-01-02T03:04:05.123456789Z, then one second per record index.
constexpr uint64_t kSelftestBaseNs = 1704164645123456789ull;

ipfix::Record selftest_record(ipfix::TemplateKey t, uint32_t i) {
    using ipfix::FieldKey;
    ipfix::Record r;
    r.tmpl = t;
    // Every field gets a distinct value first; the identity fields below
    // are then set to values the interop tests check.
    for (size_t k = 0; k < ipfix::kFieldCount; ++k) r.num[k] = 1000 * (i + 1) + k;
    const uint64_t start = kSelftestBaseNs + uint64_t{i} * 1000000000ull;
    const uint64_t end = start + 250000000ull + i;
    r.set(FieldKey::SRC_V4, 0x0A000001u + i);  // 10.0.0.1 + i
    r.set(FieldKey::DST_V4, 0xC0000201u + i);  // 192.0.2.1 + i
    for (int b = 0; b < 16; ++b) r.src_v6[b] = r.dst_v6[b] = 0;
    r.src_v6[0] = r.dst_v6[0] = 0x20;  // 2001:db8::/32
    r.src_v6[1] = r.dst_v6[1] = 0x01;
    r.src_v6[2] = r.dst_v6[2] = 0x0d;
    r.src_v6[3] = r.dst_v6[3] = 0xb8;
    r.dst_v6[5] = 1;  // 2001:db8:1::
    r.src_v6[15] = r.dst_v6[15] = static_cast<uint8_t>(i + 1);
    r.set(FieldKey::SRC_PORT, 40000 + i);
    r.set(FieldKey::DST_PORT, 443);
    r.set(FieldKey::PROTOCOL, 6);
    r.set(FieldKey::FLOW_ID, 7000 + i);
    r.set(FieldKey::WINDOW_START_NS, start);
    r.set(FieldKey::WINDOW_END_NS, end);
    r.set(FieldKey::WINDOW_START_MS, start / 1000000);
    r.set(FieldKey::WINDOW_END_MS, end / 1000000);
    r.set(FieldKey::FLOW_END_REASON, 3);
    r.set(FieldKey::START_STATE, 1);
    r.set(FieldKey::END_STATE, 4);
    r.set(FieldKey::BYTES_ACKED, 100000 + i);
    r.set(FieldKey::STATS_TIME_NS, start);
    if (ipfix::templ(t).scope & ipfix::S_DNS) {
        r.set(FieldKey::PROTOCOL, 17);
        r.set(FieldKey::DST_PORT, 53);
        r.set(FieldKey::END_STATE, 6);
        r.set(FieldKey::DNS_OUTCOME, 1);
        r.set(FieldKey::DNS_RCODE, 3);
        r.set_text(FieldKey::DNS_NAME, "host" + std::to_string(i) + ".selftest.example");
        r.set_text(FieldKey::PROCESS_NAME, "selftest");
    }
    return r;
}

struct SelftestOptions {
    std::string url;
    uint32_t count = 3;
    uint32_t enterprise = ipfix::kDefaultEnterpriseNumber;
    uint32_t domain = 1;
};

void run_selftest(const SelftestOptions& o) {
    std::unique_ptr<ipfix::Exporter> ex;
    try {
        ex = std::make_unique<ipfix::Exporter>(ipfix::ExporterConfig{
            .url = o.url, .observation_domain = o.domain, .enterprise_number = o.enterprise});
    } catch (const std::exception& e) {
        std::fprintf(stderr, "flowcorder ipfix-selftest: %s\n", e.what());
        throw CLI::RuntimeError(1);
    }
    uint64_t total = 0;
    for (const ipfix::TemplateDef& t : ipfix::kTemplates)
        for (uint32_t i = 0; i < o.count; ++i) {
            ex->submit(selftest_record(t.key, i));
            ++total;
        }
    ex->drain(std::chrono::seconds(5));
    const auto st = ex->stats();
    std::printf("sent %llu of %llu records in %llu messages to %s (send errors %llu)\n",
                static_cast<unsigned long long>(st.records_sent),
                static_cast<unsigned long long>(total),
                static_cast<unsigned long long>(st.messages_sent), o.url.c_str(),
                static_cast<unsigned long long>(st.send_errors));
    if (st.records_sent != total) {
        std::fprintf(stderr, "flowcorder ipfix-selftest: not every record was sent\n");
        throw CLI::RuntimeError(1);
    }
}

}  // namespace

void add_collect_command(CLI::App& app) {
    auto o = std::make_shared<CollectOptions>();
    auto* cmd = app.add_subcommand(
        "collect", "IPFIX collector: store profiles, agent statistics and flows into SQLite");
    cmd->add_option("--listen", o->listen,
                    "Comma-separated endpoints udp://ADDR:PORT,tcp://ADDR:PORT (IPv6 in "
                    "brackets); loopback only by default")
        ->capture_default_str();
    cmd->add_option("--db", o->db, "SQLite database file (created if missing)")->required();
    cmd->add_option("--enterprise", o->enterprise,
                    "Private enterprise number of Flowcorder's elements")
        ->capture_default_str();
    cmd->add_flag("--stats", o->stats, "Print statistics periodically (also on SIGUSR1 and exit)");
    cmd->add_option("--stats-interval", o->stats_interval, "Seconds between --stats prints")
        ->capture_default_str();
    cmd->add_option("--duration", o->duration, "Stop after this many seconds (0: until signal)")
        ->capture_default_str();
    cmd->callback([o] { run_collect(*o); });

    auto so = std::make_shared<SelftestOptions>();
    auto* st = app.add_subcommand("ipfix-selftest",
                                  "Export known records of every template (interop tests)");
    st->group("");  // hidden
    st->add_option("--collector", so->url, "udp://HOST:PORT or tcp://HOST:PORT")->required();
    st->add_option("--count", so->count, "Records per template")->capture_default_str();
    st->add_option("--enterprise", so->enterprise, "Private enterprise number")
        ->capture_default_str();
    st->add_option("--domain", so->domain, "Observation domain")->capture_default_str();
    st->callback([so] { run_selftest(*so); });
}

}  // namespace fc::cli
