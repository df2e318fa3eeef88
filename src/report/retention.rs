//! The report's retention section: churn candidates side by side, the calibration curve
//! and table, the readable tree's rules, and customer lifetime value by quadrant.

use super::svg::{self, esc};
use super::{pct, table};
use crate::bundle::Bundle;
use std::fmt::Write;

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
