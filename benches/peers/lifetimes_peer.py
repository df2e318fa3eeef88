"""custscore lifetime vs lifetimes 0.11.3 (see lifetimes_peer.sh). Both sides fit the same
customers; times are medians of `runs` fits of each model, on one thread, data in memory
(custscore times its fits inside one process the same way: `lifetime --runs`)."""
import os, re, statistics, subprocess, sys, time, warnings

import numpy as np
import pandas as pd
from lifetimes import BetaGeoFitter, GammaGammaFitter, ModifiedBetaGeoFitter, ParetoNBDFitter
from lifetimes.utils import calibration_and_holdout_data

warnings.filterwarnings("ignore")
binary, repo, out, runs = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
pareto_runs = int(os.environ.get("PARETO_RUNS", "5"))
MODELS = ["BG/NBD", "MBG/NBD", "Pareto/NBD"]


def ours(args, runs=runs):
    text = subprocess.run([binary, "lifetime", *args, "--runs", str(runs)],
                          check=True, capture_output=True, text=True).stdout
    b = re.search(r"BG/NBD: r=(\S+) alpha=(\S+) a=(\S+) b=(\S+)", text)
    g = re.search(r"Gamma-Gamma: p=(\S+) q=(\S+) v=(\S+)", text)
    t = re.search(r"BG/NBD ([\d.]+) ms .*Gamma-Gamma ([\d.]+) ms", text)
    return text, [float(x) for x in b.groups()], [float(x) for x in g.groups()], [float(x) for x in t.groups()]


def ours_extra(text):
    """MBG/NBD and Pareto/NBD from `lifetime`'s output: parameters, fit time (ms), mean
    log-likelihood on the data as given, holdout error (when checked)."""
    found = {}
    for name in MODELS:
        e = re.escape(name)
        params = re.search(rf"^{e}: r=(\S+) alpha=(\S+) \w+=(\S+) \w+=(\S+)", text, re.M)
        ms = re.search(rf"(?:: |, ){e} ([\d.]+) ms", text)
        ll = re.search(rf"on the data as given: .*?{e} (-?[\d.]+)", text)
        err = re.search(rf"^{e} \(holdout error ([\d.]+)\)", text, re.M)
        found[name] = ([float(x) for x in params.groups()], float(ms.group(1)), float(ll.group(1)),
                       float(err.group(1)) if err else None)
    return found


def holdout_error(actual, predicted, frequency):
    """Σ over calibration-frequency groups 0..7+ of |predicted − actual| purchases, per
    customer: the error `custscore` chooses its purchase model by."""
    group = np.minimum(np.asarray(frequency), 7)
    off = sum(abs(predicted[group == g].sum() - actual[group == g].sum()) for g in np.unique(group))
    return off / len(group)


def lifetimes_mean_ll(name, params, f, r, T):
    """lifetimes' own likelihood of `params` on the data as given (not time-scaled)."""
    w = np.ones(len(f))
    if name == "Pareto/NBD":
        return -ParetoNBDFitter._negative_log_likelihood(np.asarray(params), f, r, T, w, 0) / len(f)
    fitter = BetaGeoFitter if name == "BG/NBD" else ModifiedBetaGeoFitter
    return -fitter._negative_log_likelihood(np.log(params), f, r, T, w, 0)


def fit_theirs(name, f, r, T):
    if name == "BG/NBD":
        return BetaGeoFitter().fit(f, r, T)
    if name == "MBG/NBD":
        return ModifiedBetaGeoFitter().fit(f, r, T)
    np.random.seed(0)
    return ParetoNBDFitter().fit(f, r, T)


def timed(fit, runs=runs):
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

# MBG/NBD and Pareto/NBD on the same sample: parameters, log-likelihood (lifetimes' own
# function on the unscaled data, at each side's parameters), fit times, per-customer answers.
extra = ours_extra(text)
names = {"BG/NBD": ["r", "alpha", "a", "b"], "MBG/NBD": ["r", "alpha", "a", "b"], "Pareto/NBD": ["r", "alpha", "s", "beta"]}
for name in ["MBG/NBD", "Pareto/NBD"]:
    n = pareto_runs if name == "Pareto/NBD" else runs
    model, t_theirs, all_t = timed(lambda: fit_theirs(name, f, r, T), n)
    params, t_ours, ll_ours, _ = extra[name]
    print(f"{name} (alpha{', beta' if name == 'Pareto/NBD' else ''} in weeks)")
    side_by_side(names[name], params, model.params_[names[name]])
    ll_theirs = lifetimes_mean_ll(name, model.params_[names[name]].to_numpy(), f, r, T)
    print(f"  mean log-likelihood (lifetimes' function, weeks): custscore's parameters {ll_ours:.6f} "
          f"(custscore's function), lifetimes' parameters {ll_theirs:.6f}")
    print(f"fit time  {name}: custscore {t_ours:8.2f} ms   lifetimes {t_theirs:8.2f} ms   ratio {t_theirs / t_ours:6.1f}x"
          f"   (custscore median of {runs}, lifetimes of {n}: {', '.join(f'{t:.0f}' for t in all_t)})")
    key = name.lower().replace("/", "-")
    path = f"{out}/lifetime_sample_{key}.csv"
    ours(["--summary", summary, "--id-col", "sample_id", "--recency-col", "recency_weeks", "--t-col", "T_weeks",
          "--unit-days", "7", "--horizon-days", "273", "--model", key, "--output", path], runs=1)
    mine = pd.read_csv(path)
    for column, values in {"p_alive": model.conditional_probability_alive(f, r, T),
                           "expected_purchases_273d": model.conditional_expected_number_of_purchases_up_to_time(39, f, r, T)}.items():
        diff = np.max(np.abs(mine[column].to_numpy() - np.asarray(values, dtype=float).ravel()))
        print(f"  max |custscore - lifetimes| over {len(d)} customers, {column}: {diff:.2e}")

