# Shared by the peer scripts: a Python venv of their own under benches/peers/.venv.
PEERS="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$PEERS/../.." && pwd)"
VENV="$PEERS/.venv"
OUT="$PEERS/out"
mkdir -p "$OUT"

# peer_venv PKG...: create the venv if needed and install what is missing. pip runs as
# `python -m pip`: a venv copied from elsewhere keeps its old path in bin/pip's first line.
peer_venv() {
    [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
    local missing=()
    for pkg in "$@"; do
        "$VENV/bin/python" -m pip show "${pkg%%[=<>]*}" >/dev/null 2>&1 || missing+=("$pkg")
    done
    if [ "${#missing[@]}" -gt 0 ]; then
        "$VENV/bin/python" -m pip install --quiet "${missing[@]}"
    fi
}

# need_wrk: install wrk when it is missing.
need_wrk() {
    command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
}

# serving_inputs BIN: what the serving benches share, from the repository root. MODELS: a
# bundle trained by BIN with the defaults on first use; TELCO_BODIES: one JSON body a
# line for each of the 7,043 telco customers.
serving_inputs() {
    MODELS="$OUT/bare_models"
    [ -f "$MODELS/CURRENT" ] || "$1" train --models "$MODELS" >/dev/null 2>&1
    TELCO_BODIES="$OUT/telco_bodies_bare.jsonl"
    if [ ! -s "$TELCO_BODIES" ]; then
        peer_venv pandas
        "$VENV/bin/python" "$PEERS/make_bodies.py" training-data/telco_churn.csv "$TELCO_BODIES" churn
    fi
}

# batch_bodies: after serving_inputs, 100 telco customers a body for POST /v1/score/batch.
# JSON_BATCHES: one JSON array a line; CSV_BATCHES: the CSV header and 100 rows a block,
# blocks separated by an empty line (score.lua reads both).
batch_bodies() {
    JSON_BATCHES="$OUT/telco_batches_100.jsonl"
    awk '{ rec = rec (n ? "," : "") $0; n++ } n == 100 { print "[" rec "]"; rec = ""; n = 0 }' \
        "$TELCO_BODIES" > "$JSON_BATCHES"
    CSV_BATCHES="$OUT/telco_batches_100.csvblocks"
    awk 'NR == 1 { header = $0; next }
         { if (n == 0) print header; print; n++ }
         n == 100 { print ""; n = 0 }' "$REPO/training-data/telco_churn.csv" > "$CSV_BATCHES"
}

# build_bare: build the bare actix-web handler (benches/peers/bare_actix) against our
# Cargo.lock, so its actix-web is ours to the patch, with cargo profile PROFILE (default
# release; custscore's and the handler's `production` match); sets BARE_BIN.
build_bare() {
    local profile="${PROFILE:-release}"
    cp "$REPO/Cargo.lock" "$PEERS/bare_actix/Cargo.lock"
    CARGO_TARGET_DIR="$OUT/bare_target" cargo build --profile "$profile" --quiet \
        --manifest-path "$PEERS/bare_actix/Cargo.toml"
    BARE_BIN="$OUT/bare_target/$profile/bare_actix"
}

# free_port: a loopback port nothing listens on now (for a server the script starts).
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# cpu_split PID: "user system" CPU ticks of a process so far (getconf CLK_TCK a second).
cpu_split() { awk '{ print $14, $15 }' "/proc/$1/stat"; }

# score_round PID PORT CONNS DURATION OUT LABEL: one wrk run of score.lua ($BODIES) on
# POST $ROUTE (default /v1/score) of the server PID listening on PORT (-t1 at c1, -t2
# above), its report in
# OUT; prints "req/s p50_ms p99_ms server_µs wrk_µs server_sys_µs wrk_sys_µs": CPU per
# answered request of the server process and of wrk, then the system (kernel) part of
# each. Fails, naming LABEL, on a non-2xx answer.
score_round() {
    local threads=$(( $3 < 2 ? 1 : 2 )) before after answered result
    before=$(cpu_split "$1")
    /usr/bin/time -f "%U %S" -o "$5.cpu" \
        wrk -t"$threads" -c"$3" -d"$4" --latency -s "$PEERS/score.lua" \
        "http://127.0.0.1:$2${ROUTE:-/v1/score}" > "$5"
    after=$(cpu_split "$1")
    result=$(wrk_result "$5" "$6") || return 1
    answered=$(awk '/requests in/ { print $1 }' "$5")
    echo "$result" "$(awk -v b="$before" -v a="$after" -v hz="$(getconf CLK_TCK)" \
        -v n="$answered" '{ split(b, x); split(a, y)
            printf "%.2f %.2f %.2f %.2f", (y[1] + y[2] - x[1] - x[2]) / hz * 1e6 / n,
                ($1 + $2) * 1e6 / n, (y[2] - x[2]) / hz * 1e6 / n, $2 * 1e6 / n }' "$5.cpu")"
}

