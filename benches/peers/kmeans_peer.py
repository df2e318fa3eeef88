"""scikit-learn's half of kmeans_peer.sh: k-means on the matrix custscore wrote
(raw little-endian f64, row-major, WIDTH columns)."""
import json, sys, time
import numpy as np
from sklearn.cluster import KMeans

path, width = sys.argv[1], int(sys.argv[2])
k, restarts, repeats = int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
X = np.fromfile(path, dtype="<f8").reshape(-1, width)
times, best = [], float("inf")
for seed in range(repeats):
    started = time.perf_counter()
    model = KMeans(n_clusters=k, n_init=restarts, init="k-means++", max_iter=300,
                   tol=1e-4, random_state=seed).fit(X)
    times.append(time.perf_counter() - started)
    best = min(best, model.inertia_)
times.sort()
print(json.dumps({"rows": X.shape[0], "features": X.shape[1], "inertia": best,
                  "median_seconds": times[len(times) // 2]}))
