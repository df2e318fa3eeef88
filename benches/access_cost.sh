#!/usr/bin/env bash
# What access control costs the service: the same server with scoped keys + audit log +
# rate limit + lock-out on, and with all of them off (no keys on loopback, no audit, no
# rate limit, --lockout-failures 0), loaded alternately (on, off, on, off, ...) with wrk
# posting varied telco customers (a different record per request, 500 in turn) to
# /v1/score, and 100-record batches to /v1/score/batch. Both sides get the same requests,
# bearer header included. The "on" rate limit is set far above what the machine serves,
# so every request pays for its bucket but none is refused (a 429 would stop the script).
# Medians of the rounds and the on/off ratio are printed.
# usage: benches/access_cost.sh [DURATION] [ROUNDS]   (default 10s, 5)
set -euo pipefail
DURATION="${1:-10s}"; ROUNDS="${2:-5}"
REPO="$(cd "$(dirname "$0")/.." && pwd)"
OUT="$REPO/benches/peers/out"; mkdir -p "$OUT"
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
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

# wrk scripts cycling through telco records (one per request, or 100 per request).
python3 - "$OUT" "$KEY" <<'PY'
import csv, json, sys
rows = list(csv.DictReader(open("training-data/telco_churn.csv")))[:500]
def lua(name, bodies):
    with open(f"{sys.argv[1]}/{name}.lua", "w") as f:
        f.write('wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n')
        f.write(f'wrk.headers["Authorization"] = "Bearer {sys.argv[2]}"\nbodies = {{\n')
        for b in bodies:
            f.write("  [==[" + json.dumps(b) + "]==],\n")
        f.write("}\ni = 0\nrequest = function()\n  i = i % #bodies + 1\n"
                "  return wrk.format(nil, nil, nil, bodies[i])\nend\n")
lua("access_one", rows)
lua("access_batch", [rows[k:k + 100] for k in range(0, 500, 100)])
PY

PORT=18193
AUDIT="$OUT/access_audit.jsonl"
run_round() { # MODE(on|off) ROUTE SCRIPT → "req/s p99"
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
    awk '/Requests\/sec/ { rps = $2 } /^ +99%/ { p99 = $2 } /Non-2xx/ { bad = $NF }
         END { if (bad) { print "non-2xx answers: " bad > "/dev/stderr"; exit 1 } print rps, p99 }' "$OUT/wrk_access.txt"
}
median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

echo "wrk -t2 -c32 -d$DURATION, server --workers 2, $ROUNDS alternating rounds each, $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "on: 10 scoped keys, audit log, rate limit, lock-out; off: none of them"
printf "%-18s %-4s %10s %10s   rounds (req/s)\n" route mode "req/s" "p99"
for spec in "/v1/score access_one" "/v1/score/batch access_batch"; do
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
    on=$(tr ' ' '\n' <<<"${rps[on]}" | grep . | median)
    off=$(tr ' ' '\n' <<<"${rps[off]}" | grep . | median)
    awk -v r="$1" -v on="$on" -v off="$off" \
        'BEGIN { printf "%-18s on/off req/s: %.3f (cost %.1f%%)\n", r, on / off, 100 * (1 - on / off) }'
    unset rps p99
done
