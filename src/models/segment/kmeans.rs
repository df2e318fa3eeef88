//! k-means (greedy k-means++ initialisation, Lloyd iterations, restarts in parallel) and
//! the silhouette (the choice of k is in `choose.rs`).

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
/// the lowest inertia.
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
    let data = Points::new(rows);
    // Tolerance relative to the data's mean variance, as scikit-learn defines it.
    let tolerance = params.tolerance * data.mean_variance();
    let runs: Vec<Clustering> = (0..restarts.max(1) as u64)
        .into_par_iter()
        .map(|run| {
            let mut rng = Xoshiro256Plus::seed_from_u64(params.seed.wrapping_add(run));
            let start = kmeans_plus_plus(&data, k, &mut rng);
            lloyd(&data, start, params.max_iterations, tolerance)
        })
        .collect();
    runs.into_iter()
        .min_by(|a, b| a.inertia.total_cmp(&b.inertia))
        .ok_or(SegmentError::NoRestarts)
}

/// Rows in one contiguous row-major buffer (the hot loops stay in cache).
struct Points {
    values: Vec<f64>,
    width: usize,
}

impl Points {
    fn new(rows: &Array2<f64>) -> Self {
        Points {
            values: rows.iter().copied().collect(),
            width: rows.ncols(),
        }
    }

    fn len(&self) -> usize {
        self.values.len() / self.width.max(1)
    }

    fn row(&self, i: usize) -> &[f64] {
        &self.values[i * self.width..(i + 1) * self.width]
    }

    fn mean_variance(&self) -> f64 {
        let n = self.len() as f64;
        (0..self.width)
            .map(|j| {
                let column = (0..self.len()).map(|i| self.values[i * self.width + j]);
                let mean = column.clone().sum::<f64>() / n;
                column.map(|x| (x - mean).powi(2)).sum::<f64>() / n
            })
            .sum::<f64>()
            / self.width.max(1) as f64
    }
}

/// Greedy k-means++: each new centre is the best of 2 + ln k candidates drawn in proportion
/// to the squared distance to the nearest centre so far (scikit-learn's initialisation).
fn kmeans_plus_plus(data: &Points, k: usize, rng: &mut Xoshiro256Plus) -> Vec<Vec<f64>> {
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

/// Lloyd iterations until the centres move less than `tolerance` (squared) or the labels
/// stop changing. An emptied cluster takes the point farthest from its centre.
fn lloyd(
    data: &Points,
    mut centres: Vec<Vec<f64>>,
    max_iterations: u64,
    tolerance: f64,
) -> Clustering {
    let (n, k, width) = (data.len(), centres.len(), data.width);
    let mut labels = vec![usize::MAX; n];
    let mut distances = vec![0.0; n];
    for _ in 0..max_iterations.max(1) {
        let mut changed = false;
        for i in 0..n {
            let (best, d) = nearest_with_distance(&centres, data.row(i));
            changed |= labels[i] != best;
            labels[i] = best;
            distances[i] = d;
        }
        let mut sums = vec![0.0; k * width];
        let mut counts = vec![0usize; k];
        for i in 0..n {
            counts[labels[i]] += 1;
            for (s, x) in sums[labels[i] * width..].iter_mut().zip(data.row(i)) {
                *s += x;
            }
        }
        let mut shift = 0.0;
        for c in 0..k {
            let next: Vec<f64> = if counts[c] == 0 {
                let far = (0..n)
                    .max_by(|&a, &b| distances[a].total_cmp(&distances[b]))
                    .unwrap_or(0);
                distances[far] = 0.0;
                data.row(far).to_vec()
            } else {
                sums[c * width..(c + 1) * width]
                    .iter()
                    .map(|s| s / counts[c] as f64)
                    .collect()
            };
            shift += squared_distance(&centres[c], &next);
            centres[c] = next;
        }
        if !changed || shift <= tolerance {
            break;
        }
    }
    // Final assignment against the final centres, so labels and inertia agree.
    let mut inertia = 0.0;
    for (i, label) in labels.iter_mut().enumerate() {
        let (best, d) = nearest_with_distance(&centres, data.row(i));
        *label = best;
        inertia += d;
    }
    Clustering {
        centroids: centres,
        labels,
        inertia,
    }
}

fn nearest_with_distance(centres: &[Vec<f64>], row: &[f64]) -> (usize, f64) {
    let mut best = (0, f64::INFINITY);
    for (c, centre) in centres.iter().enumerate() {
        let d = squared_distance(centre, row);
        if d < best.1 {
            best = (c, d);
        }
    }
    best
}

pub(super) fn silhouette_sample(n: usize, size: usize, seed: u64) -> Vec<usize> {
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
        let chosen = super::super::choose_k(&blobs(), &params).unwrap();
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
