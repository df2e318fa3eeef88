//! Batch scoring of CSV files: stream the input in chunks (never the whole file), score
//! each chunk on all cores with the same Scorer the service uses, write answers in input
//! order, and send every row that cannot be scored to the rejects file with its line
//! number and reason. Input rows = output rows + rejected rows, always.
//!
//! Files are written beside their final names and renamed at the end, so a half-written
//! output never looks finished; `-` reads standard input / writes standard output, so the
//! binary runs unchanged as a pipe stage (Spark `RDD.pipe`, Hadoop streaming, a shell).

use crate::features::Value;
use crate::score::{Answer, Detail, Scorer};
use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;
use std::borrow::Cow;
use std::fmt;
use std::fs::File;
use std::io::{BufReader, BufWriter, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

const CHUNK_ROWS: usize = 16_384;

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

/// How scored rows are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// One CSV row per customer.
    Csv,
    /// One JSON object per line, the same shape as the REST answer.
    Jsonl,
}

/// A file path, or `-` for standard input / output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stream {
    Std,
    File(PathBuf),
}

impl Stream {
    pub fn from_arg(arg: &Path) -> Self {
        if arg == Path::new("-") {
            Stream::Std
        } else {
            Stream::File(arg.to_path_buf())
        }
    }

    fn name(&self) -> PathBuf {
        match self {
            Stream::Std => PathBuf::from("-"),
            Stream::File(p) => p.clone(),
        }
    }
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
    header: Vec<String>,
}

impl Layout {
    fn new(scorer: &Scorer, header: Vec<String>, path: &Path) -> Result<Self, BatchError> {
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
        Ok(Layout { inputs, id, header })
    }
}

/// Rows read and handed to the scorers at a time; a reader thread fills the next chunk
/// while the current one is scored, so memory stays at a few chunks whatever the file size.
type Chunk = Vec<(usize, csv::Result<csv::ByteRecord>)>;

/// One slice of a chunk, scored on one core (its output bytes are in a reused buffer).
struct Part {
    scored: usize,
    rejects: Vec<(u64, String, String)>,
}

/// Score `input` into `output` (CSV or JSON Lines), rejects to `rejects`.
pub fn score_stream(
    scorer: &Scorer,
    input: &Stream,
    output: &Stream,
    rejects: &Path,
    format: Format,
) -> Result<BatchSummary, BatchError> {
    let started = Instant::now();
    let in_name = input.name();
    let read_error = |source| BatchError::Read {
        path: in_name.clone(),
        source,
    };
    let (source, size): (Box<dyn Read + Send>, Option<u64>) = match input {
        Stream::Std => (Box::new(std::io::stdin()), None),
        Stream::File(p) => {
            let file = File::open(p).map_err(read_error)?;
            let size = file.metadata().ok().map(|m| m.len());
            (Box::new(file), size)
        }
    };
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(BufReader::with_capacity(1 << 20, source));
    let header = read_header(&mut reader, &in_name)?;
    let layout = Layout::new(scorer, header, &in_name)?;
    let mut out = Output::create(output)?;
    let out_name = output.name();
    let out_error = |source| BatchError::Write {
        path: out_name.clone(),
        source,
    };
    if format == Format::Csv {
        out.writer
            .write_all(&csv_line(Answer::csv_header().iter().copied()))
            .map_err(out_error)?;
    }
    let mut rej = Output::create(&Stream::File(rejects.to_path_buf()))?;
    let mut rej_csv = csv::Writer::from_writer(&mut rej.writer);
    rej_csv
        .write_record(["line", "reason", "record"])
        .map_err(|e| write_error(rejects, e))?;

    let progress = progress_bar(size);
    let mut summary = BatchSummary {
        rows_in: 0,
        scored: 0,
        rejected: 0,
        seconds: 0.0,
        rejects: rejects.to_path_buf(),
    };
    // Chunks and output buffers go round and round rather than being freed and
    // allocated again: fresh large allocations cost page faults and zeroing per chunk.
    let (chunks, inbox) = std::sync::mpsc::sync_channel::<std::io::Result<Chunk>>(2);
    let (recycle, recycled) = std::sync::mpsc::sync_channel::<Chunk>(4);
    let mut buffers: Vec<Vec<u8>> = Vec::new();
    std::thread::scope(|scope| -> Result<(), BatchError> {
        scope.spawn(move || read_chunks(reader, chunks, recycled));
        for chunk in inbox {
            let chunk = chunk.map_err(read_error)?;
            summary.rows_in += chunk.len();
            let part_rows = chunk
                .len()
                .div_ceil(rayon::current_num_threads() * 4)
                .max(64);
            buffers.resize_with(chunk.len().div_ceil(part_rows), Vec::new);
            let parts: Vec<Part> = chunk
                .par_chunks(part_rows)
                .zip(buffers.par_iter_mut())
                .map(|(rows, buffer)| score_part(scorer, &layout, rows, format, buffer))
                .collect();
            for (part, bytes) in parts.into_iter().zip(&buffers) {
                summary.scored += part.scored;
                out.writer.write_all(bytes).map_err(out_error)?;
                for (line, reason, raw) in part.rejects {
                    summary.rejected += 1;
                    rej_csv
                        .write_record([line.to_string(), reason, raw])
                        .map_err(|e| write_error(rejects, e))?;
                }
            }
            if let (Some(bar), Some((_, Ok(last)))) = (&progress, chunk.last()) {
                bar.set_position(last.position().map_or(0, |p| p.byte()));
                bar.set_message(format!("{} rows", summary.rows_in));
            }
            let _ = recycle.try_send(chunk);
        }
        Ok(())
    })?;
    if let Some(bar) = progress {
        bar.finish_and_clear();
    }
    rej_csv
        .flush()
        .map_err(|e| write_error(rejects, csv::Error::from(e)))?;
    drop(rej_csv);
    out.finish()?;
    rej.finish()?;
    summary.seconds = started.elapsed().as_secs_f64();
    Ok(summary)
}

