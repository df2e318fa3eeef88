#!/usr/bin/env bash
# Single records beside 100-record batches on the same server: what a batch costs the
# latency of `POST /v1/score` requests sharing its workers. Two wrk runs at once for
# DURATION (default 6s): BATCH_CONNS connections (default 4) sending POST /v1/score/batch
# of 100 different telco customers, and SINGLE_CONNS (default 4) sending POST /v1/score,
# every request a different customer. Each binary given runs in turn within a round
# (ROUNDS, default 3), so old and new builds alternate under the same machine load.
# Prints, per binary and round, batches/s and the batches' p99, singles/s and the
# singles' p50 and p99; then medians per binary. FORMAT=csv sends the batches as CSV
# (header and 100 rows, answered in CSV) instead of JSON.
# usage: benches/peers/serve_mixed.sh [DURATION] [BINARY...]   (default
#        target/release/custscore, built first; WORKERS default the core count; PORT:
#        the loopback port, default a free one)
set -euo pipefail
source "$(dirname "$0")/common.sh"
DURATION="${1:-6s}"
shift || true
ROUNDS="${ROUNDS:-3}"
BATCH_CONNS="${BATCH_CONNS:-4}"
SINGLE_CONNS="${SINGLE_CONNS:-4}"
WORKERS="${WORKERS:-$(nproc)}"
PORT="${PORT:-$(free_port)}"
need_wrk
cd "$REPO"
BINS=("$@")
if [ "${#BINS[@]}" -eq 0 ]; then
    cargo build --release --quiet
    BINS=(target/release/custscore)
fi
serving_inputs "${BINS[0]}"
batch_bodies
BATCH_BODIES="$JSON_BATCHES" BATCH_TYPE=application/json BATCH_ACCEPT=""
if [ "${FORMAT:-json}" = csv ]; then
    BATCH_BODIES="$CSV_BATCHES" BATCH_TYPE=text/csv BATCH_ACCEPT=text/csv
fi
echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); serve --workers $WORKERS;" \
    "batches ($BATCH_TYPE): wrk -t1 -c$BATCH_CONNS, singles: wrk -t1 -c$SINGLE_CONNS, together, $DURATION a round"

# mixed_round BINARY: "batches/s batch-p99-ms singles/s single-p50-ms single-p99-ms"
mixed_round() {
    "$1" serve --models "$MODELS" --addr "127.0.0.1:$PORT" --workers "$WORKERS" 2>/dev/null &
    local server=$!
    for _ in $(seq 1 600); do curl -sf -o /dev/null "http://127.0.0.1:$PORT/healthz" && break; sleep 0.2; done
    BODIES="$BATCH_BODIES" CONTENT_TYPE="$BATCH_TYPE" ACCEPT="$BATCH_ACCEPT" wrk -t1 -c"$BATCH_CONNS" -d"$DURATION" --latency -s "$PEERS/score.lua" \
        "http://127.0.0.1:$PORT/v1/score/batch" > "$OUT/mixed_batch.txt" &
    local batches=$!
    BODIES="$TELCO_BODIES" wrk -t1 -c"$SINGLE_CONNS" -d"$DURATION" --latency -s "$PEERS/score.lua" \
        "http://127.0.0.1:$PORT/v1/score" > "$OUT/mixed_single.txt"
    wait "$batches"
    kill "$server"; wait "$server" 2>/dev/null || true
    read -r b_rate _ b_p99 <<< "$(wrk_result "$OUT/mixed_batch.txt" batches)"
    read -r s_rate s_p50 s_p99 <<< "$(wrk_result "$OUT/mixed_single.txt" singles)"
    echo "$b_rate $b_p99 $s_rate $s_p50 $s_p99"
}

declare -A results=()
for round in $(seq "$ROUNDS"); do
    for bin in "${BINS[@]}"; do
        r=$(mixed_round "$bin")
        results[$bin]+="$r"$'\n'
        read -r b bp s sp50 sp99 <<< "$r"
        printf "round %s %-36s batches/s %8.0f p99 %7s ms | singles/s %8.0f p50 %6s ms p99 %7s ms\n" \
            "$round" "$bin" "$b" "$bp" "$s" "$sp50" "$sp99"
    done
done
echo
for bin in "${BINS[@]}"; do
    col() { awk -v c="$1" 'NF { print $c }' <<< "${results[$bin]}" | median; }
    printf "median  %-36s batches/s %8.0f p99 %7s ms | singles/s %8.0f p50 %6s ms p99 %7s ms\n" \
        "$bin" "$(col 1)" "$(col 2)" "$(col 3)" "$(col 4)" "$(col 5)"
done
