#!/usr/bin/env bash
# Removes what a crashed Flowcorder run or test may have left behind: its
# processes (their BPF links die with them), its network namespaces (their
# veths, qdiscs and nftables rules die with them), the test and bench
# binaries too (make clean-leftovers, and before make test). The work is
# `flowcorder clean` (testbed/harness/leftovers.cpp); this only finds the
# binary and, without one yet, has nothing of ours to clean.
set -u
here=$(cd "$(dirname "$0")/.." && pwd)
fc="${FC:-$here/${BUILD:-build}/flowcorder}"
args=(--tests)
[ "${1:-}" = "--quiet" ] && args+=(-q)
if [ -x "$fc" ]; then
  "$fc" clean "${args[@]}" || true
else
  [ "${1:-}" = "--quiet" ] || echo "clean-leftovers: no $fc yet: nothing built, nothing to clean"
fi
left=$(bpftool prog show 2>/dev/null | grep -cE 'name fc_')
if [ "${left:-0}" -gt 0 ] && [ "${1:-}" != "--quiet" ]; then
  echo "clean-leftovers: warning: $left BPF programs named fc_* are still loaded (held by a live process?)"
fi
exit 0
