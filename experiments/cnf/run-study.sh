#!/usr/bin/env bash
# Runs the Consistent NetFlow / Multiflow study: one ns-3 run per utilisation,
# then cnf-analyze (summary.json, errors CSV) and plot.py (PNGs).
# Usage: experiments/cnf/run-study.sh [BUILD_DIR] [OUT_DIR]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-build}
out=${2:-results/cnf}
# shellcheck source=study.conf
source "$here/study.conf"

for tool in cnf-scenario cnf-analyze; do
  [ -x "$build/$tool" ] || { echo "cnf: $build/$tool missing (make cnf builds it)" >&2; exit 1; }
done
started=$(date +%s)
rm -rf "$out/runs"
mkdir -p "$out/runs"
runs=()
k=0
for u in $UTILISATIONS; do
  k=$((k + 1))
  dir="$out/runs/u$u"
  # shellcheck disable=SC2086
  "$build/cnf-scenario" --out="$dir" --seed="$SEED" --run="$k" --utilisation="$u" \
    --duration="$DURATION" --fraction=1 $SCENARIO_ARGS
  runs+=("$dir")
done
"$build/cnf-analyze" "${runs[@]}" --out "$out" --fractions "$FRACTIONS" \
  --reference-fraction "$REFERENCE_FRACTION" --evaluations-per-flow "$EVALUATIONS" \
  --min-packets "$MIN_PACKETS" --variant "$VARIANT"
/usr/bin/python3 "$here/plot.py" "$out"
echo "cnf: done in $(( $(date +%s) - started )) s; $out/summary.json and $out/*.png"
