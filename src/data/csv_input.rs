//! One way into every CSV the project reads — customer tables for training, batch files
//! for scoring, order logs and basket files: the same opening (gzip found by its magic
//! bytes, not its name), the same header rules (UTF-8 BOM stripped; blank, duplicate or
//! non-UTF-8 names refused with their column number) and the same record reader.
//!
//! The record reader is csv_core with a bound: a record may take at most
//! [`MAX_RECORD_BYTES`] of input. An unterminated quote would otherwise read the rest of
//! the file into one record. A record over the bound is reported with the line it starts
//! on, and reading starts again at the next line, so the rows after it are still read.

use sha2::{Digest, Sha256};
use std::io::{self, BufRead, BufReader, Read};
use std::ops::Range;
use std::path::Path;

/// The most input one record may take (quotes and line breaks included).
pub const MAX_RECORD_BYTES: usize = 1 << 20;

/// Read buffer for files: large enough that a record rarely straddles two refills.
const BUFFER: usize = 1 << 20;

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// A reader that hashes what is taken from it, so a file is hashed as it streams past.
pub struct Hashed<R> {
    inner: R,
    hasher: Sha256,
}

impl<R: BufRead> Hashed<R> {
    pub fn new(inner: R) -> Self {
        Hashed {
            inner,
            hasher: Sha256::new(),
        }
    }

    /// The sha256 of every byte taken so far, as lowercase hex.
    pub fn sha256_hex(self) -> String {
        let digest = self.hasher.finalize();
        digest.iter().map(|b| format!("{b:02x}")).collect()
    }
}

impl<R: BufRead> Read for Hashed<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = {
            let available = self.fill_buf()?;
            let n = available.len().min(buf.len());
            buf[..n].copy_from_slice(&available[..n]);
            n
        };
        self.consume(n);
        Ok(n)
    }
}

impl<R: BufRead> BufRead for Hashed<R> {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        self.inner.fill_buf()
    }

    fn consume(&mut self, n: usize) {
        // The bytes being consumed are still at the front of the buffer.
        if let Ok(buffer) = self.inner.fill_buf() {
            self.hasher.update(&buffer[..n.min(buffer.len())]);
        }
        self.inner.consume(n);
    }
}

/// Whether a buffered source starts with gzip's magic number.
pub fn is_gzip(source: &mut impl BufRead) -> io::Result<bool> {
    Ok(source.fill_buf()?.starts_with(&GZIP_MAGIC))
}

/// A file read through a large buffer, hashed as it is read.
pub fn open_hashed(path: &Path) -> io::Result<Hashed<BufReader<std::fs::File>>> {
    let file = std::fs::File::open(path)?;
    Ok(Hashed::new(BufReader::with_capacity(BUFFER, file)))
}

/// A gzip stream read through a large buffer.
pub fn gunzipping<R: Read>(compressed: R) -> BufReader<flate2::read::MultiGzDecoder<R>> {
    BufReader::with_capacity(BUFFER, flate2::read::MultiGzDecoder::new(compressed))
}

/// A source to read CSV from, gunzipped when its first bytes are gzip's magic number.
pub fn decompressed(source: Box<dyn Read + Send>) -> io::Result<Box<dyn BufRead + Send>> {
    let mut buffered = BufReader::with_capacity(BUFFER, source);
    let (len, gzip) = {
        let start = buffered.fill_buf()?;
        (start.len(), start.starts_with(&GZIP_MAGIC))
    };
    // A pipe may hand over a single byte first; the magic number needs two.
    if len == 1 {
        let mut head = [0u8; 2];
        let n = buffered.read(&mut head)?;
        let more = buffered.read(&mut head[n..])?;
        let head = head[..n + more].to_vec();
        let gzip = head.starts_with(&GZIP_MAGIC);
        let chained = io::Cursor::new(head).chain(buffered);
        return Ok(if gzip {
            let decoder = flate2::read::MultiGzDecoder::new(chained);
            Box::new(BufReader::with_capacity(BUFFER, decoder))
        } else {
            Box::new(BufReader::with_capacity(BUFFER, chained))
        });
    }
    if gzip {
        let decoder = flate2::read::MultiGzDecoder::new(buffered);
        return Ok(Box::new(BufReader::with_capacity(BUFFER, decoder)));
    }
    Ok(Box::new(buffered))
}

