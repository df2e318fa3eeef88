#!/usr/bin/env bash
# What drift monitoring costs the service: the same server with the monitoring window on
# and with --no-monitoring, loaded alternately (on, off, on, off, ...) with wrk posting
# varied telco customers (a different record per request, 500 in turn) to /v1/score, and
# 100-record batches to /v1/score/batch. Medians of the rounds are printed.
# usage: [WINDOW=15m] benches/monitoring_cost.sh [DURATION] [ROUNDS]   (default 10s, 3;
#        WINDOW is --monitoring-window of the "on" server: records (10000) or a span)
set -euo pipefail
DURATION="${1:-10s}"; ROUNDS="${2:-3}"; WINDOW="${WINDOW:-10000}"
REPO="$(cd "$(dirname "$0")/.." && pwd)"
OUT="$REPO/benches/peers/out"; mkdir -p "$OUT"
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
cd "$REPO"
cargo build --release --quiet --bin custscore
MODELS="$OUT/monitoring_models"
[ -f "$MODELS/CURRENT" ] || target/release/custscore train --models "$MODELS" >/dev/null

# A wrk script cycling through telco records (one per request, or BATCH per request).
python3 - "$OUT" <<'PY'
import csv, json, sys
rows = list(csv.DictReader(open("training-data/telco_churn.csv")))[:500]
def lua(name, bodies):
    with open(f"{sys.argv[1]}/{name}.lua", "w") as f:
        f.write('wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\nbodies = {\n')
        for b in bodies:
            f.write("  [==[" + json.dumps(b) + "]==],\n")
        f.write("}\ni = 0\nrequest = function()\n  i = i % #bodies + 1\n"
                "  return wrk.format(nil, nil, nil, bodies[i])\nend\n")
lua("varied_one", rows)
lua("varied_batch", [rows[k:k + 100] for k in range(0, 500, 100)])
PY

PORT=18191
run_round() { # MODE(on|off) ROUTE SCRIPT → "req/s p99"
    local flags=(--monitoring-window "$WINDOW"); [ "$1" = off ] && flags=(--no-monitoring)
    target/release/custscore serve --models "$MODELS" --addr 127.0.0.1:$PORT --workers 2 \
        "${flags[@]}" 2>/dev/null &
    local pid=$!
    for _ in $(seq 1 300); do curl -sf -o /dev/null http://127.0.0.1:$PORT/readyz && break; sleep 0.1; done
    wrk -t2 -c32 -d"$DURATION" --latency -s "$OUT/$3.lua" "http://127.0.0.1:$PORT$2" > "$OUT/wrk_mon.txt"
    kill "$pid"; wait "$pid" 2>/dev/null || true
    awk '/Requests\/sec/ { rps = $2 } /^ +99%/ { p99 = $2 } /Non-2xx/ { bad = $NF }
         END { if (bad) { print "non-2xx answers: " bad > "/dev/stderr"; exit 1 } print rps, p99 }' "$OUT/wrk_mon.txt"
}
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

echo "wrk -t2 -c32 -d$DURATION, monitoring window $WINDOW, $ROUNDS alternating rounds each, $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
printf "%-18s %-4s %10s %10s   rounds (req/s)\n" route mode "req/s" "p99"
for spec in "/v1/score varied_one" "/v1/score/batch varied_batch"; do
    set -- $spec
    declare -A rps=() p99=()
    for r in $(seq 1 "$ROUNDS"); do
        for mode in on off; do
            read -r x y < <(run_round "$mode" "$1" "$2")
            rps[$mode]+="$x "; p99[$mode]+="$y "
        done
    done
    for mode in on off; do
        printf "%-18s %-4s %10s %10s   %s\n" "$1" "$mode" \
            "$(tr ' ' '\n' <<<"${rps[$mode]}" | grep . | median)" \
            "$(tr ' ' '\n' <<<"${p99[$mode]}" | grep . | sed 's/ms//' | median)ms" "${rps[$mode]}"
    done
    unset rps p99
done
