#!/usr/bin/env bash
# The purchase models against lifetimes 0.11.3's own fitters, the same work on both sides:
# `retention ltv --summary FILE --model M` as a whole process (read the CSV, fit, score
# every customer: p_alive and the expected purchases over 12 months; with the m column,
# Gamma-Gamma and everyone's 12-month CLV; the aggregate row out) against lifetimes doing
# the same steps in Python without the I/O (benches/models_speed.py). BG/NBD, MBG/NBD and
# Pareto/NBD on one simulated summary of N customers in days (benches/lifetimes_speed.py:
# a BG/NBD population, x,t_x,T,m); BG/BB on two simulated discrete-time summaries of N
# customers (benches/bgbb_data.py, x,t_x,T): 6 to 52 opportunities each, and 6 each (the
# donations data's shape). One run each; a benchmark, not a test. Both retention's whole
# process and its model steps alone (from a --verbose run: fit with standard errors,
# Gamma-Gamma, scoring; what lifetimes' side times) are shown against lifetimes:
# retention's as the median of RUNS runs (default 5; every model-steps figure is printed
# on stderr), lifetimes' from one run.
#
#   N=1000000 RETENTION_BIN=target/release/retention PY=/path/venv/bin/python bash benches/models_speed.sh
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-1000000}
DIR=${BENCH_DIR:-/tmp/retention-bench}
BIN=${RETENTION_BIN:-target/release/retention}
PY=${PY:-python3}
mkdir -p "$DIR"
summary=$DIR/summary_$N.csv
bgbb=$DIR/bgbb_$N.csv
bgbb6=$DIR/bgbb6_$N.csv
[ -f "$summary" ] || "$PY" benches/lifetimes_speed.py "$N" "$DIR" >/dev/null
[ -f "$bgbb" ] || "$PY" benches/bgbb_data.py "$N" "$bgbb"
[ -f "$bgbb6" ] || "$PY" benches/bgbb_data.py "$N" "$bgbb6" 11 6 6
# REUSE_LIFETIMES=1 keeps the lifetimes timings of an earlier run (to time retention again)
if [ -z "${REUSE_LIFETIMES:-}" ] || [ ! -s "$DIR/lifetimes_models.json" ]; then
  PYTHONWARNINGS=ignore "$PY" benches/models_speed.py "$summary" "$bgbb" "$bgbb6" > "$DIR/lifetimes_models.json"
fi
echo "Load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| model | input | retention s (process) | retention model steps s | lifetimes s | lifetimes / retention process | lifetimes / retention steps |"
echo "|---|---|---:|---:|---:|---:|---:|"
median() { sort -g | awk '{v[NR]=$1} END {print (NR%2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2)}'; }
run() {  # model, input, key in the JSON
  local t0 t1 ours steps theirs times="" steps_all="" i s
  # retention's runs take a fraction of a second, where a shared machine's noise is tens
  # of percent: the median of RUNS runs (default 5) of each (lifetimes: one run each)
  for i in $(seq "${RUNS:-5}"); do
    t0=$(date +%s.%N)
    "$BIN" ltv --summary "$2" --model "$1" -o "$DIR/out_$3.csv" --quiet 2>"$DIR/out_$3.err"
    t1=$(date +%s.%N)
    times+="$(echo "$t1 - $t0" | bc -l)"$'\n'
    # The same work as lifetimes' side (its fit includes its Hessian): a run with
    # --verbose, whose "model steps" line times fit, standard errors, Gamma-Gamma and
    # scoring in-process (no reading, no writing).
    s=$("$BIN" ltv --summary "$2" --model "$1" -o "$DIR/out_$3.verbose.csv" --verbose 2>&1 >/dev/null |
      sed -n 's/.*model steps:.*(total \([0-9.]*\) s).*/\1/p')
    [ -z "$s" ] || steps_all+="$s"$'\n'
  done
  ours=$(printf '%s' "$times" | median)
  # (a binary without the line: no steps figure)
  if [ -n "$steps_all" ]; then
    steps=$(printf '%.3f' "$(printf '%s' "$steps_all" | median)")
    echo "$1 $(basename "$2"): model steps of ${RUNS:-5} runs: $(printf '%s' "$steps_all" | sort -g | tr '\n' ' ')" >&2
  else
    steps="—"
  fi
  # lifetimes' total, or "failed SECONDS" when its fit raised
  theirs=$("$PY" -c "import json;r=json.load(open('$DIR/lifetimes_models.json'))['$3'];print(r['total'] if 'total' in r else 'failed %.1f' % r['fit'])")
  if [ "${theirs#failed }" != "$theirs" ]; then
    printf '| %s | %s | %.3f | %s | did not converge (%s s) | — | — |\n' "$1" "$(basename "$2")" "$ours" "$steps" "${theirs#failed }"
  else
    local by_steps="—"
    [ "$steps" = "—" ] || by_steps=$(printf '%.0f×' "$(echo "$theirs / $steps" | bc -l)")
    printf '| %s | %s | %.3f | %s | %.2f | %.0f× | %s |\n' "$1" "$(basename "$2")" "$ours" "$steps" "$theirs" \
      "$(echo "$theirs / $ours" | bc -l)" "$by_steps"
  fi
}
for m in bgnbd mbgnbd pnbd; do run "$m" "$summary" "$m"; done
run bgbb "$bgbb" "$(basename "$bgbb")"
run bgbb "$bgbb6" "$(basename "$bgbb6")"
echo
echo "Load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
