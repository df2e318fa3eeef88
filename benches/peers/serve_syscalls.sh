#!/usr/bin/env bash
# System calls per request of `custscore serve` (one worker), counted by `strace -c` on
# every thread of the server while a client sends a fixed number of requests over one
# keep-alive connection: REQUESTS (default 200) POST /v1/score/batch of BATCH (default
# 100) different telco customers each, as JSON (FORMAT=json, the default) or as CSV rows
# with their header answered in CSV (FORMAT=csv); BATCH=1 sends POST /v1/score instead.
# Counts do not depend on machine load (strace slows the server; only counts are read).
# Prints the calls per request by name, the server's minor page faults per request, and
# the body and answer sizes.
# PORT (default a free one) is the loopback port; SERVE_FLAGS adds `serve` flags.
# usage: [FORMAT=csv] [BATCH=N] [REQUESTS=N] benches/peers/serve_syscalls.sh [BINARY]
set -euo pipefail
source "$(dirname "$0")/common.sh"
REQUESTS="${REQUESTS:-200}"
BATCH="${BATCH:-100}"
FORMAT="${FORMAT:-json}"
PORT="${PORT:-$(free_port)}"
cd "$REPO"
BIN="${1:-target/release/custscore}"
command -v strace >/dev/null || { apt-get update -qq && apt-get install -y -qq strace >/dev/null; }
serving_inputs "$BIN"
read -ra FLAGS <<< "${SERVE_FLAGS:-}"
"$BIN" serve --models "$MODELS" --addr "127.0.0.1:$PORT" --workers 1 "${FLAGS[@]}" 2>/dev/null &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 1 600); do curl -sf -o /dev/null "http://127.0.0.1:$PORT/healthz" && break; sleep 0.2; done
TRACE="$OUT/strace.serve.$FORMAT.$BATCH.txt"
strace -c -f -o "$TRACE" $(for t in /proc/"$SERVER"/task/*; do printf -- "-p %s " "${t##*/}"; done) &
TRACER=$!
sleep 1
faults_before=$(awk '{ print $10 }' "/proc/$SERVER/stat")
python3 - "$TELCO_BODIES" training-data/telco_churn.csv "$REQUESTS" "$BATCH" "$FORMAT" "$PORT" <<'PY'
import http.client, sys
json_path, csv_path, requests, batch, fmt, port = sys.argv[1:7]
requests, batch = int(requests), int(batch)
bodies = [l for l in open(json_path).read().splitlines() if l]
lines = open(csv_path).read().splitlines()
header, rows = lines[0], lines[1:]
conn = http.client.HTTPConnection("127.0.0.1", int(port))
sent = received = 0
for i in range(requests):
    start = i * batch
    if batch == 1:
        path, body, headers = "/v1/score", bodies[i % len(bodies)], {"content-type": "application/json"}
    elif fmt == "csv":
        body = "\n".join([header] + [rows[(start + j) % len(rows)] for j in range(batch)]) + "\n"
        path, headers = "/v1/score/batch", {"content-type": "text/csv", "accept": "text/csv"}
    else:
        body = "[" + ",".join(bodies[(start + j) % len(bodies)] for j in range(batch)) + "]"
        path, headers = "/v1/score/batch", {"content-type": "application/json"}
    conn.request("POST", path, body, headers)
    answer = conn.getresponse()
    received += len(answer.read())
    sent += len(body)
    assert answer.status == 200, answer.status
print(f"{requests} requests of {batch} record(s), {fmt}: body {sent // requests} bytes, answer {received // requests} bytes on average")
PY
faults_after=$(awk '{ print $10 }' "/proc/$SERVER/stat")
echo "minor page faults per request: $(awk -v a="$faults_before" -v b="$faults_after" -v n="$REQUESTS" 'BEGIN { printf "%.1f", (b - a) / n }')"
sleep 0.5
kill -INT "$TRACER"; wait "$TRACER" 2>/dev/null || true
echo "system calls per request (strace -c on all server threads; $TRACE):"
awk -v n="$REQUESTS" 'NF >= 5 && $4 ~ /^[0-9]+$/ && $NF != "total" {
        printf "  %-16s %8.2f  (%s failed)\n", $NF, $4 / n, NF == 6 ? sprintf("%.2f", $5 / n) : "0" }' \
    "$TRACE" | sort -k2 -g -r | head -n 15
