//! The audit trail: one JSON line per request that touches customer data or changes
//! state, with who (key id, address), what (route, model version, customer ids or their
//! count), when and the status. Never a customer's field values.
//!
//! Requests hand events to a bounded channel and go on; one thread writes them, flushes
//! after each burst and starts a new file past `max_bytes` (the full one is renamed with
//! its UTC time and kept). When a line cannot be written or the channel is full, the line
//! is counted in `custscore_audit_failures_total` and logged, and serving goes on.

use prometheus::IntCounter;
use serde::Serialize;
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::Arc;
use std::time::SystemTime;

/// Events waiting for the writer at most; more are counted as failures, never waited for.
const QUEUE: usize = 8192;
/// How long the writer lets events gather before writing them (and how stale the file
/// may be): at 100k requests/s, 1,000 events, well under `QUEUE`.
const GATHER: std::time::Duration = std::time::Duration::from_millis(10);

/// Whose data a request touched.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Subjects {
    /// One customer (or a few), by id.
    Ids { customer_ids: Vec<String> },
    /// A batch: how many records.
    Count { customers: usize },
}

/// One audited request.
#[derive(Debug, Clone)]
pub struct AuditEvent {
    pub time: SystemTime,
    /// The key's id; none when the server runs without keys or none was valid.
    pub key_id: Option<Arc<str>>,
    pub client: Option<IpAddr>,
    pub method: &'static str,
    /// The route pattern (`/v1/campaigns/{name}`), never the raw path.
    pub route: &'static str,
    pub model_version: Option<String>,
    pub subjects: Option<Subjects>,
    pub status: u16,
}

impl AuditEvent {
    /// The JSON line, written field by field (as `serde_json` would write it, which the
    /// tests check): serialising through a struct escaped every string char by char, and
    /// `chrono`'s and `write!`'s formatting cost more than the rest of the line.
    fn to_line(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(256);
        out.extend_from_slice(b"{\"time\":\"");
        push_time(&mut out, self.time);
        out.extend_from_slice(b"\",\"key_id\":");
        push_opt_str(&mut out, self.key_id.as_deref());
        out.extend_from_slice(b",\"client\":");
        match self.client {
            // An address's text never needs escaping.
            Some(ip) => {
                out.push(b'"');
                push_ip(&mut out, ip);
                out.push(b'"');
            }
            None => out.extend_from_slice(b"null"),
        }
        // Method and route come from the route table: plain text.
        out.extend_from_slice(b",\"method\":\"");
        out.extend_from_slice(self.method.as_bytes());
        out.extend_from_slice(b"\",\"route\":\"");
        out.extend_from_slice(self.route.as_bytes());
        out.extend_from_slice(b"\",\"model_version\":");
        push_opt_str(&mut out, self.model_version.as_deref());
        match &self.subjects {
            Some(Subjects::Ids { customer_ids }) => {
                out.extend_from_slice(b",\"customer_ids\":[");
                for (i, id) in customer_ids.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    push_str(&mut out, id);
                }
                out.push(b']');
            }
            Some(Subjects::Count { customers }) => {
                out.extend_from_slice(b",\"customers\":");
                push_u64(&mut out, *customers as u64);
            }
            None => {}
        }
        out.extend_from_slice(b",\"status\":");
        push_u64(&mut out, u64::from(self.status));
        out.extend_from_slice(b"}\n");
        out
    }
}

