#!/usr/bin/env bash
# Microbenchmarks of the user-space hot paths and the collector's ingest
# rate against nfcapd's (issue #6).
#
# Usage: experiments/overhead/micro.sh OUTDIR [--quick] [--build DIR]
#
#   full (default): fc_agent_bench with 5 repetitions, then fc_ingest_race
#                   with 3 repetitions of 3-second trials; about 6 minutes.
#   --quick:        1 repetition each, 1-second trials; under a minute.
#
# Writes OUTDIR/bench.json (Google Benchmark JSON, every repetition),
# OUTDIR/bench.txt (console table with mean/median/stddev), OUTDIR/ingest_race.json,
# OUTDIR/ingest_race.txt and OUTDIR/micro.json with the keys
# profiler_profiles_per_s, encode_records_per_s,
# collector_decode_insert_records_per_s, collector_records_per_s,
# nfcapd_records_per_s (medians; details.* hold mean/stddev/min/max over the
# repetitions). Needs the targets fc_agent_bench, fc_ingest_race and
# flowcorder built, and nfcapd/nfdump (Debian package nfdump).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
OUT=
QUICK=0
BUILD="$ROOT/build"
while [[ $# -gt 0 ]]; do
    case $1 in
        --quick) QUICK=1 ;;
        --build) BUILD=$2; shift ;;
        -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
        -*) echo "micro.sh: unknown option $1" >&2; exit 2 ;;
        *) [[ -z $OUT ]] || { echo "micro.sh: one OUTDIR only" >&2; exit 2; }; OUT=$1 ;;
    esac
    shift
done
[[ -n $OUT ]] || { echo "usage: micro.sh OUTDIR [--quick] [--build DIR]" >&2; exit 2; }

for bin in fc_agent_bench fc_ingest_race flowcorder; do
    [[ -x $BUILD/$bin ]] || {
        echo "micro.sh: $BUILD/$bin missing; build it: cmake --build $BUILD -j1 --target $bin" >&2
        exit 1
    }
done
for tool in nfcapd nfdump ss; do
    command -v "$tool" >/dev/null || { echo "micro.sh: $tool not installed (apt-get install nfdump iproute2)" >&2; exit 1; }
done
mkdir -p "$OUT"

CHILD=
cleanup() {
    # The race tool kills its listeners and removes its temp dir on SIGTERM.
    if [[ -n $CHILD ]] && kill -0 "$CHILD" 2>/dev/null; then
        kill -TERM "$CHILD" 2>/dev/null || true
        wait "$CHILD" 2>/dev/null || true
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [[ $QUICK -eq 1 ]]; then
    BENCH_ARGS=(--benchmark_repetitions=1 --benchmark_min_time=0.2)
    RACE_ARGS=(--quick)
else
    BENCH_ARGS=(--benchmark_repetitions=5 --benchmark_min_time=1)
    RACE_ARGS=(--reps 3 --trial-seconds 3 --bisect 5)
fi

echo "micro.sh: fc_agent_bench ${BENCH_ARGS[*]}" >&2
"$BUILD/fc_agent_bench" "${BENCH_ARGS[@]}" \
    --benchmark_out="$OUT/bench.json" --benchmark_out_format=json \
    --benchmark_display_aggregates_only=true >"$OUT/bench.txt" &
CHILD=$!
wait "$CHILD"
CHILD=
cat "$OUT/bench.txt"

echo "micro.sh: fc_ingest_race ${RACE_ARGS[*]}" >&2
"$BUILD/fc_ingest_race" --flowcorder "$BUILD/flowcorder" "${RACE_ARGS[@]}" \
    --out "$OUT/ingest_race.json" >"$OUT/ingest_race.txt" &
CHILD=$!
wait "$CHILD"
CHILD=
cat "$OUT/ingest_race.txt"

/usr/bin/python3 "$HERE/micro_summary.py" "$OUT/bench.json" "$OUT/ingest_race.json" "$OUT/micro.json"
echo "micro.sh: wrote $OUT/micro.json" >&2
