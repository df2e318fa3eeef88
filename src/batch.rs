//! Batch scoring of CSV files: stream the input in chunks (never the whole file), score
//! each chunk on all cores with the same Scorer the service uses, write answers in input
//! order, and send every row that cannot be scored to the rejects file with its line
//! number and reason. Input rows = output rows + rejected rows, always.
//!
//! Files are written beside their final names and renamed at the end, so a half-written
//! output never looks finished; `-` reads standard input / writes standard output, so the
//! binary runs unchanged as a pipe stage (Spark `RDD.pipe`, Hadoop streaming, a shell).

use crate::batch_input::{InputReader, InputSpec, JsonlReader, RowRead};
use crate::data::csv_input::{self, Record, RecordReader};
use crate::decisions::Decider;
use crate::features::Value;
use crate::monitoring::{Counts, DriftReport, SlotMap, Thresholds};
use crate::outcomes::{Arm, Campaign, Contact, Store, StoreError};
use crate::score::{Bought, Scored, Scorer, Scratch};
use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;
use std::borrow::Cow;
use std::fmt;
use std::fs::{self, File};
use std::io::{BufRead, BufWriter, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Instant;

const CHUNK_ROWS: usize = 4096;

/// A chunk ends early once its rows hold this much input, so a file of long rows keeps
/// memory as flat as one of short rows.
const CHUNK_BYTES: usize = 8 << 20;

/// Rows in the first chunk; each next one doubles up to `CHUNK_ROWS`.
const FIRST_CHUNK_ROWS: usize = 256;

/// Chunks (and output batches) that exist at once: one being read or written, one being
/// scored, one waiting.
const IN_FLIGHT: usize = 3;

/// Output buffer size: scored parts (some 30 KB) are larger and bypass it.
const OUTPUT_BUFFER: usize = 16 * 1024;

/// A channel pre-filled with `IN_FLIGHT` empty buffers, for handing them back.
fn pool<T: Default>() -> (mpsc::SyncSender<T>, mpsc::Receiver<T>) {
    let (give, take) = mpsc::sync_channel(IN_FLIGHT);
    for _ in 0..IN_FLIGHT {
        let _ = give.send(T::default());
    }
    (give, take)
}

#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    #[error("{}: cannot read", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: cannot write", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: line 1: {message}", path.display())]
    Header { path: PathBuf, message: String },
    #[error("{}: line 1, {problem}", path.display())]
    HeaderRow {
        path: PathBuf,
        problem: csv_input::HeaderError,
    },
    #[error("{}: more than {limit} rows; at most {limit} at a time", path.display())]
    TooManyRows { path: PathBuf, limit: usize },
    #[error("bundle {version} was trained on a customer table, not an order log: use --input")]
    NotFromALog { version: String },
    #[error(transparent)]
    Log(#[from] crate::data::transactions::TransactionError),
    #[error("recording contacts")]
    Contacts(#[from] StoreError),
}

/// Record every scored row as a contact of `campaign` in `store`; the output gains the
/// columns `campaign` and `arm`.
pub struct ContactLog<'s> {
    pub campaign: Campaign,
    pub store: &'s mut dyn Store,
}

/// What the scorers need to know of the campaign: its name as a CSV field and the time
/// every contact of this run is recorded at.
struct CampaignRun {
    campaign: Campaign,
    name_csv: String,
    at: String,
}

/// Contacts recorded by one run.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ContactCounts {
    pub campaign: String,
    pub treatment: usize,
    pub control: usize,
    /// Contacts not recorded before (a customer keeps the first contact of a campaign).
    pub new: usize,
}

/// An order log aggregated to one row per customer as the bundle's training did, in a
/// temporary CSV that lasts as long as this value.
pub struct AggregatedLog {
    file: tempfile::NamedTempFile,
    /// What reading the log found (lines used, returns, the cut-off, ...).
    pub quality: crate::data::transactions::LogQuality,
    /// Each customer's items in the log, when the bundle offers from purchase history.
    pub history: Option<crate::models::offers::PurchaseHistory>,
}

impl AggregatedLog {
    /// The customers, to read as an `--input` file.
    pub fn stream(&self) -> Stream {
        Stream::File(self.file.path().to_path_buf())
    }
}

/// Stream `log` through the same running totals per customer as training
/// (`customer_table_streamed`), with the bundle's column roles and churn window; features
/// are computed at `cutoff` (default: just after the last event).
pub fn aggregate_log(
    manifest: &crate::bundle::Manifest,
    log: &Path,
    cutoff: Option<&str>,
) -> Result<AggregatedLog, BatchError> {
    aggregate(manifest, None, log, cutoff)
}

/// [`aggregate_log`], also collecting each customer's items (in the same pass) when the
/// bundle offers from purchase history, for [`Scorer::use_history`].
pub fn aggregate_log_with_items(
    bundle: &crate::bundle::Bundle,
    log: &Path,
    cutoff: Option<&str>,
) -> Result<AggregatedLog, BatchError> {
    let offers = bundle.rules.as_ref().zip(bundle.history.as_ref());
    aggregate(&bundle.manifest, offers, log, cutoff)
}

fn aggregate(
    manifest: &crate::bundle::Manifest,
    offers: Option<(
        &crate::models::rules::CrossSellModel,
        &crate::models::offers::PurchaseHistory,
    )>,
    log: &Path,
    cutoff: Option<&str>,
) -> Result<AggregatedLog, BatchError> {
    use crate::data::transactions;
    use crate::models::offers::HistoryBuilder;
    let Some(info) = &manifest.transactions else {
        return Err(BatchError::NotFromALog {
            version: manifest.version.clone(),
        });
    };
    let cutoff = cutoff.map(transactions::parse_cutoff).transpose()?;
    let mut items = offers.map(|(_, h)| HistoryBuilder::new(h.settings.clone(), cutoff));
    let (table, quality) =
        transactions::customer_table_streamed_with(log, &info.spec, cutoff, |event| {
            if let Some(items) = &mut items {
                items.add(event);
            }
        })?;
    let history = offers
        .zip(items)
        .map(|((rules, _), items)| items.finish(rules));
    let temp_error = |source| BatchError::Write {
        path: std::env::temp_dir(),
        source,
    };
    let file = tempfile::NamedTempFile::new().map_err(temp_error)?;
    transactions::write_customer_csv(&table, &info.spec.customer_col, file.path()).map_err(
        |source| BatchError::Write {
            path: file.path().to_path_buf(),
            source,
        },
    )?;
    Ok(AggregatedLog {
        file,
        quality,
        history,
    })
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
    /// The scored rows against the bundle's training profile (bundles that carry one).
    pub drift: Option<DriftReport>,
    /// Contacts recorded, when the run named a campaign.
    pub contacts: Option<ContactCounts>,
}

