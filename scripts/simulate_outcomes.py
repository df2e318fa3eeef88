#!/usr/bin/env python3
"""Draw outcome events for the contacts of a scored campaign file, with a stated
treatment effect, to check that `custscore evaluate` measures what was put in.

Reads the CSV that `custscore score --campaign NAME` writes (columns id,
churn_probability, campaign, arm) and writes events for `custscore outcomes import`:

- churned: control customers churn with their churn probability p, treated ones with
  p * (1 - churn_reduction);
- responded: control customers respond with base_response, treated ones with
  base_response + response_effect; each response also brings a `purchased` event with a
  value drawn from an exponential distribution of mean value_mean.

Prints the effects to expect (treatment - control) as one JSON line on stdout; for churn
that is (1 - churn_reduction) * mean p of the treated - mean p of the controls. Only the
Python standard library; the same seed gives the same events.
"""

import argparse
import csv
import json
import math
import random
import sys


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scored", required=True, help="CSV written by custscore score --campaign")
    ap.add_argument("--output", required=True, help="events CSV to write")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--churn-reduction", type=float, default=0.3,
                    help="relative reduction of churn among treated customers")
    ap.add_argument("--base-response", type=float, default=0.05)
    ap.add_argument("--response-effect", type=float, default=0.10,
                    help="added response rate among treated customers")
    ap.add_argument("--value-mean", type=float, default=50.0)
    ap.add_argument("--time", default="2024-06-01T00:00:00Z")
    args = ap.parse_args()

    rng = random.Random(args.seed)
    probabilities = {"treatment": [], "control": []}
    written = 0
    with open(args.scored, newline="") as src, open(args.output, "w", newline="") as out:
        events = csv.writer(out)
        events.writerow(["campaign", "customer_id", "type", "time", "value"])
        for row in csv.DictReader(src):
            p = float(row["churn_probability"])
            treated = row["arm"] == "treatment"
            probabilities["treatment" if treated else "control"].append(p)
            churn = p * (1.0 - args.churn_reduction) if treated else p
            respond = args.base_response + (args.response_effect if treated else 0.0)
            u_churn, u_respond, u_value = rng.random(), rng.random(), rng.random()
            if u_churn < churn:
                events.writerow([row["campaign"], row["id"], "churned", args.time, ""])
                written += 1
            if u_respond < respond:
                value = -args.value_mean * math.log(1.0 - u_value)
                events.writerow([row["campaign"], row["id"], "responded", args.time, ""])
                events.writerow([row["campaign"], row["id"], "purchased", args.time,
                                 f"{value:.2f}"])
                written += 2
    if not probabilities["treatment"] or not probabilities["control"]:
        sys.exit(f"{args.scored}: needs scored rows in both arms")
    mean = {arm: sum(ps) / len(ps) for arm, ps in probabilities.items()}
    print(json.dumps({
        "events": written,
        # The expected churn rates of the two arms as drawn, given who is in which arm.
        "churned_difference": (1.0 - args.churn_reduction) * mean["treatment"] - mean["control"],
        "responded_difference": args.response_effect,
        "value_difference": args.response_effect * args.value_mean,
    }))


if __name__ == "__main__":
    main()
