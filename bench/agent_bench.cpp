// fc_agent_bench: Google Benchmark microbenchmarks of the user-space hot
// paths. Items per second are profiles (profiler) or records (IPFIX encode,
// collector decode + SQLite insert).
#include <arpa/inet.h>
#include <benchmark/benchmark.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "bench_support.hpp"
#include "collector/collector.hpp"
#include "collector/sqlite_store.hpp"
#include "core/clock.hpp"
#include "core/sink.hpp"
#include "ipfix/codec.hpp"
#include "ipfix/exporter.hpp"
#include "tcp/tcp_profiler.hpp"

namespace {

using fc::bench::Life;

// Counts what the profiler emits; touches every record so none of the work
// filling it can be dropped.
class CountingSink final : public fc::ProfileSink {
  public:
    void emit(const fc::ipfix::Record& r) override {
        benchmark::DoNotOptimize(&r);
        benchmark::ClobberMemory();
        ++profiles;
    }
    uint64_t profiles = 0;
};

struct TempDir {
    std::filesystem::path path;
    TempDir() {
        char t[] = "/tmp/fc_agent_bench.XXXXXX";
        path = mkdtemp(t);
    }
    ~TempDir() { std::filesystem::remove_all(path); }
};

// A bound loopback UDP socket that swallows datagrams.
struct UdpSink {
    int fd = -1;
    uint16_t port = 0;
    UdpSink() {
        fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        int big = 16 << 20;
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof a;
        bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
        getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
        port = ntohs(a.sin_port);
    }
    ~UdpSink() { close(fd); }
    size_t drain() {
        static char buf[65536];
        size_t n = 0;
        while (recv(fd, buf, sizeof buf, 0) > 0) ++n;
        return n;
    }
};

// ---- ring-buffer event -> profile ---------------------------------------

// One iteration = one connection's life (5 events, 4 profiles) while
// `state.range(0)` other connections stay tracked. Each event goes the way
// the agent's ring-buffer callback sends it (TcpProbes::on_sample): copied
// out of the sample, then through the std::function handler into
// TcpProfiler::on_event; libbpf's own ring walk is not included.
void BM_ProfilerConnectionLife(benchmark::State& state) {
    fc::WallClock clock;
    CountingSink sink;
    fc::tcp::TcpProfiler prof(clock, sink);
    const uint64_t t0 = fc::WallClock::mono_now_ns();
    const auto background = static_cast<uint32_t>(state.range(0));
    for (uint32_t i = 0; i < background; ++i) {
        const Life l = fc::bench::connection_life(1'000'000'000ull + i, t0, i);
        prof.on_event(l[0]);
        prof.on_event(l[1]);
    }
    sink.profiles = 0;
    // A small pool of lives (both families, varied counters), retargeted to
    // a fresh connection id each time.
    std::vector<Life> pool;
    for (uint32_t i = 0; i < 64; ++i) pool.push_back(fc::bench::connection_life(i + 1, t0, i));
    const std::function<void(const fc_tcp_event&)> handler = [&](const fc_tcp_event& e) {
        prof.on_event(e);
    };
    uint64_t id = 1, events = 0;
    for (auto _ : state) {
        Life& l = pool[id % pool.size()];
        fc::bench::retarget(l, id, t0 + id * 1000);
        for (const fc_tcp_event& sample : l) {
            fc_tcp_event e;
            std::memcpy(&e, &sample, sizeof e);
            handler(e);
        }
        events += l.size();
        ++id;
    }
    if (prof.tracked() != background) state.SkipWithError("profiler kept connections");
    if (sink.profiles != (id - 1) * fc::bench::kLifeProfiles)
        state.SkipWithError("unexpected profile count");
    state.SetItemsProcessed(static_cast<int64_t>(sink.profiles));
    state.counters["events_per_s"] =
        benchmark::Counter(static_cast<double>(events), benchmark::Counter::kIsRate);
    state.counters["tracked"] = static_cast<double>(background);
}
BENCHMARK(BM_ProfilerConnectionLife)->Arg(0)->Arg(10000)->ArgName("tracked");

// ---- profile -> IPFIX record ------------------------------------------------

// The codec alone: a profile record into fixbuf's record layout.
void BM_CodecEncodeRecord(benchmark::State& state) {
    const std::vector<fc::ipfix::Record> recs = fc::bench::profile_records(1024);
    alignas(16) uint8_t out[fc::ipfix::kMaxRecordSize];
    size_t i = 0;
    for (auto _ : state) {
        fc::ipfix::encode_record(recs[i++ % recs.size()], out);
        benchmark::DoNotOptimize(out);
        benchmark::ClobberMemory();
    }
    state.SetItemsProcessed(static_cast<int64_t>(i));
}
BENCHMARK(BM_CodecEncodeRecord);

// The agent's whole export path: Exporter::submit, then flush() encodes the
// queued records into IPFIX messages (libfixbuf) and sends one UDP datagram
// per message to a loopback socket (drained with the clock stopped).
void BM_ExporterEncodeSend(benchmark::State& state) {
    const std::vector<fc::ipfix::Record> recs = fc::bench::profile_records(4096);
    UdpSink rx;
    fc::ipfix::ExporterConfig cfg;
    cfg.url = "udp://127.0.0.1:" + std::to_string(rx.port);
    fc::ipfix::Exporter ex(cfg);
    ex.flush();  // templates and type records out of the way
    rx.drain();
    const size_t batch = static_cast<size_t>(state.range(0));
    size_t i = 0;
    for (auto _ : state) {
        for (size_t k = 0; k < batch; ++k) ex.submit(recs[i++ % recs.size()]);
        ex.flush();
        state.PauseTiming();
        rx.drain();
        state.ResumeTiming();
    }
    const fc::ipfix::ExporterStats st = ex.stats();
    if (st.records_dropped != 0 || st.records_sent != i)
        state.SkipWithError("exporter dropped records");
    state.SetItemsProcessed(static_cast<int64_t>(st.records_sent));
    state.counters["records_per_message"] =
        static_cast<double>(st.records_sent) /
        static_cast<double>(std::max<uint64_t>(1, st.messages_sent));
}
BENCHMARK(BM_ExporterEncodeSend)->Arg(256)->ArgName("batch");

// ---- collector decode -> SQLite insert ------------------------------------

// Prepared IPFIX messages (the exporter's own, captured) are sent with the
// clock stopped to the collector's UDP socket; the timed part is the
// collector's poll loop: receive, vet, decode (libfixbuf + registry) and
// insert into SQLite (WAL, transactions committed as in production).
void BM_CollectorDecodeInsert(benchmark::State& state) {
    static const fc::bench::IpfixStream stream =
        fc::bench::capture_stream(fc::bench::profile_records(8000));
    TempDir dir;
    uint64_t records = 0;
    {
        fc::collector::SqliteStore store((dir.path / "bench.sqlite").string());
        fc::collector::Collector coll({{"udp://127.0.0.1:0"}, fc::ipfix::kDefaultEnterpriseNumber},
                                      store);
        coll.start();
        const fc::ipfix::Endpoint ep = coll.bound().at(0);
        const int tx = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        connect(tx, reinterpret_cast<const sockaddr*>(&ep.addr), ep.addr_len);
        for (const auto& m : stream.preamble) send(tx, m.data(), m.size(), 0);
        for (int k = 0; k < 20; ++k) coll.poll_once(10);
        fc::bench::Replay replay(stream);
        const size_t batch = static_cast<size_t>(state.range(0));
        uint64_t expected = store.rows_written();
        const uint64_t first = expected;
        for (auto _ : state) {
            state.PauseTiming();
            for (size_t k = 0; k < batch; ++k) {
                uint32_t n = 0;
                const std::vector<uint8_t>& m = replay.next(n);
                send(tx, m.data(), m.size(), 0);
                expected += n;
            }
            state.ResumeTiming();
            int idle = 0;
            while (store.rows_written() < expected && idle < 200) {
                const uint64_t before = store.rows_written();
                coll.poll_once(10);
                idle = store.rows_written() == before ? idle + 1 : 0;
            }
            if (store.rows_written() < expected) {
                state.SkipWithError("collector lost records");
                break;
            }
        }
        close(tx);
        records = store.rows_written() - first;
        const fc::collector::CollectorStats st = coll.stats();
        state.counters["sequence_gaps"] = static_cast<double>(st.sequence_gaps);
        state.counters["malformed"] = static_cast<double>(st.malformed_total());
        coll.stop();
    }
    state.SetItemsProcessed(static_cast<int64_t>(records));
}
BENCHMARK(BM_CollectorDecodeInsert)->Arg(64)->ArgName("messages");

}  // namespace

BENCHMARK_MAIN();
