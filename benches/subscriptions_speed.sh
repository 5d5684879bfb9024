#!/usr/bin/env bash
# Speed of `retention subscriptions` (monthly MRR movements) against the same computation
# written by hand in DuckDB SQL (benches/sql/subscriptions.sql) . A script, not a
# timed test:
#
#   bash benches/subscriptions_speed.sh                  # 1,000,000 subscribers x 36 months
#   SUBSCRIBERS=100000 RUNS=5 bash benches/subscriptions_speed.sh
#
# Environment (all optional): SUBSCRIBERS (default 1000000), RUNS (timed runs, median shown;
# default 3), BENCH_DIR (data, venv, outputs; default /tmp/retention-bench), RETENTION_BIN
# (default: build the release binary, then $CARGO_TARGET_DIR/release/retention).
#
# It generates the invoice lines with benches/subscriptions_data.py (DuckDB, seeded by hash,
# straight to Parquet), times each tool as a whole process (wall seconds and peak RSS from
# /usr/bin/time; DuckDB through benches/run_sql.py, which scans the file inside the query),
# checks with benches/subscriptions_compare.py that both give the same table, and prints a
# markdown table.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${SUBSCRIBERS:-1000000}
RUNS=${RUNS:-3}
BENCH_DIR=${BENCH_DIR:-/tmp/retention-bench}
DUCKDB_VERSION=2.0.0
mkdir -p "$BENCH_DIR"
log() { echo "bench: $*" >&2; }
if [ ! -x /usr/bin/time ]; then
  apt-get install -y time >/dev/null || { apt-get update >/dev/null && apt-get install -y time >/dev/null; }
fi
venv=$BENCH_DIR/venv
py=$venv/bin/python
if ! "$py" -c "import duckdb; assert duckdb.__version__ == '$DUCKDB_VERSION'" 2>/dev/null; then
  log "creating $venv (duckdb $DUCKDB_VERSION)"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q "duckdb==$DUCKDB_VERSION"
fi
if [ -z "${RETENTION_BIN:-}" ]; then
  cargo build --release --locked >&2
  RETENTION_BIN=${CARGO_TARGET_DIR:-$PWD/target}/release/retention
fi
data=$BENCH_DIR/subscriptions_$N.parquet
[ -f "$data" ] || "$py" benches/subscriptions_data.py "$N" "$data"
lines=$("$py" -c "import duckdb; print(duckdb.connect().execute(\"SELECT count(*) FROM read_parquet('$data')\").fetchone()[0])")

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
time_it() { # name, command...: RUNS runs; prints "median_seconds max_rss_mb"
  local name=$1; shift
  local t=$BENCH_DIR/time.$name
  : > "$t"
  for _ in $(seq "$RUNS"); do
    /usr/bin/time -f "%e %M" -o "$t.one" "$@" > /dev/null 2>"$BENCH_DIR/$name.stderr"
    cat "$t.one" >> "$t"
  done
  echo "$(cut -d' ' -f1 "$t" | median) $(cut -d' ' -f2 "$t" | sort -n | tail -1 | awk '{printf "%.0f", $1/1024}')"
}
log "timing retention ($RUNS runs)"
read -r r_s r_mb < <(time_it retention "$RETENTION_BIN" subscriptions -q -t "$data" -o "$BENCH_DIR/subs_retention.csv")
log "timing duckdb ($RUNS runs)"
read -r d_s d_mb < <(time_it duckdb "$py" benches/run_sql.py benches/sql/subscriptions.sql "$data" "$BENCH_DIR/subs_duckdb.csv")
agree=$("$py" benches/subscriptions_compare.py "$BENCH_DIR/subs_retention.csv" "$BENCH_DIR/subs_duckdb.csv")
ratio=$(awk -v a="$r_s" -v b="$d_s" 'BEGIN {printf "%.2f", a / b}')
cat <<TABLE
### subscriptions: $N subscribers, $lines invoice lines (Parquet), $(nproc) cores, median of $RUNS

| tool | seconds | peak RSS (MB) |
|---|---:|---:|
| retention subscriptions | $r_s | $r_mb |
| DuckDB $DUCKDB_VERSION, benches/sql/subscriptions.sql | $d_s | $d_mb |

retention / DuckDB = $ratio; $agree.
TABLE
