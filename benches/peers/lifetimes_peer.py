"""custscore lifetime vs lifetimes 0.11.3 (see lifetimes_peer.sh). Both sides fit the same
customers; times are medians of `runs` fits of each model, on one thread, data in memory
(custscore times its fits inside one process the same way: `lifetime --runs`)."""
import os, re, statistics, subprocess, sys, time, warnings

import numpy as np
import pandas as pd
from lifetimes import BetaGeoFitter, GammaGammaFitter
from lifetimes.utils import calibration_and_holdout_data

warnings.filterwarnings("ignore")
binary, repo, out, runs = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])


def ours(args):
    text = subprocess.run([binary, "lifetime", *args, "--runs", str(runs)],
                          check=True, capture_output=True, text=True).stdout
    b = re.search(r"BG/NBD: r=(\S+) alpha=(\S+) .* a=(\S+) b=(\S+)", text)
    g = re.search(r"Gamma-Gamma: p=(\S+) q=(\S+) v=(\S+)", text)
    t = re.search(r"BG/NBD ([\d.]+) ms .*Gamma-Gamma ([\d.]+) ms", text)
    return text, [float(x) for x in b.groups()], [float(x) for x in g.groups()], [float(x) for x in t.groups()]


def timed(fit):
    times, model = [], None
    for _ in range(runs):
        start = time.perf_counter()
        model = fit()
        times.append((time.perf_counter() - start) * 1e3)
    return model, statistics.median(times), sorted(times)


def side_by_side(names, our_params, their_params):
    for n, o, t in zip(names, our_params, their_params):
        print(f"  {n:>6}: custscore {o:10.4f}   lifetimes {t:10.4f}")


print(f"cores: {os.cpu_count()}; both sides one thread (OMP/OpenBLAS/MKL threads = 1); "
      f"median of {runs} fits each")

# Part 1: the CDNOW sample summary (weeks).
summary = f"{repo}/tests/fixtures/cdnow_sample_summary.csv"
answers = f"{out}/lifetime_sample_ours.csv"
text, ob, og, (ot_b, ot_g) = ours(["--summary", summary, "--id-col", "sample_id", "--recency-col", "recency_weeks",
                                   "--t-col", "T_weeks", "--unit-days", "7", "--horizon-days", "273", "--output", answers])
d = pd.read_csv(summary)
bgf, tb, all_b = timed(lambda: BetaGeoFitter().fit(d.frequency, d.recency_weeks, d.T_weeks))
rep = d[d.frequency > 0]
ggf, tg, all_g = timed(lambda: GammaGammaFitter().fit(rep.frequency, rep.monetary_value))
print(f"\nCDNOW sample summary: {len(d)} customers ({len(rep)} with repeat purchases)")
print("BG/NBD (alpha in weeks)")
side_by_side(["r", "alpha", "a", "b"], ob, bgf.params_[["r", "alpha", "a", "b"]])
print("Gamma-Gamma")
side_by_side(["p", "q", "v"], og, ggf.params_[["p", "q", "v"]])
print(f"fit time  BG/NBD:      custscore {ot_b:8.2f} ms   lifetimes {tb:8.2f} ms   ratio {tb / ot_b:6.1f}x")
print(f"fit time  Gamma-Gamma: custscore {ot_g:8.2f} ms   lifetimes {tg:8.2f} ms   ratio {tg / ot_g:6.1f}x")
print(f"  lifetimes runs (ms): BG/NBD {', '.join(f'{t:.1f}' for t in all_b)}; Gamma-Gamma {', '.join(f'{t:.1f}' for t in all_g)}")
a = pd.read_csv(answers)
f, r, T, m = d.frequency, d.recency_weeks, d.T_weeks, d.monetary_value
theirs = {
    "p_alive": bgf.conditional_probability_alive(f, r, T),
    "expected_purchases_273d": bgf.conditional_expected_number_of_purchases_up_to_time(39, f, r, T),
    "expected_order_value": ggf.conditional_expected_average_profit(f, m),
}
for column, values in theirs.items():
    diff = np.max(np.abs(a[column].to_numpy() - np.asarray(values, dtype=float)))
    print(f"max |custscore - lifetimes| over {len(d)} customers, {column}: {diff:.2e}")