# Part 2: the full CDNOW log, calibration 1997-01-01..1997-09-30, holdout to 1998-06-30.
log = f"{repo}/training-data/cdnow_transactions.csv"
answers = f"{out}/lifetime_full_ours.csv"
text, ob, og, (ot_b, ot_g) = ours(["--transactions", log, "--customer-col", "customer_id", "--time-col", "date",
                                   "--amount-col", "amount", "--calibration-end", "1997-09-30",
                                   "--observation-end", "1998-06-30", "--unit-days", "7",
                                   "--horizon-days", "273", "--model", "bg-nbd", "--output", answers])
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

extra = ours_extra(text)
print("holdout error (Σ over frequency groups |predicted − actual| / customers), each candidate:")
for name in MODELS:
    model = fit_theirs(name, ch.frequency_cal, ch.recency_cal, ch.T_cal)
    p = np.asarray(model.conditional_expected_number_of_purchases_up_to_time(39, ch.frequency_cal, ch.recency_cal, ch.T_cal)).ravel()
    theirs_err = holdout_error(ch.frequency_holdout.to_numpy(), p, ch.frequency_cal)
    print(f"  {name:>10}: custscore {extra[name][3]:.4f}   lifetimes {theirs_err:.4f}   "
          f"(total predicted: lifetimes {p.sum():.1f}; actual {ch.frequency_holdout.sum():.0f})")
print("custscore " + re.search(r"purchase model answering: .*", text).group(0))

# Part 3: Online Retail (days), calibration to 2011-09-09, holdout the last 91 days.
log = f"{repo}/training-data/online_retail.csv.gz"
text = subprocess.run([binary, "lifetime", "--transactions", log, "--customer-col", "CustomerID",
                       "--time-col", "InvoiceDate", "--price-col", "UnitPrice", "--quantity-col", "Quantity",
                       "--calibration-end", "2011-09-09", "--observation-end", "2011-12-09"],
                      check=True, capture_output=True, text=True).stdout
print("\nOnline Retail, custscore lifetime (days; calibration to 2011-09-09, holdout to 2011-12-09):")
print(text)
tx = pd.read_csv(log, dtype={"CustomerID": str, "InvoiceNo": str}, parse_dates=["InvoiceDate"])
tx = tx[tx.CustomerID.notna() & (tx.Quantity > 0)]
tx["amount"] = tx.Quantity * tx.UnitPrice
ch = calibration_and_holdout_data(tx, "CustomerID", "InvoiceDate", calibration_period_end="2011-09-09",
                                  observation_period_end="2011-12-09", freq="D", monetary_value_col="amount")
length = ch.duration_holdout.iloc[0]
print(f"lifetimes, same log ({len(ch)} customers; holdout {length:.0f} days):")
for name in MODELS:
    try:
        model = fit_theirs(name, ch.frequency_cal, ch.recency_cal, ch.T_cal)
    except Exception as e:  # lifetimes raises when BFGS does not converge
        print(f"  {name:>10}: lifetimes did not fit ({type(e).__name__})")
        continue
    p = np.asarray(model.conditional_expected_number_of_purchases_up_to_time(length, ch.frequency_cal, ch.recency_cal, ch.T_cal)).ravel()
    alive = np.asarray(model.conditional_probability_alive(ch.frequency_cal, ch.recency_cal, ch.T_cal)).ravel()
    print(f"  {name:>10}: params {', '.join(f'{v:.4g}' for v in model.params_.to_numpy())}; holdout error "
          f"{holdout_error(ch.frequency_holdout.to_numpy(), p, ch.frequency_cal):.4f}; total predicted {p.sum():.1f}, "
          f"actual {ch.frequency_holdout.sum():.0f}; median P(alive) {np.median(alive):.3f}")
