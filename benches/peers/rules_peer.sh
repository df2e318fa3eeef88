#!/usr/bin/env bash
# Association rules on Online Retail: the whole `custscore rules` command vs pyfim's whole
# work (reading the CSV, mining, rule generation, writing the rules), at several supports,
# with itemsets, counts and rule counts checked identical (see rules_peer.py).
# usage: benches/peers/rules_peer.sh    (env: RUNS=3, SUPPORTS="0.02 0.01 0.005",
#        MLXTEND_SUPPORTS="0.01", ONLINE_RETAIL_GZ=training-data/online_retail.csv.gz)
set -euo pipefail
source "$(dirname "$0")/common.sh"
data_gz="${ONLINE_RETAIL_GZ:-$REPO/training-data/online_retail.csv.gz}"
peer_venv pyfim==6.28 mlxtend==0.25.0 pandas
if [ ! -s "$OUT/online_retail.csv" ]; then
    gunzip -c "$data_gz" > "$OUT/online_retail.csv"
fi
(cd "$REPO" && cargo build --release --quiet)
"$VENV/bin/python" "$PEERS/rules_peer.py" "$OUT/online_retail.csv" "$REPO/target/release/custscore" "$OUT"
