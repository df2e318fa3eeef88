"""Evidently's PSI per input on the same reference and current files as `custscore drift
--bins evidently`, side by side with ours. Evidently computes each figure through its
own column drift metric (ColumnDriftMetric, stattest="psi"), with each column typed as
custscore's bundle types it (numeric or categorical).

usage: drift_peer.py REFERENCE.csv OUT_DIR NAME...   (reads OUT_DIR/NAME.csv and
       OUT_DIR/NAME.ours.json, the JSON `custscore drift --json` wrote)
"""
import json
import sys
import warnings

import evidently
import pandas as pd
from evidently.legacy.metrics import ColumnDriftMetric
from evidently.legacy.pipeline.column_mapping import ColumnMapping
from evidently.legacy.report import Report

warnings.filterwarnings("ignore")


def evidently_psi(reference, current, inputs):
    numeric = [i["input"] for i in inputs if i["kind"] == "numeric"]
    categorical = [i["input"] for i in inputs if i["kind"] == "categorical"]
    mapping = ColumnMapping(target=None, prediction=None, id=None,
                            numerical_features=numeric, categorical_features=categorical)
    report = Report(metrics=[ColumnDriftMetric(column_name=c, stattest="psi")
                             for c in numeric + categorical])
    report.run(reference_data=reference[numeric + categorical],
               current_data=current[numeric + categorical], column_mapping=mapping)
    return {m["result"]["column_name"]: m["result"]["drift_score"]
            for m in report.as_dict()["metrics"]}


def main():
    reference_path, out, names = sys.argv[1], sys.argv[2], sys.argv[3:]
    reference = pd.read_csv(reference_path)
    worst = 0.0
    constants = []
    print(f"PSI per input, custscore `drift --bins evidently` vs Evidently {evidently.__version__} "
          f"(ColumnDriftMetric, stattest=psi); reference {reference_path}")
    for name in names:
        current = pd.read_csv(f"{out}/{name}.csv")
        ours = json.load(open(f"{out}/{name}.ours.json"))
        theirs = evidently_psi(reference, current, ours["inputs"])
        constants.append((name, theirs, [i["input"] for i in ours["inputs"]]))
        print(f"\n{name}: {len(current)} rows")
        print(f"{'input':<20}{'custscore':>12}{'evidently':>12}{'|diff|':>10}  status")
        for i in ours["inputs"]:
            a, b = i["psi"], theirs[i["input"]]
            worst = max(worst, abs(a - b))
            print(f"{i['input']:<20}{a:>12.4f}{b:>12.4f}{abs(a - b):>10.1e}  {i['status']}")
    print("\nEvidently's figures as Rust constants (tests/drift_cli.rs):")
    for name, theirs, order in constants:
        print(f"const EVIDENTLY_{name.removeprefix('telco_').upper()}: &[(&str, f64)] = &[")
        for c in order:
            print(f'    ("{c}", {theirs[c]:.12e}),')
        print("];")
    print(f"\nlargest difference: {worst:.2e} ({'equal' if worst < 5e-5 else 'DIFFERENT'} to 4 decimals)")
    sys.exit(0 if worst < 5e-5 else 1)


main()
