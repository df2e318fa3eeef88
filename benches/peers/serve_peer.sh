#!/usr/bin/env bash
# Serving throughput and latency, custscore vs FastAPI + uvicorn (2 workers) +
# scikit-learn + mlxtend, both answering the same three questions for one telco record,
# both loaded with the same wrk command on loopback, one after the other, in one run.
# usage: benches/peers/serve_peer.sh [DURATION]   (default 10s)
set -euo pipefail
source "$(dirname "$0")/common.sh"
DURATION="${1:-10s}"
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
peer_venv fastapi "uvicorn[standard]" scikit-learn pandas mlxtend
cd "$REPO"
cargo build --release --quiet
MODELS="$OUT/serve_models"
rm -rf "$MODELS"
target/release/custscore train --models "$MODELS" >/dev/null

load() { # load NAME URL → prints req/s, p50, p99 (ms)
    wrk -t2 -c32 -d"$DURATION" --latency -s "$PEERS/score.lua" "$2" > "$OUT/wrk_$1.txt"
    awk -v name="$1" '
        /Requests\/sec/ { rps = $2 }
        /^ +50%/ { p50 = $2 } /^ +99%/ { p99 = $2 }
        /Non-2xx/ { bad = $NF }
        END { printf "%-22s %12s %10s %10s %8s\n", name, rps, p50, p99, (bad ? bad : 0) }' "$OUT/wrk_$1.txt"
}
wait_ready() { for _ in $(seq 1 600); do curl -sf -o /dev/null "$1" && return 0; sleep 0.2; done; echo "not ready: $1" >&2; return 1; }

target/release/custscore serve --models "$MODELS" --addr 127.0.0.1:18181 --workers 2 2>/dev/null &
OURS=$!
PEER_DATA="$REPO/training-data/telco_churn.csv" "$VENV/bin/uvicorn" --app-dir "$PEERS" serve_peer_app:app \
    --host 127.0.0.1 --port 18182 --workers 2 --log-level warning &
THEIRS=$!
trap 'kill $OURS $THEIRS 2>/dev/null || true' EXIT
wait_ready http://127.0.0.1:18181/healthz
wait_ready http://127.0.0.1:18182/docs

echo "wrk -t2 -c32 -d$DURATION, one telco record per POST, loopback, $(nproc) cores"
printf "%-22s %12s %10s %10s %8s\n" server "req/s" p50 p99 non-2xx
load custscore http://127.0.0.1:18181/v1/score
# One connection: the latency of a single request with no queue in front of it.
wrk -t1 -c1 -d5s --latency -s "$PEERS/score.lua" http://127.0.0.1:18181/v1/score > "$OUT/wrk_c1.txt"
awk '/Requests\/sec/ { rps = $2 } /^ +50%/ { p50 = $2 } /^ +99%/ { p99 = $2 }
     END { printf "%-22s %12s %10s %10s %8s\n", "custscore (1 conn)", rps, p50, p99, 0 }' "$OUT/wrk_c1.txt"
kill $OURS
load fastapi+sklearn http://127.0.0.1:18182/v1/score
