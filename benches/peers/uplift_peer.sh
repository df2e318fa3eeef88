#!/usr/bin/env bash
# Uplift on causalml's own generator (make_uplift_classification: 16 features, some that
# raise and some that lower the effect): custscore's default uplift model (two-model and
# X-learner averaged, on our GBM; early-stopped on a held-out third of the training rows,
# which draws the Qini curve, then refitted on all of them for those rounds;
# examples/uplift_peer.rs) against causalml's BaseTClassifier and BaseXClassifier with
# LightGBM base learners (default settings). One split, stratified by arm x outcome (70%
# train, 30% test), shared by every model; Qini AUC and AUUC of the test predictions by
# causalml's qini_score / auuc_score for all of them. Fit times: medians of RUNS fits,
# wall and CPU seconds (every thread), as the machine may be shared.
# Threads: custscore on rayon (one per core), LightGBM n_jobs = cores. LightGBM's OpenMP
# threads run with OMP_WAIT_POLICY=passive: spinning while they wait costs them most of
# their wall time when other work shares the cores.
# A paired bootstrap of the test rows (BOOTSTRAP draws, default 500: the same draw scored
# for both models by qini_score) gives a 95% interval of the Qini AUC difference ours −
# each peer, so a draw where one is lower can be told from noise.
# SEED picks the generator's draw (default 1). VIA_STORE=1 also trains through the store:
# the training rows imported as contacts and `responded` events into a fresh SQLite store,
# then `train --from-campaign bench --label responded --uplift` (the whole train, timed;
# its uplift step's wall time beside it) and `score` on the test rows, scored the same way.
# usage: benches/peers/uplift_peer.sh [RUNS] [SAMPLES_PER_ARM...]   (default 5 20000)
set -euo pipefail
source "$(dirname "$0")/common.sh"
RUNS="${1:-5}"
SIZES=("${@:2}")
[ "${#SIZES[@]}" -gt 0 ] || SIZES=(20000)
CORES="$(nproc)"
SEED="${SEED:-1}"
BOOTSTRAP="${BOOTSTRAP:-500}"
peer_venv numpy pandas scikit-learn lightgbm causalml
cd "$REPO"
cargo build --release --quiet --example uplift_peer
[ "${VIA_STORE:-0}" = 1 ] && cargo build --release --quiet --bin custscore
for n in "${SIZES[@]}"; do
    PREFIX="$OUT/uplift_${n}_$SEED"
    "$VENV/bin/python" "$PEERS/uplift_peer.py" data "$PREFIX" "$n" "$SEED" 2>/dev/null
    ours=$(RAYON_NUM_THREADS="$CORES" target/release/examples/uplift_peer "$PREFIX.csv" "$PREFIX.custscore.csv" "$RUNS")
    rm -f "$PREFIX.custscore_store.csv"
    store='{}'
    if [ "${VIA_STORE:-0}" = 1 ]; then
        store=$(RAYON_NUM_THREADS="$CORES" "$VENV/bin/python" "$PEERS/uplift_peer.py" store "$PREFIX" "$RUNS" "$REPO/target/release/custscore" 2>/dev/null)
    fi
    theirs=$(OMP_NUM_THREADS="$CORES" OMP_WAIT_POLICY=passive "$VENV/bin/python" "$PEERS/uplift_peer.py" peers "$PREFIX" "$RUNS" "$CORES" 2>/dev/null)
    scores=$("$VENV/bin/python" "$PEERS/uplift_peer.py" score "$PREFIX" "$BOOTSTRAP" 2>/dev/null)
    "$VENV/bin/python" - "$ours" "$theirs" "$scores" "$store" "$n" "$RUNS" "$CORES" "$SEED" <<'PY'
import json, sys
ours, theirs, scores, store = (json.loads(a) for a in sys.argv[1:5])
n, runs, cores, seed = sys.argv[5:9]
print(f"uplift: make_uplift_classification seed {seed}, {n} per arm, 30% test; median of "
      f"{runs} fits; {cores} cores (custscore rayon {ours['rayon_threads']} threads, "
      f"LightGBM n_jobs {cores}, OMP_WAIT_POLICY=passive)")
print(f"  custscore: {ours['chosen']}; inside training: " + ", ".join(
    f"{c['learner']} ({c.get('settings', '')}) Qini AUC {c['qini_auc']:.4f}"
    for c in ours["candidates"]))
base = ours["median_seconds"]
rows = [("custscore (T + X average, + refit)", "custscore", ours)]
if store:
    rows.append(("custscore through the store (train)", "custscore_store", store))
rows += [(f"{k} (LightGBM)", k, theirs[k]) for k in ("causalml_T", "causalml_X")]
print(f"  {'model':36} {'Qini AUC':>9} {'AUUC':>7} {'fit s':>8} {'CPU s':>8} {'vs ours':>8}")
for label, key, t in rows:
    s, secs = scores[key], t["median_seconds"]
    print(f"  {label:36} {s['qini']:9.4f} {s['auuc']:7.4f} {secs:8.3f} "
          f"{t['median_cpu_seconds']:8.3f} {secs / base:7.1f}x")
if store:
    print(f"  through the store: uplift step of train {store['median_uplift_step_seconds']:.3f} s "
          f"wall (median); train's summary: " + " | ".join(l.strip() for l in store["summary"]))
for peer in ("causalml_T", "causalml_X"):
    b = scores["bootstrap"][peer]
    print(f"  Qini AUC custscore − {peer}: {scores['custscore']['qini'] - scores[peer]['qini']:+.4f}, "
          f"95% interval [{b['low']:+.4f}, {b['high']:+.4f}] over {b['resamples']} paired draws "
          f"of the test rows; custscore higher in {b['share_above']:.0%} of them")
print(f"  custscore's own qini.rs on its test predictions: Qini AUC {ours['own_qini_auc']:.4f}, "
      f"AUUC {ours['own_auuc']:.4f}")
PY
done
