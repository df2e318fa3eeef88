"""The peer service: FastAPI + the pandas / scikit-learn / mlxtend models of peer_model.py,
fitted with the choices of the custscore bundle in $PEER_MODELS on $PEER_DATA, answering
per customer what custscore's POST /v1/score answers: segment (id, name, value tier,
quadrant), cross-sell offers, churn probability, band, top-3 reasons and CLV."""
import os
import pandas as pd
from fastapi import FastAPI

from peer_model import PeerModel

peer = PeerModel(os.environ["PEER_DATA"], os.environ["PEER_MODELS"])
app = FastAPI()


@app.post("/v1/score")
def score(customer: dict):
    frame = pd.DataFrame([customer])
    a = peer.score(frame)
    offers = a["cross_sell"][0].split(";") if a.get("cross_sell") and a["cross_sell"][0] else []
    p = float(a["churn_probability"][0])
    clv = a.get("clv")
    return {
        "id": customer.get(peer.id),
        "segment": {"id": int(a["segment"][0]), "name": str(a["segment_name"][0]),
                    "tier": str(a["tier"][0]) if "tier" in a else None,
                    "quadrant": str(a["quadrant"][0]) if "quadrant" in a else None},
        "cross_sell": [{"item": item, "because": peer.because(frame, item)} for item in offers],
        "retention": {"probability": p, "band": str(a["risk_band"][0]),
                      "reasons": [r for r in a["reasons"][0].split("; ") if r],
                      "clv": None if clv is None else float(clv[0])},
        "model_version": peer.choices["version"],
    }
