"""The Python peer of a custscore bundle: pandas + scikit-learn + mlxtend models fitted with
the choices the bundle records, answering what custscore answers per customer.

Read from the bundle (models/CURRENT → models/<version>/*.json), never hard-coded:
- k of the segments (segments.json: one centroid per segment); k-means++ with 10 restarts
  (the bundle does not record its restart count; 10 is custscore's default);
- the churn model kind the bundle chose (retention.json model.kind: logistic, decision_tree
  or gbm, with the depth and number of rounds of the bundle's trees; the bundle does not
  record the learning rate or leaf size, so custscore's defaults stand in), calibrated
  the same way (isotonic or Platt on 5-fold out-of-fold predictions), the risk bands;
- reasons: logistic = weight × deviation from the training mean; trees = each split's
  change in value credited to its feature (path attribution, custscore's default); summed
  per input column, the top 3 above +0.005, written `column = value (+0.12)`;
- CLV and quadrant: the bundle's margin column, rates, horizon and the two thresholds;
- value tier: the pyramid's column and tier cut-offs;
- cross-sell: the bundle's holdings columns read with the same rule (yes/1/true → the
  column's product; no/0/false/none/"No …"/missing → nothing; other text → column=value),
  rules mined by mlxtend at the bundle's min support, confidence, lift and length, single
  consequent, the empty rule (popularity) always firing, top_n offers per customer by
  confidence then lift, never a product held or another value of a column held.

`PeerModel(train_csv, models_dir).score(frame)` scores a DataFrame in one vectorised pass;
the service calls it with one row, the batch peer with the whole file.
"""
import json
import os

import numpy as np
import pandas as pd
from mlxtend.frequent_patterns import association_rules, fpgrowth
from sklearn.cluster import KMeans
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

QUADRANTS = ["protect", "invest", "maintain", "let go"]
MISSING = ["", "NA", "N/A", "NaN", "null"]


def load_choices(models_dir):
    """The bundle's recorded choices, as a plain dict (also printed by the benchmarks)."""
    version = open(os.path.join(models_dir, "CURRENT")).read().strip()
    folder = os.path.join(models_dir, version)

    def read(name):
        path = os.path.join(folder, name)
        return json.load(open(path)) if os.path.exists(path) else None

    manifest, segments = read("manifest.json"), read("segments.json")
    retention, rules, pyramid = read("retention.json"), read("rules.json"), read("pyramid.json")
    model = retention["model"]
    kind = model["kind"]
    choices = {
        "version": version,
        "id": manifest["training"].get("id_column") or manifest["schema"].get("id"),
        "k": len(segments["centroids"]),
        "restarts": (manifest.get("training", {}).get("segments", {}) or {}).get("restarts", 10),
        "classifier": kind,
        "calibration": retention["calibrator"]["method"],
        "bands": retention["bands"],
        "value": retention.get("value"),
        "pyramid": pyramid and {"column": pyramid["column"],
                                "tiers": [(t["name"], t["min_value"]) for t in pyramid["tiers"]]},
        "holdings": rules and rules["holdings"],
        "rules": rules and {k: rules["params"][k] for k in
                            ("min_support", "min_confidence", "min_lift", "max_len", "top_n")},
    }
    if kind == "gbm":
        trees = model.get("trees") or model.get("dense", {}).get("trees") or []
        choices["gbm"] = {"rounds": gbm_rounds(model), "learning_rate": gbm_learning_rate(model),
                          "max_depth": gbm_depth(model), "trees_in_file": len(trees)}
    if kind == "decision_tree":
        choices["tree"] = {"max_depth": tree_depth(model["tree"]["nodes"])}
    return choices


def _find(obj, key):
    """First value stored under `key` anywhere in a nested JSON object."""
    if isinstance(obj, dict):
        if key in obj:
            return obj[key]
        obj = list(obj.values())
    if isinstance(obj, list):
        for v in obj:
            found = _find(v, key)
            if found is not None:
                return found
    return None


def gbm_rounds(model):
    trees = _find(model, "trees")
    return len(trees) if isinstance(trees, list) else _find(model, "rounds")


def gbm_learning_rate(model):
    return _find(model, "learning_rate") or 0.05


def gbm_depth(model):
    trees = _find(model, "trees")
    if isinstance(trees, list) and trees and "nodes" in trees[0]:
        return max(tree_depth(t["nodes"]) for t in trees)
    return _find(model, "max_depth") or 3


