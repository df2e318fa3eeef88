//! Customer segments: k-means on the encoded features, each segment profiled and named
//! after what sets it apart, plus the value pyramid (tiers by customer value).

mod align;
mod choose;
mod cube;
mod kmeans;
mod lloyd;
mod profile;
mod projection;
mod pyramid;
mod stability;

pub use align::{match_ids, renumber};
pub use choose::{choose_k, pick_k, smallest_share, KChoice, KScore};
pub use cube::{value_cube, CubeCell, CubeRow};
pub use kmeans::{fit_kmeans, nearest, refine, silhouette, Clustering};
pub use profile::{profile_segments, CategoryShare, Distinction, ProfileInputs, SegmentProfile};
pub use projection::{project, Projection};
pub use pyramid::{PyramidError, PyramidParams, Tier, TierSpec, ValuePyramid, UNRANKED};
pub use stability::{bootstrap_stability, stability_draws, Stability, UNSTABLE_ARI};

use crate::features::{Encoding, FeatureEncoder};
use ndarray::Array2;
use serde::{Deserialize, Serialize};

/// What the user asked for. `check` turns it into settings the fit can trust.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SegmentParams {
    /// Fixed number of segments; chosen over `k_min..=k_max` when absent (see `choose.rs`).
    pub k: Option<usize>,
    pub k_min: usize,
    pub k_max: usize,
    /// A k whose silhouette is this close to the best (absolute) counts as just as good.
    pub k_tolerance: f64,
    /// A k is eligible only when every segment holds at least this share of customers.
    pub min_share: f64,
    /// Input columns to cluster on (all feature columns when empty); profiles still
    /// describe every column.
    pub on: Vec<String>,
    /// Bootstrap refits measuring stability (0 = skip).
    pub bootstrap: usize,
    /// Rows drawn for each bootstrap refit (at least 10 per segment).
    pub stability_sample: usize,
    /// k-means++ initialisations per fit; the lowest inertia wins.
    pub restarts: usize,
    pub max_iterations: u64,
    pub tolerance: f64,
    /// Rows sampled to compute the silhouette (it is quadratic in the sample).
    pub silhouette_sample: usize,
    /// Above this many rows, k is chosen, restarts run and stability is measured on a
    /// sample of this size; the chosen centres are then iterated on every row.
    pub fit_sample: usize,
    pub seed: u64,
}

