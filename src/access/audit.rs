//! The audit trail: one JSON line per request that touches customer data or changes
//! state, with who (key id, address), what (route, model version, customer ids or their
//! count), when (the request's arrival) and the status. Never a customer's field values.
//!
//! A request only hands its facts to its worker's own buffer (one uncontended lock, no
//! formatting, no wake-up): key ids and model versions as indices into that buffer's
//! table of texts, the time as the gate's `Instant`. One thread collects the buffers on
//! a short timer (sooner when one fills up), puts the requests in arrival order, writes
//! their lines and flushes, and starts a new file past `max_bytes` (the full one is
//! renamed with its UTC time and kept). `AuditLog::close` (the server's graceful stop)
//! writes what is left. A line that cannot be written, or finds its buffer full, is
//! counted in `custscore_audit_failures_total` and logged, and serving goes on.

use prometheus::IntCounter;
use serde::Serialize;
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{JoinHandle, Thread};
use std::time::{Duration, Instant, SystemTime};

/// Requests a buffer holds at most; more are counted as failures, never waited for.
const BUFFER_MAX: usize = 8192;
/// A buffer this full wakes the writer before its timer.
const WAKE_AT: usize = 1024;
/// How long the writer lets requests gather while they come (and how stale the file may
/// be): at 100k requests/s, 1,000 a time, well under `WAKE_AT` per worker.
const GATHER: Duration = Duration::from_millis(10);
/// How long it sleeps after finding nothing: an idle server wakes it ten times a second.
const IDLE: Duration = Duration::from_millis(100);
/// Buffers: workers beyond this share one (still correct, a little more contended).
const BUFFERS: usize = 16;

/// Whose data a request touched.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Subjects {
    /// One customer (or a few), by id.
    Ids { customer_ids: Vec<String> },
    /// A batch: how many records.
    Count { customers: usize },
}

/// One audited request, as the gate hands it over.
#[derive(Debug)]
pub struct AuditEvent<'a> {
    /// When the request arrived (the gate's clock read).
    pub at: Instant,
    /// The key's id; none when the server runs without keys or none was valid.
    pub key_id: Option<&'a Arc<str>>,
    pub client: Option<IpAddr>,
    pub method: &'static str,
    /// The route pattern (`/v1/campaigns/{name}`), never the raw path.
    pub route: &'static str,
    pub model_version: Option<&'a Arc<str>>,
    pub subjects: Option<Subjects>,
    pub status: u16,
}

/// What a buffer keeps of a request: fixed-size facts, texts by index.
struct Fact {
    at: Instant,
    key_id: Option<u16>,
    client: Option<IpAddr>,
    method: &'static str,
    route: &'static str,
    model_version: Option<u16>,
    subjects: Option<Subjects>,
    status: u16,
}

/// One worker's requests since the writer last came, and the texts they name.
#[derive(Default)]
struct Buffer {
    facts: Vec<Fact>,
    texts: Vec<Arc<str>>,
}

impl Buffer {
    /// The index of `text` in this buffer's table: the same key or version as a recent
    /// request is found by pointer; a new one is shared (one reference count).
    fn intern(&mut self, text: &Arc<str>) -> Option<u16> {
        let recent = self.texts.len().saturating_sub(4);
        if let Some(i) = self.texts[recent..]
            .iter()
            .rposition(|t| Arc::ptr_eq(t, text))
        {
            return u16::try_from(recent + i).ok();
        }
        let index = u16::try_from(self.texts.len()).ok()?;
        self.texts.push(text.clone());
        Some(index)
    }
}

/// Cache-line aligned, so that two workers' buffers do not share a line.
#[repr(align(128))]
#[derive(Default)]
struct Slot(Mutex<Buffer>);

