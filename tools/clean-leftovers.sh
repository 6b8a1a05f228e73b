#!/usr/bin/env bash
# Removes what a crashed Flowcorder run or test may have left behind:
# its processes (their BPF links die with them), its network namespaces
# (their veths, qdiscs and nftables rules die with them). Only names with
# Flowcorder's prefixes are touched.
set -u
quiet=0
[ "${1:-}" = "--quiet" ] && quiet=1
say() { [ $quiet -eq 1 ] || echo "clean-leftovers: $*"; }

for pid in $(pgrep -f '(^|/)flowcorder (agent|collect|run|link|capture|workload)' 2>/dev/null); do
  [ "$pid" = "$$" ] && continue
  say "killing flowcorder process $pid"
  kill "$pid" 2>/dev/null
done
sleep 0.2
for pid in $(pgrep -f '(^|/)flowcorder (agent|collect|run|link|capture|workload)' 2>/dev/null); do kill -9 "$pid" 2>/dev/null; done
for pid in $(pgrep -f 'fc_integration_tests' 2>/dev/null); do kill -9 "$pid" 2>/dev/null; done
# The impairment engine's tests and benchmark (and the iperf3 they start).
# A `flowcorder link` keeps its link namespace unnamed: when the process dies,
# the kernel deletes that namespace and with it both veth pairs, so killing
# it is all the cleaning it needs.
for pid in $(pgrep -f '(fc_impair_integration_tests|fc_impair_bench|fc_capture_integration_tests|fc_workload_integration_tests|fc_harness_integration_tests|fc_harness_dns_integration_tests)' 2>/dev/null); do
  say "killing impairment test/bench process $pid"
  kill -9 "$pid" 2>/dev/null
done
rm -f /tmp/fc-bench-ctl.sock /tmp/fc-it-ctl.sock 2>/dev/null

# `ip -n fc-tb-... mptcp monitor` of an MPTCP experiment (the harness's path-manager truth).
for pid in $(pgrep -f '^ip -n fc-[^ ]+ mptcp monitor$' 2>/dev/null); do
  say "killing ip mptcp monitor $pid"
  kill -9 "$pid" 2>/dev/null
done
for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E '^fc-'); do
  say "deleting network namespace $ns"
  for p in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
  ip netns del "$ns" 2>/dev/null
done
rm -rf /etc/netns/fc-* 2>/dev/null

left=$(bpftool prog show 2>/dev/null | grep -cE 'name fc_')
if [ "${left:-0}" -gt 0 ]; then
  say "warning: $left BPF programs named fc_* are still loaded (held by a live process?)"
fi
exit 0
