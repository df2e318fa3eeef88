//! Where `score` reads its rows from: a CSV file with a header row, a header-less CSV whose
//! columns are named on the command line (`--columns a,b,c`) or are the bundle's own
//! (`--columns-from-bundle`), or JSON Lines (one customer object per line). Header-less
//! input is what a partition of a text file looks like inside Spark or Hadoop streaming.
//!
//! Every kind becomes the same [`Record`] of fields, so scoring, rejects and line numbers
//! work alike for all of them: a JSON object becomes the fields of the bundle's columns
//! in order, as `/v1/score` reads it (absent or `null` = missing, a number or a string
//! per field, anything else refused naming the field).

use crate::bundle::Bundle;
use crate::data::csv_input::{self, Next, Record, RecordReader, MAX_RECORD_BYTES};
use serde_json::Value as Json;
use std::io::{self, BufRead};
use std::path::Path;

/// How the input rows are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum InputFormat {
    /// Comma-separated values (gzip detected by content).
    Csv,
    /// JSON Lines: one JSON object of customer fields per line.
    Jsonl,
}

impl InputFormat {
    /// The format asked for, else JSON Lines for a `.jsonl` (or `.jsonl.gz`) file name,
    /// else CSV.
    pub fn resolve(asked: Option<InputFormat>, path: &Path) -> InputFormat {
        let name = path.to_string_lossy();
        match asked {
            Some(format) => format,
            None if name.ends_with(".jsonl") || name.ends_with(".jsonl.gz") => InputFormat::Jsonl,
            None => InputFormat::Csv,
        }
    }
}

/// Where the names of a CSV input's columns come from.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Columns {
    /// The first row of the input.
    #[default]
    Header,
    /// Given by the user; the input has no header row.
    Named(Vec<String>),
    /// The bundle's columns ([`bundle_columns`]); the input has no header row.
    Bundle,
}

/// How to read the rows of a `score` input.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct InputSpec {
    pub jsonl: bool,
    pub columns: Columns,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InputSpecError {
    #[error("--no-header needs the column names: --columns a,b,c or --columns-from-bundle")]
    NoColumnNames,
    #[error("--columns: column {column} is blank")]
    BlankColumn { column: usize },
    #[error("--columns: `{name}` is named twice (columns {first} and {column})")]
    DuplicateColumn {
        name: String,
        first: usize,
        column: usize,
    },
    #[error("JSON Lines input names its fields in each object: leave out --no-header, --columns and --columns-from-bundle")]
    ColumnsWithJsonl,
}

impl InputSpec {
    /// Check the flags of `score` together: header-less CSV needs its column names, and
    /// JSON Lines takes none.
    pub fn new(
        format: InputFormat,
        no_header: bool,
        columns: &[String],
        columns_from_bundle: bool,
    ) -> Result<Self, InputSpecError> {
        let named = !columns.is_empty() || columns_from_bundle;
        if format == InputFormat::Jsonl {
            if no_header || named {
                return Err(InputSpecError::ColumnsWithJsonl);
            }
            return Ok(InputSpec {
                jsonl: true,
                columns: Columns::Header,
            });
        }
        let columns = match (no_header, columns_from_bundle) {
            (false, _) if named => return Err(InputSpecError::NoColumnNames),
            (false, _) => Columns::Header,
            (true, true) => Columns::Bundle,
            (true, false) if columns.is_empty() => return Err(InputSpecError::NoColumnNames),
            (true, false) => Columns::Named(checked_names(columns)?),
        };
        Ok(InputSpec {
            jsonl: false,
            columns,
        })
    }

    /// Whether CSV output gets a header row: not when the input is header-less CSV, so
    /// the outputs of a file's parts concatenate into one header-less file.
    pub fn output_header(&self) -> bool {
        self.jsonl || self.columns == Columns::Header
    }
}

