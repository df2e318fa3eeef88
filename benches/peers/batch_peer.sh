#!/usr/bin/env bash
# Batch scoring throughput and peak memory, custscore `score` vs pandas + scikit-learn +
# mlxtend (benches/peers/peer_model.py: vectorised, whole file in memory), on telco
# resampled with noise to 100k and 1M rows, in one run.
#
# Same work on both sides: the peer is fitted with the choices the custscore bundle
# records, read from the bundle's manifest and model files (k, the chosen and calibrated
# classifier kind, bands, tier cut-offs, CLV settings and thresholds, holdings columns and
# rule min support / confidence / lift / length / top_n), and writes the same columns per
# row (segment and name, tier, probability, band, top-3 reasons, CLV, quadrant, offers).
# The choices are printed.
#
# Both are timed in-process from reading the input to writing the output (custscore's
# summary line; the peer's own timer, fitting excluded); our whole-process wall time
# (start-up and bundle loading included) is shown beside it. Peak RSS from /usr/bin/time
# (the peer's includes fitting). Each tool runs RUNS times (default 3), the two
# alternating; medians are shown with every run and the ratio side by side.
# usage: benches/peers/batch_peer.sh [ROWS...]   (default: 100000 1000000)
set -euo pipefail
source "$(dirname "$0")/common.sh"
SIZES=("${@:-100000 1000000}")
read -r -a SIZES <<< "${SIZES[*]}"
peer_venv numpy scipy pandas scikit-learn mlxtend
cd "$REPO"
cargo build --release --quiet
MODELS="$OUT/batch_models"
rm -rf "$MODELS"
target/release/custscore train --models "$MODELS" >/dev/null 2>&1

rss_mb() { awk '/Maximum resident set size/ { printf "%.0f", $NF / 1024 }' "$1"; }
wall_s() { awk '/Elapsed \(wall clock\)/ { n = split($NF, t, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + t[i]; print s }' "$1"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", a / b }'; }

RUNS=${RUNS:-3}
echo "machine: $(nproc) cores; custscore scores on all of them (rayon, $(nproc) threads) plus a reader and a writer thread;"
echo "peer: one Python process (numpy/scipy with their default BLAS threads); median of $RUNS runs each"
printf "%-9s %-16s %10s %9s %8s %9s %9s  %s\n" rows tool "rows/s" seconds "peak MB" "faster x" "leaner x" "runs (rows/s)"
for n in "${SIZES[@]}"; do
    data="$OUT/customers_$n.csv"
    [ -f "$data" ] || "$VENV/bin/python" "$PEERS/make_customers.py" training-data/telco_churn.csv "$n" "$data"
    ours=() peer=() ours_mb=0 peer_mb=0 walls=()
    for run in $(seq "$RUNS"); do
        # Every run writes into an empty place: replacing last run's file would add the
        # freeing of its pages to whichever tool wrote it.
        rm -f "$OUT/scored_ours_$n.csv" "$OUT/rejects_ours_$n.csv" "$OUT/scored_peer_$n.csv"
        /usr/bin/time -v -o "$OUT/time_ours_$n.txt" target/release/custscore score --models "$MODELS" \
            --input "$data" --output "$OUT/scored_ours_$n.csv" --rejects "$OUT/rejects_ours_$n.csv" 2> "$OUT/summary_ours_$n.txt"
        ours+=("$(grep -o '[0-9]* rows/s' "$OUT/summary_ours_$n.txt" | cut -d ' ' -f 1)")
        walls+=("$(wall_s "$OUT/time_ours_$n.txt")")
        mb=$(rss_mb "$OUT/time_ours_$n.txt"); ours_mb=$(( mb > ours_mb ? mb : ours_mb ))
        /usr/bin/time -v -o "$OUT/time_peer_$n.txt" "$VENV/bin/python" "$PEERS/batch_peer.py" \
            training-data/telco_churn.csv "$MODELS" "$data" "$OUT/scored_peer_$n.csv" \
            > "$OUT/peer_$n.txt" 2> "$OUT/peer_choices.txt"
        read -r rows psecs < "$OUT/peer_$n.txt"
        [ "$rows" = "$n" ] || { echo "peer scored $rows of $n rows" >&2; exit 1; }
        peer+=("$(awk -v a="$rows" -v b="$psecs" 'BEGIN { printf "%.0f", a / b }')")
        mb=$(rss_mb "$OUT/time_peer_$n.txt"); peer_mb=$(( mb > peer_mb ? mb : peer_mb ))
    done
    o=$(printf "%s\n" "${ours[@]}" | median)
    p=$(printf "%s\n" "${peer[@]}" | median)
    printf "%-9s %-16s %10.0f %9.3f %8s %9s %9s  %s (process wall s: %s)\n" "$n" custscore "$o" \
        "$(awk -v a="$n" -v b="$o" 'BEGIN { print a / b }')" "$ours_mb" "$(ratio "$o" "$p")" \
        "$(ratio "$peer_mb" "$ours_mb")" "${ours[*]}" "${walls[*]}"
    printf "%-9s %-16s %10.0f %9.3f %8s %9s %9s  %s\n" "$n" "pandas+sklearn" "$p" \
        "$(awk -v a="$n" -v b="$p" 'BEGIN { print a / b }')" "$peer_mb" "" "" "${peer[*]}"
    # Same answers: the columns both derive from the bundle's own numbers and rules.
    "$VENV/bin/python" - "$OUT/scored_ours_$n.csv" "$OUT/scored_peer_$n.csv" <<'PY'
import sys
import pandas as pd
o, p = (pd.read_csv(f, keep_default_na=False) for f in sys.argv[1:3])
same = lambda c: f"{c} {100 * (o[c].astype(str) == p[c].astype(str)).mean():.1f}%"
print("          rows agreeing:", ", ".join(same(c) for c in ("tier", "risk_band", "quadrant", "cross_sell")),
      f"(probability correlation {o.churn_probability.corr(p.churn_probability):.3f}; the peer's "
      "churn model is its own fit with the bundle's settings)")
PY
done
grep "bundle's choices" "$OUT/peer_choices.txt" || true
echo "faster x = custscore rows/s / peer rows/s; leaner x = peer peak MB / custscore peak MB"
