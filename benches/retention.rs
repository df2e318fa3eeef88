//! Fitting each churn candidate on the telco table, and one retention answer.
//! Run: cargo bench --bench retention (the peer comparison is benches/peers/retention_peer.sh).

use criterion::{criterion_group, criterion_main, Criterion};
use custscore::data::{read_customers, ReadOptions};
use custscore::features::{EncoderParams, FeatureEncoder};
use custscore::models::classifier::{CandidateKind, ChurnModel, ReasonMethod, RetentionParams};
use custscore::train::to_matrix;
use std::hint::black_box;
use std::path::Path;

/// The telco features and churn outcome, encoded as training encodes them.
fn telco() -> (ndarray::Array2<f64>, Vec<bool>) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("training-data/telco_churn.csv");
    let options = ReadOptions {
        id: Some("customer_id".into()),
        required: vec![("churn".into(), "label")],
        as_text: vec!["churn".into()],
    };
    let mut table = read_customers(&path, &options).expect("telco data");
    let label = table.remove_column("churn").expect("churn column");
    let y = label
        .categorical()
        .expect("text label")
        .iter()
        .map(|v| v.as_deref() == Some("Yes"))
        .collect();
    let encoder = FeatureEncoder::fit(&table, &[], &EncoderParams::default());
    let x = to_matrix(&encoder.encode_table(&table), encoder.n_features());
    (x, y)
}

fn bench_fit(c: &mut Criterion) {
    let (x, y) = telco();
    let params = RetentionParams::default();
    let mut group = c.benchmark_group("fit churn candidate on telco (7,043 rows)");
    group.sample_size(10);
    for kind in [
        CandidateKind::Logistic,
        CandidateKind::DecisionTree,
        CandidateKind::Gbm,
    ] {
        group.bench_function(kind.name(), |b| {
            b.iter(|| ChurnModel::fit(kind, black_box(x.view()), &y, &params).expect("fits"))
        });
    }
    group.finish();
}

fn bench_predict(c: &mut Criterion) {
    let (x, y) = telco();
    let params = RetentionParams::default();
    let model = ChurnModel::fit(CandidateKind::Gbm, x.view(), &y, &params).expect("fits");
    let row = x.row(0).to_vec();
    for method in [ReasonMethod::Path, ReasonMethod::TreeShap] {
        let name = format!("gbm log-odds and reasons ({method:?}), one row");
        c.bench_function(&name, |b| {
            b.iter(|| {
                let mut out = vec![0.0; row.len()];
                let bias = model.contributions(black_box(&row), &mut out, method);
                (model.log_odds(&row), bias)
            })
        });
    }
}

/// Every telco row in turn, so branches see real data rather than one memorised row.
fn bench_reasons_over_the_table(c: &mut Criterion) {
    let (x, y) = telco();
    let params = RetentionParams::default();
    let model = ChurnModel::fit(CandidateKind::Gbm, x.view(), &y, &params).expect("fits");
    let rows: Vec<Vec<f64>> = x.rows().into_iter().map(|r| r.to_vec()).collect();
    let mut out = vec![0.0; x.ncols()];
    c.bench_function("gbm reasons (Path), all 7,043 telco rows", |b| {
        b.iter(|| {
            let mut total = 0.0;
            for row in &rows {
                out.fill(0.0);
                total += model.contributions(black_box(row), &mut out, ReasonMethod::Path);
            }
            total
        })
    });
}

criterion_group!(
    benches,
    bench_fit,
    bench_predict,
    bench_reasons_over_the_table
);
criterion_main!(benches);
