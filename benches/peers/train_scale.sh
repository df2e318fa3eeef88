#!/usr/bin/env bash
# Training at scale, custscore vs a scikit-learn + LightGBM pipeline, side by side in one
# run: per table, `custscore train` stage by stage (its step lines and the manifest's
# per-candidate CV times) and the peer stage by stage (standardise + one-hot, k-means k=4
# n_init=10, 5-fold CV + refit of logistic and of LightGBM 300 trees), wall time and peak
# RSS of each (/usr/bin/time -v), and both sides' AUC on held-out rows.
# Tables: telco resampled with noise (the test set is a fixed 20% of the original rows,
# kept out before resampling) and a generated table with a known signal.
# usage: SIZES="45000 450000 2000000" benches/peers/train_scale.sh   (default: 45000 450000)
# CUSTSCORE=path/to/binary compares another build. THREADS (default: every core) is the
# thread count of both sides: rayon for ours, OpenMP/BLAS and LightGBM's n_jobs for the
# peer. On a busy machine OpenMP's spinning can make 2 threads far slower than 1 (see
# retention_peer.sh), so THREADS=1 is the steadier comparison there.
set -euo pipefail
source "$(dirname "$0")/common.sh"
SIZES="${SIZES:-45000 450000}"
peer_venv numpy pandas scikit-learn lightgbm threadpoolctl
cd "$REPO"
if [ -z "${CUSTSCORE:-}" ]; then
    cargo build --release --quiet --bin custscore
    CUSTSCORE=target/release/custscore
fi
PY="$VENV/bin/python"
W="${TRAIN_SCALE_DIR:-$OUT/train_scale}"; mkdir -p "$W/data"
CORES="$(nproc)"; THREADS="${THREADS:-$CORES}"
export RAYON_NUM_THREADS="$THREADS" OMP_NUM_THREADS="$THREADS" OPENBLAS_NUM_THREADS="$THREADS"
echo "cores: $CORES; threads on each side: $THREADS"

runs="["
for size in $SIZES; do
    [ -f "$W/data/generated_${size}.csv" ] || "$PY" "$PEERS/train_scale.py" make "$size" "$W/data" training-data/telco_churn.csv
    for table in telco generated; do
        train="$W/data/${table}_${size}.csv"
        test="$W/data/${table}_test.csv"
        [ "$table" = generated ] && test="$W/data/generated_${size}_test.csv"
        run="$W/${table}_${size}"; rm -rf "$run"; mkdir -p "$run"
        echo "== $table, $size rows: custscore train" >&2
        /usr/bin/time -v "$CUSTSCORE" train --customers "$train" --id customer_id \
            --label churn=Yes --segments 4 --models "$run/models" > "$run/train.log" 2> "$run/train.time"
        "$CUSTSCORE" score --input "$test" --output "$run/scored.csv" --models "$run/models" 2> "$run/score.log"
        echo "== $table, $size rows: peer pipeline" >&2
        /usr/bin/time -v "$PY" "$PEERS/train_scale.py" peer "$train" "$test" \
            > "$run/peer.json" 2> "$run/peer.time"
        runs="$runs{\"name\": \"$table\", \"dir\": \"$run\", \"test\": \"$test\", \"rayon_threads\": $THREADS},"
    done
done
echo "${runs%,}]" > "$W/runs.json"
"$PY" "$PEERS/train_scale.py" report "$W"
