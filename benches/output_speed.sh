#!/usr/bin/env bash
# The machine-format writers, before and after a change: the same commands with two
# binaries, interleaved (before, after, before, after), wall seconds and peak RSS of each
# run, and `cmp` of the two outputs (a difference fails the script). The commands are the
# ones whose output is big: per-customer tables of the 1M-customer set and `report`.
#
#   BEFORE=/path/old/retention AFTER=target/release/retention \
#     DATA=/path/1000000-from-2020-07-01 SUMMARY=/path/summary_1000000.csv \
#     bash benches/output_speed.sh
set -euo pipefail
: "${BEFORE:?the binary before}" "${AFTER:?the binary after}" "${DATA:?the directory of transactions.csv and customers.csv}"
OUT=${OUT_DIR:-$(mktemp -d)}
ROUNDS=${ROUNDS:-2}
tx=$DATA/transactions.csv
cases=(
  "ltv_per_customer|ltv -t $tx --model bgnbd --per-customer -f csv"
  "segment_per_customer|segment -t $tx --per-customer -f csv"
)
if [ -n "${SUMMARY:-}" ]; then
  cases+=("ltv_summary_per_customer|ltv --summary $SUMMARY --model bgnbd --per-customer -f csv")
fi
echo "Load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| command | round | before s | after s | before peak MiB | after peak MiB | same bytes |"
echo "|---|---:|---:|---:|---:|---:|---|"
timed() {  # binary, name, args... -> "seconds kib"
  local bin=$1 name=$2
  shift 2
  /usr/bin/time -f "%e %M" -o "$OUT/$name.time" "$bin" "$@" -o "$OUT/$name.csv" --quiet 2>/dev/null
  cat "$OUT/$name.time"
}
for r in $(seq 1 "$ROUNDS"); do
  for c in "${cases[@]}"; do
    name=${c%%|*}
    # shellcheck disable=SC2086
    read -r bs bk < <(timed "$BEFORE" "$name.before" ${c#*|})
    # shellcheck disable=SC2086
    read -r as ak < <(timed "$AFTER" "$name.after" ${c#*|})
    same=yes
    cmp -s "$OUT/$name.before.csv" "$OUT/$name.after.csv" || same=NO
    printf '| %s | %d | %.2f | %.2f | %.0f | %.0f | %s |\n' "$name" "$r" "$bs" "$as" \
      "$(echo "$bk / 1024" | bc -l)" "$(echo "$ak / 1024" | bc -l)" "$same"
    [ "$same" = yes ] || { echo "outputs differ: $OUT/$name.before.csv $OUT/$name.after.csv" >&2; exit 1; }
  done
  # report: every CSV of the two directories compared
  for side in before after; do
    bin=$BEFORE
    [ $side = after ] && bin=$AFTER
    rm -rf "$OUT/report.$side"
    /usr/bin/time -f "%e %M" -o "$OUT/report.$side.time" "$bin" report -t "$tx" \
      -c "$DATA/customers.csv" --out "$OUT/report.$side" --quiet 2>/dev/null
  done
  read -r bs bk < "$OUT/report.before.time"
  read -r as ak < "$OUT/report.after.time"
  same=yes
  for f in "$OUT"/report.before/*.csv; do
    cmp -s "$f" "$OUT/report.after/$(basename "$f")" || same=NO
  done
  printf '| report (with customers) | %d | %.2f | %.2f | %.0f | %.0f | %s |\n' "$r" "$bs" "$as" \
    "$(echo "$bk / 1024" | bc -l)" "$(echo "$ak / 1024" | bc -l)" "$same"
  [ "$same" = yes ] || { echo "report CSVs differ" >&2; exit 1; }
done
echo
echo "Load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
