#!/usr/bin/env bash
# custscore serve against the framework's limit: a bare actix-web handler
# (benches/peers/bare_actix: same actix-web and serde_json versions, from custscore's
# Cargo.lock, same allocator, worker count, keep-alive, backlog and shutdown settings)
# that parses the same JSON body into a serde_json::Value and answers a small JSON object.
#
# Same load on both sides, in one run:
# - every request carries a different real customer: score.lua cycles through the telco
#   rows (training-data/telco_churn.csv, BODIES_ROWS of them, default all 7,043) as JSON
#   bodies, each wrk thread from its own place;
# - the same WORKERS (default: the core count) for both servers, on loopback; wrk runs on
#   the same machine (-t1 at c1, -t2 above) and takes CPU from both alike;
# - for each concurrency in CONNS (default "1 8 32"), ROUNDS rounds (default 3) of
#   DURATION each (default 8s), the two servers alternating within a round.
# Prints per side req/s, p50 and p99, the server process's CPU per answered request
# (utime + stime from /proc) and wrk's own CPU per request, each with its system (kernel)
# part (medians over the rounds), every round's req/s, and the custscore/bare ratios
# (throughput also as the median of the rounds' own ratios).
# usage: benches/peers/serve_bare.sh [DURATION]   (ROUNDS, CONNS, WORKERS, BODIES_ROWS;
#        PORT and BARE_PORT: the two servers' loopback ports, default free ones; BIN=path
#        runs that custscore binary instead of building target/release/custscore;
#        PROFILE=production builds both sides with the shipped cargo profile instead)
set -euo pipefail
source "$(dirname "$0")/common.sh"
DURATION="${1:-8s}"
ROUNDS="${ROUNDS:-3}"
CONNS="${CONNS:-1 8 32}"
CORES="$(nproc)"
WORKERS="${WORKERS:-$CORES}"
PORT="${PORT:-$(free_port)}"
BARE_PORT="${BARE_PORT:-$(free_port)}"
[ "$PORT" != "$BARE_PORT" ] || { echo "PORT and BARE_PORT must differ" >&2; exit 2; }
need_wrk
peer_venv pandas
cd "$REPO"
if [ -z "${BIN:-}" ]; then cargo build --profile "${PROFILE:-release}" --quiet; fi
BIN="${BIN:-target/${PROFILE:-release}/custscore}"
build_bare
echo "cargo profile ${PROFILE:-release} (bare handler; custscore: $BIN)"
echo "actix-web $(awk '/^name = "actix-web"$/ { getline; print $3 }' Cargo.lock | tr -d '"') on both sides"

serving_inputs "$BIN"
# Its own file: the shared one stays whole for the other benches when BODIES_ROWS is small.
export BODIES="$OUT/telco_bodies_bare_first.jsonl"
head -n "${BODIES_ROWS:-100000}" "$TELCO_BODIES" > "$BODIES"


wait_ready() { for _ in $(seq 1 1500); do curl -sf -o /dev/null "$1" && return 0; sleep 0.2; done; echo "not ready: $1" >&2; return 1; }

"$BIN" serve --models "$MODELS" --addr "127.0.0.1:$PORT" --workers "$WORKERS" 2>/dev/null &
OURS=$!
"$BARE_BIN" "127.0.0.1:$BARE_PORT" "$WORKERS" 2>/dev/null &
BARE=$!
trap 'kill $OURS $BARE 2>/dev/null || true' EXIT
wait_ready "http://127.0.0.1:$PORT/healthz"
for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$BARE_PORT/" && break; sleep 0.1; done
first="$(head -n 1 "$BODIES")"
for port in "$PORT" "$BARE_PORT"; do
    echo "answer on :$port: $(curl -sf -H 'content-type: application/json' -d "$first" "http://127.0.0.1:$port/v1/score" | cut -c1-200)"
done

echo "machine: $CORES cores; custscore serve --workers $WORKERS; bare_actix $WORKERS workers; both: actix default keep-alive and backlog"
echo "load: wrk on loopback, $DURATION per round, bodies cycling through $(wc -l < "$BODIES") telco customers; medians of $ROUNDS rounds, sides alternating"
printf "%-5s %-10s %9s %8s %8s %10s %8s %8s %8s  %s\n" conns server "req/s" "p50 ms" "p99 ms" \
    "server µs" "of sys" "wrk µs" "of sys" "rounds (req/s)"
for c in $CONNS; do
    declare -A rps=() p50=() p99=() cpu=() client=() sys=() client_sys=()
    for round in $(seq "$ROUNDS"); do
        for side in bare custscore; do
            port=$PORT; pid=$OURS; [ "$side" = bare ] && { port=$BARE_PORT; pid=$BARE; }
            measured=$(score_round "$pid" "$port" "$c" "$DURATION" \
                "$OUT/bare_wrk_${side}_c${c}_$round.txt" "$side")
            read -r x y z s w k ks <<< "$measured"
            rps[$side]+="$x "; p50[$side]+="$y "; p99[$side]+="$z "
            cpu[$side]+="$s "; client[$side]+="$w "; sys[$side]+="$k "; client_sys[$side]+="$ks "
        done
    done
    declare -A med=()
    for side in bare custscore; do
        for m in rps p50 p99 cpu client sys client_sys; do
            declare -n series="$m"
            med[$side.$m]="$(tr ' ' '\n' <<< "${series[$side]}" | grep . | median)"
        done
        printf "%-5s %-10s %9.0f %8s %8s %10s %8s %8s %8s  %s\n" "c$c" "$side" "${med[$side.rps]}" \
            "${med[$side.p50]}" "${med[$side.p99]}" "${med[$side.cpu]}" "${med[$side.sys]}" \
            "${med[$side.client]}" "${med[$side.client_sys]}" "${rps[$side]}"
    done
    # Each round's two sides ran back to back, so their ratio is paired: the median of
    # those ratios leaves out more of the machine's drift than the ratio of the medians.
    paired="$(paste -d' ' <(tr ' ' '\n' <<< "${rps[custscore]}" | grep .) \
        <(tr ' ' '\n' <<< "${rps[bare]}" | grep .) | awk '{ print $1 / $2 }' | median)"
    awk -v c="$c" -v o="${med[custscore.rps]}" -v b="${med[bare.rps]}" -v r="$paired" \
        -v op="${med[custscore.p99]}" -v bp="${med[bare.p99]}" \
        -v oc="${med[custscore.cpu]}" -v bc="${med[bare.cpu]}" \
        'BEGIN { printf "c%-4s custscore/bare: throughput %.2f (round by round: median %.2f), p99 %.2fx, server CPU per request %.2fx\n", c, o / b, r, op / bp, oc / bc }'
    unset rps p50 p99 cpu client sys client_sys med
done