/// Open a file for CSV reading (gzip detected from its content).
pub fn open(path: &Path) -> io::Result<Box<dyn BufRead + Send>> {
    decompressed(Box::new(std::fs::File::open(path)?))
}

/// Why a header row cannot be used. `column` counts from 1.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    #[error("the file is empty (a header row is required)")]
    Empty,
    #[error("column {column}: header is not valid UTF-8")]
    Encoding { column: usize },
    #[error("column {column}: header name is blank")]
    Blank { column: usize },
    #[error("column {column}: header `{name}` appears more than once (first in column {first})")]
    Duplicate {
        column: usize,
        first: usize,
        name: String,
    },
    #[error("the header row is longer than {MAX_RECORD_BYTES} bytes (unterminated quote?)")]
    TooLong,
}

/// Read the header row: names trimmed, a leading UTF-8 BOM dropped; blank, duplicate and
/// non-UTF-8 names refused. I/O errors come back in the outer result.
pub fn read_header<R: BufRead>(
    reader: &mut RecordReader<R>,
) -> io::Result<Result<Vec<String>, HeaderError>> {
    let mut record = Record::default();
    Ok(match reader.read(&mut record)? {
        Next::End => Err(HeaderError::Empty),
        Next::TooLong => Err(HeaderError::TooLong),
        Next::Record => header_names(&record),
    })
}

/// [`read_header`] for the data readers: errors name the file.
pub(crate) fn file_header<R: BufRead>(
    path: &Path,
    reader: &mut RecordReader<R>,
) -> Result<Vec<String>, super::DataError> {
    use super::DataError;
    match read_header(reader) {
        Err(source) => Err(DataError::Open {
            path: path.to_path_buf(),
            source,
        }),
        Ok(Err(HeaderError::Empty)) => Err(DataError::Empty {
            path: path.to_path_buf(),
        }),
        Ok(Err(source)) => Err(DataError::Header {
            path: path.to_path_buf(),
            problem: source,
        }),
        Ok(Ok(names)) => Ok(names),
    }
}

/// The reason given for a record over [`MAX_RECORD_BYTES`].
pub fn too_long_reason() -> String {
    format!(
        "record longer than {MAX_RECORD_BYTES} bytes (unterminated quote?); \
         reading resumed at the next line"
    )
}

fn header_names(record: &Record) -> Result<Vec<String>, HeaderError> {
    let mut names: Vec<String> = Vec::with_capacity(record.len());
    for (i, field) in record.iter().enumerate() {
        let column = i + 1;
        let field = if i == 0 {
            field.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(field)
        } else {
            field
        };
        let name = std::str::from_utf8(field)
            .map_err(|_| HeaderError::Encoding { column })?
            .trim();
        if name.is_empty() {
            return Err(HeaderError::Blank { column });
        }
        if let Some(first) = names.iter().position(|n| n == name) {
            return Err(HeaderError::Duplicate {
                column,
                first: first + 1,
                name: name.to_string(),
            });
        }
        names.push(name.to_string());
    }
    Ok(names)
}

/// One CSV record: its fields (unquoted) and the line it starts on. Reading into the same
/// record again reuses its buffers.
#[derive(Debug, Clone, Default)]
pub struct Record {
    bytes: Vec<u8>,
    ends: Vec<usize>,
    fields: usize,
    line: u64,
}

impl Record {
    /// Number of fields.
    pub fn len(&self) -> usize {
        self.fields
    }

    pub fn is_empty(&self) -> bool {
        self.fields == 0
    }

    /// Line the record starts on (the header is line 1).
    pub fn line(&self) -> u64 {
        self.line
    }

    /// All fields' bytes, back to back.
    pub fn as_slice(&self) -> &[u8] {
        let end = self.fields.checked_sub(1).map_or(0, |last| self.ends[last]);
        &self.bytes[..end]
    }

    /// Where field `i` sits in [`Record::as_slice`].
    pub fn range(&self, i: usize) -> Option<Range<usize>> {
        if i >= self.fields {
            return None;
        }
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        Some(start..self.ends[i])
    }

    pub fn get(&self, i: usize) -> Option<&[u8]> {
        self.range(i).map(|r| &self.bytes[r])
    }

