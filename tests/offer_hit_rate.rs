//! The time-split offer evaluation on a hand-made log whose answers are worked out by
//! hand (tests/fixtures/offers_log.csv, cut-off 2011-01-10):
//!
//! Before the cut-off: 10 baskets; a in 4, b/c/e in 3, d in 2; {a,b} in 3, {c,d} in 2.
//! At support 0.2 the rules are a→b (0.75), b→a, c→d (0.67), d→c; popularity a, b, c, e, d.
//! After it: x first buys b, y first buys e, z first buys d (and e again); w is new
//! (not counted), t1 buys nothing new (not counted), x's return of c is no purchase.
//!
//! | customer (owned) | rules from history      | popularity   | cosine |
//! | x (a)            | b c e        hit@3      | b c e  hit@3 | b      hit@3 |
//! | y (c)            | d a b \| e   hit@10     | a b e  hit@3 | d      miss  |
//! | z (e)            | a b c \| d   hit@10     | a b c \| d  hit@10 | (none) miss |

use custscore::data::transactions::{parse_cutoff, read_log, TransactionSpec};
use custscore::models::offers::evaluate::evaluate_offers;
use custscore::models::offers::HistorySettings;
use custscore::models::rules::RulesParams;

#[test]
fn hit_rates_on_a_hand_made_log_are_the_hand_worked_ones() {
    let spec = TransactionSpec {
        customer_col: "customer".into(),
        order_col: Some("order".into()),
        item_col: Some("item".into()),
        time_col: "time".into(),
        amount_col: Some("amount".into()),
        price_col: None,
        quantity_col: None,
        churn_after_days: 30,
        exclude_items: Vec::new(),
    };
    let log =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/offers_log.csv");
    let (events, quality, _) = read_log(&log, &spec).unwrap();
    assert_eq!(quality.used, 22);
    let params = RulesParams {
        min_support: 0.2,
        min_confidence: 0.5,
        ..Default::default()
    };
    let cutoff = parse_cutoff("2011-01-10").unwrap();
    let e = evaluate_offers(
        &events,
        cutoff,
        &params,
        &HistorySettings::default(),
        &[3, 10],
    );
    assert_eq!((e.baskets, e.rules, e.customers), (10, 4, 3));
    let hits: Vec<(&str, Vec<usize>)> = e
        .methods
        .iter()
        .map(|m| (m.method, m.hits.clone()))
        .collect();
    assert_eq!(
        hits,
        [
            ("rules from history", vec![1, 3]),
            ("popularity", vec![2, 3]),
            ("co-occurrence (cosine)", vec![1, 1]),
        ]
    );
    assert!((e.rate(2) - 2.0 / 3.0).abs() < 1e-12);
}