/// RFC 3339 UTC with milliseconds, `2023-11-14T22:13:20.123Z`, by integer arithmetic
/// into a fixed template (days to a civil date as in Howard Hinnant's `civil_from_days`);
/// times before 1970 or after 9999 are left to `chrono`.
fn push_time(out: &mut Vec<u8>, time: SystemTime) {
    let Ok(since) = time.duration_since(std::time::UNIX_EPOCH) else {
        return push_chrono_time(out, time);
    };
    let secs = since.as_secs();
    let (year, month, day) = civil_from_days(secs / 86_400);
    if year > 9999 {
        return push_chrono_time(out, time);
    }
    let of_day = secs % 86_400;
    let mut text = *b"0000-00-00T00:00:00.000Z";
    let mut put = |at: usize, width: usize, mut n: u64| {
        for digit in text[at..at + width].iter_mut().rev() {
            *digit = b'0' + (n % 10) as u8;
            n /= 10;
        }
    };
    put(0, 4, year);
    put(5, 2, month);
    put(8, 2, day);
    put(11, 2, of_day / 3600);
    put(14, 2, of_day / 60 % 60);
    put(17, 2, of_day % 60);
    put(20, 3, u64::from(since.subsec_millis()));
    out.extend_from_slice(&text);
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
fn push_u64(out: &mut Vec<u8>, mut n: u64) {
    let (mut digits, mut at) = ([0u8; 20], 20);
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
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
    let plain = !text.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\');
    if plain {
        out.push(b'"');
        out.extend_from_slice(text.as_bytes());
        out.push(b'"');
    } else {
        // Writing a string into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *out, text);
    }
}

fn push_opt_str(out: &mut Vec<u8>, text: Option<&str>) {
    match text {
        Some(text) => push_str(out, text),
        None => out.extend_from_slice(b"null"),
    }
}

#[derive(Debug, thiserror::Error)]
#[error("--audit-log {}: cannot open for appending: {source}", path.display())]
pub struct AuditError {
    pub path: PathBuf,
    pub source: std::io::Error,
}

/// The sending side, shared by every worker.
pub struct AuditLog {
    sender: SyncSender<AuditEvent>,
    failures: IntCounter,
    queue_full_logged: AtomicBool,
}

impl AuditLog {
    /// Open `path` for appending (an error if it cannot be: the user asked for a trail)
    /// and start the writer thread.
    pub fn start(path: &Path, max_bytes: u64, failures: IntCounter) -> Result<Self, AuditError> {
        let file = open(path).map_err(|source| AuditError {
            path: path.to_path_buf(),
            source,
        })?;
        let (sender, receiver) = sync_channel(QUEUE);
        let mut writer = Writer {
            path: path.to_path_buf(),
            max_bytes,
            written: file.metadata().map(|m| m.len()).unwrap_or(0),
            out: Some(BufWriter::new(file)),
            failures: failures.clone(),
            failing: false,
        };
        std::thread::Builder::new()
            .name("audit-log".into())
            .spawn(move || writer.run(receiver))
            .map_err(|source| AuditError {
                path: path.to_path_buf(),
                source,
            })?;
        Ok(AuditLog {
            sender,
            failures,
            queue_full_logged: AtomicBool::new(false),
        })
    }

    /// Hand an event to the writer without waiting.
    pub fn record(&self, event: AuditEvent) {
        match self.sender.try_send(event) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                self.failures.inc();
                if !self.queue_full_logged.swap(true, Ordering::Relaxed) {
                    tracing::error!("audit log queue full: audit lines are being lost");
                }
            }
            Err(TrySendError::Disconnected(_)) => {
                self.failures.inc();
                tracing::error!("audit log writer stopped: audit lines are being lost");
            }
        }
    }
}

fn open(path: &Path) -> std::io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

struct Writer {
    path: PathBuf,
    max_bytes: u64,
    written: u64,
    /// None after a failure: reopened for the next event.
    out: Option<BufWriter<File>>,
    failures: IntCounter,
    /// Logged once per run of failures, not once per line.
    failing: bool,
}

impl Writer {
    fn run(&mut self, events: Receiver<AuditEvent>) {
        while let Ok(first) = events.recv() {
            // Let a burst gather: while this thread sleeps, senders wake nobody, and the
            // burst costs one write instead of a wake-up and a write per request.
            std::thread::sleep(GATHER);
            let mut lines = vec![first.to_line()];
            while let Ok(more) = events.try_recv() {
                lines.push(more.to_line());
                if lines.len() >= QUEUE {
                    break;
                }
            }
            let count = lines.len() as u64;
            match self.write(&lines) {
                Ok(()) if self.failing => {
                    self.failing = false;
                    tracing::warn!(path = %self.path.display(), "audit log writable again");
                }
                Ok(()) => {}
                Err(e) => {
                    self.failures.inc_by(count);
                    self.out = None;
                    if !self.failing {
                        self.failing = true;
                        tracing::error!(path = %self.path.display(), error = %e,
                            "cannot write the audit log: audit lines are being lost (custscore_audit_failures_total)");
                    }
                }
            }
        }
        if let Some(out) = self.out.as_mut() {
            let _ = out.flush();
        }
    }

