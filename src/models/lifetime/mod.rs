//! Probabilistic lifetime value for customers known from an order log: BG/NBD for how
//! many more purchases (and whether the customer is still active), Gamma-Gamma for what
//! each purchase is worth, and the discounted value of the two over a horizon. Fitted by
//! maximum likelihood as Python's `lifetimes` fits them, to the same parameters.

pub mod bgnbd;
pub mod gamma_gamma;
pub mod holdout;
pub mod optim;
pub mod special;
pub mod summary;

pub use bgnbd::{BgNbd, FitReport};
pub use gamma_gamma::GammaGamma;
pub use summary::RepeatSummary;

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum LifetimeError {
    #[error(transparent)]
    Data(#[from] crate::data::DataError),
    #[error(transparent)]
    Transactions(#[from] crate::data::transactions::TransactionError),
    #[error("{}: no customers", path.display())]
    NoCustomers { path: PathBuf },
    #[error("{model}: cannot be fitted without {needed}")]
    TooFewCustomers {
        model: &'static str,
        needed: &'static str,
    },
    #[error("{model}: the likelihood could not be maximised from the usual start")]
    NoFit { model: &'static str },
    #[error("{flag}: {problem}")]
    Setting { flag: &'static str, problem: String },
}

/// How far ahead the answers look. A month is 30 days (as `lifetimes` counts months for
/// daily data).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LifetimeSettings {
    /// Length of the data's time unit in days (1 for order logs, 7 for weekly summaries).
    pub unit_days: f64,
    /// Expected purchases are counted over this many days.
    pub horizon_days: u32,
    /// Months of purchases summed into the lifetime value.
    pub clv_months: u32,
    /// Discount rate per month.
    pub monthly_discount: f64,
}

impl Default for LifetimeSettings {
    fn default() -> Self {
        LifetimeSettings {
            unit_days: 1.0,
            horizon_days: 90,
            clv_months: 12,
            monthly_discount: 0.01,
        }
    }
}

impl LifetimeSettings {
    pub fn check(&self) -> Result<(), LifetimeError> {
        let bad = |flag, problem: &str| {
            Err(LifetimeError::Setting {
                flag,
                problem: problem.to_string(),
            })
        };
        if !(self.unit_days > 0.0 && self.unit_days.is_finite()) {
            return bad("--unit-days", "must be a number of days above 0");
        }
        if self.horizon_days == 0 {
            return bad("--horizon-days", "must be at least 1");
        }
        if !(self.monthly_discount > -1.0 && self.monthly_discount.is_finite()) {
            return bad("--monthly-discount", "must be a finite rate above -1");
        }
        Ok(())
    }
}

/// The fitted lifetime models, as the bundle keeps them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LifetimeModel {
    pub bgnbd: BgNbd,
    pub bgnbd_fit: FitReport,
    /// Absent when too few customers bought twice with a positive value.
    pub gamma_gamma: Option<GammaGamma>,
    pub gamma_gamma_fit: Option<FitReport>,
    pub settings: LifetimeSettings,
}

/// One customer's lifetime answers.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, utoipa::ToSchema)]
pub struct LifetimeAnswer {
    /// Probability the customer is still active.
    pub p_alive: f64,
    /// Expected purchase days over the horizon (`horizon_days`).
    pub expected_purchases: Option<f64>,
    pub horizon_days: u32,
    /// Expected value of a future purchase (Gamma-Gamma).
    pub expected_order_value: Option<f64>,
    /// Discounted value of the expected purchases over `clv_months`.
    pub clv: Option<f64>,
}

impl LifetimeModel {
    /// Fit both models on calibration summaries. Gamma-Gamma is left out (not an error)
    /// when fewer than two customers have repeat purchases of positive value.
    pub fn fit(
        customers: &[RepeatSummary],
        settings: LifetimeSettings,
    ) -> Result<LifetimeModel, LifetimeError> {
        settings.check()?;
        let (bgnbd, bgnbd_fit) = BgNbd::fit(customers)?;
        let (gamma_gamma, gamma_gamma_fit) = match GammaGamma::fit(customers) {
            Ok((model, report)) => (Some(model), Some(report)),
            Err(LifetimeError::TooFewCustomers { .. }) => (None, None),
            Err(other) => return Err(other),
        };
        Ok(LifetimeModel {
            bgnbd,
            bgnbd_fit,
            gamma_gamma,
            gamma_gamma_fit,
            settings,
        })
    }

    pub fn answer(&self, c: &RepeatSummary) -> LifetimeAnswer {
        let unit = self.settings.unit_days;
        let horizon = f64::from(self.settings.horizon_days) / unit;
        let expected_order_value = self
            .gamma_gamma
            .and_then(|g| g.expected_order_value(c))
            .filter(|v| v.is_finite());
        LifetimeAnswer {
            p_alive: self.bgnbd.p_alive(c),
            expected_purchases: self.bgnbd.expected_purchases(horizon, c),
            horizon_days: self.settings.horizon_days,
            expected_order_value,
            clv: expected_order_value.and_then(|value| self.clv(value, c)),
        }
    }

    /// Σ over months i of value × (E[X(i months)] − E[X(i − 1 months)]) / (1 + d)^i:
    /// `lifetimes`' `customer_lifetime_value` with months of 30 days.
    fn clv(&self, order_value: f64, c: &RepeatSummary) -> Option<f64> {
        let month = 30.0 / self.settings.unit_days;
        let discount = 1.0 + self.settings.monthly_discount;
        let mut before = 0.0;
        let mut total = 0.0;
        for i in 1..=self.settings.clv_months {
            let i = f64::from(i);
            let upto = self.bgnbd.expected_purchases(i * month, c)?;
            total += order_value * (upto - before) / discount.powf(i);
            before = upto;
        }
        total.is_finite().then_some(total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clv_matches_lifetimes_customer_lifetime_value() {
        // lifetimes 0.11.3: GammaGammaFitter.customer_lifetime_value(bgf, ..., time=12,
        // discount_rate=0.01, freq="D") on a customer summarised in days.
        let model = LifetimeModel {
            bgnbd: BgNbd {
                r: 0.243,
                alpha: 4.414 * 7.0,
                a: 0.793,
                b: 2.426,
            },
            bgnbd_fit: FitReport {
                customers: 0,
                left_out: 0,
                mean_log_likelihood: 0.0,
                iterations: 0,
            },
            gamma_gamma: Some(GammaGamma {
                p: 6.25,
                q: 3.74,
                v: 15.45,
            }),
            gamma_gamma_fit: None,
            settings: LifetimeSettings::default(),
        };
        let c = RepeatSummary {
            frequency: 2.0,
            recency: 213.0,
            age: 272.0,
            monetary: 22.35,
        };
        let answer = model.answer(&c);
        assert!((answer.clv.unwrap() - CLV).abs() < 1e-9, "{answer:?}");
        assert!(
            (answer.expected_purchases.unwrap() - EXPECTED_90).abs() < 1e-9,
            "{answer:?}"
        );
    }

    const CLV: f64 = 35.890_119_723_666_59;
    const EXPECTED_90: f64 = 0.452_536_070_623_986_2;
}

/// The published fits on the CDNOW sample (lifetimes' documentation; Fader, Hardie & Lee
/// 2005 for BG/NBD), reproduced to three significant digits.
#[cfg(test)]
mod oracle {
    use super::summary::{read_summary, SummaryColumns};
    use super::*;

    fn cdnow_sample() -> Vec<RepeatSummary> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/cdnow_sample_summary.csv");
        let columns = SummaryColumns {
            id: Some("sample_id".into()),
            frequency: "frequency".into(),
            recency: "recency_weeks".into(),
            age: "T_weeks".into(),
            monetary: Some("monetary_value".into()),
        };
        let rows = read_summary(&path, &columns).unwrap();
        assert_eq!(rows.len(), 2357);
        rows.into_iter().map(|(_, s)| s).collect()
    }

    /// Within half a unit of the third significant digit of the published figure.
    fn three_digits(got: f64, want: f64) {
        let half_unit = 0.5 * 10f64.powi(want.abs().log10().floor() as i32 - 2);
        assert!(
            (got - want).abs() <= half_unit,
            "got {got}, published {want}"
        );
    }

    /// What lifetimes 0.11.3 (scipy 1.17.1) prints for the same fit, to 1 part in 10^5.
    fn same_as_lifetimes(got: f64, lifetimes: f64) {
        assert!(
            (got / lifetimes - 1.0).abs() < 1e-5,
            "got {got}, lifetimes {lifetimes}"
        );
    }

    #[test]
    fn bgnbd_matches_the_published_cdnow_fit() {
        let (m, report) = BgNbd::fit(&cdnow_sample()).unwrap();
        three_digits(m.r, 0.243);
        three_digits(m.alpha, 4.414);
        three_digits(m.a, 0.793);
        three_digits(m.b, 2.426);
        same_as_lifetimes(m.r, 0.242_592_928_279_821_5);
        same_as_lifetimes(m.alpha, 4.413_532_265_271_809);
        same_as_lifetimes(m.a, 0.792_885_966_440_657_8);
        same_as_lifetimes(m.b, 2.425_752_382_625_737_4);
        assert_eq!(report.customers, 2357);
    }

    #[test]
    fn gamma_gamma_matches_the_published_cdnow_fit() {
        let (m, report) = GammaGamma::fit(&cdnow_sample()).unwrap();
        three_digits(m.p, 6.25);
        three_digits(m.q, 3.74);
        three_digits(m.v, 15.45);
        same_as_lifetimes(m.p, 6.248_802_496_070_99);
        same_as_lifetimes(m.q, 3.744_588_460_923_763_4);
        same_as_lifetimes(m.v, 15.447_748_064_943_575);
        assert_eq!((report.customers, report.left_out), (946, 0));
    }
}

#[cfg(test)]
mod invariants {
    use super::summary::summarize;
    use super::*;
    use chrono::NaiveDate;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    proptest! {
        #[test]
        fn answers_are_probabilities_and_grow_with_the_horizon(
            r in 0.05f64..5.0, alpha in 0.5f64..60.0, a in 0.05f64..5.0, b in 0.05f64..10.0,
            x in 0u32..40, recency_share in 0.0f64..1.0, age in 1.0f64..400.0,
        ) {
            let model = BgNbd { r, alpha, a, b };
            let c = RepeatSummary {
                frequency: f64::from(x),
                recency: if x == 0 { 0.0 } else { recency_share * age },
                age,
                monetary: 10.0,
            };
            let p = model.p_alive(&c);
            prop_assert!((0.0..=1.0).contains(&p), "{p}");
            let mut before = 0.0;
            for t in [1.0, 30.0, 90.0, 365.0] {
                let e = model.expected_purchases(t, &c).unwrap();
                prop_assert!(e >= before - 1e-9, "E[X({t})] = {e} < {before}");
                before = e;
            }
        }

        #[test]
        fn summaries_count_purchase_days(
            purchases in prop::collection::vec((0i64..300, 0.0f64..100.0), 1..30),
            end_after in 0i64..100,
        ) {
            let start = NaiveDate::from_ymd_opt(2011, 1, 1).unwrap();
            let mut days = BTreeMap::new();
            for (offset, value) in &purchases {
                *days.entry(start + chrono::Duration::days(*offset)).or_insert(0.0) += value;
            }
            let last = *days.keys().last().unwrap();
            let end = last + chrono::Duration::days(end_after);
            let s = summarize(days.iter(), end).unwrap();
            prop_assert_eq!(s.frequency as usize, days.len() - 1);
            prop_assert_eq!(s.problem(), None);
            prop_assert_eq!(s.age - s.recency, end_after as f64);
        }
    }
}
