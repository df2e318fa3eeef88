#!/usr/bin/env bash
# BG/NBD and Gamma-Gamma: `custscore lifetime` vs Python's lifetimes 0.11.3 on the same
# data, in one run (see lifetimes_peer.py). Part 1: the CDNOW sample summary that ships with
# lifetimes: parameters of both sides, fit times (median of RUNS fits each, one thread),
# and the largest per-customer difference of P(alive), expected purchases over 39 weeks and
# expected order value. Part 2: the full CDNOW log, calibration = first 39 weeks: both
# sides summarise the log per day, fit, and predict each customer's purchases in the 39
# holdout weeks; the summaries are checked equal and the holdout tables printed side by side.
# MBG/NBD and Pareto/NBD the same way (Pareto/NBD fits are slow in lifetimes: PARETO_RUNS),
# with each candidate's holdout error on the full log. Part 3: Online Retail (days), every
# candidate's holdout error on both sides.
# usage: benches/peers/lifetimes_peer.sh     (env: RUNS=15 PARETO_RUNS=5)
set -euo pipefail
source "$(dirname "$0")/common.sh"
peer_venv lifetimes==0.11.3 pandas
(cd "$REPO" && cargo build --release --quiet)
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1
"$VENV/bin/python" "$PEERS/lifetimes_peer.py" "$REPO/target/release/custscore" "$REPO" "$OUT" "${RUNS:-15}"
