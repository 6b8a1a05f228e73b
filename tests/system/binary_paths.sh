#!/usr/bin/env bash
# No shipped binary names the tree it was built in; a copy run outside any
# tree, with no data files to find, says so and starts nothing. (Where it
# looks is common/tests/test_data_dir.cpp's business.)
set -euo pipefail
FC=${1:?usage: $0 path/to/flowcorder}
SRC=$(cd "$(dirname "$0")/../.." && pwd)
fail() { echo "FAIL: $*"; exit 1; }

hits=$(strings -a "$FC" | grep -cF "$SRC/" || true)
[ "$hits" = 0 ] || { strings -a "$FC" | grep -F "$SRC/" | sort | uniq -c | head; fail "$FC names $SRC/ $hits times"; }

tmp=$(mktemp -d /tmp/fc_paths.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/bin" "$tmp/elsewhere"
cp "$FC" "$tmp/bin/flowcorder"
cd "$tmp/elsewhere"
# No experiments anywhere: the run says where it looked, creates nothing.
set +e
out=$("$tmp/bin/flowcorder" run --no-validate 2>&1); rc=$?
set -e
[ "$rc" = 2 ] || fail "run without data files exited $rc: $out"
grep -q "no experiment files" <<<"$out" || fail "unclear message: $out"
[ -z "$(ip netns list | grep '^fc-tb-' || true)" ] || fail "namespaces were created"
echo "PASS"