/// One line of the trail, the texts resolved.
#[derive(Debug, Clone)]
pub struct Line<'a> {
    pub time: SystemTime,
    pub key_id: Option<&'a str>,
    pub client: Option<IpAddr>,
    pub method: &'a str,
    pub route: &'a str,
    pub model_version: Option<&'a str>,
    pub subjects: Option<&'a Subjects>,
    pub status: u16,
}

impl Line<'_> {
    /// The JSON line on its own (the writer keeps one [`Formatter`] for all its lines).
    #[cfg(test)]
    fn write(&self, out: &mut Vec<u8>) {
        Formatter::default().write(self, out);
    }
}

/// Writes lines field by field (as `serde_json` would write them, which the tests check):
/// serialising through a struct escaped every string char by char, and `chrono`'s and
/// `write!`'s formatting cost more than the rest of the line. What lines in a row share
/// (the second of their time, the client's address) is formatted once.
#[derive(Default)]
struct Formatter {
    /// The second `second_text` is (`2023-11-14T22:13:20.`).
    second: Option<u64>,
    second_text: [u8; 20],
    /// The address `client_text` is, in quotes.
    client: Option<IpAddr>,
    client_text: Vec<u8>,
}

impl Formatter {
    fn write(&mut self, line: &Line, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"time\":\"");
        self.push_time(out, line.time);
        out.extend_from_slice(b"\",\"key_id\":");
        push_opt_str(out, line.key_id);
        out.extend_from_slice(b",\"client\":");
        match line.client {
            Some(ip) => {
                if self.client != Some(ip) {
                    // An address's text never needs escaping.
                    self.client_text.clear();
                    self.client_text.push(b'"');
                    push_ip(&mut self.client_text, ip);
                    self.client_text.push(b'"');
                    self.client = Some(ip);
                }
                out.extend_from_slice(&self.client_text);
            }
            None => out.extend_from_slice(b"null"),
        }
        // Method and route come from the route table: plain text.
        out.extend_from_slice(b",\"method\":\"");
        out.extend_from_slice(line.method.as_bytes());
        out.extend_from_slice(b"\",\"route\":\"");
        out.extend_from_slice(line.route.as_bytes());
        out.extend_from_slice(b"\",\"model_version\":");
        push_opt_str(out, line.model_version);
        match line.subjects {
            Some(Subjects::Ids { customer_ids }) => {
                out.extend_from_slice(b",\"customer_ids\":[");
                for (i, id) in customer_ids.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    push_str(out, id);
                }
                out.push(b']');
            }
            Some(Subjects::Count { customers }) => {
                out.extend_from_slice(b",\"customers\":");
                push_u64(out, *customers as u64);
            }
            None => {}
        }
        out.extend_from_slice(b",\"status\":");
        push_u64(out, u64::from(line.status));
        out.extend_from_slice(b"}\n");
    }

    /// RFC 3339 UTC with milliseconds, `2023-11-14T22:13:20.123Z`, by integer arithmetic
    /// into a fixed template (days to a civil date as in Howard Hinnant's
    /// `civil_from_days`); times before 1970 or after 9999 are left to `chrono`.
    fn push_time(&mut self, out: &mut Vec<u8>, time: SystemTime) {
        let Ok(since) = time.duration_since(std::time::UNIX_EPOCH) else {
            return push_chrono_time(out, time);
        };
        let secs = since.as_secs();
        if self.second != Some(secs) {
            let (year, month, day) = civil_from_days(secs / 86_400);
            if year > 9999 {
                return push_chrono_time(out, time);
            }
            let of_day = secs % 86_400;
            let mut text = *b"0000-00-00T00:00:00.";
            put_digits(&mut text[0..4], year);
            put_digits(&mut text[5..7], month);
            put_digits(&mut text[8..10], day);
            put_digits(&mut text[11..13], of_day / 3600);
            put_digits(&mut text[14..16], of_day / 60 % 60);
            put_digits(&mut text[17..19], of_day % 60);
            self.second = Some(secs);
            self.second_text = text;
        }
        let mut millis = *b"000Z";
        put_digits(&mut millis[..3], u64::from(since.subsec_millis()));
        out.extend_from_slice(&self.second_text);
        out.extend_from_slice(&millis);
    }
}

