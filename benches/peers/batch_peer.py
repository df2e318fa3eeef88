"""The peer batch scorer: pandas + scikit-learn + mlxtend (peer_model.py), vectorised, whole
file in memory, fitted with the choices recorded in the custscore bundle it is compared
with, writing per row what custscore's `score` writes: segment and name, value tier,
churn probability, band, top-3 reasons, CLV, quadrant, cross-sell offers.

usage: batch_peer.py TRAIN_CSV MODELS_DIR SCORE_CSV OUT_CSV
Prints the bundle choices it used on stderr and `rows seconds` on stdout (the time from
reading SCORE_CSV to writing OUT_CSV; fitting is not timed)."""
import json, sys, time
import pandas as pd

from peer_model import MISSING, PeerModel

train_path, models_dir, score_path, out_path = sys.argv[1:5]
peer = PeerModel(train_path, models_dir)
print("peer fitted with the bundle's choices:", json.dumps(
    {k: v for k, v in peer.choices.items() if k not in ("value",)}), file=sys.stderr)

started = time.perf_counter()
data = pd.read_csv(score_path, na_values=MISSING, keep_default_na=False)
ids = data.pop(peer.id)
data = data.drop(columns=["churn"], errors="ignore")
a = peer.score(data)
columns = {"id": ids}
for name in ("segment", "segment_name", "tier", "churn_probability", "risk_band", "reasons",
             "clv", "quadrant", "cross_sell"):
    if name in a:
        columns[name] = a[name]
columns["model_version"] = peer.choices["version"]
pd.DataFrame(columns).to_csv(out_path, index=False)
elapsed = time.perf_counter() - started
print(f"{len(data)} {elapsed:.3f}")
