#!/usr/bin/env bash
# `retention report` before and after a change: the same command with two binaries,
# interleaved (before, after, before, after), wall seconds and peak RSS of each run, the
# per-step seconds and peak memory that `--verbose` prints, and the two directories
# compared file by file (SOURCE_DATE_EPOCH fixed, so that equal data gives equal bytes; a
# difference fails the script).
#
#   BEFORE=/path/old/retention AFTER=target/release/retention \
#     DATA=/path/1000000-from-2020-07-01 bash benches/report_speed.sh
set -euo pipefail
: "${BEFORE:?the binary before}" "${AFTER:?the binary after}" "${DATA:?the directory of transactions.csv and customers.csv}"
OUT=${OUT_DIR:-$(mktemp -d)}
mkdir -p "$OUT"
ROUNDS=${ROUNDS:-2}
export SOURCE_DATE_EPOCH=1700000000
echo "Load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| round | before s | after s | before peak MiB | after peak MiB | same files |"
echo "|---:|---:|---:|---:|---:|---|"
for r in $(seq 1 "$ROUNDS"); do
  for side in before after; do
    bin=$BEFORE
    [ $side = after ] && bin=$AFTER
    rm -rf "$OUT/report.$side"
    /usr/bin/time -f "%e %M" -o "$OUT/$side.time" "$bin" report -t "$DATA/transactions.csv" \
      -c "$DATA/customers.csv" --out "$OUT/report.$side" --quiet --verbose 2> "$OUT/$side.$r.log"
  done
  read -r bs bk < "$OUT/before.time"
  read -r as ak < "$OUT/after.time"
  same=yes
  diff -rq "$OUT/report.before" "$OUT/report.after" > "$OUT/diff.txt" || same=NO
  printf '| %d | %.2f | %.2f | %.0f | %.0f | %s |\n' "$r" "$bs" "$as" \
    "$(echo "$bk / 1024" | bc -l)" "$(echo "$ak / 1024" | bc -l)" "$same"
  [ "$same" = yes ] || { echo "the reports differ:" >&2; cat "$OUT/diff.txt" >&2; exit 1; }
done
echo
echo "Load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "Steps of the last round (\`--verbose\`; a binary without per-step lines shows none):"
for side in before after; do
  echo
  echo "$side:"
  echo '```'
  grep -E " in [0-9.]+ s" "$OUT/$side.$ROUNDS.log" | sed 's/^retention report: //' || true
  echo '```'
done
