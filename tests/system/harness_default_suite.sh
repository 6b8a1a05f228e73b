#!/usr/bin/env bash
# The main job as `make run` runs it: the whole validation suite
# (experiments/{tcp,dns,mptcp}/*.toml) through `flowcorder run`. Every
# verdict must pass, every TCP experiment must appear with a complete set of
# profile chains, every DNS experiment with a profile for each lookup, every
# MPTCP experiment with a record for each connection; every KPI group of the
# TCP table, the DNS views and MPTCP must be covered, and the report must
# have its plots. This is the regression test of the agent against ground
# truth on this kernel.
set -euo pipefail
FC=${1:?usage: $0 path/to/flowcorder}
SRC=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d /tmp/fc_suite.XXXXXX)
trap '"$FC" clean -q; rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
cd "$SRC"
start=$(date +%s)
if ! "$FC" run --results "$tmp" --run-id suite >"$tmp/run.log" 2>&1; then
  tail -30 "$tmp/run.log"
  "$SRC/tests/system/print_failures.sh" "$tmp/suite" "$(dirname "$FC")/failed-runs"
  fail "flowcorder run failed"
fi
echo "suite ran in $(( $(date +%s) - start )) s"
v="$tmp/suite/validation.csv"
head -1 "$v" | grep -q '^experiment,protocol,kpi,truth_source,compared,within_tolerance,median_abs_error,p95_abs_error,verdict' \
  || fail "validation.csv header"
n_files=$(ls "$SRC"/experiments/tcp/*.toml "$SRC"/experiments/dns/*.toml "$SRC"/experiments/mptcp/*.toml | wc -l)
n_exp=$(tail -n +2 "$v" | cut -d, -f1 | grep -v '^\*$' | sort -u | wc -l)
[ "$n_exp" -eq "$n_files" ] || fail "$n_exp experiments validated, $n_files files in experiments/{tcp,dns,mptcp}"
for x in $(tail -n +2 "$v" | cut -d, -f1 | grep -v '^\*$' | sort -u); do
  case "$x" in
    dns-*) grep -q "^$x,dns,lookup_profile,workload,[1-9][0-9]*,.*,pass," "$v" || fail "$x: no passing lookup_profile row" ;;
    mptcp-*) grep -q "^$x,mptcp,mptcp_connection,workload,[1-9][0-9]*,.*,pass," "$v" || fail "$x: no passing mptcp_connection row" ;;
    *) grep -q "^$x,tcp,profile_chain,workload,[1-9][0-9]*,.*,pass," "$v" || fail "$x: no passing profile_chain row" ;;
  esac
done
for g in dns_resolver dns_wire dns_views_linked; do
  grep -q "^\*,dns,coverage:$g,any,[1-9][0-9]*,.*,pass," "$v" || fail "coverage:$g missing or failing"
done
for g in mptcp_data_level mptcp_subflows mptcp_fallback; do
  grep -q "^\*,mptcp,coverage:$g,any,[1-9][0-9]*,.*,pass," "$v" || fail "coverage:$g missing or failing"
done
for g in sent_received retransmitted lost rtt duplicates out_of_order stalls dsack_reordering close_cause; do
  grep -q "^\*,tcp,coverage:$g,any,[1-9][0-9]*,.*,pass," "$v" || fail "coverage:$g missing or failing"
done
grep -v ',pass,' "$v" | tail -n +2 | grep . && fail "a verdict is not pass"
grep -q '<img' "$tmp/suite/report.html" || fail "report.html has no plots"
[ -s "$tmp/suite/report.md" ] || fail "report.md missing"
[ -L "$tmp/latest" ] || fail "results/latest not a symlink"
ip netns list | grep -q '^fc-tb-' && fail "namespaces left behind"
echo "PASS: $(tail -n +2 "$v" | wc -l) validation rows, all pass"