impl BatchSummary {
    /// One line on how far the scored rows sit from the training profile
    /// (`custscore drift --input` gives the table).
    pub fn drift_line(&self) -> Option<String> {
        let report = self.drift.as_ref()?;
        let list = |names: Vec<&str>| match names.is_empty() {
            true => "none".to_string(),
            false => names.join(", "),
        };
        let warnings = report
            .inputs
            .iter()
            .filter(|d| d.status == crate::monitoring::Status::Warn)
            .map(|d| d.input.as_str())
            .collect();
        let churn = report
            .churn_probability
            .as_ref()
            .map_or(String::new(), |s| {
                format!("; churn probability PSI {:.3}", s.psi)
            });
        Some(format!(
            "drift from training (PSI alert at {}, warn at {}): alerts {}; warnings {}{churn}",
            report.thresholds.alert,
            report.thresholds.warn,
            list(report.inputs_at(crate::monitoring::Status::Alert)),
            list(warnings),
        ))
    }
}

impl fmt::Display for BatchSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(c) = &self.contacts {
            writeln!(
                f,
                "campaign {}: treatment {}, control {} ({} contacts new, the others recorded before)",
                c.campaign, c.treatment, c.control, c.new
            )?;
        }
        write!(
            f,
            "rows in {}, scored {}, rejected {} ({}), {:.2}s, {:.0} rows/s",
            self.rows_in,
            self.scored,
            self.rejected,
            match self.rejects.as_os_str() == "-" {
                true => "marked in the output".into(),
                false => self.rejects.display().to_string(),
            },
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
    /// Rejected rows go into the output, marked, instead of a rejects file; CSV rows
    /// then end with the (empty) `_rejected,_record` columns.
    mark_rejects: bool,
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
        let id = match scorer.id_column() {
            Some(name) => Some(position(name).ok_or_else(|| BatchError::Header {
                path: path.to_path_buf(),
                message: format!(
                    "no id column `{name}`, which the model names customers by; columns are: {}",
                    header.join(", ")
                ),
            })?),
            None => None,
        };
        Ok(Layout {
            inputs,
            id,
            header,
            mark_rejects: false,
        })
    }
}

/// One input row: its line number in the file and its fields, or why it is unreadable.
#[derive(Default)]
struct Row {
    /// 1 for the first row after the header.
    number: usize,
    line: u64,
    record: Record,
    error: Option<String>,
}

/// Rows read and handed to the scorers at a time; a reader thread fills the next chunk
/// while the current one is scored, so memory stays at a few chunks whatever the file
/// size. Chunks go back to the reader and rows are read into the records already there.
#[derive(Default)]
struct Chunk {
    rows: Vec<Row>,
    len: usize,
    /// Bytes read up to the end of this chunk, for the progress bar.
    bytes_read: u64,
}

impl Chunk {
    fn rows(&self) -> &[Row] {
        &self.rows[..self.len]
    }
}

/// One slice of a chunk, scored on one core: its output bytes and its rejects. Parts go
/// round between the scorers and the writer thread, keeping their buffers.
#[derive(Default)]
struct Part {
    bytes: Vec<u8>,
    scored: usize,
    rejects: Vec<(u64, String, String)>,
    /// Drift bin counts of this part's scored rows (empty without a profile).
    drift: Counts,
    /// Contacts of this part's scored rows, when the run names a campaign.
    contacts: Vec<Contact>,
}

/// Where rows that cannot be scored go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RejectsTo {
    /// A CSV file of `line, reason, record`.
    File(PathBuf),
    /// The output stream itself, as rows marked rejected: CSV rows with the extra
    /// columns `_rejected` (line and reason) and `_record` (the row as read), empty on
    /// scored rows; JSON lines `{"_rejected": {"line", "reason", "record"}}`.
    Output,
}

/// How a run reads its input and writes its answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamOptions {
    pub input: InputSpec,
    pub format: Format,
    pub rejects: RejectsTo,
}

/// Score `input` into `output` (CSV or JSON Lines), rejects to `rejects`; with a
/// `decider`, CSV rows gain the next best action and its expected value.
pub fn score_stream(
    scorer: &Scorer,
    input: &Stream,
    output: &Stream,
    rejects: &Path,
    format: Format,
    contacts: Option<ContactLog>,
    decider: Option<&Decider>,
) -> Result<BatchSummary, BatchError> {
    let options = StreamOptions {
        input: InputSpec::default(),
        format,
        rejects: RejectsTo::File(rejects.to_path_buf()),
    };
    score_stream_with(scorer, input, output, &options, contacts, decider)
}

