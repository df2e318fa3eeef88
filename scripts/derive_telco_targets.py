#!/usr/bin/env python3
"""Add two yes/no targets to the IBM telco customer table, derived from its own columns
(standard library only), for training several targets in one bundle:

- upgraded: Yes when internet_service is "Fiber optic" (the premium tier), No when "DSL",
  blank (unknown, not fitted on) for customers without internet service. Its model must
  not see internet_service, nor monthly_charges / total_charges (the price reveals the tier).
- autopay: Yes when payment_method is an automatic one ("Bank transfer (automatic)",
  "Credit card (automatic)"), else No. Its model must not see payment_method.

usage: scripts/derive_telco_targets.py IN.csv OUT.csv
"""
import csv
import sys


def main(source, target):
    with open(source, newline="") as f_in, open(target, "w", newline="") as f_out:
        reader = csv.DictReader(f_in)
        fields = list(reader.fieldnames) + ["upgraded", "autopay"]
        writer = csv.DictWriter(f_out, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        for row in reader:
            internet = row["internet_service"]
            row["upgraded"] = {"Fiber optic": "Yes", "DSL": "No"}.get(internet, "")
            row["autopay"] = "Yes" if "(automatic)" in row["payment_method"] else "No"
            writer.writerow(row)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