/// `n`'s last `digits.len()` decimal digits, zero-padded.
fn put_digits(digits: &mut [u8], mut n: u64) {
    for digit in digits.iter_mut().rev() {
        *digit = b'0' + (n % 10) as u8;
        n /= 10;
    }
}

fn push_chrono_time(out: &mut Vec<u8>, time: SystemTime) {
    let text = chrono::DateTime::<chrono::Utc>::from(time)
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    out.extend_from_slice(text.as_bytes());
}

/// (year, month, day) of a count of days since 1970-01-01.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

/// A whole number in decimal.
fn push_u64(out: &mut Vec<u8>, n: u64) {
    out.extend_from_slice(crate::numfmt::integer_digits(n, &mut [0u8; 20]));
}

/// IPv4 by its octets; IPv6 (rare behind the usual proxies) through `Display`.
fn push_ip(out: &mut Vec<u8>, ip: IpAddr) {
    match ip {
        IpAddr::V4(v4) => {
            for (i, octet) in v4.octets().into_iter().enumerate() {
                if i > 0 {
                    out.push(b'.');
                }
                push_u64(out, u64::from(octet));
            }
        }
        IpAddr::V6(v6) => out.extend_from_slice(v6.to_string().as_bytes()),
    }
}

/// A JSON string: copied as is when nothing in it needs escaping (ids and versions
/// almost never do), else escaped by `serde_json`.
fn push_str(out: &mut Vec<u8>, text: &str) {
    if needs_escape(text.as_bytes()) {
        // Writing a string into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *out, text);
    } else {
        out.push(b'"');
        out.extend_from_slice(text.as_bytes());
        out.push(b'"');
    }
}

/// Whether a JSON string must escape a byte of `text` (a control byte, `"` or `\`),
/// tested eight bytes at a time: `(x - n×ONES) & !x & HIGHS` is non-zero exactly when a
/// byte of `x` is below `n` (n ≤ 128), and a byte equal to `c` is a zero in `x ^ c×ONES`.
fn needs_escape(text: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let below = |x: u64, n: u64| x.wrapping_sub(n * ONES) & !x & HIGHS;
    let mut words = text.chunks_exact(8);
    for word in &mut words {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(word);
        let x = u64::from_le_bytes(bytes);
        let found = below(x, 0x20)
            | below(x ^ (u64::from(b'"') * ONES), 1)
            | below(x ^ (u64::from(b'\\') * ONES), 1);
        if found != 0 {
            return true;
        }
    }
    words
        .remainder()
        .iter()
        .any(|&b| b < 0x20 || b == b'"' || b == b'\\')
}

fn push_opt_str(out: &mut Vec<u8>, text: Option<&str>) {
    match text {
        Some(text) => push_str(out, text),
        None => out.extend_from_slice(b"null"),
    }
}

#[derive(Debug, thiserror::Error)]
#[error("--audit-log {}: cannot open for appending", path.display())]
pub struct AuditError {
    pub path: PathBuf,
    pub source: std::io::Error,
}

/// The requests' side, shared by every worker.
pub struct AuditLog {
    shared: Arc<Shared>,
    writer: Thread,
    running: Mutex<Option<JoinHandle<()>>>,
}

/// What the workers and the writer thread both reach.
struct Shared {
    buffers: Box<[Slot]>,
    failures: IntCounter,
    full_logged: AtomicBool,
    stopping: AtomicBool,
}

