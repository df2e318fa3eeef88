"""scikit-learn's half of logistic_peer.sh: LogisticRegression (lbfgs, C=1, tol=1e-4, its
defaults) timed on the design matrix custscore wrote, plus one tight fit (tol=1e-10) whose
coefficients are compared with custscore's; the gradient at each fit shows which is
nearer the optimum."""
import json, sys, time
import numpy as np
from sklearn.linear_model import LogisticRegression

prefix, width, repeats = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
X = np.fromfile(prefix + ".x.f64", dtype="<f8").reshape(-1, width)
y = np.fromfile(prefix + ".y.u8", dtype=np.uint8)
times = []
for _ in range(repeats):
    started = time.perf_counter()
    default = LogisticRegression(C=1.0, tol=1e-4, max_iter=1000).fit(X, y)
    times.append(time.perf_counter() - started)
times.sort()
tight = LogisticRegression(C=1.0, tol=1e-10, max_iter=100000).fit(X, y)
ours = json.load(open(prefix + ".coef.json"))
ours_all = np.array(ours["weights"] + [ours["intercept"]])
def gap(model):
    theirs = np.concatenate([model.coef_[0], model.intercept_])
    return float(np.max(np.abs(theirs - ours_all)))
def largest_gradient(w, b):
    """Largest |component| of the gradient of sum(log-loss) + ||w||^2 / 2 (C = 1): zero at
    the optimum, so it says which of two fits is nearer to it."""
    z = X @ w + b
    r = 1.0 / (1.0 + np.exp(-z)) - y
    return float(max(np.abs(X.T @ r + w).max(), abs(r.sum())))
print(json.dumps({"gradient_ours": largest_gradient(ours_all[:-1], ours_all[-1]),
                  "gradient_sklearn_tight": largest_gradient(tight.coef_[0], tight.intercept_[0]),
                  "median_seconds": times[len(times) // 2], "iterations": int(default.n_iter_[0]),
                  "max_coef_gap_default_tol": gap(default), "max_coef_gap_tight_tol": gap(tight)}))
