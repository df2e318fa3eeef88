#!/usr/bin/env bash
# `train --transactions` on an order log COPIES times Online Retail (default 100: about
# 54M lines, 4.9 GB), written once by scripts/make_order_log.py (fixed seed; each copy
# with its own customers, invoices, times, quantities and item variants). For each
# binary: wall time, lines/s of reading the log (from the step lines) and peak RSS
# (/usr/bin/time -v). A run whose RSS passes LIMIT_GB (default 12) is stopped and said so.
# Models are fitted on SAMPLE customers (default 20000, `--sample`; 0 = all) so the figures
# are about the log: reading and aggregating every line happens either way.
# usage: [COPIES=100] [LOG=path] [SAMPLE=20000] [LIMIT_GB=12] benches/train_log_scale.sh [BINARY...]
# (default binary: target/release/custscore, built here)
set -euo pipefail
REPO="$(cd "$(dirname "$0")/.." && pwd)"
cd "$REPO"
COPIES="${COPIES:-100}"
LOG="${LOG:-target/order_log_x${COPIES}.csv}"
SAMPLE="${SAMPLE:-20000}"
LIMIT_KB=$(( ${LIMIT_GB:-12} * 1024 * 1024 ))
BINARIES=("$@")
if [ ${#BINARIES[@]} -eq 0 ]; then
    cargo build --release --quiet --bin custscore
    BINARIES=(target/release/custscore)
fi
[ -f "$LOG" ] || python3 scripts/make_order_log.py --copies "$COPIES" \
    training-data/online_retail.csv.gz "$LOG"
lines=$(( $(wc -l < "$LOG") - 1 ))
echo "log: $LOG, $lines lines, $(( $(stat -c %s "$LOG") / 1000000 )) MB; cores: $(nproc); RAYON_NUM_THREADS=${RAYON_NUM_THREADS:-all}"
sample=(); [ "$SAMPLE" != 0 ] && sample=(--sample "$SAMPLE")
for binary in "${BINARIES[@]}"; do
    work="$(mktemp -d)"
    /usr/bin/time -v "$binary" train --transactions "$LOG" \
        --customer-col CustomerID --order-col InvoiceNo --item-col StockCode \
        --time-col InvoiceDate --price-col UnitPrice --quantity-col Quantity \
        --exclude-items POST,D,M,"BANK CHARGES",DOT,AMAZONFEE "${sample[@]}" \
        --models "$work/models" > "$work/out" 2> "$work/err" &
    timer=$!
    stopped=""
    while kill -0 "$timer" 2> /dev/null; do
        train=$(pgrep -P "$timer" || true)
        rss=$( [ -n "$train" ] && awk '/VmRSS/ {print $2}' "/proc/$train/status" 2> /dev/null || echo 0)
        if [ "${rss:-0}" -gt "$LIMIT_KB" ]; then
            stopped="stopped at $(( rss / 1024 )) MB RSS after $(grep -c . "$work/err") step lines"
            kill "$train"
        fi
        sleep 1
    done
    wait "$timer" || true
    echo "== $binary"
    # Step lines: `[  12.3s] ...`. From the log to the customer table: from the first
    # step about the log to the first step after it (the same span for every binary,
    # whatever steps it prints in between).
    grep '^\[' "$work/err" || true
    awk -v lines="$lines" '
        /^\[/ { t = substr($0, 2, index($0, "s]") - 2) + 0 }
        /^\[/ && /finding the last event|reading transactions|aggregating customers/ { if (start == "") start = t; next }
        /^\[/ && start != "" && !done { printf "log to customer table: %.1f s, %.0f lines/s\n", t - start, lines / (t - start); done = 1 }
    ' "$work/err"
    grep -E 'User time|System time|Elapsed \(wall|Maximum resident' "$work/err"
    [ -n "$stopped" ] && echo "$stopped"
    rm -rf "$work"
done
