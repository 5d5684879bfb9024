#!/usr/bin/env bash
# End-to-end benchmark of `retention cohort` on a generated data set (not a timed test).
#   bash benches/cohort.sh [CUSTOMERS] [RUNS]
# Builds the release binary, generates CUSTOMERS customers (default 1,000,000) into
# $BENCH_DIR (default /tmp/retention-bench), and prints the median wall time and peak RSS
# of RUNS runs (default 3) beside the I/O floor (cat file > /dev/null).
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-1000000}
runs=${2:-3}
dir=${BENCH_DIR:-/tmp/retention-bench}/$n
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/retention-target}"
cargo build --release --bin retention --example generate
bin="$CARGO_TARGET_DIR/release/retention"
if [ ! -f "$dir/transactions.csv" ]; then
  "$CARGO_TARGET_DIR/release/examples/generate" --customers "$n" --out "$dir" --seed 7
fi
tx="$dir/transactions.csv"
echo "data: $(wc -l < "$tx") transaction rows, $(du -h "$tx" | cut -f1)"

measure() { # prints "seconds max_rss_kb" for one run of "$@"
  /usr/bin/time -f "%e %M" "$@" 2>&1 >/dev/null | tail -1
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

bench() {
  local name=$1; shift
  local times=() rss=0
  for _ in $(seq "$runs"); do
    read -r t m < <(measure "$@")
    times+=("$t"); [ "$m" -gt "$rss" ] && rss=$m
  done
  printf '| %s | %s | %d |\n' "$name" "$(printf '%s\n' "${times[@]}" | median)" "$((rss / 1024))"
}

echo "| run | median s | peak RSS MiB |"
echo "|---|---:|---:|"
bench "cat (I/O floor)" cat "$tx"
bench "cohort --period month" "$bin" cohort -t "$tx" -f csv
bench "cohort --period week --mode rolling" "$bin" cohort -t "$tx" -f csv --period week --mode rolling
bench "cohort --by signup --group channel" "$bin" cohort -t "$tx" -c "$dir/customers.csv" --by signup --group channel -f csv
