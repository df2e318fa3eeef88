//! Order logs → one row per customer. Features come only from events before the cut-off
//! date; the churn label only from the window after it (no leakage across the "time
//! bridge"). Every quirk of real logs (returns, blank customers, zero prices, bad dates,
//! excluded codes) is counted in the quality report with what was done about it.

use super::csv_input::{self, Hashed, Next, Record, RecordReader};
use super::{is_missing, parse_number, Column, ColumnData, DataError, DataQuality, Table};
use crate::models::lifetime::summary::summarize;
use chrono::{Duration, NaiveDate, NaiveDateTime};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;
use std::io::BufRead;
use std::path::{Path, PathBuf};

/// Name of the label column the customer table gets (values "Yes" / "No").
pub const CHURNED: &str = "churned";

/// Which columns of the log mean what, and how to cut time. Stored in the bundle so
/// `score --transactions` aggregates exactly as training did.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TransactionSpec {
    pub customer_col: String,
    /// Order id; one order per customer and timestamp when absent.
    pub order_col: Option<String>,
    pub item_col: Option<String>,
    pub time_col: String,
    /// Line value. With `quantity_col` and no `price_col`, taken as the line total.
    pub amount_col: Option<String>,
    /// Unit price: line value = quantity × price.
    pub price_col: Option<String>,
    pub quantity_col: Option<String>,
    /// Days after the cut-off in which no purchase means "churned".
    pub churn_after_days: i64,
    /// Item codes that are not products (postage, fees): kept out of items and baskets.
    pub exclude_items: Vec<String>,
}

/// One usable line of the log.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub customer: Option<String>,
    pub order: String,
    pub item: Option<String>,
    pub time: NaiveDateTime,
    pub quantity: f64,
    pub value: f64,
}

impl Event {
    /// A return or cancellation line (negative quantity or value): never a purchase.
    pub fn is_return(&self) -> bool {
        self.quantity < 0.0 || self.value < 0.0
    }
}

/// An [`Event`] borrowing its texts from the line it was read from: streaming a log
/// allocates nothing per line; whatever keeps a text copies it once, when first seen.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EventRef<'a> {
    pub customer: Option<&'a str>,
    pub order: &'a str,
    pub item: Option<&'a str>,
    pub time: NaiveDateTime,
    pub quantity: f64,
    pub value: f64,
}

impl EventRef<'_> {
    /// A return or cancellation line (negative quantity or value): never a purchase.
    pub fn is_return(&self) -> bool {
        self.quantity < 0.0 || self.value < 0.0
    }

    pub fn to_event(&self) -> Event {
        Event {
            customer: self.customer.map(str::to_string),
            order: self.order.to_string(),
            item: self.item.map(str::to_string),
            time: self.time,
            quantity: self.quantity,
            value: self.value,
        }
    }
}

impl<'a> From<&'a Event> for EventRef<'a> {
    fn from(e: &'a Event) -> Self {
        EventRef {
            customer: e.customer.as_deref(),
            order: &e.order,
            item: e.item.as_deref(),
            time: e.time,
            quantity: e.quantity,
            value: e.value,
        }
    }
}

impl<'a> From<&EventRef<'a>> for EventRef<'a> {
    fn from(e: &EventRef<'a>) -> Self {
        *e
    }
}

/// What reading a log found, by kind, with what was done to each.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct LogQuality {
    pub lines: usize,
    pub used: usize,
    /// Lines without a customer id: kept for baskets, left out of customer features.
    pub blank_customer: usize,
    /// Lines with negative quantity or value (returns, cancellations): counted per customer
    /// as returns, never as purchases, and kept out of baskets.
    pub returns: usize,
    /// Lines priced at zero: kept (value 0).
    pub zero_value: usize,
    /// Lines whose item is on the exclude list: kept for value, left out of items.
    pub excluded_items: usize,
    /// Customers whose first purchase is after the cut-off: not scored for churn yet.
    pub customers_after_cutoff: usize,
    /// Unreadable lines (bad date, bad number, wrong field count): rejected with line.
    pub rejected: Vec<(u64, String)>,
    pub rejected_total: usize,
    pub first_event: Option<String>,
    pub last_event: Option<String>,
    pub cutoff: Option<String>,
}

impl LogQuality {
    /// Record the log's first and last event and the cut-off used.
    pub fn note_span(&mut self, events: &[Event], cutoff: NaiveDateTime) {
        self.first_event = events.iter().map(|e| e.time).min().map(show_time);
        self.last_event = events.iter().map(|e| e.time).max().map(show_time);
        self.cutoff = Some(show_time(cutoff));
    }

