#!/usr/bin/env bash
# What drift monitoring costs the service: the same server with the monitoring window on
# and with --no-monitoring, loaded alternately (on, off, on, off, ...) with wrk posting
# varied telco customers (a different record per request, 500 in turn) to /v1/score, and
# 100-record batches to /v1/score/batch. Medians of the rounds and the on/off ratio are
# printed.
# usage: [WINDOW=15m] benches/monitoring_cost.sh [DURATION] [ROUNDS]   (default 10s, 3;
#        WINDOW is --monitoring-window of the "on" server: records (10000) or a span;
#        PORT: the server's loopback port, default a free one)
set -euo pipefail
DURATION="${1:-10s}"; ROUNDS="${2:-3}"; WINDOW="${WINDOW:-10000}"
source "$(dirname "$0")/peers/common.sh"
need_wrk
cd "$REPO"
cargo build --release --quiet --bin custscore
MODELS="$OUT/monitoring_models"
[ -f "$MODELS/CURRENT" ] || target/release/custscore train --models "$MODELS" >/dev/null

telco_lua varied

PORT="${PORT:-$(free_port)}"
run_round() { # MODE(on|off) ROUTE SCRIPT → "req/s p50 p99"
    local flags=(--monitoring-window "$WINDOW"); [ "$1" = off ] && flags=(--no-monitoring)
    target/release/custscore serve --models "$MODELS" --addr 127.0.0.1:$PORT --workers 2 \
        "${flags[@]}" 2>/dev/null &
    local pid=$!
    for _ in $(seq 1 300); do curl -sf -o /dev/null http://127.0.0.1:$PORT/readyz && break; sleep 0.1; done
    wrk -t2 -c32 -d"$DURATION" --latency -s "$OUT/$3.lua" "http://127.0.0.1:$PORT$2" > "$OUT/wrk_mon.txt"
    kill "$pid"; wait "$pid" 2>/dev/null || true
    wrk_result "$OUT/wrk_mon.txt" "$1"
}

echo "wrk -t2 -c32 -d$DURATION, monitoring window $WINDOW, $ROUNDS alternating rounds each, $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
on_off_table "$ROUNDS" varied