fn checked_names(columns: &[String]) -> Result<Vec<String>, InputSpecError> {
    let mut names: Vec<String> = Vec::with_capacity(columns.len());
    for (i, name) in columns.iter().enumerate() {
        let name = name.trim();
        if name.is_empty() {
            return Err(InputSpecError::BlankColumn { column: i + 1 });
        }
        if let Some(first) = names.iter().position(|n| n == name) {
            return Err(InputSpecError::DuplicateColumn {
                name: name.to_string(),
                first: first + 1,
                column: i + 1,
            });
        }
        names.push(name.to_string());
    }
    Ok(names)
}

/// The columns a header-less input has under `--columns-from-bundle`: the id column
/// first (when the bundle names customers by one), then every input column in the
/// order of the training schema (`custscore inspect` prints them).
pub fn bundle_columns(bundle: &Bundle) -> Vec<String> {
    let inputs = bundle.encoder.inputs.iter().map(|i| i.name.clone());
    bundle
        .manifest
        .schema
        .id
        .clone()
        .into_iter()
        .chain(inputs)
        .collect()
}

/// What reading one row found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RowRead {
    /// A row was read into the record.
    Row,
    /// The row cannot be used, for this reason; the record holds its text.
    Bad(String),
    End,
}

/// Rows from a CSV or a JSON Lines source.
pub enum InputReader<R> {
    Csv(Box<RecordReader<R>>),
    Jsonl(JsonlReader<R>),
}

impl<R: BufRead> InputReader<R> {
    pub fn read(&mut self, record: &mut Record) -> io::Result<RowRead> {
        match self {
            InputReader::Csv(reader) => Ok(match reader.read(record)? {
                Next::Record => RowRead::Row,
                Next::TooLong => RowRead::Bad(csv_input::too_long_reason()),
                Next::End => RowRead::End,
            }),
            InputReader::Jsonl(reader) => reader.read(record),
        }
    }

    /// Bytes taken from the source so far (for progress).
    pub fn bytes_read(&self) -> u64 {
        match self {
            InputReader::Csv(reader) => reader.bytes_read(),
            InputReader::Jsonl(reader) => reader.bytes,
        }
    }
}

/// Reads JSON Lines into records whose fields are `columns` in order. Blank lines are
/// skipped; a line over [`MAX_RECORD_BYTES`] is refused and reading goes on after it.
pub struct JsonlReader<R> {
    source: R,
    columns: Vec<String>,
    line: u64,
    bytes: u64,
    buffer: Vec<u8>,
}

impl<R: BufRead> JsonlReader<R> {
    pub fn new(source: R, columns: Vec<String>) -> Self {
        JsonlReader {
            source,
            columns,
            line: 0,
            bytes: 0,
            buffer: Vec::new(),
        }
    }

    pub fn read(&mut self, record: &mut Record) -> io::Result<RowRead> {
        loop {
            self.buffer.clear();
            let limit = MAX_RECORD_BYTES as u64 + 1;
            let n = io::Read::take(&mut self.source, limit).read_until(b'\n', &mut self.buffer)?;
            if n == 0 {
                return Ok(RowRead::End);
            }
            self.bytes += n as u64;
            self.line += 1;
            record.start(self.line);
            if !self.buffer.ends_with(b"\n") && n as u64 == limit {
                record.push_field(&self.buffer[..256]);
                self.skip_rest_of_line()?;
                return Ok(RowRead::Bad(format!(
                    "line longer than {MAX_RECORD_BYTES} bytes; reading resumed at the next line"
                )));
            }
            let text = self.buffer.trim_ascii();
            if text.is_empty() {
                continue;
            }
            return Ok(match object_fields(text, &self.columns, record) {
                Ok(()) => RowRead::Row,
                Err(reason) => {
                    record.start(self.line);
                    record.push_field(text);
                    RowRead::Bad(reason)
                }
            });
        }
    }

    fn skip_rest_of_line(&mut self) -> io::Result<()> {
        loop {
            let available = self.source.fill_buf()?;
            if available.is_empty() {
                return Ok(());
            }
            let (used, done) = match available.iter().position(|&b| b == b'\n') {
                Some(at) => (at + 1, true),
                None => (available.len(), false),
            };
            self.source.consume(used);
            self.bytes += used as u64;
            if done {
                return Ok(());
            }
        }
    }
}

