//! `custscore lifetime`: fit BG/NBD and Gamma-Gamma on a repeat-purchase summary or an
//! order log, print the parameters and fit times, the holdout check when the log goes
//! past the calibration period, and optionally every customer's answers as CSV.

use crate::cli::LifetimeArgs;
use crate::data::transactions::{self, TransactionSpec};
use crate::models::lifetime::summary::{
    purchase_days, read_summary, CustomerHistory, SummaryColumns,
};
use crate::models::lifetime::{
    BgNbd, FitReport, GammaGamma, LifetimeError, LifetimeModel, LifetimeSettings, ModifiedBgNbd,
    ParetoNbd, PurchaseModel, RepeatSummary,
};
use chrono::NaiveDate;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
pub enum LifetimeCliError {
    #[error(transparent)]
    Lifetime(#[from] LifetimeError),
    #[error("{flag}: {problem}")]
    Flag { flag: &'static str, problem: String },
    #[error("{}: cannot write", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

fn flag(flag: &'static str, problem: impl Into<String>) -> LifetimeCliError {
    LifetimeCliError::Flag {
        flag,
        problem: problem.into(),
    }
}

/// Customers to fit on, and (from a log with a holdout period) what they did after it.
struct Input {
    ids: Vec<String>,
    calibration: Vec<RepeatSummary>,
    holdout: Option<(Vec<CustomerHistory>, f64)>,
    described: String,
}

pub fn run_lifetime(args: &LifetimeArgs) -> Result<(), LifetimeCliError> {
    let settings = LifetimeSettings {
        unit_days: args.unit_days,
        horizon_days: args.horizon_days,
        clv_months: args.clv_months,
        monthly_discount: args.monthly_discount,
    };
    settings.check()?;
    if args.runs == 0 {
        return Err(flag("--runs", "must be at least 1"));
    }
    let input = match (&args.summary, &args.transactions) {
        (Some(path), _) => from_summary(path, args)?,
        (None, Some(path)) => from_log(path, args)?,
        (None, None) => return Err(flag("--summary", "give --summary or --transactions")),
    };
    println!("{}", input.described);
    let shown = |times: Result<Vec<Duration>, LifetimeError>| {
        times.as_ref().map_or("-".to_string(), |t| show_times(t))
    };
    let customers = &input.calibration;
    let times = [
        ("BG/NBD", shown(timed(args.runs, || BgNbd::fit(customers)))),
        (
            "MBG/NBD",
            shown(timed(args.runs, || ModifiedBgNbd::fit(customers))),
        ),
        (
            "Pareto/NBD",
            shown(timed(args.runs, || ParetoNbd::fit(customers))),
        ),
        (
            "Gamma-Gamma",
            shown(timed(args.runs, || GammaGamma::fit(customers))),
        ),
    ];
    let mut model = LifetimeModel::fit(customers, settings)?;
    if let Some((histories, length)) = &input.holdout {
        model.choose_by_holdout(histories, *length);
    }
    if let Some(name) = &args.model {
        model.chosen = model
            .candidates
            .iter()
            .position(|c| key(c.model.name()) == *name)
            .ok_or_else(|| {
                flag(
                    "--model",
                    format!("{name:?}: expected one of bg-nbd, mbg-nbd, pareto-nbd (fitted)"),
                )
            })?;
    }
    print!("{}", describe(&model));
    let likelihoods: Vec<String> = (model.candidates.iter())
        .map(|c| {
            format!(
                "{} {:.6}",
                c.model.name(),
                c.model.mean_log_likelihood(customers)
            )
        })
        .collect();
    println!(
        "mean log-likelihood per customer on the data as given: {}",
        likelihoods.join(", ")
    );
    let times: Vec<String> = times
        .iter()
        .map(|(name, t)| format!("{name} {t}"))
        .collect();
    println!(
        "fit time, median of {} runs (one thread): {}",
        args.runs,
        times.join(", ")
    );
    if let Some((_, length)) = &input.holdout {
        println!(
            "holdout: purchase days in the {:.0} days after the calibration period, per calibration frequency",
            length * args.unit_days
        );
        for c in &model.candidates {
            if let Some(table) = &c.holdout {
                println!("{} (holdout error {:.4})", c.model.name(), table.error());
                print!("{}", table.render());
            }
        }
    }
    if let Some(path) = &args.output {
        write_answers(path, &model, &input).map_err(|source| LifetimeCliError::Write {
            path: path.clone(),
            source,
        })?;
    }
    Ok(())
}

/// Run `fit` `runs` times; the durations, sorted.
fn timed<T>(
    runs: usize,
    mut fit: impl FnMut() -> Result<T, LifetimeError>,
) -> Result<Vec<Duration>, LifetimeError> {
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let start = Instant::now();
        std::hint::black_box(fit()?);
        times.push(start.elapsed());
    }
    times.sort();
    Ok(times)
}

fn show_times(sorted: &[Duration]) -> String {
    let ms = |d: &Duration| d.as_secs_f64() * 1e3;
    let all: Vec<String> = sorted.iter().map(|d| format!("{:.2}", ms(d))).collect();
    format!(
        "{:.2} ms (runs: {})",
        ms(&sorted[sorted.len() / 2]),
        all.join(", ")
    )
}

/// `--model`'s spelling of a purchase model's name: "MBG/NBD" is mbg-nbd.
fn key(name: &str) -> String {
    name.to_ascii_lowercase().replace('/', "-")
}

/// One purchase model's parameters (which of them are in `unit`) and how its fit went,
/// with a note when the fit sees almost no drop-out.
fn parameter_line(model: &PurchaseModel, fit: &FitReport, unit: &str) -> String {
    let parameters: Vec<String> = model
        .parameters()
        .iter()
        .map(|(n, v)| format!("{n}={}", figure(*v)))
        .collect();
    let in_unit = match model {
        PurchaseModel::ParetoNbd(_) => "alpha and beta",
        PurchaseModel::BgNbd(_) | PurchaseModel::ModifiedBgNbd(_) => "alpha",
    };
    let mut out = format!(
        "{}: {} ({in_unit} in {unit})  ({} customers, mean log-likelihood {:.6}, {} iterations)\n",
        model.name(),
        parameters.join(" "),
        fit.customers,
        fit.mean_log_likelihood,
        fit.iterations
    );
    let (PurchaseModel::BgNbd(BgNbd { a, b, .. })
    | PurchaseModel::ModifiedBgNbd(ModifiedBgNbd { a, b, .. })) = *model
    else {
        return out;
    };
    let dropout = a / (a + b);
    if dropout < 1e-4 {
        out.push_str(&format!(
            "  note: drop-out after a purchase is almost never seen in the calibration period (a/(a+b) = {dropout:.1e}): {}'s P(alive) is about 1 for everyone\n",
            model.name()
        ));
    }
    out
}

/// The parameters and how each fit went.
pub fn describe(model: &LifetimeModel) -> String {
    let unit = match model.settings.unit_days {
        1.0 => "days".to_string(),
        7.0 => "weeks".to_string(),
        u => format!("units of {u} days"),
    };
    let mut out = String::new();
    if model.candidates.is_empty() {
        // A bundle from before MBG/NBD and Pareto/NBD were candidates.
        let bgnbd = PurchaseModel::BgNbd(model.bgnbd);
        out.push_str(&parameter_line(&bgnbd, &model.bgnbd_fit, &unit));
    }
    for c in &model.candidates {
        out.push_str(&parameter_line(&c.model, &c.fit, &unit));
    }
    let errors: Vec<String> = (model.candidates.iter())
        .filter_map(|c| {
            Some(format!(
                "{} {:.4}",
                c.model.name(),
                c.holdout.as_ref()?.error()
            ))
        })
        .collect();
    if !errors.is_empty() {
        out.push_str(&format!(
            "holdout error (|predicted − actual| purchases per frequency group, per customer): {}\n",
            errors.join(", ")
        ));
    }
    let chosen = model.purchases();
    let why = match model
        .candidates
        .get(model.chosen)
        .and_then(|c| c.holdout.as_ref())
    {
        Some(table) => format!("holdout error {:.4} purchases per customer", table.error()),
        None => "no holdout check to choose by".to_string(),
    };
    out.push_str(&format!(
        "purchase model answering: {} ({why})\n",
        chosen.name()
    ));
    match (&model.gamma_gamma, &model.gamma_gamma_fit) {
        (Some(g), Some(fit)) => out.push_str(&format!(
            "Gamma-Gamma: p={} q={} v={}  ({} repeat customers, {} left out with zero spend, mean log-likelihood {:.6}, {} iterations)\n",
            figure(g.p), figure(g.q), figure(g.v), fit.customers, fit.left_out, fit.mean_log_likelihood, fit.iterations
        )),
        _ => out.push_str("Gamma-Gamma: not fitted (fewer than two customers with repeat purchases of positive value)\n"),
    }
    out
}

/// A parameter with four decimals, or four significant digits when that shows nothing.
fn figure(x: f64) -> String {
    match x.abs() {
        a if a != 0.0 && !(1e-3..1e5).contains(&a) => format!("{x:.3e}"),
        _ => format!("{x:.4}"),
    }
}

fn from_summary(path: &Path, args: &LifetimeArgs) -> Result<Input, LifetimeCliError> {
    let columns = SummaryColumns {
        id: args.id_col.clone(),
        frequency: args.frequency_col.clone(),
        recency: args.recency_col.clone(),
        age: args.t_col.clone(),
        monetary: Some(args.monetary_col.clone()),
    };
    let rows = read_summary(path, &columns)?;
    let described = format!("{}: {} customers", path.display(), rows.len());
    let (ids, calibration) = rows.into_iter().unzip();
    Ok(Input {
        ids,
        calibration,
        holdout: None,
        described,
    })
}

fn from_log(path: &Path, args: &LifetimeArgs) -> Result<Input, LifetimeCliError> {
    let spec = TransactionSpec {
        customer_col: args
            .customer_col
            .clone()
            .ok_or_else(|| flag("--customer-col", "required with --transactions"))?,
        order_col: None,
        item_col: None,
        time_col: args
            .time_col
            .clone()
            .ok_or_else(|| flag("--time-col", "required with --transactions"))?,
        amount_col: args.amount_col.clone(),
        price_col: args.price_col.clone(),
        quantity_col: args.quantity_col.clone(),
        churn_after_days: 1,
        exclude_items: Vec::new(),
    };
    let (log, scan, returns) = purchase_days(path, &spec).map_err(LifetimeError::from)?;
    let day = |text: &Option<String>, name| -> Result<NaiveDate, LifetimeCliError> {
        match text {
            None => Ok(scan.last.date()),
            Some(text) => transactions::parse_time(text)
                .map(|t| t.date())
                .ok_or_else(|| flag(name, format!("{text:?}: expected a date like 1997-09-30"))),
        }
    };
    let calibration_end = day(&args.calibration_end, "--calibration-end")?;
    let observation_end = day(&args.observation_end, "--observation-end")?;
    if observation_end < calibration_end {
        return Err(flag(
            "--observation-end",
            "must not be before --calibration-end",
        ));
    }
    let unit = args.unit_days;
    let histories: Vec<CustomerHistory> = log
        .histories(calibration_end, observation_end)
        .into_iter()
        .map(|mut h| {
            let c = &mut h.calibration;
            (c.recency, c.age) = (c.recency / unit, c.age / unit);
            h
        })
        .collect();
    if histories.is_empty() {
        return Err(LifetimeError::NoCustomers {
            path: path.to_path_buf(),
        }
        .into());
    }
    let q = &scan.quality;
    let described = format!(
        "{}: {} lines, {} used ({} returns and {} without a customer left out, {} unreadable); {} customers first buying by {calibration_end}; holdout {} .. {observation_end}",
        path.display(),
        q.lines,
        q.used,
        returns,
        q.blank_customer,
        q.rejected_total,
        histories.len(),
        calibration_end.succ_opt().unwrap_or(calibration_end),
    );
    let length = (observation_end - calibration_end).num_days() as f64 / unit;
    Ok(Input {
        ids: histories.iter().map(|h| h.id.clone()).collect(),
        calibration: histories.iter().map(|h| h.calibration).collect(),
        holdout: (length > 0.0).then_some((histories, length)),
        described,
    })
}

fn write_answers(path: &Path, model: &LifetimeModel, input: &Input) -> std::io::Result<()> {
    let mut out = csv::Writer::from_path(path)?;
    let horizon = format!("expected_purchases_{}d", model.settings.horizon_days);
    let mut header = vec![
        "id",
        "frequency",
        "recency",
        "T",
        "monetary_value",
        "p_alive",
        &horizon,
        "expected_order_value",
        "clv",
    ];
    if input.holdout.is_some() {
        header.push("holdout_purchases");
    }
    out.write_record(&header)?;
    let number = |x: Option<f64>| x.map_or(String::new(), |x| x.to_string());
    for (i, (id, c)) in input.ids.iter().zip(&input.calibration).enumerate() {
        let a = model.answer(c);
        let mut record = vec![
            id.clone(),
            c.frequency.to_string(),
            c.recency.to_string(),
            c.age.to_string(),
            c.monetary.to_string(),
            a.p_alive.to_string(),
            number(a.expected_purchases),
            number(a.expected_order_value),
            number(a.clv),
        ];
        if let Some((histories, _)) = &input.holdout {
            record.push(histories[i].holdout_purchases.to_string());
        }
        out.write_record(&record)?;
    }
    out.flush()
}
