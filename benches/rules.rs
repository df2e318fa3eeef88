//! Cross-sell scoring of one customer: the rules that fire on the products held, ranked
//! offers with their reasons. Rules are mined from the telco holdings in the repository
//! (training-data/), the same way `custscore train` does.

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use custscore::data::{read_customers, ReadOptions};
use custscore::models::rules::{holdings_baskets, CrossSellModel, Miner, RulesParams};
use std::path::Path;

const HOLDINGS: &[&str] = &[
    "phone_service",
    "multiple_lines",
    "internet_service",
    "online_security",
    "online_backup",
    "device_protection",
    "tech_support",
    "streaming_tv",
    "streaming_movies",
];

fn telco_model() -> (CrossSellModel, custscore::data::Baskets) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("training-data/telco_churn.csv");
    let table = read_customers(&path, &ReadOptions::default()).expect("telco table");
    let holdings: Vec<String> = HOLDINGS.iter().map(|s| s.to_string()).collect();
    let baskets = holdings_baskets(&table, &holdings);
    let model = CrossSellModel::fit(&baskets, &RulesParams::default(), holdings);
    (model, baskets)
}

fn cross_sell(c: &mut Criterion) {
    let (model, baskets) = telco_model();
    // A customer with phone, DSL and two add-ons: several rules fire.
    let held: Vec<u32> = [
        "phone_service",
        "internet_service=DSL",
        "online_backup",
        "streaming_tv",
    ]
    .iter()
    .filter_map(|n| model.item_id(n))
    .collect();
    c.bench_function("cross_sell_one_customer", |b| {
        b.iter(|| model.offers(black_box(&held), 3))
    });
    c.bench_function("cross_sell_nothing_held", |b| {
        b.iter(|| model.offers(black_box(&[]), 3))
    });
    let mut every = 0usize;
    c.bench_function("cross_sell_all_7043_telco_customers", |b| {
        b.iter(|| {
            for basket in baskets.iter() {
                every += model.offers(black_box(basket), 3).len();
            }
        })
    });
    black_box(every);
    c.bench_function("mine_telco_holdings", |b| {
        b.iter(|| {
            let mut n = 0usize;
            Miner::new(black_box(&baskets), 70, None, None).mine(|_, _| n += 1);
            n
        })
    });
}

criterion_group!(benches, cross_sell);
criterion_main!(benches);
