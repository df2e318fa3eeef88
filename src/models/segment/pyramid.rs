//! The customer value pyramid: rank customers by value into tiers (platinum = top 1%,
//! gold = next 4%, iron = next 15%, lead = the rest by default) and show what share of
//! total value each tier carries. Negative (loss-making) values are allowed.

use serde::{Deserialize, Serialize};

/// Tier of a customer whose value is missing.
pub const UNRANKED: &str = "unranked";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TierSpec {
    pub name: String,
    /// Cumulative share of customers from the top that this tier reaches (0.05 = top 5%).
    pub top_share: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PyramidParams {
    pub tiers: Vec<TierSpec>,
}

impl Default for PyramidParams {
    fn default() -> Self {
        let tier = |name: &str, top_share| TierSpec {
            name: name.into(),
            top_share,
        };
        PyramidParams {
            tiers: vec![
                tier("platinum", 0.01),
                tier("gold", 0.05),
                tier("iron", 0.20),
                tier("lead", 1.0),
            ],
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum PyramidError {
    #[error("pyramid: tier `{0}` has a cumulative share outside (0, 1]")]
    ShareOutOfRange(String),
    #[error("pyramid: tier shares must increase from top to bottom (`{0}`)")]
    NotIncreasing(String),
    #[error("pyramid: the last tier must reach 1.0 so every customer has a tier")]
    Incomplete,
    #[error("pyramid: value column `{0}` has no values")]
    NoValues(String),
}

/// One tier as fitted: its lower value bound and what it holds.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Tier {
    pub name: String,
    /// Customers with value ≥ this fall in this tier (or a higher one); `None` for the
    /// bottom tier, which takes everyone else.
    pub min_value: Option<f64>,
    pub customers: usize,
    pub customer_share: f64,
    pub value_total: f64,
    pub value_share: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ValuePyramid {
    pub column: String,
    pub tiers: Vec<Tier>,
    pub total_value: f64,
    pub unranked: usize,
    /// The cost model and revenue-vs-contribution summary, when training had one (the
    /// tiers above are by contribution when its basis says so).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profit: Option<Box<crate::models::contribution::ProfitModel>>,
}

impl PyramidParams {
    pub fn check(&self) -> Result<(), PyramidError> {
        let mut previous = 0.0;
        for tier in &self.tiers {
            if !(tier.top_share > 0.0 && tier.top_share <= 1.0) {
                return Err(PyramidError::ShareOutOfRange(tier.name.clone()));
            }
            if tier.top_share <= previous {
                return Err(PyramidError::NotIncreasing(tier.name.clone()));
            }
            previous = tier.top_share;
        }
        if previous < 1.0 {
            return Err(PyramidError::Incomplete);
        }
        Ok(())
    }

    /// Cut the customers' values into tiers. Training and scoring both place a value by
    /// the same thresholds (`ValuePyramid::tier_of`), so ties never split across tiers.
    pub fn fit(&self, column: &str, values: &[Option<f64>]) -> Result<ValuePyramid, PyramidError> {
        self.check()?;
        let mut sorted: Vec<f64> = values.iter().flatten().copied().collect();
        if sorted.is_empty() {
            return Err(PyramidError::NoValues(column.to_string()));
        }
        sorted.sort_by(|a, b| b.total_cmp(a));
        let n = sorted.len();
        let mut tiers: Vec<Tier> = self
            .tiers
            .iter()
            .map(|spec| {
                let last_rank = ((spec.top_share * n as f64).ceil() as usize).clamp(1, n) - 1;
                Tier {
                    name: spec.name.clone(),
                    min_value: Some(lower_bound(&sorted, last_rank)),
                    customers: 0,
                    customer_share: 0.0,
                    value_total: 0.0,
                    value_share: 0.0,
                }
            })
            .collect();
        if let Some(last) = tiers.last_mut() {
            last.min_value = None;
        }
        let mut pyramid = ValuePyramid {
            column: column.to_string(),
            total_value: sorted.iter().sum(),
            unranked: values.len() - n,
            tiers,
            profit: None,
        };
        for &v in &sorted {
            let t = pyramid.tier_index(v);
            pyramid.tiers[t].customers += 1;
            pyramid.tiers[t].value_total += v;
        }
        for tier in &mut pyramid.tiers {
            tier.customer_share = tier.customers as f64 / n as f64;
            tier.value_share = super::profile::share_of(tier.value_total, pyramid.total_value);
        }
        Ok(pyramid)
    }
}

/// The lowest value in the top `last_rank + 1` (descending `sorted`) that does not tie with
/// a value below the cut: customers with equal value never split across tiers, and a tier
/// never holds more than its share (it may hold fewer, or none: then `f64::MAX`).
fn lower_bound(sorted: &[f64], last_rank: usize) -> f64 {
    let at = sorted[last_rank];
    match sorted.get(last_rank + 1) {
        Some(&next) if next == at => sorted[..=last_rank]
            .iter()
            .rev()
            .find(|&&v| v > at)
            .copied()
            .unwrap_or(f64::MAX),
        _ => at,
    }
}

impl ValuePyramid {
    fn tier_index(&self, value: f64) -> usize {
        self.tiers
            .iter()
            .position(|t| t.min_value.is_none_or(|min| value >= min))
            .unwrap_or(self.tiers.len() - 1)
    }

    pub fn tier_of(&self, value: Option<f64>) -> &str {
        match value {
            Some(v) => &self.tiers[self.tier_index(v)].name,
            None => UNRANKED,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_few_customers_carry_most_value() {
        // 100 customers: one worth 1000, four worth 100, the rest worth 1.
        let mut values = vec![Some(1000.0)];
        values.extend(std::iter::repeat_n(Some(100.0), 4));
        values.extend(std::iter::repeat_n(Some(1.0), 95));
        values.push(None);
        let p = PyramidParams::default().fit("value", &values).unwrap();
        let counts: Vec<usize> = p.tiers.iter().map(|t| t.customers).collect();
        assert_eq!(counts, [1, 4, 0, 95]);
        assert!((p.tiers[0].value_share - 1000.0 / 1495.0).abs() < 1e-12);
        assert_eq!(p.unranked, 1);
        assert_eq!(p.tier_of(Some(5000.0)), "platinum");
        assert_eq!(p.tier_of(Some(-20.0)), "lead");
        assert_eq!(p.tier_of(None), UNRANKED);
    }

    #[test]
    fn zero_total_value_gives_zero_shares_not_nan() {
        let values = vec![Some(5.0), Some(-5.0), Some(0.0)];
        let p = PyramidParams::default().fit("value", &values).unwrap();
        assert_eq!(p.total_value, 0.0);
        assert!(p.tiers.iter().all(|t| t.value_share == 0.0), "{p:?}");
    }

    #[test]
    fn bad_cutoffs_are_refused() {
        let spec = |name: &str, top_share| TierSpec {
            name: name.into(),
            top_share,
        };
        let params = PyramidParams {
            tiers: vec![spec("a", 0.5), spec("b", 0.2), spec("c", 1.0)],
        };
        assert_eq!(params.check(), Err(PyramidError::NotIncreasing("b".into())));
        let params = PyramidParams {
            tiers: vec![spec("a", 0.5)],
        };
        assert_eq!(params.check(), Err(PyramidError::Incomplete));
    }

    proptest! {
        #[test]
        fn every_customer_lands_in_exactly_one_tier(
            values in proptest::collection::vec(-1e6f64..1e6, 1..300)
        ) {
            let v: Vec<Option<f64>> = values.iter().copied().map(Some).collect();
            let p = PyramidParams::default().fit("v", &v).unwrap();
            let total: usize = p.tiers.iter().map(|t| t.customers).sum();
            prop_assert_eq!(total, values.len());
            let shares: f64 = p.tiers.iter().map(|t| t.customer_share).sum();
            prop_assert!((shares - 1.0).abs() < 1e-9);
            // Higher value never gets a lower tier.
            let mut sorted = values.clone();
            sorted.sort_by(|a, b| b.total_cmp(a));
            let ranks: Vec<usize> = sorted.iter().map(|&x| p.tier_index(x)).collect();
            prop_assert!(ranks.windows(2).all(|w| w[0] <= w[1]));
        }
    }
}
