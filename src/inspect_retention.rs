//! Plain-text views of the retention part of a bundle: candidates, calibration, lifetime
//! value and the decision tree's if-then rules.

use crate::bundle::Bundle;
use std::fmt::Write;

#[derive(Debug, thiserror::Error)]
#[error("bundle {0} has no decision tree (it was trained without --label)")]
pub struct NoTree(pub String);

/// The readable tree, one if-then rule per line.
pub fn tree_rules(bundle: &Bundle) -> Result<String, NoTree> {
    let tree = bundle
        .tree
        .as_ref()
        .ok_or_else(|| NoTree(bundle.manifest.version.clone()))?;
    let mut text = tree.to_text();
    let names = &bundle.segments.profiles;
    for link in &tree.segments {
        let (Some(profile), Some(rule)) = (names.get(link.segment), tree.rules.get(link.rule))
        else {
            continue;
        };
        let _ = writeln!(
            text,
            "segment {} ({}): {:.0}% of it under {}",
            link.segment,
            profile.name,
            100.0 * link.share,
            rule.sentence()
        );
    }
    Ok(text)
}

/// Candidates' cross-validated scores, the chosen model, and its reliability table.
pub fn retention_section(bundle: &Bundle) -> String {
    let (Some(m), Some(model)) = (&bundle.manifest.metrics.retention, &bundle.retention) else {
        return String::new();
    };
    let mut out = format!(
        "\nchurn models ({}-fold stratified CV on {} labeled customers, churn rate {:.1}%):\n",
        m.folds,
        m.labeled_rows,
        100.0 * m.churn_rate
    );
    let _ = writeln!(
        out,
        "  {:<14} {:>7} {:>7} {:>8} {:>7} {:>6} {:>9}",
        "model", "AUC", "±", "log loss", "Brier", "lift", "fit s"
    );
    for c in &m.candidates {
        let _ = writeln!(
            out,
            "  {:<14} {:>7.4} {:>7.4} {:>8.4} {:>7.4} {:>6.2} {:>9.3}{}",
            c.model,
            c.auc,
            c.auc_std,
            c.log_loss,
            c.brier,
            c.top_decile_lift,
            c.fit_seconds,
            if c.model == m.chosen {
                "  ← chosen"
            } else {
                ""
            }
        );
    }
    for skipped in &m.skipped {
        let _ = writeln!(out, "  left out: {skipped}");
    }
    let _ = writeln!(
        out,
        "calibration: {} on out-of-fold predictions; ECE {:.4} (uncalibrated {:.4})",
        m.calibration
            .map_or("none".into(), |c| format!("{c:?}").to_lowercase()),
        m.ece,
        m.ece_uncalibrated
    );
    let _ = writeln!(
        out,
        "  {:<11} {:>9} {:>9} {:>9}",
        "predicted", "customers", "mean p", "observed"
    );
    for b in &model.reliability {
        let _ = writeln!(
            out,
            "  {:.1}–{:.1}    {:>9} {:>9.3} {:>9.3}",
            b.from, b.to, b.customers, b.predicted, b.observed
        );
    }
    let _ = writeln!(
        out,
        "risk bands: low < {:.2} ≤ medium < {:.2} ≤ high",
        model.bands[0], model.bands[1]
    );
    out
}

/// Customer equity and the value quadrants.
pub fn value_section(bundle: &Bundle) -> String {
    let Some(v) = bundle.retention.as_ref().and_then(|r| r.value.as_ref()) else {
        return String::new();
    };
    let s = &v.settings;
    let on_contribution = v.basis == crate::models::value::ClvBasis::Contribution;
    let mut out = format!(
        "\nlifetime value (on {}): annual margin = {} × {} × {}{}, discount rate {}, horizon {} years\n",
        v.basis.name(),
        s.margin,
        s.margin_rate,
        s.periods_per_year,
        match on_contribution {
            true => " × (1 − running cost share: cost to serve less one-off costs, over revenue)",
            false => "",
        },
        s.discount_rate,
        s.horizon_years
    );
    let _ = writeln!(
        out,
        "customer equity {:.2} over {} customers (mean CLV {:.2})",
        v.equity,
        v.customers,
        v.equity / v.customers.max(1) as f64
    );
    let _ = writeln!(
        out,
        "value quadrants (current value = {}, split at median {:.2}; CLV split at median {:.2}):",
        match on_contribution {
            true => "contribution",
            false => v.current_value.as_deref().unwrap_or("annual margin"),
        },
        v.current_threshold,
        v.clv_threshold
    );
    for q in &v.quadrants {
        let _ = writeln!(
            out,
            "  {:<9} {:>6} customers  {:>5.1}% of equity",
            q.name,
            q.customers,
            100.0 * q.clv_total / v.equity.max(f64::MIN_POSITIVE)
        );
    }
    out
}
