#!/usr/bin/env bash
# k-means quality and speed on the same standardized features of the telco table, in one
# run: custscore's own k-means vs linfa-clustering's (examples/kmeans_peer.rs) vs
# scikit-learn's (kmeans_peer.py). Same k, same number of k-means++ restarts, iteration cap
# 300, tolerance 1e-4 (each library's own definition of it); the best inertia of each is
# printed to show they did the same work. Median of REPEATS fits each.
# Threads: custscore's restarts run on rayon; linfa's restarts run one after another;
# scikit-learn uses OpenMP threads. So every tool runs twice: with one thread
# (RAYON_NUM_THREADS=1, OMP_NUM_THREADS=1) and with one thread per core.
# usage: benches/peers/kmeans_peer.sh [K] [RESTARTS] [REPEATS]   (default 4 10 5)
set -euo pipefail
source "$(dirname "$0")/common.sh"
K="${1:-4}"; RESTARTS="${2:-10}"; REPEATS="${3:-5}"
CORES="$(nproc)"
peer_venv numpy scikit-learn
cd "$REPO"
cargo build --release --quiet --example kmeans_peer
run_ours() {
    RAYON_NUM_THREADS="$1" target/release/examples/kmeans_peer training-data/telco_churn.csv \
        customer_id churn "$OUT/telco_features.csv" "$K" "$RESTARTS" "$REPEATS"
}
ours1=$(run_ours 1)
oursN=$(run_ours "$CORES")
theirs1=$(OMP_NUM_THREADS=1 "$VENV/bin/python" "$PEERS/kmeans_peer.py" "$OUT/telco_features.csv" "$K" "$RESTARTS" "$REPEATS")
theirsN=$(OMP_NUM_THREADS="$CORES" "$VENV/bin/python" "$PEERS/kmeans_peer.py" "$OUT/telco_features.csv" "$K" "$RESTARTS" "$REPEATS")
"$VENV/bin/python" - "$ours1" "$oursN" "$theirs1" "$theirsN" "$K" "$RESTARTS" "$REPEATS" "$CORES" <<'PY'
import json, sys
ours1, oursN, sk1, skN = (json.loads(a) for a in sys.argv[1:5])
k, restarts, repeats, cores = sys.argv[5:9]
print(f"k-means on telco: {ours1['rows']} rows x {ours1['features']} standardized features, "
      f"k={k}, {restarts} k-means++ restarts, median of {repeats} fits; {cores} cores")
print(f"{'':26}{'inertia':>14}{'seconds':>10}{'vs custscore':>14}")
rows = [
    ("custscore, 1 thread", ours1["inertia"], ours1["median_seconds"], ours1["median_seconds"]),
    ("linfa, 1 thread", ours1["linfa_inertia"], ours1["linfa_median_seconds"], ours1["median_seconds"]),
    ("sklearn, 1 thread", sk1["inertia"], sk1["median_seconds"], ours1["median_seconds"]),
    (f"custscore, {oursN['rayon_threads']} threads", oursN["inertia"], oursN["median_seconds"], oursN["median_seconds"]),
    (f"linfa (sequential runs)", oursN["linfa_inertia"], oursN["linfa_median_seconds"], oursN["median_seconds"]),
    (f"sklearn, {cores} OpenMP thr", skN["inertia"], skN["median_seconds"], oursN["median_seconds"]),
]
for name, inertia, seconds, base in rows:
    print(f"{name:26}{inertia:>14.2f}{seconds:>10.4f}{seconds / base:>13.2f}x")
print("vs custscore = that tool's seconds / custscore's seconds at the same thread setting")
PY
