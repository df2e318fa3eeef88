//! `train --transactions`: the order log streamed into everything training takes from it
//! (the customer table with features before the cut-off and the label after it, quality
//! counts and sha256, the invoices before the cut-off as baskets, each customer's items)
//! through running state, so memory follows customers and baskets, never lines.
//!
//! The default cut-off is the log's last event less the churn window, and every feature
//! depends on it. Without `--cutoff`, a first pass that keeps nothing finds the last
//! event; the second aggregates (and keeps each customer's purchase days for the lifetime
//! models' holdout check, so no third pass is needed). Holding back the lines that might fall after a cut-off
//! not yet known would keep a whole churn window of lines (a quarter of a year's log) in
//! memory: a second read costs time, not memory, and `--cutoff` skips it.

use crate::bundle::TransactionsInfo;
use crate::config::TrainConfig;
use crate::data::transactions::{
    self, CustomerTotals, EventRef, LogScan, ReadSoFar, TransactionError, TransactionSpec,
};
use crate::data::{BasketBuilder, Baskets, Table};
use crate::models::lifetime::summary::{CustomerHistory, PurchaseDays};
use crate::models::offers::{HistoryBuilder, HistorySettings};
use crate::progress::Progress;
use crate::train::TrainError;
use chrono::NaiveDateTime;
use std::path::Path;

/// The invoices before the cut-off as baskets, and each customer's items.
pub type LogItems = (Baskets, HistoryBuilder);

/// What training takes from an order log.
pub struct LogTraining {
    pub table: Table,
    pub info: TransactionsInfo,
    /// Present when the log names items.
    pub items: Option<LogItems>,
    /// The lifetime models' holdout check: each customer's purchase days up to the
    /// cut-off and after it, and the days after it (none when the log ends on its day).
    pub lifetime_holdout: Option<(Vec<CustomerHistory>, f64)>,
}

/// Aggregate an order log into the customer table (features before the cut-off, the
/// `churned` label after it), its baskets and its customers' items.
pub fn table_from_log(
    path: &Path,
    config: &TrainConfig,
    progress: &Progress,
) -> Result<LogTraining, TrainError> {
    let spec = config.transactions.spec()?;
    let given = (config.transactions.cutoff.as_deref())
        .map(transactions::parse_cutoff)
        .transpose()?;
    let cutoff = match given {
        Some(cutoff) => cutoff,
        None => {
            transactions::default_cutoff(last_event(path, &spec, progress)?, spec.churn_after_days)
        }
    };
    let mut aggregate = LogAggregate::new(&spec, cutoff, config.transactions.history_baskets);
    let what = format!("reading transactions {}", path.display());
    let scan = read_watched(path, &spec, progress, &what, |e| aggregate.add(e))?;
    if given.is_some() {
        transactions::check_cutoff(path, scan.last, cutoff, spec.churn_after_days)?;
    }
    let (mut table, after_cutoff, items, days) = aggregate.finish(&spec);
    let lifetime_holdout = lifetime_holdout(&days, cutoff, scan.last);
    drop(days);
    if table.rows() == 0 {
        return Err(TransactionError::NothingBeforeCutoff {
            path: path.to_path_buf(),
            cutoff: transactions::show_time(cutoff),
        }
        .into());
    }
    let mut quality = scan.quality;
    quality.customers_after_cutoff = after_cutoff;
    quality.note_scan_span(scan.first, scan.last, cutoff);
    table.source = path.display().to_string();
    table.sha256 = scan.sha256;
    let info = TransactionsInfo {
        spec,
        cutoff: transactions::show_time(cutoff),
        quality,
    };
    Ok(LogTraining {
        table,
        info,
        items,
        lifetime_holdout,
    })
}

