#!/usr/bin/env bash
# Two processes, same seed: cnf-scenario's outputs are identical byte for byte.
set -euo pipefail
scenario=$1
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
for n in 1 2; do
  "$scenario" --out="$dir/$n" --seed=3 --run=2 --utilisation=0.8 --duration=8 \
    --ns3::CnfScenario::QueueSize=50p >/dev/null
done
for f in records_a.csv records_b.csv packets.csv flows_truth.csv run.json; do
  [ -s "$dir/1/$f" ] || { echo "FAIL: $f empty"; exit 1; }
  cmp "$dir/1/$f" "$dir/2/$f" || { echo "FAIL: $f differs between runs"; exit 1; }
done
grep -q ',-1$' "$dir/1/packets.csv" || { echo "FAIL: expected drops in the ground truth"; exit 1; }
echo "PASS: $(wc -l <"$dir/1/packets.csv") packets, identical outputs"
