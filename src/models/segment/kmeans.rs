//! k-means (greedy k-means++ initialisation, accelerated Lloyd iterations in `lloyd.rs`,
//! restarts in parallel, on a sample for large tables) and the silhouette (the choice of k is in `choose.rs`).

use super::lloyd::{hamerly, Points};
use super::{SegmentError, SegmentParams};
use crate::models::stats::squared_distance;
use ndarray::Array2;
use rand::seq::index::sample;
use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256Plus;
use rayon::prelude::*;

/// One fitted partition of the rows.
#[derive(Debug, Clone)]
pub struct Clustering {
    pub centroids: Vec<Vec<f64>>,
    pub labels: Vec<usize>,
    /// Sum of squared distances of each row to its centroid (scikit-learn's definition).
    pub inertia: f64,
}

/// Fit k-means with `restarts` greedy k-means++ initialisations (run in parallel), keeping
/// the lowest inertia. Above `params.fit_sample` rows the restarts run on a sample of that
/// size and only the winner is iterated on every row (see [`refine`]).
pub fn fit_kmeans(
    rows: &Array2<f64>,
    k: usize,
    restarts: usize,
    params: &SegmentParams,
) -> Result<Clustering, SegmentError> {
    if rows.nrows() < k {
        return Err(SegmentError::TooFewRows {
            rows: rows.nrows(),
            k,
        });
    }
    if rows.nrows() <= params.fit_sample.max(k) {
        return best_of_restarts(&Points::new(rows), k, restarts, params);
    }
    let picked = row_sample(rows.nrows(), params.fit_sample.max(k), params.seed);
    let on_sample = best_of_restarts(&Points::select(rows, &picked), k, restarts, params)?;
    Ok(refine(rows, on_sample.centroids, params))
}

/// Iterate on every row from centres found on a sample: one accelerated run, where the
/// restarts were cheap on the sample.
pub fn refine(rows: &Array2<f64>, centres: Vec<Vec<f64>>, params: &SegmentParams) -> Clustering {
    let data = Points::new(rows);
    let tolerance = params.tolerance * data.mean_variance();
    hamerly(&data, centres, params.max_iterations, tolerance)
}

fn best_of_restarts(
    data: &Points,
    k: usize,
    restarts: usize,
    params: &SegmentParams,
) -> Result<Clustering, SegmentError> {
    // Tolerance relative to the data's mean variance, as scikit-learn defines it.
    let tolerance = params.tolerance * data.mean_variance();
    let runs: Vec<Clustering> = (0..restarts.max(1) as u64)
        .into_par_iter()
        .map(|run| {
            let mut rng = Xoshiro256Plus::seed_from_u64(params.seed.wrapping_add(run));
            let start = kmeans_plus_plus(data, k, &mut rng);
            hamerly(data, start, params.max_iterations, tolerance)
        })
        .collect();
    runs.into_iter()
        .min_by(|a, b| a.inertia.total_cmp(&b.inertia))
        .ok_or(SegmentError::NoRestarts)
}

/// Greedy k-means++: each new centre is the best of 2 + ln k candidates drawn in proportion
/// to the squared distance to the nearest centre so far (scikit-learn's initialisation).
pub(super) fn kmeans_plus_plus(data: &Points, k: usize, rng: &mut Xoshiro256Plus) -> Vec<Vec<f64>> {
    let n = data.len();
    let trials = 2 + (k as f64).ln() as usize;
    let mut centres = vec![data.row(rng.gen_range(0..n)).to_vec()];
    let mut closest: Vec<f64> = (0..n)
        .map(|i| squared_distance(data.row(i), &centres[0]))
        .collect();
    while centres.len() < k {
        let total: f64 = closest.iter().sum();
        let mut best: Option<(f64, usize, Vec<f64>)> = None;
        for _ in 0..trials {
            let candidate = if total > 0.0 {
                let mut target = rng.gen::<f64>() * total;
                closest
                    .iter()
                    .position(|&d| {
                        target -= d;
                        target <= 0.0
                    })
                    .unwrap_or(n - 1)
            } else {
                rng.gen_range(0..n)
            };
            let distances: Vec<f64> = (0..n)
                .map(|i| closest[i].min(squared_distance(data.row(i), data.row(candidate))))
                .collect();
            let potential: f64 = distances.iter().sum();
            if best.as_ref().is_none_or(|(p, _, _)| potential < *p) {
                best = Some((potential, candidate, distances));
            }
        }
        if let Some((_, chosen, distances)) = best {
            centres.push(data.row(chosen).to_vec());
            closest = distances;
        }
    }
    centres
}