# median: the middle one of the numbers on standard input, one a line.
median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# ms LATENCY: wrk's latency in ms whatever unit it printed (us, ms, s).
ms() { awk '{ v = $1; if (v ~ /us$/) { sub(/us$/, "", v); v /= 1000 } else if (v ~ /ms$/) { sub(/ms$/, "", v) } else if (v ~ /s$/) { sub(/s$/, "", v); v *= 1000 } printf "%.3f", v }' <<< "$1"; }

# wrk_result FILE LABEL: "req/s p50_ms p99_ms" of a `wrk --latency` report; fails, naming
# LABEL, when any answer was not 2xx (a refused request is not a measurement).
wrk_result() {
    if grep -q "Non-2xx" "$1"; then echo "$2: $(grep Non-2xx "$1")" >&2; return 1; fi
    echo "$(awk '/Requests\/sec/ { print $2 }' "$1")" \
        "$(ms "$(awk '/^ +50%/ { print $2 }' "$1")")" \
        "$(ms "$(awk '/^ +99%/ { print $2 }' "$1")")"
}

# telco_lua NAME [KEY]: wrk scripts $OUT/NAME_one.lua and $OUT/NAME_batch.lua cycling
# through the first 500 telco customers, one per request or 100 per request; with KEY,
# every request carries it as a bearer token.
telco_lua() {
    python3 - "$OUT" "$1" "${2:-}" <<'PY'
import csv, json, sys
out, name, key = sys.argv[1:4]
rows = list(csv.DictReader(open("training-data/telco_churn.csv")))[:500]
def lua(path, bodies):
    with open(path, "w") as f:
        f.write('wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n')
        if key:
            f.write(f'wrk.headers["Authorization"] = "Bearer {key}"\n')
        f.write("bodies = {\n")
        for b in bodies:
            f.write("  [==[" + json.dumps(b) + "]==],\n")
        f.write("}\ni = 0\nrequest = function()\n  i = i % #bodies + 1\n"
                "  return wrk.format(nil, nil, nil, bodies[i])\nend\n")
lua(f"{out}/{name}_one.lua", rows)
lua(f"{out}/{name}_batch.lua", [rows[k:k + 100] for k in range(0, 500, 100)])
PY
}

# on_off_table ROUNDS LUA_NAME: for /v1/score and /v1/score/batch, ROUNDS rounds of the
# caller's `run_round MODE ROUTE SCRIPT` (MODE on or off; prints wrk_result's line), the
# two modes alternating; prints each mode's medians and rounds, and the on/off ratio.
on_off_table() {
    printf "%-18s %-4s %10s %10s   rounds (req/s)\n" route mode "req/s" "p99"
    local route script r mode result x y on off
    for spec in "/v1/score $2_one" "/v1/score/batch $2_batch"; do
        read -r route script <<< "$spec"
        local -A rps=() p99=()
        for r in $(seq 1 "$1"); do
            for mode in on off; do
                result=$(run_round "$mode" "$route" "$script")
                read -r x _ y <<< "$result"
                rps[$mode]+="$x "; p99[$mode]+="$y "
            done
        done
        for mode in on off; do
            printf "%-18s %-4s %10s %10s   %s\n" "$route" "$mode" \
                "$(tr ' ' '\n' <<< "${rps[$mode]}" | grep . | median)" \
                "$(tr ' ' '\n' <<< "${p99[$mode]}" | grep . | median)ms" "${rps[$mode]}"
        done
        on=$(tr ' ' '\n' <<< "${rps[on]}" | grep . | median)
        off=$(tr ' ' '\n' <<< "${rps[off]}" | grep . | median)
        awk -v r="$route" -v on="$on" -v off="$off" \
            'BEGIN { printf "%-18s on/off req/s: %.3f (cost %.1f%%)\n", r, on / off, 100 * (1 - on / off) }'
        unset rps p99
    done
}
