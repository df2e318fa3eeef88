//! `models/HISTORY.jsonl`: one JSON line per change of `CURRENT`, appended and synced,
//! never rewritten.

use super::error::{io_error, LifecycleError};
use serde::{Deserialize, Serialize};
use std::fs::{self, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

pub const HISTORY: &str = "HISTORY.jsonl";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Train,
    Promote,
    Rollback,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryEntry {
    /// RFC 3339, UTC.
    pub time: String,
    pub action: Action,
    /// The version CURRENT named before (none for the first bundle).
    pub from: Option<String>,
    pub to: String,
    pub reason: String,
}

impl HistoryEntry {
    pub fn now(action: Action, from: Option<String>, to: &str, reason: &str) -> Self {
        HistoryEntry {
            time: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            action,
            from,
            to: to.to_string(),
            reason: reason.to_string(),
        }
    }
}

/// Every entry, oldest first. A last line without its newline is an append cut short by
/// a crash and is skipped; any other unreadable line is an error naming it.
pub fn read(models: &Path) -> Result<Vec<HistoryEntry>, LifecycleError> {
    let path = models.join(HISTORY);
    let text = match fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_error(&path)(e)),
    };
    let complete = text.ends_with('\n');
    let lines: Vec<&str> = text.lines().collect();
    let mut entries = Vec::with_capacity(lines.len());
    for (i, line) in lines.iter().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str(line) {
            Ok(entry) => entries.push(entry),
            Err(_) if !complete && i + 1 == lines.len() => {}
            Err(e) => {
                return Err(LifecycleError::History {
                    path,
                    line: i + 1,
                    reason: format!("not a history entry: {e}"),
                })
            }
        }
    }
    Ok(entries)
}

/// Append one entry as one line and sync it. An incomplete last line (an append cut
/// short by a crash, which [`read`] skips) is cut off first, so entries stay one a line.
pub fn append(models: &Path, entry: &HistoryEntry) -> Result<(), LifecycleError> {
    let path = models.join(HISTORY);
    let mut line = serde_json::to_string(entry).map_err(|e| LifecycleError::Write {
        path: path.clone(),
        reason: e.to_string(),
    })?;
    line.push('\n');
    let mut file = OpenOptions::new()
        .create(true)
        .read(true)
        .append(true)
        .open(&path)
        .map_err(io_error(&path))?;
    drop_torn_tail(&mut file).map_err(io_error(&path))?;
    file.write_all(line.as_bytes()).map_err(io_error(&path))?;
    file.sync_all().map_err(io_error(&path))
}

/// Cut the file after its last newline, when it does not end with one.
fn drop_torn_tail(file: &mut fs::File) -> std::io::Result<()> {
    let mut bytes = Vec::new();
    file.seek(SeekFrom::Start(0))?;
    file.read_to_end(&mut bytes)?;
    if bytes.is_empty() || bytes.ends_with(b"\n") {
        return Ok(());
    }
    let keep = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    file.set_len(keep as u64)
}

/// The champions in order, the last one CURRENT: `train` and `promote` push their
/// version, `rollback` pops. If `current` is not on top (a crash lost the last line, or
/// CURRENT was set by hand), it is pushed, so the stack always ends with CURRENT.
pub fn champions(history: &[HistoryEntry], current: Option<&str>) -> Vec<String> {
    let mut stack: Vec<String> = Vec::new();
    for entry in history {
        match entry.action {
            Action::Train | Action::Promote => stack.push(entry.to.clone()),
            Action::Rollback => {
                stack.pop();
                if stack.last() != Some(&entry.to) {
                    stack.push(entry.to.clone());
                }
            }
        }
    }
    if let Some(current) = current {
        if stack.last().map(String::as_str) != Some(current) {
            stack.push(current.to_string());
        }
    }
    stack
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(action: Action, to: &str) -> HistoryEntry {
        HistoryEntry::now(action, None, to, "test")
    }

    #[test]
    fn rollbacks_pop_champions_instead_of_toggling() {
        let h = vec![
            entry(Action::Train, "a"),
            entry(Action::Train, "b"),
            entry(Action::Promote, "c"),
            entry(Action::Rollback, "b"),
        ];
        assert_eq!(champions(&h, Some("b")), ["a", "b"]);
        let mut h2 = h.clone();
        h2.push(entry(Action::Rollback, "a"));
        assert_eq!(champions(&h2, Some("a")), ["a"]);
        // A lost last line: CURRENT is put back on top.
        assert_eq!(champions(&h, Some("d")), ["a", "b", "d"]);
    }

    #[test]
    fn a_torn_last_line_is_skipped_and_cut_before_the_next_append() {
        let dir = tempfile::tempdir().unwrap();
        append(dir.path(), &entry(Action::Train, "a")).unwrap();
        let path = dir.path().join(HISTORY);
        let mut file = OpenOptions::new().append(true).open(&path).unwrap();
        file.write_all(b"{\"time\":\"2026").unwrap();
        assert_eq!(read(dir.path()).unwrap().len(), 1);
        append(dir.path(), &entry(Action::Promote, "b")).unwrap();
        let entries = read(dir.path()).unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[1].to, "b");
        // A bad line in the middle is reported with its number.
        fs::write(&path, "garbage\n").unwrap();
        append(dir.path(), &entry(Action::Promote, "c")).unwrap();
        let err = read(dir.path()).unwrap_err().to_string();
        assert!(err.contains("line 1"), "{err}");
    }
}