impl AuditLog {
    /// Open `path` for appending (an error if it cannot be: the user asked for a trail)
    /// and start the writer thread.
    pub fn start(path: &Path, max_bytes: u64, failures: IntCounter) -> Result<Self, AuditError> {
        let error = |source| AuditError {
            path: path.to_path_buf(),
            source,
        };
        let file = open(path).map_err(error)?;
        let shared = Arc::new(Shared {
            buffers: (0..BUFFERS).map(|_| Slot::default()).collect(),
            failures: failures.clone(),
            full_logged: AtomicBool::new(false),
            stopping: AtomicBool::new(false),
        });
        let mut writer = Writer {
            path: path.to_path_buf(),
            max_bytes,
            written: file.metadata().map(|m| m.len()).unwrap_or(0),
            out: Some(BufWriter::with_capacity(WRITE_BUFFER, file)),
            failures,
            failing: false,
        };
        let collected = shared.clone();
        let running = std::thread::Builder::new()
            .name("audit-log".into())
            .spawn(move || writer.run(&collected))
            .map_err(error)?;
        Ok(AuditLog {
            shared,
            writer: running.thread().clone(),
            running: Mutex::new(Some(running)),
        })
    }

    /// Hand a request's facts to this worker's buffer without waiting for the writer.
    pub fn record(&self, event: AuditEvent<'_>) {
        let shared = &*self.shared;
        let slot = &shared.buffers[buffer_index() % shared.buffers.len()];
        let mut buffer = slot.0.lock().unwrap_or_else(|e| e.into_inner());
        let len = buffer.facts.len();
        if len >= BUFFER_MAX || shared.stopping.load(Ordering::Relaxed) {
            drop(buffer);
            shared.failures.inc();
            if !shared.full_logged.swap(true, Ordering::Relaxed) {
                tracing::error!("audit log buffer full or closed: audit lines are being lost");
            }
            return;
        }
        let key_id = event.key_id.and_then(|t| buffer.intern(t));
        let model_version = event.model_version.and_then(|t| buffer.intern(t));
        buffer.facts.push(Fact {
            at: event.at,
            key_id,
            client: event.client,
            method: event.method,
            route: event.route,
            model_version,
            subjects: event.subjects,
            status: event.status,
        });
        drop(buffer);
        if len + 1 == WAKE_AT {
            self.writer.unpark();
        }
    }

    /// Write every request recorded so far, flush, and stop the writer (the server's
    /// graceful stop; requests recorded after it are counted as lost).
    pub fn close(&self) {
        let running = self
            .running
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(running) = running {
            self.shared.stopping.store(true, Ordering::Release);
            self.writer.unpark();
            if running.join().is_err() {
                tracing::error!("the audit log writer panicked: audit lines may be lost");
            }
        }
    }
}

impl Drop for AuditLog {
    fn drop(&mut self) {
        self.close();
    }
}

/// This thread's buffer: threads take buffers in turn as they first record.
fn buffer_index() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static INDEX: usize = NEXT.fetch_add(1, Ordering::Relaxed);
    }
    INDEX.with(|i| *i)
}

fn open(path: &Path) -> std::io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

/// Bytes gathered before a write to the file.
const WRITE_BUFFER: usize = 64 * 1024;

struct Writer {
    path: PathBuf,
    max_bytes: u64,
    written: u64,
    /// None after a failure: reopened for the next line.
    out: Option<BufWriter<File>>,
    failures: IntCounter,
    /// Logged once per run of failures, not once per line.
    failing: bool,
}

/// What the writer took from the buffers in one round (the buffers get these back empty,
/// with their capacity, the next round).
#[derive(Default)]
struct Collected {
    buffers: Vec<Buffer>,
}

impl Writer {
    fn run(&mut self, shared: &Shared) {
        let mut collected = Collected {
            buffers: (0..shared.buffers.len())
                .map(|_| Buffer::default())
                .collect(),
        };
        let mut line = Vec::with_capacity(512);
        loop {
            // Read before collecting: whatever was recorded before `close` is collected.
            let stopping = shared.stopping.load(Ordering::Acquire);
            let count = collected.take(shared);
            if count > 0 {
                self.write_collected(&collected, count, &mut line);
            }
            if stopping {
                break;
            }
            std::thread::park_timeout(if count > 0 { GATHER } else { IDLE });
        }
        if let Some(out) = self.out.as_mut() {
            let _ = out.flush();
        }
    }