/// Score `input` into `output` as `options` say: header-less CSV or JSON Lines input,
/// rejects to a file or marked in the output.
pub fn score_stream_with(
    scorer: &Scorer,
    input: &Stream,
    output: &Stream,
    options: &StreamOptions,
    contacts: Option<ContactLog>,
    decider: Option<&Decider>,
) -> Result<BatchSummary, BatchError> {
    let started = Instant::now();
    let format = options.format;
    let (campaign, store) = match contacts {
        Some(log) => {
            let run = CampaignRun {
                name_csv: crate::score::csv_field(log.campaign.name()),
                campaign: log.campaign,
                at: crate::outcomes::contacts::now_utc(),
            };
            (Some(run), Some(log.store))
        }
        None => (None, None),
    };
    let campaign = campaign.as_ref();
    let in_name = input.name();
    let read_error = |source| BatchError::Read {
        path: in_name.clone(),
        source,
    };
    let (reader, mut layout, size) = open_input(scorer, input, &options.input)?;
    layout.mark_rejects = options.rejects == RejectsTo::Output;
    let header = csv_header(
        scorer,
        decider.is_some(),
        campaign.is_some(),
        layout.mark_rejects,
    );
    let sink = match &options.rejects {
        RejectsTo::File(path) => RejectSink::file(path)?,
        RejectsTo::Output if format == Format::Jsonl => RejectSink::JsonLines,
        RejectsTo::Output => RejectSink::CsvRows {
            empty_fields: count_fields(&header) - 2,
        },
    };
    let mut writer = Writer::create(output, sink, store)?;
    if format == Format::Csv && options.input.output_header() {
        writer.out.write_all(&header)?;
    }

    let progress = progress_bar(size);
    let mut rows_in = 0;
    let slots = drift_slots(scorer);
    let mut drift = Counts(vec![0; slots.as_ref().map_or(0, SlotMap::len)]);
    // A fixed number of chunks and output batches go round and round, so their buffers
    // are allocated once: fresh large buffers cost a page fault and zeroing per page.
    let (chunks, inbox) = mpsc::sync_channel::<std::io::Result<Chunk>>(IN_FLIGHT);
    let (recycle_chunk, recycled_chunks) = pool::<Chunk>();
    let (to_writer, writer_inbox) = mpsc::sync_channel::<Vec<Part>>(IN_FLIGHT);
    let (recycle_parts, recycled_parts) = pool::<Vec<Part>>();
    let writer = std::thread::scope(|scope| -> Result<_, BatchError> {
        scope.spawn(move || read_chunks(reader, chunks, recycled_chunks));
        let written = scope.spawn(move || writer.write_parts(writer_inbox, recycle_parts));
        for chunk in inbox {
            let chunk = chunk.map_err(read_error)?;
            rows_in += chunk.len;
            let Ok(mut parts) = recycled_parts.recv() else {
                break; // the writer stopped on an error, which `join` returns
            };
            score_chunk(
                scorer,
                &layout,
                chunk.rows(),
                format,
                slots.as_ref(),
                Extras { campaign, decider },
                &mut parts,
            );
            for part in &parts {
                drift.add(&part.drift);
            }
            if let Some(bar) = &progress {
                bar.set_position(chunk.bytes_read);
                bar.set_message(format!("{rows_in} rows"));
            }
            let _ = recycle_chunk.send(chunk);
            if to_writer.send(parts).is_err() {
                break; // the writer stopped on an error, which `join` returns
            }
        }
        // Hanging up lets the reader and the writer threads end.
        drop((recycle_chunk, to_writer));
        written
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })?;
    // Only a complete run makes its files appear (an early return deletes them).
    let (scored, rejected, contacts) = writer.finish()?;
    if let Some(bar) = progress {
        bar.finish_and_clear();
    }
    Ok(BatchSummary {
        rows_in,
        scored,
        rejected,
        seconds: started.elapsed().as_secs_f64(),
        rejects: match &options.rejects {
            RejectsTo::File(path) => path.clone(),
            RejectsTo::Output => PathBuf::from("-"),
        },
        drift: slots.map(|slots| DriftReport::compare(&slots, &drift, Thresholds::default())),
        contacts: campaign.map(|run| ContactCounts {
            campaign: run.campaign.name().to_string(),
            ..contacts
        }),
    })
}

type Input = InputReader<Box<dyn BufRead + Send>>;

/// Open the input, take its column names (from its header, the user or the bundle) and
/// find the scorer's columns among them; also the file size when known, for the
/// progress bar.
fn open_input(
    scorer: &Scorer,
    input: &Stream,
    spec: &InputSpec,
) -> Result<(Input, Layout, Option<u64>), BatchError> {
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
    let source = csv_input::decompressed(source).map_err(read_error)?;
    use crate::batch_input::{bundle_columns, Columns};
    if spec.jsonl {
        let columns = bundle_columns(scorer.bundle());
        let reader = InputReader::Jsonl(JsonlReader::new(source, columns.clone()));
        return Ok((reader, Layout::new(scorer, columns, &in_name)?, size));
    }
    let mut reader = RecordReader::new(source);
    let header = match &spec.columns {
        Columns::Header => csv_input::read_header(&mut reader)
            .map_err(read_error)?
            .map_err(|source| BatchError::HeaderRow {
                path: in_name.clone(),
                problem: source,
            })?,
        Columns::Named(names) => names.clone(),
        Columns::Bundle => bundle_columns(scorer.bundle()),
    };
    let layout = Layout::new(scorer, header, &in_name)?;
    Ok((InputReader::Csv(Box::new(reader)), layout, size))
}

/// Rows read, scored and refused by [`scan_stream`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ScanSummary {
    pub rows_in: usize,
    pub scored: usize,
    pub rejected: usize,
}

/// Read and score `input` exactly as [`score_stream`] does, but write nothing: each
/// scored record is shown to `visit` (on any thread, in no set order). Rows that cannot
/// be scored are only counted.
pub fn scan_stream(
    scorer: &Scorer,
    input: &Stream,
    visit: &(dyn Fn(&str, &Scored) + Sync),
) -> Result<ScanSummary, BatchError> {
    let (reader, layout, _) = open_input(scorer, input, &InputSpec::default())?;
    let (chunks, inbox) = mpsc::sync_channel::<std::io::Result<Chunk>>(IN_FLIGHT);
    let (recycle_chunk, recycled_chunks) = pool::<Chunk>();
    let mut summary = ScanSummary::default();
    std::thread::scope(|scope| -> Result<(), BatchError> {
        scope.spawn(move || read_chunks(reader, chunks, recycled_chunks));
        for chunk in inbox {
            let chunk = chunk.map_err(|source| BatchError::Read {
                path: input.name(),
                source,
            })?;
            let scored: usize = chunk
                .rows()
                .par_chunks(256)
                .map(|rows| {
                    let visit = |_: &mut (), _: &Row, id: Cow<str>, s: &Scored| visit(&id, s);
                    for_each_scored(scorer, &layout, rows, &mut (), |_, _, _| {}, visit).scored
                })
                .sum();
            summary.rows_in += chunk.len;
            summary.scored += scored;
            summary.rejected += chunk.len - scored;
            let _ = recycle_chunk.send(chunk);
        }
        drop(recycle_chunk); // moved in: any return hangs up, so the reader ends
        Ok(())
    })?;
    Ok(summary)
}

