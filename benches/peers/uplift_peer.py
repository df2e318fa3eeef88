"""Uplift side by side on causalml's own generator (make_uplift_classification, known
effects): custscore's learners (examples/uplift_peer.rs) against causalml's BaseTClassifier
and BaseXClassifier with LightGBM base learners, on one split stratified by arm x outcome.
Qini AUC of every model's held-out predictions is computed by causalml's qini_score, and
a paired bootstrap of the test rows gives a 95% interval of the difference custscore − each
causalml learner.

Through the store (VIA_STORE=1): the training rows become contacts of campaign `bench`
(`custscore outcomes import --contacts`) and `responded` events for the responders
(`outcomes import`) in a fresh SQLite store; `train --from-campaign bench --label responded
--uplift` is timed (wall and CPU of the process, and the uplift step's wall from train's
progress lines), and `score` answers the test rows.

usage: uplift_peer.py data OUT_PREFIX SAMPLES_PER_ARM SEED
       uplift_peer.py peers OUT_PREFIX RUNS THREADS
       uplift_peer.py store OUT_PREFIX RUNS CUSTSCORE_BINARY
       uplift_peer.py score OUT_PREFIX [RESAMPLES]   (paired bootstrap draws, default 500)
"""
import json
import statistics
import sys
import time
import warnings

import numpy as np
import pandas as pd

warnings.filterwarnings("ignore")


def make_data(prefix, per_arm, seed):
    from causalml.dataset import make_uplift_classification

    df, features = make_uplift_classification(
        n_samples=per_arm,
        treatment_name=["control", "treatment1"],
        n_uplift_increase_dict={"treatment1": 3},
        n_uplift_decrease_dict={"treatment1": 1},
        delta_uplift_increase_dict={"treatment1": 0.1},
        delta_uplift_decrease_dict={"treatment1": 0.02},
        n_uplift_increase_mix_informative_dict={"treatment1": 1},
        n_uplift_decrease_mix_informative_dict={"treatment1": 1},
        random_seed=seed,
    )
    w = (df["treatment_group_key"] == "treatment1").astype(int)
    y = df["conversion"].astype(int)
    rng = np.random.default_rng(seed)
    test = np.zeros(len(df), dtype=bool)
    for stratum in range(4):
        rows = np.flatnonzero((w * 2 + y).to_numpy() == stratum)
        rng.shuffle(rows)
        test[rows[: int(round(len(rows) * 0.3))]] = True
    out = df[features].copy()
    out["treated"] = w
    out["outcome"] = y
    out["true_effect"] = df["treatment_effect"]
    out["split"] = np.where(test, "test", "train")
    out.to_csv(prefix + ".csv", index=False)
    print(json.dumps({"rows": len(df), "features": len(features), "test": int(test.sum())}))


def run_peers(prefix, runs, threads):
    from causalml.inference.meta import BaseTClassifier, BaseXClassifier
    from lightgbm import LGBMClassifier, LGBMRegressor

    df = pd.read_csv(prefix + ".csv")
    features = [c for c in df.columns if c.startswith("x")]
    train, test = df[df["split"] == "train"], df[df["split"] == "test"]
    X, Xt = train[features].to_numpy(), test[features].to_numpy()
    w = np.where(train["treated"] == 1, "treatment", "control")
    y = train["outcome"].to_numpy()
    opts = dict(n_jobs=threads, verbose=-1, random_state=42)
    learners = {
        "causalml_T": lambda: BaseTClassifier(learner=LGBMClassifier(**opts), control_name="control"),
        "causalml_X": lambda: BaseXClassifier(
            outcome_learner=LGBMClassifier(**opts),
            effect_learner=LGBMRegressor(**opts),
            control_name="control",
        ),
    }
    result = {}
    for name, make in learners.items():
        seconds, cpu, model = [], [], None
        for _ in range(runs):
            model = make()
            started, cpu_started = time.perf_counter(), time.process_time()
            model.fit(X, w, y)
            seconds.append(time.perf_counter() - started)
            cpu.append(time.process_time() - cpu_started)
        pred = np.asarray(model.predict(Xt)).reshape(len(test), -1)[:, 0]
        np.save(f"{prefix}.{name}.npy", pred)
        result[name] = {
            "median_seconds": statistics.median(seconds),
            "median_cpu_seconds": statistics.median(cpu),
            "runs": seconds,
        }
    print(json.dumps(result))


