#!/usr/bin/env bash
# POST /v1/score/batch (100 records a request) against the batch CLI (`custscore score`)
# on the same telco records, per CPU-second: records scored for each second of CPU the
# server process used (utime + stime from /proc, wrk's own CPU not counted) vs rows scored
# for each CPU-second of the `score` run (reading and writing the CSV included).
# The route is measured in both of its formats:
# - json: a JSON array of 100 customers in, the JSON answer out (segment object, offers
#   with their rules as reasons, retention with reasons, per record);
# - csv: 100 rows of the telco CSV with its header in (`Content-Type: text/csv`), the
#   CLI's own CSV rows out (`Accept: text/csv`): the same work as the CLI, in and out.
# Wall rates and the system share of the CPU are shown too. Each round runs json, csv
# and the CLI once, in that order; ROUNDS rounds (default 3); medians ("by round": the
# median of each round's own ratio to that round's CLI run).
# usage: benches/peers/serve_batch.sh [DURATION]   (default 8s; ROUNDS, WORKERS, CONNS=8,
#        COPIES=30: the CLI's CSV is the 7,043 telco rows repeated COPIES times; PORT:
#        the server's loopback port, default a free one; BIN=path runs that custscore
#        binary instead of building target/release/custscore; PIN=1 gives the server one
#        worker and the CLI one thread, both on core 0, and wrk core 1 to itself: one core
#        against one core, without the client on the server's core)
set -euo pipefail
source "$(dirname "$0")/common.sh"
DURATION="${1:-8s}"
ROUNDS="${ROUNDS:-3}"
CORES="$(nproc)"
WORKERS="${WORKERS:-$CORES}"
CONNS="${CONNS:-8}"
COPIES="${COPIES:-30}"
PORT="${PORT:-$(free_port)}"
URL="http://127.0.0.1:$PORT/v1/score/batch"
need_wrk
peer_venv pandas
cd "$REPO"
if [ -z "${BIN:-}" ]; then cargo build --release --quiet; fi
BIN="${BIN:-target/release/custscore}"
serving_inputs "$BIN"
batch_bodies
JSON_BODIES="$JSON_BATCHES" CSV_BODIES="$CSV_BATCHES"
BIG="$OUT/telco_x$COPIES.csv"
{ head -n 1 training-data/telco_churn.csv
  for _ in $(seq "$COPIES"); do tail -n +2 training-data/telco_churn.csv; done; } > "$BIG"
ROWS=$(( $(wc -l < "$BIG") - 1 ))
TICK=$(getconf CLK_TCK)
ON_SERVER_CORE=(); ON_CLIENT_CORE=(); THREADS=2; PLACEMENT="all cores"
if [ "${PIN:-0}" = 1 ]; then
    WORKERS=1 THREADS=1 ON_SERVER_CORE=(taskset -c 0) ON_CLIENT_CORE=(taskset -c 1)
    PLACEMENT="server and CLI on core 0, wrk on core 1"
fi

"${ON_SERVER_CORE[@]}" "$BIN" serve --models "$MODELS" --addr "127.0.0.1:$PORT" --workers "$WORKERS" 2>/dev/null &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 1 600); do curl -sf -o /dev/null "http://127.0.0.1:$PORT/healthz" && break; sleep 0.2; done
head -n 1 "$JSON_BODIES" > "$OUT/telco_batch_first.json"
check=$(curl -sS -H 'content-type: application/json' --data-binary "@$OUT/telco_batch_first.json" "$URL" \
    | "$VENV/bin/python" -c 'import json,sys; a=json.load(sys.stdin); print(a.get("scored"), a.get("failed"), a.get("detail", ""))')
echo "one JSON batch: scored, failed = $check"
awk 'NF == 0 { exit } { print }' "$CSV_BODIES" > "$OUT/telco_batch_first.csv"
curl -sS -D "$OUT/telco_batch_first.headers" -o "$OUT/telco_batch_first.scored.csv" \
    -H 'content-type: text/csv' -H 'accept: text/csv' --data-binary "@$OUT/telco_batch_first.csv" "$URL"
echo "one CSV batch: $(grep -i '^x-\(scored\|rejected\)' "$OUT/telco_batch_first.headers" | tr -d '\r' | tr '\n' ' ')"
echo "bytes a request, in / out: json $(wc -c < "$OUT/telco_batch_first.json") / $(curl -sS -H 'content-type: application/json' --data-binary "@$OUT/telco_batch_first.json" "$URL" | wc -c);" \
    "csv $(wc -c < "$OUT/telco_batch_first.csv") / $(wc -c < "$OUT/telco_batch_first.scored.csv")"
