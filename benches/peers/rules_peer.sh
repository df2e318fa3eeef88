#!/usr/bin/env bash
# Frequent itemsets on Online Retail: custscore vs pyfim (Borgelt's C FP-growth) vs mlxtend,
# in one run, with an exact diff of every itemset and count against pyfim.
# Creates its own venv in benches/peers/.venv (gitignored); data from ../shared.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
data_gz="${ONLINE_RETAIL_GZ:-$root/../shared/data/online_retail/online_retail.csv.gz}"
out="$here/out"
venv="$here/.venv"

if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet pyfim==6.28 mlxtend==0.25.0 pandas
fi
mkdir -p "$out"
if [ ! -s "$out/online_retail.csv" ]; then
    gunzip -c "$data_gz" > "$out/online_retail.csv"
fi
(cd "$root" && cargo build --release --quiet)
"$venv/bin/python" "$here/rules_peer.py" "$out/online_retail.csv" "$root/target/release/custscore" "$out"
