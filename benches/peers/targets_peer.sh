#!/usr/bin/env bash
# Three targets from one telco-derived table (scripts/derive_telco_targets.py: churn,
# upgraded = fiber optic, autopay = automatic payment), each against the same peers as
# churn on the same folds (retention_peer.sh with TARGET and DROP), then one bundle
# holding all three: each target's CV AUC there, and the strongest single input.
# usage: benches/peers/targets_peer.sh
# CUSTSCORE=path/to/binary compares another build (default: target/release/custscore).
set -euo pipefail
source "$(dirname "$0")/common.sh"
cd "$REPO"
if [ -z "${CUSTSCORE:-}" ]; then
    cargo build --release --quiet --bin custscore
    export CUSTSCORE=target/release/custscore
fi
W="$OUT/targets"; rm -rf "$W"; mkdir -p "$W"
DATA="$W/telco_targets.csv"
python3 scripts/derive_telco_targets.py training-data/telco_churn.csv "$DATA"

UPGRADED_EXCLUDE="internet_service,monthly_charges,total_charges"
AUTOPAY_EXCLUDE="payment_method"
# Each target alone: the other targets' labels and its own excluded inputs dropped.
RUN_NAME=churn benches/peers/retention_peer.sh "$DATA" churn=Yes customer_id \
    "upgraded,autopay" | tee "$W/churn.txt"
RUN_NAME=upgraded benches/peers/retention_peer.sh "$DATA" upgraded=Yes customer_id \
    "churn,autopay,$UPGRADED_EXCLUDE" | tee "$W/upgraded.txt"
RUN_NAME=autopay benches/peers/retention_peer.sh "$DATA" autopay=Yes customer_id \
    "churn,upgraded,$AUTOPAY_EXCLUDE" | tee "$W/autopay.txt"

# One bundle, three targets.
started=$(date +%s%N)
"$CUSTSCORE" train --customers "$DATA" --id customer_id --value total_charges \
    --label churn=Yes --label upgraded=Yes --label autopay=Yes \
    --target-exclude "upgraded=$UPGRADED_EXCLUDE" --target-exclude "autopay=$AUTOPAY_EXCLUDE" \
    --margin monthly_charges --segments 4 --models "$W/models" > "$W/train.log"
ended=$(date +%s%N)
echo
echo "three-target bundle (own folds per target), train wall $(( (ended - started) / 1000000 )) ms:"
grep -A4 "^churn models" "$W/train.log" || true
sed -n '/^targets besides/,/^gate:/p' "$W/train.log" | sed '$d'
