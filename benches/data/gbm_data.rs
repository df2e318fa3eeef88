//! Generated churn data for the GBM benchmarks: numeric columns of several shapes
//! (normal, uniform, skewed, small counts) and one-hot categorical blocks, with a known
//! signal that needs both trees and interactions. Shared by `benches/gbm_fit.rs` and
//! `examples/gbm_fit_time.rs`.

use ndarray::Array2;
use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

/// Levels of each categorical column (one-hot encoded after the numeric columns).
const LEVELS: [usize; 4] = [3, 4, 6, 2];
const NUMERIC: usize = 8;

pub fn width() -> usize {
    NUMERIC + LEVELS.iter().sum::<usize>()
}

fn normal(rng: &mut impl Rng) -> f64 {
    // Box-Muller: no extra dependency for one distribution.
    let (u, v): (f64, f64) = (rng.gen_range(1e-12..1.0), rng.gen());
    (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
}

/// `rows` customers: the feature matrix and churned (true) or not.
pub fn generated(rows: usize, seed: u64) -> (Array2<f64>, Vec<bool>) {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let mut x = Array2::zeros((rows, width()));
    let mut y = Vec::with_capacity(rows);
    for r in 0..rows {
        let numeric = [
            normal(&mut rng),
            normal(&mut rng),
            rng.gen_range(-2.0..2.0),
            (normal(&mut rng) * 0.8).exp(),
            f64::from(rng.gen_range(0u8..12)),
            normal(&mut rng),
            rng.gen_range(0.0..1.0),
            (normal(&mut rng) * 1.5).exp().ln_1p(),
        ];
        for (f, v) in numeric.iter().enumerate() {
            x[(r, f)] = *v;
        }
        let mut at = NUMERIC;
        let mut levels = [0usize; LEVELS.len()];
        for (c, &n) in LEVELS.iter().enumerate() {
            levels[c] = rng.gen_range(0..n);
            x[(r, at + levels[c])] = 1.0;
            at += n;
        }
        let [a, b, c, d, e, ..] = numeric;
        let logit = 0.9 * a - 0.6 * b * b + 0.5 * (2.0 * c).sin() + 0.4 * d.min(4.0) - 0.08 * e
            + 0.5 * a * numeric[5]
            + [0.0, 0.6, -0.4][levels[0]]
            + if levels[2] == 5 { 0.8 } else { 0.0 }
            - 1.0;
        y.push(rng.gen::<f64>() < 1.0 / (1.0 + (-logit).exp()));
    }
    (x, y)
}
