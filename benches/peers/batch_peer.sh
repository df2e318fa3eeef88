#!/usr/bin/env bash
# Batch scoring throughput and peak memory, custscore `score` vs pandas + scikit-learn
# (vectorised, whole file in memory), the same answers per row, on telco resampled with
# noise to 100k and 1M rows, in one run. Both are timed in-process from reading the
# input to writing the output (custscore's summary line; the peer's own timer); our
# whole-process wall time (start-up and bundle loading included) is shown beside it.
# Peak RSS from /usr/bin/time. Each tool runs RUNS times (default 3), the two alternating;
# the median is shown. The peer computes reasons as we do (the retention answer's third
# part) and is also run without them; it writes no segment names, CLV, quadrant or model
# version. Peer peak RSS includes fitting.
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
wall_s() { awk '/Elapsed \(wall clock\)/ { n = split($NF, t, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + t[i]; print s }' "$1"; }
median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", a / b }'; }

# Each tool runs RUNS times per size (this machine is shared and noisy); the table shows
# the median rows/s, the largest peak RSS, and every run's rows/s.
RUNS=${RUNS:-3}
printf "%-9s %-22s %10s %9s %8s %8s  %s\n" rows tool "rows/s" seconds "peak MB" "ours is" "runs (rows/s)"
for n in "${SIZES[@]}"; do
    data="$OUT/customers_$n.csv"
    [ -f "$data" ] || "$VENV/bin/python" "$PEERS/make_customers.py" training-data/telco_churn.csv "$n" "$data"
    ours=() peer=() bare=() ours_mb=0 peer_mb=0 walls=()
    for run in $(seq "$RUNS"); do
        # Every run writes into an empty place: replacing last run's file would add the
        # freeing of its pages (some 30 ms per 27 MB here) to whichever tool wrote it.
        rm -f "$OUT/scored_ours_$n.csv" "$OUT/rejects_ours_$n.csv" "$OUT/scored_peer_$n.csv"
        /usr/bin/time -v -o "$OUT/time_ours_$n.txt" target/release/custscore score --models "$MODELS" \
            --input "$data" --output "$OUT/scored_ours_$n.csv" --rejects "$OUT/rejects_ours_$n.csv" 2> "$OUT/summary_ours_$n.txt"
        ours+=("$(grep -o '[0-9]* rows/s' "$OUT/summary_ours_$n.txt" | cut -d ' ' -f 1)")
        walls+=("$(wall_s "$OUT/time_ours_$n.txt")")
        ours_mb=$(( $(rss_mb "$OUT/time_ours_$n.txt") > ours_mb ? $(rss_mb "$OUT/time_ours_$n.txt") : ours_mb ))
        for variant in reasons bare; do
            rm -f "$OUT/scored_peer_$n.csv"
            flag=(); [ "$variant" = bare ] && flag=(--no-reasons)
            /usr/bin/time -v -o "$OUT/time_peer_$n.txt" "$VENV/bin/python" "$PEERS/batch_peer.py" \
                training-data/telco_churn.csv "$data" "$OUT/scored_peer_$n.csv" "${flag[@]}" > "$OUT/peer_$n.txt"
            read -r rows psecs < "$OUT/peer_$n.txt"
            rate=$(awk -v a="$rows" -v b="$psecs" 'BEGIN { printf "%.0f", a / b }')
            if [ "$variant" = reasons ]; then peer+=("$rate"); else bare+=("$rate"); fi
            peer_mb=$(( $(rss_mb "$OUT/time_peer_$n.txt") > peer_mb ? $(rss_mb "$OUT/time_peer_$n.txt") : peer_mb ))
        done
    done
    o=$(printf "%s\n" "${ours[@]}" | median)
    p=$(printf "%s\n" "${peer[@]}" | median)
    b=$(printf "%s\n" "${bare[@]}" | median)
    printf "%-9s %-22s %10.0f %9.3f %8s %8s  %s (process wall s: %s)\n" "$n" custscore "$o" "$(awk -v a="$n" -v b="$o" 'BEGIN { print a / b }')" "$ours_mb" "" "${ours[*]}" "${walls[*]}"
    printf "%-9s %-22s %10.0f %9.3f %8s %8s  %s\n" "$n" "pandas+sklearn" "$p" "$(awk -v a="$n" -v b="$p" 'BEGIN { print a / b }')" "$peer_mb" "$(ratio "$o" "$p")x" "${peer[*]}"
    printf "%-9s %-22s %10.0f %9.3f %8s %8s  %s\n" "$n" "  same, without reasons" "$b" "$(awk -v a="$n" -v b="$b" 'BEGIN { print a / b }')" "" "$(ratio "$o" "$b")x" "${bare[*]}"
done