/// Score a chunk on all cores, a few parts per core, in input order.
fn score_chunk(
    scorer: &Scorer,
    layout: &Layout,
    rows: &[Row],
    format: Format,
    slots: Option<&SlotMap>,
    extras: Extras,
    parts: &mut Vec<Part>,
) {
    let part_rows = rows
        .len()
        .div_ceil(rayon::current_num_threads() * 16)
        .max(64);
    parts.resize_with(rows.len().div_ceil(part_rows), Part::default);
    rows.par_chunks(part_rows)
        .zip(parts.par_iter_mut())
        .for_each(|(rows, part)| score_part(scorer, layout, rows, format, slots, extras, part));
}

/// The reader thread: chunks of rows, until the input ends, the scorer side hangs up,
/// or reading fails.
fn read_chunks<R: BufRead>(
    mut reader: InputReader<R>,
    chunks: mpsc::SyncSender<std::io::Result<Chunk>>,
    recycled: mpsc::Receiver<Chunk>,
) {
    let mut number = 0;
    // Small chunks first, so scoring starts while the reader is still warming up.
    let mut rows = FIRST_CHUNK_ROWS;
    loop {
        let Ok(mut chunk) = recycled.recv() else {
            return;
        };
        chunk.len = 0;
        let mut bytes = 0;
        while chunk.len < rows && bytes < CHUNK_BYTES {
            if chunk.rows.len() == chunk.len {
                chunk.rows.push(Row::default());
            }
            let row = &mut chunk.rows[chunk.len];
            match reader.read(&mut row.record) {
                Ok(RowRead::End) => break,
                Ok(RowRead::Row) => row.error = None,
                Ok(RowRead::Bad(reason)) => row.error = Some(reason),
                Err(e) => {
                    let _ = chunks.send(Err(e));
                    return;
                }
            }
            row.line = row.record.line();
            bytes += row.record.as_slice().len();
            number += 1;
            row.number = number;
            chunk.len += 1;
        }
        chunk.bytes_read = reader.bytes_read();
        rows = (rows * 2).min(CHUNK_ROWS);
        if chunk.len == 0 || chunks.send(Ok(chunk)).is_err() {
            return;
        }
    }
}

/// Score and format a slice of rows: answers as bytes into the part (cleared first),
/// failures as rejects. Writing into a Vec cannot fail.
fn score_part(
    scorer: &Scorer,
    layout: &Layout,
    rows: &[Row],
    format: Format,
    slots: Option<&SlotMap>,
    extras: Extras,
    part: &mut Part,
) {
    let campaign = extras.campaign;
    part.bytes.clear();
    part.rejects.clear();
    part.contacts.clear();
    let contact = |contacts: &mut Vec<Contact>, id: &str, scored: &Scored| {
        let run = campaign?;
        let contact = Contact::new(scorer, &run.campaign, id, scored, &run.at);
        let arm = contact.arm;
        contacts.push(contact);
        Some((run, arm))
    };
    part.drift.0.clear();
    part.drift.0.resize(slots.map_or(0, SlotMap::len), 0);
    // Last in a row's writing: a panic before it leaves nothing counted for the row.
    let count = |drift: &mut Vec<u64>, scored: &Scored| {
        if let Some(slots) = slots {
            let probability = scored.risk.map(|r| r.probability);
            slots.record(scored.values(), scored.segment, probability, |slot| {
                drift[slot] += 1
            });
        }
    };
    let reject =
        |part: &mut Part, row: &Row, reason| part.rejects.push((row.line, reason, describe(row)));
    let tally = match format {
        Format::Csv => {
            let mut field = String::new();
            for_each_scored(scorer, layout, rows, part, reject, |part, _, id, scored| {
                let out = &mut part.bytes;
                scorer.write_csv(out, &id, scored, &mut field);
                if let Some(decider) = extras.decider {
                    append_next_best_action(out, scorer, decider, &id, scored);
                }
                if let Some((run, arm)) = contact(&mut part.contacts, &id, scored) {
                    append_arm(out, &run.name_csv, arm);
                }
                if layout.mark_rejects {
                    end_unmarked(out);
                }
                count(&mut part.drift.0, scored);
            })
        }
        Format::Jsonl => {
            for_each_scored(scorer, layout, rows, part, reject, |part, _, id, scored| {
                let arm = contact(&mut part.contacts, &id, scored);
                let mut answer = scorer.answer(id, scored);
                answer.contact = arm.map(|(run, arm)| {
                    Box::new(crate::outcomes::contacts::ContactArm {
                        campaign: run.campaign.name().to_string(),
                        arm,
                    })
                });
                let _ = serde_json::to_writer(&mut part.bytes, &answer);
                part.bytes.push(b'\n');
                count(&mut part.drift.0, scored);
            })
        }
    };
    part.scored = tally.scored;
}

/// What a run adds to each scored row besides the answers.
#[derive(Clone, Copy)]
struct Extras<'r> {
    campaign: Option<&'r CampaignRun>,
    decider: Option<&'r Decider>,
}

/// Replace the line end of the row just written with the best action's name and
/// expected value (empty when no action is eligible).
fn append_next_best_action(
    out: &mut Vec<u8>,
    scorer: &Scorer,
    decider: &Decider,
    id: &str,
    scored: &Scored,
) {
    let best = decider.best_for_scored(scorer, id, scored);
    out.pop();
    out.push(b',');
    if let Some(best) = best {
        out.extend_from_slice(crate::score::csv_field(&best.action).as_bytes());
        out.push(b',');
        out.extend_from_slice(crate::numfmt::fixed(best.expected_value, 2).as_bytes());
    } else {
        out.push(b',');
    }
    out.push(b'\n');
}

