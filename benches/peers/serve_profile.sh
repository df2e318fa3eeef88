#!/usr/bin/env bash
# Where one request's instructions go: `custscore serve` (one worker) under callgrind,
# counting only while wrk sends a fixed number of POST /v1/score requests (REQUESTS,
# default 2000), each a different telco customer, over one keep-alive connection. Instruction counts are repeatable where timings on a shared machine are not.
# Prints instructions per request in total and inclusive for the parts of the request
# (functions matched by name; a part inlined into its caller shows under the caller).
# BATCH=N sends N records a request to POST /v1/score/batch instead (figures per record),
# and profiles the batch CLI (`custscore score`) on the same records for comparison;
# FORMAT=csv sends them as CSV rows with their header and takes the answer in CSV, as the
# CLI reads and writes them (default json).
# ACCESS=on turns on what benches/access_cost.sh calls "on": ten scoped keys (the
# client sends one), an audit log and a rate limit far above the load; ACCESS=off (the
# default) runs without keys, audit or limits (the client sends a bearer header all the same). SERVE_FLAGS adds more `serve` flags.
# PORT (default 18479) is the loopback port the server listens on.
# SERVER=bare profiles the bare actix-web handler of serve_bare.sh (benches/peers/bare_actix,
# one worker) on the same requests instead, for the instructions around a handler that
# parses the body into a serde_json::Value and answers a small object; PROFILE=production
# builds it with the shipped cargo profile (then profile target/production/custscore).
# CALLGRIND_FLAGS adds callgrind options: "--cache-sim=yes" simulates the caches and
# prints the misses per record as well (the events line of the totals).
# usage: [ACCESS=on] [PORT=N] [SERVE_FLAGS=...] [SERVER=bare] benches/peers/serve_profile.sh [BINARY]
#        (default target/release/custscore)
set -euo pipefail
source "$(dirname "$0")/common.sh"
REQUESTS="${REQUESTS:-2000}"
BATCH="${BATCH:-1}"
PORT="${PORT:-18479}"
cd "$REPO"
BIN="${1:-target/release/custscore}"
command -v valgrind >/dev/null || { apt-get update -qq && apt-get install -y -qq valgrind >/dev/null; }
serving_inputs "$BIN"
export BODIES="$TELCO_BODIES"
ACCESS="${ACCESS:-off}"
read -ra FLAGS <<< "${SERVE_FLAGS:-}"
FLAGS+=(--lockout-failures 0)
KEY=""
if [ "$ACCESS" = on ]; then
    KEYS="$OUT/profile_keys.txt"; AUDIT="$OUT/profile_audit.jsonl"; rm -f "$KEYS" "$AUDIT"*
    KEY="$("$BIN" keys create --id bench --scopes score,read --keys-file "$KEYS" 2>/dev/null)"
    for n in 1 2 3 4 5 6 7 8 9; do   # the key is found among ten, as in access_cost.sh
        "$BIN" keys create --id "other$n" --scopes score --keys-file "$KEYS" >/dev/null 2>&1
    done
    FLAGS+=(--api-keys-file "$KEYS" --audit-log "$AUDIT" \
        --rate-limit 1000000000 --rate-burst 1000000000)
fi
# Both sides send the same requests: without access control the bearer header (of a
# key's length) is sent too, and ignored.
[ -n "$KEY" ] || KEY="csk_$(printf '0%.0s' $(seq 1 64))"
echo "access: $ACCESS; serve flags: ${FLAGS[*]}"
if [ "${SERVER:-custscore}" = bare ]; then
    build_bare
    CALLGRIND_OUT="$OUT/callgrind.bare.out"
    COMMAND=("$BARE_BIN" "127.0.0.1:$PORT" 1)
    READY="http://127.0.0.1:$PORT/"   # any answer, a 404 included, means it listens
else
    CALLGRIND_OUT="$OUT/callgrind.serve.$ACCESS.out"
    COMMAND=("$BIN" serve --models "$MODELS" --addr "127.0.0.1:$PORT" --workers 1 "${FLAGS[@]}")
    READY="http://127.0.0.1:$PORT/healthz"
