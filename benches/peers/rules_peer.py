"""Frequent itemsets on Online Retail: pyfim (Borgelt's C FP-growth) and mlxtend side by
side with `custscore rules`, in one run. Checks that every itemset and count agree with
pyfim's at each support, and prints the timings.

Usage: rules_peer.py ONLINE_RETAIL_CSV CUSTSCORE_BINARY OUT_DIR
mlxtend runs only at 0.01 and 0.005, each in a child process killed after MLXTEND_TIMEOUT
seconds (default 300): at 0.002 it needs over 8 minutes and ~24 GB, more than this
machine has.
"""
import csv
import multiprocessing as mp
import os
import re
import subprocess
import sys
import time

SUPPORTS = [0.01, 0.005, 0.002]
MLXTEND_SUPPORTS = {0.01, 0.005}
MLXTEND_TIMEOUT = float(os.environ.get("MLXTEND_TIMEOUT", "300"))
# Rules are compared with mlxtend's association_rules at this minimum confidence.
RULE_CONFIDENCE = 0.5


def read_baskets(path):
    """Non-cancelled invoices (InvoiceNo not starting with C), item = StockCode."""
    baskets = {}
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        for row in reader:
            invoice = row["InvoiceNo"].strip()
            item = row["StockCode"].strip()
            if not invoice or not item or invoice.startswith("C"):
                continue
            baskets.setdefault(invoice, set()).add(item)
    return [sorted(b) for b in baskets.values()]


def run_pyfim(baskets, support):
    import fim

    start = time.perf_counter()
    # supp > 0 is a percentage of transactions; report="a" gives absolute counts.
    found = fim.fpgrowth(baskets, target="s", supp=support * 100, zmin=1, report="a")
    seconds = time.perf_counter() - start
    return found, seconds


def mlxtend_child(baskets, support, queue):
    import pandas as pd
    from mlxtend.frequent_patterns import association_rules, fpgrowth
    from mlxtend.preprocessing import TransactionEncoder

    encoder = TransactionEncoder()
    onehot = encoder.fit(baskets).transform(baskets)
    frame = pd.DataFrame(onehot, columns=encoder.columns_)
    start = time.perf_counter()
    result = fpgrowth(frame, min_support=support, use_colnames=True)
    seconds = time.perf_counter() - start
    rules = association_rules(result, metric="confidence", min_threshold=RULE_CONFIDENCE)
    measures = {}
    for row in rules.itertuples(index=False):
        key = (";".join(sorted(row.antecedents)), ";".join(sorted(row.consequents)))
        measures[key] = (row.support, row.confidence, row.lift, row.leverage,
                         row.conviction, row.zhangs_metric)
    queue.put((len(result), seconds, measures))


def run_mlxtend(baskets, support):
    """mlxtend in a child process, killed after MLXTEND_TIMEOUT seconds. The result is read
    before joining: a child blocks on a large queue item until the parent takes it."""
    queue = mp.Queue()
    child = mp.Process(target=mlxtend_child, args=(baskets, support, queue))
    child.start()
    try:
        result = queue.get(timeout=MLXTEND_TIMEOUT)
    except Exception:  # queue.Empty on timeout, or the child died
        result = (None, None, None)
    if child.is_alive():
        child.kill()
    child.join()
    return result


def run_custscore(binary, data, support, out_dir, itemsets=None):
    """One `custscore rules` run under /usr/bin/time -v: (ms mining, wall s, peak RSS KB)."""
    command = [
        "/usr/bin/time", "-v", binary, "rules", "--transactions", data,
        "--order-col", "InvoiceNo", "--item-col", "StockCode",
        "--min-support", str(support), "--cancelled-prefix", "C",
    ]
    if itemsets:
        command += ["--itemsets", itemsets]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    wall = time.perf_counter() - start
    mined_ms = int(re.search(r"mined (?:and written )?in (\d+) ms", done.stdout).group(1))
    rss_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr).group(1))
    return mined_ms, wall, rss_kb


def custscore_rules(binary, data, support, out_dir):
    path = os.path.join(out_dir, f"custscore_rules_{support}.csv")
    subprocess.run(
        [binary, "rules", "--transactions", data, "--order-col", "InvoiceNo",
         "--item-col", "StockCode", "--min-support", str(support), "--cancelled-prefix", "C",
         "--min-confidence", str(RULE_CONFIDENCE), "--rules", path],
        capture_output=True, text=True, check=True,
    )
    return path