    /// [`LogQuality::note_span`] from a streamed log's first and last event.
    pub fn note_scan_span(
        &mut self,
        first: NaiveDateTime,
        last: NaiveDateTime,
        cutoff: NaiveDateTime,
    ) {
        self.first_event = Some(show_time(first));
        self.last_event = Some(show_time(last));
        self.cutoff = Some(show_time(cutoff));
    }

    pub fn findings(&self) -> Vec<String> {
        let mut out = vec![format!(
            "transaction log: {} lines, {} used, events {} .. {}, cut-off {}",
            self.lines,
            self.used,
            self.first_event.as_deref().unwrap_or("-"),
            self.last_event.as_deref().unwrap_or("-"),
            self.cutoff.as_deref().unwrap_or("-")
        )];
        let counts = [
            (
                self.blank_customer,
                "lines without a customer id: used for baskets only",
            ),
            (
                self.returns,
                "return/cancellation lines (negative quantity or value): counted as returns",
            ),
            (self.zero_value, "lines with zero value: kept"),
            (
                self.excluded_items,
                "lines with an excluded (non-product) item code: value kept, item dropped",
            ),
            (
                self.customers_after_cutoff,
                "customers first seen after the cut-off: no features yet, left out",
            ),
            (self.rejected_total, "unreadable lines: rejected"),
        ];
        for (n, what) in counts {
            if n > 0 {
                out.push(format!("{n} {what}"));
            }
        }
        for (line, reason) in self.rejected.iter().take(10) {
            out.push(format!("rejected line {line}: {reason}"));
        }
        out
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TransactionError {
    #[error(transparent)]
    Data(#[from] DataError),
    #[error("{}: no usable transactions ({rejected} lines rejected)", path.display())]
    NoEvents { path: PathBuf, rejected: usize },
    #[error("--cutoff {0:?}: expected a date like 2011-09-01")]
    BadCutoff(String),
    #[error("{}: no customer has purchases before the cut-off {cutoff}", path.display())]
    NothingBeforeCutoff { path: PathBuf, cutoff: String },
    #[error("standard input is read once: give --cutoff (the default cut-off is measured back from the log's last event)")]
    CutoffNeeded,
    #[error("{}: --cutoff {cutoff} leaves less than the {days}-day churn window before the log ends ({last}): every customer would look churned; use a cut-off on or before {latest}", path.display())]
    CutoffTooLate {
        path: PathBuf,
        cutoff: String,
        days: i64,
        last: String,
        latest: String,
    },
}

/// Parse the date/time formats order logs use (ISO dates and times, compact YYYYMMDD).
pub fn parse_time(text: &str) -> Option<NaiveDateTime> {
    let t = text.trim();
    for format in [
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(dt) = NaiveDateTime::parse_from_str(t, format) {
            return Some(dt);
        }
    }
    for format in ["%Y-%m-%d", "%Y%m%d"] {
        if let Ok(d) = NaiveDate::parse_from_str(t, format) {
            return d.and_hms_opt(0, 0, 0);
        }
    }
    None
}

/// What streaming a log found: the quality report, the sha256 of its (decompressed)
/// bytes and the time of its first and last usable event.
pub struct LogScan {
    pub quality: LogQuality,
    pub sha256: String,
    pub first: NaiveDateTime,
    pub last: NaiveDateTime,
}

/// One row per customer from an order log streamed once, as training aggregates it
/// (totals per customer as the log goes past: memory follows customers, not lines); the
/// cut-off defaults to just after the last event.
pub fn customer_table_streamed(
    path: &Path,
    spec: &TransactionSpec,
    cutoff: Option<NaiveDateTime>,
) -> Result<(Table, LogQuality), TransactionError> {
    customer_table_streamed_with(path, spec, cutoff, |_| ())
}

/// [`customer_table_streamed`], showing every usable event to `also` as it goes past.
pub fn customer_table_streamed_with(
    path: &Path,
    spec: &TransactionSpec,
    cutoff: Option<NaiveDateTime>,
    mut also: impl FnMut(EventRef<'_>),
) -> Result<(Table, LogQuality), TransactionError> {
    let mut totals = CustomerTotals::new(cutoff, spec.churn_after_days);
    let scan = for_each_event(path, spec, |event| {
        totals.add(event);
        also(event);
    })?;
    let cutoff = cutoff.unwrap_or(scan.last + Duration::seconds(1));
    let mut quality = scan.quality;
    quality.note_scan_span(scan.first, scan.last, cutoff);
    let (table, _) = totals.table(spec, cutoff, false);
    Ok((table, quality))
}

/// Stream the log's usable events to `each`, one at a time (memory does not grow with
/// the log); unusable lines are counted and sampled in the quality report with their line.
pub fn for_each_event(
    path: &Path,
    spec: &TransactionSpec,
    each: impl FnMut(EventRef<'_>),
) -> Result<LogScan, TransactionError> {
    for_each_event_in(path, None, spec, each)
}

/// [`for_each_event`] where `path` may be `-` (standard input) and `columns`, when
/// given, names the columns of a log without a header row (a partition of a larger log).
pub fn for_each_event_in(
    path: &Path,
    columns: Option<&[String]>,
    spec: &TransactionSpec,
    each: impl FnMut(EventRef<'_>),
) -> Result<LogScan, TransactionError> {
    for_each_event_watched(path, columns, spec, each, |_| ())
}

/// How far a log has been read: lines and (decompressed) bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ReadSoFar {
    pub lines: u64,
    pub bytes: u64,
}

/// Lines between two calls of the `watch` of [`for_each_event_watched`].
const WATCH_EVERY: u64 = 1 << 16;

/// [`for_each_event_in`], telling `watch` how far it got every 65,536 lines and at the end.
pub fn for_each_event_watched(
    path: &Path,
    columns: Option<&[String]>,
    spec: &TransactionSpec,
    mut each: impl FnMut(EventRef<'_>),
    mut watch: impl FnMut(ReadSoFar),
) -> Result<LogScan, TransactionError> {
    let open_error = |source| DataError::Open {
        path: path.to_path_buf(),
        source,
    };
    let inner = match path == Path::new("-") {
        true => csv_input::decompressed(Box::new(std::io::stdin())),
        false => csv_input::open(path),
    };
    let source = Hashed::new(inner.map_err(open_error)?);
    let mut reader = RecordReader::new(source);
    let header = match columns {
        Some(names) => names.to_vec(),
        None => csv_input::file_header(path, &mut reader)?,
    };
    let columns = LogColumns::find(path, &header, spec)?;
    let excluded: HashSet<&str> = spec.exclude_items.iter().map(String::as_str).collect();
    let mut quality = LogQuality::default();
    let mut span: Option<(NaiveDateTime, NaiveDateTime)> = None;
    let mut record = Record::default();
    let mut times = LastTime::default();
    let mut order_text = String::new();
    loop {
        let parsed = match reader.read(&mut record).map_err(open_error)? {
            Next::End => break,
            Next::TooLong => Err(csv_input::too_long_reason()),
            Next::Record => LineText::new(&record, &header).and_then(|line| {
                let found = (&excluded, &mut times, &mut quality);
                columns.event(&line, header.len(), found, &mut order_text)
            }),
        };
        quality.lines += 1;
        if (quality.lines as u64).is_multiple_of(WATCH_EVERY) {
            watch(ReadSoFar {
                lines: quality.lines as u64,
                bytes: reader.bytes_read(),
            });
        }
        match parsed {
            Ok(event) => {
                quality.used += 1;
                span = Some(span.map_or((event.time, event.time), |(first, last)| {
                    (first.min(event.time), last.max(event.time))
                }));
                each(event);
            }
            Err(reason) => {
                quality.rejected_total += 1;
                if quality.rejected.len() < super::quality::MAX_EXAMPLES {
                    quality.rejected.push((record.line(), reason));
                }
            }
        }
    }
    watch(ReadSoFar {
        lines: quality.lines as u64,
        bytes: reader.bytes_read(),
    });
    let Some((first, last)) = span else {
        return Err(TransactionError::NoEvents {
            path: path.to_path_buf(),
            rejected: quality.rejected_total,
        });
    };
    let sha256 = reader_digest(reader);
    Ok(LogScan {
        quality,
        sha256,
        first,
        last,
    })
}

fn reader_digest<R: BufRead>(reader: RecordReader<Hashed<R>>) -> String {
    reader.into_inner().sha256_hex()
}

/// A record's fields as text: the record is checked as UTF-8 once, not field by field.
struct LineText<'r> {
    text: &'r str,
    record: &'r Record,
}

impl<'r> LineText<'r> {
    /// The record as text, or which column is not UTF-8.
    fn new(record: &'r Record, header: &[String]) -> Result<Self, String> {
        let fields_start_on_chars = |text: &str| {
            (0..record.len()).all(|i| {
                record
                    .range(i)
                    .is_some_and(|r| text.is_char_boundary(r.start))
            })
        };
        match std::str::from_utf8(record.as_slice()) {
            Ok(text) if fields_start_on_chars(text) => Ok(LineText { text, record }),
            _ => Err(first_non_utf8(record, header)),
        }
    }

    fn len(&self) -> usize {
        self.record.len()
    }

    /// Field `i` (empty past the last field).
    fn get(&self, i: usize) -> &'r str {
        let range = self.record.range(i).unwrap_or(0..0);
        self.text.get(range).unwrap_or_default()
    }
}

/// Which column of a record that is not UTF-8 is not.
fn first_non_utf8(record: &Record, header: &[String]) -> String {
    let bad = record.iter().position(|f| std::str::from_utf8(f).is_err());
    let i = bad.unwrap_or(0);
    let name = header.get(i).map_or("", String::as_str);
    format!("column {} (`{name}`): value is not valid UTF-8", i + 1)
}

/// The log's events and what was found reading it; plus the sha256 of its bytes.
pub fn read_log(
    path: &Path,
    spec: &TransactionSpec,
) -> Result<(Vec<Event>, LogQuality, String), TransactionError> {
    let mut events = Vec::new();
    let scan = for_each_event(path, spec, |e| events.push(e.to_event()))?;
    Ok((events, scan.quality, scan.sha256))
}

/// The last time text parsed and what it gave: an order's lines share their time, so
/// most lines of a log need no parsing of it.
#[derive(Default)]
struct LastTime {
    text: String,
    time: Option<NaiveDateTime>,
}

impl LastTime {
    fn parse(&mut self, text: &str) -> Option<NaiveDateTime> {
        if self.text != text {
            self.text.clear();
            self.text.push_str(text);
            self.time = parse_time(text);
        }
        self.time
    }
}

/// Positions of the spec's columns in the header.
struct LogColumns {
    customer: usize,
    order: Option<usize>,
    item: Option<usize>,
    time: usize,
    amount: Option<usize>,
    price: Option<usize>,
    quantity: Option<usize>,
}

impl LogColumns {
    fn find(path: &Path, header: &[String], spec: &TransactionSpec) -> Result<Self, DataError> {
        let find = |name: &str, role: &'static str| super::find_column(path, header, name, role);
        let optional =
            |name: &Option<String>, role| name.as_deref().map(|n| find(n, role)).transpose();
        Ok(LogColumns {
            customer: find(&spec.customer_col, "customer")?,
            order: optional(&spec.order_col, "order")?,
            item: optional(&spec.item_col, "item")?,
            time: find(&spec.time_col, "time")?,
            amount: optional(&spec.amount_col, "amount")?,
            price: optional(&spec.price_col, "price")?,
            quantity: optional(&spec.quantity_col, "quantity")?,
        })
    }

    /// The event on `line`; `order_text` holds the order id made up for a log without one.
    fn event<'a>(
        &self,
        line: &LineText<'a>,
        width: usize,
        (excluded, times, quality): (&HashSet<&str>, &mut LastTime, &mut LogQuality),
        order_text: &'a mut String,
    ) -> Result<EventRef<'a>, String> {
        if line.len() != width {
            return Err(format!("expected {width} fields, found {}", line.len()));
        }
        let number = |at: Option<usize>, default: f64| -> Result<f64, String> {
            match at {
                None => Ok(default),
                Some(i) if is_missing(line.get(i)) => Ok(default),
                Some(i) => parse_number(line.get(i))
                    .ok_or_else(|| format!("column {}: not a number", i + 1)),
            }
        };
        // Reasons name the column, never the cell: they end up in the bundle's manifest.
        let time = (times.parse(line.get(self.time)))
            .ok_or_else(|| format!("column {}: not a date", self.time + 1))?;
        let quantity = number(self.quantity, 1.0)?;
        let value = match self.price {
            Some(_) => quantity * number(self.price, 0.0)?,
            None => number(self.amount, 0.0)?,
        };
        let customer_text = line.get(self.customer);
        let customer = (!is_missing(customer_text)).then(|| customer_text.trim());
        let order: &'a str = match self.order {
            Some(i) => line.get(i).trim(),
            None => {
                order_text.clear();
                // Writing to a String cannot fail.
                let _ = write!(order_text, "{}@{}", customer_text.trim(), time);
                order_text
            }
        };
        let mut item = self
            .item
            .map(|i| line.get(i).trim())
            .filter(|s| !s.is_empty());
        if item.is_some_and(|i| excluded.contains(i)) {
            quality.excluded_items += 1;
            item = None;
        }
        let event = EventRef {
            customer,
            order,
            item,
            time,
            quantity,
            value,
        };
        quality.blank_customer += usize::from(event.customer.is_none());
        quality.returns += usize::from(event.is_return());
        quality.zero_value += usize::from(event.value == 0.0);
        Ok(event)
    }
}

/// The default cut-off: the log's last event minus the churn window, so the label window
/// is fully observed.
pub fn default_cutoff(last: NaiveDateTime, churn_after_days: i64) -> NaiveDateTime {
    shift_days(last, -churn_after_days)
}

/// A cut-off the user chose must leave the whole churn window inside the log (whose last
/// event is `last`); a later one labels everyone whose next purchase falls after the
/// log's end as churned.
pub fn check_cutoff(
    path: &Path,
    last: NaiveDateTime,
    cutoff: NaiveDateTime,
    churn_after_days: i64,
) -> Result<(), TransactionError> {
    let latest = default_cutoff(last, churn_after_days);
    if cutoff <= latest {
        return Ok(());
    }
    Err(TransactionError::CutoffTooLate {
        path: path.to_path_buf(),
        cutoff: show_time(cutoff),
        days: churn_after_days,
        last: show_time(last),
        latest: show_time(latest),
    })
}

/// `t` moved by whole days, held at the calendar's ends instead of overflowing.
pub fn shift_days(t: NaiveDateTime, days: i64) -> NaiveDateTime {
    let limit = if days < 0 {
        NaiveDateTime::MIN
    } else {
        NaiveDateTime::MAX
    };
    Duration::try_days(days)
        .and_then(|d| t.checked_add_signed(d))
        .unwrap_or(limit)
}

pub fn parse_cutoff(text: &str) -> Result<NaiveDateTime, TransactionError> {
    parse_time(text).ok_or_else(|| TransactionError::BadCutoff(text.to_string()))
}

/// Per-customer running totals over the events before the cut-off.
#[derive(Default)]
struct Totals {
    first: Option<NaiveDateTime>,
    last: Option<NaiveDateTime>,
    orders: HashSet<String>,
    spend: f64,
    returned: f64,
    units: f64,
    /// Ids of [`CustomerTotals`]' item names: a customer's items cost 4 bytes each, not
    /// a string each (customer × item pairs are most of the totals' memory).
    items: HashSet<u32>,
    /// Purchase value per day: the lifetime models' repeat-purchase summary.
    days: BTreeMap<chrono::NaiveDate, f64>,
}

/// Names of the features `customer_table` builds, in column order.
pub const FEATURES: &[&str] = &[
    "recency_days",
    "frequency",
    "monetary",
    "net_value",
    "avg_order_value",
    "tenure_days",
    "days_since_first",
    "interpurchase_days",
    "distinct_items",
    "units",
    "returns_share",
    "annual_spend",
    "repeat_days",
    "repeat_span_days",
    "age_days",
    "repeat_day_value",
];

/// The columns holding the lifetime models' summary (frequency x, recency t_x, age T and
/// mean repeat value, counted in whole purchase days as `lifetimes` does). Inputs of the
/// lifetime models only: the encoder ignores them.
pub const LIFETIME_INPUTS: [&str; 4] = [
    "repeat_days",
    "repeat_span_days",
    "age_days",
    "repeat_day_value",
];

/// One row per customer with a purchase before `cutoff`: RFM, tenure and friends from
/// events before it, and (when `label`) the `churned` column from the window after it.
pub fn customer_table(
    events: &[Event],
    spec: &TransactionSpec,
    cutoff: NaiveDateTime,
    label: bool,
) -> (Table, usize) {
    let mut totals = CustomerTotals::new(Some(cutoff), spec.churn_after_days);
    for e in events {
        totals.add(e);
    }
    totals.table(spec, cutoff, label)
}

/// Running totals per customer, fed one event at a time: memory grows with customers (and
/// their distinct orders and items), not with the log. Training and `score
/// --transactions` both build their customer table through it.
pub struct CustomerTotals {
    /// Events at or after it only count for the label; `None`: every event counts.
    cutoff: Option<NaiveDateTime>,
    window_end: Option<NaiveDateTime>,
    totals: BTreeMap<String, Totals>,
    active_after: HashSet<String>,
    seen: HashSet<String>,
    item_ids: HashMap<Box<str>, u32>,
}

impl CustomerTotals {
    pub fn new(cutoff: Option<NaiveDateTime>, churn_after_days: i64) -> Self {
        CustomerTotals {
            cutoff,
            window_end: cutoff.map(|c| shift_days(c, churn_after_days)),
            totals: BTreeMap::new(),
            active_after: HashSet::new(),
            seen: HashSet::new(),
            item_ids: HashMap::new(),
        }
    }