def tree_depth(nodes):
    """Depth of a flat tree (nodes with left/right child indices; leaves have none)."""
    def depth(i):
        n = nodes[i]
        left, right = n.get("left"), n.get("right")
        if left in (None, 0) and right in (None, 0) or n.get("leaf"):
            return 0
        return 1 + max(depth(left), depth(right))
    return depth(0)


def holdings_products(frame, columns):
    """One boolean column per product, by custscore's holdings rule."""
    out = {}
    for c in columns:
        text = frame[c].astype(str).str.strip()
        low = text.str.lower()
        missing = frame[c].isna() | text.isin(MISSING)
        yes = low.isin(["yes", "y", "true", "1", "1.0"])
        no = low.isin(["no", "n", "false", "0", "0.0", "none", ""]) | low.str.startswith("no ") | missing
        out[c] = yes
        for value in sorted(text[~yes & ~no].unique()):
            out[f"{c}={value}"] = (text == value) & ~yes & ~no
    return pd.DataFrame(out, index=frame.index)


class PeerModel:
    def __init__(self, train_csv, models_dir, label="churn", positive="Yes"):
        self.choices = c = load_choices(models_dir)
        df = pd.read_csv(train_csv, na_values=MISSING, keep_default_na=False)
        y = (df.pop(label).astype(str) == positive).to_numpy().astype(int)
        self.id = c["id"] or df.columns[0]
        df = df.drop(columns=[self.id])
        self.columns = list(df.columns)
        self.numeric = [col for col in df.columns if pd.api.types.is_numeric_dtype(df[col])]
        self.categorical = [col for col in df.columns if col not in self.numeric]
        self.prep = ColumnTransformer([
            ("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), self.numeric),
            ("cat", OneHotEncoder(handle_unknown="ignore", sparse_output=False), self.categorical),
        ])
        X = self.prep.fit_transform(df)
        self.kmeans = KMeans(n_clusters=c["k"], n_init=c["restarts"], init="k-means++",
                             random_state=0).fit(X)
        self.model = self._classifier()
        self.model.fit(X, y)
        self._calibrate(X, y)
        self._reason_setup(X)
        self.value = c["value"]
        if self.value:
            s = self.value["settings"]
            self.margin_col = s["margin"]
            self.current_col = self.value.get("current_value")
        if c["holdings"]:
            self._mine(df)

    # --- churn model and calibration -------------------------------------------------
    def _classifier(self):
        c = self.choices
        if c["classifier"] == "logistic":
            return LogisticRegression(max_iter=1000)
        if c["classifier"] == "decision_tree":
            from sklearn.tree import DecisionTreeClassifier
            return DecisionTreeClassifier(max_depth=c["tree"]["max_depth"], min_samples_leaf=20,
                                          random_state=0)
        from sklearn.ensemble import GradientBoostingClassifier
        g = c["gbm"]
        return GradientBoostingClassifier(n_estimators=g["rounds"], learning_rate=g["learning_rate"],
                                          max_depth=g["max_depth"], random_state=0)

    def _raw(self, x):
        if self.choices["classifier"] == "decision_tree":
            p = self.model.predict_proba(x)[:, 1].clip(1e-9, 1 - 1e-9)
            return np.log(p / (1 - p))
        return self.model.decision_function(x)

    def _calibrate(self, X, y):
        from sklearn.base import clone
        oof = np.zeros(len(y))
        for train, test in StratifiedKFold(5, shuffle=True, random_state=42).split(X, y):
            oof[test] = self._raw_of(clone(self.model).fit(X[train], y[train]), X[test])
        if self.choices["calibration"] == "platt":
            self.calibrator = LogisticRegression().fit(oof.reshape(-1, 1), y)
            self.calibrate = lambda raw: self.calibrator.predict_proba(raw.reshape(-1, 1))[:, 1]
        else:
            iso = IsotonicRegression(out_of_bounds="clip").fit(1 / (1 + np.exp(-oof)), y)
            self.calibrate = lambda raw: iso.predict(1 / (1 + np.exp(-raw)))

    def _raw_of(self, model, x):
        if self.choices["classifier"] == "decision_tree":
            p = model.predict_proba(x)[:, 1].clip(1e-9, 1 - 1e-9)
            return np.log(p / (1 - p))
        return model.decision_function(x)

    # --- reasons ------------------------------------------------------------------------
    def _reason_setup(self, X):
        names = self.prep.get_feature_names_out()
        inputs = self.numeric + self.categorical
        self.inputs = inputs
        owner = [inputs.index(n.split("__", 1)[1]) if n.startswith("num__") else
                 next(i for i, col in enumerate(inputs) if n.startswith(f"cat__{col}_"))
                 for n in names]
        self.to_input = np.zeros((len(names), len(inputs)))
        self.to_input[np.arange(len(names)), owner] = 1.0
        self.train_mean = X.mean(axis=0)
        if self.choices["classifier"] != "logistic":
            # Path attribution: the edge parent→child credits value(child) − value(parent)
            # to the parent's feature, so a row's contributions are the sum, over trees, of
            # the edges on the path to the leaf it lands in. That sum is worked out once per
            # node here; scoring finds the leaves with one apply() call and gathers.
            trees = ([e[0] for e in self.model.estimators_] if hasattr(self.model, "estimators_")
                     else [self.model])
            scale = getattr(self.model, "learning_rate", 1.0)
            width = max(t.tree_.node_count for t in trees)
            self.node_contrib = np.zeros((len(trees), width, X.shape[1]))
            for k, t in enumerate(trees):
                tr = t.tree_
                if self.choices["classifier"] == "decision_tree":
                    p = (tr.value[:, 0, 1] / tr.value[:, 0, :].sum(axis=1)).clip(1e-9, 1 - 1e-9)
                    value = np.log(p / (1 - p))
                else:
                    value = tr.value[:, 0, 0] * scale
                for parent in range(tr.node_count):  # children always follow their parent
                    for child in (tr.children_left[parent], tr.children_right[parent]):
                        if child >= 0:
                            self.node_contrib[k, child] = self.node_contrib[k, parent]
                            self.node_contrib[k, child, tr.feature[parent]] += value[child] - value[parent]

    def _contributions(self, x):
        if self.choices["classifier"] == "logistic":
            return (x - self.train_mean) * self.model.coef_[0]
        leaves = self.model.apply(x).reshape(x.shape[0], -1).astype(np.intp)
        trees = np.arange(leaves.shape[1])
        out = np.empty(x.shape)
        for start in range(0, x.shape[0], 2048):
            block = leaves[start:start + 2048]
            out[start:start + 2048] = self.node_contrib[trees, block].sum(axis=1)
        return out

    def _reasons(self, x, frame):
        per_input = self._contributions(x) @ self.to_input
        order = np.argsort(-per_input, axis=1, kind="stable")[:, :3]
        rows = np.arange(x.shape[0])[:, None]
        value = per_input[rows, order]
        name = np.array(self.inputs, dtype=object)[order]
        raw = frame[self.inputs].astype(str).to_numpy()
        cell = raw[rows, order]
        label = name + " = " + cell + " (" + np.char.mod("%+.2f", value).astype(object) + ")"
        label = np.where(value > 0.005, label, "")
        return ["; ".join(t for t in row if t) for row in label]

    # --- cross-sell ---------------------------------------------------------------------
    def _mine(self, df):
        r = self.choices["rules"]
        baskets = holdings_products(df, self.choices["holdings"])
        itemsets = fpgrowth(baskets, min_support=r["min_support"], use_colnames=True,
                            max_len=r["max_len"])
        rules = association_rules(itemsets, metric="confidence", min_threshold=r["min_confidence"])
        rules = rules[(rules["consequents"].apply(len) == 1) & (rules["lift"] >= r["min_lift"])]
        self.products = products = list(baskets.columns)
        P = len(products)
        support = baskets.mean().to_numpy()
        # Offers rank by confidence, then lift: one sortable key per rule. The empty rule
        # (popularity: confidence = support, lift 1) fires for every frequent product.
        self.popular_key = np.where(support >= r["min_support"], support * 1e6 + 1.0, 0.0)
        ante = [[products.index(a) for a in x] for x in rules["antecedents"]]
        cons = np.array([products.index(next(iter(c))) for c in rules["consequents"]], dtype=int)
        order = np.argsort(cons, kind="stable")
        self.rule_ante = np.zeros((len(order), P), dtype=np.int32)
        for row, i in enumerate(order):
            self.rule_ante[row, ante[i]] = 1
        self.rule_need = self.rule_ante.sum(axis=1)
        self.rule_cons = cons[order]
        conf, lift = rules["confidence"].to_numpy()[order], rules["lift"].to_numpy()[order]
        self.rule_key = conf * 1e6 + lift
        self.rule_text = [(f"{' + '.join(products[a] for a in ante[i])} → {products[cons[i]]} "
                           f"(confidence {c:.2f}, lift {l:.2f})") for i, c, l in zip(order, conf, lift)]
        # Where each consequent's rules start (rules sorted by consequent).
        self.groups = [(p, np.flatnonzero(self.rule_cons == p)) for p in range(P)]
        # A customer holding one value of a column (internet_service=DSL) is not offered
        # another value of it (internet_service=Fiber optic), as custscore does.
        column = [n.split("=", 1)[0] if "=" in n else None for n in products]
        self.siblings = np.array([[i != j and column[i] is not None and column[i] == column[j]
                                   for j in range(P)] for i in range(P)], dtype=np.int32)
        self.top_n = r["top_n"]

    def _offers(self, frame):
        held = holdings_products(frame, self.choices["holdings"]).reindex(
            columns=self.products, fill_value=False).to_numpy()
        names = np.array(self.products, dtype=object)
        texts = []
        for start in range(0, held.shape[0], 8192):
            h = held[start:start + 8192].astype(np.int32)
            fires = (h @ self.rule_ante.T) == self.rule_need
            keyed = np.where(fires, self.rule_key, 0.0)
            best = np.tile(self.popular_key, (h.shape[0], 1))
            for p, idx in self.groups:
                if len(idx):
                    best[:, p] = np.maximum(best[:, p], keyed[:, idx].max(axis=1))
            best[(h > 0) | ((h @ self.siblings) > 0)] = 0.0
            top = np.argsort(-best, axis=1, kind="stable")[:, :self.top_n]
            texts.extend(";".join(names[t][best[i, t] > 0]) for i, t in enumerate(top))
        return texts

    def because(self, frame, item):
        """The rules that fire for `item` for the first customer of `frame`, strongest
        first, in words (`a + b → c (confidence 0.52, lift 1.80)`), as the API gives them."""
        held = holdings_products(frame.iloc[:1], self.choices["holdings"]).reindex(
            columns=self.products, fill_value=False).to_numpy()[0].astype(np.int32)
        idx = self.groups[self.products.index(item)][1]
        fired = idx[(self.rule_ante[idx] @ held) == self.rule_need[idx]]
        fired = fired[np.argsort(-self.rule_key[fired], kind="stable")]
        if len(fired) == 0:
            share = self.popular_key[self.products.index(item)] // 1.0 / 1e6
            return [f"popular: held by {share:.0%} of customers (no rule fired)"]
        return [self.rule_text[i] for i in fired]

    # --- one pass over a frame ------------------------------------------------------------
    def score(self, frame):
        frame = frame.reindex(columns=self.columns)
        for col in self.numeric:
            frame[col] = pd.to_numeric(frame[col], errors="coerce")
        x = self.prep.transform(frame)
        segment = self.kmeans.predict(x)
        p = self.calibrate(self._raw(x))
        lo, hi = self.choices["bands"]
        band = np.select([p >= hi, p >= lo], ["high", "medium"], "low")
        out = {"segment": segment, "segment_name": np.char.add("segment ", segment.astype(str)),
               "churn_probability": p, "risk_band": band, "reasons": self._reasons(x, frame)}
        pyr = self.choices["pyramid"]
        if pyr:
            v = frame[pyr["column"]].to_numpy(dtype=float)
            conds = [v >= m for _, m in pyr["tiers"] if m is not None]
            names = [n for n, m in pyr["tiers"] if m is not None]
            bottom = [n for n, m in pyr["tiers"] if m is None][0]
            out["tier"] = np.where(np.isnan(v), "unranked", np.select(conds, names, bottom))
        if self.value:
            s, v = self.value["settings"], self.value
            m = frame[self.margin_col].to_numpy(dtype=float) * s["margin_rate"] * s["periods_per_year"]
            annual = 1 - (1 - p.clip(0, 1)) ** (1 / s["label_period_years"])
            years = np.where(annual <= 1 / s["horizon_years"], s["horizon_years"],
                             1 / np.maximum(annual, 1e-300))
            r = s["discount_rate"]
            clv = m * years if abs(r) < 1e-12 else m * (1 - (1 + r) ** -years) / r
            current = (frame[self.current_col].to_numpy(dtype=float) if self.current_col else m)
            hi_cur, hi_clv = current > v["current_threshold"], clv > v["clv_threshold"]
            quadrant = np.select([hi_cur & hi_clv, ~hi_cur & hi_clv, hi_cur & ~hi_clv],
                                 QUADRANTS[:3], QUADRANTS[3])
            out["clv"] = clv
            out["quadrant"] = np.where(np.isnan(clv) | np.isnan(current), "", quadrant)
        if self.choices["holdings"]:
            out["cross_sell"] = self._offers(frame)
        return out
