//! k-means (linfa-clustering, k-means++ with restarts) and the choice of k by silhouette.

use super::{SegmentError, SegmentParams};
use crate::models::stats::squared_distance;
use linfa::prelude::*;
use linfa_clustering::KMeans;
use ndarray::Array2;
use rand::seq::index::sample;
use rand::SeedableRng;
use rand_xoshiro::Xoshiro256Plus;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// One fitted partition of the rows.
#[derive(Debug, Clone)]
pub struct Clustering {
    pub centroids: Vec<Vec<f64>>,
    pub labels: Vec<usize>,
    /// Sum of squared distances of each row to its centroid (scikit-learn's definition).
    pub inertia: f64,
}

/// How one candidate k scored when k was chosen automatically.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct KScore {
    pub k: usize,
    pub silhouette: f64,
    pub inertia: f64,
}

/// Fit k-means with `restarts` k-means++ initialisations, keeping the lowest inertia.
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
    let rng = Xoshiro256Plus::seed_from_u64(params.seed);
    let dataset = DatasetBase::from(rows.clone());
    let model = KMeans::params_with_rng(k, rng)
        .n_runs(restarts)
        .max_n_iterations(params.max_iterations)
        .tolerance(params.tolerance)
        .fit(&dataset)?;
    let labels: Vec<usize> = model.predict(rows).to_vec();
    let centroids: Vec<Vec<f64>> = model.centroids().outer_iter().map(|c| c.to_vec()).collect();
    let inertia = rows
        .outer_iter()
        .zip(&labels)
        .map(|(row, &l)| squared_distance(row.as_slice().unwrap_or(&row.to_vec()), &centroids[l]))
        .sum();
    Ok(Clustering {
        centroids,
        labels,
        inertia,
    })
}

/// Fit every k in the range and keep the one with the best silhouette on a sample.
pub fn choose_k(
    rows: &Array2<f64>,
    params: &SegmentParams,
) -> Result<(Clustering, Vec<KScore>), SegmentError> {
    let sample_rows = silhouette_sample(rows.nrows(), params.silhouette_sample, params.seed);
    let mut scores = Vec::new();
    let mut best: Option<(f64, Clustering)> = None;
    for k in params.k_min..=params.k_max.min(rows.nrows().saturating_sub(1)) {
        let clustering = fit_kmeans(rows, k, params.restarts, params)?;
        let silhouette = silhouette(rows, &clustering.labels, &sample_rows);
        scores.push(KScore {
            k,
            silhouette,
            inertia: clustering.inertia,
        });
        if best.as_ref().is_none_or(|(s, _)| silhouette > *s) {
            best = Some((silhouette, clustering));
        }
    }
    let (_, clustering) = best.ok_or(SegmentError::TooFewRows {
        rows: rows.nrows(),
        k: params.k_min,
    })?;
    Ok((clustering, scores))
}

fn silhouette_sample(n: usize, size: usize, seed: u64) -> Vec<usize> {
    if n <= size {
        return (0..n).collect();
    }
    let mut rng = Xoshiro256Plus::seed_from_u64(seed ^ 0x5111);
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
    let total: f64 = (0..points.len())
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
        .sum();
    total / points.len().max(1) as f64
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
mod tests {
    use super::*;

    fn blobs() -> Array2<f64> {
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
        let params = SegmentParams::default();
        let (clustering, scores) = choose_k(&blobs(), &params).unwrap();
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
