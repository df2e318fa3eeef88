//! GBM fit on 100,000 generated rows (numeric columns of several shapes, one-hot
//! categories, a known non-linear signal): a fixed 100 rounds, so every sample does the
//! same work (with GOSS, the default at this size, and with 80% row draws), and the
//! early-stopped fit as training runs it.
//! Run: cargo bench --bench gbm_fit (threads: RAYON_NUM_THREADS; printed).

#[path = "data/gbm_data.rs"]
mod gbm_data;

use criterion::{criterion_group, criterion_main, Criterion};
use custscore::models::classifier::gbm::{fit_gbm, GbmParams};
use std::hint::black_box;

fn bench_gbm_fit(c: &mut Criterion) {
    let (x, y) = gbm_data::generated(100_000, 1);
    println!("rayon threads: {}", rayon::current_num_threads());
    let mut group = c.benchmark_group("gbm fit, 100,000 generated rows x 23 features");
    group.sample_size(10);
    let fixed = GbmParams {
        max_rounds: 100,
        early_stopping_rounds: 0,
        ..GbmParams::default()
    };
    // Default settings use GOSS at this size; the same fit on ordinary row draws beside it.
    let row_draws = GbmParams {
        goss_min_rows: 0,
        ..fixed.clone()
    };
    group.bench_function("100 rounds, depth 3, GOSS", |b| {
        b.iter(|| fit_gbm(black_box(x.view()), &y, &fixed, 42))
    });
    group.bench_function("100 rounds, depth 3, 80% row draws", |b| {
        b.iter(|| fit_gbm(black_box(x.view()), &y, &row_draws, 42))
    });
    group.bench_function("early stopping, then the refit", |b| {
        b.iter(|| fit_gbm(black_box(x.view()), &y, &GbmParams::default(), 42))
    });
    group.finish();
}

criterion_group!(benches, bench_gbm_fit);
criterion_main!(benches);
