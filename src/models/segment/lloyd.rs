//! Lloyd's k-means iterations, accelerated by Hamerly's bounds: each row keeps an upper
//! bound on the distance to its own centre and a lower bound on the distance to any other;
//! when the first is below the second (or below half the gap to the nearest other centre)
//! the row cannot change segment and no distance is computed. The labels, centres and
//! stopping rule are exactly those of plain Lloyd (`lloyd_reference` in the tests).
//! Rows are processed in fixed chunks on all cores; sums are added chunk by chunk in
//! order, so the result does not depend on the number of threads.

use super::kmeans::Clustering;
use crate::models::stats::squared_distance;
use ndarray::Array2;
use rayon::prelude::*;

/// Rows per parallel chunk. Fixed (not per thread) so results never depend on the pool.
const CHUNK: usize = 8192;

/// A bound is trusted to skip a row only with this relative margin, so rounding in the
/// bound updates can never skip a row plain Lloyd would move (it only costs a few checks).
const SLACK: f64 = 1e-9;

/// Rows in one contiguous row-major buffer (the hot loops stay in cache).
pub(super) struct Points {
    values: Vec<f64>,
    width: usize,
}

impl Points {
    pub(super) fn new(rows: &Array2<f64>) -> Self {
        Points {
            values: rows.iter().copied().collect(),
            width: rows.ncols(),
        }
    }

    /// The given rows only, in the given order.
    pub(super) fn select(rows: &Array2<f64>, picked: &[usize]) -> Self {
        let mut values = Vec::with_capacity(picked.len() * rows.ncols());
        for &i in picked {
            values.extend(rows.row(i).iter().copied());
        }
        Points {
            values,
            width: rows.ncols(),
        }
    }

    pub(super) fn len(&self) -> usize {
        self.values.len() / self.width.max(1)
    }

    pub(super) fn row(&self, i: usize) -> &[f64] {
        &self.values[i * self.width..(i + 1) * self.width]
    }

    fn chunks(&self) -> impl IndexedParallelIterator<Item = &[f64]> {
        self.values.par_chunks(CHUNK * self.width.max(1))
    }

