#!/usr/bin/env bash
# Does a report run on a file larger than the memory it may use? (issue #6, "scale past RAM")
#   bash benches/memlimit.sh [CUSTOMERS] [LIMIT_MIB] [REPORT...]
# Uses the data set of benches/bench.sh ($BENCH_DIR/CUSTOMERS, generated there; default
# 1000000 customers) and runs each REPORT (default: cohort) of the release binary under a
# memory limit of LIMIT_MIB (default: half the CSV size):
#   1. systemd-run --scope -p MemoryMax=LIMIT (an RSS limit; needs systemd as init),
#   2. prlimit --as=LIMIT (an address-space limit: counts every mapping, also a mapped
#      input file and thread stacks, so it is stricter than an RSS limit),
#   3. prlimit --as at 4x, 8x and 16x the CSV size, to show where it starts to work,
#   4. for comparison, DuckDB (benches/sql/REPORT.sql) with SET memory_limit = LIMIT and a
#      temp directory to spill to (not an OS limit: DuckDB's own buffer manager).
# Prints, for each, the exit code, wall seconds, peak RSS and the last line of stderr.
set -uo pipefail
cd "$(dirname "$0")/.."
n=${1:-1000000}
shift || true
limit_arg=${1:-}
shift || true
reports=("$@")
[ ${#reports[@]} -eq 0 ] && reports=(cohort)
BENCH_DIR=${BENCH_DIR:-/tmp/retention-bench}
target_dir=${CARGO_TARGET_DIR:-$PWD/target}   # cargo's own default unless set
bin=${RETENTION_BIN:-$target_dir/release/retention}
GEN_START=${GEN_START:-2020-07-01}
csv=$BENCH_DIR/$n-from-$GEN_START/transactions.csv
[ -s "$csv" ] || { echo "no $csv: run SIZES=$n bash benches/bench.sh first" >&2; exit 2; }
csv_mib=$(du -m "$csv" | cut -f1)
limit=${limit_arg:-$((csv_mib / 2))}
echo "file: $csv ($csv_mib MiB); limit $limit MiB"
echo
echo "| report | limit | how | exit | seconds | peak RSS MiB | stderr (last line) |"
echo "|---|---|---|---:|---:|---:|---|"
try() { # label limit_mib cmd...
  local label=$1 lim=$2; shift 2
  local tf t0 t1 rc
  tf=$(mktemp)
  t0=$(date +%s%N)
  /usr/bin/time -f "%M" -o "$tf.time" "$@" >/dev/null 2>"$tf"
  rc=$?
  t1=$(date +%s%N)
  local msg
  msg=$(grep -v '^Command exited\|^Command terminated' "$tf" | tail -1 | cut -c1-160 | tr '|' '/')
  printf '| %s | %s MiB | %s | %s | %s | %s | %s |\n' "$r" "$lim" "$label" "$rc" \
    "$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.2f", (b - a) / 1e9}')" \
    "$(($(tail -1 "$tf.time" 2>/dev/null | grep -E '^[0-9]+$' || echo 0) / 1024))" "${msg:-}"
  rm -f "$tf" "$tf.time"
}
for r in "${reports[@]}"; do
  try "no limit" - "$bin" "$r" -t "$csv" -f csv
  try "systemd-run MemoryMax" "$limit" systemd-run --scope -q -p MemoryMax="${limit}M" -p MemorySwapMax=0 \
    "$bin" "$r" -t "$csv" -f csv
  for lim in "$limit" $((csv_mib * 4)) $((csv_mib * 8)) $((csv_mib * 16)); do
    try "prlimit --as" "$lim" prlimit --as=$((lim * 1024 * 1024)) "$bin" "$r" -t "$csv" -f csv
  done
  if [ -x "$BENCH_DIR/venv/bin/python" ] && [ -f "benches/sql/$r.sql" ]; then
    DUCKDB_MEMORY_LIMIT="${limit}MB" try "DuckDB SET memory_limit (spills)" "$limit" \
      "$BENCH_DIR/venv/bin/python" benches/run_sql.py "benches/sql/$r.sql" "$csv" "${TMPDIR:-/tmp}/memlimit_$r.csv"
  fi
done