pub(super) fn silhouette_sample(n: usize, size: usize, seed: u64) -> Vec<usize> {
    sorted_sample(n, size, seed ^ 0x5111)
}

/// The rows k is chosen on and restarts run on when there are more than `size`.
pub(super) fn row_sample(n: usize, size: usize, seed: u64) -> Vec<usize> {
    sorted_sample(n, size, seed ^ 0xF17)
}

/// `size` distinct row indices out of `n` (all when `n <= size`), ascending.
fn sorted_sample(n: usize, size: usize, seed: u64) -> Vec<usize> {
    if n <= size {
        return (0..n).collect();
    }
    let mut rng = Xoshiro256Plus::seed_from_u64(seed);
    let mut picked = sample(&mut rng, n, size).into_vec();
    picked.sort_unstable();
    picked
}

/// Mean silhouette coefficient of the sampled rows, distances within the sample.
pub fn silhouette(rows: &Array2<f64>, labels: &[usize], sample: &[usize]) -> f64 {
    let k = labels.iter().copied().max().map_or(0, |m| m + 1);
    let points: Vec<Vec<f64>> = sample.iter().map(|&i| rows.row(i).to_vec()).collect();
    let sample_labels: Vec<usize> = sample.iter().map(|&i| labels[i]).collect();
    let mut counts = vec![0usize; k];
    for &l in &sample_labels {
        counts[l] += 1;
    }
    // Collected, then summed in order: a parallel sum's order (and last bit) varies by run.
    let scores: Vec<f64> = (0..points.len())
        .into_par_iter()
        .map(|i| {
            let mut sums = vec![0.0; k];
            for (j, p) in points.iter().enumerate() {
                if i != j {
                    sums[sample_labels[j]] += squared_distance(&points[i], p).sqrt();
                }
            }
            let own = sample_labels[i];
            if counts[own] <= 1 {
                return 0.0;
            }
            let a = sums[own] / (counts[own] - 1) as f64;
            let b = (0..k)
                .filter(|&c| c != own && counts[c] > 0)
                .map(|c| sums[c] / counts[c] as f64)
                .fold(f64::INFINITY, f64::min);
            if b.is_infinite() {
                0.0
            } else {
                (b - a) / a.max(b)
            }
        })
        .collect();
    scores.iter().sum::<f64>() / points.len().max(1) as f64
}

/// Index of the nearest centroid.
pub fn nearest(centroids: &[Vec<f64>], features: &[f64]) -> usize {
    centroids
        .iter()
        .enumerate()
        .map(|(i, c)| (i, squared_distance(c, features)))
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .map_or(0, |(i, _)| i)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn blobs() -> Array2<f64> {
        let mut data = Vec::new();
        for (cx, cy) in [(0.0, 0.0), (10.0, 0.0), (0.0, 10.0)] {
            for i in 0..30 {
                let jitter = (i as f64 * 0.37).sin();
                data.extend([cx + jitter, cy + jitter * 0.5]);
            }
        }
        Array2::from_shape_vec((90, 2), data).unwrap()
    }

    #[test]
    fn finds_three_well_separated_blobs() {
        let params = SegmentParams {
            k_min: 2,
            ..Default::default()
        };
        let chosen = super::super::choose_k(&blobs(), &params, &|| {}).unwrap();
        let (clustering, scores) = (chosen.clustering, chosen.scores);
        assert_eq!(clustering.centroids.len(), 3, "{scores:?}");
        let best = scores.iter().map(|s| s.silhouette).fold(f64::MIN, f64::max);
        assert!(best > 0.8);
        // Every blob lands in one cluster.
        for blob in 0..3 {
            let l = clustering.labels[blob * 30];
            assert!(clustering.labels[blob * 30..(blob + 1) * 30]
                .iter()
                .all(|&x| x == l));
        }
    }

    #[test]
    fn inertia_is_the_sum_of_squared_distances() {
        let rows = blobs();
        let c = fit_kmeans(&rows, 3, 3, &SegmentParams::default()).unwrap();
        let expected: f64 = (0..rows.nrows())
            .map(|i| squared_distance(&rows.row(i).to_vec(), &c.centroids[c.labels[i]]))
            .sum();
        assert!((c.inertia - expected).abs() < 1e-9);
        assert_eq!(nearest(&c.centroids, &rows.row(0).to_vec()), c.labels[0]);
    }

    #[test]
    fn too_few_rows_is_an_error() {
        let rows = Array2::zeros((2, 2));
        assert!(matches!(
            fit_kmeans(&rows, 3, 1, &SegmentParams::default()),
            Err(SegmentError::TooFewRows { .. })
        ));
    }
}
