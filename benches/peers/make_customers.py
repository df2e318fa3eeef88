"""Resample the telco table with noise to N rows (ids made unique), for batch benchmarks."""
import sys
import numpy as np
import pandas as pd

src, n, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
df = pd.read_csv(src)
rng = np.random.default_rng(7)
sample = df.iloc[rng.integers(0, len(df), n)].reset_index(drop=True)
sample["customer_id"] = [f"C{i:08d}" for i in range(n)]
for col, scale in (("monthly_charges", 2.0), ("total_charges", 25.0)):
    sample[col] = (sample[col] + rng.normal(0, scale, n)).round(2).clip(lower=0)
sample["tenure"] = (sample["tenure"] + rng.integers(-1, 2, n)).clip(lower=0)
sample.to_csv(out, index=False)
