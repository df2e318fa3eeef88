"""The peer service: FastAPI + scikit-learn (k-means, logistic regression) + mlxtend rules,
answering the same three questions as custscore for one telco customer."""
import os
import numpy as np
import pandas as pd
from fastapi import FastAPI
from mlxtend.frequent_patterns import apriori, association_rules
from sklearn.cluster import KMeans
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

DATA = os.environ["PEER_DATA"]
HOLDINGS = ["phone_service", "multiple_lines", "online_security", "online_backup",
            "device_protection", "tech_support", "streaming_tv", "streaming_movies"]

df = pd.read_csv(DATA)
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
value_cuts = np.nanquantile(df["total_charges"], [0.99, 0.95, 0.80])


def held(frame):
    out = pd.DataFrame(index=frame.index)
    for c in HOLDINGS:
        v = frame[c].astype(str)
        out[c] = v.isin(["Yes", "1", "1.0", "true"])
    return out


baskets = held(df)
itemsets = apriori(baskets, min_support=0.05, use_colnames=True)
rules = association_rules(itemsets, metric="confidence", min_threshold=0.3)
rules = rules[rules["consequents"].apply(len) == 1]

app = FastAPI()


@app.post("/v1/score")
def score(customer: dict):
    frame = pd.DataFrame([customer]).reindex(columns=df.columns)
    for c in numeric:
        frame[c] = pd.to_numeric(frame[c], errors="coerce")
    x = prep.transform(frame)
    segment = int(kmeans.predict(x)[0])
    p = float(logit.predict_proba(x)[0, 1])
    value = frame["total_charges"].iloc[0]
    tier = ("platinum" if value >= value_cuts[0] else "gold" if value >= value_cuts[1]
            else "iron" if value >= value_cuts[2] else "lead")
    have = {c for c, h in held(frame).iloc[0].items() if h}
    fired = rules[rules["antecedents"].apply(lambda a: a <= have)]
    fired = fired[fired["consequents"].apply(lambda c: not (c <= have))]
    offers = (fired.sort_values(["confidence", "lift"], ascending=False)
              .drop_duplicates(subset=["consequents"]).head(3))
    return {
        "segment": {"id": segment, "tier": tier},
        "cross_sell": [{"item": next(iter(r.consequents)), "score": float(r.confidence)}
                       for r in offers.itertuples()],
        "retention": {"probability": p, "band": "high" if p > 0.5 else "medium" if p > 0.2 else "low"},
    }