    pub fn add<'e>(&mut self, e: impl Into<EventRef<'e>>) {
        let e: EventRef = e.into();
        let Some(customer) = e.customer else {
            return;
        };
        if !self.seen.contains(customer) {
            self.seen.insert(customer.to_string());
        }
        if let (Some(cutoff), Some(window_end)) = (self.cutoff, self.window_end) {
            if e.time >= cutoff {
                if e.time < window_end && !e.is_return() && !self.active_after.contains(customer) {
                    self.active_after.insert(customer.to_string());
                }
                return;
            }
        }
        let item = e.item.map(|item| match self.item_ids.get(item) {
            Some(&id) => id,
            None => {
                let id = self.item_ids.len() as u32;
                self.item_ids.insert(item.into(), id);
                id
            }
        });
        let t = match self.totals.get_mut(customer) {
            Some(t) => t,
            None => self.totals.entry(customer.to_string()).or_default(),
        };
        if e.is_return() {
            t.returned += e.value.abs();
            return;
        }
        t.first = Some(t.first.map_or(e.time, |f| f.min(e.time)));
        t.last = Some(t.last.map_or(e.time, |l| l.max(e.time)));
        if !t.orders.contains(e.order) {
            t.orders.insert(e.order.to_string());
        }
        t.spend += e.value;
        t.units += e.quantity;
        *t.days.entry(e.time.date()).or_default() += e.value;
        if let Some(item) = item {
            t.items.insert(item);
        }
    }

