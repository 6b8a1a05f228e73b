#!/usr/bin/env bash
# The overhead evaluation (issue #6), every part in order, then the summary.
#   experiments/overhead/run.sh OUTDIR [--quick]
# Quick: about a minute per part, noisy (a smoke test). Full: about 16 min for the CPU
# and HTTP part, plus the micro-benchmark and kernel/memory/export parts.
# Needs root and a built build/flowcorder. Every part cleans up after itself.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
if [[ $# -lt 1 || "$1" == -* ]]; then
    echo "usage: $0 OUTDIR [--quick]" >&2
    exit 2
fi
out="$1"
quick=()
[[ "${2:-}" == "--quick" ]] && quick=(--quick)
mkdir -p "$out"
py=/usr/bin/python3
failed=()
step() { echo "== overhead: $* ($(date +%H:%M:%S))"; }
# Each part cleans up on Ctrl-C itself; stop here rather than go on to the next.
trap 'echo "== overhead: interrupted" >&2; exit 130' INT TERM

if [[ -x "$here/micro.sh" || -f "$here/micro.sh" ]]; then
    step "micro-benchmarks (micro.sh)"
    bash "$here/micro.sh" "$out" "${quick[@]}" || failed+=(micro)
else
    step "micro.sh absent: skipped"
fi
if [[ -f "$here/kernel_memory_export.py" ]]; then
    step "kernel cost, memory, export volume (kernel_memory_export.py)"
    "$py" "$here/kernel_memory_export.py" --out "$out/kernel_memory_export.json" "${quick[@]}" ||
        failed+=(kernel_memory_export)
else
    step "kernel_memory_export.py absent: skipped"
fi
step "CPU per byte and HTTP completion time (cpu_http.py)"
"$py" "$here/cpu_http.py" --out "$out/cpu_http.json" "${quick[@]}" || failed+=(cpu_http)
step "summary and report (summarise.py)"
"$py" "$here/summarise.py" "$out" || failed+=(summarise)
step "done: $out/summary.json, $out/report.md, $out/report.html"
if [[ ${#failed[@]} -gt 0 ]]; then
    echo "== overhead: parts that failed: ${failed[*]}" >&2
    exit 1
fi
