#!/usr/bin/env bash
# The purchase models against lifetimes 0.11.3's own fitters on one simulated summary
# (benches/lifetimes_speed.py: a BG/NBD population of N customers in days), end to end:
# `retention ltv --summary FILE --model M` as a whole process (read the CSV, fit, score
# every customer: p_alive, expected purchases and, with Gamma-Gamma, CLV; the aggregate
# row out) against lifetimes' fit + p_alive + 30-day expectation, no I/O
# (benches/models_speed.py). One run each; a benchmark, not a test.
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
[ -f "$summary" ] || "$PY" benches/lifetimes_speed.py "$N" "$DIR" >/dev/null
"$PY" benches/models_speed.py "$summary" > "$DIR/lifetimes_models.json"
echo "| model | retention s | lifetimes s | ratio |"
echo "|---|---:|---:|---:|"
for m in bgnbd mbgnbd pnbd; do
  t0=$(date +%s.%N)
  "$BIN" ltv --summary "$summary" --model "$m" -o "$DIR/out_$m.csv" --quiet 2>"$DIR/out_$m.err"
  t1=$(date +%s.%N)
  ours=$(echo "$t1 - $t0" | bc -l)
  theirs=$("$PY" -c "import json;print(json.load(open('$DIR/lifetimes_models.json'))['$m']['total'])")
  printf '| %s | %.2f | %.2f | %.0f× |\n' "$m" "$ours" "$theirs" "$(echo "$theirs / $ours" | bc -l)"
done
