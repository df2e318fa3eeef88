//! Random byte corruptions of a valid batch file, fed to `custscore score`: the process
//! never panics, it either scores the file or refuses it with the input-error exit code,
//! and when it scores, rows in = rows out + rows rejected, where "rows in" is counted
//! here, independently, by the reader's definition of a record (below).

mod common;
use common::*;

/// The reader's bound on one record's input (`data::csv_input::MAX_RECORD_BYTES`).
const MAX_RECORD_BYTES: usize = 1 << 20;

/// Exit code of a refused input (`main` maps every error to it).
const INPUT_ERROR: i32 = 2;

/// splitmix64: a fixed seed gives the same 300 files on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Apply one random corruption.
fn corrupt(bytes: &mut Vec<u8>, rng: &mut Rng) -> &'static str {
    let at = rng.below(bytes.len() + 1);
    match rng.below(11) {
        0 => {
            if let Some(b) = bytes.get_mut(at) {
                *b ^= 1 << rng.below(8);
            }
            "flip a bit"
        }
        1 => {
            bytes.insert(at, b'"');
            "insert a quote"
        }
        2 => {
            bytes.insert(at, 0);
            "insert a NUL"
        }
        3 => {
            let bad: &[&[u8]] = &[b"\xff", b"\xfe\xff", b"\xc3", b"\xe2\x82", b"\xed\xa0\x80"];
            let pick = bad[rng.below(bad.len())];
            bytes.splice(at..at, pick.iter().copied());
            "insert invalid UTF-8"
        }
        4 => {
            bytes.truncate(at);
            "truncate"
        }
        5 => {
            bytes.splice(at..at, b",,".iter().copied());
            "duplicate delimiters"
        }
        6 => {
            // A huge field: over the record bound one time in three.
            let len = if rng.below(3) == 0 {
                MAX_RECORD_BYTES + rng.below(4096)
            } else {
                rng.below(100_000)
            };
            let quoted = rng.below(2) == 0;
            let mut field = Vec::with_capacity(len + 2);
            if quoted {
                field.push(b'"');
            }
            field.extend(std::iter::repeat_n(b'x', len));
            if quoted && rng.below(2) == 0 {
                field.push(b'"');
            }
            bytes.splice(at..at, field);
            "huge field"
        }
        7 => {
            let breaks: &[&[u8]] = &[b"\n", b"\r", b"\r\n", b"\n\n"];
            let pick = breaks[rng.below(breaks.len())];
            bytes.splice(at..at, pick.iter().copied());
            "insert a line break"
        }
        8 => {
            if at < bytes.len() {
                bytes.remove(at);
            }
            "delete a byte"
        }
        9 => {
            bytes.splice(at..at, b"\xEF\xBB\xBF".iter().copied());
            "insert a BOM"
        }
        _ => {
            let b = rng.below(256) as u8;
            if let Some(slot) = bytes.get_mut(at) {
                *slot = b;
            }
            "random byte"
        }
    }
}

/// The lines records start on, by the reader's definition, written out here from the
/// definition rather than from its code: RFC 4180 quoting (`""` inside quotes, a quote
/// only opens a field at its start, any quote inside quotes closes them); `\n`, `\r` and
/// `\r\n` end a record; blank lines are skipped; lines are counted by `\n`. A record is
/// its bytes through its terminator; one over `MAX_RECORD_BYTES` is still one record,
/// and reading resumes after the first `\n` among its first `MAX_RECORD_BYTES + 1`
/// bytes, or else after the next `\n` in the file.
fn record_lines(bytes: &[u8]) -> Vec<u64> {
    #[derive(Clone, Copy)]
    enum State {
        StartField,
        InField,
        Quoted,
        QuoteInQuoted,
    }
    let breaks = |b: &[u8]| b.iter().filter(|&&c| c == b'\n').count() as u64;
    let mut starts = Vec::new();
    let (mut i, mut line) = (0, 1u64);
    loop {
        while i < bytes.len() && (bytes[i] == b'\n' || bytes[i] == b'\r') {
            line += u64::from(bytes[i] == b'\n');
            i += 1;
        }
        if i == bytes.len() {
            return starts;
        }
        let start = i;
        starts.push(line);
        let mut state = State::StartField;
        let mut end = None;
        let mut j = start;
        while j < bytes.len() && j - start <= MAX_RECORD_BYTES {
            let b = bytes[j];
            let term = b == b'\n' || b == b'\r';
            state = match (state, b) {
                (State::StartField, b'"') => State::Quoted,
                (State::Quoted, b'"') => State::QuoteInQuoted,
                (State::Quoted, _) => State::Quoted,
                (State::QuoteInQuoted, b'"') => State::Quoted,
                (_, b',') => State::StartField,
                _ if term => {
                    end = Some(j + 1);
                    break;
                }
                _ => State::InField,
            };
            j += 1;
        }
        let end = match end {
            Some(e) if e - start <= MAX_RECORD_BYTES => e,
            None if j == bytes.len() && j - start <= MAX_RECORD_BYTES => j,
            _ => {
                // Over the bound: resume after the first line break it holds.
                let window = &bytes[start..(start + MAX_RECORD_BYTES + 1).min(bytes.len())];
                line += 1;
                i = match window.iter().position(|&b| b == b'\n') {
                    Some(at) => start + at + 1,
                    None => {
                        let from = start + window.len();
                        bytes[from..]
                            .iter()
                            .position(|&b| b == b'\n')
                            .map_or(bytes.len(), |at| from + at + 1)
                    }
                };
                continue;
            }
        };
        // A `\r\n` terminator: the `\n` is skipped as a blank line next time round.
        line += breaks(&bytes[start..end]);
        i = end;
    }
}

