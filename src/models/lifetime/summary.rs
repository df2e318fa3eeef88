//! Per-customer repeat-purchase summaries as `lifetimes` defines them: purchases are
//! counted per day (several orders on one day are one purchase occasion), frequency =
//! purchase days − 1, recency = first to last purchase day, age (T) = first purchase day
//! to the end of the calibration period, monetary = mean value of the repeat purchase days.

use super::LifetimeError;
use crate::data::csv_input::{self, Next, Record, RecordReader};
use crate::data::transactions::{self, LogScan, TransactionError, TransactionSpec};
use crate::data::{find_column, is_missing, parse_number, DataError};
use chrono::NaiveDate;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

/// One customer as the BG/NBD and Gamma-Gamma models see them (time in the unit of the
/// data: days for order logs).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RepeatSummary {
    /// Repeat purchases (x): a whole number ≥ 0.
    pub frequency: f64,
    /// Time of the last purchase after the first (t_x), 0 ≤ recency ≤ age.
    pub recency: f64,
    /// Time from the first purchase to the end of the calibration period (T).
    pub age: f64,
    /// Mean value of the repeat purchases (0 without any).
    pub monetary: f64,
}

impl RepeatSummary {
    /// What is wrong with these figures as a summary, if anything.
    pub fn problem(&self) -> Option<&'static str> {
        let s = self;
        if !(s.frequency >= 0.0 && s.frequency.fract() == 0.0 && s.frequency.is_finite()) {
            Some("frequency must be a whole number ≥ 0")
        } else if !(s.age >= 0.0 && s.age.is_finite()) {
            Some("T must be a finite number ≥ 0")
        } else if !(s.recency >= 0.0 && s.recency <= s.age) {
            Some("recency must be between 0 and T")
        } else if s.frequency == 0.0 && s.recency != 0.0 {
            Some("recency must be 0 when frequency is 0")
        } else if !(s.monetary >= 0.0 && s.monetary.is_finite()) {
            Some("monetary value must be a finite number ≥ 0")
        } else {
            None
        }
    }
}

/// Column names of a summary file (defaults: the names `lifetimes` gives them).
#[derive(Debug, Clone)]
pub struct SummaryColumns {
    pub id: Option<String>,
    pub frequency: String,
    pub recency: String,
    pub age: String,
    pub monetary: Option<String>,
}

/// A summary file: one row per customer. Every row must be usable: a bad cell is an
/// error naming its line and column (a fit on silently thinned data would mislead).
pub fn read_summary(
    path: &Path,
    columns: &SummaryColumns,
) -> Result<Vec<(String, RepeatSummary)>, LifetimeError> {
    let open_error = |source| DataError::Open {
        path: path.to_path_buf(),
        source,
    };
    let mut reader = RecordReader::new(csv_input::open(path).map_err(open_error)?);
    let header = csv_input::file_header(path, &mut reader)?;
    let at = |name: &str, role| find_column(path, &header, name, role);
    let id = columns.id.as_deref().map(|c| at(c, "id")).transpose()?;
    let wanted = [
        Some(at(&columns.frequency, "frequency")?),
        Some(at(&columns.recency, "recency")?),
        Some(at(&columns.age, "T")?),
        columns
            .monetary
            .as_deref()
            .map(|c| at(c, "monetary value"))
            .transpose()?,
    ];
    let mut record = Record::default();
    let mut out = Vec::new();
    loop {
        match reader.read(&mut record).map_err(open_error)? {
            Next::End => break,
            Next::TooLong => {
                return Err(bad_row(path, record.line(), csv_input::too_long_reason()))
            }
            Next::Record => {}
        }
        let line = record.line();
        if record.len() != header.len() {
            let reason = format!("expected {} fields, found {}", header.len(), record.len());
            return Err(bad_row(path, line, reason));
        }
        let mut figures = [0.0; 4];
        for (figure, column) in figures.iter_mut().zip(wanted) {
            let Some(column) = column else { continue };
            let cell = std::str::from_utf8(record.get(column).unwrap_or_default()).unwrap_or("");
            *figure = match parse_number(cell) {
                Some(x) if !is_missing(cell) => x,
                _ => {
                    let reason =
                        format!("column {} (`{}`): not a number", column + 1, header[column]);
                    return Err(bad_row(path, line, reason));
                }
            };
        }
        let [frequency, recency, age, monetary] = figures;
        let summary = RepeatSummary {
            frequency,
            recency,
            age,
            monetary,
        };
        if let Some(problem) = summary.problem() {
            return Err(bad_row(path, line, problem.to_string()));
        }
        let name = match id.and_then(|i| record.get(i)) {
            Some(bytes) => String::from_utf8_lossy(bytes).trim().to_string(),
            None => (out.len() + 1).to_string(),
        };
        out.push((name, summary));
    }
    if out.is_empty() {
        return Err(LifetimeError::NoCustomers {
            path: path.to_path_buf(),
        });
    }
    Ok(out)
}

fn bad_row(path: &Path, line: u64, message: String) -> LifetimeError {
    LifetimeError::Data(DataError::Malformed {
        path: path.to_path_buf(),
        line,
        message,
    })
}

/// Purchase value per day, per customer, fed one purchase at a time.
#[derive(Debug, Default)]
pub struct PurchaseDays {
    days: HashMap<String, BTreeMap<NaiveDate, f64>>,
}

