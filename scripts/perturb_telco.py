"""Perturb a telco customer table to stand for a later extract, for `custscore changes`.

    python3 scripts/perturb_telco.py IN.csv OUT.csv [--seed 7] [--share 0.1]

With the seed fixed, a share of customers has its monthly charge raised by 30% (and
total charges by one month of the new charge), another share switches contract
(month-to-month to two year, any other to month-to-month), and another share loses
every add-on service (online security, backup, device protection, tech support,
streaming). Standard library only.
"""
import argparse
import csv
import random

ADD_ONS = ("online_security", "online_backup", "device_protection", "tech_support",
           "streaming_tv", "streaming_movies")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("input")
    parser.add_argument("output")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--share", type=float, default=0.1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    counts = {"charge": 0, "contract": 0, "add_ons": 0}
    with open(args.input, newline="") as src, open(args.output, "w", newline="") as dst:
        reader = csv.DictReader(src)
        writer = csv.DictWriter(dst, fieldnames=reader.fieldnames, lineterminator="\n")
        writer.writeheader()
        for row in reader:
            draw = rng.random()
            if draw < args.share:
                monthly = float(row["monthly_charges"]) * 1.3
                row["monthly_charges"] = f"{monthly:.2f}"
                if row["total_charges"].strip():
                    row["total_charges"] = f"{float(row['total_charges']) + monthly:.2f}"
                counts["charge"] += 1
            elif draw < 2 * args.share:
                row["contract"] = ("Two year" if row["contract"] == "Month-to-month"
                                   else "Month-to-month")
                counts["contract"] += 1
            elif draw < 3 * args.share:
                for column in ADD_ONS:
                    if row[column] == "Yes":
                        row[column] = "No"
                counts["add_ons"] += 1
            writer.writerow(row)
    print(f"{args.output}: charge raised {counts['charge']}, contract switched "
          f"{counts['contract']}, add-ons dropped {counts['add_ons']}")


if __name__ == "__main__":
    main()
