"""The peer batch scorer: pandas + scikit-learn + association rules, vectorised, whole file
in memory, answering the same three questions custscore's `score` writes per row:
segment (k-means) and value tier, top-3 cross-sell offers, churn probability and band."""
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
pd.DataFrame({"id": ids, "segment": segment, "tier": tier, "churn_probability": p,
              "risk_band": band, "cross_sell": offers}).to_csv(out_path, index=False)
elapsed = time.perf_counter() - started
print(f"{len(data)} {elapsed:.3f}")