    fn write(&mut self, lines: &[Vec<u8>]) -> std::io::Result<()> {
        for line in lines {
            if self.written > 0 && self.written + line.len() as u64 > self.max_bytes {
                self.rotate()?;
            }
            let out = match &mut self.out {
                Some(out) => out,
                None => {
                    let file = open(&self.path)?;
                    self.written = file.metadata()?.len();
                    self.out.insert(BufWriter::new(file))
                }
            };
            out.write_all(line)?;
            self.written += line.len() as u64;
        }
        match &mut self.out {
            Some(out) => out.flush(),
            None => Ok(()),
        }
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
        self.out = Some(BufWriter::new(file));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    fn event(id: &str) -> AuditEvent {
        AuditEvent {
            time: SystemTime::UNIX_EPOCH + Duration::from_millis(1_700_000_000_123),
            key_id: Some("crm".into()),
            client: Some("127.0.0.1".parse().unwrap()),
            method: "POST",
            route: "/v1/score",
            model_version: Some("v1".into()),
            subjects: Some(Subjects::Ids {
                customer_ids: vec![id.into()],
            }),
            status: 200,
        }
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
        let line = String::from_utf8(event("7590-VHVEG").to_line()).unwrap();
        assert_eq!(
            line,
            "{\"time\":\"2023-11-14T22:13:20.123Z\",\"key_id\":\"crm\",\"client\":\"127.0.0.1\",\
             \"method\":\"POST\",\"route\":\"/v1/score\",\"model_version\":\"v1\",\
             \"customer_ids\":[\"7590-VHVEG\"],\"status\":200}\n"
        );
        let mut batch = event("x");
        batch.subjects = Some(Subjects::Count { customers: 100 });
        let line = String::from_utf8(batch.to_line()).unwrap();
        assert!(line.contains("\"customers\":100,") && !line.contains("customer_ids"));
    }

    /// What `serde_json` writes for an event: the oracle for the hand-written line.
    #[derive(Serialize)]
    struct Line<'a> {
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

    fn serde_line(e: &AuditEvent) -> Vec<u8> {
        let mut bytes = serde_json::to_vec(&Line {
            time: chrono::DateTime::<chrono::Utc>::from(e.time)
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            key_id: e.key_id.as_deref(),
            client: e.client,
            method: e.method,
            route: e.route,
            model_version: e.model_version.as_deref(),
            subjects: e.subjects.as_ref(),
            status: e.status,
        })
        .unwrap();
        bytes.push(b'\n');
        bytes
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
            let mut e = event("x");
            e.time = SystemTime::UNIX_EPOCH + Duration::from_millis(millis);
            e.subjects = match count {
                Some(customers) => Some(Subjects::Count { customers }),
                None if ids.is_empty() => None,
                None => Some(Subjects::Ids { customer_ids: ids }),
            };
            e.model_version = version;
            e.key_id = key.map(Arc::from);
            e.client = Some(if v6 { "2001:db8::7".parse().unwrap() } else { IpAddr::V4((millis as u32).into()) });
            e.status = status;
            proptest::prop_assert_eq!(
                String::from_utf8(e.to_line()).unwrap(),
                String::from_utf8(serde_line(&e)).unwrap()
            );
        }
    }

    #[test]
    fn lines_are_flushed_and_the_file_rotates_by_size_keeping_the_old_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log");
        let failures = IntCounter::new("f", "f").unwrap();
        let log = AuditLog::start(&path, 1000, failures.clone()).unwrap();
        for i in 0..30 {
            log.record(event(&format!("c{i}")));
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
    fn a_disk_that_refuses_writes_is_counted_and_the_caller_never_waits() {
        let failures = IntCounter::new("f", "f").unwrap();
        let log = AuditLog::start(Path::new("/dev/full"), 1 << 20, failures.clone()).unwrap();
        let started = Instant::now();
        for i in 0..100 {
            log.record(event(&format!("c{i}")));
        }
        assert!(started.elapsed() < Duration::from_secs(1));
        wait_for(|| failures.get() == 100);
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("no/such/dir/audit.log");
        let e = AuditLog::start(&missing, 1, failures).err().unwrap();
        assert!(e.to_string().contains("no/such/dir/audit.log"), "{e}");
    }
}
