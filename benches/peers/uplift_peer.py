"""Uplift side by side on causalml's own generator (make_uplift_classification, known
effects): custscore's learners (examples/uplift_peer.rs) against causalml's BaseTClassifier
and BaseXClassifier with LightGBM base learners, on one split stratified by arm x outcome.
Qini AUC of every model's held-out predictions is computed by causalml's qini_score.

usage: uplift_peer.py data OUT_PREFIX SAMPLES_PER_ARM SEED
       uplift_peer.py peers OUT_PREFIX RUNS THREADS
       uplift_peer.py score OUT_PREFIX
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


def score(prefix):
    from causalml.metrics import auuc_score, qini_score

    df = pd.read_csv(prefix + ".csv")
    test = df[df["split"] == "test"].reset_index(drop=True)
    frame = pd.DataFrame({"y": test["outcome"], "w": test["treated"]})
    frame["custscore"] = pd.read_csv(prefix + ".custscore.csv")["uplift"].to_numpy()
    for name in ["causalml_T", "causalml_X"]:
        frame[name] = np.load(f"{prefix}.{name}.npy")
    qini = qini_score(frame, outcome_col="y", treatment_col="w")
    auuc = auuc_score(frame, outcome_col="y", treatment_col="w")
    print(json.dumps({c: {"qini": float(qini[c]), "auuc": float(auuc[c])} for c in qini.index}))


if __name__ == "__main__":
    mode, prefix = sys.argv[1], sys.argv[2]
    if mode == "data":
        make_data(prefix, int(sys.argv[3]), int(sys.argv[4]))
    elif mode == "peers":
        run_peers(prefix, int(sys.argv[3]), int(sys.argv[4]))
    else:
        score(prefix)
