#!/usr/bin/env bash
# Benchmark of every `retention` report against the same report written by hand in DuckDB
# SQL (benches/sql/*.sql) and, for the BG/NBD + Gamma-Gamma model, Python lifetimes
# (benches/lifetimes_fit.py) - issue #6. A script, not a timed test. From a clean clone:
#
#   bash benches/bench.sh                      # 100k and 1M customers, CSV and Parquet, 3 runs
#   SIZES="100000" RUNS=5 bash benches/bench.sh
#
# Environment (all optional):
#   SIZES      customer counts to generate (default "100000 1000000"; ~8.3 transaction rows each)
#   GEN_START  first signup day of the generated data (default 2020-07-01: 4.5 years, ~8.3 rows
#              per customer, as issue #6 asks; the generator's own default 2023-01-01 gives ~5.4)
#   FORMATS    "csv parquet" (default both)
#   RUNS       timed runs per command; the table shows the median (default 3)
#   REPORTS    subset of: cohort cohort_plain churn segment segment_plain summary wallet ltv
#              ltv_bgnbd (default all; *_plain: the same report against the plainest SQL for
#              the answer, sql/*_plain.sql, beside the heavier general one)
#   LIFETIMES  1 = also time Python lifetimes on the same summary (default 1; slow at 1M)
#   BENCH_DIR  data, venv and raw outputs (default /tmp/retention-bench)
#   OUT        the markdown table (default benches/RESULTS.md)
#   CARGO_TARGET_DIR  where the release build goes (default: cargo's, ./target)
#   BUILD=0, RETENTION_BIN=PATH  skip the build / time another binary (development only)
#
# What it does: creates a Python venv in $BENCH_DIR/venv with pinned duckdb and lifetimes
# (tests/reference/requirements.txt), builds the release binary and the generator, generates
# each data set with examples/generate.rs (seed 7) and converts it to Parquet with DuckDB's
# COPY, then times each command as a whole process (wall seconds, peak RSS from
# /usr/bin/time), checks with benches/compare.py that retention's CSV and DuckDB's agree,
# and writes $OUT: median seconds, ratio to DuckDB, peak RSS, agreement, with the machine
# and versions. The I/O floor (cat FILE > /dev/null) and start-up on a tiny file are measured too.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
SIZES=${SIZES:-"100000 1000000"}
FORMATS=${FORMATS:-"csv parquet"}
RUNS=${RUNS:-3}
REPORTS=${REPORTS:-"cohort cohort_plain churn segment segment_plain summary wallet ltv ltv_bgnbd"}
LIFETIMES=${LIFETIMES:-1}
GEN_START=${GEN_START:-2020-07-01}
BENCH_DIR=${BENCH_DIR:-/tmp/retention-bench}
OUT=${OUT:-$repo/benches/RESULTS.md}
target_dir=${CARGO_TARGET_DIR:-$PWD/target}   # cargo's own default unless set
DUCKDB_VERSION=2.0.0
mkdir -p "$BENCH_DIR"
log() { echo "bench: $*" >&2; }

# --- tools ------------------------------------------------------------------------------
if [ ! -x /usr/bin/time ]; then
  log "installing GNU time (peak RSS)"
  apt-get install -y time >/dev/null || { apt-get update >/dev/null && apt-get install -y time >/dev/null; }
fi
venv=$BENCH_DIR/venv
py=$venv/bin/python
if ! "$py" -c "import duckdb, lifetimes; assert duckdb.__version__ == '$DUCKDB_VERSION'" 2>/dev/null; then
  log "creating $venv (duckdb $DUCKDB_VERSION, lifetimes)"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --upgrade pip
  "$venv/bin/pip" install -q "duckdb==$DUCKDB_VERSION" -r tests/reference/requirements.txt
fi
BUILD=${BUILD:-1}
if [ "$BUILD" = 1 ]; then
  log "building the release binary and the generator in $target_dir"
  cargo build --release --bin retention --example generate >&2
fi
bin=${RETENTION_BIN:-$target_dir/release/retention}
gen=$target_dir/release/examples/generate