/// The header of a campaign run: the scored columns, then `campaign` and `arm`.
fn append_arm_header(out: &mut Vec<u8>) {
    out.pop();
    out.extend_from_slice(b",campaign,arm\n");
}

/// The CSV header line: the scored columns, the next best action when actions are
/// given, `campaign,arm` for a campaign run, and `_rejected,_record` when rejects are
/// marked in the output.
fn csv_header(scorer: &Scorer, with_actions: bool, with_arm: bool, mark_rejects: bool) -> Vec<u8> {
    let mut header = Vec::new();
    scorer.write_csv_header(&mut header);
    if with_actions {
        header.pop();
        header.extend_from_slice(b",next_best_action,next_best_action_value\n");
    }
    if with_arm {
        append_arm_header(&mut header);
    }
    if mark_rejects {
        header.pop();
        header.extend_from_slice(b",_rejected,_record\n");
    }
    header
}

/// Fields in one CSV line.
fn count_fields(line: &[u8]) -> usize {
    let mut reader = RecordReader::new(line);
    let mut record = Record::default();
    match reader.read(&mut record) {
        Ok(_) => record.len(),
        Err(_) => 0,
    }
}

/// Replace the line end of the row just written with `,campaign,arm\n`.
fn append_arm(out: &mut Vec<u8>, campaign_csv: &str, arm: Arm) {
    out.pop();
    out.push(b',');
    out.extend_from_slice(campaign_csv.as_bytes());
    out.push(b',');
    out.extend_from_slice(arm.as_str().as_bytes());
    out.push(b'\n');
}

/// End the row just written with the empty `_rejected,_record` fields of a scored row.
fn end_unmarked(out: &mut Vec<u8>) {
    out.pop();
    out.extend_from_slice(b",,\n");
}

/// A row [`MarkedRows::score`] has just scored, for what the caller does beside the
/// answer (the service's drift window and shadow scoring).
pub struct RowSeen<'r> {
    id: &'r str,
    header: &'r [String],
    record: &'r Record,
}

impl RowSeen<'_> {
    /// The customer's id (the row number where the body has no id column).
    pub fn id(&self) -> &str {
        self.id
    }

    /// The row as a JSON object of column name → cell text, every value a string (as
    /// a client posting the CSV's cells as JSON would send them).
    pub fn to_json(&self) -> serde_json::Value {
        let fields = self
            .header
            .iter()
            .zip(self.record.iter())
            .map(|(name, cell)| {
                let text = String::from_utf8_lossy(cell).into_owned();
                (name.clone(), serde_json::Value::String(text))
            });
        serde_json::Value::Object(fields.collect())
    }
}

/// What a [`MarkedRows`] scored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MarkedSummary {
    pub rows_in: usize,
    pub rejected: usize,
    /// Rows rejected because scoring them panicked (a bug, never bad input).
    pub panicked: usize,
}

/// A CSV held in memory (a request body, called `name` in errors), scored into `out` as
/// `custscore score --rejects -` writes it: the same header rules and per-row errors,
/// the same columns and row writer, and every row in input order, one that cannot be
/// scored marked in the `_rejected` (line and reason) and `_record` columns. More than
/// `max_rows` rows is an error. Rows are scored a few at a time: the HTTP route hands
/// its worker to other connections between them.
pub struct MarkedRows {
    layout: Layout,
    rows: Vec<Row>,
    /// Rows scored (or rejected) so far.
    done: usize,
    sink: RejectSink,
    tally: Tally,
}

impl MarkedRows {
    /// Read the header and every row of `body`, and write the answer's header to `out`.
    pub fn read(
        scorer: &Scorer,
        name: &Path,
        body: &[u8],
        max_rows: usize,
        out: &mut Vec<u8>,
    ) -> Result<Self, BatchError> {
        let path = || name.to_path_buf();
        // Counting the header's fields reads it with a reader of its own: made before the
        // body's, it hands that one its csv_core reader (see `RecordReader::new`).
        let header = csv_header(scorer, false, false, true);
        let sink = RejectSink::CsvRows {
            empty_fields: count_fields(&header) - 2,
        };
        let mut reader = RecordReader::new(body);
        let columns = csv_input::read_header(&mut reader)
            .map_err(|source| BatchError::Read {
                path: path(),
                source,
            })?
            .map_err(|problem| BatchError::HeaderRow {
                path: path(),
                problem,
            })?;
        let mut layout = Layout::new(scorer, columns, name)?;
        layout.mark_rejects = true;
        let mut reader = InputReader::Csv(Box::new(reader));
        let rows = read_all_rows(&mut reader, max_rows).map_err(|e| match e {
            None => BatchError::TooManyRows {
                path: path(),
                limit: max_rows,
            },
            Some(source) => BatchError::Read {
                path: path(),
                source,
            },
        })?;
        out.extend_from_slice(&header);
        Ok(MarkedRows {
            layout,
            rows,
            done: 0,
            sink,
            tally: Tally::default(),
        })
    }

    /// Score the next `n` rows into `out` (with the `scorer` they were read for); `false`
    /// once every row is done.
    pub fn score(
        &mut self,
        scorer: &Scorer,
        n: usize,
        out: &mut Vec<u8>,
        mut seen: impl FnMut(&Scored, &RowSeen),
    ) -> bool {
        let end = self.done.saturating_add(n).min(self.rows.len());
        let rows = &self.rows[self.done..end];
        let mut field = String::new();
        let sink = &self.sink;
        let reject = |out: &mut Vec<u8>, row: &Row, reason: String| {
            out.extend_from_slice(&marked_reject(sink, row.line, &reason, &describe(row)));
        };
        let header = &self.layout.header;
        // A panic in `seen` rejects the row too, its answer cut back.
        let tally = for_each_scored(
            scorer,
            &self.layout,
            rows,
            out,
            reject,
            |out, row, id, scored| {
                scorer.write_csv(out, &id, scored, &mut field);
                end_unmarked(out);
                let record = &row.record;
                seen(
                    scored,
                    &RowSeen {
                        id: &id,
                        header,
                        record,
                    },
                );
            },
        );
        self.tally.scored += tally.scored;
        self.tally.panicked += tally.panicked;
        self.done = end;
        end < self.rows.len()
    }

