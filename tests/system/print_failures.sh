#!/usr/bin/env bash
# Prints what a failed run's verdicts were: the failing rows of
# validation.csv and the first failing comparisons of validation-details.csv
# (a CI log keeps only the end of the output, where these are needed). With
# KEEP_PARENT, the run directory (captures, logs, database) is moved there
# so that a failure that does not recur can still be looked into.
# usage: print_failures.sh RUN_DIR [KEEP_PARENT]
d=${1:?usage: $0 run-directory [keep-parent]}
keep() {
  [ -n "${1:-}" ] && [ -d "$d" ] || return 0
  local k
  k="$1/$(basename "$d")-$(date -u +%Y%m%dT%H%M%SZ)"
  mkdir -p "$1" && mv "$d" "$k" && echo "--- the failed run is kept in $k (remove it when done)"
}
trap 'keep "${2:-}"' EXIT
[ -f "$d/validation.csv" ] || { echo "(no $d/validation.csv)"; exit 0; }
echo "--- failing verdicts ($d/validation.csv)"
tail -n +2 "$d/validation.csv" | grep -v ',pass,' || true
if [ -f "$d/validation-details.csv" ]; then
  echo "--- first failing comparisons ($d/validation-details.csv: experiment,rep,protocol,host,workload,conn,role,agent_connection,kpi,source,exported,true,abs_error,within,note)"
  awk -F, 'NR > 1 && $14 == "0"' "$d/validation-details.csv" | head -20
fi
