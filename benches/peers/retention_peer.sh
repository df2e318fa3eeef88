#!/usr/bin/env bash
# Churn models, custscore vs scikit-learn logistic / random forest and LightGBM, on the
# very same 5 stratified folds of the telco table (label churn=Yes, customer_id not a
# feature), in one run: CV AUC and mean fit seconds per fold. Then an 80/20 check: AUC of
# `custscore score` on the held-out 20% next to the CV AUC of the same training run.
# usage: benches/peers/retention_peer.sh [DATA.csv] [LABEL=VALUE] [ID]
set -euo pipefail
source "$(dirname "$0")/common.sh"
DATA="${1:-training-data/telco_churn.csv}"; LABEL="${2:-churn=Yes}"; ID="${3:-customer_id}"
peer_venv numpy pandas scikit-learn lightgbm
cd "$REPO"
cargo build --release --quiet --bin custscore
PY="$VENV/bin/python"
W="$OUT/retention"; rm -rf "$W"; mkdir -p "$W"

# 1. The peers write the folds, fit, and report; custscore reuses their folds.
"$PY" "$PEERS/retention_peer.py" peers "$DATA" "$LABEL" "$ID" "$W/folds.csv" > "$W/peers.json"
target/release/custscore train --customers "$DATA" --id "$ID" --label "$LABEL" \
    --folds "$W/folds.csv" --segments 2 --models "$W/models" > "$W/train.log"

# 2. 80/20: train on 80%, score the 20% with the real binary.
"$PY" "$PEERS/retention_peer.py" split "$DATA" "$LABEL" "$ID" "$W/train80.csv" "$W/test20.csv"
target/release/custscore train --customers "$W/train80.csv" --id "$ID" --label "$LABEL" \
    --segments 2 --models "$W/models80" > "$W/train80.log"
target/release/custscore score --input "$W/test20.csv" --output "$W/scored20.csv" \
    --models "$W/models80" 2> "$W/score20.log"

"$PY" "$PEERS/retention_peer.py" report "$W" "$LABEL" "$ID"
