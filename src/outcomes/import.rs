//! Outcome events, or contacts made outside custscore, from a file: CSV (a header naming
//! the fields) or JSON Lines (one object per line), chosen by the extension or, failing
//! that, by the first character. Good items are stored in batches, one transaction
//! each; bad ones are reported with their line and field.

use super::contact_input::contact_from_csv;
use super::contact_input::contact_from_json;
use super::contacts::Contact;
use super::events::{self, Event, EventError, EventInput, Field};
use super::store::{Store, StoreError, INSERT_CHUNK};
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{}: cannot read", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: line 1: {message}", path.display())]
    Header { path: PathBuf, message: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What an import did; `errors` keeps the first [`KEPT_ERRORS`] refusals.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct ImportSummary {
    pub read: usize,
    pub stored: usize,
    pub duplicates: usize,
    pub refused: usize,
    pub errors: Vec<EventError>,
}

pub const KEPT_ERRORS: usize = 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileFormat {
    Csv,
    JsonLines,
}

/// By extension (.csv, .jsonl, .ndjson, .json), else by the first non-blank byte.
fn format_of(path: &Path, first: Option<u8>) -> FileFormat {
    let name = path.to_string_lossy().to_ascii_lowercase();
    if name.ends_with(".csv") {
        return FileFormat::Csv;
    }
    if [".jsonl", ".ndjson", ".json"]
        .iter()
        .any(|e| name.ends_with(e))
    {
        return FileFormat::JsonLines;
    }
    match first {
        Some(b'{') => FileFormat::JsonLines,
        _ => FileFormat::Csv,
    }
}

/// What a file can hold: how one CSV record or JSON line becomes an item, and how a
/// chunk of items is stored (returning how many were new).
pub trait Importable: Sized {
    /// Columns a CSV header must name.
    const REQUIRED: &'static [&'static str];
    fn from_csv(
        header: &[String],
        record: &csv::StringRecord,
        at: &str,
    ) -> Result<Self, EventError>;
    fn from_json(json: &serde_json::Value, at: &str) -> Result<Self, EventError>;
    fn store(store: &mut dyn Store, items: &[Self]) -> Result<usize, StoreError>;
}

impl Importable for Event {
    const REQUIRED: &'static [&'static str] = &["campaign", "customer_id", "type", "time"];

    fn from_csv(
        header: &[String],
        record: &csv::StringRecord,
        at: &str,
    ) -> Result<Self, EventError> {
        let input: EventInput = header
            .iter()
            .zip(record.iter())
            .filter(|(_, cell)| !cell.trim().is_empty())
            .map(|(name, cell)| (name.clone(), Field::Text(cell.trim().to_string())))
            .collect();
        events::check(&input, at)
    }

    fn from_json(json: &serde_json::Value, at: &str) -> Result<Self, EventError> {
        events::input_from_json(json, at).and_then(|input| events::check(&input, at))
    }

    fn store(store: &mut dyn Store, items: &[Self]) -> Result<usize, StoreError> {
        Ok(store.record_events(items)?.len())
    }
}

impl Importable for Contact {
    const REQUIRED: &'static [&'static str] =
        &["campaign", "customer_id", "time", "arm", "model_version"];

    fn from_csv(
        header: &[String],
        record: &csv::StringRecord,
        at: &str,
    ) -> Result<Self, EventError> {
        contact_from_csv(header, record, at)
    }

    fn from_json(json: &serde_json::Value, at: &str) -> Result<Self, EventError> {
        contact_from_json(json, at)
    }

    fn store(store: &mut dyn Store, items: &[Self]) -> Result<usize, StoreError> {
        store.record_contacts(items)
    }
}

/// Import the events in `path` into `store`.
pub fn import_file(store: &mut dyn Store, path: &Path) -> Result<ImportSummary, ImportError> {
    import::<Event>(store, path)
}

/// Import the contacts in `path` (made outside custscore) into `store`; a contact already
/// stored for its campaign and customer keeps the first one.
pub fn import_contacts_file(
    store: &mut dyn Store,
    path: &Path,
) -> Result<ImportSummary, ImportError> {
    import::<Contact>(store, path)
}

