"""scikit-learn's half of kmeans_peer.sh: k-means on the matrix custscore wrote."""
import json, sys, time
import numpy as np
from sklearn.cluster import KMeans

path, k, restarts, repeats = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
X = np.loadtxt(path, delimiter=",")
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
