"""The Python half of retention_peer.sh.

peers DATA LABEL ID FOLDS  - write 5 stratified folds, fit the scikit-learn / LightGBM peers
                             on them, print their AUC and fit seconds as JSON
split DATA LABEL ID TRAIN TEST - a stratified 80/20 split of the table
heldout TRAIN TEST LABEL ID - the peers fitted on TRAIN, their AUC on TEST, as JSON
report DIR LABEL ID        - one side-by-side table from everything the run wrote
"""
import glob, json, os, sys, time
import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedKFold, train_test_split
from sklearn.metrics import roc_auc_score

SEED = 42


# Columns neither side may use (other targets' labels, the columns a target was derived
# from): retention_peer.sh's DROP argument.
DROP = [c for c in os.environ.get("PEER_DROP", "").split(",") if c]


def load(path, label, id_col):
    column, positive = label.split("=", 1)
    df = pd.read_csv(path, keep_default_na=True, na_values=["", " "])
    # A blank label is unknown: custscore leaves such rows out of fitting, so do the peers.
    df = df[df[column].notna()].reset_index(drop=True)
    y = (df[column].astype(str).str.strip() == positive).to_numpy()
    X = df.drop(columns=[column, id_col] + DROP)
    return df, X, y


def design_matrix(X):
    numeric = X.select_dtypes(include="number")
    numeric = numeric.fillna(numeric.median())
    categorical = pd.get_dummies(X.select_dtypes(exclude="number").astype("string"), dtype=float)
    return pd.concat([numeric, categorical], axis=1).to_numpy(dtype=float)


def lightgbm(lgb, threads):
    return lgb.LGBMClassifier(
        n_estimators=300, learning_rate=0.03, num_leaves=15, min_child_samples=30,
        subsample=0.8, subsample_freq=1, colsample_bytree=0.8, verbose=-1,
        random_state=SEED, n_jobs=threads)


def peers(path, label, id_col, folds_out):
    from sklearn.linear_model import LogisticRegression
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    import lightgbm as lgb

    df, X, y = load(path, label, id_col)
    M = design_matrix(X)
    folds = np.zeros(len(y), dtype=int)
    for k, (_, test) in enumerate(StratifiedKFold(5, shuffle=True, random_state=SEED).split(M, y)):
        folds[test] = k
    pd.DataFrame({"id": df[id_col], "fold": folds}).to_csv(folds_out, index=False)
    models = {
        "sklearn logistic": lambda: make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)),
        "sklearn random forest": lambda: RandomForestClassifier(
            n_estimators=300, min_samples_leaf=10, max_features="sqrt", n_jobs=2, random_state=SEED),
        "LightGBM": lambda: lightgbm(lgb, threads=0),
        # Our fits are single-threaded; on a shared 2-core machine OpenMP's spinning can
        # make the default worse than one thread, so both are shown.
        "LightGBM (1 thread)": lambda: lightgbm(lgb, threads=1),
    }
    out = {}
    for name, make in models.items():
        aucs, seconds = [], []
        for k in range(5):
            train, test = folds != k, folds == k
            model = make()
            started = time.perf_counter()
            model.fit(M[train], y[train])
            seconds.append(time.perf_counter() - started)
            aucs.append(roc_auc_score(y[test], model.predict_proba(M[test])[:, 1]))
        out[name] = {"auc": float(np.mean(aucs)), "auc_std": float(np.std(aucs)),
                     "fit_seconds": float(np.mean(seconds))}
    print(json.dumps(out))


def split(path, label, id_col, train_out, test_out):
    df, _, y = load(path, label, id_col)
    train, test = train_test_split(df, test_size=0.2, stratify=y, random_state=SEED)
    train.to_csv(train_out, index=False)
    test.to_csv(test_out, index=False)


