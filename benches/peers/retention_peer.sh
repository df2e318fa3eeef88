#!/usr/bin/env bash
# Churn models, custscore vs scikit-learn logistic / random forest and LightGBM, on the
# very same 5 stratified folds of the telco table (label churn=Yes, customer_id not a
# feature), in one run: CV AUC and mean fit seconds per fold. Then an 80/20 check: AUC of
# `custscore score` on the held-out 20% next to the CV AUC of the same training run.
# The peers' own held-out AUC on that 20% is shown beside it (logistic, HistGradientBoosting,
# LightGBM 300 trees).
# usage: benches/peers/retention_peer.sh [DATA.csv] [TARGET=VALUE] [ID] [DROP,COLS]
# TARGET is any yes/no column (blank = unknown, left out by both sides); DROP names
# columns neither side may use (other targets' labels, the columns TARGET was derived from).
# CUSTSCORE=path/to/binary compares another build (default: target/release/custscore).
set -euo pipefail
source "$(dirname "$0")/common.sh"
DATA="${1:-training-data/telco_churn.csv}"; LABEL="${2:-churn=Yes}"; ID="${3:-customer_id}"
export PEER_DROP="${4:-}"
DROP_FLAG=(); [ -n "$PEER_DROP" ] && DROP_FLAG=(--drop "$PEER_DROP")
peer_venv numpy pandas scikit-learn lightgbm
cd "$REPO"
if [ -z "${CUSTSCORE:-}" ]; then
    cargo build --release --quiet --bin custscore
    CUSTSCORE=target/release/custscore
fi
PY="$VENV/bin/python"
W="$OUT/retention${RUN_NAME:+-$RUN_NAME}"; rm -rf "$W"; mkdir -p "$W"

# 1. The peers write the folds, fit, and report; custscore reuses their folds.
"$PY" "$PEERS/retention_peer.py" peers "$DATA" "$LABEL" "$ID" "$W/folds.csv" > "$W/peers.json"
"$CUSTSCORE" train --customers "$DATA" --id "$ID" --label "$LABEL" "${DROP_FLAG[@]}" \
    --folds "$W/folds.csv" --segments 2 --models "$W/models" > "$W/train.log"

# 2. 80/20: train on 80%, score the 20% with the real binary.
"$PY" "$PEERS/retention_peer.py" split "$DATA" "$LABEL" "$ID" "$W/train80.csv" "$W/test20.csv"
"$CUSTSCORE" train --customers "$W/train80.csv" --id "$ID" --label "$LABEL" "${DROP_FLAG[@]}" \
    --segments 2 --models "$W/models80" > "$W/train80.log"
"$CUSTSCORE" score --input "$W/test20.csv" --output "$W/scored20.csv" \
    --models "$W/models80" 2> "$W/score20.log"

"$PY" "$PEERS/retention_peer.py" heldout "$W/train80.csv" "$W/test20.csv" "$LABEL" "$ID" \
    > "$W/heldout.json"
"$PY" "$PEERS/retention_peer.py" report "$W" "$LABEL" "$ID"
