//! Customer segments: k-means on the encoded features, each segment profiled and named
//! after what sets it apart, plus the value pyramid (tiers by customer value).

mod kmeans;
mod profile;
mod projection;
mod pyramid;

pub use kmeans::{choose_k, fit_kmeans, nearest, silhouette, Clustering, KScore};
pub use profile::{profile_segments, CategoryShare, Distinction, ProfileInputs, SegmentProfile};
pub use projection::{project, Projection};
pub use pyramid::{PyramidError, PyramidParams, Tier, TierSpec, ValuePyramid, UNRANKED};

use ndarray::Array2;
use serde::{Deserialize, Serialize};

/// What the user asked for. `check` turns it into settings the fit can trust.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SegmentParams {
    /// Fixed number of segments; chosen by silhouette over `k_min..=k_max` when absent.
    pub k: Option<usize>,
    pub k_min: usize,
    pub k_max: usize,
    /// k-means++ initialisations per fit; the lowest inertia wins.
    pub restarts: usize,
    pub max_iterations: u64,
    pub tolerance: f64,
    /// Rows sampled to compute the silhouette (it is quadratic in the sample).
    pub silhouette_sample: usize,
    pub seed: u64,
}

impl Default for SegmentParams {
    fn default() -> Self {
        SegmentParams {
            k: None,
            k_min: 2,
            k_max: 10,
            restarts: 10,
            max_iterations: 300,
            tolerance: 1e-4,
            silhouette_sample: 2000,
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
    #[error("segments: k-means failed: {0}")]
    KMeans(#[from] linfa_clustering::KMeansError),
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
        Ok(self)
    }
}

/// The fitted segmentation stored in the bundle.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SegmentModel {
    /// One centroid per segment, in the encoder's feature space.
    pub centroids: Vec<Vec<f64>>,
    /// Silhouette and inertia of each k tried (empty when k was fixed).
    pub k_scores: Vec<KScore>,
    pub inertia: f64,
    pub profiles: Vec<SegmentProfile>,
    /// A 2-D map of a sample of training customers, for the report.
    #[serde(default)]
    pub projection: Projection,
}

impl SegmentModel {
    /// The segment of one encoded record.
    pub fn assign(&self, features: &[f64]) -> usize {
        nearest(&self.centroids, features)
    }

    pub fn k(&self) -> usize {
        self.centroids.len()
    }
}

/// Cluster the encoded rows: with the configured k, or the k with the best silhouette.
pub fn cluster(
    rows: &Array2<f64>,
    params: &SegmentParams,
) -> Result<(Clustering, Vec<KScore>), SegmentError> {
    params.check()?;
    if rows.ncols() == 0 {
        return Err(SegmentError::NoFeatures);
    }
    match params.k {
        Some(k) => Ok((fit_kmeans(rows, k, params.restarts, params)?, Vec::new())),
        None => choose_k(rows, params),
    }
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
    }

    #[test]
    fn params_are_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<SegmentParams>();
        check::<SegmentModel>();
    }
}
