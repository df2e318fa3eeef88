#!/usr/bin/env python3
"""Write an order log N times the size of Online Retail, for measuring `train --transactions`.

Each copy is a different shop's year, not a repeat a cache could answer: customer ids and
invoice numbers are shifted per copy (letter prefixes such as `C` kept), every invoice moves by
its own number of minutes (up to two days either way, whole invoices together, clamped to
the original year so the cut-off stays where it was), quantities move by up to 2 (keeping
their sign), and about 5% of lines get one of ten variants of their item code. The seed
fixes every choice, so two runs write the same bytes.

usage: make_order_log.py [--copies 100] [--seed 13] [--gzip] SOURCE.csv[.gz] OUT.csv[.gz]
"""
import argparse
import csv
import datetime as dt
import gzip
import io
import random
import re
import sys


def open_text(path, mode):
    if path.endswith(".gz"):
        return io.TextIOWrapper(gzip.open(path, mode + "b", compresslevel=1), newline="")
    return open(path, mode, newline="")


def quoted(text):
    if any(c in text for c in ',"\n\r'):
        return '"' + text.replace('"', '""') + '"'
    return text


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--copies", type=int, default=100)
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("source")
    ap.add_argument("out")
    args = ap.parse_args()

    with open_text(args.source, "r") as f:
        reader = csv.reader(f)
        header = next(reader)
        rows = list(reader)
    col = {name: i for i, name in enumerate(header)}
    inv, code, qty, when, cust = (col[c] for c in
                                  ["InvoiceNo", "StockCode", "Quantity", "InvoiceDate", "CustomerID"])
    fmt = "%Y-%m-%d %H:%M:%S" if len(rows[0][when]) > 16 else "%Y-%m-%d %H:%M"
    epoch = dt.datetime(2000, 1, 1)
    minute = lambda text: int((dt.datetime.strptime(text, fmt) - epoch).total_seconds() // 60)
    base = []
    for r in rows:
        # Letter prefixes (`C` cancellations, `A` adjustments) stay; the number moves.
        prefix, number = re.fullmatch(r"(\D*)(\d+)", r[inv]).groups()
        # Fields that never change between copies, pre-joined around the varying ones.
        base.append((prefix, int(number),
                     r[code], ",".join(quoted(r[i]) for i in range(col["Description"], qty)),
                     int(float(r[qty])), minute(r[when]), r[col["UnitPrice"]],
                     r[cust], ",".join(quoted(x) for x in r[cust + 1:])))
    lo = min(b[5] for b in base)
    hi = max(b[5] for b in base)
    shown = {}

    def show(m):
        text = shown.get(m)
        if text is None:
            text = (epoch + dt.timedelta(minutes=m)).strftime("%Y-%m-%d %H:%M:%S")
            shown[m] = text
        return text

    rng = random.Random(args.seed)
    with open_text(args.out, "w") as out:
        out.write(",".join(header) + "\n")
        for copy in range(args.copies):
            invoice_shift = copy * 1_000_000
            customer_shift = copy * 100_000
            moved = {}
            lines = []
            for prefix, number, item, desc, q, m, price, customer, rest in base:
                shift = moved.get(number)
                if shift is None:
                    shift = rng.randint(-2880, 2880)
                    moved[number] = shift
                t = min(max(m + shift, lo), hi)
                if rng.random() < 0.05:
                    item = f"{item}V{rng.randint(0, 9)}"
                if q > 0:
                    q = max(1, q + rng.randint(-2, 2))
                elif q < 0:
                    q = min(-1, q + rng.randint(-2, 2))
                who = str(int(customer) + customer_shift) if customer else ""
                lines.append(f"{prefix}{number + invoice_shift},{item},{desc},{q},"
                             f"{show(t)},{price},{who},{rest}\n")
            out.writelines(lines)
            print(f"copy {copy + 1}/{args.copies}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
