#!/usr/bin/env bash
# Decisions on the telco bundle, figures for the README:
# 1. `target` on telco resampled with noise to ROWS rows (benches/peers/make_customers.py):
#    wall time (median of RUNS runs), list size, expected value of the list against a
#    random list of the same cost and against the list taken by highest P(churn) first
#    within the same budget (`target --compare`; the same customers for all three).
# 2. `changes` between two scorings of telco and of a perturbed copy
#    (scripts/perturb_telco.py: charges raised, contracts switched, add-ons dropped for
#    10% of customers each): counts per kind of change.
# usage: [BIN=path] benches/decisions.sh [ROWS] [BUDGET]   (default: 100000 100000); RUNS=5
#        BIN is the custscore to measure (default target/release/custscore, built beforehand
#        with `cargo build --release`: this script runs no cargo, so it can run beside a build)
set -euo pipefail
source "$(dirname "$0")/peers/common.sh"
ROWS=${1:-100000}
BUDGET=${2:-100000}
RUNS=${RUNS:-5}
BIN="$(realpath -m "${BIN:-$REPO/target/release/custscore}")"
[ -x "$BIN" ] || { echo "no custscore binary at $BIN: run \`cargo build --release\` first, or set BIN" >&2; exit 1; }
peer_venv numpy pandas
cd "$REPO"
MODELS="$OUT/decisions_models"
rm -rf "$MODELS"
$BIN train --models "$MODELS" >/dev/null 2>&1
data="$OUT/customers_$ROWS.csv"
[ -f "$data" ] || "$VENV/bin/python" benches/peers/make_customers.py training-data/telco_churn.csv "$ROWS" "$data"
ACTIONS=training-data/actions.toml

echo "== target: $ROWS customers, action retention_offer, budget $BUDGET ($(nproc) cores, scoring on all)"
times=()
for run in $(seq "$RUNS"); do
    start=$(date +%s.%N)
    $BIN target --models "$MODELS" --actions "$ACTIONS" --action retention_offer \
        --budget "$BUDGET" --customers "$data" --output "$OUT/target_list.csv" --compare \
        > "$OUT/target_run.txt"
    end=$(date +%s.%N)
    times+=("$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.2f", b - a }')")
done
cat "$OUT/target_run.txt"
median=$(printf '%s\n' "${times[@]}" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')
echo "wall time (whole process: load bundle, score, choose, write): median ${median}s of runs: ${times[*]}"

echo "== changes: telco vs a perturbed copy"
"$VENV/bin/python" scripts/perturb_telco.py training-data/telco_churn.csv "$OUT/telco_later.csv"
$BIN score --models "$MODELS" --input training-data/telco_churn.csv --output "$OUT/scored_before.csv" 2>/dev/null
$BIN score --models "$MODELS" --input "$OUT/telco_later.csv" --output "$OUT/scored_after.csv" 2>/dev/null
$BIN changes --before "$OUT/scored_before.csv" --after "$OUT/scored_after.csv" \
    --value-drop 0.2 --output "$OUT/changes.csv"