/// (rows in, scored, rejected) from the run summary on stderr.
fn summary(err: &str) -> (usize, usize, usize) {
    let line = err
        .lines()
        .find(|l| l.starts_with("rows in "))
        .unwrap_or_else(|| panic!("no summary in {err}"));
    let numbers: Vec<usize> = line
        .split([' ', ','])
        .filter_map(|w| w.parse().ok())
        .collect();
    (numbers[0], numbers[1], numbers[2])
}

#[test]
fn corrupted_batch_files_never_panic_and_lose_no_row() {
    let dir = tempfile::tempdir().unwrap();
    let models = dir.path().join("models");
    train_small(&models);
    let text = std::fs::read_to_string(fixture("telco_400.csv")).unwrap();
    let valid: String = text.lines().take(31).map(|l| format!("{l}\n")).collect();
    let mut rng = Rng(0x5EED_CAFE);
    let (mut scored_files, mut refused_files) = (0, 0);
    let (mut rows_in, mut rows_out, mut rows_rejected, mut over_long) = (0, 0, 0, 0);
    let mut refusals = std::collections::BTreeMap::<String, usize>::new();
    for case in 0..300 {
        let mut bytes = valid.clone().into_bytes();
        let mut done = Vec::new();
        for _ in 0..1 + rng.below(4) {
            done.push(corrupt(&mut bytes, &mut rng));
        }
        let input = write(dir.path(), "corrupt.csv", &bytes);
        let output = dir.path().join("scored.csv");
        let rejects = dir.path().join("rejects.csv");
        let _ = std::fs::remove_file(&output);
        let out = score_with(
            &models,
            &input,
            &output,
            &["--rejects", rejects.to_str().unwrap()],
        );
        let err = stderr(&out);
        let what = format!("case {case} ({done:?})");
        assert!(!err.contains("panicked"), "{what}: {err}");
        match out.status.code() {
            Some(0) => {}
            Some(INPUT_ERROR) => {
                refused_files += 1;
                // The reason without the file name or numbers, to tally kinds.
                let reason = err.lines().last().unwrap_or_default();
                let reason = reason.split_once("corrupt.csv: ").map_or(reason, |r| r.1);
                let kind: String = reason
                    .split('`')
                    .next()
                    .unwrap_or_default()
                    .chars()
                    .map(|c| if c.is_ascii_digit() { 'N' } else { c })
                    .collect();
                *refusals.entry(kind).or_default() += 1;
                assert!(!output.exists(), "{what}: a refused run left an output");
                continue;
            }
            other => panic!("{what}: exit {other:?}: {err}"),
        }
        scored_files += 1;
        let (n_in, n_scored, n_rejected) = summary(&err);
        let scored = csv_rows(&output);
        let rejected = csv_rows(&rejects);
        assert_eq!(scored.len(), n_scored, "{what}");
        assert_eq!(rejected.len(), n_rejected, "{what}");
        assert_eq!(n_in, n_scored + n_rejected, "{what}");
        let lines = record_lines(&bytes);
        assert_eq!(
            n_in,
            lines.len() - 1,
            "{what}: rows in, by the file's records"
        );
        for reject in &rejected {
            let line: u64 = reject[0].parse().unwrap();
            assert!(lines[1..].contains(&line), "{what}: reject at line {line}");
        }
        over_long += rejected
            .iter()
            .filter(|r| r[1].starts_with("record longer than"))
            .count();
        rows_in += n_in;
        rows_out += n_scored;
        rows_rejected += n_rejected;
    }
    println!(
        "corrupted files: {scored_files} scored, {refused_files} refused; \
         rows in {rows_in}, out {rows_out}, rejected {rows_rejected} \
         ({over_long} of them over the record bound)"
    );
    println!("refusals: {refusals:?}");
    assert_eq!(rows_in, rows_out + rows_rejected);
    assert!(scored_files > 150, "most corruptions leave a scorable file");
}

#[test]
fn the_record_definition_here_reads_plain_files_as_the_csv_crate_does() {
    let text: &[u8] = b"a,b\n\"x\ny\",2\n\"q\"\"\",3\nlast,1";
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text);
    let theirs: Vec<u64> = reader
        .byte_records()
        .map(|r| r.unwrap().position().unwrap().line())
        .collect();
    assert_eq!(record_lines(text), theirs);
    assert_eq!(theirs, [1, 2, 4, 5]);
    // Blank lines and CR line ends: a record's line is the one it starts on.
    assert_eq!(record_lines(b"a\r\n\r\nb\rc\n\n\nd"), [1, 3, 3, 6]);
}