/// One JSON object → one field per column, as the REST API reads a customer: absent or
/// `null` is missing (an empty field), numbers and strings are taken as written, other
/// values are refused naming the field.
pub fn object_fields(text: &[u8], columns: &[String], record: &mut Record) -> Result<(), String> {
    let value: Json = serde_json::from_slice(text).map_err(|e| {
        let message = e.to_string();
        let message = message
            .rsplit_once(" at line ")
            .map_or(message.as_str(), |(m, _)| m);
        format!("invalid JSON at column {}: {message}", e.column())
    })?;
    let Json::Object(fields) = value else {
        return Err(format!(
            "expected a JSON object of customer fields, got {}",
            kind(&value)
        ));
    };
    let mut number = String::new();
    for name in columns {
        match fields.get(name) {
            None | Some(Json::Null) => record.push_field(b""),
            Some(Json::String(s)) => record.push_field(s.as_bytes()),
            Some(Json::Number(n)) => {
                number.clear();
                use std::fmt::Write;
                let _ = write!(number, "{n}");
                record.push_field(number.as_bytes());
            }
            Some(other) => {
                return Err(format!(
                    "field `{name}`: expected a number or a string, got {}",
                    kind(other)
                ))
            }
        }
    }
    Ok(())
}

fn kind(value: &Json) -> &'static str {
    match value {
        Json::Null => "null",
        Json::Bool(_) => "a boolean",
        Json::Number(_) => "a number",
        Json::String(_) => "a string",
        Json::Array(_) => "an array",
        Json::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn columns() -> Vec<String> {
        ["customer_id", "tenure", "contract", "monthly_charges"]
            .map(String::from)
            .to_vec()
    }

    fn fields(record: &Record) -> Vec<String> {
        record
            .iter()
            .map(|f| String::from_utf8_lossy(f).into_owned())
            .collect()
    }

    fn read_all(text: &str) -> Vec<(u64, RowRead, Vec<String>)> {
        let mut reader = JsonlReader::new(text.as_bytes(), columns());
        let mut record = Record::default();
        let mut out = Vec::new();
        loop {
            let read = reader.read(&mut record).unwrap();
            if read == RowRead::End {
                return out;
            }
            out.push((record.line(), read, fields(&record)));
        }
    }

    #[test]
    fn objects_become_the_columns_in_order_and_bad_lines_say_why() {
        let rows = read_all(concat!(
            "{\"contract\":\"Two year\",\"customer_id\":\"A\",\"tenure\":3,\"extra\":[1]}\n",
            "\n",
            "{\"customer_id\":7,\"tenure\":null}\n",
            "{\"customer_id\":\"B\",\"tenure\":true}\n",
            "{\"customer_id\":\"C\",\n",
            "[1,2]\n",
        ));
        assert_eq!(rows[0].0, 1);
        assert_eq!(rows[0].2, ["A", "3", "Two year", ""]);
        assert_eq!(rows[1].0, 3);
        assert_eq!(rows[1].2, ["7", "", "", ""]);
        assert_eq!(
            rows[2].1,
            RowRead::Bad("field `tenure`: expected a number or a string, got a boolean".into())
        );
        assert_eq!(rows[2].0, 4);
        let RowRead::Bad(reason) = &rows[3].1 else {
            panic!("{:?}", rows[3])
        };
        assert!(reason.starts_with("invalid JSON at column "), "{reason}");
        assert_eq!(rows[3].2, ["{\"customer_id\":\"C\","]);
        assert_eq!(
            rows[4].1,
            RowRead::Bad("expected a JSON object of customer fields, got an array".into())
        );
    }

    #[test]
    fn an_over_long_line_is_refused_and_the_next_one_read() {
        let long = format!("{{\"customer_id\":\"{}\"}}\n", "x".repeat(MAX_RECORD_BYTES));
        let text = format!("{long}{{\"customer_id\":\"D\"}}\n");
        let rows = read_all(&text);
        assert!(matches!(&rows[0].1, RowRead::Bad(r) if r.starts_with("line longer than")));
        assert_eq!((rows[1].0, &rows[1].2[0]), (2, &"D".to_string()));
    }

    #[test]
    fn flags_are_checked_together() {
        let named = |cols: &[&str]| cols.iter().map(|c| c.to_string()).collect::<Vec<_>>();
        let csv = InputFormat::Csv;
        assert_eq!(
            InputSpec::new(csv, true, &[], false),
            Err(InputSpecError::NoColumnNames)
        );
        assert_eq!(
            InputSpec::new(csv, false, &named(&["a"]), false),
            Err(InputSpecError::NoColumnNames)
        );
        assert_eq!(
            InputSpec::new(csv, true, &named(&["a", " ", "b"]), false),
            Err(InputSpecError::BlankColumn { column: 2 })
        );
        assert!(matches!(
            InputSpec::new(csv, true, &named(&["a", "b", "a"]), false),
            Err(InputSpecError::DuplicateColumn {
                first: 1,
                column: 3,
                ..
            })
        ));
        assert_eq!(
            InputSpec::new(InputFormat::Jsonl, true, &[], true),
            Err(InputSpecError::ColumnsWithJsonl)
        );
        let spec = InputSpec::new(csv, true, &[], true).unwrap();
        assert_eq!(spec.columns, Columns::Bundle);
        assert!(!spec.output_header());
        assert!(InputSpec::default().output_header());
        assert_eq!(
            InputFormat::resolve(None, Path::new("part-0001.jsonl")),
            InputFormat::Jsonl
        );
        assert_eq!(InputFormat::resolve(None, Path::new("-")), InputFormat::Csv);
    }

    /// A field value that JSON can carry and CSV can write: text (possibly empty, with
    /// commas, quotes or non-ASCII) or a finite number.
    fn value() -> impl Strategy<Value = Option<Json>> {
        prop_oneof![
            Just(None),
            Just(Some(Json::Null)),
            "[ -~éü,\"]{0,12}".prop_map(|s| Some(Json::String(s))),
            (-1e12f64..1e12).prop_map(|x| Some(serde_json::json!(x))),
            any::<i32>().prop_map(|x| Some(serde_json::json!(x))),
        ]
    }

    fn csv_cell(value: &Option<Json>) -> String {
        match value {
            None | Some(Json::Null) => String::new(),
            Some(Json::String(s)) => s.clone(),
            Some(other) => other.to_string(),
        }
    }

    proptest! {
        /// A random object reads as the same fields as the equivalent CSV row, so both
        /// score alike (scoring sees only the fields).
        #[test]
        fn a_json_object_reads_as_the_equivalent_csv_row(
            values in proptest::collection::vec(value(), 4),
            extra in proptest::option::of("[a-z]{1,8}"),
        ) {
            let columns = columns();
            let mut object = serde_json::Map::new();
            for (name, value) in columns.iter().zip(&values) {
                if let Some(v) = value {
                    object.insert(name.clone(), v.clone());
                }
            }
            if let Some(extra) = extra {
                object.entry(format!("x_{extra}")).or_insert(Json::Bool(true));
            }
            let line = serde_json::to_string(&Json::Object(object)).unwrap();
            let mut from_json = Record::default();
            from_json.start(1);
            object_fields(line.as_bytes(), &columns, &mut from_json).unwrap();

            let mut csv_line = Vec::new();
            {
                let mut writer = csv::Writer::from_writer(&mut csv_line);
                writer.write_record(values.iter().map(csv_cell)).unwrap();
            }
            let mut reader = RecordReader::new(csv_line.as_slice());
            let mut from_csv = Record::default();
            prop_assert_eq!(reader.read(&mut from_csv).unwrap(), Next::Record);
            prop_assert_eq!(fields(&from_json), fields(&from_csv));
        }
    }
}
