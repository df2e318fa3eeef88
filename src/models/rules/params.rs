//! What the user asks of the miner and the rules, checked once.

use crate::data::Baskets;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RulesError {
    #[error("minimum support {0:?} is out of range: give a fraction in (0, 1] (e.g. 0.01) or a whole count >= 1 (e.g. 45)")]
    MinSupport(String),
    #[error("minimum confidence {0} is out of range: give a fraction in [0, 1]")]
    MinConfidence(f64),
    #[error("minimum lift {0} is out of range: give a number >= 0")]
    MinLift(f64),
    #[error("maximum itemset length must be at least 1 (rules need 2)")]
    MaxLen,
    #[error("top_n must be at least 1")]
    TopN,
    #[error("evaluation share {0} is out of range: give a fraction in (0, 1)")]
    EvalShare(f64),
}

/// Minimum support: a share of the baskets or an absolute number of baskets.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum MinSupport {
    Fraction(f64),
    Count(u32),
}

impl std::str::FromStr for MinSupport {
    type Err = RulesError;
    /// `0.01` is a fraction; `45` (no decimal point) is a count.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let text = s.trim();
        let bad = || RulesError::MinSupport(s.to_string());
        if !text.contains(['.', 'e', 'E']) {
            return match text.parse::<u32>() {
                Ok(c) if c >= 1 => Ok(MinSupport::Count(c)),
                _ => Err(bad()),
            };
        }
        match text.parse::<f64>() {
            Ok(f) if f > 0.0 && f <= 1.0 => Ok(MinSupport::Fraction(f)),
            _ => Err(bad()),
        }
    }
}

impl MinSupport {
    /// The smallest basket count that is frequent among `n` baskets: `ceil(fraction * n)`,
    /// with a little tolerance so 0.01 * 22,000 is 220, not 221 (the pyfim/mlxtend rule:
    /// support >= minimum).
    pub fn min_count(&self, n: usize) -> u32 {
        match *self {
            MinSupport::Count(c) => c,
            MinSupport::Fraction(f) => {
                let exact = f * n as f64;
                let nearest = exact.round();
                let count = if (exact - nearest).abs() < 1e-9 * exact.max(1.0) {
                    nearest
                } else {
                    exact.ceil()
                };
                (count as u32).max(1)
            }
        }
    }

    pub fn check(&self) -> Result<(), RulesError> {
        match *self {
            MinSupport::Fraction(f) if !(f > 0.0 && f <= 1.0) => {
                Err(RulesError::MinSupport(f.to_string()))
            }
            MinSupport::Count(0) => Err(RulesError::MinSupport("0".into())),
            _ => Ok(()),
        }
    }
}

/// The `[rules]` table of the training config.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RulesParams {
    /// Minimum support, as a share of baskets (customers).
    pub min_support: f64,
    pub min_confidence: f64,
    /// Rules below this lift are dropped (1.0 keeps only rules that raise the odds).
    pub min_lift: f64,
    /// Longest itemset mined (a rule's antecedent is at most max_len - 1 items).
    pub max_len: Option<usize>,
    /// Offers returned per customer.
    pub top_n: usize,
    /// When not empty, only these items may appear in itemsets.
    pub include: Vec<String>,
    /// Items that never appear in itemsets (fees, postage).
    pub exclude: Vec<String>,
    /// Share of customers held out to measure hit rate.
    pub eval_share: f64,
    pub seed: u64,
}

impl Default for RulesParams {
    fn default() -> Self {
        RulesParams {
            min_support: 0.01,
            min_confidence: 0.1,
            min_lift: 1.0,
            max_len: Some(5),
            top_n: 3,
            include: Vec::new(),
            exclude: Vec::new(),
            eval_share: 0.2,
            seed: 42,
        }
    }
}

impl RulesParams {
    pub fn check(&self) -> Result<(), RulesError> {
        MinSupport::Fraction(self.min_support).check()?;
        if !(0.0..=1.0).contains(&self.min_confidence) {
            return Err(RulesError::MinConfidence(self.min_confidence));
        }
        if self.min_lift.is_nan() || self.min_lift < 0.0 {
            return Err(RulesError::MinLift(self.min_lift));
        }
        if self.max_len == Some(0) {
            return Err(RulesError::MaxLen);
        }
        if self.top_n == 0 {
            return Err(RulesError::TopN);
        }
        if !(self.eval_share > 0.0 && self.eval_share < 1.0) {
            return Err(RulesError::EvalShare(self.eval_share));
        }
        Ok(())
    }

    /// Which item ids may appear in itemsets (None = all).
    pub fn allowed_items(&self, baskets: &Baskets) -> Option<Vec<bool>> {
        allowed_items(baskets, &self.include, &self.exclude)
    }
}

/// Item constraints as a mask over a basket set's dictionary (None = all allowed).
pub fn allowed_items(
    baskets: &Baskets,
    include: &[String],
    exclude: &[String],
) -> Option<Vec<bool>> {
    if include.is_empty() && exclude.is_empty() {
        return None;
    }
    let listed = |list: &[String], name: &str| list.iter().any(|x| x == name);
    Some(
        baskets
            .names
            .iter()
            .map(|n| (include.is_empty() || listed(include, n)) && !listed(exclude, n))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn min_support_parses_fractions_and_counts() {
        assert_eq!("0.01".parse::<MinSupport>(), Ok(MinSupport::Fraction(0.01)));
        assert_eq!("45".parse::<MinSupport>(), Ok(MinSupport::Count(45)));
        for bad in ["0", "0.0", "1.5", "-0.1", "abc", "", "NaN"] {
            assert!(bad.parse::<MinSupport>().is_err(), "{bad}");
        }
    }

    #[test]
    fn fractions_become_counts_like_other_miners() {
        assert_eq!(MinSupport::Fraction(0.01).min_count(22064), 221);
        assert_eq!(MinSupport::Fraction(0.005).min_count(22064), 111);
        assert_eq!(MinSupport::Fraction(0.002).min_count(22064), 45);
        assert_eq!(MinSupport::Fraction(0.01).min_count(22000), 220);
        assert_eq!(MinSupport::Fraction(0.1).min_count(3), 1);
    }

    #[test]
    fn config_table_refuses_unknown_keys_and_fills_defaults() {
        let params: RulesParams =
            toml::from_str("min_support = 0.05\nexclude = [\"POST\"]").unwrap();
        assert_eq!(params.min_support, 0.05);
        assert_eq!(params.top_n, RulesParams::default().top_n);
        let err = toml::from_str::<RulesParams>("min_suport = 0.05").unwrap_err();
        assert!(err.to_string().contains("min_suport"), "{err}");
    }

    #[test]
    fn params_are_checked() {
        assert!(RulesParams::default().check().is_ok());
        let bad = RulesParams {
            min_confidence: 1.5,
            ..Default::default()
        };
        assert_eq!(bad.check(), Err(RulesError::MinConfidence(1.5)));
        let bad = RulesParams {
            max_len: Some(0),
            ..Default::default()
        };
        assert_eq!(bad.check(), Err(RulesError::MaxLen));
    }
}
