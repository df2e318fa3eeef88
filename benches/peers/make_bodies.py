"""Write every row of a customer CSV as one JSON object per line (the label column left
out, numbers as numbers, blank cells as null), for score.lua to send one per request."""
import json, sys
import pandas as pd

src, out, label = sys.argv[1], sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else "churn"
df = pd.read_csv(src).drop(columns=[label], errors="ignore")
with open(out, "w") as f:
    for row in df.to_dict(orient="records"):
        clean = {k: (None if isinstance(v, float) and v != v else v) for k, v in row.items()}
        f.write(json.dumps(clean, separators=(",", ":")) + "\n")
print(f"{len(df)} bodies, {df['customer_id'].nunique() if 'customer_id' in df else len(df)} distinct ids -> {out}")