    /// The customer table as of `cutoff` (which must not be before the one given to
    /// [`CustomerTotals::new`]), and how many customers were left out for having no
    /// purchase before it.
    pub fn table(
        self,
        spec: &TransactionSpec,
        cutoff: NaiveDateTime,
        label: bool,
    ) -> (Table, usize) {
        let CustomerTotals {
            mut totals,
            active_after,
            seen,
            ..
        } = self;
        // Customers with only returns before the cut-off have no purchase: not customers yet.
        totals.retain(|_, t| t.first.is_some());
        let after_cutoff = seen.len() - totals.len();
        let days = |d: Duration| d.num_seconds() as f64 / 86_400.0;
        // The last whole day before the cut-off ends the lifetime models' calibration.
        let last_day = (cutoff - Duration::seconds(1)).date();
        let mut columns: Vec<Vec<Option<f64>>> =
            vec![Vec::with_capacity(totals.len()); FEATURES.len()];
        let mut ids = Vec::with_capacity(totals.len());
        let mut churned = Vec::with_capacity(totals.len());
        for (customer, t) in &totals {
            let (first, last) = (t.first.unwrap_or(cutoff), t.last.unwrap_or(cutoff));
            let frequency = t.orders.len() as f64;
            let since_first = days(cutoff - first);
            let row = [
                Some(days(cutoff - last)),
                Some(frequency),
                Some(t.spend),
                Some(t.spend - t.returned),
                Some(t.spend / frequency),
                Some(days(last - first)),
                Some(since_first),
                (frequency > 1.0).then(|| days(last - first) / (frequency - 1.0)),
                spec.item_col.as_ref().map(|_| t.items.len() as f64),
                Some(t.units),
                Some(if t.spend > 0.0 {
                    t.returned / (t.spend + t.returned)
                } else {
                    0.0
                }),
                Some(t.spend / since_first.max(30.0) * 365.0),
            ];
            let repeat = summarize(t.days.iter(), last_day);
            let row = row.into_iter().chain([
                repeat.map(|s| s.frequency),
                repeat.map(|s| s.recency),
                repeat.map(|s| s.age),
                repeat.map(|s| s.monetary),
            ]);
            for (column, value) in columns.iter_mut().zip(row) {
                column.push(value);
            }
            ids.push(customer.to_string());
            churned.push(Some(
                if active_after.contains(customer) {
                    "No"
                } else {
                    "Yes"
                }
                .into(),
            ));
        }
        let mut table_columns: Vec<Column> = FEATURES
            .iter()
            .zip(columns)
            .filter(|(name, _)| **name != "distinct_items" || spec.item_col.is_some())
            .map(|(name, values)| Column {
                name: name.to_string(),
                data: ColumnData::Numeric(values),
            })
            .collect();
        if label {
            table_columns.push(Column {
                name: CHURNED.to_string(),
                data: ColumnData::Categorical(churned),
            });
        }
        let rows = ids.len();
        let table = Table {
            source: String::new(),
            sha256: String::new(),
            lines: (1..=rows as u64).collect(),
            ids,
            columns: table_columns,
            quality: DataQuality {
                rows_read: rows,
                rows_accepted: rows,
                ..Default::default()
            },
        };
        (table, after_cutoff)
    }
}