impl Default for SegmentParams {
    fn default() -> Self {
        SegmentParams {
            k: None,
            // A campaign plan needs a handful of segments: 2 is too coarse, 9 too many to
            // give each its own treatment.
            k_min: 3,
            k_max: 8,
            // The same telco partition scored on five 2,000-row samples spans up to 0.01
            // of silhouette (k = 3..8): a gap under twice that is noise, not a reason for
            // a coarser plan.
            k_tolerance: 0.02,
            min_share: 0.03,
            on: Vec::new(),
            bootstrap: 5,
            // Stability is a diagnostic: refits on 5,000 rows measure it at a quarter of
            // the cost of refits on the 20,000-row fit sample.
            stability_sample: 5_000,
            restarts: 10,
            max_iterations: 300,
            tolerance: 1e-4,
            silhouette_sample: 2000,
            // Ample for a handful of segments: the centres found on 20,000 rows move by
            // a few iterations on all of them.
            fit_sample: 20_000,
            seed: 42,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SegmentError {
    #[error("segments: k must be at least 2 (got {0})")]
    KTooSmall(usize),
    #[error("segments: k_min ({min}) is larger than k_max ({max})")]
    EmptyKRange { min: usize, max: usize },
    #[error("segments: restarts must be at least 1")]
    NoRestarts,
    #[error("segments: {rows} rows cannot make {k} segments")]
    TooFewRows { rows: usize, k: usize },
    #[error("segments: no features to cluster on (every column is constant or ignored)")]
    NoFeatures,
    #[error("segments: k_tolerance must be a number ≥ 0 (got {0})")]
    BadTolerance(f64),
    #[error("segments: min_share must be in [0, 0.5) (got {0})")]
    BadMinShare(f64),
    #[error(
        "segments: fit_sample must be at least 10 rows per segment of k_max ({needed}; got {got})"
    )]
    SmallFitSample { got: usize, needed: usize },
    #[error("--segment-on: `{column}` is not an input column the models use (they use: {known})")]
    UnknownColumn { column: String, known: String },
    #[error("--segment-on: column `{0}` is not used by the models ({1})")]
    IgnoredColumn(String, String),
}

impl SegmentParams {
    pub fn check(&self) -> Result<&Self, SegmentError> {
        if let Some(k) = self.k.filter(|&k| k < 2) {
            return Err(SegmentError::KTooSmall(k));
        }
        if self.k.is_none() && self.k_min < 2 {
            return Err(SegmentError::KTooSmall(self.k_min));
        }
        if self.k_min > self.k_max {
            return Err(SegmentError::EmptyKRange {
                min: self.k_min,
                max: self.k_max,
            });
        }
        if self.restarts == 0 {
            return Err(SegmentError::NoRestarts);
        }
        if !(self.k_tolerance >= 0.0 && self.k_tolerance.is_finite()) {
            return Err(SegmentError::BadTolerance(self.k_tolerance));
        }
        if !(0.0..0.5).contains(&self.min_share) {
            return Err(SegmentError::BadMinShare(self.min_share));
        }
        let needed = 10 * self.k.unwrap_or(self.k_max).max(self.k_max);
        if self.fit_sample < needed {
            return Err(SegmentError::SmallFitSample {
                got: self.fit_sample,
                needed,
            });
        }
        Ok(self)
    }
}

/// The fitted segmentation stored in the bundle.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SegmentModel {
    /// One centroid per segment, in the encoder's feature space (every feature, also
    /// those not clustered on: the mean of the segment's members).
    pub centroids: Vec<Vec<f64>>,
    /// Silhouette and inertia of each k tried (empty when k was fixed).
    pub k_scores: Vec<KScore>,
    pub inertia: f64,
    pub profiles: Vec<SegmentProfile>,
    /// A 2-D map of a sample of training customers, for the report.
    #[serde(default)]
    pub projection: Projection,
    /// Why the chosen k won (empty when k was fixed).
    #[serde(default)]
    pub k_reason: String,
    /// Input columns clustered on (empty = all).
    #[serde(default)]
    pub segment_on: Vec<String>,
    /// Feature indices the distance to a centroid is measured on (empty = all).
    #[serde(default)]
    pub slots: Vec<usize>,
    /// How much the segments move when refitted on bootstrap resamples.
    #[serde(default)]
    pub stability: Option<Stability>,
    /// Version of the champion bundle whose segment ids were kept for matching segments.
    #[serde(default)]
    pub ids_from: Option<String>,
    /// Segment × value tier × value quadrant on the training customers.
    #[serde(default)]
    pub cube: Vec<CubeCell>,
}

impl SegmentModel {
    /// The segment of one encoded record: the nearest centroid on the clustered features.
    pub fn assign(&self, features: &[f64]) -> usize {
        if self.slots.is_empty() {
            return nearest(&self.centroids, features);
        }
        let distance = |c: &Vec<f64>| -> f64 {
            self.slots
                .iter()
                .map(|&j| match (c.get(j), features.get(j)) {
                    (Some(a), Some(b)) => (a - b) * (a - b),
                    _ => 0.0,
                })
                .sum()
        };
        (0..self.centroids.len())
            .min_by(|&a, &b| distance(&self.centroids[a]).total_cmp(&distance(&self.centroids[b])))
            .unwrap_or(0)
    }

    pub fn k(&self) -> usize {
        self.centroids.len()
    }
}

/// Cluster the encoded rows: with the configured k, or the k [`choose_k`] picks;
/// `on_step` after each of [`cluster_steps`] steps.
pub fn cluster(
    rows: &Array2<f64>,
    params: &SegmentParams,
    on_step: &dyn Fn(),
) -> Result<KChoice, SegmentError> {
    params.check()?;
    if rows.ncols() == 0 {
        return Err(SegmentError::NoFeatures);
    }
    match params.k {
        Some(k) => {
            let clustering = fit_kmeans(rows, k, params.restarts, params)?;
            on_step();
            Ok(KChoice {
                clustering,
                scores: Vec::new(),
                reason: String::new(),
            })
        }
        None => choose_k(rows, params, on_step),
    }
}

