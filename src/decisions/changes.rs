//! Triggers between scorings: join two scored files by customer id and write one row per
//! change (tier, segment, risk band, lifecycle status, a value drop beyond a threshold),
//! with before and after: the feed of event-based marketing.
//!
//! The earlier file is held in memory (the few columns compared); the later one streams.
//! Customers in one file only, and ids that appear twice, are rows of the output too
//! (`new`, `gone`, `duplicate_id`), never dropped unseen.

use crate::data::csv_input::{self, HeaderError, Next, Record, RecordReader};
use crate::numfmt;
use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

/// Columns compared when both files have them, and the change each one names.
const MOVES: [(&str, &str); 4] = [
    ("tier", "tier"),
    ("segment", "segment"),
    ("risk_band", "risk_band"),
    ("lifecycle_status", "lifecycle"),
];

/// Change kinds in the order counts are printed.
pub const KINDS: [&str; 8] = [
    "tier",
    "segment",
    "risk_band",
    "lifecycle",
    "value_drop",
    "new",
    "gone",
    "duplicate_id",
];

#[derive(Debug, thiserror::Error)]
pub enum ChangesError {
    #[error("{}: cannot read", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write the changes")]
    Write { source: std::io::Error },
    #[error("{}: line 1, {problem}", path.display())]
    Header { path: PathBuf, problem: HeaderError },
    #[error("{}: line 1: no `{column}` column ({why})", path.display())]
    MissingColumn {
        path: PathBuf,
        column: String,
        why: &'static str,
    },
    #[error("{}: line {line}, column `{column}`: `{text}` is not a number", path.display())]
    NotANumber {
        path: PathBuf,
        line: u64,
        column: String,
        text: String,
    },
    #[error("{}: line {line}: {problem}", path.display())]
    Row {
        path: PathBuf,
        line: u64,
        problem: String,
    },
    #[error("--value-drop {0}: give a share above 0 and at most 1 (0.2 = a fall of 20% or more)")]
    Threshold(f64),
}

/// How two scorings are compared.
#[derive(Debug, Clone)]
pub struct ChangeOptions {
    pub id_column: String,
    pub value_column: String,
    /// A fall of at least this share of the earlier value is a change.
    pub value_drop: f64,
}

impl Default for ChangeOptions {
    fn default() -> Self {
        ChangeOptions {
            id_column: "id".into(),
            value_column: "clv".into(),
            value_drop: 0.2,
        }
    }
}

/// What a comparison found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChangeSummary {
    pub before_rows: usize,
    pub after_rows: usize,
    /// Customers in both files.
    pub matched: usize,
    /// Customers with at least one change of tier, segment, band, lifecycle or value.
    pub changed: usize,
    /// Rows written per kind of change.
    pub counts: BTreeMap<&'static str, usize>,
    /// Kinds left out, and why (a column absent from a file).
    pub not_compared: Vec<String>,
}

impl std::fmt::Display for ChangeSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "{} rows before, {} after, {} customers in both, {} of them changed",
            self.before_rows, self.after_rows, self.matched, self.changed
        )?;
        for kind in KINDS {
            if let Some(n) = self.counts.get(kind) {
                writeln!(f, "  {kind:<13} {n}")?;
            }
        }
        for line in &self.not_compared {
            writeln!(f, "  not compared: {line}")?;
        }
        Ok(())
    }
}

/// The compared fields of one customer in the earlier file.
struct Earlier {
    line: u64,
    moves: Vec<Option<String>>,
    value: Option<f64>,
    matched: bool,
}

/// Where the compared columns sit in one file's header.
struct Columns {
    id: usize,
    /// Per entry of `MOVES` compared (both files have it): the column index.
    moves: Vec<usize>,
    value: Option<usize>,
}

