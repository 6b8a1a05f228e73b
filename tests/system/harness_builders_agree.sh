#!/usr/bin/env bash
# The native (iproute2) and Mininet topology builders make the same topology
# from the same experiment file, so the validator must reach the same
# verdicts: run two experiments (one with a router, plain links and an
# unreachable prefix) with each builder and compare validation.csv.
set -euo pipefail
FC=${1:?usage: $0 path/to/flowcorder}
SRC=$(cd "$(dirname "$0")/../.." && pwd)
PY=/usr/bin/python3
[ -x $PY ] || { echo "FAIL: $PY missing"; exit 1; }
$PY -c "import mininet.net" 2>/dev/null || { echo "FAIL: Mininet is not installed (apt-get install mininet)"; exit 1; }
tmp=$(mktemp -d /tmp/fc_builders.XXXXXX)
trap '"$FC" clean -q; rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
xs=("$SRC/experiments/tcp/unreachable.toml" "$SRC/experiments/tcp/refused.toml")
for b in native mininet; do
  echo "== builder $b"
  "$FC" run "${xs[@]}" --builder $b --results "$tmp" --run-id $b >"$tmp/$b.log" 2>&1 \
    || { tail -15 "$tmp/$b.log"; "$SRC/tests/system/print_failures.sh" "$tmp/$b"; fail "the $b run did not pass"; }
  grep -q '"builder": "'$b'"' "$tmp/$b/environment.json" || fail "environment.json does not record builder $b"
  # experiment,protocol,kpi,truth_source -> verdict
  tail -n +2 "$tmp/$b/validation.csv" | cut -d, -f1-4,9 | sort >"$tmp/$b.verdicts"
done
n_native=$(wc -l <"$tmp/native.verdicts")
n_mininet=$(wc -l <"$tmp/mininet.verdicts")
[ "$n_native" -ge 20 ] || fail "only $n_native verdicts from the native run"
if ! diff -u "$tmp/native.verdicts" "$tmp/mininet.verdicts"; then
  fail "the builders' verdicts differ"
fi
grep -v ',pass$' "$tmp/native.verdicts" && fail "a verdict is not pass"
# Same connections on both: the truth files have as many lines.
for b in native mininet; do cat "$tmp/$b"/*/rep-0/truth/*.jsonl | wc -l; done | uniq | wc -l | grep -qx 1 \
  || fail "the builders ran different numbers of connections"
echo "PASS: $n_native identical verdicts from both builders"
