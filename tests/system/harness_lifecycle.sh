#!/usr/bin/env bash
# flowcorder run's life cycle, as an operator meets it: a malformed experiment
# file is refused before anything exists, with the field named; Ctrl-C
# (SIGINT) mid-run exits 130 and leaves nothing; a crash (SIGKILL) leaves
# namespaces that the next run refuses to start on, naming `flowcorder clean`,
# which removes them.
set -euo pipefail
FC=${1:?usage: $0 path/to/flowcorder}
SRC=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d /tmp/fc_lifecycle.XXXXXX)
cleanup() { set +e; "$FC" clean -q; rm -rf "$tmp"; }
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }
ours() { pgrep -f "flowcorder (agent|collect|link|capture|workload)" || true; }
leftover_ns() { ip netns list | awk '{print $1}' | grep -c '^fc-tb-' || true; }

"$FC" clean -q
[ "$(leftover_ns)" = 0 ] || fail "could not start clean"

echo "== a malformed experiment file names file, line and field; nothing is created"
sed 's/^bytes = "3MB"/bytes = "three"/' "$SRC/experiments/tcp/clean.toml" >"$tmp/bad.toml"
set +e
out=$("$FC" run "$tmp/bad.toml" --results "$tmp/r" 2>&1)
rc=$?
set -e
echo "$out"
[ $rc -eq 2 ] || fail "exit status $rc, expected 2"
echo "$out" | grep -q "bad.toml:[0-9]*: workload\[0\].bytes: 'three' is not a size" || fail "error does not name the field"
[ ! -e "$tmp/r" ] || fail "a results directory was created for a bad file"
[ "$(leftover_ns)" = 0 ] || fail "namespaces created for a bad file"

echo "== SIGINT mid-run: exit 130, nothing left behind"
"$FC" run "$SRC/experiments/tcp/delay-40ms.toml" --results "$tmp/r" --no-validate >"$tmp/int.log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do grep -q "observers" "$tmp/int.log" && break; sleep 0.1; done
grep -q "observers" "$tmp/int.log" || { cat "$tmp/int.log"; fail "run did not get to its agents"; }
sleep 1
[ "$(leftover_ns)" -gt 0 ] || fail "no namespaces while running?"
kill -INT $pid
set +e
wait $pid
rc=$?
set -e
cat "$tmp/int.log"
[ $rc -eq 130 ] || fail "exit status $rc after SIGINT, expected 130"
[ "$(leftover_ns)" = 0 ] || fail "namespaces left after SIGINT: $(ip netns list)"
[ -z "$(ours)" ] || fail "processes left after SIGINT: $(ours)"

echo "== SIGKILL mid-run: children die with it; namespaces stay until flowcorder clean"
"$FC" run "$SRC/experiments/tcp/delay-40ms.toml" --results "$tmp/r" --no-validate >"$tmp/kill.log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do grep -q "observers" "$tmp/kill.log" && break; sleep 0.1; done
sleep 1
kill -KILL $pid
wait $pid 2>/dev/null || true
sleep 1
[ -z "$(ours)" ] || fail "children outlived a killed run: $(ours)"
n=$(leftover_ns)
[ "$n" -gt 0 ] || fail "expected the killed run's namespaces to remain"
set +e
out=$("$FC" run "$SRC/experiments/tcp/clean.toml" --results "$tmp/r" 2>&1)
rc=$?
set -e
echo "$out"
[ $rc -eq 3 ] || fail "exit status $rc on leftovers, expected 3"
echo "$out" | grep -q "clean" || fail "the refusal does not say how to clean"
"$FC" clean
[ "$(leftover_ns)" = 0 ] || fail "flowcorder clean left namespaces: $(ip netns list)"
ls /tmp/fc-tb-* 2>/dev/null && fail "control sockets left in /tmp"
echo "PASS"
