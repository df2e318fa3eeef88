"""The Python half of train_scale.sh.

make SIZE OUTDIR     - write the tables of SIZE training rows and their held-out rows:
                       telco_SIZE.csv / telco_test.csv (telco resampled with noise from
                       80% of its rows; the other 20%, kept out BEFORE resampling, is the
                       test set, so no row or its copy is on both sides) and
                       generated_SIZE.csv / generated_SIZE_test.csv (mixed numeric and
                       categorical columns with a known signal; an independent test draw)
peer TRAIN TEST      - the scikit-learn + LightGBM pipeline, stage by stage, as JSON
report OUTDIR        - one side-by-side table from everything the run wrote
"""
import json, os, re, sys, time
import numpy as np
import pandas as pd

SEED = 42
LABEL, ID = "churn", "customer_id"


def telco_split(telco):
    from sklearn.model_selection import train_test_split
    df = pd.read_csv(telco)
    return train_test_split(df, test_size=0.2, stratify=df[LABEL], random_state=SEED)


def resample_with_noise(df, size, rng):
    """Rows drawn with replacement; numbers jittered so copies are not identical."""
    out = df.sample(n=size, replace=True, random_state=int(rng.integers(1 << 31))).reset_index(drop=True)
    out[ID] = [f"r{i}" for i in range(size)]
    tenure = out["tenure"] + rng.integers(-2, 3, size)
    out["tenure"] = np.clip(tenure, 0, 72)
    monthly = out["monthly_charges"] * rng.normal(1.0, 0.03, size)
    out["monthly_charges"] = monthly.round(2)
    total = pd.to_numeric(out["total_charges"], errors="coerce") * rng.normal(1.0, 0.03, size)
    out["total_charges"] = total.round(2)
    return out


def generated(size, rng, prefix):
    """16 columns: 10 numeric of several shapes, 6 categorical; churn from a known
    logistic signal with interactions and thresholds, about 25% positive."""
    n = size
    d = {ID: [f"{prefix}{i}" for i in range(n)]}
    a, b, c = rng.normal(size=n), rng.normal(size=n), rng.uniform(-2, 2, n)
    d["usage"] = a.round(4)
    d["balance"] = (b * 1000 + 5000).round(2)
    d["score"] = c.round(4)
    d["spend"] = np.exp(rng.normal(3, 1, n)).round(2)
    d["calls"] = rng.poisson(3, n)
    d["tenure_m"] = rng.integers(0, 120, n)
    d["age"] = rng.integers(18, 90, n)
    d["discount"] = rng.uniform(0, 0.5, n).round(3)
    d["noise1"] = rng.normal(size=n).round(4)
    d["noise2"] = rng.uniform(size=n).round(4)
    plan = rng.choice(["basic", "plus", "pro", "family"], n, p=[0.4, 0.3, 0.2, 0.1])
    region = rng.choice([f"region{i}" for i in range(12)], n)
    channel = rng.choice(["web", "store", "phone"], n)
    contract = rng.choice(["monthly", "yearly", "two_year"], n, p=[0.5, 0.3, 0.2])
    d.update(plan=plan, region=region, channel=channel, contract=contract,
             autopay=rng.choice(["yes", "no"], n), device=rng.choice(["ios", "android", "other"], n))
    logit = (0.8 * a - 0.5 * b * b + 0.6 * np.sin(2 * c) + 0.25 * np.log(d["spend"])
             + 0.15 * d["calls"] - 0.015 * d["tenure_m"] + 0.5 * a * (d["discount"] - 0.25) * 4
             + np.select([contract == "monthly", contract == "yearly"], [0.9, 0.0], -0.8)
             + np.where(plan == "pro", -0.5, 0.0) + np.where(region == "region3", 0.6, 0.0)
             - 1.6)
    d[LABEL] = np.where(rng.uniform(size=n) < 1 / (1 + np.exp(-logit)), "Yes", "No")
    df = pd.DataFrame(d)
    missing = rng.uniform(size=n) < 0.02
    df.loc[missing, "spend"] = np.nan
    return df


