#!/usr/bin/env bash
# Two builds of `custscore serve` side by side in one run: OLD and NEW serve the same
# bundle on two loopback ports and take turns under the same wrk load (every request a
# different telco customer, score.lua over the 7,043 rows), ROUNDS rounds of DURATION at
# each concurrency in CONNS. Prints per build req/s, p99 and the server's CPU per
# answered request (utime + stime from /proc), medians over the rounds, every round's
# req/s, and NEW/OLD ratios; the rounds alternate which build goes first.
# BATCH=json or BATCH=csv posts 100-record batches to /v1/score/batch instead (CSV rows
# answered in CSV), and the CPU column is per record. OLD_FLAGS / NEW_FLAGS add `serve`
# flags to one side (the same binary twice with a flag on one side measures the flag).
# usage: benches/peers/serve_ab.sh OLD NEW [DURATION]   (default 8s; ROUNDS default 6,
#        CONNS default "8 32", WORKERS default the core count)
set -euo pipefail
source "$(dirname "$0")/common.sh"
OLD_BIN="$(realpath "$1")"; NEW_BIN="$(realpath "$2")"; DURATION="${3:-8s}"
ROUNDS="${ROUNDS:-6}"; CONNS="${CONNS:-8 32}"; WORKERS="${WORKERS:-$(nproc)}"
need_wrk
cd "$REPO"
serving_inputs "$NEW_BIN"
export BODIES="$TELCO_BODIES"
PER="request"
if [ -n "${BATCH:-}" ]; then
    batch_bodies
    export ROUTE=/v1/score/batch
    case "$BATCH" in
        json) BODIES="$JSON_BATCHES" ;;
        csv) BODIES="$CSV_BATCHES" CONTENT_TYPE=text/csv ACCEPT=text/csv; export CONTENT_TYPE ACCEPT ;;
        *) echo "BATCH is json or csv" >&2; exit 2 ;;
    esac
    PER="record"
fi

declare -A PORTS PIDS
for side in old new; do
    PORTS[$side]=$(free_port)
    bin=$OLD_BIN flags="${OLD_FLAGS:-}"
    [ "$side" = new ] && bin=$NEW_BIN flags="${NEW_FLAGS:-}"
    read -ra extra <<< "$flags"
    "$bin" serve --models "$MODELS" --addr "127.0.0.1:${PORTS[$side]}" --workers "$WORKERS" \
        "${extra[@]}" 2>/dev/null &
    PIDS[$side]=$!
done
trap 'kill ${PIDS[old]} ${PIDS[new]} 2>/dev/null || true' EXIT
for side in old new; do
    for _ in $(seq 1 600); do curl -sf -o /dev/null "http://127.0.0.1:${PORTS[$side]}/healthz" && break; sleep 0.2; done
done
echo "old: $OLD_BIN ${OLD_FLAGS:-}; new: $NEW_BIN ${NEW_FLAGS:-}; $WORKERS workers each; $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "${ROUTE:-/v1/score}${BATCH:+, 100 records a request in $BATCH}; server µs: CPU per $PER"
printf "%-5s %-4s %9s %8s %10s  %s\n" conns side "req/s" "p99 ms" "server µs" "rounds (req/s)"
for c in $CONNS; do
    declare -A rps=() p99=() cpu=()
    for round in $(seq "$ROUNDS"); do
        order="old new"; [ $((round % 2)) -eq 0 ] && order="new old"
        for side in $order; do
            measured=$(score_round "${PIDS[$side]}" "${PORTS[$side]}" "$c" "$DURATION" \
                "$OUT/ab_${side}_c${c}_$round.txt" "$side")
            read -r x _ z s _ _ _ <<< "$measured"
            [ "$PER" = record ] && s=$(awk -v s="$s" 'BEGIN { printf "%.3f", s / 100 }')
            rps[$side]+="$x "; p99[$side]+="$z "; cpu[$side]+="$s "
        done
    done
    declare -A med=()
    for side in old new; do
        for m in rps p99 cpu; do
            declare -n series="$m"
            med[$side.$m]="$(tr ' ' '\n' <<< "${series[$side]}" | grep . | median)"
        done
        printf "%-5s %-4s %9.0f %8s %10s  %s\n" "c$c" "$side" "${med[$side.rps]}" \
            "${med[$side.p99]}" "${med[$side.cpu]}" "${rps[$side]}"
    done
    awk -v c="$c" -v o="${med[old.rps]}" -v n="${med[new.rps]}" -v oc="${med[old.cpu]}" \
        -v nc="${med[new.cpu]}" -v op="${med[old.p99]}" -v np="${med[new.p99]}" -v per="$PER" \
        'BEGIN { printf "c%-4s new/old: throughput %.3f, p99 %.2fx, server CPU per %s %.3f\n", c, n / o, np / op, per, nc / oc }'
    unset rps p99 cpu med
done