/// The reader thread: chunks of records with their row numbers, until the input ends,
/// the scorer side hangs up, or reading fails.
fn read_chunks<R: Read>(
    mut reader: csv::Reader<R>,
    chunks: std::sync::mpsc::SyncSender<std::io::Result<Chunk>>,
    recycled: std::sync::mpsc::Receiver<Chunk>,
) {
    let mut number = 0usize;
    let mut records = reader.byte_records();
    loop {
        let mut chunk = recycled
            .try_recv()
            .unwrap_or_else(|_| Vec::with_capacity(CHUNK_ROWS));
        chunk.clear();
        for record in records.by_ref().take(CHUNK_ROWS) {
            if let Err(e) = &record {
                if let csv::ErrorKind::Io(_) = e.kind() {
                    let _ = chunks.send(Err(std::io::Error::other(e.to_string())));
                    return;
                }
            }
            number += 1;
            chunk.push((number, record));
        }
        if chunk.is_empty() || chunks.send(Ok(chunk)).is_err() {
            return;
        }
    }
}

/// Score and format a slice of rows: answers as bytes into `bytes` (cleared first),
/// failures as rejects.
fn score_part(
    scorer: &Scorer,
    layout: &Layout,
    rows: &[(usize, csv::Result<csv::ByteRecord>)],
    format: Format,
    bytes: &mut Vec<u8>,
) -> Part {
    bytes.clear();
    let mut part = Part {
        scored: 0,
        rejects: Vec::new(),
    };
    let mut jsonl = Vec::new();
    let mut csv_out = csv::WriterBuilder::new().from_writer(&mut *bytes);
    let detail = match format {
        Format::Csv => Detail::ItemsOnly,
        Format::Jsonl => Detail::Full,
    };
    for (number, record) in rows {
        match score_record(scorer, layout, *number, record, detail) {
            Ok(answer) => {
                part.scored += 1;
                match format {
                    Format::Csv => {
                        let _ = csv_out.write_record(answer.csv_fields());
                    }
                    Format::Jsonl => {
                        let _ = serde_json::to_writer(&mut jsonl, &answer);
                        jsonl.push(b'\n');
                    }
                }
            }
            Err(reason) => {
                let (line, raw) = describe(record);
                part.rejects.push((line, reason, raw));
            }
        }
    }
    // Writing into a Vec cannot fail.
    let _ = csv_out.flush();
    drop(csv_out);
    bytes.extend_from_slice(&jsonl);
    part
}

/// One CSV line from fields.
fn csv_line<'a>(fields: impl IntoIterator<Item = &'a str>) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let _ = w.write_record(fields);
    w.into_inner().unwrap_or_default()
}

/// The file-path form used by the CLI tests and library callers.
pub fn score_file(
    scorer: &Scorer,
    input: &Path,
    output: &Path,
    rejects: &Path,
) -> Result<BatchSummary, BatchError> {
    score_stream(
        scorer,
        &Stream::from_arg(input),
        &Stream::from_arg(output),
        rejects,
        Format::Csv,
    )
}

