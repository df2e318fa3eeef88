//! What the drift window adds to scoring one record: `Scorer::score` alone, and with
//! the record counted in a 10,000-record window, over varied telco customers.
//! Run: cargo bench --bench monitoring (the HTTP side: benches/monitoring_cost.sh).

use criterion::{criterion_group, criterion_main, Criterion};
use custscore::bundle::Bundle;
use custscore::features::Value;
use custscore::monitoring::{Window, WindowSpan};
use custscore::score::Scorer;
use std::borrow::Cow;
use std::hint::black_box;
use std::path::Path;

/// Models folder holding a telco bundle (benches/monitoring_cost.sh trains one there).
fn scorer() -> Scorer {
    let models = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/peers/out/monitoring_models");
    Scorer::new(Bundle::load(&models, None).expect("run benches/monitoring_cost.sh first"))
}

/// The first 500 telco customers as raw text values, in the scorer's input order.
fn customers(scorer: &Scorer) -> Vec<Vec<String>> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("training-data/telco_churn.csv");
    let mut reader = csv::Reader::from_path(path).expect("telco data");
    let header = reader.headers().expect("header").clone();
    let at: Vec<Option<usize>> = scorer
        .input_names()
        .map(|n| header.iter().position(|h| h == n))
        .collect();
    reader
        .records()
        .take(500)
        .map(|r| {
            let r = r.expect("row");
            at.iter()
                .map(|i| i.and_then(|i| r.get(i)).unwrap_or("").to_string())
                .collect()
        })
        .collect()
}

fn values(row: &[String]) -> Vec<Value<'_>> {
    row.iter()
        .map(|c| Value::Text(Cow::Borrowed(c.as_str())))
        .collect()
}

fn bench_window(c: &mut Criterion) {
    let scorer = scorer();
    let rows = customers(&scorer);
    let bundle = scorer.bundle();
    let reference = bundle
        .drift
        .clone()
        .expect("a bundle with a drift reference");
    let window = Window::new(
        reference,
        &bundle.encoder,
        WindowSpan::Records(10_000),
        scorer.version(),
    );
    let mut group = c.benchmark_group("score one telco customer");
    let mut i = 0;
    group.bench_function("without monitoring", |b| {
        b.iter(|| {
            i = (i + 1) % rows.len();
            black_box(scorer.score(Cow::Borrowed(""), values(&rows[i])).ok())
        })
    });
    group.bench_function("counted in the drift window", |b| {
        b.iter(|| {
            i = (i + 1) % rows.len();
            black_box(
                scorer
                    .score_observed(Cow::Borrowed(""), values(&rows[i]), |s| {
                        window.record(s.values(), s.segment, s.risk.map(|r| r.probability))
                    })
                    .ok(),
            )
        })
    });
    group.finish();
    let parsed: Vec<Vec<Value>> = rows
        .iter()
        .filter_map(|r| bundle.encoder.parse(values(r)).ok())
        .collect();
    c.bench_function("count one parsed telco customer in the drift window", |b| {
        b.iter(|| {
            i = (i + 1) % parsed.len();
            window.record(black_box(&parsed[i]), i % 4, Some(0.3));
        })
    });
}

criterion_group!(benches, bench_window);
criterion_main!(benches);