def make(size, outdir, telco):
    size = int(size)
    rng = np.random.default_rng(SEED + size)
    train, test = telco_split(telco)
    test_path = os.path.join(outdir, "telco_test.csv")
    if not os.path.exists(test_path):
        test.to_csv(test_path, index=False)
    resample_with_noise(train, size, rng).to_csv(os.path.join(outdir, f"telco_{size}.csv"), index=False)
    generated(size, rng, "g").to_csv(os.path.join(outdir, f"generated_{size}.csv"), index=False)
    generated(min(size // 4, 200_000), np.random.default_rng(SEED - 1), "t").to_csv(
        os.path.join(outdir, f"generated_{size}_test.csv"), index=False)


def peer(train_path, test_path):
    """Standardise + one-hot, k-means k=4 n_init=10, then 5-fold CV + refit of logistic
    regression and LightGBM (300 trees); held-out AUC of each refit model."""
    import threadpoolctl
    from sklearn.cluster import KMeans
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler
    import lightgbm as lgb

    threads = int(os.environ.get("OMP_NUM_THREADS", os.cpu_count()))
    stages = {}
    started = time.perf_counter()
    df = pd.read_csv(train_path)
    test = pd.read_csv(test_path)
    y = (df.pop(LABEL) == "Yes").to_numpy()
    y_test = (test.pop(LABEL) == "Yes").to_numpy()
    X, X_test = df.drop(columns=[ID]), test.drop(columns=[ID])
    for frame in (X, X_test):
        for col in frame.columns:
            if frame[col].dtype == object:
                as_number = pd.to_numeric(frame[col], errors="coerce")
                if as_number.notna().mean() > 0.98:
                    frame[col] = as_number
    numeric = X.select_dtypes(include="number").columns
    categorical = X.columns.difference(numeric)
    encode = ColumnTransformer([
        ("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), numeric),
        ("cat", OneHotEncoder(handle_unknown="ignore", sparse_output=False), categorical)])
    M = encode.fit_transform(X)
    M_test = encode.transform(X_test)
    stages["read + encode"] = time.perf_counter() - started

    t = time.perf_counter()
    KMeans(n_clusters=4, n_init=10, random_state=SEED).fit(M)
    stages["k-means (k=4, n_init=10)"] = time.perf_counter() - t

    folds = list(StratifiedKFold(5, shuffle=True, random_state=SEED).split(M, y))
    models = {
        "logistic": lambda: LogisticRegression(max_iter=1000),
        "LightGBM": lambda: lgb.LGBMClassifier(
            n_estimators=300, learning_rate=0.03, num_leaves=15, min_child_samples=30,
            subsample=0.8, subsample_freq=1, colsample_bytree=0.8, verbose=-1,
            random_state=SEED, n_jobs=threads),
    }
    cv_auc, heldout = {}, {}
    for name, new in models.items():
        t = time.perf_counter()
        aucs = []
        for train, val in folds:
            model = new().fit(M[train], y[train])
            aucs.append(roc_auc_score(y[val], model.predict_proba(M[val])[:, 1]))
        model = new().fit(M, y)
        stages[f"{name} 5-fold CV + refit"] = time.perf_counter() - t
        cv_auc[name] = float(np.mean(aucs))
        heldout[name] = float(roc_auc_score(y_test, model.predict_proba(M_test)[:, 1]))
    stages["total"] = time.perf_counter() - started
    best = max(cv_auc, key=cv_auc.get)
    print(json.dumps({
        "rows": len(y), "features": M.shape[1], "stages": stages, "cv_auc": cv_auc,
        "heldout_auc": heldout, "chosen": best, "chosen_heldout_auc": heldout[best],
        "threads": {"cpu_count": os.cpu_count(), "lightgbm n_jobs": threads,
                    "blas/openmp": [(p["internal_api"], p["num_threads"])
                                    for p in threadpoolctl.threadpool_info()]},
    }))


def time_v(path):
    """Wall seconds, CPU seconds (user + system) and peak RSS (MB) from /usr/bin/time -v."""
    wall, cpu, rss = None, 0.0, None
    for line in open(path):
        line = line.strip()
        if line.startswith(("User time", "System time")):
            cpu += float(line.rsplit(" ", 1)[1])
        elif line.startswith("Elapsed (wall clock) time"):
            parts = [float(p) for p in line.rsplit(" ", 1)[1].split(":")]
            wall = sum(p * 60 ** i for i, p in enumerate(reversed(parts)))
        elif line.startswith("Maximum resident set size"):
            rss = int(line.rsplit(" ", 1)[1]) / 1024
    return wall, cpu, rss


def our_stages(log_path):
    """Durations of train's steps from its `[  12.3s] step` lines on stderr."""
    steps = []
    for line in open(log_path):
        if line.startswith("[") and "s] " in line:
            at, name = line[1:].split("s] ", 1)
            # Steps may end with their row count, "(7043 rows)": the name is what precedes it.
            steps.append((float(at), re.sub(r" \([\d,]+ rows\)$", "", name.strip())))
    return {name: steps[i + 1][0] - at for i, (at, name) in enumerate(steps[:-1])}


def report(outdir):
    from sklearn.metrics import roc_auc_score
    runs = json.load(open(os.path.join(outdir, "runs.json")))
    for run in runs:
        name, w = run["name"], run["dir"]
        peer_out = json.load(open(os.path.join(w, "peer.json")))
        peer_wall, peer_cpu, peer_rss = time_v(os.path.join(w, "peer.time"))
        our_wall, our_cpu, our_rss = time_v(os.path.join(w, "train.time"))
        steps = our_stages(os.path.join(w, "train.time"))
        current = open(os.path.join(w, "models", "CURRENT")).read().strip()
        manifest = json.load(open(os.path.join(w, "models", current, "manifest.json")))
        retention = manifest["metrics"]["retention"]
        folds = retention["folds"]
        test = pd.read_csv(run["test"], dtype={ID: str})
        scored = pd.read_csv(os.path.join(w, "scored.csv"), dtype={"id": str})
        merged = test.merge(scored, left_on=ID, right_on="id")
        our_auc = roc_auc_score(merged[LABEL] == "Yes", merged["churn_probability"])
        print(f"\n== {name}: {peer_out['rows']:,} training rows, {peer_out['features']} encoded "
              f"features (peer), held-out {len(merged):,} rows ==")
        print(f"{'stage':<46}{'custscore s':>12}{'peer s':>10}")
        seg = sum(v for k, v in steps.items() if "segment" in k)
        rows = [
            ("read + encode", sum(v for k, v in steps.items()
                                  if k.startswith("reading") or "encoder" in k),
             peer_out["stages"]["read + encode"]),
            ("segments (ours: k=4 + bootstrap stability)", seg,
             peer_out["stages"]["k-means (k=4, n_init=10)"]),
        ]
        for c in retention["candidates"]:
            peer_stage = {"logistic": "logistic 5-fold CV + refit",
                          "gbm": "LightGBM 5-fold CV + refit"}.get(c["model"])
            label = f"  {c['model']} {folds}-fold CV" + (" (peer: + refit)" if peer_stage else "")
            rows.append((label, c["fit_seconds"] * folds,
                         peer_out["stages"].get(peer_stage, float("nan"))))
        rows.append((f"  refit of {retention['chosen']} on every row",
                     retention.get("refit_seconds", float("nan")), float("nan")))
        rows.append(("  calibration, readable tree, value",
                     retention.get("finishing_seconds", float("nan")), float("nan")))
        rows.append(("churn models in all (ours: CV, refit, calibration)",
                     steps.get("comparing churn models by cross-validation", float("nan")),
                     peer_out["stages"]["logistic 5-fold CV + refit"]
                     + peer_out["stages"]["LightGBM 5-fold CV + refit"]))
        rows.append(("wall, whole command", our_wall, peer_wall))
        rows.append(("CPU (user + system), whole command", our_cpu, peer_cpu))
        for label, ours, theirs in rows:
            theirs = "-" if theirs != theirs else f"{theirs:.1f}"
            print(f"{label:<46}{ours:>12.1f}{theirs:>10}")
        print(f"{'peak RSS, MB':<46}{our_rss:>12.0f}{peer_rss:>10.0f}")
        chosen = retention["chosen"]
        print(f"held-out AUC: custscore {our_auc:.4f} ({chosen}); peer logistic "
              f"{peer_out['heldout_auc']['logistic']:.4f}, LightGBM {peer_out['heldout_auc']['LightGBM']:.4f}"
              f" (CV picks {peer_out['chosen']}: {peer_out['chosen_heldout_auc']:.4f})")
        print("other custscore steps: " + ", ".join(
            f"{k} {v:.1f}" for k, v in steps.items()
            if "segment" not in k and "churn" not in k and not k.startswith("reading")
            and "encoder" not in k))
        print(f"threads: peer {peer_out['threads']}; custscore rayon {run['rayon_threads']}")


if __name__ == "__main__":
    command, args = sys.argv[1], sys.argv[2:]
    if command == "make":
        make(args[0], args[1], args[2])
    else:
        {"peer": peer, "report": report}[command](*args)