def compare_rules(measures, rules_csv):
    """Rules missing on either side or with a measure off by more than 1e-9 (relative)."""
    theirs = dict(measures)
    ours = 0
    differ = 0
    with open(rules_csv, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            ours += 1
            want = theirs.pop((row["antecedent"], row["consequent"]), None)
            got = [float(row[k]) for k in
                   ("support", "confidence", "lift", "leverage", "conviction", "zhang")]
            if want is None or any(
                not (a == b or abs(a - b) <= 1e-9 * max(abs(a), abs(b), 1.0))
                for a, b in zip(got, want)
            ):
                differ += 1
    return ours, differ + len(theirs)


def compare(found, itemsets_csv):
    """Returns (custscore itemsets, pyfim itemsets, itemsets missing or counted differently)."""
    theirs = {";".join(sorted(items)): count for items, count in found}
    total_theirs = len(theirs)
    ours = 0
    differ = 0
    with open(itemsets_csv, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            ours += 1
            count = theirs.pop(row["items"], None)
            if count is None or count != int(row["count"]):
                differ += 1
    return ours, total_theirs, differ + len(theirs)


def main():
    data, binary, out_dir = sys.argv[1:4]
    os.makedirs(out_dir, exist_ok=True)
    baskets = read_baskets(data)
    items = len({i for b in baskets for i in b})
    print(f"{data}: {len(baskets)} baskets, {items} items (non-cancelled invoices, item = StockCode)")
    header = (
        f"{'support':>8} {'itemsets':>10} {'custscore ms':>13} {'wall s, peak MB':>16} "
        f"{'+ CSV out: wall s, peak MB':>27} {'pyfim ms':>9} {'mlxtend ms':>11} {'differ':>7}"
    )
    print(header)
    for support in SUPPORTS:
        mined_ms, wall, rss_kb = run_custscore(binary, data, support, out_dir)
        itemsets_csv = os.path.join(out_dir, f"custscore_itemsets_{support}.csv")
        _, wall_csv, rss_csv_kb = run_custscore(binary, data, support, out_dir, itemsets_csv)
        found, pyfim_s = run_pyfim(baskets, support)
        ours, theirs, diff = compare(found, itemsets_csv)
        del found
        mlx = "not run"
        rules_note = None
        if support in MLXTEND_SUPPORTS:
            n, seconds, measures = run_mlxtend(baskets, support)
            mlx = f"{seconds * 1000:.0f}" if seconds is not None else f">{MLXTEND_TIMEOUT:.0f}s"
            if n is not None and n != ours:
                print(f"  mlxtend found {n} itemsets, custscore {ours}")
            if measures is not None:
                rules_csv = custscore_rules(binary, data, support, out_dir)
                n_rules, rules_differ = compare_rules(measures, rules_csv)
                rules_note = (f"  rules at confidence >= {RULE_CONFIDENCE}: custscore {n_rules}, "
                              f"mlxtend {len(measures)}, {rules_differ} missing or with a "
                              f"different measure")
        print(
            f"{support:>8} {ours:>10} {mined_ms:>13} {f'{wall:.2f} s, {rss_kb / 1024:.0f} MB':>16} "
            f"{f'{wall_csv:.2f} s, {rss_csv_kb / 1024:.0f} MB':>27} "
            f"{pyfim_s * 1000:>9.0f} {mlx:>11} {diff:>7}"
        )
        if rules_note:
            print(rules_note)
        if ours != theirs or diff:
            print(f"  MISMATCH: custscore {ours} itemsets, pyfim {theirs}, {diff} differ")
    print("custscore ms = item recoding + mining + counting every itemset (the `mined in` line of")
    print("`custscore rules` without --itemsets); wall s = the whole command (CSV read included);")
    print("+ CSV out = the same with --itemsets (every itemset written, then diffed with pyfim).")
    print("pyfim ms = fim.fpgrowth on baskets already in Python lists (its result list included);")
    print("mlxtend ms = mlxtend fpgrowth on a one-hot DataFrame already built; differ = itemsets")
    print("missing on either side or with a different count.")


if __name__ == "__main__":
    main()
