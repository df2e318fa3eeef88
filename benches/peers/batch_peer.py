"""The peer batch scorer: pandas + scikit-learn + association rules, vectorised, whole file
in memory, answering the same three questions custscore's `score` writes per row:
segment (k-means) and value tier, top-3 cross-sell offers, churn probability, band and
reasons (the three input columns that raise the risk most: coefficient × deviation from
the training mean, summed per column, as `contract = Month-to-month (+0.56)`).
With --no-reasons the reasons are left out (the figure this peer gave before)."""
import sys, time
import numpy as np
import pandas as pd
from mlxtend.frequent_patterns import apriori, association_rules
from sklearn.cluster import KMeans
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

train_path, score_path, out_path = sys.argv[1:4]
with_reasons = "--no-reasons" not in sys.argv[4:]
HOLDINGS = ["phone_service", "multiple_lines", "online_security", "online_backup",
            "device_protection", "tech_support", "streaming_tv", "streaming_movies"]


def held(frame):
    return pd.DataFrame({c: frame[c].astype(str).isin(["Yes", "1", "1.0", "true"]) for c in HOLDINGS})


df = pd.read_csv(train_path)
y = (df.pop("churn") == "Yes").astype(int)
df = df.drop(columns=["customer_id"])
numeric = [c for c in df.columns if pd.api.types.is_numeric_dtype(df[c])]
categorical = [c for c in df.columns if c not in numeric]
prep = ColumnTransformer([
    ("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), numeric),
    ("cat", OneHotEncoder(handle_unknown="ignore"), categorical),
])
X = prep.fit_transform(df)
kmeans = KMeans(n_clusters=4, n_init=10, random_state=0).fit(X)
logit = LogisticRegression(max_iter=1000).fit(X, y)
cuts = np.nanquantile(df["total_charges"], [0.99, 0.95, 0.80])
rules = association_rules(apriori(held(df), min_support=0.05, use_colnames=True),
                          metric="confidence", min_threshold=0.3)
rules = rules[rules["consequents"].apply(len) == 1]

# Which input column each transformed feature comes from, and the training means.
inputs = numeric + categorical
feature_input = np.array([inputs.index(name.split("__", 1)[1] if name.startswith("num__")
                                       else next(c for c in categorical
                                                 if name.startswith(f"cat__{c}_")))
                          for name in prep.get_feature_names_out()])
to_input = np.zeros((len(feature_input), len(inputs)))
to_input[np.arange(len(feature_input)), feature_input] = 1.0
train_mean = np.asarray(X.mean(axis=0)).ravel()


def reasons(x, frame, block=100_000):
    """Top-3 risk-raising input columns per row, as text, in blocks of rows."""
    texts = []
    raw = frame[inputs].astype(str).to_numpy()
    for start in range(0, x.shape[0], block):
        part = x[start:start + block]
        part = part.toarray() if hasattr(part, "toarray") else np.asarray(part)
        per_input = ((part - train_mean) * logit.coef_[0]) @ to_input
        order = np.argsort(-per_input, axis=1)[:, :3]
        rows = np.arange(part.shape[0])[:, None]
        value = per_input[rows, order]
        name = np.array(inputs, dtype=object)[order]
        cell = raw[start:start + block][rows, order]
        label = name + " = " + cell + " (" + np.char.mod("%+.2f", value).astype(object) + ")"
        label = np.where(value > 0.005, label, "")
        texts.extend("; ".join(t for t in row if t) for row in label)
    return texts


started = time.perf_counter()
data = pd.read_csv(score_path)
ids = data.pop("customer_id")
data = data.drop(columns=["churn"], errors="ignore")
x = prep.transform(data)
segment = kmeans.predict(x)
p = logit.predict_proba(x)[:, 1]
value = data["total_charges"].to_numpy()
tier = np.select([value >= cuts[0], value >= cuts[1], value >= cuts[2]], ["platinum", "gold", "iron"], "lead")
band = np.select([p > 0.5, p > 0.2], ["high", "medium"], "low")
h = held(data).to_numpy()
score = np.zeros((len(data), len(HOLDINGS)))
for r in rules.itertuples():
    ante = [HOLDINGS.index(a) for a in r.antecedents]
    cons = HOLDINGS.index(next(iter(r.consequents)))
    fires = h[:, ante].all(axis=1) & ~h[:, cons]
    score[:, cons] = np.where(fires, np.maximum(score[:, cons], r.confidence), score[:, cons])
top = np.argsort(-score, axis=1)[:, :3]
names = np.array(HOLDINGS)
offers = [";".join(names[t][score[i, t] > 0]) for i, t in enumerate(top)]
columns = {"id": ids, "segment": segment, "tier": tier, "churn_probability": p,
           "risk_band": band, "cross_sell": offers}
if with_reasons:
    columns["reasons"] = reasons(x, data)
pd.DataFrame(columns).to_csv(out_path, index=False)
elapsed = time.perf_counter() - started
print(f"{len(data)} {elapsed:.3f}")