    pub fn iter(&self) -> impl Iterator<Item = &[u8]> + '_ {
        (0..self.fields).filter_map(|i| self.get(i))
    }

    /// Start an empty record on `line`, to be filled by [`Record::push_field`] (rows of
    /// inputs that are not CSV, such as JSON Lines).
    pub fn start(&mut self, line: u64) {
        self.shrink();
        self.bytes.clear();
        self.ends.clear();
        self.fields = 0;
        self.line = line;
    }

    /// Append one field to a record begun with [`Record::start`].
    pub fn push_field(&mut self, field: &[u8]) {
        self.ends.truncate(self.fields);
        self.bytes.truncate(self.ends.last().copied().unwrap_or(0));
        self.bytes.extend_from_slice(field);
        self.ends.push(self.bytes.len());
        self.fields += 1;
    }

    /// A record of one field (the start of an over-long record, for the rejects file).
    fn set_single(&mut self, bytes: &[u8]) {
        self.bytes.clear();
        self.bytes.extend_from_slice(bytes);
        self.ends.clear();
        self.ends.push(bytes.len());
        self.fields = 1;
    }

    /// Give back memory an unusually long record left behind.
    fn shrink(&mut self) {
        const KEEP: usize = 64 * 1024;
        if self.bytes.capacity() > KEEP {
            self.bytes = Vec::new();
        }
        if self.ends.capacity() > KEEP / 8 {
            self.ends = Vec::new();
        }
    }
}

impl std::ops::Index<usize> for Record {
    type Output = [u8];

    fn index(&self, i: usize) -> &[u8] {
        self.get(i).unwrap_or_default()
    }
}

/// What [`RecordReader::read`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// A record was read.
    Record,
    /// The record starting on `record.line()` took more than [`MAX_RECORD_BYTES`]; the
    /// record holds the start of its first line, and reading goes on at the next line.
    TooLong,
    /// No more records.
    End,
}

/// A csv_core reader. Building one builds its DFA, some 270,000 instructions: as much as
/// scoring ten rows, which a reader made per request (a CSV body, a header line) would
/// pay each time. So a thread keeps the reader of the last [`RecordReader`] it dropped,
/// and the next one made there takes it, reset. (A clone is no shortcut: csv_core's
/// clone of a built reader copies only part of its DFA.)
struct Core(csv_core::Reader);

thread_local! {
    static SPARE_CORE: std::cell::Cell<Option<csv_core::Reader>> =
        const { std::cell::Cell::new(None) };
}

impl Core {
    fn new() -> Self {
        let spare = SPARE_CORE.try_with(|spare| spare.take()).ok().flatten();
        Core(match spare {
            Some(mut core) => {
                core.reset();
                core
            }
            None => csv_core::Reader::new(),
        })
    }
}

impl Drop for Core {
    fn drop(&mut self) {
        let core = std::mem::take(&mut self.0);
        let _ = SPARE_CORE.try_with(|spare| spare.set(Some(core)));
    }
}

/// Reads CSV records (RFC 4180 quoting, as the `csv` crate's defaults) with a bound on
/// each record's size.
pub struct RecordReader<R> {
    source: R,
    core: Core,
    /// Input given back after an over-long record, read before `source` again.
    replay: Vec<u8>,
    replay_at: usize,
    /// The current record's input, kept only so an over-long record can be replayed
    /// from its second line.
    raw: Vec<u8>,
    /// Line breaks read so far (after replays are taken back).
    lines: u64,
    /// Bytes taken from `source`.
    bytes: u64,
    ended: bool,
}

impl<R: BufRead> RecordReader<R> {
    pub fn new(source: R) -> Self {
        RecordReader {
            source,
            core: Core::new(),
            replay: Vec::new(),
            replay_at: 0,
            raw: Vec::new(),
            lines: 0,
            bytes: 0,
            ended: false,
        }
    }

    /// The source, for what it counted or hashed.
    pub fn into_inner(self) -> R {
        self.source
    }

    /// Bytes read from the source so far (for progress).
    pub fn bytes_read(&self) -> u64 {
        self.bytes
    }

    fn fill(&mut self) -> io::Result<&[u8]> {
        fill(&self.replay[self.replay_at..], &mut self.source)
    }

    fn consume(&mut self, n: usize) {
        if self.replay_at < self.replay.len() {
            self.replay_at += n;
            if self.replay_at == self.replay.len() {
                self.replay.clear();
                self.replay_at = 0;
            }
        } else {
            self.source.consume(n);
            self.bytes += n as u64;
        }
    }

