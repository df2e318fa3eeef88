#!/usr/bin/env bash
# k-means quality and speed, custscore vs scikit-learn, on the same standardized features
# of the telco table (k and restarts fixed so both do the same work), in one run.
# usage: benches/peers/kmeans_peer.sh [K] [RESTARTS] [REPEATS]
set -euo pipefail
source "$(dirname "$0")/common.sh"
K="${1:-4}"; RESTARTS="${2:-10}"; REPEATS="${3:-5}"
peer_venv numpy scikit-learn
cd "$REPO"
cargo build --release --quiet --example kmeans_peer
ours=$(target/release/examples/kmeans_peer training-data/telco_churn.csv customer_id churn \
       "$OUT/telco_features.csv" "$K" "$RESTARTS" "$REPEATS")
theirs=$("$VENV/bin/python" "$PEERS/kmeans_peer.py" "$OUT/telco_features.csv" "$K" "$RESTARTS" "$REPEATS")
"$VENV/bin/python" - "$ours" "$theirs" "$K" "$RESTARTS" <<'PY'
import json, sys
ours, theirs = json.loads(sys.argv[1]), json.loads(sys.argv[2])
print(f"k-means on telco: {ours['rows']} rows x {ours['features']} standardized features, "
      f"k={sys.argv[3]}, {sys.argv[4]} k-means++ restarts, median of repeated fits")
print(f"{'':14}{'inertia':>14}{'seconds':>10}")
for name, r in (("custscore", ours), ("scikit-learn", theirs)):
    print(f"{name:14}{r['inertia']:>14.2f}{r['median_seconds']:>10.4f}")
print(f"inertia ratio custscore/sklearn: {ours['inertia'] / theirs['inertia']:.4f}; "
      f"time ratio: {ours['median_seconds'] / theirs['median_seconds']:.2f}")
PY
