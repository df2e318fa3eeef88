//! Order-log customers: the lifetime models' holdout check as the literature shows it
//! (mean holdout purchases per calibration frequency, actual against each candidate) and
//! the recency × frequency grid of RFM scores with the lifecycle statuses.

use super::{esc, pct, svg, table};
use crate::bundle::Bundle;
use crate::models::lifetime::{HoldoutTable, LifetimeModel};
use crate::models::rfm::{RfmModel, GROUP_MAP, LIFECYCLE};
use std::fmt::Write;

/// The lifetime and RFM sections, when the bundle has those models (order-log bundles).
pub fn sections(bundle: &Bundle) -> Option<String> {
    let lifetime = bundle.lifetime.as_ref().map(lifetime_section);
    let rfm = bundle.rfm.as_ref().map(rfm_section);
    match (lifetime, rfm) {
        (None, None) => None,
        (l, r) => Some(l.unwrap_or_default() + &r.unwrap_or_default()),
    }
}

fn lifetime_section(m: &LifetimeModel) -> String {
    let mut out = String::from(r#"<section id="lifetime"><h2>Lifetime value models</h2>"#);
    let chosen = m.purchases();
    let checked: Vec<(&str, &HoldoutTable)> = (m.candidates.iter())
        .filter_map(|c| Some((c.model.name(), c.holdout.as_ref()?)))
        .collect();
    match checked.first() {
        Some((_, first)) => {
            let length = first.length * m.settings.unit_days;
            let error = (m.candidates.get(m.chosen).and_then(|c| c.holdout.as_ref()))
                .map_or(f64::NAN, HoldoutTable::error);
            let _ = write!(
                out,
                "<p>Fitted on purchases before the cut-off; checked on the {length:.0} days after it. \
                 <b>{}</b> answers: the lowest holdout error ({error:.4} purchases per customer: \
                 Σ over frequency groups of |predicted − actual| holdout purchases, divided by the {} customers).</p>",
                esc(chosen.name()),
                first.total.customers
            );
            out.push_str(&holdout_chart(&checked));
        }
        None => {
            let _ = write!(
                out,
                "<p><b>{}</b> answers; the log had no purchases after the cut-off to check the models on.</p>",
                esc(chosen.name())
            );
        }
    }
    out.push_str(&candidates_table(m));
    out.push_str("</section>");
    out
}

/// Grouped bars per calibration frequency: actual mean holdout purchases, then each
/// candidate's prediction.
fn holdout_chart(checked: &[(&str, &HoldoutTable)]) -> String {
    let Some((_, first)) = checked.first() else {
        return String::new();
    };
    let groups: Vec<usize> = (0..first.rows.len())
        .filter(|&i| first.rows[i].customers > 0)
        .collect();
    let labels: Vec<String> = groups
        .iter()
        .map(|&i| first.rows[i].label.clone())
        .collect();
    let actual: Vec<f64> = groups
        .iter()
        .map(|&i| first.rows[i].actual_mean())
        .collect();
    let names: Vec<String> = checked
        .iter()
        .map(|(n, _)| format!("{n} predicted"))
        .collect();
    let mut series = vec![("actual", actual)];
    for ((_, t), name) in checked.iter().zip(&names) {
        let predicted = groups.iter().map(|&i| t.rows[i].predicted_mean()).collect();
        series.push((name.as_str(), predicted));
    }
    let mut out = svg::grouped_bars(
        "lifetime holdout check: mean purchases per customer by calibration frequency",
        &labels,
        &series,
        false,
    );
    let mut rows = Vec::new();
    for &i in &groups {
        let mut row = vec![
            first.rows[i].label.clone(),
            first.rows[i].customers.to_string(),
            format!("{:.3}", first.rows[i].actual_mean()),
        ];
        row.extend(
            checked
                .iter()
                .map(|(_, t)| format!("{:.3}", t.rows[i].predicted_mean())),
        );
        rows.push(row);
    }
    let mut total = vec!["total".to_string(), first.total.customers.to_string()];
    total.push(format!("{:.0}", first.total.actual));
    total.extend(
        checked
            .iter()
            .map(|(_, t)| format!("{:.1}", t.total.predicted)),
    );
    rows.push(total);
    let mut header = vec!["calibration frequency", "customers", "actual"];
    header.extend(names.iter().map(String::as_str));
    out.push_str(&table("holdout-table", &header, &rows));
    out
}

fn candidates_table(m: &LifetimeModel) -> String {
    let rows: Vec<Vec<String>> = (m.candidates.iter().enumerate())
        .map(|(i, c)| {
            let parameters: Vec<String> = (c.model.parameters().iter())
                .map(|(n, v)| format!("{n} = {v:.4}"))
                .collect();
            vec![
                c.model.name().to_string(),
                parameters.join(", "),
                format!("{:.4}", c.fit.mean_log_likelihood),
                c.holdout
                    .as_ref()
                    .map_or("-".into(), |h| format!("{:.4}", h.error())),
                if i == m.chosen { "answers" } else { "" }.to_string(),
            ]
        })
        .collect();
    table(
        "lifetime-candidates",
        &[
            "model",
            "parameters (days)",
            "mean log-likelihood",
            "holdout error",
            "",
        ],
        &rows,
    )
}

fn rfm_section(m: &RfmModel) -> String {
    let mut out = String::from(
        r#"<section id="rfm"><h2>RFM cells and lifecycle</h2><p class="muted">Training customers by recency score (5 = most recent) and frequency score (5 = most orders); darker cells hold more customers, each named by its most common RFM group.</p>"#,
    );
    out.push_str(&svg::heat_grid(
        "RFM grid: customers by recency and frequency score",
        ("recency score", "frequency score"),
        &m.rf_counts,
        &m.rf_groups,
    ));
    let total: usize = m.group_counts.values().sum();
    let rows: Vec<Vec<String>> = GROUP_MAP
        .iter()
        .map(|(name, _, _)| {
            let n = m.group_counts.get(*name).copied().unwrap_or(0);
            vec![
                name.to_string(),
                n.to_string(),
                pct(n as f64 / total.max(1) as f64),
            ]
        })
        .collect();
    out.push_str(&table(
        "rfm-groups",
        &["RFM group", "customers", "share"],
        &rows,
    ));
    let statuses: Vec<String> = LIFECYCLE.iter().map(|s| s.to_string()).collect();
    let counts: Vec<usize> = (LIFECYCLE.iter())
        .map(|s| m.lifecycle_counts.get(*s).copied().unwrap_or(0))
        .collect();
    let all: usize = counts.iter().sum();
    let shares = counts
        .iter()
        .map(|&n| n as f64 / all.max(1) as f64)
        .collect();
    let _ = write!(
        out,
        "<h3>Lifecycle status</h3><p class=\"muted\">Judged against each customer's own rhythm of ordering (median gap {:.1} days for one-order customers).</p>",
        m.median_gap_days
    );
    out.push_str(&svg::grouped_bars(
        "lifecycle status: share of customers",
        &statuses,
        &[("customers", shares)],
        true,
    ));
    let rows: Vec<Vec<String>> = (statuses.iter().zip(&counts))
        .map(|(s, n)| vec![s.clone(), n.to_string(), pct(*n as f64 / all.max(1) as f64)])
        .collect();
    out.push_str(&table(
        "lifecycle-table",
        &["status", "customers", "share"],
        &rows,
    ));
    out.push_str("</section>");
    out
}
