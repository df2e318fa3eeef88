#!/usr/bin/env bash
# Outcome events stored per second over HTTP on loopback: POST /v1/outcomes in batches,
# against the SQLite store (WAL, in the models folder) and against a throwaway local
# PostgreSQL server (initdb into a temp folder, run as `nobody`, fsync on). Each round
# sends new events (its own campaign); the median of the rounds is printed per store.
# usage: benches/outcomes_ingest.sh [EVENTS] [BATCH] [CONNECTIONS] [ROUNDS]
#        (default 50000 events, 100 per request, 4 connections, 3 rounds; PORT and PGPORT:
#        the server's and PostgreSQL's loopback ports, default free ones)
set -euo pipefail
EVENTS="${1:-50000}"; BATCH="${2:-100}"; CONNECTIONS="${3:-4}"; ROUNDS="${4:-3}"
REPO="$(cd "$(dirname "$0")/.." && pwd)"
OUT="$REPO/benches/peers/out"; mkdir -p "$OUT"
cd "$REPO"
cargo build --release --quiet --bin custscore
WORK="$(mktemp -d)"; chmod 755 "$WORK"
MODELS="$WORK/models"
target/release/custscore train --promote always --customers tests/fixtures/telco_400.csv \
    --id customer_id --label churn=Yes --segments 3 --models "$MODELS" >/dev/null
PGBIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"
[ -x "$PGBIN/initdb" ] || { apt-get update -qq && apt-get install -y -qq --no-install-recommends postgresql >/dev/null; PGBIN="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)"; }
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
PGPORT="${PGPORT:-$(free_port)}"; PORT="${PORT:-$(free_port)}"; WORKERS=2
cleanup() {
    [ -n "${SERVER:-}" ] && kill "$SERVER" 2>/dev/null || true
    [ -d "$WORK/pg" ] && runuser -u nobody -- "$PGBIN/pg_ctl" -D "$WORK/pg/data" -m fast stop >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT
mkdir -p "$WORK/pg"; chown nobody: "$WORK/pg"
runuser -u nobody -- "$PGBIN/initdb" -D "$WORK/pg/data" -U postgres --auth=trust -E UTF8 >/dev/null
runuser -u nobody -- "$PGBIN/pg_ctl" -D "$WORK/pg/data" -l "$WORK/pg/log" -w \
    -o "-p $PGPORT -c listen_addresses=127.0.0.1 -k $WORK/pg" start >/dev/null

round() { # DB-OPTION NAME → events/s
    target/release/custscore serve --models "$MODELS" --addr 127.0.0.1:$PORT --workers $WORKERS \
        --outcomes-db "$1" 2>/dev/null &
    SERVER=$!
    for _ in $(seq 1 300); do curl -sf -o /dev/null http://127.0.0.1:$PORT/readyz && break; sleep 0.1; done
    python3 benches/outcomes_ingest.py 127.0.0.1:$PORT "$2" "$EVENTS" "$BATCH" "$CONNECTIONS" \
        | tee -a "$OUT/outcomes_ingest.jsonl" \
        | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["stored"]==d["events"], d; print(d["events_per_s"])'
    kill "$SERVER"; wait "$SERVER" 2>/dev/null || true; SERVER=
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

echo "custscore serve --workers $WORKERS; client: $CONNECTIONS connections, $BATCH events per request, $EVENTS events per round, $ROUNDS rounds ($(nproc) cores)"
: > "$OUT/outcomes_ingest.jsonl"
sqlite=(); postgres=()
for r in $(seq 1 "$ROUNDS"); do
    sqlite+=("$(round "$WORK/outcomes.db" "sqlite-$r")")
    postgres+=("$(round "postgres://postgres@127.0.0.1:$PGPORT/postgres" "pg-$r")")
done
echo "sqlite   events/s: ${sqlite[*]} (median $(printf '%s\n' "${sqlite[@]}" | median))"
echo "postgres events/s: ${postgres[*]} (median $(printf '%s\n' "${postgres[@]}" | median))"