# --- helpers ----------------------------------------------------------------------------
median() { sort -g | awk '{a[NR]=$1} END {if (NR) print a[int((NR+1)/2)]}'; }
# timed OUTFILE CMD...: one run, stdout to OUTFILE; prints "seconds peak_rss_kb"
timed() {
  local out=$1; shift
  local tf t0 t1 rc=0
  tf=$(mktemp)
  t0=$(date +%s%N)
  /usr/bin/time -f "%M" -o "$tf" "$@" >"$out" 2>"$out.err" || rc=$?
  t1=$(date +%s%N)
  if [ $rc -ne 0 ]; then
    log "FAILED ($rc): $*"; sed 's/^/  /' "$out.err" | tail -5 >&2
    rm -f "$tf"; echo "fail 0"; return
  fi
  echo "$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f", (b - a) / 1e9}') $(tail -1 "$tf")"
  rm -f "$tf"
}
# bench OUTFILE CMD...: RUNS runs; prints "median_seconds max_peak_rss_mib"
bench() {
  local out=$1; shift
  local ts=() rss=0 t m
  for _ in $(seq "$RUNS"); do
    read -r t m < <(timed "$out" "$@")
    if [ "$t" = fail ]; then echo "fail 0"; return; fi
    ts+=("$t"); [ "$m" -gt "$rss" ] && rss=$m
  done
  echo "$(printf '%s\n' "${ts[@]}" | median) $((rss / 1024))"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "fail" || b == "fail" || b == 0) print "-"; else printf "%.2f", a / b }'; }
retention_args() { # the retention command line of a report
  case $1 in
    cohort | cohort_plain) echo "cohort --period month" ;;
    churn) echo "churn --period month" ;;
    segment | segment_plain) echo "segment" ;;
    summary) echo "summary" ;;
    wallet) echo "wallet" ;;
    ltv) echo "ltv --period month" ;;
    ltv_bgnbd) echo "ltv --model bgnbd" ;;
  esac
}

rows=()      # markdown rows of the main table
extra=()     # notes
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
fail=0

for n in $SIZES; do
  dir=$BENCH_DIR/$n-from-$GEN_START
  if [ ! -s "$dir/transactions.csv" ]; then
    log "generating $n customers into $dir"
    "$gen" --customers "$n" --out "$dir" --seed 7 --start "$GEN_START"
  fi
  csv=$dir/transactions.csv
  if [ ! -s "$dir/transactions.parquet" ] || [ "$csv" -nt "$dir/transactions.parquet" ]; then
    log "converting to Parquet with DuckDB"
    "$py" -c "import duckdb, sys; duckdb.sql(f\"COPY (SELECT * FROM read_csv_auto('{sys.argv[1]}')) TO '{sys.argv[2]}' (FORMAT parquet)\")" "$csv" "$dir/transactions.parquet"
  fi
  txrows=$(($(wc -l <"$csv") - 1))
  csv_mib=$(du -mL "$csv" | cut -f1)
  pq_mib=$(du -mL "$dir/transactions.parquet" | cut -f1)
  extra+=("- $n customers: $txrows transaction rows; CSV $csv_mib MiB, Parquet $pq_mib MiB.")
  res=$dir/out; mkdir -p "$res"
  for fmt in $FORMATS; do
    f=$dir/transactions.$fmt
    read -r tc mc < <(bench /dev/null cat "$f")
    rows+=("| I/O floor: \`cat\` | $n $fmt | $tc | | | | $mc | | |")
    for r in $REPORTS; do
      log "$n $fmt $r"
      # shellcheck disable=SC2046
      read -r tr mr < <(bench "$res/$r.$fmt.retention.csv" "$bin" $(retention_args "$r") -t "$f" -f csv)
      read -r td md < <(bench "$res/$r.$fmt.duckdb.stdout" "$py" benches/run_sql.py "benches/sql/$r.sql" "$f" "$res/$r.$fmt.duckdb.csv")
      ref=$res/$r.$fmt.duckdb.csv   # for ltv_bgnbd: the per-customer summary (counts checked)
      agree="**NO**"
      if [ "$tr" != fail ] && [ "$td" != fail ] &&
        "$py" benches/compare.py "${r%_plain}" "$res/$r.$fmt.retention.csv" "$ref" >"$res/$r.$fmt.compare.txt" 2>&1; then
        agree="yes"
      else
        fail=1; log "MISMATCH $n $fmt $r: see $res/$r.$fmt.compare.txt"; head -5 "$res/$r.$fmt.compare.txt" >&2 || true
      fi
      tq=$(awk '/duckdb query/ {print $3}' "$res/$r.$fmt.duckdb.stdout.err" 2>/dev/null || true)
      rows+=("| \`retention $(retention_args "$r")\` vs \`sql/$r.sql\` | $n $fmt | $tr | $td | $(ratio "$tr" "$td") | ${tq:--} | $mr | $md | $agree |")
      if [ "$r" = ltv_bgnbd ] && [ "$LIFETIMES" = 1 ] && [ "$td" != fail ] && [ "$fmt" = "${FORMATS%% *}" ]; then
        # The model: Python lifetimes fitted and scored on DuckDB's summary (one run).
        log "$n lifetimes fit + score on the DuckDB summary (one run)"
        lt=$res/$r.lifetimes.csv
        read -r tl ml < <(timed "$lt.stdout" "$py" benches/lifetimes_fit.py "$ref" "$lt")
        fit=$("$py" -c "import json,sys; print('%.2f' % json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])['fit_and_score'])" "$lt.stdout.err" 2>/dev/null || echo "?")
        lagree="**NO**"
        if [ "$tl" != fail ] && "$py" benches/compare.py ltv_bgnbd "$res/$r.$fmt.retention.csv" "$lt" >"$res/$r.lifetimes.compare.txt" 2>&1; then
          lagree="yes"
        else
          fail=1; log "MISMATCH $n lifetimes: see $res/$r.lifetimes.compare.txt"; head -5 "$res/$r.lifetimes.compare.txt" >&2 || true
        fi
        tdl=$(awk -v a="$td" -v b="$tl" 'BEGIN {print a + b}')
        rows+=("| \`retention ltv --model bgnbd\` vs DuckDB summary + lifetimes fit & score (1 run) | $n $fmt | $tr | $tdl | $(ratio "$tr" "$tdl") | | $mr | $((ml / 1024)) | $lagree |")
        # The same fit and scoring in retention alone (src/models, the #[ignore] test
        # models::tests::bench_from_csv), on the same summary: the "100x lifetimes" target.
        cut -d, -f2-5 "$ref" >"$res/summary_xtm.csv"
        ours="?"
        if [ "$BUILD" = 1 ] && RETENTION_BENCH_SUMMARY="$res/summary_xtm.csv" cargo test -q --release --lib \
          models::tests::bench_from_csv -- --ignored --nocapture >"$res/model_fit.txt" 2>&1; then
          ours=$(grep -o 'total=[0-9.]*' "$res/model_fit.txt" | cut -d= -f2)
        fi
        extra+=("- $n customers: BG/NBD + Gamma-Gamma fit and scoring (12-month CLV) on the same summary, in-process: lifetimes $fit s, retention (src/models) $ours s ($(grep -o 'bgnbd_fit.*' "$res/model_fit.txt" 2>/dev/null || echo 'not run')): lifetimes / retention = $(ratio "$fit" "$ours") (target ≥ 100). The whole \`retention ltv --model bgnbd\` process (load, summary, fit, scoring): $tr s.")
      fi
    done
  done