def run_store(prefix, runs, binary):
    import os
    import re
    import resource
    import shutil
    import subprocess

    df = pd.read_csv(prefix + ".csv")
    features = [c for c in df.columns if c.startswith("x")]
    train, test = df[df["split"] == "train"], df[df["split"] == "test"]
    ids = [f"c{i}" for i in range(len(train))]
    contacts = train[features].copy()
    contacts.insert(0, "model_version", "external")
    contacts.insert(0, "arm", np.where(train["treated"] == 1, "treatment", "control"))
    contacts.insert(0, "time", "2026-01-01T00:00:00Z")
    contacts.insert(0, "customer_id", ids)
    contacts.insert(0, "campaign", "bench")
    contacts.to_csv(prefix + ".contacts.csv", index=False)
    responders = [i for i, y in zip(ids, train["outcome"]) if y == 1]
    pd.DataFrame({
        "campaign": "bench", "customer_id": responders, "type": "responded",
        "time": "2026-02-01T00:00:00Z", "key": [f"r-{i}" for i in responders],
    }).to_csv(prefix + ".events.csv", index=False)
    customers = test[features].copy()
    customers.insert(0, "customer_id", [f"t{i}" for i in range(len(test))])
    customers.to_csv(prefix + ".test_customers.csv", index=False)

    def call(*args):
        out = subprocess.run([binary, *args], capture_output=True, text=True)
        if out.returncode != 0:
            sys.exit(f"custscore {' '.join(args)}: {out.stderr.strip()}")
        return out

    models = prefix + ".store_models"
    seconds, cpu, uplift_seconds = [], [], []
    for _ in range(runs):
        shutil.rmtree(models, ignore_errors=True)
        os.makedirs(models)
        call("outcomes", "import", "--contacts", prefix + ".contacts.csv", "--models", models)
        call("outcomes", "import", prefix + ".events.csv", "--models", models)
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        out = call("train", "--from-campaign", "bench", "--label", "responded", "--uplift",
                   "--promote", "always", "--models", models)
        seconds.append(time.perf_counter() - started)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
        steps = [(float(t), m) for t, m in re.findall(r"\[\s*([0-9.]+)s\] (.*)", out.stderr)]
        at = next(k for k, (_, m) in enumerate(steps) if m.startswith("fitting the uplift"))
        uplift_seconds.append(steps[at + 1][0] - steps[at][0])
        summary = [line for line in out.stdout.splitlines() if "Qini AUC" in line]
    scored = prefix + ".store_scored.csv"
    call("score", "--input", prefix + ".test_customers.csv", "--output", scored,
         "--models", models)
    uplift = pd.read_csv(scored).set_index("id")["uplift"]
    pd.DataFrame({"uplift": uplift.loc[customers["customer_id"]].to_numpy()}).to_csv(
        prefix + ".custscore_store.csv", index=False)
    print(json.dumps({
        "median_seconds": statistics.median(seconds),
        "median_cpu_seconds": statistics.median(cpu),
        "median_uplift_step_seconds": statistics.median(uplift_seconds),
        "runs": seconds,
        "summary": summary,
    }))


def score(prefix, resamples):
    from causalml.metrics import auuc_score, qini_score

    df = pd.read_csv(prefix + ".csv")
    test = df[df["split"] == "test"].reset_index(drop=True)
    frame = pd.DataFrame({"y": test["outcome"], "w": test["treated"]})
    frame["custscore"] = pd.read_csv(prefix + ".custscore.csv")["uplift"].to_numpy()
    try:
        frame["custscore_store"] = pd.read_csv(prefix + ".custscore_store.csv")["uplift"].to_numpy()
    except FileNotFoundError:
        pass
    for name in ["causalml_T", "causalml_X"]:
        frame[name] = np.load(f"{prefix}.{name}.npy")
    qini = qini_score(frame, outcome_col="y", treatment_col="w")
    auuc = auuc_score(frame, outcome_col="y", treatment_col="w")
    result = {c: {"qini": float(qini[c]), "auuc": float(auuc[c])} for c in qini.index}
    result["bootstrap"] = paired_bootstrap(frame, resamples)
    print(json.dumps(result))


def paired_bootstrap(frame, resamples, seed=0):
    """The Qini AUC difference custscore − each causalml learner over test rows drawn with
    replacement: both learners are scored on the same draw by the same qini_score, so the
    draw's own luck (which customers respond) cancels. Returns the 2.5% and 97.5%
    quantiles of the difference and the share of draws where custscore is higher."""
    from causalml.metrics import qini_score

    rng = np.random.default_rng(seed)
    peers = ["causalml_T", "causalml_X"]
    diffs = {p: [] for p in peers}
    for _ in range(resamples):
        drawn = frame.iloc[rng.integers(0, len(frame), len(frame))].reset_index(drop=True)
        qini = qini_score(drawn, outcome_col="y", treatment_col="w")
        for p in peers:
            diffs[p].append(float(qini["custscore"] - qini[p]))
    return {
        p: {
            "resamples": resamples,
            "low": float(np.quantile(d, 0.025)),
            "high": float(np.quantile(d, 0.975)),
            "share_above": float(np.mean(np.asarray(d) > 0)),
        }
        for p, d in diffs.items()
    }


if __name__ == "__main__":
    mode, prefix = sys.argv[1], sys.argv[2]
    if mode == "data":
        make_data(prefix, int(sys.argv[3]), int(sys.argv[4]))
    elif mode == "peers":
        run_peers(prefix, int(sys.argv[3]), int(sys.argv[4]))
    elif mode == "store":
        run_store(prefix, int(sys.argv[3]), sys.argv[4])
    else:
        score(prefix, int(sys.argv[3]) if len(sys.argv) > 3 else 500)