    pub fn summary(&self) -> MarkedSummary {
        MarkedSummary {
            rows_in: self.rows.len(),
            rejected: self.done - self.tally.scored,
            panicked: self.tally.panicked,
        }
    }
}

/// Every row left in `reader`, numbered; `Err(None)` past `max_rows`.
fn read_all_rows<R: BufRead>(
    reader: &mut InputReader<R>,
    max_rows: usize,
) -> Result<Vec<Row>, Option<std::io::Error>> {
    let mut rows = Vec::new();
    loop {
        let mut row = Row::default();
        row.error = match reader.read(&mut row.record).map_err(Some)? {
            RowRead::End => return Ok(rows),
            RowRead::Row => None,
            RowRead::Bad(reason) => Some(reason),
        };
        if rows.len() == max_rows {
            return Err(None);
        }
        row.line = row.record.line();
        row.number = rows.len() + 1;
        rows.push(row);
    }
}

/// Where a scored row's drift counts go, when the bundle carries a training profile.
fn drift_slots(scorer: &Scorer) -> Option<SlotMap> {
    let reference = scorer.bundle().drift.clone()?;
    Some(SlotMap::new(reference, &scorer.bundle().encoder))
}

/// How many rows [`for_each_scored`] scored, and how many of the rest panicked.
#[derive(Debug, Clone, Copy, Default)]
struct Tally {
    scored: usize,
    panicked: usize,
}

/// Where a run writes its answers row by row. A row whose scoring or writing panics is
/// rejected, and what it had written is cut back first: a half-written row must not
/// reach the output beside its reject.
trait RowsOut {
    type Mark: Copy;
    /// Where the rows written so far end.
    fn mark(&self) -> Self::Mark;
    /// Drop what was written after `mark`.
    fn cut_back(&mut self, mark: Self::Mark);
}

/// Nothing kept (a scan that only visits the answers).
impl RowsOut for () {
    type Mark = ();
    fn mark(&self) {}
    fn cut_back(&mut self, _: ()) {}
}

impl RowsOut for Vec<u8> {
    type Mark = usize;
    fn mark(&self) -> usize {
        self.len()
    }
    fn cut_back(&mut self, mark: usize) {
        self.truncate(mark);
    }
}

/// A part's bytes and the contacts its rows made (drift counts come last in a row).
impl RowsOut for Part {
    type Mark = (usize, usize);
    fn mark(&self) -> (usize, usize) {
        (self.bytes.len(), self.contacts.len())
    }
    fn cut_back(&mut self, (bytes, contacts): (usize, usize)) {
        self.bytes.truncate(bytes);
        self.contacts.truncate(contacts);
    }
}

/// Score each row with one scratch, hand every answer to `write` and every failure to
/// `reject`, in row order, both writing into `out`.
fn for_each_scored<'a, O: RowsOut>(
    scorer: &Scorer,
    layout: &Layout,
    rows: &'a [Row],
    out: &mut O,
    mut reject: impl FnMut(&mut O, &'a Row, String),
    mut write: impl FnMut(&mut O, &'a Row, Cow<'a, str>, &Scored),
) -> Tally {
    let mut scratch = Scratch::default();
    let mut tally = Tally::default();
    for row in rows {
        let whole = out.mark();
        let mut panicked = false;
        let result = guarded(&mut panicked, || {
            read_row(scorer, layout, row, &mut scratch.values).and_then(|id| {
                let answer = scorer
                    .score_bought_into(&mut scratch, Bought::Customer(&id))
                    .map_err(|e| e.to_string())?;
                write(out, row, id, &answer);
                Ok(())
            })
        });
        if panicked {
            out.cut_back(whole);
            // The scratch may be half-updated: start the next row from a fresh one.
            scratch = Scratch::default();
            tally.panicked += 1;
        }
        match result {
            Ok(()) => tally.scored += 1,
            Err(reason) => reject(out, row, reason),
        }
    }
    tally
}

thread_local! {
    /// Set while a row is scored under [`guarded`]: its panic is reported in the
    /// rejects file, so the panic hook stays quiet instead of printing once per row.
    static GUARDED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    /// Where the last guarded panic happened, for the reject reason.
    static PANIC_AT: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
}

/// Install (once) a panic hook that records the location of panics under [`guarded`]
/// and passes every other panic to the previous hook.
fn quiet_guarded_panics() {
    static INSTALL: std::sync::Once = std::sync::Once::new();
    INSTALL.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if GUARDED.with(|g| g.get()) {
                let at = info
                    .location()
                    .map(|l| format!("{}:{}", l.file(), l.line()))
                    .unwrap_or_default();
                PANIC_AT.with(|p| *p.borrow_mut() = at);
            } else {
                previous(info);
            }
        }));
    });
}

/// Run one row's work so that a panic (a bug, never bad input) rejects that row with
/// "internal error while scoring: ..." instead of ending the run; `panicked` tells the
/// caller to drop state the work may have left half-updated.
fn guarded<T>(panicked: &mut bool, work: impl FnOnce() -> Result<T, String>) -> Result<T, String> {
    quiet_guarded_panics();
    let was = GUARDED.with(|g| g.replace(true));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(work));
    GUARDED.with(|g| g.set(was));
    result.unwrap_or_else(|payload| {
        *panicked = true;
        let message = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "panic without a message".into());
        let at = PANIC_AT.with(|p| std::mem::take(&mut *p.borrow_mut()));
        let at = if at.is_empty() {
            at
        } else {
            format!(" (at {at})")
        };
        Err(format!("internal error while scoring: {message}{at}"))
    })
}

