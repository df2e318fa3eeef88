//! Fitting at 100,000 rows: k-means (k = 4, 10 restarts, as `train` with a fixed k) and
//! the L2 logistic regression, on a synthetic table shaped like an encoded customer table
//! (40 columns: 10 standardized numbers, 30 one-hot indicators in 6 groups of 5).
//! Run: cargo bench --bench fit   (threads: the rayon pool, one per core by default)

use criterion::{criterion_group, criterion_main, Criterion};
use custscore::models::classifier::logistic::{fit_logistic, LogisticParams};
use custscore::models::segment::{fit_kmeans, SegmentParams};
use ndarray::Array2;
use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256Plus;
use std::hint::black_box;

const ROWS: usize = 100_000;

/// Four latent groups shift the numbers and tilt the categories; the label depends on a
/// few columns plus noise.
fn table() -> (Array2<f64>, Vec<bool>) {
    let mut rng = Xoshiro256Plus::seed_from_u64(11);
    let mut x = Array2::zeros((ROWS, 40));
    let mut y = Vec::with_capacity(ROWS);
    for i in 0..ROWS {
        let group = rng.gen_range(0..4);
        for j in 0..10 {
            let centre = if j % 4 == group { 1.5 } else { 0.0 };
            x[(i, j)] = centre + rng.gen_range(-1.0..1.0) + rng.gen_range(-1.0..1.0);
        }
        for g in 0..6 {
            let level = if rng.gen_bool(0.6) {
                (group + g) % 5
            } else {
                rng.gen_range(0..5)
            };
            x[(i, 10 + 5 * g + level)] = 1.0;
        }
        let score = 0.8 * x[(i, 0)] - 0.5 * x[(i, 3)] + x[(i, 12)] + rng.gen_range(-2.0..2.0);
        y.push(score > 0.5);
    }
    (x, y)
}

fn bench_fits(c: &mut Criterion) {
    let (x, y) = table();
    println!("rayon threads: {}", rayon::current_num_threads());
    let mut group = c.benchmark_group("fit 100k rows x 40 columns");
    group.sample_size(10);
    let params = SegmentParams::default();
    group.bench_function("k-means k=4, 10 restarts", |b| {
        b.iter(|| fit_kmeans(black_box(&x), 4, 10, &params).expect("fits"))
    });
    group.bench_function("logistic regression, L2 alpha=1", |b| {
        b.iter(|| fit_logistic(black_box(x.view()), &y, &LogisticParams::default()).expect("fits"))
    });
    group.finish();
}

criterion_group!(benches, bench_fits);
criterion_main!(benches);