    /// Read the next record into `record`.
    pub fn read(&mut self, record: &mut Record) -> io::Result<Next> {
        use csv_core::ReadRecordResult::*;
        record.shrink();
        record.fields = 0;
        if self.ended {
            return Ok(Next::End);
        }
        // Blank lines before a record are skipped (as csv_core does); skipping them here
        // makes the record's line the one it starts on.
        loop {
            let input = self.fill()?;
            let blank = input
                .iter()
                .take_while(|&&b| b == b'\n' || b == b'\r')
                .count();
            let breaks = count_breaks(&input[..blank]);
            let all = blank == input.len() && blank > 0;
            self.consume(blank);
            self.lines += breaks;
            if !all {
                break;
            }
        }
        record.line = self.lines + 1;
        self.raw.clear();
        let (mut outlen, mut endlen) = (0, 0);
        loop {
            if record.bytes.len() == outlen {
                let grown = (record.bytes.len() * 2).max(256);
                record.bytes.resize(grown, 0);
            }
            if record.ends.len() == endlen {
                let grown = (record.ends.len() * 2).max(32);
                record.ends.resize(grown, 0);
            }
            // Input is handed over so that the record never takes more than one byte
            // past the bound: a record is too long exactly when it is over the bound.
            let room = MAX_RECORD_BYTES + 1 - self.raw.len();
            let (result, nin, nout, nend) = {
                let input = fill(&self.replay[self.replay_at..], &mut self.source)?;
                let input = &input[..input.len().min(room)];
                let (result, nin, nout, nend) = self.core.0.read_record(
                    input,
                    &mut record.bytes[outlen..],
                    &mut record.ends[endlen..],
                );
                let breaks = count_breaks(&input[..nin]);
                self.raw.extend_from_slice(&input[..nin]);
                self.lines += breaks;
                (result, nin, nout, nend)
            };
            self.consume(nin);
            outlen += nout;
            endlen += nend;
            match result {
                Record if self.raw.len() <= MAX_RECORD_BYTES => {
                    record.fields = endlen;
                    return Ok(Next::Record);
                }
                Record => {
                    self.skip_long_record(record)?;
                    return Ok(Next::TooLong);
                }
                End => {
                    self.ended = true;
                    return Ok(Next::End);
                }
                InputEmpty | OutputFull | OutputEndsFull => {}
            }
            if self.raw.len() > MAX_RECORD_BYTES {
                self.skip_long_record(record)?;
                return Ok(Next::TooLong);
            }
        }
    }

    /// After an over-long record: keep the start of its first line for the report, then
    /// read on from the line after the one it starts on.
    fn skip_long_record(&mut self, record: &mut Record) -> io::Result<()> {
        self.core.0.reset();
        let raw = std::mem::take(&mut self.raw);
        let first_line = raw.iter().position(|&b| b == b'\n');
        let shown = first_line.unwrap_or(raw.len()).min(256);
        record.set_single(&raw[..shown]);
        match first_line {
            Some(at) => {
                // Lines after the first are read again; the replay goes before anything
                // still waiting to be replayed.
                self.lines = record.line;
                let mut replay = raw[at + 1..].to_vec();
                replay.extend_from_slice(&self.replay[self.replay_at..]);
                self.replay = replay;
                self.replay_at = 0;
            }
            None => {
                // One line longer than the bound: drop the rest of it.
                loop {
                    let input = self.fill()?;
                    if input.is_empty() {
                        break;
                    }
                    match input.iter().position(|&b| b == b'\n') {
                        Some(at) => {
                            self.consume(at + 1);
                            break;
                        }
                        None => {
                            let n = input.len();
                            self.consume(n);
                        }
                    }
                }
                self.lines = record.line;
            }
        }
        self.raw = raw;
        self.raw.clear();
        self.raw.shrink_to(BUFFER);
        Ok(())
    }
}

/// What is left to replay, or else the source's buffer.
fn fill<'a, R: BufRead>(replay: &'a [u8], source: &'a mut R) -> io::Result<&'a [u8]> {
    if !replay.is_empty() {
        return Ok(replay);
    }
    source.fill_buf()
}