/// A bar by bytes read when stderr is a terminal and the input size is known; a row
/// counter for pipes on a terminal; nothing otherwise (job logs stay clean).
fn progress_bar(size: Option<u64>) -> Option<ProgressBar> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = match size {
        Some(bytes) => ProgressBar::new(bytes).with_style(
            ProgressStyle::with_template("{bar:40} {percent}% {msg} [{elapsed} / ~{duration}]")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        ),
        None => ProgressBar::new_spinner(),
    };
    Some(bar)
}

fn write_error(path: &Path, e: csv::Error) -> BatchError {
    BatchError::Write {
        path: path.to_path_buf(),
        source: std::io::Error::other(e.to_string()),
    }
}

fn read_header<R: Read>(
    reader: &mut csv::Reader<R>,
    path: &Path,
) -> Result<Vec<String>, BatchError> {
    let header_error = |message: String| BatchError::Header {
        path: path.to_path_buf(),
        message,
    };
    let mut record = csv::ByteRecord::new();
    match reader.read_byte_record(&mut record) {
        Ok(true) => {}
        Ok(false) => {
            return Err(header_error(
                "the file is empty (a header row is required)".into(),
            ))
        }
        Err(e) => return Err(header_error(e.to_string())),
    }
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

/// Line number and the row as text, for the rejects file.
fn describe(record: &csv::Result<csv::ByteRecord>) -> (u64, String) {
    match record {
        Ok(r) => (
            r.position().map_or(0, |p| p.line()),
            r.iter()
                .map(String::from_utf8_lossy)
                .collect::<Vec<_>>()
                .join(","),
        ),
        Err(e) => (e.position().map_or(0, |p| p.line()), String::new()),
    }
}

fn score_record(
    scorer: &Scorer,
    layout: &Layout,
    number: usize,
    record: &csv::Result<csv::ByteRecord>,
    detail: Detail,
) -> Result<Answer, String> {
    let record = record
        .as_ref()
        .map_err(|e| format!("unreadable row: {e}"))?;
    if record.len() != layout.header.len() {
        return Err(format!(
            "expected {} fields, found {}",
            layout.header.len(),
            record.len()
        ));
    }
    let cell = |i: usize| {
        std::str::from_utf8(&record[i]).map_err(|_| {
            format!(
                "column {} (`{}`): value is not valid UTF-8",
                i + 1,
                layout.header[i]
            )
        })
    };
    let values = layout
        .inputs
        .iter()
        .map(|at| match at {
            Some(i) => cell(*i).map(|t| Value::Text(Cow::Borrowed(t))),
            None => Ok(Value::Missing),
        })
        .collect::<Result<Vec<_>, _>>()?;
    let id = match layout.id {
        Some(i) if !crate::data::is_missing(cell(i)?) => Cow::Borrowed(cell(i)?.trim()),
        Some(i) => return Err(format!("column {}: the id is missing", i + 1)),
        None => Cow::Owned(number.to_string()),
    };
    scorer
        .score_with(id, values, detail)
        .map_err(|e| e.to_string())
}

/// A destination written in full before it appears: a temp file renamed at the end, or
/// standard output.
struct Output {
    target: Stream,
    writer: BufWriter<Box<dyn Write>>,
    temp: Option<tempfile::TempPath>,
}

impl Output {
    fn create(target: &Stream) -> Result<Self, BatchError> {
        let (sink, temp): (Box<dyn Write>, _) = match target {
            Stream::Std => (Box::new(std::io::stdout().lock()), None),
            Stream::File(path) => {
                let dir = match path.parent() {
                    Some(p) if !p.as_os_str().is_empty() => p,
                    _ => Path::new("."),
                };
                let file =
                    tempfile::NamedTempFile::new_in(dir).map_err(|source| BatchError::Write {
                        path: path.clone(),
                        source,
                    })?;
                let (file, temp) = file.into_parts();
                (Box::new(file), Some(temp))
            }
        };
        Ok(Output {
            target: target.clone(),
            writer: BufWriter::with_capacity(1 << 20, sink),
            temp,
        })
    }

    fn finish(mut self) -> Result<(), BatchError> {
        let name = self.target.name();
        let error = |source| BatchError::Write {
            path: name.clone(),
            source,
        };
        self.writer.flush().map_err(error)?;
        drop(self.writer);
        if let (Some(temp), Stream::File(path)) = (self.temp, &self.target) {
            temp.persist(path).map_err(|e| error(e.error))?;
        }
        Ok(())
    }
}
