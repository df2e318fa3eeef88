#!/usr/bin/env bash
# k-means quality and speed on the same standardized features, in one run: custscore's own
# k-means vs linfa-clustering's (examples/kmeans_peer.rs) vs scikit-learn's
# (kmeans_peer.py). Same k, same number of k-means++ restarts, iteration cap 300,
# tolerance 1e-4 (each library's own definition of it); the best inertia of each is
# printed to show they did the same work. Median of REPEATS fits each.
# Tables: the telco table itself, then (with SIZES) the telco table resampled with noise
# to each size by make_customers.py. Above 20,000 rows custscore runs its restarts on a
# 20,000-row sample and iterates the winner on every row; scikit-learn runs every restart
# on every row. linfa is timed up to 50,000 rows only.
# Threads: custscore's restarts and row chunks run on rayon; linfa's restarts run one after
# another; scikit-learn uses OpenMP threads. On the telco table every tool runs with one
# thread (RAYON_NUM_THREADS=1, OMP_NUM_THREADS=1) and with one per core; on the larger
# tables with one per core only.
# usage: benches/peers/kmeans_peer.sh [K] [RESTARTS] [REPEATS] [SIZE...]
#   e.g. benches/peers/kmeans_peer.sh 4 10 3 45000 450000 2000000   (default 4 10 5)
set -euo pipefail
source "$(dirname "$0")/common.sh"
K="${1:-4}"; RESTARTS="${2:-10}"; REPEATS="${3:-5}"
SIZES=("${@:4}")
CORES="$(nproc)"
peer_venv numpy pandas scikit-learn
cd "$REPO"
cargo build --release --quiet --example kmeans_peer
run_ours() { # THREADS CSV MATRIX
    RAYON_NUM_THREADS="$1" target/release/examples/kmeans_peer "$2" customer_id churn "$3" \
        "$K" "$RESTARTS" "$REPEATS"
}
run_theirs() { # THREADS MATRIX WIDTH
    OMP_NUM_THREADS="$1" "$VENV/bin/python" "$PEERS/kmeans_peer.py" "$2" "$3" "$K" "$RESTARTS" "$REPEATS"
}
width() { "$VENV/bin/python" -c 'import json,sys; print(json.loads(sys.argv[1])["features"])' "$1"; }
report() {
    "$VENV/bin/python" - "$K" "$RESTARTS" "$REPEATS" "$CORES" "$@" <<'PY'
import json, sys
k, restarts, repeats, cores = sys.argv[1:5]
runs = [json.loads(a) for a in sys.argv[5:]]
first = runs[0]
print(f"k-means: {first['rows']} rows x {first['features']} standardized features, "
      f"k={k}, {restarts} k-means++ restarts, median of {repeats} fits; {cores} cores")
print(f"{'':28}{'inertia':>16}{'seconds':>10}{'vs custscore':>14}{'inertia ratio':>15}")
for ours, sk in zip(runs[0::2], runs[1::2]):
    t = ours["rayon_threads"]
    rows = [(f"custscore, {t} thread(s)", ours["inertia"], ours["median_seconds"])]
    if ours.get("linfa_median_seconds") is not None:
        rows.append(("linfa (sequential runs)", ours["linfa_inertia"], ours["linfa_median_seconds"]))
    rows.append((f"sklearn, {sk['threads']} OpenMP thread(s)", sk["inertia"], sk["median_seconds"]))
    for name, inertia, seconds in rows:
        print(f"{name:28}{inertia:>16.2f}{seconds:>10.3f}{seconds / ours['median_seconds']:>13.2f}x"
              f"{inertia / ours['inertia']:>15.5f}")
print("vs custscore = that tool's seconds / custscore's at the same thread setting; "
      "inertia ratio = that tool's inertia / custscore's")
PY
}
with_threads() { "$VENV/bin/python" -c 'import json,sys; d=json.loads(sys.argv[1]); d["threads"]=int(sys.argv[2]); print(json.dumps(d))' "$1" "$2"; }

# The telco table, one thread and all cores.
M="$OUT/telco_features.f64"
ours1=$(run_ours 1 training-data/telco_churn.csv "$M")
W=$(width "$ours1")
oursN=$(run_ours "$CORES" training-data/telco_churn.csv "$M")
sk1=$(with_threads "$(run_theirs 1 "$M" "$W")" 1)
skN=$(with_threads "$(run_theirs "$CORES" "$M" "$W")" "$CORES")
report "$ours1" "$sk1" "$oursN" "$skN"

for n in "${SIZES[@]}"; do
    CSV="$OUT/customers_$n.csv"
    [ -s "$CSV" ] || "$VENV/bin/python" "$PEERS/make_customers.py" training-data/telco_churn.csv "$n" "$CSV"
    M="$OUT/customers_$n.f64"
    ours=$(run_ours "$CORES" "$CSV" "$M")
    theirs=$(with_threads "$(run_theirs "$CORES" "$M" "$(width "$ours")")" "$CORES")
    rm -f "$M"
    echo
    report "$ours" "$theirs"
done