fi
rm -f "$CALLGRIND_OUT"*
read -ra CALLGRIND_EXTRA <<< "${CALLGRIND_FLAGS:-}"
valgrind --tool=callgrind --instr-atstart=no "${CALLGRIND_EXTRA[@]}" --callgrind-out-file="$CALLGRIND_OUT" \
    "${COMMAND[@]}" 2>/dev/null &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 1 600); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "$READY")" != 000 ] && break
    sleep 0.5
done
callgrind_control -i on "$SERVER" >/dev/null 2>&1
# A fixed number of requests, one connection (wrk stops only at the end of -d).
python3 - "$BODIES" "$REQUESTS" "$KEY" "$BATCH" "$PORT" "${FORMAT:-json}" <<'PY'
import csv, http.client, io, json, sys
bodies = [l for l in open(sys.argv[1]).read().splitlines() if l]
batch = int(sys.argv[4])
as_csv = sys.argv[6] == "csv"
def csv_body(records):
    # The CSV the CLI profile below reads: the records' fields as columns, in order.
    out = io.StringIO()
    w = csv.DictWriter(out, fieldnames=list(records[0].keys()), lineterminator="\n")
    w.writeheader()
    w.writerows(records)
    return out.getvalue()
conn = http.client.HTTPConnection("127.0.0.1", int(sys.argv[5]))
headers = {"content-type": "application/json"}
if sys.argv[3]:
    headers["authorization"] = "Bearer " + sys.argv[3]
for i in range(int(sys.argv[2])):
    if batch == 1:
        path, body = "/v1/score", bodies[i % len(bodies)]
    else:
        start = i * batch
        path = "/v1/score/batch"
        chosen = [bodies[(start + j) % len(bodies)] for j in range(batch)]
        body = "[" + ",".join(chosen) + "]"
        if as_csv:
            body = csv_body([json.loads(b) for b in chosen])
            headers = dict(headers, **{"content-type": "text/csv", "accept": "text/csv"})
    conn.request("POST", path, body, headers)
    answer = conn.getresponse()
    answer.read()
    assert answer.status == 200, answer.status
PY
callgrind_control -i off "$SERVER" >/dev/null 2>&1
kill "$SERVER"; wait "$SERVER" 2>/dev/null || true
DUMP="$CALLGRIND_OUT"
ANNOTATED="${CALLGRIND_OUT%.out}.txt"
callgrind_annotate --inclusive=yes --threshold=100 "$DUMP" > "$ANNOTATED"
total=$(awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1 }' "$ANNOTATED")
RECORDS=$(( REQUESTS * BATCH ))
echo "requests: $REQUESTS of $BATCH record(s); instructions counted: $total; per record: $(( total / RECORDS ))"
if grep -q "^Events shown:.*D1mr" "$ANNOTATED"; then
    # Every event of the totals line per record: reads, writes, misses of the first-level
    # (I1, D1) and last-level (IL, DL) caches, as callgrind simulates them.
    paste <(awk '/^Events shown:/ { for (i = 3; i <= NF; i++) print $i }' "$ANNOTATED") \
          <(awk '/PROGRAM TOTALS/ { for (i = 1; i <= NF; i += 2) if ($i ~ /^[0-9,]+$/) { gsub(",", "", $i); print $i } }' "$ANNOTATED") \
        | awk -v n="$RECORDS" '{ printf "%s %.1f  ", $1, $2 / n } END { print "(per record)" }'
