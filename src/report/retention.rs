//! The report's retention section: churn candidates side by side, the calibration curve
//! and table, the readable tree's rules, and customer lifetime value by quadrant.

use super::svg::{self, esc};
use super::{pct, table};
use crate::bundle::Bundle;
use std::fmt::Write;

/// ROC curves of every candidate, and cumulative gains / lift by decile.
fn roc_and_gains(metrics: &crate::models::classifier::RetentionMetrics) -> String {
    let mut out = String::from("<h3>ROC and gains (out of fold)</h3>");
    let roc: Vec<(String, Vec<(f64, f64)>)> = metrics
        .candidates
        .iter()
        .map(|c| (format!("{} (AUC {:.3})", c.model, c.auc), c.roc.clone()))
        .collect();
    out.push_str(&svg::lines(
        "ROC curves",
        "false positive rate",
        "true positive rate",
        &roc,
        true,
    ));
    let gains: Vec<(String, Vec<(f64, f64)>)> = metrics
        .candidates
        .iter()
        .map(|c| {
            let mut points = vec![(0.0, 0.0)];
            points.extend(
                c.gains
                    .iter()
                    .enumerate()
                    .map(|(d, &g)| ((d + 1) as f64 / 10.0, g)),
            );
            (c.model.clone(), points)
        })
        .collect();
    out.push_str(&svg::lines(
        "cumulative gains by decile",
        "share of customers contacted (highest risk first)",
        "share of churners found",
        &gains,
        true,
    ));
    if let Some(chosen) = metrics.chosen_candidate() {
        let rows: Vec<Vec<String>> = chosen
            .gains
            .iter()
            .enumerate()
            .map(|(d, &g)| {
                let share = (d + 1) as f64 / 10.0;
                vec![
                    format!("top {}%", (d + 1) * 10),
                    pct(g),
                    format!("{:.2}", g / share),
                ]
            })
            .collect();
        out.push_str(&table(
            "lift-by-decile",
            &["customers", "churners found", "lift"],
            &rows,
        ));
    }
    out
}

/// The reasons that come up most often among training customers.
fn drivers(scored: &crate::bundle::ScoredTraining) -> String {
    let mut out = String::from(
        "<h3>Top drivers</h3><p class=\"muted\">Share of training customers for whom each is one of their three reasons.</p>",
    );
    let names: Vec<String> = scored.drivers.iter().map(|(d, _)| d.clone()).collect();
    let rows: Vec<Vec<String>> = scored
        .drivers
        .iter()
        .map(|(d, share)| vec![d.clone(), pct(*share)])
        .collect();
    let series = vec![(
        "share of customers",
        scored.drivers.iter().map(|d| d.1).collect(),
    )];
    let short: Vec<String> = names
        .iter()
        .enumerate()
        .map(|(i, _)| (i + 1).to_string())
        .collect();
    out.push_str(&svg::grouped_bars(
        "top churn drivers",
        &short,
        &series,
        true,
    ));
    let numbered: Vec<Vec<String>> = rows
        .into_iter()
        .enumerate()
        .map(|(i, mut r)| {
            r.insert(0, (i + 1).to_string());
            r
        })
        .collect();
    out.push_str(&table(
        "drivers",
        &["#", "reason", "share of customers"],
        &numbered,
    ));
    out
}

/// CLV distribution as a histogram.
fn clv_histogram(scored: &crate::bundle::ScoredTraining) -> String {
    if scored.clv_histogram.is_empty() {
        return String::new();
    }
    let labels: Vec<String> = scored
        .clv_histogram
        .iter()
        .map(|(lo, _, _)| compact(*lo))
        .collect();
    let total: usize = scored.clv_histogram.iter().map(|b| b.2).sum();
    let series = vec![(
        "share of customers",
        scored
            .clv_histogram
            .iter()
            .map(|b| b.2 as f64 / total.max(1) as f64)
            .collect(),
    )];
    format!(
        "<h3>CLV distribution</h3>{}",
        svg::grouped_bars("CLV distribution", &labels, &series, true)
    )
}

fn compact(x: f64) -> String {
    match x.abs() {
        a if a >= 1e6 => format!("{:.1}M", x / 1e6),
        a if a >= 1e3 => format!("{:.1}k", x / 1e3),
        _ => format!("{x:.0}"),
    }
}

