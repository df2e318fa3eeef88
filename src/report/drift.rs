//! The drift section: how far a compared customer file has moved from the training
//! profile, one row per input, worst first (as `custscore drift` prints it).

use super::svg::esc;
use super::{pct, table};
use crate::monitoring::drift::Status;
use crate::monitoring::DriftReport;
use std::fmt::Write;

pub(super) fn section(source: &str, report: &DriftReport) -> String {
    let mut out = String::from(r#"<section id="drift"><h2>Drift</h2>"#);
    let alerts = report.inputs_at(Status::Alert);
    let _ = write!(
        out,
        "<p><code>{}</code>: {} customers compared with {} training rows. PSI from {} is a warning, from {} an alert. Alerts: {}.</p>",
        esc(source),
        report.records,
        report.reference_rows,
        report.thresholds.warn,
        report.thresholds.alert,
        if alerts.is_empty() {
            "none".to_string()
        } else {
            esc(&alerts.join(", "))
        }
    );
    let mut inputs: Vec<_> = report.inputs.iter().collect();
    inputs.sort_by(|a, b| b.psi.total_cmp(&a.psi));
    let optional = |x: Option<f64>| x.map_or_else(|| "-".to_string(), pct);
    let mut rows: Vec<Vec<String>> = inputs
        .iter()
        .map(|d| {
            vec![
                d.input.clone(),
                format!("{:.4}", d.psi),
                pct(d.missing_rate),
                pct(d.reference_missing_rate),
                optional(d.unseen_rate),
                optional(d.out_of_range_rate),
                d.status.as_str().to_string(),
            ]
        })
        .collect();
    for (name, score) in [
        ("(churn probability)", &report.churn_probability),
        ("(segment shares)", &report.segments),
    ] {
        if let Some(s) = score {
            let dash = || "-".to_string();
            rows.push(vec![
                name.to_string(),
                format!("{:.4}", s.psi),
                dash(),
                dash(),
                dash(),
                dash(),
                s.status.as_str().to_string(),
            ]);
        }
    }
    out.push_str(&table(
        "drift-table",
        &[
            "input",
            "PSI",
            "missing",
            "missing in training",
            "unseen",
            "out of range",
            "status",
        ],
        &rows,
    ));
    out.push_str("</section>");
    out
}
