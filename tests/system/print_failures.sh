#!/usr/bin/env bash
# Prints what a failed run's verdicts were: the failing rows of
# validation.csv and the first failing comparisons of validation-details.csv
# (a CI log keeps only the end of the output, where these are needed).
# usage: print_failures.sh RUN_DIR
d=${1:?usage: $0 run-directory}
[ -f "$d/validation.csv" ] || { echo "(no $d/validation.csv)"; exit 0; }
echo "--- failing verdicts ($d/validation.csv)"
tail -n +2 "$d/validation.csv" | grep -v ',pass,' || true
if [ -f "$d/validation-details.csv" ]; then
  echo "--- first failing comparisons ($d/validation-details.csv: experiment,rep,protocol,host,workload,conn,role,agent_connection,kpi,source,exported,true,abs_error)"
  awk -F, 'NR > 1 && $14 == "0"' "$d/validation-details.csv" | cut -d, -f1-13 | head -20
fi
