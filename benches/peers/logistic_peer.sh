#!/usr/bin/env bash
# Logistic regression fit time and coefficients on the same standardized one-hot design:
# custscore's own Newton solver and linfa-logistic's L-BFGS (examples/logistic_peer.rs)
# vs scikit-learn's lbfgs (logistic_peer.py). Same L2 penalty (alpha = 1 = 1/C), intercept
# unpenalised; scikit-learn at its default tol=1e-4 for the time, and once more at
# tol=1e-10 to check the coefficients. Tables: the telco table resampled with noise to each
# SIZE by make_customers.py. Median of REPEATS fits each.
# Threads: custscore's row chunks run on rayon (one per core); linfa runs on one thread;
# scikit-learn's lbfgs on numpy's BLAS threads (one per core).
# usage: benches/peers/logistic_peer.sh [REPEATS] [SIZE...]   (default 3 45000 450000)
set -euo pipefail
source "$(dirname "$0")/common.sh"
REPEATS="${1:-3}"
SIZES=("${@:2}")
[ "${#SIZES[@]}" -gt 0 ] || SIZES=(45000 450000)
CORES="$(nproc)"
peer_venv numpy pandas scikit-learn
cd "$REPO"
cargo build --release --quiet --example logistic_peer
for n in "${SIZES[@]}"; do
    CSV="$OUT/customers_$n.csv"
    [ -s "$CSV" ] || "$VENV/bin/python" "$PEERS/make_customers.py" training-data/telco_churn.csv "$n" "$CSV"
    PREFIX="$OUT/logistic_$n"
    ours=$(RAYON_NUM_THREADS="$CORES" target/release/examples/logistic_peer "$CSV" customer_id churn=Yes "$PREFIX" "$REPEATS")
    width=$("$VENV/bin/python" -c 'import json,sys; print(json.loads(sys.argv[1])["features"])' "$ours")
    theirs=$(OMP_NUM_THREADS="$CORES" OPENBLAS_NUM_THREADS="$CORES" "$VENV/bin/python" "$PEERS/logistic_peer.py" "$PREFIX" "$width" "$REPEATS")
    rm -f "$PREFIX.x.f64" "$PREFIX.y.u8"
    "$VENV/bin/python" - "$ours" "$theirs" "$REPEATS" "$CORES" <<'PY'
import json, sys
ours, sk = json.loads(sys.argv[1]), json.loads(sys.argv[2])
repeats, cores = sys.argv[3:5]
print(f"logistic (L2, C=1): {ours['rows']} rows x {ours['features']} standardized one-hot "
      f"features, median of {repeats} fits; {cores} cores")
base = ours["median_seconds"]
print(f"  custscore Newton, {ours['rayon_threads']} threads   {base:8.3f} s")
if ours["linfa_median_seconds"] is not None:
    t = ours["linfa_median_seconds"]
    print(f"  linfa-logistic L-BFGS, 1 thread {t:8.3f} s  {t / base:6.1f}x  "
          f"max |coef gap| {ours['linfa_max_coef_gap']:.2e}")
t = sk["median_seconds"]
print(f"  sklearn lbfgs tol=1e-4, {cores} thr  {t:8.3f} s  {t / base:6.1f}x  "
      f"({sk['iterations']} iterations) max |coef gap| {sk['max_coef_gap_default_tol']:.2e}")
print(f"  sklearn lbfgs tol=1e-10: max |coef gap| to custscore {sk['max_coef_gap_tight_tol']:.2e}")
print(f"  largest |gradient| of the objective: custscore {sk['gradient_ours']:.2e}, "
      f"sklearn tol=1e-10 {sk['gradient_sklearn_tight']:.2e}")
PY
done