/// Compare `before` with `after`, writing change rows to `out` (a CSV with header `id,
/// change, before, after, before_line, after_line`).
pub fn compare(
    before: &Path,
    after: &Path,
    options: &ChangeOptions,
    out: impl Write,
) -> Result<ChangeSummary, ChangesError> {
    if !(options.value_drop > 0.0 && options.value_drop <= 1.0) {
        return Err(ChangesError::Threshold(options.value_drop));
    }
    let (mut early_reader, early_header) = open(before)?;
    let (mut late_reader, late_header) = open(after)?;
    let mut summary = ChangeSummary::default();
    let (early_cols, late_cols, compared) = layouts(
        before,
        &early_header,
        after,
        &late_header,
        options,
        &mut summary,
    )?;
    let mut out = csv::Writer::from_writer(out);
    let mut feed = Feed {
        out: &mut out,
        counts: &mut summary.counts,
    };
    feed.header()?;

    let mut earlier: HashMap<String, Earlier> = HashMap::new();
    let mut record = Record::default();
    while let Some(line) = next(&mut early_reader, &mut record, before)? {
        summary.before_rows += 1;
        let (id, fields) = read_fields(&record, &early_cols, before, line, options)?;
        if let Some(first) = earlier.get(&id) {
            feed.row(
                &id,
                "duplicate_id",
                &format!("line {}", first.line),
                "",
                Some(line),
                None,
            )?;
            continue;
        }
        earlier.insert(
            id,
            Earlier {
                line,
                moves: fields.0,
                value: fields.1,
                matched: false,
            },
        );
    }
    while let Some(line) = next(&mut late_reader, &mut record, after)? {
        summary.after_rows += 1;
        let (id, (moves, value)) = read_fields(&record, &late_cols, after, line, options)?;
        let Some(early) = earlier.get_mut(&id) else {
            feed.row(&id, "new", "", "in the later file only", None, Some(line))?;
            continue;
        };
        if early.matched {
            feed.row(
                &id,
                "duplicate_id",
                "",
                &format!("line {line} repeats this id"),
                None,
                Some(line),
            )?;
            continue;
        }
        early.matched = true;
        summary.matched += 1;
        let mut changed = false;
        for (k, (old, new)) in early.moves.iter().zip(&moves).enumerate() {
            if old != new {
                let kind = MOVES[compared[k]].1;
                let (old, new) = (old.as_deref().unwrap_or(""), new.as_deref().unwrap_or(""));
                feed.row(&id, kind, old, new, Some(early.line), Some(line))?;
                changed = true;
            }
        }
        if let (Some(old), Some(new)) = (early.value, value) {
            if old > 0.0 && (old - new) >= options.value_drop * old {
                feed.row(
                    &id,
                    "value_drop",
                    &numfmt::short(old),
                    &numfmt::short(new),
                    Some(early.line),
                    Some(line),
                )?;
                changed = true;
            }
        }
        summary.changed += usize::from(changed);
    }
    let mut gone: Vec<(&String, u64)> = earlier
        .iter()
        .filter(|(_, e)| !e.matched)
        .map(|(id, e)| (id, e.line))
        .collect();
    gone.sort_by_key(|&(_, line)| line);
    for (id, line) in gone {
        feed.row(id, "gone", "in the earlier file only", "", Some(line), None)?;
    }
    out.flush()
        .map_err(|source| ChangesError::Write { source })?;
    Ok(summary)
}

/// The change rows, counted by kind as they are written.
struct Feed<'a, W: Write> {
    out: &'a mut csv::Writer<W>,
    counts: &'a mut BTreeMap<&'static str, usize>,
}

impl<W: Write> Feed<'_, W> {
    fn header(&mut self) -> Result<(), ChangesError> {
        self.write([
            "id",
            "change",
            "before",
            "after",
            "before_line",
            "after_line",
        ])
    }

    fn row(
        &mut self,
        id: &str,
        kind: &'static str,
        before: &str,
        after: &str,
        before_line: Option<u64>,
        after_line: Option<u64>,
    ) -> Result<(), ChangesError> {
        *self.counts.entry(kind).or_default() += 1;
        let line = |l: Option<u64>| l.map_or(String::new(), |l| l.to_string());
        self.write([
            id,
            kind,
            before,
            after,
            &line(before_line),
            &line(after_line),
        ])
    }

    fn write(&mut self, fields: [&str; 6]) -> Result<(), ChangesError> {
        self.out
            .write_record(fields)
            .map_err(|e| ChangesError::Write {
                source: std::io::Error::other(e),
            })
    }
}