    /// Write one round's requests in arrival order, then flush.
    fn write_collected(&mut self, collected: &Collected, count: usize, line: &mut Vec<u8>) {
        let mut order: Vec<(Instant, &Fact, &[Arc<str>])> = Vec::with_capacity(count);
        for buffer in &collected.buffers {
            order.extend(buffer.facts.iter().map(|f| (f.at, f, &buffer.texts[..])));
        }
        // Each buffer is nearly in order already: the sort merges runs.
        order.sort_by_key(|(at, _, _)| *at);
        let clock = Clock::now();
        let mut formatter = Formatter::default();
        let result = order.iter().try_for_each(|(_, fact, texts)| {
            let text = |i: Option<u16>| i.and_then(|i| texts.get(usize::from(i))).map(|t| &**t);
            line.clear();
            let line_of_fact = Line {
                time: clock.time_of(fact.at),
                key_id: text(fact.key_id),
                client: fact.client,
                method: fact.method,
                route: fact.route,
                model_version: text(fact.model_version),
                subjects: fact.subjects.as_ref(),
                status: fact.status,
            };
            formatter.write(&line_of_fact, line);
            self.write_line(line)
        });
        let result = result.and_then(|()| match &mut self.out {
            Some(out) => out.flush(),
            None => Ok(()),
        });
        match result {
            Ok(()) if self.failing => {
                self.failing = false;
                tracing::warn!(path = %self.path.display(), "audit log writable again");
            }
            Ok(()) => {}
            Err(e) => {
                self.failures.inc_by(count as u64);
                self.out = None;
                if !self.failing {
                    self.failing = true;
                    tracing::error!(path = %self.path.display(), error = %e,
                        "cannot write the audit log: audit lines are being lost (custscore_audit_failures_total)");
                }
            }
        }
    }

    fn write_line(&mut self, line: &[u8]) -> std::io::Result<()> {
        if self.written > 0 && self.written + line.len() as u64 > self.max_bytes {
            self.rotate()?;
        }
        let out = match &mut self.out {
            Some(out) => out,
            None => {
                let file = open(&self.path)?;
                self.written = file.metadata()?.len();
                self.out
                    .insert(BufWriter::with_capacity(WRITE_BUFFER, file))
            }
        };
        out.write_all(line)?;
        self.written += line.len() as u64;
        Ok(())
    }

    /// Keep the full file under its UTC time and start an empty one. Only a regular file
    /// is renamed (never a device such as /dev/full or a pipe).
    fn rotate(&mut self) -> std::io::Result<()> {
        if let Some(mut out) = self.out.take() {
            out.flush()?;
            out.get_ref().sync_all()?;
        }
        if std::fs::metadata(&self.path)?.is_file() {
            let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ");
            let mut kept = PathBuf::from(format!("{}.{stamp}", self.path.display()));
            let mut n = 1;
            while kept.exists() {
                kept = PathBuf::from(format!("{}.{stamp}-{n}", self.path.display()));
                n += 1;
            }
            std::fs::rename(&self.path, &kept)?;
        }
        let file = open(&self.path)?;
        self.written = file.metadata()?.len();
        self.out = Some(BufWriter::with_capacity(WRITE_BUFFER, file));
        Ok(())
    }
}

impl Collected {
    /// Swap every buffer for last round's emptied one; the number of requests taken.
    fn take(&mut self, shared: &Shared) -> usize {
        let mut count = 0;
        for (slot, mine) in shared.buffers.iter().zip(&mut self.buffers) {
            mine.facts.clear();
            mine.texts.clear();
            let mut buffer = slot.0.lock().unwrap_or_else(|e| e.into_inner());
            if !buffer.facts.is_empty() {
                std::mem::swap(&mut *buffer, mine);
            }
            drop(buffer);
            count += mine.facts.len();
        }
        count
    }
}

