#!/usr/bin/env bash
# What access control costs the service: the same server with scoped keys + audit log +
# rate limit + lock-out on, and with all of them off (no keys on loopback, no audit, no
# rate limit, --lockout-failures 0), loaded alternately (on, off, on, off, ...) with wrk
# posting varied telco customers (a different record per request, 500 in turn) to
# /v1/score, and 100-record batches to /v1/score/batch. Both sides get the same requests,
# bearer header included. The "on" rate limit is set far above what the machine serves,
# so every request pays for its bucket but none is refused (a 429 would stop the script).
# Medians of the rounds and the on/off ratio are printed.
# usage: benches/access_cost.sh [DURATION] [ROUNDS]   (default 10s, 5; PORT: the server's
#        loopback port, default a free one)
set -euo pipefail
DURATION="${1:-10s}"; ROUNDS="${2:-5}"
source "$(dirname "$0")/peers/common.sh"
need_wrk
cd "$REPO"
cargo build --release --quiet --bin custscore
MODELS="$OUT/access_models"
[ -f "$MODELS/CURRENT" ] || target/release/custscore train --models "$MODELS" >/dev/null
KEYS="$OUT/access_keys.txt"; rm -f "$KEYS"
target/release/custscore keys create --id bench --scopes score,read --keys-file "$KEYS" 2>/dev/null \
    > "$OUT/access_key.txt"
for n in 1 2 3 4 5 6 7 8 9; do   # a realistic ring: the key is found among ten
    target/release/custscore keys create --id "other$n" --scopes score --keys-file "$KEYS" >/dev/null 2>&1
done
KEY="$(cat "$OUT/access_key.txt")"

telco_lua access "$KEY"

PORT="${PORT:-$(free_port)}"
AUDIT="$OUT/access_audit.jsonl"
run_round() { # MODE(on|off) ROUTE SCRIPT → "req/s p50 p99"
    local flags=(--lockout-failures 0)
    [ "$1" = on ] && flags=(--api-keys-file "$KEYS" --audit-log "$AUDIT" \
        --rate-limit 1000000000 --rate-burst 1000000000)
    rm -f "$AUDIT"*
    target/release/custscore serve --models "$MODELS" --addr 127.0.0.1:$PORT --workers 2 \
        "${flags[@]}" 2>/dev/null &
    local pid=$!
    for _ in $(seq 1 300); do curl -sf -o /dev/null http://127.0.0.1:$PORT/readyz && break; sleep 0.1; done
    wrk -t2 -c32 -d"$DURATION" --latency -s "$OUT/$3.lua" "http://127.0.0.1:$PORT$2" > "$OUT/wrk_access.txt"
    kill "$pid"; wait "$pid" 2>/dev/null || true
    if [ "$1" = on ]; then   # the audit trail kept up: one line per request
        local lines; lines=$(cat "$AUDIT"* | wc -l)
        echo "  on: $lines audit lines" >&2
    fi
    wrk_result "$OUT/wrk_access.txt" "$1"
}

echo "wrk -t2 -c32 -d$DURATION, server --workers 2, $ROUNDS alternating rounds each, $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "on: 10 scoped keys, audit log, rate limit, lock-out; off: none of them"
on_off_table "$ROUNDS" access
