#!/usr/bin/env bash
# Serving throughput and latency, custscore vs FastAPI + uvicorn + pandas / scikit-learn /
# mlxtend (benches/peers/peer_model.py), in one run.
#
# Same work on both sides:
# - every request carries a different real customer: score.lua cycles through all rows of
#   training-data/telco_churn.csv (7,043 customers) as JSON bodies, so no cache can answer
#   from an earlier identical request;
# - both answer segment (id, name, value tier, quadrant), cross-sell offers, churn
#   probability, band, top-3 reasons and CLV, and the peer's models are fitted with the
#   choices the custscore bundle records (k, classifier kind, calibration, holdings, rule
#   thresholds, tier cut-offs, CLV settings), read from the bundle itself;
# - the same number of workers (WORKERS, default: the core count): custscore
#   `--workers W` threads, uvicorn `--workers W` processes of one thread each (BLAS/OpenMP
#   pinned to 1 thread so a worker is a worker);
# - the same wrk load, at each concurrency in CONNS (default "32 1"), on loopback; wrk
#   runs on the same machine and takes CPU from both alike.
# Each (server, concurrency) is run RUNS times (default 3), the servers alternating; the
# table shows medians, every run, and our/their ratio side by side.
# usage: benches/peers/serve_peer.sh [DURATION]   (default 10s; RUNS, CONNS, WORKERS; PORT and
#        PEER_PORT: the two servers' loopback ports, default free ones)
set -euo pipefail
source "$(dirname "$0")/common.sh"
DURATION="${1:-10s}"
RUNS="${RUNS:-3}"
CONNS="${CONNS:-32 1}"
CORES="$(nproc)"
WORKERS="${WORKERS:-$CORES}"
need_wrk
peer_venv numpy scipy pandas scikit-learn mlxtend fastapi "uvicorn[standard]"
cd "$REPO"
PORT="${PORT:-$(free_port)}"; PEER_PORT="${PEER_PORT:-$(free_port)}"
cargo build --release --quiet
MODELS="$OUT/serve_models"
rm -rf "$MODELS"
target/release/custscore train --models "$MODELS" >/dev/null 2>&1
export BODIES="$OUT/telco_bodies.jsonl"
"$VENV/bin/python" "$PEERS/make_bodies.py" training-data/telco_churn.csv "$BODIES" churn

wait_ready() { for _ in $(seq 1 1500); do curl -sf -o /dev/null "$1" && return 0; sleep 0.2; done; echo "not ready: $1" >&2; return 1; }

target/release/custscore serve --models "$MODELS" --addr 127.0.0.1:$PORT --workers "$WORKERS" 2>/dev/null &
OURS=$!
OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 \
PEER_DATA="$REPO/training-data/telco_churn.csv" PEER_MODELS="$MODELS" \
    "$VENV/bin/uvicorn" --app-dir "$PEERS" serve_peer_app:app \
    --host 127.0.0.1 --port $PEER_PORT --workers "$WORKERS" --log-level warning &
THEIRS=$!
trap 'kill $OURS $THEIRS 2>/dev/null || true' EXIT
wait_ready http://127.0.0.1:$PORT/healthz
wait_ready http://127.0.0.1:$PEER_PORT/docs

# The two answer the same questions: one body through both, and tier / band / top reason
# agreement over the first 200 customers (the peer's models are its own fits, so the
# probabilities differ a little; the fields and the work do not).
"$VENV/bin/python" - "$BODIES" "$PORT" "$PEER_PORT" <<'PY'
import json, sys, urllib.request
def post(port, body):
    req = urllib.request.Request(f"http://127.0.0.1:{port}/v1/score", body.encode(),
                                 {"content-type": "application/json"})
    return json.load(urllib.request.urlopen(req))
bodies = open(sys.argv[1]).read().splitlines()[:200]
OURS, PEER = int(sys.argv[2]), int(sys.argv[3])
ours, theirs = post(OURS, bodies[0]), post(PEER, bodies[0])
print("custscore answer:", json.dumps(ours)[:400])
print("peer answer:     ", json.dumps(theirs)[:400])
same = {"tier": 0, "band": 0, "offers": 0}
for b in bodies:
    o, t = post(OURS, b), post(PEER, b)
    same["tier"] += o["segment"]["tier"] == t["segment"]["tier"]
    same["band"] += o["retention"]["band"] == t["retention"]["band"]
    same["offers"] += [x["item"] for x in o["cross_sell"]] == [x["item"] for x in t["cross_sell"]]
print("agreement over", len(bodies), "customers:",
      ", ".join(f"{k} {100 * v / len(bodies):.0f}%" for k, v in same.items()))
PY

peer_workers=$(pgrep -P "$THEIRS" -f spawn_main -c || echo "?")
echo "machine: $CORES cores; custscore: --workers $WORKERS (threads); peer: uvicorn --workers $WORKERS ($peer_workers worker processes, 1 BLAS thread each)"
echo "load: wrk, $DURATION per run, bodies cycling through $(wc -l < "$BODIES") telco customers, loopback; median of $RUNS runs"
printf "%-6s %-16s %10s %9s %9s  %s\n" conns server "req/s" "p50 ms" "p99 ms" "runs (req/s)"
for c in $CONNS; do
    threads=$(( c < 2 ? 1 : 2 ))
    declare -A rps=() p50=() p99=()
    for run in $(seq "$RUNS"); do
        for side in custscore peer; do
            port=$PORT; [ "$side" = peer ] && port=$PEER_PORT
            out="$OUT/wrk_${side}_c${c}_$run.txt"
            wrk -t"$threads" -c"$c" -d"$DURATION" --latency -s "$PEERS/score.lua" \
                "http://127.0.0.1:$port/v1/score" > "$out"
            result=$(wrk_result "$out" "$side")
            read -r x y z <<< "$result"
            rps[$side]+="$x "; p50[$side]+="$y "; p99[$side]+="$z "
        done
    done
    for side in custscore peer; do
        printf "%-6s %-16s %10.0f %9s %9s  %s\n" "c$c" "$side" \
            "$(tr ' ' '\n' <<< "${rps[$side]}" | grep . | median)" \
            "$(tr ' ' '\n' <<< "${p50[$side]}" | grep . | median)" \
            "$(tr ' ' '\n' <<< "${p99[$side]}" | grep . | median)" "${rps[$side]}"
    done
    o=$(tr ' ' '\n' <<< "${rps[custscore]}" | grep . | median)
    t=$(tr ' ' '\n' <<< "${rps[peer]}" | grep . | median)
    awk -v c="$c" -v o="$o" -v t="$t" 'BEGIN { printf "c%-5s custscore/peer req/s ratio: %.1fx\n", c, o / t }'
    unset rps p50 p99
done
