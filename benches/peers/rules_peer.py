"""Association rules on Online Retail: `custscore rules` vs pyfim (Borgelt's C FP-growth),
whole work against whole work, at several supports, in one run.

Headline, per support (median of RUNS runs, default 3, the two alternating):
- custscore: the wall time of the whole command `custscore rules --transactions CSV
  --min-support S --min-confidence C --rules OUT` (process start, reading the CSV, mining,
  rule generation with six measures, writing the rules CSV);
- pyfim: reading the same CSV in Python (pandas, the same basket definition), then
  fim.fpgrowth(target="r", mode="o") (mining + rule generation with support, confidence,
  lift; mode "o" = a rule's support is that of antecedent and consequent together, as
  custscore and mlxtend define it), then writing the rules CSV. Python start-up and `import fim` are not counted.
Checks, untimed: every itemset and count identical to pyfim's (target "s"); the number of
rules with a single-item consequent identical to pyfim's (pyfim's rules always have one
item after the arrow; custscore also writes the longer consequents, so its timed run does
more work than pyfim's). At MLXTEND_SUPPORTS (default 0.01) every rule and all six
measures are compared with mlxtend's association_rules, in a child process killed after
MLXTEND_TIMEOUT seconds (default 300).

Usage: rules_peer.py ONLINE_RETAIL_CSV CUSTSCORE_BINARY OUT_DIR
"""
import csv
import multiprocessing as mp
import os
import re
import subprocess
import sys
import time

# At 0.002 custscore's rules file (every consequent length) holds 177.7 million rules,
# 29.5 GB: the headline stops at 0.005.
SUPPORTS = [float(s) for s in os.environ.get("SUPPORTS", "0.02 0.01 0.005").split()]
MLXTEND_SUPPORTS = {float(s) for s in os.environ.get("MLXTEND_SUPPORTS", "0.01").split()}
RUNS = int(os.environ.get("RUNS", "3"))
MLXTEND_TIMEOUT = float(os.environ.get("MLXTEND_TIMEOUT", "300"))
# Both sides generate rules at this minimum confidence.
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


def read_baskets_pandas(path):
    """The same baskets as read_baskets (non-cancelled invoices, item = StockCode, blanks
    skipped, each item once per basket), read the fast way a pandas user would."""
    import pandas as pd

    lines = pd.read_csv(path, usecols=["InvoiceNo", "StockCode"], dtype=str,
                        keep_default_na=False)
    invoice = lines["InvoiceNo"].str.strip()
    item = lines["StockCode"].str.strip()
    keep = (invoice != "") & (item != "") & ~invoice.str.startswith("C")
    pairs = pd.DataFrame({"i": invoice[keep], "s": item[keep]}).drop_duplicates()
    return [sorted(g) for g in pairs.groupby("i", sort=False)["s"].agg(list)]


def pyfim_whole(path, support, out_csv):
    """Read + mine + generate rules + write them: seconds, rules."""
    import fim

    start = time.perf_counter()
    baskets = read_baskets_pandas(path)
    rules = fim.fpgrowth(baskets, target="r", supp=support * 100, conf=RULE_CONFIDENCE * 100,
                         zmin=2, report="scl", mode="o")
    with open(out_csv, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["antecedent", "consequent", "support", "confidence", "lift"])
        for head, body, s, c, l in rules:
            w.writerow([";".join(sorted(body)), head, s, c, l])
    return time.perf_counter() - start, len(rules)


def custscore_whole(binary, data, support, out_csv):
    """The whole `custscore rules ... --rules OUT` command: wall seconds, peak RSS KB."""
    command = [
        "/usr/bin/time", "-v", binary, "rules", "--transactions", data,
        "--order-col", "InvoiceNo", "--item-col", "StockCode",
        "--min-support", str(support), "--cancelled-prefix", "C",
        "--min-confidence", str(RULE_CONFIDENCE), "--rules", out_csv,
    ]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    wall = time.perf_counter() - start
    rss_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr).group(1))
    return wall, rss_kb


