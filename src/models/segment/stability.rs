//! Would the segments come out the same on next month's extract? Refit k-means on
//! bootstrap resamples and compare each refit with the full-data segments on the
//! resampled rows: the adjusted Rand index overall, and per segment the share of its
//! member pairs that the refit keeps together.

use super::kmeans::fit_kmeans;
use super::{SegmentError, SegmentParams};
use crate::models::stats::adjusted_rand_index;
use ndarray::{Array2, Axis};
use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256Plus;
use serde::{Deserialize, Serialize};

/// Below this mean adjusted Rand index the segments are reported as unstable (a common
/// reading of ARI: 0.75 and above is good agreement, 0.5 to 0.75 moderate).
pub const UNSTABLE_ARI: f64 = 0.75;

/// Member pairs sampled per segment and resample to estimate how often they stay together.
const PAIRS: usize = 500;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Stability {
    pub resamples: usize,
    /// Adjusted Rand index of each refit against the full-data segments.
    pub ari: Vec<f64>,
    pub mean_ari: f64,
    /// Per segment id: share of sampled member pairs the refits put in one segment.
    pub together: Vec<f64>,
}

impl Stability {
    pub fn is_unstable(&self) -> bool {
        self.mean_ari < UNSTABLE_ARI
    }
}

/// Refit `resamples` times with k = the number of segments in `labels`; `rows` are the
/// clustered features of every customer, `labels` the full-data segments. Each resample
/// draws at most `params.stability_sample` rows (with replacement). `on_step` after each
/// refit.
pub fn bootstrap_stability(
    rows: &Array2<f64>,
    labels: &[usize],
    k: usize,
    resamples: usize,
    params: &SegmentParams,
    on_step: &dyn Fn(),
) -> Result<Stability, SegmentError> {
    let n = rows.nrows();
    let draws = stability_draws(n, k, params);
    let mut rng = Xoshiro256Plus::seed_from_u64(params.seed ^ 0xB007);
    let (mut ari, mut kept, mut tried) = (Vec::new(), vec![0usize; k], vec![0usize; k]);
    for run in 0..resamples {
        let picked: Vec<usize> = (0..draws).map(|_| rng.gen_range(0..n)).collect();
        let sample = rows.select(Axis(0), &picked);
        let refit_params = SegmentParams {
            seed: params.seed.wrapping_add(1000 * (run as u64 + 1)),
            ..params.clone()
        };
        let refit = fit_kmeans(&sample, k, params.restarts, &refit_params)?;
        let original: Vec<usize> = picked.iter().map(|&i| labels[i]).collect();
        ari.push(adjusted_rand_index(&original, &refit.labels));
        count_pairs(&original, &refit.labels, k, &mut rng, &mut kept, &mut tried);
        on_step();
    }
    let mean_ari = ari.iter().sum::<f64>() / ari.len().max(1) as f64;
    let together = kept
        .iter()
        .zip(&tried)
        .map(|(&k, &t)| if t == 0 { 1.0 } else { k as f64 / t as f64 })
        .collect();
    Ok(Stability {
        resamples,
        ari,
        mean_ari,
        together,
    })
}

/// Rows drawn for each bootstrap refit of `k` segments on `n` rows.
pub fn stability_draws(n: usize, k: usize, params: &SegmentParams) -> usize {
    n.min(params.stability_sample.max(10 * k))
}

/// For each segment, sample pairs of its members (by the full-data labels) and count the
/// pairs the refit also puts together.
fn count_pairs(
    original: &[usize],
    refit: &[usize],
    k: usize,
    rng: &mut Xoshiro256Plus,
    kept: &mut [usize],
    tried: &mut [usize],
) {
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); k];
    for (i, &s) in original.iter().enumerate() {
        if let Some(m) = members.get_mut(s) {
            m.push(i);
        }
    }
    for (s, m) in members.iter().enumerate().filter(|(_, m)| m.len() >= 2) {
        for _ in 0..PAIRS {
            let (a, b) = (m[rng.gen_range(0..m.len())], m[rng.gen_range(0..m.len())]);
            if a == b {
                continue;
            }
            tried[s] += 1;
            kept[s] += usize::from(refit[a] == refit[b]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn well_separated_blobs_are_stable() {
        let rows = super::super::kmeans::tests::blobs();
        let labels: Vec<usize> = (0..rows.nrows()).map(|i| i / 30).collect();
        let s =
            bootstrap_stability(&rows, &labels, 3, 4, &SegmentParams::default(), &|| {}).unwrap();
        assert_eq!(s.ari.len(), 4);
        assert!(s.mean_ari > 0.99, "{s:?}");
        assert!(s.together.iter().all(|&t| t > 0.99), "{s:?}");
        assert!(!s.is_unstable());
    }

    #[test]
    fn structureless_data_with_too_many_segments_is_unstable() {
        let mut rng = Xoshiro256Plus::seed_from_u64(3);
        let data: Vec<f64> = (0..600).map(|_| rng.gen::<f64>()).collect();
        let rows = Array2::from_shape_vec((200, 3), data).unwrap();
        let params = SegmentParams::default();
        let full = fit_kmeans(&rows, 8, params.restarts, &params).unwrap();
        let s = bootstrap_stability(&rows, &full.labels, 8, 5, &params, &|| {}).unwrap();
        assert!(s.is_unstable(), "{s:?}");
    }
}
