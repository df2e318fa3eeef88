//! Training the default bundle and scoring one record with it.
//! Run: cargo bench --bench segments

use criterion::{criterion_group, criterion_main, Criterion};
use custscore::config::TrainConfig;
use custscore::features::Value;
use custscore::progress::Progress;
use custscore::score::Scorer;
use custscore::train::train;
use std::borrow::Cow;
use std::hint::black_box;
use std::path::Path;

fn default_config() -> TrainConfig {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("training-data/custscore.toml");
    TrainConfig::load(&path).expect("default config")
}

fn bench_training(c: &mut Criterion) {
    let mut group = c.benchmark_group("train");
    group.sample_size(10);
    let auto_k = default_config();
    group.bench_function("telco, k chosen over 2..10", |b| {
        b.iter(|| train(black_box(&auto_k), &Progress::silent()).expect("trains"))
    });
    let mut fixed_k = default_config();
    fixed_k.segments.k = Some(4);
    group.bench_function("telco, k=4", |b| {
        b.iter(|| train(black_box(&fixed_k), &Progress::silent()).expect("trains"))
    });
    group.finish();
}

fn bench_scoring(c: &mut Criterion) {
    let bundle = train(&default_config(), &Progress::silent()).expect("trains");
    let scorer = Scorer::new(bundle);
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("training-data/telco_churn.csv"),
    )
    .expect("telco data");
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap_or_default().split(',').collect();
    let row: Vec<&str> = lines.next().unwrap_or_default().split(',').collect();
    let record = || -> Vec<Value> {
        scorer
            .input_names()
            .map(|name| {
                let at = header.iter().position(|h| *h == name).expect("column");
                Value::Text(Cow::Borrowed(row[at]))
            })
            .collect()
    };
    c.bench_function("score one telco record", |b| {
        b.iter(|| scorer.score(Cow::Borrowed("7590-VHVEG"), black_box(record())))
    });
}

criterion_group!(benches, bench_training, bench_scoring);
criterion_main!(benches);
