//! The training profile a bundle carries (`drift_reference.json`): for each input the
//! shares of its training values over fixed bins, and the same for the bundle's own
//! scores. Only aggregates are kept: bin edges, shares, missing shares, min and max.

use crate::data::{ColumnData, Table, Text};
use crate::features::{Encoding, FeatureEncoder};
use serde::{Deserialize, Serialize};

/// Quantile bins per numeric input (deciles).
pub const BINS: usize = 10;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DriftReference {
    /// Training rows profiled.
    pub rows: usize,
    /// One profile per input a model uses, in the encoder's input order (identifier-like
    /// and constant columns are left out).
    pub inputs: Vec<InputProfile>,
    /// The calibrated churn probability of the training customers, when there is a
    /// churn model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub churn_probability: Option<NumericProfile>,
    /// Share of training customers in each segment, by segment id.
    #[serde(default)]
    pub segments: Vec<f64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct InputProfile {
    pub name: String,
    #[serde(flatten)]
    pub profile: Profile,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Profile {
    Numeric(NumericProfile),
    Categorical(CategoricalProfile),
}

/// Bin `i` holds the values above `edges[i-1]` up to and including `edges[i]`; the
/// first bin is unbounded below, the last (`edges.len()`) unbounded above.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct NumericProfile {
    pub edges: Vec<f64>,
    /// Share of the present values in each bin (`edges.len() + 1` bins).
    pub shares: Vec<f64>,
    /// Share of rows with no value.
    pub missing: f64,
    pub min: f64,
    pub max: f64,
}

impl NumericProfile {
    /// The profile of some values; `None` entries are missing.
    pub fn fit(values: &[Option<f64>]) -> Option<Self> {
        let mut present: Vec<f64> = values.iter().flatten().copied().collect();
        present.sort_by(f64::total_cmp);
        let (&min, &max) = (present.first()?, present.last()?);
        let mut edges: Vec<f64> = (1..BINS)
            .map(|i| nearest_rank(&present, i as f64 / BINS as f64))
            .collect();
        edges.dedup();
        let mut counts = vec![0u64; edges.len() + 1];
        for &x in &present {
            counts[bin_of(&edges, x)] += 1;
        }
        Some(NumericProfile {
            shares: super::psi::shares(&counts, present.len() as u64),
            missing: (values.len() - present.len()) as f64 / values.len() as f64,
            edges,
            min,
            max,
        })
    }

    pub fn bins(&self) -> usize {
        self.edges.len() + 1
    }

    pub fn bin(&self, x: f64) -> usize {
        bin_of(&self.edges, x)
    }

    pub fn out_of_range(&self, x: f64) -> bool {
        x < self.min || x > self.max
    }
}

/// The bin a value falls in: how many edges lie below it.
fn bin_of(edges: &[f64], x: f64) -> usize {
    edges.partition_point(|&e| e < x)
}

/// The value at quantile `p` of sorted values (nearest rank).
fn nearest_rank(sorted: &[f64], p: f64) -> f64 {
    let rank = (p * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Shares of each training category; a category never seen in training counts in an
/// extra "unseen" bucket, whose reference share is zero.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CategoricalProfile {
    /// Every category training saw (kept and rare ones), sorted.
    pub categories: Vec<String>,
    /// Share of the present values in each category.
    pub shares: Vec<f64>,
    pub missing: f64,
}

impl CategoricalProfile {
    pub fn fit(values: &[Option<Text>], categories: Vec<String>) -> Self {
        let mut counts = vec![0u64; categories.len()];
        let mut present = 0;
        for value in values.iter().flatten() {
            present += 1;
            if let Some(i) = categories.iter().position(|c| **c == **value) {
                counts[i] += 1;
            }
        }
        CategoricalProfile {
            shares: super::psi::shares(&counts, present),
            missing: (values.len() as u64 - present) as f64 / values.len().max(1) as f64,
            categories,
        }
    }

    /// Index of a training category; `categories.len()` (the unseen bucket) otherwise.
    pub fn bucket(&self, value: &str) -> usize {
        let unseen = self.categories.len();
        // Most inputs have a handful of categories: a scan of short comparisons.
        if unseen <= 8 {
            return self
                .categories
                .iter()
                .position(|c| crate::text_eq::same(c, value))
                .unwrap_or(unseen);
        }
        self.categories
            .binary_search_by(|c| c.as_str().cmp(value))
            .unwrap_or(unseen)
    }
}

impl DriftReference {
    /// Profile the inputs of the training table. Scores are added with
    /// [`with_scores`](Self::with_scores) once the models exist.
    pub fn fit(table: &Table, encoder: &FeatureEncoder) -> Self {
        let inputs = encoder
            .inputs
            .iter()
            .filter_map(|input| {
                let column = table.column(&input.name)?;
                let profile = match (&input.encoding, &column.data) {
                    (Encoding::Ignored { .. }, _) => return None,
                    (_, ColumnData::Numeric(values)) => {
                        Profile::Numeric(NumericProfile::fit(values)?)
                    }
                    (_, ColumnData::Categorical(values)) => {
                        let mut known: Vec<String> = encoder
                            .categories(&input.name)
                            .into_iter()
                            .map(String::from)
                            .collect();
                        known.sort();
                        Profile::Categorical(CategoricalProfile::fit(values, known))
                    }
                };
                Some(InputProfile {
                    name: input.name.clone(),
                    profile,
                })
            })
            .collect();
        DriftReference {
            rows: table.rows(),
            inputs,
            churn_probability: None,
            segments: Vec::new(),
        }
    }

    /// Add the distribution of the training customers' churn probabilities and segments.
    pub fn with_scores(
        mut self,
        probabilities: &[Option<f64>],
        segments: &[usize],
        k: usize,
    ) -> Self {
        if probabilities.iter().any(Option::is_some) {
            self.churn_probability = NumericProfile::fit(probabilities);
        }
        let mut counts = vec![0u64; k];
        for &s in segments.iter().filter(|&&s| s < k) {
            counts[s] += 1;
        }
        self.segments = super::psi::shares(&counts, segments.len() as u64);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deciles_split_values_into_ten_equal_bins() {
        let values: Vec<Option<f64>> = (1..=100).map(|i| Some(f64::from(i))).collect();
        let p = NumericProfile::fit(&values).unwrap();
        assert_eq!(
            p.edges,
            [10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 80.0, 90.0]
        );
        assert!(
            p.shares.iter().all(|s| (s - 0.1).abs() < 1e-12),
            "{:?}",
            p.shares
        );
        assert_eq!((p.min, p.max, p.missing), (1.0, 100.0, 0.0));
        assert_eq!((p.bin(10.0), p.bin(10.5), p.bin(1e9)), (0, 1, 9));
    }

    #[test]
    fn a_binary_column_gets_one_bin_per_value_and_missing_is_counted_apart() {
        let mut values: Vec<Option<f64>> = (0..10).map(|i| Some(f64::from(i % 2))).collect();
        values.push(None);
        let p = NumericProfile::fit(&values).unwrap();
        assert_eq!(p.edges, [0.0, 1.0]);
        assert_eq!(p.shares, [0.5, 0.5, 0.0]);
        assert!((p.missing - 1.0 / 11.0).abs() < 1e-12);
        assert!(p.out_of_range(2.0) && !p.out_of_range(1.0));
        assert!(NumericProfile::fit(&[None, None]).is_none());
    }

    #[test]
    fn unseen_categories_fall_in_the_extra_bucket() {
        let values = [Some("a".into()), Some("b".into()), Some("a".into()), None];
        let p = CategoricalProfile::fit(&values, vec!["a".into(), "b".into()]);
        assert_eq!(p.shares, [2.0 / 3.0, 1.0 / 3.0]);
        assert_eq!(p.missing, 0.25);
        assert_eq!((p.bucket("a"), p.bucket("b"), p.bucket("zz")), (0, 1, 2));
    }

    proptest::proptest! {
        /// Few categories are scanned, many searched: both find the same bucket.
        #[test]
        fn a_value_finds_its_bucket_among_few_or_many_categories(
            categories in proptest::collection::btree_set("[a-c]{0,3}", 1..20),
            probes in proptest::collection::vec("[a-c]{0,4}", 1..20),
        ) {
            let categories: Vec<String> = categories.into_iter().collect();
            let shares = vec![0.0; categories.len()];
            let p = CategoricalProfile { categories: categories.clone(), shares, missing: 0.0 };
            for probe in categories.iter().chain(&probes) {
                let expected = categories.iter().position(|c| c == probe).unwrap_or(categories.len());
                proptest::prop_assert_eq!(p.bucket(probe), expected);
            }
        }
    }
}
