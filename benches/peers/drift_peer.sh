#!/usr/bin/env bash
# PSI per input, custscore vs Evidently, with the same bins (Evidently's: `drift --bins
# evidently`), on telco as reference and two current files written by
# examples/drift_data.rs: a shifted copy (tenure halved, every tenth contract a new
# category) and an unshifted resample. The figures in tests/drift_cli.rs come from here.
# usage: benches/peers/drift_peer.sh
set -euo pipefail
source "$(dirname "$0")/common.sh"
# Evidently 0.7.23 imports a pandas helper that pandas 3 removed: pandas stays on 2.x.
peer_venv evidently==0.7.23 pandas==2.3.3 numpy==2.4.6
cd "$REPO"
cargo build --release --quiet --bin custscore --example drift_data
target/release/examples/drift_data "$OUT" >/dev/null
MODELS="$OUT/drift_models"
[ -f "$MODELS/CURRENT" ] || target/release/custscore train --models "$MODELS" >/dev/null
for name in telco_shifted telco_resample; do
    target/release/custscore drift --models "$MODELS" --input "$OUT/$name.csv" \
        --bins evidently --reference training-data/telco_churn.csv \
        --json "$OUT/$name.ours.json" >/dev/null
done
"$VENV/bin/python" "$PEERS/drift_peer.py" training-data/telco_churn.csv "$OUT" \
    telco_shifted telco_resample
