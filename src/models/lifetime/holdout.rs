//! The literature's holdout check: fit on the calibration period, then compare each
//! customer's expected purchases over the holdout period with what they really did,
//! averaged per calibration frequency (0, 1, …, 7+), and in total.

use super::summary::CustomerHistory;
use super::PurchaseModel;
use serde::{Deserialize, Serialize};
use std::fmt::Write;

/// Frequencies at or above this share the last row ("7+").
pub const LAST_GROUP: usize = 7;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HoldoutRow {
    /// "0", "1", …, "7+", or "all".
    pub label: String,
    pub customers: usize,
    /// Purchase days in the holdout period, summed over the row's customers.
    pub actual: f64,
    pub predicted: f64,
}

impl HoldoutRow {
    pub fn actual_mean(&self) -> f64 {
        self.actual / self.customers.max(1) as f64
    }

    pub fn predicted_mean(&self) -> f64 {
        self.predicted / self.customers.max(1) as f64
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HoldoutTable {
    pub rows: Vec<HoldoutRow>,
    pub total: HoldoutRow,
    /// Length of the holdout period, in the model's time unit.
    pub length: f64,
    /// Customers whose expectation could not be computed (counted, not in the rows).
    pub not_computed: usize,
}

/// Compare the model's expectations over a holdout of `length` time units with the
/// holdout purchases of each customer.
pub fn holdout_table(
    model: &PurchaseModel,
    customers: &[CustomerHistory],
    length: f64,
) -> HoldoutTable {
    let row = |label: String| HoldoutRow {
        label,
        customers: 0,
        actual: 0.0,
        predicted: 0.0,
    };
    let mut rows: Vec<HoldoutRow> = (0..=LAST_GROUP)
        .map(|x| match x {
            LAST_GROUP => row(format!("{LAST_GROUP}+")),
            x => row(x.to_string()),
        })
        .collect();
    let mut total = row("all".to_string());
    let mut not_computed = 0;
    for c in customers {
        let Some(predicted) = model.expected_purchases(length, &c.calibration) else {
            not_computed += 1;
            continue;
        };
        let group = (c.calibration.frequency as usize).min(LAST_GROUP);
        for r in [&mut rows[group], &mut total] {
            r.customers += 1;
            r.actual += c.holdout_purchases;
            r.predicted += predicted;
        }
    }
    HoldoutTable {
        rows,
        total,
        length,
        not_computed,
    }
}

impl HoldoutTable {
    /// How far the model's holdout purchases are from the real ones: Σ over frequency
    /// groups of |predicted − actual| purchases, per customer. The per-group means the
    /// chart shows, weighted by group size; over- and under-prediction in two groups do
    /// not cancel as they do in the total.
    pub fn error(&self) -> f64 {
        let off: f64 = self
            .rows
            .iter()
            .map(|r| (r.predicted - r.actual).abs())
            .sum();
        off / self.total.customers.max(1) as f64
    }

    /// Every number the table holds, for the bundle's checks.
    pub fn figures(&self) -> impl Iterator<Item = f64> + '_ {
        let row = |r: &HoldoutRow| [r.actual, r.predicted];
        self.rows
            .iter()
            .chain([&self.total])
            .flat_map(row)
            .chain([self.length])
    }

    /// The table as text: one line per frequency group, then the totals.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{:>9} {:>9} {:>13} {:>13}",
            "frequency", "customers", "actual mean", "predicted mean"
        );
        for r in self.rows.iter().filter(|r| r.customers > 0) {
            let _ = writeln!(
                out,
                "{:>9} {:>9} {:>13.3} {:>13.3}",
                r.label,
                r.customers,
                r.actual_mean(),
                r.predicted_mean()
            );
        }
        let t = &self.total;
        let _ = writeln!(
            out,
            "{:>9} {:>9} {:>13.3} {:>13.3}   total purchases: actual {:.0}, predicted {:.1} ({:+.1}%)",
            t.label,
            t.customers,
            t.actual_mean(),
            t.predicted_mean(),
            t.actual,
            t.predicted,
            100.0 * (t.predicted - t.actual) / t.actual.max(f64::MIN_POSITIVE)
        );
        if self.not_computed > 0 {
            let _ = writeln!(
                out,
                "{} customers left out: expectation did not converge",
                self.not_computed
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::super::summary::RepeatSummary;
    use super::*;

    #[test]
    fn customers_are_grouped_by_calibration_frequency() {
        let model = PurchaseModel::BgNbd(super::super::BgNbd {
            r: 0.243,
            alpha: 4.414,
            a: 0.793,
            b: 2.426,
        });
        let history = |frequency: f64, holdout: f64| CustomerHistory {
            id: String::new(),
            calibration: RepeatSummary {
                frequency,
                recency: if frequency > 0.0 { 20.0 } else { 0.0 },
                age: 38.0,
                monetary: 0.0,
            },
            holdout_purchases: holdout,
            holdout_value: 0.0,
        };
        let customers = [
            history(0.0, 1.0),
            history(0.0, 0.0),
            history(9.0, 4.0),
            history(12.0, 2.0),
        ];
        let table = holdout_table(&model, &customers, 39.0);
        assert_eq!(table.rows[0].customers, 2);
        assert_eq!(table.rows[0].actual_mean(), 0.5);
        assert_eq!(
            (table.rows[7].label.as_str(), table.rows[7].customers),
            ("7+", 2)
        );
        assert_eq!(table.total.actual, 7.0);
        let each: f64 = customers
            .iter()
            .map(|c| model.expected_purchases(39.0, &c.calibration).unwrap())
            .sum();
        assert!((table.total.predicted - each).abs() < 1e-12);
        assert!(table.render().contains("7+"));
        let off: f64 = table
            .rows
            .iter()
            .map(|r| (r.predicted - r.actual).abs())
            .sum();
        assert_eq!(table.error(), off / 4.0);
    }
}