# Part 2: the full CDNOW log, calibration 1997-01-01..1997-09-30, holdout to 1998-06-30.
log = f"{repo}/training-data/cdnow_transactions.csv"
answers = f"{out}/lifetime_full_ours.csv"
text, ob, og, (ot_b, ot_g) = ours(["--transactions", log, "--customer-col", "customer_id", "--time-col", "date",
                                   "--amount-col", "amount", "--calibration-end", "1997-09-30",
                                   "--observation-end", "1998-06-30", "--unit-days", "7",
                                   "--horizon-days", "273", "--output", answers])
tx = pd.read_csv(log, parse_dates=["date"])
start = time.perf_counter()
ch = calibration_and_holdout_data(tx, "customer_id", "date", calibration_period_end="1997-09-30",
                                  observation_period_end="1998-06-30", freq="D", monetary_value_col="amount")
summarise_ms = (time.perf_counter() - start) * 1e3
for c in ["recency_cal", "T_cal", "duration_holdout"]:
    ch[c] = ch[c] / 7.0
bgf, tb, _ = timed(lambda: BetaGeoFitter().fit(ch.frequency_cal, ch.recency_cal, ch.T_cal))
rep = ch[(ch.frequency_cal > 0) & (ch.monetary_value_cal > 0)]
ggf, tg, _ = timed(lambda: GammaGammaFitter().fit(rep.frequency_cal, rep.monetary_value_cal))
a = pd.read_csv(answers, dtype={"id": str}).set_index("id")
ch.index = ch.index.astype(str)
a = a.loc[ch.index]
same = all(np.allclose(a[o], ch[t]) for o, t in
           [("frequency", "frequency_cal"), ("recency", "recency_cal"), ("T", "T_cal"),
            ("monetary_value", "monetary_value_cal"), ("holdout_purchases", "frequency_holdout")])
print(f"\nfull CDNOW log: {len(tx)} lines, {len(ch)} customers; per-customer summaries "
      f"(calibration and holdout) identical on both sides: {same} (lifetimes summarised in {summarise_ms:.0f} ms)")
print("BG/NBD (alpha in weeks)")
side_by_side(["r", "alpha", "a", "b"], ob, bgf.params_[["r", "alpha", "a", "b"]])
print("Gamma-Gamma")
side_by_side(["p", "q", "v"], og, ggf.params_[["p", "q", "v"]])
print(f"fit time  BG/NBD:      custscore {ot_b:8.2f} ms   lifetimes {tb:8.2f} ms   ratio {tb / ot_b:6.1f}x")
print(f"fit time  Gamma-Gamma: custscore {ot_g:8.2f} ms   lifetimes {tg:8.2f} ms   ratio {tg / ot_g:6.1f}x")
predicted = bgf.conditional_expected_number_of_purchases_up_to_time(39, ch.frequency_cal, ch.recency_cal, ch.T_cal)
diff = np.max(np.abs(a["expected_purchases_273d"].to_numpy() - predicted.to_numpy()))
print(f"max |custscore - lifetimes| expected holdout purchases over {len(ch)} customers: {diff:.2e}")
group = ch.frequency_cal.clip(upper=7)
table = pd.DataFrame({"customers": group.value_counts().sort_index(),
                      "actual": ch.frequency_holdout.groupby(group).mean(),
                      "custscore": a["expected_purchases_273d"].groupby(group.to_numpy()).mean(),
                      "lifetimes": predicted.groupby(group).mean()})
table.index = [f"{int(i)}+" if i == 7 else str(int(i)) for i in table.index]
print("holdout weeks 40-78: mean purchase days per customer by calibration frequency")
print(table.round(3).to_string())
print(f"total: actual {ch.frequency_holdout.sum():.0f}, custscore {a['expected_purchases_273d'].sum():.1f}, "
      f"lifetimes {predicted.sum():.1f}")
