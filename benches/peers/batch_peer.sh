#!/usr/bin/env bash
# Batch scoring throughput and peak memory, custscore `score` vs pandas + scikit-learn
# (vectorised, whole file in memory), the same answers per row, on telco resampled with
# noise to 100k and 1M rows, in one run. Both are timed in-process from reading the
# input to writing the output (custscore's summary line; the peer's own timer); our
# whole-process wall time (start-up and bundle loading included) is shown beside it.
# Peak RSS from /usr/bin/time. The peer writes fewer columns than we do: no reasons,
# segment names, CLV, quadrant or model version.
# usage: benches/peers/batch_peer.sh [ROWS...]   (default: 100000 1000000)
set -euo pipefail
source "$(dirname "$0")/common.sh"
SIZES=("${@:-100000 1000000}")
read -r -a SIZES <<< "${SIZES[*]}"
peer_venv numpy pandas scikit-learn mlxtend
cd "$REPO"
cargo build --release --quiet
MODELS="$OUT/batch_models"
rm -rf "$MODELS"
target/release/custscore train --models "$MODELS" >/dev/null 2>&1

rss_mb() { awk '/Maximum resident set size/ { printf "%.0f", $NF / 1024 }' "$1"; }
printf "%-10s %-16s %12s %10s %10s %14s\n" rows tool "rows/s" seconds "peak MB" "process wall s"
for n in "${SIZES[@]}"; do
    data="$OUT/customers_$n.csv"
    [ -f "$data" ] || "$VENV/bin/python" "$PEERS/make_customers.py" training-data/telco_churn.csv "$n" "$data"
    /usr/bin/time -v -o "$OUT/time_ours_$n.txt" target/release/custscore score --models "$MODELS" \
        --input "$data" --output "$OUT/scored_ours_$n.csv" --rejects "$OUT/rejects_ours_$n.csv" 2> "$OUT/summary_ours_$n.txt"
    wall=$(awk '/Elapsed \(wall clock\)/ { n = split($NF, t, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + t[i]; print s }' "$OUT/time_ours_$n.txt")
    rate=$(grep -o '[0-9]* rows/s' "$OUT/summary_ours_$n.txt" | cut -d ' ' -f 1)
    printf "%-10s %-16s %12.0f %10.3f %10s %14s\n" "$n" custscore "$rate" "$(awk -v a="$n" -v b="$rate" "BEGIN { print a / b }")" "$(rss_mb "$OUT/time_ours_$n.txt")" "$wall"
    /usr/bin/time -v -o "$OUT/time_peer_$n.txt" "$VENV/bin/python" "$PEERS/batch_peer.py" \
        training-data/telco_churn.csv "$data" "$OUT/scored_peer_$n.csv" > "$OUT/peer_$n.txt"
    read -r rows psecs < "$OUT/peer_$n.txt"
    printf "%-10s %-16s %12.0f %10.3f %10s   (scoring only; peak includes fitting)\n" "$n" pandas+sklearn "$(awk -v a="$rows" -v b="$psecs" "BEGIN { print a / b }")" "$psecs" "$(rss_mb "$OUT/time_peer_$n.txt")"
done
