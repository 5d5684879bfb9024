#!/usr/bin/env bash
# The purchase models against lifetimes 0.11.3's own fitters, the same work on both sides:
# `retention ltv --summary FILE --model M` as a whole process (read the CSV, fit, score
# every customer: p_alive and the expected purchases over 12 months; with the m column,
# Gamma-Gamma and everyone's 12-month CLV; the aggregate row out) against lifetimes doing
# the same steps in Python without the I/O (benches/models_speed.py). BG/NBD, MBG/NBD and
# Pareto/NBD on one simulated summary of N customers in days (benches/lifetimes_speed.py:
# a BG/NBD population, x,t_x,T,m); BG/BB on a simulated discrete-time summary of N
# customers with 6 to 52 opportunities (benches/bgbb_data.py, x,t_x,T). One run each; a
# benchmark, not a test.
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
[ -f "$summary" ] || "$PY" benches/lifetimes_speed.py "$N" "$DIR" >/dev/null
[ -f "$bgbb" ] || "$PY" benches/bgbb_data.py "$N" "$bgbb"
"$PY" benches/models_speed.py "$summary" "$bgbb" > "$DIR/lifetimes_models.json"
echo "Load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| model | input | retention s | lifetimes s | lifetimes / retention |"
echo "|---|---|---:|---:|---:|"
for m in bgnbd mbgnbd pnbd bgbb; do
  input=$summary
  [ "$m" = bgbb ] && input=$bgbb
  t0=$(date +%s.%N)
  "$BIN" ltv --summary "$input" --model "$m" -o "$DIR/out_$m.csv" --quiet 2>"$DIR/out_$m.err"
  t1=$(date +%s.%N)
  ours=$(echo "$t1 - $t0" | bc -l)
  theirs=$("$PY" -c "import json;print(json.load(open('$DIR/lifetimes_models.json'))['$m']['total'])")
  printf '| %s | %s | %.3f | %.2f | %.0f× |\n' "$m" "$(basename "$input")" "$ours" "$theirs" "$(echo "$theirs / $ours" | bc -l)"
done
echo
echo "Load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