/// How many times [`cluster`] reports a step: once per k tried, plus the final iteration
/// on every row when k is chosen on a sample.
pub fn cluster_steps(rows: usize, params: &SegmentParams) -> u64 {
    match params.k {
        Some(_) => 1,
        None => {
            let ks = params.k_max.saturating_sub(params.k_min) + 1;
            (ks + usize::from(rows > params.fit_sample)) as u64
        }
    }
}

/// Feature indices of the named input columns, in feature order; empty names = all
/// features (returned as an empty list). Unknown or unused columns are refused by name.
pub fn segment_slots(encoder: &FeatureEncoder, on: &[String]) -> Result<Vec<usize>, SegmentError> {
    let mut slots = Vec::new();
    for name in on {
        let Some(input) = encoder.input_index(name) else {
            let known: Vec<&str> = (encoder.inputs.iter())
                .filter(|i| !matches!(i.encoding, Encoding::Ignored { .. }))
                .map(|i| i.name.as_str())
                .collect();
            return Err(SegmentError::UnknownColumn {
                column: name.clone(),
                known: known.join(", "),
            });
        };
        if let Encoding::Ignored { reason, .. } = &encoder.inputs[input].encoding {
            return Err(SegmentError::IgnoredColumn(name.clone(), reason.clone()));
        }
        let features = encoder.features.iter().enumerate();
        slots.extend(features.filter(|(_, f)| f.input == input).map(|(j, _)| j));
    }
    slots.sort_unstable();
    slots.dedup();
    Ok(slots)
}

/// Mean of each segment's rows on every feature (a segment without rows keeps zeros).
pub fn full_centroids(rows: &Array2<f64>, labels: &[usize], k: usize) -> Vec<Vec<f64>> {
    let mut sums = vec![vec![0.0; rows.ncols()]; k];
    let mut counts = vec![0usize; k];
    for (row, &label) in rows.rows().into_iter().zip(labels) {
        let Some(sum) = sums.get_mut(label) else {
            continue;
        };
        counts[label] += 1;
        for (s, x) in sum.iter_mut().zip(row) {
            *s += x;
        }
    }
    for (sum, &count) in sums.iter_mut().zip(&counts) {
        sum.iter_mut().for_each(|s| *s /= count.max(1) as f64);
    }
    sums
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_are_checked() {
        let bad = SegmentParams {
            k: Some(1),
            ..Default::default()
        };
        assert!(matches!(bad.check(), Err(SegmentError::KTooSmall(1))));
        let bad = SegmentParams {
            k_min: 5,
            k_max: 3,
            ..Default::default()
        };
        assert!(matches!(bad.check(), Err(SegmentError::EmptyKRange { .. })));
        let bad = SegmentParams {
            restarts: 0,
            ..Default::default()
        };
        assert!(matches!(bad.check(), Err(SegmentError::NoRestarts)));
        let bad = SegmentParams {
            fit_sample: 0,
            ..Default::default()
        };
        assert!(matches!(
            bad.check(),
            Err(SegmentError::SmallFitSample { got: 0, needed: 80 })
        ));
    }

    #[test]
    fn cluster_reports_as_many_steps_as_it_announces() {
        // The progress bar's length (and so its ETA) comes from cluster_steps.
        let rows = kmeans::tests::blobs();
        for params in [
            SegmentParams::default(),
            SegmentParams {
                fit_sample: 80,
                ..Default::default()
            },
            SegmentParams {
                k: Some(3),
                ..Default::default()
            },
        ] {
            let steps = std::cell::Cell::new(0u64);
            cluster(&rows, &params, &|| steps.set(steps.get() + 1)).unwrap();
            assert_eq!(steps.get(), cluster_steps(rows.nrows(), &params));
        }
    }

    #[test]
    fn params_are_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<SegmentParams>();
        check::<SegmentModel>();
    }
}
