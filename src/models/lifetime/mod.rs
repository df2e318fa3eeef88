//! Probabilistic lifetime value for customers known from an order log: BG/NBD, MBG/NBD or
//! Pareto/NBD (whichever predicts the holdout period best) for how many more purchases
//! and whether the customer is still active, Gamma-Gamma for what each purchase is worth,
//! and the discounted value of the two over a horizon. Fitted by maximum likelihood as
//! Python's `lifetimes` fits them, to the same parameters.

pub mod bgnbd;
pub mod gamma_gamma;
pub mod holdout;
pub mod mbgnbd;
pub mod optim;
pub mod pareto;
pub mod special;
pub mod summary;

pub use bgnbd::{BgNbd, FitReport};
pub use gamma_gamma::GammaGamma;
pub use holdout::HoldoutTable;
pub use mbgnbd::ModifiedBgNbd;
pub use pareto::ParetoNbd;
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

/// A model of how many purchases a customer makes and whether they are still active.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "model", rename_all = "snake_case")]
pub enum PurchaseModel {
    BgNbd(BgNbd),
    ModifiedBgNbd(ModifiedBgNbd),
    ParetoNbd(ParetoNbd),
}

impl PurchaseModel {
    pub fn name(&self) -> &'static str {
        match self {
            PurchaseModel::BgNbd(_) => "BG/NBD",
            PurchaseModel::ModifiedBgNbd(_) => "MBG/NBD",
            PurchaseModel::ParetoNbd(_) => "Pareto/NBD",
        }
    }

    pub fn p_alive(&self, c: &RepeatSummary) -> f64 {
        match self {
            PurchaseModel::BgNbd(m) => m.p_alive(c),
            PurchaseModel::ModifiedBgNbd(m) => m.p_alive(c),
            PurchaseModel::ParetoNbd(m) => m.p_alive(c),
        }
    }

    /// Expected purchases in the next `t` time units given the history.
    pub fn expected_purchases(&self, t: f64, c: &RepeatSummary) -> Option<f64> {
        match self {
            PurchaseModel::BgNbd(m) => m.expected_purchases(t, c),
            PurchaseModel::ModifiedBgNbd(m) => m.expected_purchases(t, c),
            PurchaseModel::ParetoNbd(m) => m.expected_purchases(t, c),
        }
    }

    /// Mean log-likelihood per customer of these parameters on `customers`, in their
    /// time unit (comparable with another implementation's on the same data).
    pub fn mean_log_likelihood(&self, customers: &[RepeatSummary]) -> f64 {
        match self {
            PurchaseModel::BgNbd(m) => m.mean_log_likelihood(customers),
            PurchaseModel::ModifiedBgNbd(m) => m.mean_log_likelihood(customers),
            PurchaseModel::ParetoNbd(m) => m.mean_log_likelihood(customers),
        }
    }

    /// The parameters by name (α and β in the data's time unit).
    pub fn parameters(&self) -> [(&'static str, f64); 4] {
        match *self {
            PurchaseModel::BgNbd(BgNbd { r, alpha, a, b })
            | PurchaseModel::ModifiedBgNbd(ModifiedBgNbd { r, alpha, a, b }) => {
                [("r", r), ("alpha", alpha), ("a", a), ("b", b)]
            }
            PurchaseModel::ParetoNbd(ParetoNbd { r, alpha, s, beta }) => {
                [("r", r), ("alpha", alpha), ("s", s), ("beta", beta)]
            }
        }
    }
}

/// One purchase model as fitted, with its holdout check when there was a holdout.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Candidate {
    pub model: PurchaseModel,
    pub fit: FitReport,
    pub holdout: Option<HoldoutTable>,
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
    /// Every purchase model fitted, BG/NBD first. Empty in bundles written before
    /// MBG/NBD and Pareto/NBD were candidates: BG/NBD answers there.
    #[serde(default)]
    pub candidates: Vec<Candidate>,
    /// The candidate that answers: lowest holdout error, or BG/NBD without a holdout.
    #[serde(default)]
    pub chosen: usize,
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