/// Put one row's values (one per scorer input, in order) into `values`; returns the
/// customer id, or why the row cannot be scored.
fn read_row<'a>(
    scorer: &Scorer,
    layout: &Layout,
    row: &'a Row,
    values: &mut Vec<Value<'a>>,
) -> Result<Cow<'a, str>, String> {
    if let Some(error) = &row.error {
        return Err(error.clone());
    }
    let record = &row.record;
    if record.len() != layout.header.len() {
        return Err(format!(
            "expected {} fields, found {}",
            layout.header.len(),
            record.len()
        ));
    }
    // One UTF-8 check for the whole row; fields are then cut from it (a field cut
    // through a character, or a row that fails, is checked field by field for the
    // message).
    let text = std::str::from_utf8(record.as_slice()).ok();
    let cell = |i: usize| {
        let field = record.range(i).and_then(|r| text?.get(r));
        field
            .map_or_else(|| std::str::from_utf8(&record[i]), Ok)
            .map_err(|_| {
                format!(
                    "column {} (`{}`): value is not valid UTF-8",
                    i + 1,
                    layout.header[i]
                )
            })
    };
    values.clear();
    for at in &layout.inputs {
        values.push(match at {
            Some(i) => Value::Text(Cow::Borrowed(cell(*i)?)),
            None => Value::Missing,
        });
    }
    match layout.id {
        Some(i) => scorer
            .record_id(Some(cell(i)?))
            .map(Cow::Borrowed)
            .map_err(|e| format!("column {}: {e}", i + 1)),
        None => Ok(Cow::Owned(row.number.to_string())),
    }
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
        None,
        None,
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

/// Line number and the row as text, for the rejects file.
fn describe(row: &Row) -> String {
    row.record
        .iter()
        .map(String::from_utf8_lossy)
        .collect::<Vec<_>>()
        .join(",")
}

/// Where the writer puts rejected rows.
enum RejectSink {
    File {
        csv: Box<csv::Writer<Output>>,
        path: PathBuf,
    },
    /// Into CSV output: `empty_fields` empty fields, then `_rejected` and `_record`.
    CsvRows { empty_fields: usize },
    /// Into JSON Lines output.
    JsonLines,
}

impl RejectSink {
    fn file(path: &Path) -> Result<Self, BatchError> {
        let mut csv = csv::Writer::from_writer(Output::create(&Stream::File(path.to_path_buf()))?);
        csv.write_record(["line", "reason", "record"])
            .map_err(|e| write_error(path, e))?;
        Ok(RejectSink::File {
            csv: Box::new(csv),
            path: path.to_path_buf(),
        })
    }
}

/// A rejected row as one line of the output stream.
fn marked_reject(sink: &RejectSink, line: u64, reason: &str, raw: &str) -> Vec<u8> {
    let mut out = Vec::new();
    match sink {
        RejectSink::CsvRows { empty_fields } => {
            out.resize(*empty_fields, b',');
            out.extend_from_slice(
                crate::score::csv_field(&format!("line {line}: {reason}")).as_bytes(),
            );
            out.push(b',');
            out.extend_from_slice(crate::score::csv_field(raw).as_bytes());
        }
        _ => {
            let marked = serde_json::json!({
                "_rejected": {"line": line, "reason": reason, "record": raw}
            });
            let _ = serde_json::to_writer(&mut out, &marked);
        }
    }
    out.push(b'\n');
    out
}

/// The output and rejects files, written by their own thread while the next chunk is
/// scored.
struct Writer<'s> {
    out: Output,
    rejects: RejectSink,
    scored: usize,
    rejected: usize,
    /// Where contacts go (one transaction per batch of parts).
    store: Option<&'s mut dyn Store>,
    contacts: ContactCounts,
}

impl<'s> Writer<'s> {
    fn create(
        output: &Stream,
        rejects: RejectSink,
        store: Option<&'s mut dyn Store>,
    ) -> Result<Self, BatchError> {
        let out = Output::create(output)?;
        Ok(Writer {
            out,
            rejects,
            scored: 0,
            rejected: 0,
            store,
            contacts: ContactCounts::default(),
        })
    }

    /// Record the contacts of a batch of parts in one transaction.
    fn record_contacts(&mut self, batch: &[Part]) -> Result<(), BatchError> {
        let Some(store) = self.store.as_deref_mut() else {
            return Ok(());
        };
        let contacts: Vec<Contact> = batch
            .iter()
            .flat_map(|p| p.contacts.iter().cloned())
            .collect();
        for c in &contacts {
            match c.arm {
                Arm::Treatment => self.contacts.treatment += 1,
                Arm::Control => self.contacts.control += 1,
            }
        }
        self.contacts.new += store.record_contacts(&contacts)?;
        Ok(())
    }

    /// Write parts as they come, in order, handing each batch back for reuse, until the
    /// scorers hang up.
    fn write_parts(
        mut self,
        parts: mpsc::Receiver<Vec<Part>>,
        recycle: mpsc::SyncSender<Vec<Part>>,
    ) -> Result<Self, BatchError> {
        for batch in parts {
            self.record_contacts(&batch)?;
            for part in &batch {
                self.scored += part.scored;
                self.out.write_all(&part.bytes)?;
                for (line, reason, raw) in &part.rejects {
                    self.rejected += 1;
                    match &mut self.rejects {
                        RejectSink::File { csv, path } => csv
                            .write_record([line.to_string().as_str(), reason, raw])
                            .map_err(|e| write_error(path, e))?,
                        sink => {
                            let marked = marked_reject(sink, *line, reason, raw);
                            self.out.write_all(&marked)?;
                        }
                    }
                }
            }
            let _ = recycle.send(batch);
        }
        Ok(self)
    }