fn import<T: Importable>(store: &mut dyn Store, path: &Path) -> Result<ImportSummary, ImportError> {
    let read_error = |source| ImportError::Read {
        path: path.to_path_buf(),
        source,
    };
    let mut reader = BufReader::new(File::open(path).map_err(read_error)?);
    let first = reader
        .fill_buf()
        .map_err(read_error)?
        .iter()
        .copied()
        .find(|b| !b.is_ascii_whitespace());
    let mut batch = Batch::<T>::new(store);
    match format_of(path, first) {
        FileFormat::Csv => read_csv(reader, path, &mut batch)?,
        FileFormat::JsonLines => read_json_lines(reader, path, &mut batch)?,
    }
    batch.finish()
}

/// Items gathered until a chunk is full, then stored in one transaction.
struct Batch<'s, T> {
    store: &'s mut dyn Store,
    pending: Vec<T>,
    summary: ImportSummary,
}

impl<'s, T: Importable> Batch<'s, T> {
    fn new(store: &'s mut dyn Store) -> Self {
        Batch {
            store,
            pending: Vec::with_capacity(INSERT_CHUNK),
            summary: ImportSummary::default(),
        }
    }

    fn push(&mut self, event: Result<T, EventError>) -> Result<(), StoreError> {
        self.summary.read += 1;
        match event {
            Ok(event) => self.pending.push(event),
            Err(error) => {
                self.summary.refused += 1;
                if self.summary.errors.len() < KEPT_ERRORS {
                    self.summary.errors.push(error);
                }
            }
        }
        if self.pending.len() >= INSERT_CHUNK {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), StoreError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let new = T::store(self.store, &self.pending)?;
        self.summary.stored += new;
        self.summary.duplicates += self.pending.len().saturating_sub(new);
        self.pending.clear();
        Ok(())
    }

    fn finish(mut self) -> Result<ImportSummary, ImportError> {
        self.flush()?;
        Ok(self.summary)
    }
}

fn read_csv<T: Importable>(
    reader: impl Read,
    path: &Path,
    batch: &mut Batch<T>,
) -> Result<(), ImportError> {
    let mut csv = csv::ReaderBuilder::new().flexible(true).from_reader(reader);
    let header: Vec<String> = csv
        .headers()
        .map_err(|e| ImportError::Header {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?
        .iter()
        .map(|h| h.trim().trim_start_matches('\u{feff}').to_string())
        .collect();
    for &required in T::REQUIRED {
        if !header.iter().any(|h| h == required) {
            return Err(ImportError::Header {
                path: path.to_path_buf(),
                message: format!(
                    "no column named `{required}`; columns are: {}",
                    header.join(", ")
                ),
            });
        }
    }
    let mut record = csv::StringRecord::new();
    loop {
        let line = csv.position().line();
        let at = format!("line {line}");
        match csv.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) if record.len() != header.len() => batch.push(Err(EventError {
                at,
                field: None,
                message: format!("expected {} fields, found {}", header.len(), record.len()),
            }))?,
            Ok(true) => batch.push(T::from_csv(&header, &record, &at))?,
            Err(e) if e.is_io_error() => {
                return Err(ImportError::Read {
                    path: path.to_path_buf(),
                    source: std::io::Error::other(e.to_string()),
                })
            }
            // Invalid UTF-8 and the like cost one record.
            Err(e) => batch.push(Err(EventError {
                at,
                field: None,
                message: e.to_string(),
            }))?,
        }
    }
    Ok(())
}

fn read_json_lines<T: Importable>(
    reader: impl BufRead,
    path: &Path,
    batch: &mut Batch<T>,
) -> Result<(), ImportError> {
    let mut line = Vec::new();
    let mut reader = reader;
    let mut number = 0;
    loop {
        line.clear();
        let n = reader
            .read_until(b'\n', &mut line)
            .map_err(|source| ImportError::Read {
                path: path.to_path_buf(),
                source,
            })?;
        if n == 0 {
            break;
        }
        number += 1;
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let at = format!("line {number}");
        let event = serde_json::from_slice::<serde_json::Value>(&line)
            .map_err(|e| EventError {
                at: at.clone(),
                field: None,
                message: format!("invalid JSON: {e}"),
            })
            .and_then(|json| T::from_json(&json, &at));
        batch.push(event)?;
    }
    Ok(())
}
