#!/usr/bin/env bash
# POST /v1/score/batch (100 records a request) against the batch CLI (`custscore score`)
# on the same telco records, per CPU-second: records scored for each second of CPU the
# server process used (utime + stime from /proc, wrk's own CPU not counted) vs rows scored
# for each CPU-second of the `score` run (reading and writing the CSV included). Wall
# rates are shown too. Each side runs ROUNDS times (default 3), alternating; medians.
# usage: benches/peers/serve_batch.sh [DURATION]   (default 8s; ROUNDS, WORKERS, CONNS=8,
#        COPIES=30: the CSV is the 7,043 telco rows repeated COPIES times; BIN=path runs
#        that custscore binary instead of building target/release/custscore)
set -euo pipefail
source "$(dirname "$0")/common.sh"
DURATION="${1:-8s}"
ROUNDS="${ROUNDS:-3}"
CORES="$(nproc)"
WORKERS="${WORKERS:-$CORES}"
CONNS="${CONNS:-8}"
COPIES="${COPIES:-30}"
need_wrk
peer_venv pandas
cd "$REPO"
if [ -z "${BIN:-}" ]; then cargo build --release --quiet; fi
BIN="${BIN:-target/release/custscore}"
serving_inputs "$BIN"
ONE="$TELCO_BODIES"
# 100 records a body, one body a line (score.lua sends one line per request).
export BODIES="$OUT/telco_batches_100.jsonl"
awk '{ rec = rec (n ? "," : "") $0; n++ } n == 100 { print "[" rec "]"; rec = ""; n = 0 }' "$ONE" > "$BODIES"
BIG="$OUT/telco_x$COPIES.csv"
{ head -n 1 training-data/telco_churn.csv
  for _ in $(seq "$COPIES"); do tail -n +2 training-data/telco_churn.csv; done; } > "$BIG"
ROWS=$(( $(wc -l < "$BIG") - 1 ))
TICK=$(getconf CLK_TCK)
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

"$BIN" serve --models "$MODELS" --addr 127.0.0.1:18473 --workers "$WORKERS" 2>/dev/null &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 1 600); do curl -sf -o /dev/null http://127.0.0.1:18473/healthz && break; sleep 0.2; done
head -n 1 "$BODIES" > "$OUT/telco_batch_first.json"
check=$(curl -sS -H 'content-type: application/json' --data-binary "@$OUT/telco_batch_first.json" \
    http://127.0.0.1:18473/v1/score/batch | "$VENV/bin/python" -c 'import json,sys; a=json.load(sys.stdin); print(a.get("scored"), a.get("failed"), a.get("detail", ""))')
echo "one batch body: scored, failed = $check"
echo "machine: $CORES cores; serve --workers $WORKERS, wrk -t2 -c$CONNS, $DURATION a round; score: $ROWS rows ($COPIES x telco), all cores"
serve_cpu=() serve_wall=() cli_cpu=() cli_wall=()
for round in $(seq "$ROUNDS"); do
    before=$(cpu_ticks "$SERVER")
    out=$(wrk -t2 -c"$CONNS" -d"$DURATION" -s "$PEERS/score.lua" http://127.0.0.1:18473/v1/score/batch)
    after=$(cpu_ticks "$SERVER")
    if grep -q "Non-2xx" <<< "$out"; then echo "serve: $(grep Non-2xx <<< "$out")" >&2; exit 1; fi
    requests=$(awk '/requests in/ { print $1 }' <<< "$out")
    secs=$(awk '/requests in/ { v = $4; sub(/s,?$/, "", v); print v }' <<< "$out")
    serve_cpu+=("$(awk -v r="$requests" -v t="$(( after - before ))" -v k="$TICK" 'BEGIN { printf "%.0f", r * 100 / (t / k) }')")
    serve_wall+=("$(awk -v r="$requests" -v s="$secs" 'BEGIN { printf "%.0f", r * 100 / s }')")
    /usr/bin/time -o "$OUT/score_time.txt" -f "%e %U %S" "$BIN" score --models "$MODELS" \
        --input "$BIG" --output "$OUT/telco_scored.csv" >/dev/null 2>&1
    times=$(tail -n 1 "$OUT/score_time.txt")
    cli_cpu+=("$(awk -v n="$ROWS" '{ printf "%.0f", n / ($2 + $3) }' <<< "$times")")
    cli_wall+=("$(awk -v n="$ROWS" '{ printf "%.0f", n / $1 }' <<< "$times")")
    echo "round $round: serve ${serve_cpu[-1]} records/CPU-s (${serve_wall[-1]}/s wall); score ${cli_cpu[-1]} rows/CPU-s (${cli_wall[-1]}/s wall)"
done
s=$(printf "%s\n" "${serve_cpu[@]}" | median); c=$(printf "%s\n" "${cli_cpu[@]}" | median)
printf "median: serve %s records/CPU-s (%s/s wall), score %s rows/CPU-s (%s/s wall); serve/score per CPU-second: %s\n" \
    "$s" "$(printf "%s\n" "${serve_wall[@]}" | median)" "$c" "$(printf "%s\n" "${cli_wall[@]}" | median)" \
    "$(awk -v s="$s" -v c="$c" 'BEGIN { printf "%.2f", s / c }')"