/// Purchase days up to the last whole day before the cut-off calibrate (as the table's
/// lifetime columns do); those after it, up to the log's last day, are the holdout.
fn lifetime_holdout(
    days: &PurchaseDays,
    cutoff: NaiveDateTime,
    last: NaiveDateTime,
) -> Option<(Vec<CustomerHistory>, f64)> {
    let calibration_end = (cutoff - chrono::Duration::seconds(1)).date();
    let observation_end = last.date();
    let length = (observation_end - calibration_end).num_days() as f64;
    (length > 0.0).then(|| (days.histories(calibration_end, observation_end), length))
}

/// The first pass without `--cutoff`: the time of the log's last usable event.
fn last_event(
    path: &Path,
    spec: &TransactionSpec,
    progress: &Progress,
) -> Result<NaiveDateTime, TransactionError> {
    if path == Path::new("-") {
        return Err(TransactionError::CutoffNeeded);
    }
    let what = format!(
        "finding the last event of {} (for the cut-off)",
        path.display()
    );
    Ok(read_watched(path, spec, progress, &what, |_| ())?.last)
}

/// Stream the log's events to `each`, showing lines, megabytes and rate as it goes.
fn read_watched(
    path: &Path,
    spec: &TransactionSpec,
    progress: &Progress,
    what: &str,
    each: impl FnMut(EventRef<'_>),
) -> Result<LogScan, TransactionError> {
    let meter = progress.reading(what);
    let watch = |so_far: ReadSoFar| meter.update(so_far.lines, so_far.bytes);
    let scan = transactions::for_each_event_watched(path, None, spec, each, watch)?;
    meter.done();
    Ok(scan)
}

/// Running state over a log's events for one cut-off: totals per customer (features
/// before it, activity in the churn window after it), the baskets of the orders before
/// it, each customer's items before it.
pub struct LogAggregate {
    cutoff: NaiveDateTime,
    totals: CustomerTotals,
    baskets: Option<BasketBuilder>,
    purchases: Option<HistoryBuilder>,
    /// Every purchase day, before the cut-off and after it (the lifetime holdout).
    days: PurchaseDays,
}

impl LogAggregate {
    /// `history_baskets`: how many of a customer's last baskets fire rules (`None`: all).
    pub fn new(
        spec: &TransactionSpec,
        cutoff: NaiveDateTime,
        history_baskets: Option<usize>,
    ) -> Self {
        let has_items = spec.item_col.is_some();
        let settings = HistorySettings {
            baskets: history_baskets,
            ..Default::default()
        };
        LogAggregate {
            cutoff,
            totals: CustomerTotals::new(Some(cutoff), spec.churn_after_days),
            baskets: has_items.then(BasketBuilder::default),
            purchases: has_items.then(|| HistoryBuilder::new(settings, Some(cutoff))),
            days: PurchaseDays::default(),
        }
    }

    pub fn add(&mut self, e: EventRef) {
        self.totals.add(e);
        // Rules and item sets from purchases before the cut-off only, like every feature;
        // lines without a customer still make baskets.
        if let (Some(baskets), Some(item)) = (&mut self.baskets, e.item) {
            if e.time < self.cutoff && !e.is_return() {
                baskets.add(e.order, item);
            }
        }
        if let Some(purchases) = &mut self.purchases {
            purchases.add(e);
        }
        if let Some(customer) = e.customer.filter(|_| !e.is_return()) {
            self.days.add(customer, e.time.date(), e.value);
        }
    }

    /// The labelled customer table, how many customers were first seen after the
    /// cut-off, the baskets and item sets (when the log names items) and every
    /// customer's purchase days.
    pub fn finish(self, spec: &TransactionSpec) -> (Table, usize, Option<LogItems>, PurchaseDays) {
        let (table, after_cutoff) = self.totals.table(spec, self.cutoff, true);
        let baskets = self.baskets.map(BasketBuilder::finish_by_order_id);
        (table, after_cutoff, baskets.zip(self.purchases), self.days)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::lifetime::summary::purchase_days;
    use crate::models::offers::PurchaseHistory;
    use chrono::{Duration, NaiveDate};
    use proptest::prelude::*;
    use std::fmt::Write;

    /// What training took from a log before it streamed: every event collected, then the
    /// table, the baskets and the item sets built from the collected events.
    fn collected(
        path: &Path,
        spec: &TransactionSpec,
        history_baskets: Option<usize>,
    ) -> (Table, usize, Baskets, PurchaseHistory, String) {
        let (events, _, sha256) = transactions::read_log(path, spec).unwrap();
        let last = events.iter().map(|e| e.time).max().unwrap();
        let cutoff = transactions::default_cutoff(last, spec.churn_after_days);
        let (table, after) = transactions::customer_table(&events, spec, cutoff, true);
        let before = || events.iter().filter(|e| e.time < cutoff);
        let settings = HistorySettings {
            baskets: history_baskets,
            ..Default::default()
        };
        let mut purchases = HistoryBuilder::new(settings, Some(cutoff));
        before().for_each(|e| purchases.add(e));
        let baskets = Baskets::from_lists(transactions::baskets(before()));
        let history = purchases.finish_with(|name| baskets.item_id(name));
        (table, after, baskets, history, sha256)
    }

    fn config(path: &Path, history_baskets: Option<usize>) -> TrainConfig {
        let mut config = TrainConfig::default();
        let spec = transactions::test_spec(10);
        let t = &mut config.transactions;
        t.file = Some(path.to_path_buf());
        t.customer_col = Some(spec.customer_col);
        t.order_col = spec.order_col;
        t.item_col = spec.item_col;
        t.time_col = Some(spec.time_col);
        t.price_col = spec.price_col;
        t.quantity_col = spec.quantity_col;
        t.churn_after_days = spec.churn_after_days;
        t.exclude_items = spec.exclude_items;
        t.history_baskets = history_baskets;
        config
    }

    /// A log of `lines` as (customer, order, item, day, hour, quantity, price); customer 0
    /// is blank, item 0 is an excluded code.
    fn write_log(
        lines: &[(u8, u8, u8, u8, u8, i8, u8)],
    ) -> (tempfile::TempDir, std::path::PathBuf) {
        let mut text = String::from("order,item,qty,time,price,customer\n");
        let start = NaiveDate::from_ymd_opt(2011, 1, 1)
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap();
        for &(customer, order, item, day, hour, qty, price) in lines {
            let time = start + Duration::days(day as i64) + Duration::hours(hour as i64);
            let customer = match customer {
                0 => String::new(),
                c => format!("c{c}"),
            };
            let item = match item {
                0 => "POST".to_string(),
                i => format!("i{i}"),
            };
            let time = transactions::show_time(time);
            writeln!(text, "o{order},{item},{qty},{time},{price},{customer}").unwrap();
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.csv");
        std::fs::write(&path, text).unwrap();
        (dir, path)
    }

    fn assert_streamed_is_collected(path: &Path, history_baskets: Option<usize>) {
        let (table, after, baskets, history, sha256) =
            collected(path, &transactions::test_spec(10), history_baskets);
        let streamed =
            table_from_log(path, &config(path, history_baskets), &Progress::silent()).unwrap();
        assert_eq!(streamed.table.ids, table.ids);
        assert_eq!(streamed.table.columns, table.columns);
        assert_eq!(streamed.table.sha256, sha256);
        assert_eq!(streamed.info.quality.customers_after_cutoff, after);
        let (streamed_baskets, purchases) = streamed.items.unwrap();
        assert_eq!(streamed_baskets, baskets);
        assert_eq!(purchases.finish_with(|name| baskets.item_id(name)), history);
        assert_eq!(
            streamed.lifetime_holdout,
            reread_holdout(path, &transactions::test_spec(10))
        );
    }

    /// The lifetime holdout as training took it before: from a pass of its own.
    fn reread_holdout(path: &Path, spec: &TransactionSpec) -> Option<(Vec<CustomerHistory>, f64)> {
        let (days, scan, _) = purchase_days(path, spec).unwrap();
        let cutoff = transactions::default_cutoff(scan.last, spec.churn_after_days);
        lifetime_holdout(&days, cutoff, scan.last)
    }

    #[test]
    fn the_retail_fixture_streams_to_what_the_collected_events_gave() {
        let fixture =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/retail_sample.csv");
        let mut spec = transactions::test_spec(10);
        spec.customer_col = "CustomerID".into();
        spec.order_col = Some("InvoiceNo".into());
        spec.item_col = Some("StockCode".into());
        spec.time_col = "InvoiceDate".into();
        spec.price_col = Some("UnitPrice".into());
        spec.quantity_col = Some("Quantity".into());
        spec.churn_after_days = 90;
        let (table, after, baskets, history, _) = collected(&fixture, &spec, Some(3));
        let mut config = config(&fixture, Some(3));
        let t = &mut config.transactions;
        t.customer_col = Some(spec.customer_col.clone());
        t.order_col = spec.order_col.clone();
        t.item_col = spec.item_col.clone();
        t.time_col = Some(spec.time_col.clone());
        t.price_col = spec.price_col.clone();
        t.quantity_col = spec.quantity_col.clone();
        t.churn_after_days = 90;
        let streamed = table_from_log(&fixture, &config, &Progress::silent()).unwrap();
        assert!(
            table.rows() > 50 && baskets.len() > 100,
            "{} {}",
            table.rows(),
            baskets.len()
        );
        assert_eq!(streamed.table.ids, table.ids);
        assert_eq!(streamed.table.columns, table.columns);
        assert_eq!(streamed.info.quality.customers_after_cutoff, after);
        let (streamed_baskets, purchases) = streamed.items.unwrap();
        assert_eq!(streamed_baskets, baskets);
        assert_eq!(purchases.finish_with(|name| baskets.item_id(name)), history);
        let holdout = reread_holdout(&fixture, &spec);
        assert!(holdout.as_ref().is_some_and(|(h, _)| h.len() > 50));
        assert_eq!(streamed.lifetime_holdout, holdout);
    }

    #[test]
    fn a_given_cutoff_too_late_for_the_window_is_refused_after_one_pass() {
        let (_dir, path) = write_log(&[(1, 1, 1, 0, 0, 1, 2), (1, 2, 2, 20, 0, 1, 2)]);
        let mut config = config(&path, None);
        config.transactions.cutoff = Some("2011-01-15".into());
        let err = table_from_log(&path, &config, &Progress::silent())
            .err()
            .unwrap();
        assert!(err.to_string().contains("on or before 2011-01-11"), "{err}");
        config.transactions.cutoff = Some("2011-01-11".into());
        let log = table_from_log(&path, &config, &Progress::silent()).unwrap();
        assert_eq!(log.info.cutoff, "2011-01-11 00:00:00");
    }

    #[test]
    fn standard_input_needs_a_cutoff() {
        let config = config(Path::new("-"), None);
        let err = table_from_log(Path::new("-"), &config, &Progress::silent())
            .err()
            .unwrap();
        assert!(err.to_string().contains("--cutoff"), "{err}");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        /// Streaming gives the table, baskets and item sets the collected events gave,
        /// whatever the order of lines, returns, blank customers and excluded codes.
        #[test]
        fn streamed_training_aggregates_equal_collected(
            lines in proptest::collection::vec(
                (0u8..6, 0u8..15, 0u8..8, 0u8..40, 0u8..24, -2i8..4, 0u8..9), 1..80),
            window in proptest::option::of(1usize..3),
        ) {
            // A purchase on day 0 and one on day 25: the cut-off (10 days before the last
            // event) always has a purchase before it.
            let mut lines = lines;
            lines.push((1, 20, 1, 0, 0, 1, 1));
            lines.insert(lines.len() / 2, (2, 21, 2, 25, 0, 1, 1));
            let (_dir, path) = write_log(&lines);
            assert_streamed_is_collected(&path, window);
        }
    }
}