echo "machine: $CORES cores, load $(cut -d' ' -f1-3 /proc/loadavg); serve --workers $WORKERS on :$PORT, wrk -t$THREADS -c$CONNS, $DURATION a round; score: $ROWS rows ($COPIES x telco); $PLACEMENT"

# serve_round FORMAT: "records/CPU-s records/s-wall system-share" of one wrk run.
serve_round() {
    local content_type=application/json bodies="$JSON_BODIES" accept=""
    if [ "$1" = csv ]; then content_type=text/csv bodies="$CSV_BODIES" accept=text/csv; fi
    local before after out requests secs
    before=$(cpu_split "$SERVER")
    out=$(CONTENT_TYPE="$content_type" ACCEPT="$accept" BODIES="$bodies" \
        "${ON_CLIENT_CORE[@]}" wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" -s "$PEERS/score.lua" "$URL")
    after=$(cpu_split "$SERVER")
    if grep -q "Non-2xx" <<< "$out"; then echo "serve $1: $(grep Non-2xx <<< "$out")" >&2; exit 1; fi
    requests=$(awk '/requests in/ { print $1 }' <<< "$out")
    secs=$(awk '/requests in/ { v = $4; sub(/s,?$/, "", v); print v }' <<< "$out")
    awk -v r="$requests" -v s="$secs" -v k="$TICK" -v b="$before" -v a="$after" 'BEGIN {
        split(b, x, " "); split(a, y, " "); u = y[1] - x[1]; t = y[2] - x[2]
        printf "%.0f %.0f %.2f\n", r * 100 / ((u + t) / k), r * 100 / s, t / (u + t) }'
}

declare -A cpu=() wall=() sys=() paired=()
for round in $(seq "$ROUNDS"); do
    for side in json csv; do
        result=$(serve_round "$side")   # a refused request ends the script here
        read -r c w s <<< "$result"
        cpu[$side]+="$c "; wall[$side]+="$w "; sys[$side]+="$s "
    done
    /usr/bin/time -o "$OUT/score_time.txt" -f "%e %U %S" "${ON_SERVER_CORE[@]}" "$BIN" score --models "$MODELS" \
        --input "$BIG" --output "$OUT/telco_scored.csv" >/dev/null 2>&1
    read -r c w s <<< "$(tail -n 1 "$OUT/score_time.txt" | awk -v n="$ROWS" \
        '{ printf "%.0f %.0f %.2f\n", n / ($2 + $3), n / $1, $3 / ($2 + $3) }')"
    cpu[cli]+="$c "; wall[cli]+="$w "; sys[cli]+="$s "
    for side in json csv; do   # this round's ratio: both sides ran back to back
        paired[$side]+="$(awk -v a="$(awk '{ print $NF }' <<< "${cpu[$side]}")" -v c="$c" 'BEGIN { print a / c }') "
    done
    printf "round %s: records/CPU-s json %s, csv %s, cli %s\n" "$round" \
        "$(awk '{ print $NF }' <<< "${cpu[json]}")" "$(awk '{ print $NF }' <<< "${cpu[csv]}")" "$c"
done
med() { tr ' ' '\n' <<< "$1" | grep . | median; }
printf "\n%-22s %14s %12s %10s %10s %10s   %s\n" side "records/CPU-s" "records/s" "sys share" "vs cli" "by round" "rounds (records/CPU-s)"
c_cli=$(med "${cpu[cli]}")
for side in json csv cli; do
    label="serve, $side in/out"; [ "$side" = cli ] && label="score (batch CLI)"
    c=$(med "${cpu[$side]}")
    by_round=1.00; [ "$side" = cli ] || by_round=$(awk -v r="$(med "${paired[$side]}")" 'BEGIN { printf "%.2f", r }')
    printf "%-22s %14s %12s %10s %10s %10s   %s\n" "$label" "$c" "$(med "${wall[$side]}")" \
        "$(med "${sys[$side]}")" "$(awk -v c="$c" -v l="$c_cli" 'BEGIN { printf "%.2f", c / l }')" \
        "$by_round" "${cpu[$side]}"
done