/// Orders as baskets of distinct product items (returns and excluded codes left out).
pub fn baskets<'e>(events: impl IntoIterator<Item = &'e Event>) -> Vec<Vec<String>> {
    let mut by_order: HashMap<&str, Vec<String>> = HashMap::new();
    for e in events.into_iter().filter(|e| !e.is_return()) {
        if let Some(item) = &e.item {
            by_order
                .entry(e.order.as_str())
                .or_default()
                .push(item.clone());
        }
    }
    let mut out: Vec<(&str, Vec<String>)> = by_order.into_iter().collect();
    out.sort_by(|a, b| a.0.cmp(b.0));
    out.into_iter()
        .map(|(_, mut items)| {
            items.sort();
            items.dedup();
            items
        })
        .collect()
}

/// Format a timestamp the way it is shown to users.
pub fn show_time(t: NaiveDateTime) -> String {
    t.format("%Y-%m-%d %H:%M:%S").to_string()
}

/// Write an aggregated customer table as CSV (id column first), for scoring.
pub fn write_customer_csv(table: &Table, id_column: &str, path: &Path) -> std::io::Result<()> {
    write_customer_rows(table, id_column, std::fs::File::create(path)?, true)
}

/// [`write_customer_csv`] to any writer, with or without the header row.
pub fn write_customer_rows(
    table: &Table,
    id_column: &str,
    sink: impl std::io::Write,
    header: bool,
) -> std::io::Result<()> {
    let mut out = csv::Writer::from_writer(sink);
    if header {
        let mut names = vec![id_column.to_string()];
        names.extend(table.columns.iter().map(|c| c.name.clone()));
        out.write_record(&names)?;
    }
    for row in 0..table.rows() {
        let mut record = vec![table.ids[row].clone()];
        for column in &table.columns {
            record.push(match &column.data {
                ColumnData::Numeric(v) => v[row].map_or(String::new(), |x| x.to_string()),
                ColumnData::Categorical(v) => v[row].as_deref().unwrap_or_default().to_string(),
            });
        }
        out.write_record(&record)?;
    }
    out.flush()
}

