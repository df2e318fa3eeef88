//! Batch scoring of CSV files: stream the input in chunks, score each chunk on all cores
//! with the same Scorer the service uses, write answers in input order, and send every row
//! that cannot be scored to the rejects file with its line number and reason.
//! Input rows = output rows + rejected rows, always. Both files are written beside their
//! final names and renamed at the end, so a half-written output never looks finished.

use crate::features::Value;
use crate::score::{Answer, Scorer};
use rayon::prelude::*;
use std::borrow::Cow;
use std::fmt;
use std::fs::File;
use std::io::{BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

const CHUNK_ROWS: usize = 8192;

#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    #[error("{}: cannot read: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: cannot write: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: line 1: {message}", path.display())]
    Header { path: PathBuf, message: String },
}

#[derive(Debug, Clone, PartialEq)]
pub struct BatchSummary {
    pub rows_in: usize,
    pub scored: usize,
    pub rejected: usize,
    pub seconds: f64,
    pub rejects: PathBuf,
}

impl fmt::Display for BatchSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "rows in {}, scored {}, rejected {} ({}), {:.2}s, {:.0} rows/s",
            self.rows_in,
            self.scored,
            self.rejected,
            self.rejects.display(),
            self.seconds,
            self.rows_in as f64 / self.seconds.max(1e-9)
        )
    }
}

/// Where each scorer input and the id live in the file's header.
struct Layout {
    inputs: Vec<Option<usize>>,
    id: Option<usize>,
    width: usize,
}

impl Layout {
    fn new(scorer: &Scorer, header: &[String], path: &Path) -> Result<Self, BatchError> {
        let position = |name: &str| header.iter().position(|h| h == name);
        let bundle = scorer.bundle();
        let mut inputs = Vec::new();
        for (name, schema) in scorer.input_names().zip(&bundle.manifest.schema.columns) {
            let at = position(name);
            if at.is_none() && schema.used {
                return Err(BatchError::Header {
                    path: path.to_path_buf(),
                    message: format!(
                        "no column named `{name}`, which the model needs; columns are: {}",
                        header.join(", ")
                    ),
                });
            }
            inputs.push(at);
        }
        let id = bundle.manifest.schema.id.as_deref().and_then(position);
        Ok(Layout {
            inputs,
            id,
            width: header.len(),
        })
    }
}

/// One input row: its line, and either its text cells or why they could not be read.
struct Row {
    line: u64,
    number: usize,
    cells: Result<Vec<String>, String>,
    raw: String,
}

pub fn score_file(
    scorer: &Scorer,
    input: &Path,
    output: &Path,
    rejects: &Path,
) -> Result<BatchSummary, BatchError> {
    let started = Instant::now();
    let read_error = |source| BatchError::Read {
        path: input.to_path_buf(),
        source,
    };
    let file = File::open(input).map_err(read_error)?;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(BufReader::with_capacity(1 << 20, file));
    let mut records = reader.byte_records();
    let header = read_header(records.next(), input)?;
    let layout = Layout::new(scorer, &header, input)?;

    let mut out = AtomicCsv::create(output)?;
    let mut rej = AtomicCsv::create(rejects)?;
    out.row(Answer::csv_header().iter().map(|s| s.to_string()))?;
    rej.row(["line", "reason", "record"].map(String::from))?;

    let mut summary = BatchSummary {
        rows_in: 0,
        scored: 0,
        rejected: 0,
        seconds: 0.0,
        rejects: rejects.to_path_buf(),
    };
    let mut chunk = Vec::with_capacity(CHUNK_ROWS);
    loop {
        chunk.clear();
        for record in records.by_ref().take(CHUNK_ROWS) {
            summary.rows_in += 1;
            chunk.push(read_row(record, &layout, &header, summary.rows_in).map_err(read_error)?);
        }
        if chunk.is_empty() {
            break;
        }
        let results: Vec<Result<Answer, String>> = chunk
            .par_iter()
            .map(|row| score_row(scorer, &layout, row))
            .collect();
        for (row, result) in chunk.iter().zip(results) {
            match result {
                Ok(answer) => {
                    summary.scored += 1;
                    out.row(answer.csv_fields())?;
                }
                Err(reason) => {
                    summary.rejected += 1;
                    rej.row([row.line.to_string(), reason, row.raw.clone()])?;
                }
            }
        }
    }
    out.finish()?;
    rej.finish()?;
    summary.seconds = started.elapsed().as_secs_f64();
    Ok(summary)
}