def heldout(train_path, test_path, label, id_col):
    """Held-out AUC of scikit-learn logistic, HistGradientBoosting and LightGBM (300
    trees) trained on the 80% and scored on the 20%: the same split custscore gets."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    import lightgbm as lgb

    _, X_train, y_train = load(train_path, label, id_col)
    _, X_test, y_test = load(test_path, label, id_col)
    both = design_matrix(pd.concat([X_train, X_test]))
    M_train, M_test = both[: len(X_train)], both[len(X_train):]
    models = {
        "sklearn logistic": make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)),
        "sklearn HistGradientBoosting": HistGradientBoostingClassifier(random_state=SEED),
        "LightGBM 300 trees": lightgbm(lgb, threads=0),
    }
    out = {}
    for name, model in models.items():
        model.fit(M_train, y_train)
        out[name] = float(roc_auc_score(y_test, model.predict_proba(M_test)[:, 1]))
    print(json.dumps(out))


def manifest(models_dir):
    current = open(os.path.join(models_dir, "CURRENT")).read().strip()
    return json.load(open(os.path.join(models_dir, current, "manifest.json")))


def report(work, label, id_col):
    peers_out = json.load(open(os.path.join(work, "peers.json")))
    ours = manifest(os.path.join(work, "models"))["metrics"]["retention"]
    dropped = f" (not used by either side: {', '.join(DROP)})" if DROP else ""
    print(f"{label} on {ours['labeled_rows']} customers, the same 5 stratified folds for every model{dropped}")
    print(f"{'model':<26}{'CV AUC':>8}{'±':>8}{'fit s/fold':>12}")
    for c in ours["candidates"]:
        mark = "  <- chosen" if c["model"] == ours["chosen"] else ""
        print(f"{'custscore ' + c['model']:<26}{c['auc']:>8.4f}{c['auc_std']:>8.4f}{c['fit_seconds']:>12.4f}{mark}")
    for name, r in peers_out.items():
        print(f"{name:<26}{r['auc']:>8.4f}{r['auc_std']:>8.4f}{r['fit_seconds']:>12.4f}")
    best_peer = max(r["auc"] for r in peers_out.values())
    chosen = next(c for c in ours["candidates"] if c["model"] == ours["chosen"])
    lgbm = min(peers_out["LightGBM"]["fit_seconds"], peers_out["LightGBM (1 thread)"]["fit_seconds"])
    print(f"chosen AUC - best peer AUC: {chosen['auc'] - best_peer:+.4f}; "
          f"chosen fit time / LightGBM's (faster setting): {chosen['fit_seconds'] / lgbm:.2f}")
    print(f"calibrated out-of-fold ECE {ours['ece']:.4f} (uncalibrated {ours['ece_uncalibrated']:.4f})")

    column, positive = label.split("=", 1)
    test = pd.read_csv(os.path.join(work, "test20.csv"), dtype={id_col: str})
    scored = pd.read_csv(os.path.join(work, "scored20.csv"), dtype={"id": str})
    merged = test.merge(scored, left_on=id_col, right_on="id")
    y = merged[column].astype(str).str.strip() == positive
    held_out = roc_auc_score(y, merged["churn_probability"])
    cv80 = manifest(os.path.join(work, "models80"))["metrics"]["retention"]
    cv_auc = next(c["auc"] for c in cv80["candidates"] if c["model"] == cv80["chosen"])
    print(f"80/20: held-out AUC of `custscore score` {held_out:.4f} on {len(merged)} rows vs "
          f"CV AUC {cv_auc:.4f} on the 80% ({cv80['chosen']}); difference {held_out - cv_auc:+.4f}")
    peers_heldout = json.load(open(os.path.join(work, "heldout.json")))
    for name, value in peers_heldout.items():
        print(f"80/20: held-out AUC of {name:<30}{value:.4f}")
    best = max(peers_heldout.values())
    print(f"80/20: custscore - best peer held-out AUC: {held_out - best:+.4f}")


if __name__ == "__main__":
    command, args = sys.argv[1], sys.argv[2:]
    {"peers": peers, "split": split, "heldout": heldout, "report": report}[command](*args)
