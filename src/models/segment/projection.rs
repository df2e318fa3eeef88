//! A 2-D map of customers for the report: the first two principal components of the
//! encoded features (power iteration with deflation, on at most 20,000 rows), shown for
//! a sample of customers.

use crate::models::stats::squared_distance;
use ndarray::ArrayView2;
use rand::seq::index::sample;
use rand::SeedableRng;
use rand_xoshiro::Xoshiro256Plus;
use serde::{Deserialize, Serialize};

/// Customers kept on the map; enough to see the shapes, small enough for a bundle.
pub const MAP_POINTS: usize = 1500;

/// Rows the axes are found on. Power iteration over every row of a 450,000-row table took
/// longer than the clustering itself; a sample this size pins the top two axes down.
const AXIS_ROWS: usize = 20_000;

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Projection {
    /// Share of the total variance each axis explains.
    pub explained: [f64; 2],
    /// (x, y, segment) per sampled customer.
    pub points: Vec<(f32, f32, u16)>,
    /// Segment centroids on the same axes.
    pub centroids: Vec<(f32, f32)>,
}

/// Project a sample of `rows` (row-major, already standardized) onto their top two
/// principal axes.
pub fn project(
    rows: ArrayView2<f64>,
    labels: &[usize],
    centroids: &[Vec<f64>],
    seed: u64,
) -> Projection {
    let (n, width) = rows.dim();
    if n == 0 {
        return Projection::default();
    }
    let row = |i: usize| rows.row(i).to_vec();
    let basis: Vec<Vec<f64>> = match n <= AXIS_ROWS {
        true => (0..n).map(row).collect(),
        false => {
            let mut rng = Xoshiro256Plus::seed_from_u64(seed ^ 0xA715);
            let mut picked = sample(&mut rng, n, AXIS_ROWS).into_vec();
            picked.sort_unstable();
            picked.into_iter().map(row).collect()
        }
    };
    let mean: Vec<f64> = (0..width)
        .map(|j| basis.iter().map(|r| r[j]).sum::<f64>() / basis.len() as f64)
        .collect();
    let centred: Vec<Vec<f64>> = basis
        .iter()
        .map(|r| r.iter().zip(&mean).map(|(x, m)| x - m).collect())
        .collect();
    let total_variance: f64 = centred
        .iter()
        .map(|r| squared_distance(r, &vec![0.0; width]))
        .sum();
    let first = principal_axis(&centred, &[]);
    let second = principal_axis(&centred, std::slice::from_ref(&first));
    let variance = |axis: &[f64]| centred.iter().map(|r| dot(r, axis).powi(2)).sum::<f64>();
    let explained = if total_variance > 0.0 {
        [
            variance(&first) / total_variance,
            variance(&second) / total_variance,
        ]
    } else {
        [0.0, 0.0]
    };
    let on_axes = |r: &[f64]| {
        let c: Vec<f64> = r.iter().zip(&mean).map(|(x, m)| x - m).collect();
        (dot(&c, &first) as f32, dot(&c, &second) as f32)
    };
    let mut rng = Xoshiro256Plus::seed_from_u64(seed ^ 0x9ca);
    let mut picked = sample(&mut rng, n, n.min(MAP_POINTS)).into_vec();
    picked.sort_unstable();
    Projection {
        explained,
        points: picked
            .iter()
            .map(|&i| {
                let (x, y) = on_axes(&row(i));
                (x, y, labels[i] as u16)
            })
            .collect(),
        centroids: centroids.iter().map(|c| on_axes(c)).collect(),
    }
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// The direction of largest variance orthogonal to `found`, by power iteration on XᵀX.
fn principal_axis(centred: &[Vec<f64>], found: &[Vec<f64>]) -> Vec<f64> {
    let width = centred[0].len();
    let mut v: Vec<f64> = (0..width)
        .map(|j| 1.0 + (j as f64 * 0.618).fract())
        .collect();
    for _ in 0..100 {
        let mut next = vec![0.0; width];
        for r in centred {
            let s = dot(r, &v);
            for (n, x) in next.iter_mut().zip(r) {
                *n += s * x;
            }
        }
        for f in found {
            let s = dot(&next, f);
            for (n, x) in next.iter_mut().zip(f) {
                *n -= s * x;
            }
        }
        let norm = dot(&next, &next).sqrt();
        if norm == 0.0 {
            break;
        }
        next.iter_mut().for_each(|x| *x /= norm);
        let change: f64 = next.iter().zip(&v).map(|(a, b)| (a - b).abs()).sum();
        v = next;
        if change < 1e-9 {
            break;
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_long_axis_of_an_elongated_cloud() {
        let rows: Vec<Vec<f64>> = (0..200)
            .map(|i| {
                let t = i as f64 / 20.0 - 5.0;
                vec![
                    t,
                    0.5 * t + 0.05 * (i as f64).sin(),
                    0.01 * (i as f64).cos(),
                ]
            })
            .collect();
        let labels = vec![0; 200];
        let x = crate::train::to_matrix(&rows, 3);
        let p = project(x.view(), &labels, &[vec![0.0, 0.0, 0.0]], 1);
        assert!(p.explained[0] > 0.99, "{:?}", p.explained);
        assert_eq!(p.points.len(), 200);
        let spread_x = p.points.iter().map(|q| q.0.abs()).fold(0.0f32, f32::max);
        let spread_y = p.points.iter().map(|q| q.1.abs()).fold(0.0f32, f32::max);
        assert!(spread_x > 10.0 * spread_y);
    }
}
