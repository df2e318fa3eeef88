//! Hit rate@3 and @10 of cross-sell offers on a time split of an order log: rules from
//! purchase history (mined from the baskets before the cut-off, each customer's own items
//! as the antecedent set) against popularity and item-item co-occurrence (cosine), on the
//! same customers: those who bought before the cut-off and bought an item new to them
//! after it. See `custscore::models::offers::evaluate`.
//!
//! usage: offer_hit_rate LOG CUTOFF [MIN_SUPPORT] [HISTORY_BASKETS]
//! e.g.   cargo run --release --example offer_hit_rate -- \
//!            training-data/online_retail.csv.gz 2011-09-01 0.01
//! The log has Online Retail's columns (InvoiceNo, StockCode, Quantity, InvoiceDate,
//! UnitPrice, CustomerID); postage, fees and manual lines are left out, as in the README.

use custscore::data::transactions::{parse_cutoff, read_log, TransactionSpec};
use custscore::models::offers::evaluate::evaluate_offers;
use custscore::models::offers::HistorySettings;
use custscore::models::rules::RulesParams;
use std::time::Instant;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(log), Some(cutoff)) = (args.first(), args.get(1)) else {
        anyhow::bail!("usage: offer_hit_rate LOG CUTOFF [MIN_SUPPORT] [HISTORY_BASKETS]");
    };
    let min_support: f64 = args.get(2).map_or(Ok(0.01), |s| s.parse())?;
    let history_baskets: Option<usize> = args.get(3).map(|s| s.parse()).transpose()?;
    let spec = TransactionSpec {
        customer_col: "CustomerID".into(),
        order_col: Some("InvoiceNo".into()),
        item_col: Some("StockCode".into()),
        time_col: "InvoiceDate".into(),
        amount_col: None,
        price_col: Some("UnitPrice".into()),
        quantity_col: Some("Quantity".into()),
        churn_after_days: 90,
        exclude_items: ["POST", "D", "M", "BANK CHARGES", "DOT", "AMAZONFEE"]
            .map(String::from)
            .to_vec(),
    };
    let (events, quality, _) = read_log(log.as_ref(), &spec)?;
    let cutoff = parse_cutoff(cutoff)?;
    let params = RulesParams {
        min_support,
        ..Default::default()
    };
    let settings = HistorySettings {
        baskets: history_baskets,
        ..Default::default()
    };
    println!(
        "{log}: {} lines used; cut-off {cutoff}; min support {min_support}, min confidence {}; antecedent: {}",
        quality.used,
        params.min_confidence,
        history_baskets.map_or("every item bought".to_string(), |n| format!("items of the last {n} baskets")),
    );
    let started = Instant::now();
    let evaluation = evaluate_offers(&events, cutoff, &params, &settings, &[3, 10]);
    print!("{evaluation}");
    println!(
        "(evaluated in {:.1} s, one thread)",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