/// The wall clock at one moment of the monotonic one: a request's `Instant` becomes its
/// time without a second clock read on the request path.
struct Clock {
    wall: SystemTime,
    at: Instant,
}

impl Clock {
    fn now() -> Self {
        Clock {
            wall: SystemTime::now(),
            at: Instant::now(),
        }
    }

    fn time_of(&self, at: Instant) -> SystemTime {
        let before = self.at.saturating_duration_since(at);
        self.wall.checked_sub(before).unwrap_or(self.wall)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(subjects: Option<&Subjects>) -> Line<'_> {
        Line {
            time: SystemTime::UNIX_EPOCH + Duration::from_millis(1_700_000_000_123),
            key_id: Some("crm"),
            client: Some("127.0.0.1".parse().unwrap()),
            method: "POST",
            route: "/v1/score",
            model_version: Some("v1"),
            subjects,
            status: 200,
        }
    }

    fn text_of(line: &Line) -> String {
        let mut out = Vec::new();
        line.write(&mut out);
        String::from_utf8(out).unwrap()
    }

    fn ids(id: &str) -> Option<Subjects> {
        Some(Subjects::Ids {
            customer_ids: vec![id.into()],
        })
    }

    /// A request as the gate hands it over, by key `crm` on model `v1`.
    fn event<'a>(texts: &'a (Arc<str>, Arc<str>), id: &str) -> AuditEvent<'a> {
        AuditEvent {
            at: Instant::now(),
            key_id: Some(&texts.0),
            client: Some("127.0.0.1".parse().unwrap()),
            method: "POST",
            route: "/v1/score",
            model_version: Some(&texts.1),
            subjects: ids(id),
            status: 200,
        }
    }

    fn crm_v1() -> (Arc<str>, Arc<str>) {
        (Arc::from("crm"), Arc::from("v1"))
    }

    fn wait_for(what: impl Fn() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !what() {
            assert!(Instant::now() < deadline, "timed out");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    #[test]
    fn a_line_holds_who_what_when_and_the_status() {
        let one = ids("7590-VHVEG");
        assert_eq!(
            text_of(&line(one.as_ref())),
            "{\"time\":\"2023-11-14T22:13:20.123Z\",\"key_id\":\"crm\",\"client\":\"127.0.0.1\",\
             \"method\":\"POST\",\"route\":\"/v1/score\",\"model_version\":\"v1\",\
             \"customer_ids\":[\"7590-VHVEG\"],\"status\":200}\n"
        );
        let batch = Subjects::Count { customers: 100 };
        let text = text_of(&line(Some(&batch)));
        assert!(text.contains("\"customers\":100,") && !text.contains("customer_ids"));
    }

    /// What `serde_json` writes for a line: the oracle for the hand-written one.
    #[derive(Serialize)]
    struct SerdeLine<'a> {
        time: String,
        key_id: Option<&'a str>,
        client: Option<IpAddr>,
        method: &'a str,
        route: &'a str,
        model_version: Option<&'a str>,
        #[serde(flatten)]
        subjects: Option<&'a Subjects>,
        status: u16,
    }

    fn serde_line(e: &Line) -> String {
        let mut text = serde_json::to_string(&SerdeLine {
            time: chrono::DateTime::<chrono::Utc>::from(e.time)
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            key_id: e.key_id,
            client: e.client,
            method: e.method,
            route: e.route,
            model_version: e.model_version,
            subjects: e.subjects,
            status: e.status,
        })
        .unwrap();
        text.push('\n');
        text
    }

    proptest::proptest! {
        #[test]
        fn lines_are_what_serde_json_writes(
            ids in proptest::collection::vec(".{0,12}", 0..4),
            version in proptest::option::of(".{0,12}"),
            key in proptest::option::of("[a-z\"\\\\]{0,8}"),
            count in proptest::option::of(0usize..100_000),
            v6 in proptest::bool::ANY,
            status in 100u16..600,
            millis in 0u64..300_000_000_000_000,
        ) {
            let subjects = match count {
                Some(customers) => Some(Subjects::Count { customers }),
                None if ids.is_empty() => None,
                None => Some(Subjects::Ids { customer_ids: ids }),
            };
            let mut e = line(subjects.as_ref());
            e.time = SystemTime::UNIX_EPOCH + Duration::from_millis(millis);
            e.model_version = version.as_deref();
            e.key_id = key.as_deref();
            e.client = Some(if v6 { "2001:db8::7".parse().unwrap() } else { IpAddr::V4((millis as u32).into()) });
            e.status = status;
            proptest::prop_assert_eq!(text_of(&e), serde_line(&e));
            // A formatter that wrote a line of the same second from another address
            // before, then this one twice (the second and the address remembered).
            let mut formatter = Formatter::default();
            let mut before = e.clone();
            before.time = SystemTime::UNIX_EPOCH + Duration::from_secs(millis / 1000);
            before.client = Some(IpAddr::V4((!(millis as u32)).into()));
            formatter.write(&before, &mut Vec::new());
            for _ in 0..2 {
                let mut out = Vec::new();
                formatter.write(&e, &mut out);
                proptest::prop_assert_eq!(String::from_utf8(out).unwrap(), serde_line(&e));
            }
        }

        #[test]
        fn escaping_is_needed_exactly_when_a_byte_is_a_control_a_quote_or_a_backslash(
            // Mostly plain text, so that long strings without a special byte occur.
            bytes in proptest::collection::vec(
                proptest::prop_oneof![30 => 0x20u8..0x7f, 1 => proptest::num::u8::ANY],
                0..40,
            ),
        ) {
            let naive = bytes.iter().any(|&b| b < 0x20 || b == b'"' || b == b'\\');
            proptest::prop_assert_eq!(needs_escape(&bytes), naive);
        }
    }

    #[test]
    fn lines_are_flushed_and_the_file_rotates_by_size_keeping_the_old_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log");
        let failures = IntCounter::new("f", "f").unwrap();
        let log = AuditLog::start(&path, 1000, failures.clone()).unwrap();
        let texts = crm_v1();
        for i in 0..30 {
            log.record(event(&texts, &format!("c{i}")));
            std::thread::sleep(Duration::from_millis(2));
        }
        let all_lines = || {
            std::fs::read_dir(dir.path())
                .unwrap()
                .flatten()
                .map(|e| std::fs::read_to_string(e.path()).unwrap().lines().count())
                .sum::<usize>()
        };
        wait_for(|| all_lines() == 30);
        let files: Vec<_> = std::fs::read_dir(dir.path()).unwrap().flatten().collect();
        assert!(files.len() >= 3, "{files:?}");
        for f in files {
            assert!(f.metadata().unwrap().len() <= 1000);
        }
        assert_eq!(failures.get(), 0);
    }

    #[test]
    fn closing_writes_every_request_each_worker_in_its_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log");
        let failures = IntCounter::new("f", "f").unwrap();
        let log = AuditLog::start(&path, 1 << 30, failures.clone()).unwrap();
        let texts = crm_v1();
        let other = (Arc::from("ops"), Arc::from("v2"));
        let t0 = Instant::now();
        std::thread::scope(|scope| {
            for worker in 0..4u64 {
                let (log, texts, other) = (&log, &texts, &other);
                scope.spawn(move || {
                    for n in 0..500u64 {
                        let i = n * 4 + worker;
                        let mut e = event(
                            if i.is_multiple_of(3) { other } else { texts },
                            &format!("c{i}"),
                        );
                        e.at = t0 + Duration::from_micros(i);
                        log.record(e);
                    }
                });
            }
        });
        log.close();
        let text = std::fs::read_to_string(&path).unwrap();
        let numbers: Vec<u64> = text
            .lines()
            .map(|l| {
                let l: serde_json::Value = serde_json::from_str(l).unwrap();
                let i: u64 = l["customer_ids"][0].as_str().unwrap()[1..].parse().unwrap();
                let (key, version) = if i.is_multiple_of(3) {
                    ("ops", "v2")
                } else {
                    ("crm", "v1")
                };
                assert_eq!(
                    (l["key_id"].as_str(), l["model_version"].as_str()),
                    (Some(key), Some(version)),
                    "{l}"
                );
                i
            })
            .collect();
        assert_eq!(numbers.len(), 2000, "no line lost on close");
        assert_eq!(failures.get(), 0);
        for worker in 0..4 {
            let mine: Vec<u64> = numbers
                .iter()
                .copied()
                .filter(|i| i % 4 == worker)
                .collect();
            assert!(
                mine.windows(2).all(|w| w[0] < w[1]),
                "worker {worker} out of order"
            );
        }
        log.record(event(&texts, "late"));
        assert_eq!(
            failures.get(),
            1,
            "a request after close is counted as lost"
        );
    }

    #[test]
    fn one_collection_is_written_in_arrival_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log");
        let mut writer = Writer {
            path: path.clone(),
            max_bytes: 1 << 20,
            written: 0,
            out: None,
            failures: IntCounter::new("f", "f").unwrap(),
            failing: false,
        };
        let shared = Shared {
            buffers: (0..3).map(|_| Slot::default()).collect(),
            failures: IntCounter::new("g", "g").unwrap(),
            full_logged: AtomicBool::new(false),
            stopping: AtomicBool::new(false),
        };
        let texts = crm_v1();
        let t0 = Instant::now();
        // Later arrivals in the first buffers, earlier ones in the last.
        for (slot, i) in [(0, 5u64), (0, 6), (1, 3), (1, 4), (2, 0), (2, 1), (2, 2)] {
            let mut buffer = shared.buffers[slot].0.lock().unwrap();
            let key_id = buffer.intern(&texts.0);
            buffer.facts.push(Fact {
                at: t0 + Duration::from_millis(i),
                key_id,
                client: None,
                method: "POST",
                route: "/v1/score",
                model_version: None,
                subjects: ids(&format!("c{i}")),
                status: 200,
            });
        }
        let mut collected = Collected {
            buffers: (0..3).map(|_| Buffer::default()).collect(),
        };
        let count = collected.take(&shared);
        writer.write_collected(&collected, count, &mut Vec::new());
        let text = std::fs::read_to_string(&path).unwrap();
        let order: Vec<String> = text
            .lines()
            .map(|l| {
                let l: serde_json::Value = serde_json::from_str(l).unwrap();
                l["customer_ids"][0].as_str().unwrap().to_string()
            })
            .collect();
        assert_eq!(order, ["c0", "c1", "c2", "c3", "c4", "c5", "c6"], "{text}");
        assert!(text.lines().all(|l| l.contains("\"key_id\":\"crm\"")));
    }

    #[test]
    fn a_disk_that_refuses_writes_is_counted_and_the_caller_never_waits() {
        let failures = IntCounter::new("f", "f").unwrap();
        let log = AuditLog::start(Path::new("/dev/full"), 1 << 20, failures.clone()).unwrap();
        let texts = crm_v1();
        let started = Instant::now();
        for i in 0..100 {
            log.record(event(&texts, &format!("c{i}")));
        }
        assert!(started.elapsed() < Duration::from_secs(1));
        wait_for(|| failures.get() == 100);
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("no/such/dir/audit.log");
        let e = AuditLog::start(&missing, 1, failures).err().unwrap();
        assert!(e.to_string().contains("no/such/dir/audit.log"), "{e}");
    }
}