fn count_breaks(bytes: &[u8]) -> u64 {
    bytes.iter().filter(|&&b| b == b'\n').count() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records(input: &[u8]) -> Vec<(u64, Next, Vec<Vec<u8>>)> {
        let mut reader = RecordReader::new(input);
        let mut record = Record::default();
        let mut out = Vec::new();
        loop {
            let next = reader.read(&mut record).unwrap();
            if next == Next::End {
                return out;
            }
            let fields = record.iter().map(<[u8]>::to_vec).collect();
            out.push((record.line(), next, fields));
        }
    }

    #[test]
    fn a_reader_made_after_one_dropped_mid_record_starts_clean() {
        // Dropped inside a quoted field: its csv_core reader goes back to the thread
        // in that state, and the next reader must not inherit it.
        let mut cut = RecordReader::new(&b"a,\"open quote\nstill"[..]);
        let mut record = Record::default();
        let _ = cut.read(&mut record).unwrap();
        drop(cut);
        let expected = vec![
            (1, Next::Record, vec![b"x".to_vec(), b"y".to_vec()]),
            (2, Next::Record, vec![b"1".to_vec(), b"2".to_vec()]),
        ];
        for _ in 0..2 {
            assert_eq!(records(b"x,y\n1,2\n"), expected);
        }
    }

    #[test]
    fn reads_as_the_csv_crate_does() {
        let input: &[u8] = b"a,b\r\n\"x,1\",2\n\n\"multi\nline\",\"q\"\"q\"\n,\nlast,no newline";
        let mine = records(input);
        let mut theirs = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(input);
        let theirs: Vec<Vec<Vec<u8>>> = theirs
            .byte_records()
            .map(|r| r.unwrap().iter().map(<[u8]>::to_vec).collect())
            .collect();
        let fields: Vec<_> = mine.iter().map(|(_, _, f)| f.clone()).collect();
        assert_eq!(fields, theirs);
        let lines: Vec<u64> = mine.iter().map(|(l, _, _)| *l).collect();
        assert_eq!(lines, [1, 2, 4, 6, 7]);
    }

    #[test]
    fn an_unterminated_quote_is_cut_at_the_bound_and_reading_resumes_on_the_next_line() {
        let mut input = b"id,x\n1,\"open\n".to_vec();
        let row_count = MAX_RECORD_BYTES / 8;
        for i in 0..row_count {
            input.extend_from_slice(format!("{i},abc\n").as_bytes());
        }
        let read = records(&input);
        assert_eq!(read[1].0, 2);
        assert_eq!(read[1].1, Next::TooLong);
        assert_eq!(read[1].2, [b"1,\"open".to_vec()]);
        assert_eq!(read.len(), 2 + row_count);
        assert!(read[2..]
            .iter()
            .all(|(_, n, f)| *n == Next::Record && f.len() == 2));
        assert_eq!(read[2].0, 3);
        assert_eq!(read.last().unwrap().0, 2 + row_count as u64);
    }

    #[test]
    fn a_single_over_long_line_is_skipped_to_its_end() {
        let mut input = b"a\n".to_vec();
        input.extend(std::iter::repeat_n(b'x', MAX_RECORD_BYTES + 10));
        input.extend_from_slice(b"\nb\n");
        let read = records(&input);
        assert_eq!(read.len(), 3);
        assert_eq!((read[1].0, read[1].1), (2, Next::TooLong));
        assert_eq!((read[2].0, &read[2].2), (3, &vec![b"b".to_vec()]));
    }

    #[test]
    fn headers_refuse_blank_duplicate_and_non_utf8_names() {
        let header = |bytes: &[u8]| read_header(&mut RecordReader::new(bytes)).unwrap();
        assert_eq!(
            header(b"\xEF\xBB\xBFid, x \n1,2\n").unwrap(),
            ["id".to_string(), "x".to_string()]
        );
        assert_eq!(header(b"a,,b\n"), Err(HeaderError::Blank { column: 2 }));
        assert_eq!(
            header(b"a,b,a\n"),
            Err(HeaderError::Duplicate {
                column: 3,
                first: 1,
                name: "a".into()
            })
        );
        assert_eq!(
            header(b"a,\xff\n"),
            Err(HeaderError::Encoding { column: 2 })
        );
        assert_eq!(header(b""), Err(HeaderError::Empty));
    }

    #[test]
    fn gzip_is_found_by_its_magic_bytes() {
        use std::io::Write;
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), Default::default());
        encoder.write_all(b"a,b\n1,2\n").unwrap();
        let gz = encoder.finish().unwrap();
        let mut text = String::new();
        decompressed(Box::new(io::Cursor::new(gz)))
            .unwrap()
            .read_to_string(&mut text)
            .unwrap();
        assert_eq!(text, "a,b\n1,2\n");
    }
}