fi
# part | function name patterns (inclusive cost; the largest match of each pattern, added,
# or subtracted for a pattern starting with -)
parts=(
    "HTTP request parse (actix-http decode)|as actix_http::h1::decoder::MessageType>::decode"
    "read body (json_body)|request::json_body::{{closure}}"
    "  the bytes (limited_body)|request::limited_body::{{closure}}"
    "auth extractor (Authorized)|state::Authorized as actix_web::extract::FromRequest"
    "JSON into a value tree|serde_json::value::Value>::deserialize ["
    "value tree into inputs|request::record_from_json"
    "drop the value tree|BTreeMap<K,V,A> as core::ops::drop::Drop"
    "JSON into input slots (one pass)|serve::record::read_record [|serve::record::read_batch [|serve::record::read_record_named [|serve::record::read_batch_named ["
    "  field names (Names::new)|serve::record::Names::new"
    "CSV body scored (MarkedRows::score)|batch::MarkedRows::score"
    "scoring (Scorer::score_bought_into)|Scorer::score_bought_into ["
    "owned answer (Scorer::answer)|Scorer::answer"
    "answer into JSON|routes::to_json|answer_json::write_answer"
    "drift window (Window::record)|Window::record"
    "app outside handlers (gate, routing)|app_service::AppInitService<T,B> as actix_service::Service|serve::gate::GateFuture<F> as core::future::future::Future>::poll|-actix_web::resource::Resource<T> as actix_web::service::HttpServiceFactory>::register::{{closure}}::{{closure}}"
    "  route lookup (match_name)|ResourceMap::match_name"
    "  access decision (admit)|serve::access::admit"
    "  metrics (observe_request)|Metrics::observe_request"
    "  request id|serve::gate::request_id|serve::gate::fresh_request_id"
    "  key lookup (sha256 + compare)|access::keys::KeyRing::find"
    "  rate limiter (admit)|access::limits::RateLimiter::admit"
    "  audit event (after)|serve::access::Watch::answered"
    "  hand to the buffer (record)|access::audit::AuditLog::record"
    "audit thread (all)|access::audit::Writer::run"
    "audit thread: JSON lines|access::audit::Line::write"
    "audit thread: write + flush|access::audit::Writer::write_collected"
)
printf "%-36s %12s\n" part "instr/record"
for part in "${parts[@]}"; do
    name="${part%%|*}"; patterns="${part#*|}"
    cost=0
    IFS='|' read -ra alts <<< "$patterns"
    for p in "${alts[@]}"; do
        sign=1; [ "${p:0:1}" = "-" ] && { sign=-1; p="${p:1}"; }   # "-pattern": subtract
        c=$(grep -F -- "$p" "$ANNOTATED" | head -n 1 | awk '{ gsub(",", "", $1); print $1 }' || true)
        [ -n "$c" ] && cost=$(( cost + sign * c ))
    done
    printf "%-36s %12d\n" "$name" $(( cost / RECORDS ))
done
echo "top functions by inclusive cost: $ANNOTATED"

if [ "$BATCH" -gt 1 ]; then
    # The batch CLI on the same records: the bodies' customers as a CSV, scored once.
    CSV="$OUT/profile_batch_records.csv"
    python3 - "$BODIES" "$RECORDS" "$CSV" <<'PY'
import csv, json, sys
bodies = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
rows = [bodies[i % len(bodies)] for i in range(int(sys.argv[2]))]
with open(sys.argv[3], "w", newline="") as f:
    w = csv.DictWriter(f, fieldnames=list(rows[0].keys()))
    w.writeheader()
    w.writerows(rows)
PY
    # Loading the bundle is not per record: count a one-record run too and take the
    # difference, as the server side counts only while requests are answered.
    head -n 2 "$CSV" > "$CSV.one"
    cli_instructions() {
        valgrind --tool=callgrind --callgrind-out-file="$OUT/callgrind.score_cli.out" \
            "$BIN" score --models "$MODELS" --input "$1" --output "$OUT/profile_scored.csv" >/dev/null 2>&1
        callgrind_annotate "$OUT/callgrind.score_cli.out" | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1 }'
    }
    cli_all=$(cli_instructions "$CSV"); cli_one=$(cli_instructions "$CSV.one")
    echo "batch CLI on the same records: $(( (cli_all - cli_one) / (RECORDS - 1) )) instructions per record"
fi