done

# Start-up: a tiny file, 50 runs.
ts=()
for _ in $(seq 50); do
  t0=$(date +%s%N); "$bin" cohort -t testdata/transactions.csv -f csv >/dev/null; t1=$(date +%s%N)
  ts+=("$(((t1 - t0) / 1000))")
done
startup_ms=$(printf '%s\n' "${ts[@]}" | median | awk '{printf "%.1f", $1 / 1000}')
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

{
  echo "# Benchmark results"
  echo
  echo "Written by \`benches/bench.sh\` on $(date -u '+%Y-%m-%d %H:%M UTC') (SIZES=\"$SIZES\" FORMATS=\"$FORMATS\" RUNS=$RUNS)."
  echo
  echo "- Machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo) RAM; $(uname -sr)."
  echo "- Load average (1/5/15 min) before: $load_before; after: $load_after (the machine is shared; numbers taken under load are slower)."
  echo "- Versions: retention $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src Cargo.toml || echo '+changes') ($($bin --version 2>/dev/null | head -1)), $(rustc --version), DuckDB $("$py" -c 'import duckdb; print(duckdb.__version__)'), Python $("$py" -c 'import sys; print(sys.version.split()[0])'), lifetimes $("$py" -c 'import lifetimes; print(lifetimes.__version__)' 2>/dev/null || echo -)."
  printf '%s\n' "${extra[@]}"
  echo "- Start-up: \`retention cohort -t testdata/transactions.csv\`, median of 50 runs: $startup_ms ms."
  echo
  echo "Median wall seconds of $RUNS whole-process runs (DuckDB: \`python benches/run_sql.py\`, Python and DuckDB start-up included); ratio = retention / DuckDB (the target is ≤ 0.5); DuckDB query s = the same query timed inside Python (last run; what a DuckDB process without Python's start-up would approach); peak RSS = the largest of the runs; agree = \`benches/compare.py\` found the same numbers."
  echo
  echo "| report | input | retention s | DuckDB s | ratio | DuckDB query s | retention peak MiB | DuckDB peak MiB | agree |"
  echo "|---|---|---:|---:|---:|---:|---:|---:|---|"
  printf '%s\n' "${rows[@]}"
} >"$OUT"
cat "$OUT"
if [ $fail -ne 0 ]; then
  log "SOME OUTPUTS DISAGREE (agree = NO): the comparison of those rows is void"
  exit 1
fi