/// The spec of the unit tests' logs: columns customer, order, item, time, price and qty,
/// `POST` excluded.
#[cfg(test)]
pub(crate) fn test_spec(churn_after_days: i64) -> TransactionSpec {
    TransactionSpec {
        customer_col: "customer".into(),
        order_col: Some("order".into()),
        item_col: Some("item".into()),
        time_col: "time".into(),
        amount_col: None,
        price_col: Some("price".into()),
        quantity_col: Some("qty".into()),
        churn_after_days,
        exclude_items: vec!["POST".into()],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn event(customer: &str, order: &str, item: &str, day: u32, qty: f64, price: f64) -> Event {
        Event {
            customer: Some(customer.into()),
            order: order.into(),
            item: Some(item.into()),
            time: NaiveDate::from_ymd_opt(2011, 1, day)
                .unwrap()
                .and_hms_opt(10, 0, 0)
                .unwrap(),
            quantity: qty,
            value: qty * price,
        }
    }

    #[test]
    fn reads_a_log_and_counts_its_quirks() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.csv");
        std::fs::write(
            &path,
            "order,item,qty,time,price,customer\n\
             1,A,2,2011-01-01 10:00:00,1.5,c1\n\
             1,POST,1,2011-01-01 10:00:00,3,c1\n\
             C2,A,-1,2011-01-02 10:00,1.5,c1\n\
             3,B,1,2011-01-03,0,\n\
             4,B,x,2011-01-03,1,c2\n\
             5,B,1,yesterday,1,c2\n",
        )
        .unwrap();
        let (events, q, _) = read_log(&path, &test_spec(30)).unwrap();
        assert_eq!((q.lines, q.used, q.rejected_total), (6, 4, 2));
        assert_eq!(
            (q.blank_customer, q.returns, q.zero_value, q.excluded_items),
            (1, 1, 1, 1)
        );
        assert_eq!(q.rejected[0], (6, "column 3: not a number".to_string()));
        assert!(q.rejected[1].1.contains("not a date"));
        assert_eq!(events[0].value, 3.0);
        assert_eq!(
            baskets(&events),
            vec![vec!["A".to_string()], vec!["B".to_string()]]
        );
    }

    #[test]
    fn rfm_and_label_come_from_either_side_of_the_cutoff() {
        let events = vec![
            event("a", "1", "X", 1, 1.0, 10.0),
            event("a", "2", "Y", 11, 2.0, 5.0),
            event("a", "3", "X", 12, -1.0, 5.0),
            event("b", "4", "X", 5, 1.0, 20.0),
            event("b", "5", "X", 25, 1.0, 20.0), // after the cut-off, inside the window
            event("c", "6", "Z", 25, 1.0, 1.0),  // first seen after the cut-off
        ];
        let cutoff = NaiveDate::from_ymd_opt(2011, 1, 21)
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap();
        let (table, after) = customer_table(&events, &test_spec(30), cutoff, true);
        assert_eq!(table.ids, ["a", "b"]);
        assert_eq!(after, 1);
        let col = |n: &str| table.column(n).unwrap().numeric().unwrap().to_vec();
        assert_eq!(col("frequency"), [Some(2.0), Some(1.0)]);
        assert_eq!(col("monetary"), [Some(20.0), Some(20.0)]);
        assert_eq!(col("tenure_days"), [Some(10.0), Some(0.0)]);
        assert!((col("recency_days")[0].unwrap() - (9.0 + 14.0 / 24.0)).abs() < 1e-9);
        assert_eq!(col("returns_share")[0], Some(5.0 / 25.0));
        assert_eq!(col("interpurchase_days"), [Some(10.0), None]);
        let churned = table
            .column(CHURNED)
            .unwrap()
            .categorical()
            .unwrap()
            .to_vec();
        assert_eq!(churned, [Some("Yes".into()), Some("No".into())]);
    }

    #[test]
    fn streamed_totals_give_the_table_of_the_collected_events() {
        let dir = tempfile::tempdir().unwrap();
        // Gzip found by its bytes, whatever the name says.
        let path = dir.path().join("log.csv");
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), Default::default());
        std::io::Write::write_all(
            &mut gz,
            b"order,item,qty,time,price,customer\n\
              1,A,2,2011-01-01 10:00:00,1.5,c1\n\
              2,B,1,2011-01-05,4,c2\n\
              C3,A,-1,2011-01-06,1.5,c1\n\
              4,B,3,2011-01-09,2,c1\n\
              5,A,1,2011-01-10,\xff,c2\n",
        )
        .unwrap();
        std::fs::write(&path, gz.finish().unwrap()).unwrap();
        let (events, quality, sha256) = read_log(&path, &test_spec(30)).unwrap();
        assert_eq!((quality.lines, quality.used), (5, 4));
        assert_eq!(
            quality.rejected,
            [(
                6,
                "column 5 (`price`): value is not valid UTF-8".to_string()
            )]
        );
        let mut totals = CustomerTotals::new(None, 30);
        let scan = for_each_event(&path, &test_spec(30), |e| totals.add(e)).unwrap();
        assert_eq!(scan.sha256, sha256);
        let cutoff = scan.last + Duration::seconds(1);
        let (streamed, _) = totals.table(&test_spec(30), cutoff, false);
        let (collected, _) = customer_table(&events, &test_spec(30), cutoff, false);
        assert_eq!(streamed.ids, ["c1", "c2"]);
        assert_eq!(streamed.ids, collected.ids);
        assert_eq!(streamed.columns, collected.columns);
    }

    proptest! {
        /// No event after the cut-off changes any feature: only the label may move.
        #[test]
        fn events_after_the_cutoff_never_change_a_feature(
            before in proptest::collection::vec((0u8..5, 1u32..20, -2i32..5, 0u32..50), 1..40),
            after in proptest::collection::vec((0u8..6, 20u32..29, -2i32..5, 0u32..50), 0..40),
        ) {
            let make = |v: &[(u8, u32, i32, u32)], offset: usize| -> Vec<Event> {
                v.iter().enumerate().map(|(i, &(c, day, q, p))| {
                    event(&format!("c{c}"), &format!("o{}", i + offset), &format!("i{}", p % 7), day, q as f64, p as f64)
                }).collect()
            };
            let cutoff = NaiveDate::from_ymd_opt(2011, 1, 20).unwrap().and_hms_opt(0, 0, 0).unwrap();
            let early = make(&before, 0);
            let mut all = early.clone();
            all.extend(make(&after, 1000));
            let (a, _) = customer_table(&early, &test_spec(30), cutoff, false);
            let (b, _) = customer_table(&all, &test_spec(30), cutoff, false);
            prop_assert_eq!(a.ids, b.ids);
            prop_assert_eq!(a.columns, b.columns);
        }
    }
}