/// Share by which a later (less simple) candidate's holdout error must be lower than the
/// best so far to answer instead.
const CLEARLY_BETTER: f64 = 0.01;

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
        let mut candidates = vec![Candidate {
            model: PurchaseModel::BgNbd(bgnbd),
            fit: bgnbd_fit.clone(),
            holdout: None,
        }];
        // The other candidates are extra: one that cannot be fitted is left out.
        if let Ok((m, fit)) = ModifiedBgNbd::fit(customers) {
            let model = PurchaseModel::ModifiedBgNbd(m);
            candidates.push(Candidate {
                model,
                fit,
                holdout: None,
            });
        }
        if let Ok((m, fit)) = ParetoNbd::fit(customers) {
            let model = PurchaseModel::ParetoNbd(m);
            candidates.push(Candidate {
                model,
                fit,
                holdout: None,
            });
        }
        Ok(LifetimeModel {
            bgnbd,
            bgnbd_fit,
            gamma_gamma,
            gamma_gamma_fit,
            settings,
            candidates,
            chosen: 0,
        })
    }

    /// Run the holdout check on every candidate (`customers` summarised as for the fit,
    /// `length` in the model's time unit) and let the one with the lowest
    /// [`HoldoutTable::error`] answer.
    pub fn choose_by_holdout(&mut self, customers: &[summary::CustomerHistory], length: f64) {
        for candidate in &mut self.candidates {
            candidate.holdout = Some(holdout::holdout_table(&candidate.model, customers, length));
        }
        let error = |c: &Candidate| c.holdout.as_ref().map_or(f64::INFINITY, |h| h.error());
        // Candidates are listed simplest first; a later one answers only when it predicts
        // the holdout clearly better, not by a rounding difference.
        let mut chosen: Option<(usize, f64)> = None;
        for (i, candidate) in self.candidates.iter().enumerate() {
            let e = error(candidate);
            let better = chosen.is_none_or(|(_, best)| e < best * (1.0 - CLEARLY_BETTER));
            if e.is_finite() && better {
                chosen = Some((i, e));
            }
        }
        self.chosen = chosen.map_or(0, |(i, _)| i);
    }

    /// The purchase model that answers.
    pub fn purchases(&self) -> PurchaseModel {
        self.candidates
            .get(self.chosen)
            .map_or(PurchaseModel::BgNbd(self.bgnbd), |c| c.model)
    }

    pub fn answer(&self, c: &RepeatSummary) -> LifetimeAnswer {
        let unit = self.settings.unit_days;
        let horizon = f64::from(self.settings.horizon_days) / unit;
        let expected_order_value = self
            .gamma_gamma
            .and_then(|g| g.expected_order_value(c))
            .filter(|v| v.is_finite());
        let purchases = self.purchases();
        LifetimeAnswer {
            p_alive: purchases.p_alive(c),
            expected_purchases: purchases.expected_purchases(horizon, c),
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
        let purchases = self.purchases();
        let mut before = 0.0;
        let mut total = 0.0;
        for i in 1..=self.settings.clv_months {
            let i = f64::from(i);
            let upto = purchases.expected_purchases(i * month, c)?;
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
            candidates: Vec::new(),
            chosen: 0,
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

    /// `(x, t_x, P(alive), E[X(39)])` rows at T = 38.86 weeks, as lifetimes answers them,
    /// checked against a model's `(P(alive), E[X(39)])` for the same customer.
    pub(super) fn assert_known_answers(
        answer: impl Fn(&RepeatSummary) -> (f64, f64),
        known: &[(f64, f64, f64, f64)],
    ) {
        for &(x, recency, p_alive, expected) in known {
            let c = RepeatSummary {
                frequency: x,
                recency,
                age: 38.86,
                monetary: 0.0,
            };
            let (p, e) = answer(&c);
            assert!(
                (p - p_alive).abs() < 1e-9,
                "x={x}: P(alive) {p} vs {p_alive}"
            );
            assert!(
                (e - expected).abs() < 1e-9,
                "x={x}: E[X(39)] {e} vs {expected}"
            );
        }
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

    /// lifetimes 0.11.3 ModifiedBetaGeoFitter on the CDNOW sample (weeks): its BFGS
    /// stops with a gradient below 1e-8, so it is the maximum to about 8 digits.
    pub(super) const MBG_CDNOW: [f64; 4] = [
        0.524_837_725_567_662_3,
        6.182_988_479_133_949,
        0.891_356_280_931_140_3,
        1.614_000_025_672_142_5,
    ];

    /// lifetimes 0.11.3 ParetoNBDFitter on the CDNOW sample (weeks), with tol=1e-12 and
    /// maxiter=20000 (its default Nelder-Mead tol=1e-4 stops up to 1e-4 away in s and β).
    /// Fader & Hardie publish r = 0.55, α = 10.58, s = 0.61, β = 11.67.
    pub(super) const PARETO_CDNOW: [f64; 4] = [
        0.553_275_523_061_372_2,
        10.577_612_479_743_701,
        0.606_213_588_440_346_3,
        11.667_911_456_722_075,
    ];

    #[test]
    fn mbgnbd_matches_lifetimes_on_cdnow() {
        let (m, _) = ModifiedBgNbd::fit(&cdnow_sample()).unwrap();
        let got = [m.r, m.alpha, m.a, m.b];
        for (g, want) in got.iter().zip(MBG_CDNOW) {
            same_as_lifetimes(*g, want);
        }
    }

    /// Within 1e-4 relative: the likelihood is flat along the s–β ridge, where lifetimes'
    /// own default and tight fits differ by 1e-4 (both ours and its fits are maxima to
    /// within that; the log-likelihoods agree to 1e-9).
    #[test]
    fn pareto_nbd_matches_lifetimes_on_cdnow() {
        let customers = cdnow_sample();
        let (m, _) = ParetoNbd::fit(&customers).unwrap();
        let got = [m.r, m.alpha, m.s, m.beta];
        for (g, want) in got.iter().zip(PARETO_CDNOW) {
            assert!(
                (g / want - 1.0).abs() < 1e-4,
                "got {got:?}, lifetimes {PARETO_CDNOW:?}"
            );
        }
        for (g, published) in got.iter().zip([0.55, 10.58, 0.61, 11.67]) {
            assert!((g / published - 1.0).abs() < 0.01, "got {got:?}");
        }
        let [r, alpha, s, beta] = PARETO_CDNOW;
        let theirs = ParetoNbd { r, alpha, s, beta }.mean_log_likelihood(&customers);
        assert!(m.mean_log_likelihood(&customers) >= theirs - 1e-9);
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