pub fn section(bundle: &Bundle) -> Option<String> {
    let metrics = bundle.manifest.metrics.retention.as_ref()?;
    let model = bundle.retention.as_ref()?;
    let mut out = String::from(r#"<section id="retention"><h2>Retention risk</h2>"#);
    let _ = write!(
        out,
        "<p>{} candidate models compared by {}-fold stratified cross-validation on {} labeled customers (churn rate {}); <b>{}</b> was chosen by AUC and calibrated ({}).</p>",
        metrics.candidates.len(),
        metrics.folds,
        metrics.labeled_rows,
        pct(metrics.churn_rate),
        esc(&metrics.chosen),
        metrics.calibration.map_or("none".into(), |c| format!("{c:?}").to_lowercase()),
    );
    let rows: Vec<Vec<String>> = metrics
        .candidates
        .iter()
        .map(|c| {
            vec![
                c.model.clone(),
                format!("{:.4}", c.auc),
                format!("{:.4}", c.auc_std),
                format!("{:.4}", c.log_loss),
                format!("{:.4}", c.brier),
                format!("{:.2}", c.top_decile_lift),
                format!("{:.3}", c.fit_seconds),
            ]
        })
        .collect();
    let header = [
        "model",
        "CV AUC",
        "± (folds)",
        "log loss",
        "Brier",
        "top-decile lift",
        "fit s/fold",
    ];
    out.push_str(&table("candidates", &header, &rows));
    out.push_str(&roc_and_gains(metrics));
    if let Some(scored) = &bundle.manifest.metrics.scored_training {
        out.push_str(&drivers(scored));
    }
    out.push_str(&calibration(model, metrics.ece, metrics.ece_uncalibrated));
    if let Some(tree) = &bundle.tree {
        out.push_str("<h3>Why customers leave: the decision tree as rules</h3><ul>");
        for rule in &tree.rules {
            let _ = write!(out, "<li><code>{}</code></li>", esc(&rule.sentence()));
        }
        out.push_str("</ul>");
    }
    if let Some(v) = &model.value {
        let _ = write!(
            out,
            "<h3>Lifetime value</h3><p>Customer equity {:.2} over {} customers (annual margin = <code>{}</code> × {} × {}, discount rate {}, horizon {} years).</p>",
            v.equity, v.customers, esc(&v.settings.margin), v.settings.margin_rate,
            v.settings.periods_per_year, v.settings.discount_rate, v.settings.horizon_years
        );
        let rows: Vec<Vec<String>> = v
            .quadrants
            .iter()
            .map(|q| {
                let share = q.clv_total / v.equity.max(f64::MIN_POSITIVE);
                vec![
                    q.name.clone(),
                    q.customers.to_string(),
                    format!("{:.2}", q.clv_total),
                    pct(share),
                ]
            })
            .collect();
        out.push_str(&table(
            "quadrants",
            &["quadrant", "customers", "CLV", "share of equity"],
            &rows,
        ));
    }
    if let Some(scored) = &bundle.manifest.metrics.scored_training {
        out.push_str(&clv_histogram(scored));
    }
    out.push_str("</section>");
    Some(out)
}

/// Reliability curve (predicted vs observed churn, out of fold) and its table.
fn calibration(model: &crate::models::classifier::RetentionModel, ece: f64, raw: f64) -> String {
    let points: Vec<(f64, f64)> = model
        .reliability
        .iter()
        .map(|b| (b.predicted, b.observed))
        .collect();
    let mut out = format!(
        "<h3>Calibration</h3><p>Expected calibration error {ece:.4} out of fold (before calibration {raw:.4}).</p>"
    );
    out.push_str(&svg::lines(
        "calibration: observed churn rate by predicted probability",
        "predicted churn probability",
        "observed churn rate",
        &[("calibrated, out of fold".to_string(), points)],
        true,
    ));
    let rows: Vec<Vec<String>> = model
        .reliability
        .iter()
        .map(|b| {
            vec![
                format!("{:.1}–{:.1}", b.from, b.to),
                b.customers.to_string(),
                format!("{:.3}", b.predicted),
                format!("{:.3}", b.observed),
            ]
        })
        .collect();
    out.push_str(&table(
        "calibration",
        &["predicted", "customers", "mean predicted", "observed"],
        &rows,
    ));
    out
}