type Reader = RecordReader<Box<dyn BufRead + Send>>;

fn open(path: &Path) -> Result<(Reader, Vec<String>), ChangesError> {
    let read_error = |source| ChangesError::Read {
        path: path.to_path_buf(),
        source,
    };
    let mut reader = RecordReader::new(csv_input::open(path).map_err(read_error)?);
    let header = csv_input::read_header(&mut reader)
        .map_err(read_error)?
        .map_err(|problem| ChangesError::Header {
            path: path.to_path_buf(),
            problem,
        })?;
    Ok((reader, header))
}

/// The next record's line, or None at the end.
fn next(
    reader: &mut Reader,
    record: &mut Record,
    path: &Path,
) -> Result<Option<u64>, ChangesError> {
    match reader.read(record) {
        Ok(Next::End) => Ok(None),
        Ok(Next::Record) => Ok(Some(record.line())),
        Ok(Next::TooLong) => Err(ChangesError::Row {
            path: path.to_path_buf(),
            line: record.line(),
            problem: csv_input::too_long_reason(),
        }),
        Err(source) => Err(ChangesError::Read {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Where each compared column is in both files; kinds one file lacks are named in the
/// summary. Returns the two layouts and, per compared move, its index in `MOVES`.
fn layouts(
    before: &Path,
    early: &[String],
    after: &Path,
    late: &[String],
    options: &ChangeOptions,
    summary: &mut ChangeSummary,
) -> Result<(Columns, Columns, Vec<usize>), ChangesError> {
    let find = |header: &[String], name: &str| header.iter().position(|h| h == name);
    let id = |header: &[String], path: &Path| {
        find(header, &options.id_column).ok_or_else(|| ChangesError::MissingColumn {
            path: path.to_path_buf(),
            column: options.id_column.clone(),
            why: "the customer id joins the two files; name it with --id-col",
        })
    };
    let mut early_cols = Columns {
        id: id(early, before)?,
        moves: vec![],
        value: None,
    };
    let mut late_cols = Columns {
        id: id(late, after)?,
        moves: vec![],
        value: None,
    };
    let mut compared = Vec::new();
    let mut absent = |column: &str| {
        let missing: Vec<String> = [(early, before), (late, after)]
            .iter()
            .filter(|(h, _)| find(h, column).is_none())
            .map(|(_, p)| p.display().to_string())
            .collect();
        summary.not_compared.push(format!(
            "`{column}` (absent from {})",
            missing.join(" and ")
        ));
    };
    for (k, (column, _)) in MOVES.iter().enumerate() {
        match (find(early, column), find(late, column)) {
            (Some(a), Some(b)) => {
                early_cols.moves.push(a);
                late_cols.moves.push(b);
                compared.push(k);
            }
            _ => absent(column),
        }
    }
    match (
        find(early, &options.value_column),
        find(late, &options.value_column),
    ) {
        (Some(a), Some(b)) => (early_cols.value, late_cols.value) = (Some(a), Some(b)),
        _ => absent(&options.value_column),
    }
    Ok((early_cols, late_cols, compared))
}

type Fields = (Vec<Option<String>>, Option<f64>);

fn read_fields(
    record: &Record,
    columns: &Columns,
    path: &Path,
    line: u64,
    options: &ChangeOptions,
) -> Result<(String, Fields), ChangesError> {
    let text = |at: usize| -> Result<&str, ChangesError> {
        let bytes = record.get(at).ok_or_else(|| ChangesError::Row {
            path: path.to_path_buf(),
            line,
            problem: format!("{} fields, fewer than the header's", record.len()),
        })?;
        std::str::from_utf8(bytes)
            .map(str::trim)
            .map_err(|_| ChangesError::Row {
                path: path.to_path_buf(),
                line,
                problem: format!("field {} is not valid UTF-8", at + 1),
            })
    };
    let id = text(columns.id)?;
    if id.is_empty() {
        return Err(ChangesError::Row {
            path: path.to_path_buf(),
            line,
            problem: format!("the customer id `{}` is blank", options.id_column),
        });
    }
    let moves = columns
        .moves
        .iter()
        .map(|&at| text(at).map(|t| (!t.is_empty()).then(|| t.to_string())))
        .collect::<Result<Vec<_>, _>>()?;
    let value = match columns.value.map(text).transpose()? {
        None | Some("") => None,
        Some(t) => Some(
            t.parse::<f64>()
                .ok()
                .filter(|x| x.is_finite())
                .ok_or_else(|| ChangesError::NotANumber {
                    path: path.to_path_buf(),
                    line,
                    column: options.value_column.clone(),
                    text: t.to_string(),
                })?,
        ),
    };
    Ok((id.to_string(), (moves, value)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(
        before: &str,
        after: &str,
        options: &ChangeOptions,
    ) -> Result<(ChangeSummary, String), ChangesError> {
        let dir = tempfile::tempdir().unwrap();
        let (b, a) = (dir.path().join("before.csv"), dir.path().join("after.csv"));
        std::fs::write(&b, before).unwrap();
        std::fs::write(&a, after).unwrap();
        let mut out = Vec::new();
        let summary = compare(&b, &a, options, &mut out)?;
        Ok((summary, String::from_utf8(out).unwrap()))
    }

    const BEFORE: &str = "id,segment,tier,risk_band,clv\n\
        a,1,gold,low,1000\n\
        b,2,iron,medium,500\n\
        c,1,gold,low,800\n\
        d,0,lead,high,100\n";

    #[test]
    fn every_move_is_one_row_with_before_and_after() {
        let after = "id,segment,tier,risk_band,clv\n\
            b,2,iron,high,390\n\
            a,1,gold,low,1000\n\
            c,3,platinum,low,810\n\
            e,0,lead,low,50\n";
        let (summary, out) = run(BEFORE, after, &ChangeOptions::default()).unwrap();
        let expected = "id,change,before,after,before_line,after_line\n\
            b,risk_band,medium,high,3,2\n\
            b,value_drop,500,390,3,2\n\
            c,tier,gold,platinum,4,4\n\
            c,segment,1,3,4,4\n\
            e,new,,in the later file only,,5\n\
            d,gone,in the earlier file only,,5,\n";
        assert_eq!(out, expected);
        assert_eq!((summary.matched, summary.changed), (3, 2));
        assert_eq!(summary.counts["value_drop"], 1);
        assert_eq!(summary.not_compared.len(), 1);
        assert!(summary.not_compared[0].starts_with("`lifecycle_status` (absent from "));
    }

    /// One customer in a generated scored file: (tier, band, value), or absent.
    type Snapshot = Option<(usize, usize, u32)>;

    fn scored_file(customers: &[Snapshot], order: &[usize]) -> String {
        const TIERS: [&str; 3] = ["gold", "iron", "lead"];
        const BANDS: [&str; 3] = ["low", "medium", "high"];
        let mut text = String::from("id,tier,risk_band,clv\n");
        for &i in order {
            if let Some((tier, band, value)) = customers[i] {
                text += &format!("c{i},{},{},{value}\n", TIERS[tier], BANDS[band]);
            }
        }
        text
    }

    proptest::proptest! {
        /// Whatever the two files hold and in whatever order, the counts are those of a
        /// plain comparison customer by customer.
        #[test]
        fn counts_match_a_customer_by_customer_comparison(
            pairs in proptest::collection::vec(
                (proptest::option::of((0..3usize, 0..3usize, 0..100u32)),
                 proptest::option::of((0..3usize, 0..3usize, 0..100u32))),
                0..30),
            shuffle in proptest::collection::vec(0..1000usize, 30),
        ) {
            let before: Vec<Snapshot> = pairs.iter().map(|p| p.0).collect();
            let after: Vec<Snapshot> = pairs.iter().map(|p| p.1).collect();
            let mut order: Vec<usize> = (0..pairs.len()).collect();
            order.sort_by_key(|&i| shuffle[i]);
            let (summary, out) = run(
                &scored_file(&before, &(0..pairs.len()).collect::<Vec<_>>()),
                &scored_file(&after, &order),
                &ChangeOptions::default(),
            ).unwrap();
            let both = || pairs.iter().filter_map(|p| Some((p.0?, p.1?)));
            let expected = [
                ("tier", both().filter(|(a, b)| a.0 != b.0).count()),
                ("risk_band", both().filter(|(a, b)| a.1 != b.1).count()),
                ("value_drop", both().filter(|(a, b)| a.2 > 0 && (a.2 - b.2.min(a.2)) as f64 >= 0.2 * a.2 as f64).count()),
                ("new", pairs.iter().filter(|p| p.0.is_none() && p.1.is_some()).count()),
                ("gone", pairs.iter().filter(|p| p.0.is_some() && p.1.is_none()).count()),
            ];
            for (kind, n) in expected {
                proptest::prop_assert_eq!(summary.counts.get(kind).copied().unwrap_or(0), n, "{}", kind);
            }
            proptest::prop_assert_eq!(summary.matched, both().count());
            proptest::prop_assert_eq!(out.lines().count() - 1, summary.counts.values().sum::<usize>());
        }
    }

    #[test]
    fn a_fall_smaller_than_the_threshold_is_not_a_change() {
        let after = "id,segment,tier,risk_band,clv\na,1,gold,low,810\n";
        let options = ChangeOptions {
            value_drop: 0.2,
            ..ChangeOptions::default()
        };
        let (summary, _) = run(
            "id,segment,tier,risk_band,clv\na,1,gold,low,1000\n",
            after,
            &options,
        )
        .unwrap();
        assert_eq!(summary.changed, 0);
        let options = ChangeOptions {
            value_drop: 0.1,
            ..options
        };
        let (summary, _) = run(
            "id,segment,tier,risk_band,clv\na,1,gold,low,1000\n",
            after,
            &options,
        )
        .unwrap();
        assert_eq!(summary.counts.get("value_drop"), Some(&1));
    }

    #[test]
    fn duplicate_ids_are_reported_in_both_files() {
        let before = "id,tier\na,gold\na,iron\n";
        let after = "id,tier\na,gold\na,gold\n";
        let (summary, out) = run(before, after, &ChangeOptions::default()).unwrap();
        assert_eq!(summary.counts["duplicate_id"], 2);
        assert!(out.contains("a,duplicate_id,line 2,,3,\n"), "{out}");
        assert!(
            out.contains("a,duplicate_id,,line 3 repeats this id,,3\n"),
            "{out}"
        );
    }

    #[test]
    fn bad_input_names_file_line_and_column() {
        let e = run("id,clv\na,12x\n", "id,clv\n", &ChangeOptions::default()).unwrap_err();
        assert!(
            e.to_string()
                .ends_with("before.csv: line 2, column `clv`: `12x` is not a number"),
            "{e}"
        );
        let e = run("customer,clv\n", "id,clv\n", &ChangeOptions::default()).unwrap_err();
        assert!(
            e.to_string().contains("before.csv: line 1: no `id` column"),
            "{e}"
        );
        let e = run("id,clv\n,3\n", "id,clv\n", &ChangeOptions::default()).unwrap_err();
        assert!(
            e.to_string()
                .ends_with("before.csv: line 2: the customer id `id` is blank"),
            "{e}"
        );
        let bad = ChangeOptions {
            value_drop: 1.5,
            ..ChangeOptions::default()
        };
        assert!(run("id\n", "id\n", &bad).is_err());
    }
}
