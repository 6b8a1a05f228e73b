#!/usr/bin/python3
"""Combines fc_agent_bench's Google Benchmark JSON and fc_ingest_race's JSON
into micro.json (see micro.sh). Usage:
    micro_summary.py BENCH.json RACE.json OUT.json
    micro_summary.py --self-test
"""
import json
import statistics
import sys

# micro.json key -> benchmark run name (family/args as Google Benchmark names it).
BENCH_KEYS = {
    "profiler_profiles_per_s": "BM_ProfilerConnectionLife/tracked:0",
    "profiler_profiles_per_s_10k_tracked": "BM_ProfilerConnectionLife/tracked:10000",
    "encode_records_per_s": "BM_ExporterEncodeSend/batch:256",
    "encode_codec_only_records_per_s": "BM_CodecEncodeRecord",
    "collector_decode_insert_records_per_s": "BM_CollectorDecodeInsert/messages:64",
}


def bench_stats(bench, run_name):
    """items_per_second over the repetitions of one benchmark: median, mean,
    stddev, min, max (computed from the per-repetition entries)."""
    reps = [b["items_per_second"] for b in bench["benchmarks"]
            if b.get("run_name", b["name"]) == run_name
            and b.get("run_type", "iteration") == "iteration"
            and "items_per_second" in b and not b.get("error_occurred")]
    if not reps:
        return None
    return {
        "median": statistics.median(reps),
        "mean": statistics.fmean(reps),
        "stddev": statistics.stdev(reps) if len(reps) > 1 else 0.0,
        "min": min(reps),
        "max": max(reps),
        "repetitions": len(reps),
    }


def summarize(bench, race):
    out = {"units": "items per second (profiles for the profiler, records otherwise)"}
    details = {}
    for key, run in BENCH_KEYS.items():
        s = bench_stats(bench, run)
        details[key] = s
        out[key] = s["median"] if s else None
    for key in ("collector", "nfcapd"):
        r = race.get(key, {}) if race else {}
        out[f"{key}_records_per_s"] = race.get(f"{key}_records_per_s") if race else None
        details[f"{key}_records_per_s"] = r or None
    if race and race.get("nfcapd_records_per_s"):
        out["collector_over_nfcapd"] = race["collector_records_per_s"] / race["nfcapd_records_per_s"]
        out["goal_collector_ge_nfcapd"] = race["collector_records_per_s"] >= race["nfcapd_records_per_s"]
    out["details"] = details
    ctx = bench.get("context", {})
    out["bench_context"] = {k: ctx.get(k) for k in
                            ("date", "host_name", "num_cpus", "mhz_per_cpu", "library_build_type")}
    if race:
        out["ingest_race_method"] = race.get("method")
    return out


def self_test():
    def run(name, reps, v):
        return [{"name": name, "run_name": name, "run_type": "iteration",
                 "items_per_second": v + i} for i in range(reps)]
    bench = {"context": {}, "benchmarks":
             run("BM_ProfilerConnectionLife/tracked:0", 3, 10.0)
             + [{"name": "BM_ProfilerConnectionLife/tracked:0_median",
                 "run_name": "BM_ProfilerConnectionLife/tracked:0",
                 "run_type": "aggregate", "items_per_second": 999.0}]
             + run("BM_ExporterEncodeSend/batch:256", 1, 5.0)}
    race = {"collector_records_per_s": 200.0, "nfcapd_records_per_s": 100.0,
            "collector": {"median": 200.0, "min": 150.0, "max": 250.0, "n": 3},
            "nfcapd": {"median": 100.0, "min": 90.0, "max": 110.0, "n": 3}}
    s = summarize(bench, race)
    assert s["profiler_profiles_per_s"] == 11.0, s
    d = s["details"]["profiler_profiles_per_s"]
    assert (d["min"], d["max"], d["repetitions"]) == (10.0, 12.0, 3), d
    assert abs(d["stddev"] - 1.0) < 1e-9, d
    assert s["encode_records_per_s"] == 5.0 and s["details"]["encode_records_per_s"]["stddev"] == 0
    assert s["collector_decode_insert_records_per_s"] is None
    assert s["collector_over_nfcapd"] == 2.0 and s["goal_collector_ge_nfcapd"] is True
    assert s["details"]["nfcapd_records_per_s"]["min"] == 90.0
    print("micro_summary self-test: ok")


def main(argv):
    if argv[1:] == ["--self-test"]:
        self_test()
        return 0
    if len(argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    with open(argv[1]) as f:
        bench = json.load(f)
    race = None
    try:
        with open(argv[2]) as f:
            race = json.load(f)
    except (OSError, ValueError) as e:
        print(f"micro_summary: no ingest race results ({e})", file=sys.stderr)
    out = summarize(bench, race)
    with open(argv[3], "w") as f:
        json.dump(out, f, indent=2)
        f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