def rule_counts(rules_csv):
    """(all rules, rules with a single-item consequent) in a custscore rules file."""
    total = single = 0
    with open(rules_csv, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            total += 1
            single += ";" not in row["consequent"]
    return total, single


def median(values):
    values = sorted(values)
    return values[len(values) // 2]


def main():
    data, binary, out_dir = sys.argv[1:4]
    os.makedirs(out_dir, exist_ok=True)
    baskets = read_baskets(data)
    assert sorted(map(tuple, baskets)) == sorted(map(tuple, read_baskets_pandas(data))), \
        "the two basket readers disagree"
    items = len({i for b in baskets for i in b})
    print(f"{data}: {len(baskets)} baskets, {items} items (non-cancelled invoices, item = StockCode)")
    print(f"rules at confidence >= {RULE_CONFIDENCE}; median of {RUNS} runs, the two alternating; "
          f"{os.cpu_count()} cores; both sides use one thread (custscore's rules command "
          f"reads, mines and writes on one thread; pyfim is single-threaded C)")
    print(f"{'support':>8} {'itemsets':>9} {'rules':>8} {'1-item cons.':>13} "
          f"{'custscore s':>12} {'pyfim s':>8} {'ratio':>6} {'peak MB':>8}  runs custscore | pyfim")
    for support in SUPPORTS:
        ours_rules = os.path.join(out_dir, f"custscore_rules_{support}.csv")
        peer_rules = os.path.join(out_dir, f"pyfim_rules_{support}.csv")
        ours_s, peer_s, rss = [], [], 0
        for _ in range(RUNS):
            wall, rss_kb = custscore_whole(binary, data, support, ours_rules)
            ours_s.append(wall)
            rss = max(rss, rss_kb)
            seconds, n_pyfim_rules = pyfim_whole(data, support, peer_rules)
            peer_s.append(seconds)
        # Checks (untimed): itemsets and counts, and rule counts.
        itemsets_csv = os.path.join(out_dir, f"custscore_itemsets_{support}.csv")
        run_custscore(binary, data, support, out_dir, itemsets_csv)
        found, _ = run_pyfim(baskets, support)
        ours, theirs, diff = compare(found, itemsets_csv)
        del found
        n_rules, n_single = rule_counts(ours_rules)
        o, p = median(ours_s), median(peer_s)
        print(f"{support:>8} {ours:>9} {n_rules:>8} {n_single:>13} {o:>12.3f} {p:>8.3f} "
              f"{p / o:>5.1f}x {rss / 1024:>8.0f}  "
              f"{' '.join(f'{s:.3f}' for s in ours_s)} | {' '.join(f'{s:.3f}' for s in peer_s)}")
        if ours != theirs or diff:
            print(f"  MISMATCH: custscore {ours} itemsets, pyfim {theirs}, {diff} differ")
        if n_single != n_pyfim_rules:
            print(f"  MISMATCH: custscore {n_single} single-consequent rules, pyfim {n_pyfim_rules}")
        if support in MLXTEND_SUPPORTS:
            n, seconds, measures = run_mlxtend(baskets, support)
            if measures is None:
                print(f"  mlxtend: no answer within {MLXTEND_TIMEOUT:.0f} s")
            else:
                n_rules, rules_differ = compare_rules(measures, ours_rules)
                print(f"  mlxtend: {n} itemsets; rules custscore {n_rules}, mlxtend {len(measures)}, "
                      f"{rules_differ} missing or with a different measure")
    print("ratio = pyfim s / custscore s (how many times longer pyfim's whole work takes).")
    print("itemsets = custscore's itemsets, checked identical (items and counts) with pyfim's;")
    print("rules = all custscore rules; 1-item cons. = those with one consequent item, checked")
    print("equal in number to pyfim's rules. peak MB = custscore's peak RSS.")


if __name__ == "__main__":
    main()
