#!/usr/bin/env bash
# Serving defaults measured: `custscore serve` under several settings of --workers,
# --keep-alive and --backlog, at several concurrencies, on all cores and on one core.
#
# - Load: POST /v1/score, every request a different telco customer (score.lua cycles
#   through the 7,043 rows of training-data/telco_churn.csv as JSON bodies).
# - SETTINGS (default "w1 w2 w4 w2:ka0 w2:bl16"): wN = N workers, ka0 = keep-alive off
#   (one request a connection), blN = a listen backlog of N; unset parts are the
#   defaults (keep-alive 5 s, backlog 1024). With more cores, e.g. SETTINGS="w4 w8 w16".
# - CPUS (default "all one"): "all" runs the server on every core; "one" pins it to core
#   0 with `taskset -c 0` (wrk then runs on the other cores when there are any).
# - CONNS (default "1 8 32"): wrk connections; wrk uses -t1 at c1 and -t2 above.
# - ROUNDS rounds (default 1) of DURATION (default 3s); within a round every setting runs
#   once in turn, so a change in load hits all of them alike. Medians over the rounds.
# Prints one line per (cpus, setting, conns): req/s, p50 and p99 (medians), and the
# req/s of every round. Answers other than 2xx stop the run; socket errors (connects
# refused or reset when the backlog overflows) are shown per cell.
# usage: benches/peers/serve_sizing.sh [DURATION]   (ROUNDS, SETTINGS, CPUS, CONNS,
#        PORT default 18483, BIN=path to skip the build)
set -euo pipefail
source "$(dirname "$0")/common.sh"
DURATION="${1:-3s}"
ROUNDS="${ROUNDS:-1}"
SETTINGS="${SETTINGS:-w1 w2 w4 w2:ka0 w2:bl16}"
CPUS="${CPUS:-all one}"
CONNS="${CONNS:-1 8 32}"
PORT="${PORT:-18483}"
CORES="$(nproc)"
need_wrk
cd "$REPO"
if [ -z "${BIN:-}" ]; then cargo build --release --quiet; fi
BIN="${BIN:-target/release/custscore}"
serving_inputs "$BIN"
export BODIES="$TELCO_BODIES"
echo "machine: $CORES cores, load $(cut -d' ' -f1-3 /proc/loadavg); $DURATION a cell, $ROUNDS round(s)"

# flags SETTING: the serve flags a setting names.
flags() {
    local part flags=()
    IFS=':' read -ra parts <<< "$1"
    for part in "${parts[@]}"; do
        case "$part" in
            w*) flags+=(--workers "${part#w}") ;;
            ka*) flags+=(--keep-alive "${part#ka}") ;;
            bl*) flags+=(--backlog "${part#bl}") ;;
            *) echo "unknown setting part: $part" >&2; exit 2 ;;
        esac
    done
    echo "${flags[*]}"
}

# cell CPUS SETTING CONNS: "req/s p50 p99 socket-errors" of one wrk run on a fresh server.
cell() {
    local pin=() load=() threads=2 server out
    if [ "$1" = one ]; then
        pin=(taskset -c 0)
        [ "$CORES" -gt 1 ] && load=(taskset -c "1-$((CORES - 1))")
    fi
    [ "$3" = 1 ] && threads=1
    # shellcheck disable=SC2046 # the flags are words
    "${pin[@]}" "$BIN" serve --models "$MODELS" --addr "127.0.0.1:$PORT" $(flags "$2") 2>/dev/null &
    server=$!
    for _ in $(seq 1 300); do curl -sf -o /dev/null "http://127.0.0.1:$PORT/healthz" && break; sleep 0.1; done
    out="$OUT/sizing_$1_${2//:/_}_c$3.txt"
    "${load[@]}" wrk -t"$threads" -c"$3" -d"$DURATION" --latency -s "$PEERS/score.lua" \
        "http://127.0.0.1:$PORT/v1/score" > "$out"
    kill "$server"; wait "$server" 2>/dev/null || true
    echo "$(wrk_result "$out" "$1 $2 c$3") $(awk '/Socket errors/ { e = $4 + $6 + $8 + $10 } END { print e + 0 }' "$out")"
}

declare -A rps p50 p99 errors
for round in $(seq "$ROUNDS"); do
    for cpus in $CPUS; do
        for conns in $CONNS; do
            for setting in $SETTINGS; do
                read -r r a b e <<< "$(cell "$cpus" "$setting" "$conns")"
                key="$cpus $setting $conns"
                rps[$key]+="$r "; p50[$key]+="$a "; p99[$key]+="$b "; errors[$key]+="$e "
            done
        done
    done
done

med() { tr ' ' '\n' <<< "$1" | grep . | median; }
printf "%-4s %-12s %-28s %5s %10s %9s %9s %7s   rounds (req/s)\n" \
    cpus setting "serve flags" conns "req/s" "p50 ms" "p99 ms" errors
for cpus in $CPUS; do
    for conns in $CONNS; do
        for setting in $SETTINGS; do
            key="$cpus $setting $conns"
            printf "%-4s %-12s %-28s %5s %10s %9s %9s %7s   %s\n" "$cpus" "$setting" \
                "$(flags "$setting")" "c$conns" "$(med "${rps[$key]}")" "$(med "${p50[$key]}")" \
                "$(med "${p99[$key]}")" "$(med "${errors[$key]}")" "${rps[$key]}"
        done
    done
done