    /// Flush both files and move them to their names; returns rows scored, rejected and
    /// the contacts recorded.
    fn finish(self) -> Result<(usize, usize, ContactCounts), BatchError> {
        self.out.finish()?;
        if let RejectSink::File { csv, path } = self.rejects {
            let rejects = (*csv)
                .into_inner()
                .map_err(|e| write_error(&path, csv::Error::from(e.into_error())))?;
            rejects.finish()?;
        }
        Ok((self.scored, self.rejected, self.contacts))
    }
}

/// A device, pipe or socket (`/dev/null`, a named pipe): written in place, because
/// renaming a finished file over it would replace it.
pub(crate) fn is_special_file(path: &Path) -> bool {
    fs::metadata(path).is_ok_and(|m| !m.is_file() && !m.is_dir())
}

/// A destination written in full before it appears: a temp file renamed at the end, a
/// device or pipe written in place, or standard output.
struct Output {
    target: Stream,
    writer: BufWriter<Box<dyn Write + Send>>,
    temp: Option<tempfile::TempPath>,
}

impl Output {
    fn create(target: &Stream) -> Result<Self, BatchError> {
        let (sink, temp): (Box<dyn Write + Send>, _) = match target {
            Stream::Std => (Box::new(std::io::stdout()), None),
            Stream::File(path) if is_special_file(path) => {
                let file = fs::OpenOptions::new()
                    .write(true)
                    .open(path)
                    .map_err(|source| BatchError::Write {
                        path: path.clone(),
                        source,
                    })?;
                (Box::new(file), None)
            }
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
            // Smaller than a scored part, so parts go straight to the file; the buffer
            // only gathers the header and rejects.
            writer: BufWriter::with_capacity(OUTPUT_BUFFER, sink),
            temp,
        })
    }

    fn write_all(&mut self, bytes: &[u8]) -> Result<(), BatchError> {
        self.writer
            .write_all(bytes)
            .map_err(|source| BatchError::Write {
                path: self.target.name(),
                source,
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

impl Write for Output {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.writer.write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.writer.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_while_scoring_becomes_an_error_for_that_row() {
        let mut panicked = false;
        let result: Result<(), String> = guarded(&mut panicked, || panic!("index out of bounds"));
        let reason = result.unwrap_err();
        assert!(panicked);
        assert!(
            reason
                .starts_with("internal error while scoring: index out of bounds (at src/batch.rs:"),
            "{reason}"
        );
        let mut panicked = false;
        let n = 7;
        let result: Result<(), String> = guarded(&mut panicked, || panic!("row {n}"));
        assert!(result.unwrap_err().contains("row 7"));
        // Work that does not panic passes its result through.
        let mut panicked = false;
        assert_eq!(guarded(&mut panicked, || Ok(3)), Ok(3));
        assert_eq!(
            guarded::<()>(&mut panicked, || Err("bad".into())),
            Err("bad".into())
        );
        assert!(!panicked);
    }

    /// The first `lines` lines of the telco fixture (its header, then rows).
    fn telco_head(lines: usize) -> String {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/telco_400.csv");
        let text = std::fs::read_to_string(path).unwrap();
        text.lines().take(lines).map(|l| format!("{l}\n")).collect()
    }

    /// The CLI's parts: a row that panics half-written leaves neither its bytes nor the
    /// contact it made, and is rejected with the panic's message.
    #[test]
    fn a_row_whose_writing_panics_leaves_neither_its_bytes_nor_its_contact() {
        let scorer = crate::score::telco_400_scorer();
        let body = telco_head(4);
        let marked = MarkedRows::read(
            &scorer,
            "body".as_ref(),
            body.as_bytes(),
            10,
            &mut Vec::new(),
        )
        .unwrap();
        let campaign = crate::outcomes::Campaign::new("spring", 0.5).unwrap();
        let mut part = Part::default();
        let mut field = String::new();
        let mut n = 0;
        let reject = |part: &mut Part, row: &Row, reason| {
            part.rejects.push((row.line, reason, describe(row)))
        };
        let tally = for_each_scored(
            &scorer,
            &marked.layout,
            &marked.rows,
            &mut part,
            reject,
            |part, _, id, scored| {
                n += 1;
                scorer.write_csv(&mut part.bytes, &id, scored, &mut field);
                let at = "2026-12-07T00:00:00Z";
                part.contacts
                    .push(Contact::new(&scorer, &campaign, &id, scored, at));
                if n == 2 {
                    panic!("a bug in row two");
                }
            },
        );
        assert_eq!((tally.scored, tally.panicked), (2, 1));
        let written = String::from_utf8(part.bytes).unwrap();
        assert_eq!(written.lines().count(), 2, "{written}");
        let ids: Vec<&str> = part
            .contacts
            .iter()
            .map(|c| c.customer_id.as_str())
            .collect();
        let rows: Vec<&str> = body.lines().skip(1).collect();
        assert!(
            rows[0].starts_with(ids[0]) && rows[2].starts_with(ids[1]),
            "{ids:?}"
        );
        assert_eq!(part.rejects.len(), 1);
        let (line, reason, _) = &part.rejects[0];
        assert_eq!(*line, 3);
        assert!(
            reason.contains("internal error while scoring: a bug in row two"),
            "{reason}"
        );
    }

    #[test]
    fn a_row_that_panics_in_a_marked_csv_is_rejected_in_place_and_counted() {
        let scorer = crate::score::telco_400_scorer();
        let body = telco_head(4);
        let mut out = Vec::new();
        let mut seen = 0;
        let mut rows =
            MarkedRows::read(&scorer, "body".as_ref(), body.as_bytes(), 10, &mut out).unwrap();
        rows.score(&scorer, usize::MAX, &mut out, |_, _| {
            seen += 1;
            if seen == 2 {
                panic!("a bug in row two");
            }
        });
        let summary = rows.summary();
        assert_eq!(
            (summary.rows_in, summary.rejected, summary.panicked),
            (3, 1, 1)
        );
        let answer = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = answer.lines().collect();
        assert_eq!(lines.len(), 4, "{answer}");
        assert!(
            lines[2].contains("line 3: internal error while scoring: a bug in row two"),
            "{answer}"
        );
        assert!(!lines[3].contains("internal error"), "{answer}");
    }
}