/// One customer's calibration summary and what they did in the holdout period.
#[derive(Debug, Clone, PartialEq)]
pub struct CustomerHistory {
    pub id: String,
    pub calibration: RepeatSummary,
    /// Purchase days after the calibration period, up to the end of observation.
    pub holdout_purchases: f64,
    /// Mean value of those purchase days (0 without any).
    pub holdout_value: f64,
}

/// Every customer's purchase days from an order log streamed once (memory follows
/// customers and days, not lines); returns are not purchases and are only counted.
pub fn purchase_days(
    path: &Path,
    spec: &TransactionSpec,
) -> Result<(PurchaseDays, LogScan, usize), TransactionError> {
    let mut log = PurchaseDays::default();
    let mut returns = 0usize;
    let scan = transactions::for_each_event(path, spec, |event| match event.customer {
        Some(customer) if !event.is_return() => log.add(customer, event.time.date(), event.value),
        Some(_) => returns += 1,
        None => {}
    })?;
    Ok((log, scan, returns))
}

impl PurchaseDays {
    /// A purchase (returns are not purchases: callers leave them out).
    pub fn add(&mut self, customer: &str, day: NaiveDate, value: f64) {
        let days = match self.days.get_mut(customer) {
            Some(days) => days,
            None => self.days.entry(customer.to_string()).or_default(),
        };
        *days.entry(day).or_default() += value;
    }

    /// Summaries of every customer whose first purchase is on or before
    /// `calibration_end`; purchase days after it and on or before `observation_end` are
    /// the holdout. Sorted by customer id.
    pub fn histories(
        &self,
        calibration_end: NaiveDate,
        observation_end: NaiveDate,
    ) -> Vec<CustomerHistory> {
        let mut out: Vec<CustomerHistory> = self
            .days
            .iter()
            .filter_map(|(id, days)| {
                let calibration = summarize(days.range(..=calibration_end), calibration_end)?;
                let holdout: Vec<f64> = days
                    .range(calibration_end.succ_opt()?..=observation_end)
                    .map(|(_, v)| *v)
                    .collect();
                let holdout_value = match holdout.is_empty() {
                    true => 0.0,
                    false => holdout.iter().sum::<f64>() / holdout.len() as f64,
                };
                Some(CustomerHistory {
                    id: id.clone(),
                    calibration,
                    holdout_purchases: holdout.len() as f64,
                    holdout_value,
                })
            })
            .collect();
        out.sort_by(|a, b| a.id.cmp(&b.id));
        out
    }
}

/// The summary of one customer's purchase days (in date order) as of `end`; `None`
/// without a purchase.
pub fn summarize<'d>(
    days: impl Iterator<Item = (&'d NaiveDate, &'d f64)>,
    end: NaiveDate,
) -> Option<RepeatSummary> {
    let mut first: Option<NaiveDate> = None;
    let mut last = None;
    let (mut repeats, mut repeat_value) = (0u32, 0.0);
    for (&day, &value) in days {
        match first {
            None => first = Some(day),
            Some(_) => {
                repeats += 1;
                repeat_value += value;
            }
        }
        last = Some(day);
    }
    let (first, last) = (first?, last?);
    let days_between = |a: NaiveDate, b: NaiveDate| (b - a).num_days() as f64;
    Some(RepeatSummary {
        frequency: f64::from(repeats),
        recency: days_between(first, last),
        age: days_between(first, end),
        monetary: match repeats {
            0 => 0.0,
            n => repeat_value / f64::from(n),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(1997, 1, d).unwrap()
    }

    #[test]
    fn orders_on_one_day_are_one_purchase() {
        let mut log = PurchaseDays::default();
        log.add("a", day(1), 10.0);
        log.add("a", day(3), 5.0);
        log.add("a", day(3), 7.0);
        log.add("a", day(9), 20.0);
        log.add("a", day(20), 4.0); // holdout
        log.add("a", day(30), 1.0); // after observation
        log.add("b", day(12), 3.0); // first purchase after calibration: not a customer yet
        let histories = log.histories(day(10), day(25));
        assert_eq!(histories.len(), 1);
        let a = &histories[0];
        assert_eq!(
            a.calibration,
            RepeatSummary {
                frequency: 2.0,
                recency: 8.0,
                age: 9.0,
                monetary: 16.0,
            }
        );
        assert_eq!((a.holdout_purchases, a.holdout_value), (1.0, 4.0));
    }

    #[test]
    fn a_single_purchase_has_no_repeat_value() {
        let days = BTreeMap::from([(day(5), 12.0)]);
        let s = summarize(days.iter(), day(10)).unwrap();
        assert_eq!(
            (s.frequency, s.recency, s.age, s.monetary),
            (0.0, 0.0, 5.0, 0.0)
        );
        assert_eq!(s.problem(), None);
    }

    #[test]
    fn impossible_summaries_are_named() {
        let ok = RepeatSummary {
            frequency: 2.0,
            recency: 3.0,
            age: 5.0,
            monetary: 1.0,
        };
        assert_eq!(ok.problem(), None);
        let bad = [
            RepeatSummary {
                frequency: 1.5,
                ..ok
            },
            RepeatSummary { recency: 6.0, ..ok },
            RepeatSummary {
                frequency: 0.0,
                ..ok
            },
            RepeatSummary {
                monetary: f64::NAN,
                ..ok
            },
            RepeatSummary {
                age: -1.0,
                recency: -1.0,
                ..ok
            },
        ];
        for s in bad {
            assert!(s.problem().is_some(), "{s:?}");
        }
    }
}