fn read_header(
    first: Option<csv::Result<csv::ByteRecord>>,
    path: &Path,
) -> Result<Vec<String>, BatchError> {
    let header_error = |message: String| BatchError::Header {
        path: path.to_path_buf(),
        message,
    };
    let record = first
        .ok_or_else(|| header_error("the file is empty (a header row is required)".into()))?
        .map_err(|e| header_error(e.to_string()))?;
    record
        .iter()
        .enumerate()
        .map(|(i, field)| {
            let field = if i == 0 {
                field.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(field)
            } else {
                field
            };
            std::str::from_utf8(field)
                .map(|s| s.trim().to_string())
                .map_err(|_| header_error(format!("column {}: header is not valid UTF-8", i + 1)))
        })
        .collect()
}

fn read_row(
    record: csv::Result<csv::ByteRecord>,
    layout: &Layout,
    header: &[String],
    number: usize,
) -> Result<Row, std::io::Error> {
    let record = match record {
        Ok(r) => r,
        Err(e) => {
            let line = e.position().map_or(0, |p| p.line());
            if let csv::ErrorKind::Io(_) = e.kind() {
                return Err(std::io::Error::other(e.to_string()));
            }
            return Ok(Row {
                line,
                number,
                cells: Err(format!("unreadable row: {e}")),
                raw: String::new(),
            });
        }
    };
    let line = record.position().map_or(0, |p| p.line());
    let raw = record
        .iter()
        .map(String::from_utf8_lossy)
        .collect::<Vec<_>>()
        .join(",");
    let cells = if record.len() != layout.width {
        Err(format!(
            "expected {} fields, found {}",
            layout.width,
            record.len()
        ))
    } else {
        record
            .iter()
            .enumerate()
            .map(|(i, f)| {
                std::str::from_utf8(f).map(str::to_string).map_err(|_| {
                    format!(
                        "column {} (`{}`): value is not valid UTF-8",
                        i + 1,
                        header[i]
                    )
                })
            })
            .collect()
    };
    Ok(Row {
        line,
        number,
        cells,
        raw,
    })
}

fn score_row(scorer: &Scorer, layout: &Layout, row: &Row) -> Result<Answer, String> {
    let cells = row.cells.as_ref().map_err(Clone::clone)?;
    let values: Vec<Value> = layout
        .inputs
        .iter()
        .map(|at| {
            at.map_or(Value::Missing, |i| {
                Value::Text(Cow::Borrowed(cells[i].as_str()))
            })
        })
        .collect();
    let id = match layout.id {
        Some(i) if !crate::data::is_missing(&cells[i]) => Cow::Borrowed(cells[i].trim()),
        Some(i) => return Err(format!("column {}: the id is missing", i + 1)),
        None => Cow::Owned(row.number.to_string()),
    };
    scorer.score(id, values).map_err(|e| e.to_string())
}

/// A CSV written to a temporary file beside its target and renamed into place at the end.
struct AtomicCsv {
    path: PathBuf,
    writer: csv::Writer<BufWriter<tempfile::NamedTempFile>>,
}

impl AtomicCsv {
    fn create(path: &Path) -> Result<Self, BatchError> {
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let tmp = tempfile::NamedTempFile::new_in(dir).map_err(|source| BatchError::Write {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(AtomicCsv {
            path: path.to_path_buf(),
            writer: csv::Writer::from_writer(BufWriter::with_capacity(1 << 20, tmp)),
        })
    }

    fn row<I: IntoIterator<Item = String>>(&mut self, fields: I) -> Result<(), BatchError> {
        self.writer
            .write_record(fields)
            .map_err(|e| self.error(std::io::Error::other(e.to_string())))
    }

    fn error(&self, source: std::io::Error) -> BatchError {
        BatchError::Write {
            path: self.path.clone(),
            source,
        }
    }

    fn finish(self) -> Result<(), BatchError> {
        let path = self.path.clone();
        let write_error = |source| BatchError::Write {
            path: path.clone(),
            source,
        };
        let mut buffered = self
            .writer
            .into_inner()
            .map_err(|e| write_error(std::io::Error::other(e.to_string())))?;
        buffered.flush().map_err(write_error)?;
        let tmp = buffered
            .into_inner()
            .map_err(|e| write_error(std::io::Error::other(e.to_string())))?;
        tmp.persist(&path).map_err(|e| write_error(e.error))?;
        Ok(())
    }
}
