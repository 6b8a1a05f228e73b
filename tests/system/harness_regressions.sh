#!/usr/bin/env bash
# Every experiment the scenario explorer shrank from a failure
# (experiments/regressions/*.toml) passes every verdict: a fixed KPI error
# stays fixed. Registered only while such files exist (tests/CMakeLists.txt).
set -euo pipefail
FC=${1:?usage: $0 path/to/flowcorder}
SRC=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d /tmp/fc_regressions.XXXXXX)
trap '"$FC" clean -q; rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
shopt -s nullglob
files=("$SRC"/experiments/regressions/*.toml)
[ ${#files[@]} -gt 0 ] || fail "no experiments/regressions/*.toml (the test should not be registered)"
if ! "$FC" run --results "$tmp" --run-id regressions "${files[@]}" >"$tmp/run.log" 2>&1; then
  tail -30 "$tmp/run.log"
  "$SRC/tests/system/print_failures.sh" "$tmp/regressions" "$(dirname "$FC")/failed-runs"
  fail "a regression experiment fails again"
fi
v="$tmp/regressions/validation.csv"
n_exp=$(tail -n +2 "$v" | cut -d, -f1 | grep -v '^\*$' | sort -u | wc -l)
[ "$n_exp" -eq "${#files[@]}" ] || fail "$n_exp experiments validated, ${#files[@]} files"
grep -v ',pass,' "$v" | tail -n +2 | grep . && fail "a verdict is not pass"
echo "PASS: ${#files[@]} regression experiments, $(tail -n +2 "$v" | wc -l) rows, all pass"