    pub(super) fn mean_variance(&self) -> f64 {
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

/// What each row knows about its centres.
#[derive(Clone, Copy)]
struct Bound {
    label: usize,
    /// At least the distance to its own centre.
    upper: f64,
    /// At most the distance to any other centre.
    lower: f64,
}

/// Iterate from `centres` until the labels stop changing, the centres move less than
/// `tolerance` (summed squared shift), or `max_iterations`. An emptied segment takes the
/// row farthest from its centre.
pub(super) fn hamerly(
    data: &Points,
    mut centres: Vec<Vec<f64>>,
    max_iterations: u64,
    tolerance: f64,
) -> Clustering {
    let k = centres.len();
    let unassigned = Bound {
        label: usize::MAX,
        upper: f64::INFINITY,
        lower: 0.0,
    };
    let mut bounds = vec![unassigned; data.len()];
    for _ in 0..max_iterations.max(1) {
        let changed = assign(data, &centres, &mut bounds);
        let (sums, counts) = centre_sums(data, &bounds, k);
        let mut next = means(&sums, &counts, data.width);
        refill_empty(data, &centres, &bounds, &counts, &mut next);
        let moves: Vec<f64> = centres
            .iter()
            .zip(&next)
            .map(|(a, b)| squared_distance(a, b))
            .collect();
        let shift: f64 = moves.iter().sum();
        let moves: Vec<f64> = moves.into_iter().map(f64::sqrt).collect();
        widen_bounds(&mut bounds, &moves);
        centres = next;
        if !changed || shift <= tolerance {
            break;
        }
    }
    // Final assignment against the final centres, so labels and inertia agree.
    assign(data, &centres, &mut bounds);
    let inertia = chunked_sum(data, &bounds, |row, b| {
        squared_distance(row, &centres[b.label])
    });
    Clustering {
        centroids: centres,
        labels: bounds.iter().map(|b| b.label).collect(),
        inertia,
    }
}

/// Half the distance from each centre to its nearest other centre: a row closer than
/// that to its own centre is closer to it than to any other.
fn half_gaps(centres: &[Vec<f64>]) -> Vec<f64> {
    (0..centres.len())
        .map(|a| {
            let nearest = (0..centres.len())
                .filter(|&b| b != a)
                .map(|b| squared_distance(&centres[a], &centres[b]))
                .fold(f64::INFINITY, f64::min);
            0.5 * nearest.sqrt()
        })
        .collect()
}

/// Move each row to its nearest centre (the first on ties, as plain Lloyd); true if any
/// row changed.
fn assign(data: &Points, centres: &[Vec<f64>], bounds: &mut [Bound]) -> bool {
    let gaps = half_gaps(centres);
    let changed: Vec<bool> = data
        .chunks()
        .zip(bounds.par_chunks_mut(CHUNK))
        .map(|(rows, bounds)| {
            let mut changed = false;
            for (row, b) in rows.chunks_exact(data.width.max(1)).zip(bounds) {
                changed |= assign_row(row, centres, &gaps, b);
            }
            changed
        })
        .collect();
    changed.contains(&true)
}

fn assign_row(row: &[f64], centres: &[Vec<f64>], gaps: &[f64], b: &mut Bound) -> bool {
    if b.label != usize::MAX {
        let bar = b.lower.max(gaps[b.label]);
        if b.upper * (1.0 + SLACK) < bar {
            return false;
        }
        b.upper = squared_distance(row, &centres[b.label]).sqrt();
        if b.upper * (1.0 + SLACK) < bar {
            return false;
        }
    }
    let (mut best, mut best_d, mut second_d) = (0, f64::INFINITY, f64::INFINITY);
    for (c, centre) in centres.iter().enumerate() {
        let d = squared_distance(centre, row);
        if d < best_d {
            (second_d, best, best_d) = (best_d, c, d);
        } else if d < second_d {
            second_d = d;
        }
    }
    let changed = b.label != best;
    *b = Bound {
        label: best,
        upper: best_d.sqrt(),
        lower: second_d.sqrt(),
    };
    changed
}

/// After the centres moved: a row's own centre may be farther by its move, any other
/// nearer by the largest move among the others.
fn widen_bounds(bounds: &mut [Bound], moves: &[f64]) {
    let (mut first, mut second, mut argmax) = (0.0f64, 0.0f64, usize::MAX);
    for (c, &m) in moves.iter().enumerate() {
        if m > first {
            (second, first, argmax) = (first, m, c);
        } else if m > second {
            second = m;
        }
    }
    bounds.par_chunks_mut(CHUNK).for_each(|chunk| {
        for b in chunk {
            if b.label == usize::MAX {
                continue;
            }
            b.upper += moves[b.label];
            b.lower -= if b.label == argmax { second } else { first };
        }
    });
}

/// Sum of `f(row, bound)` over rows, chunk by chunk in order (deterministic).
fn chunked_sum(data: &Points, bounds: &[Bound], f: impl Fn(&[f64], &Bound) -> f64 + Sync) -> f64 {
    let parts: Vec<f64> = data
        .chunks()
        .zip(bounds.par_chunks(CHUNK))
        .map(|(rows, bounds)| {
            let mut sum = 0.0;
            for (row, b) in rows.chunks_exact(data.width.max(1)).zip(bounds) {
                sum += f(row, b);
            }
            sum
        })
        .collect();
    parts.iter().sum()
}

/// Per segment: the sum of its rows and their count.
fn centre_sums(data: &Points, bounds: &[Bound], k: usize) -> (Vec<f64>, Vec<usize>) {
    let width = data.width;
    let parts: Vec<(Vec<f64>, Vec<usize>)> = data
        .chunks()
        .zip(bounds.par_chunks(CHUNK))
        .map(|(rows, bounds)| {
            let (mut sums, mut counts) = (vec![0.0; k * width], vec![0usize; k]);
            for (row, b) in rows.chunks_exact(width.max(1)).zip(bounds) {
                counts[b.label] += 1;
                for (s, x) in sums[b.label * width..].iter_mut().zip(row) {
                    *s += x;
                }
            }
            (sums, counts)
        })
        .collect();
    let mut parts = parts.into_iter();
    let (mut sums, mut counts) = parts.next().unwrap_or_default();
    for (part_sums, part_counts) in parts {
        sums.iter_mut().zip(part_sums).for_each(|(s, p)| *s += p);
        counts
            .iter_mut()
            .zip(part_counts)
            .for_each(|(c, p)| *c += p);
    }
    (sums, counts)
}

fn means(sums: &[f64], counts: &[usize], width: usize) -> Vec<Vec<f64>> {
    counts
        .iter()
        .enumerate()
        .map(|(c, &count)| {
            (sums[c * width..(c + 1) * width].iter())
                .map(|s| s / count as f64)
                .collect()
        })
        .collect()
}

/// An emptied segment's new centre is the row farthest from its own (old) centre; each
/// such row is used once.
fn refill_empty(
    data: &Points,
    old: &[Vec<f64>],
    bounds: &[Bound],
    counts: &[usize],
    next: &mut [Vec<f64>],
) {
    if !counts.contains(&0) {
        return;
    }
    let mut distances: Vec<f64> = (0..data.len())
        .map(|i| squared_distance(data.row(i), &old[bounds[i].label]))
        .collect();
    for (c, _) in counts.iter().enumerate().filter(|(_, &n)| n == 0) {
        let far = (0..distances.len())
            .max_by(|&a, &b| distances[a].total_cmp(&distances[b]))
            .unwrap_or(0);
        distances[far] = 0.0;
        next[c] = data.row(far).to_vec();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::segment::kmeans::kmeans_plus_plus;
    use proptest::prelude::*;
    use rand::SeedableRng;
    use rand_xoshiro::Xoshiro256Plus;

    /// Plain Lloyd: every row measured against every centre in every iteration.
    fn lloyd_reference(
        data: &Points,
        mut centres: Vec<Vec<f64>>,
        max_iterations: u64,
        tolerance: f64,
    ) -> Clustering {
        let (n, k, width) = (data.len(), centres.len(), data.width);
        let nearest = |centres: &[Vec<f64>], row: &[f64]| {
            let mut best = (0, f64::INFINITY);
            for (c, centre) in centres.iter().enumerate() {
                let d = squared_distance(centre, row);
                if d < best.1 {
                    best = (c, d);
                }
            }
            best
        };
        let mut labels = vec![usize::MAX; n];
        let mut distances = vec![0.0; n];
        for _ in 0..max_iterations.max(1) {
            let mut changed = false;
            for i in 0..n {
                let (best, d) = nearest(&centres, data.row(i));
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
                    (sums[c * width..(c + 1) * width].iter())
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
        let mut inertia = 0.0;
        for (i, label) in labels.iter_mut().enumerate() {
            let (best, d) = nearest(&centres, data.row(i));
            *label = best;
            inertia += d;
        }
        Clustering {
            centroids: centres,
            labels,
            inertia,
        }
    }

    fn points(n: usize, width: usize, values: &[f64]) -> Points {
        let rows =
            Array2::from_shape_fn((n, width), |(i, j)| values[(i * width + j) % values.len()]);
        Points::new(&rows)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        #[test]
        fn hamerly_gives_plain_lloyds_labels_and_inertia(
            n in 20usize..400,
            width in 1usize..7,
            k in 2usize..7,
            values in proptest::collection::vec(-10.0f64..10.0, 50..400),
            seed in 0u64..1000,
        ) {
            let data = points(n, width, &values);
            let mut rng = Xoshiro256Plus::seed_from_u64(seed);
            let start = kmeans_plus_plus(&data, k, &mut rng);
            let fast = hamerly(&data, start.clone(), 300, 1e-8);
            let plain = lloyd_reference(&data, start, 300, 1e-8);
            prop_assert_eq!(&fast.labels, &plain.labels);
            prop_assert!((fast.inertia - plain.inertia).abs() <= 1e-9 * plain.inertia.max(1.0));
        }
    }

    #[test]
    fn chunked_sums_match_plain_lloyd_beyond_one_chunk() {
        // Three chunks: centres are summed chunk by chunk, labels must still agree.
        let n = 2 * CHUNK + 123;
        let values: Vec<f64> = (0..997)
            .map(|i| ((i * 7919) % 1009) as f64 / 50.0)
            .collect();
        let data = points(n, 3, &values);
        let mut rng = Xoshiro256Plus::seed_from_u64(5);
        let start = kmeans_plus_plus(&data, 4, &mut rng);
        let fast = hamerly(&data, start.clone(), 300, 0.0);
        let plain = lloyd_reference(&data, start, 300, 0.0);
        assert_eq!(fast.labels, plain.labels);
        assert!((fast.inertia - plain.inertia).abs() <= 1e-9 * plain.inertia);
    }
}
