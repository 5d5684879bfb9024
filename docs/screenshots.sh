#!/usr/bin/env bash
# The report's index.html in headless Chromium at a desktop and a phone width, as the
# README shows them: docs/report-desktop.png, docs/report-phone.png.
#   apt-get install -y chromium fonts-noto-core   # Debian; then:
#   cargo build --release && bash docs/screenshots.sh
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${RETENTION_BIN:-target/release/retention}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
SOURCE_DATE_EPOCH=1735689600 "$BIN" report -t examples/shop/transactions.csv \
  -c examples/shop/customers.csv --out "$out/report" --quiet
shot() { # width height file
  chromium --headless --no-sandbox --disable-gpu --hide-scrollbars \
    --window-size="$1,$2" --screenshot="$3" "file://$out/report/index.html" 2>/dev/null
}
shot 1366 1300 docs/report-desktop.png
shot 390 1400 docs/report-phone.png
echo "docs/report-desktop.png docs/report-phone.png"
