//! `custscore aggregate`: a log split by customer into parts, each aggregated on its own
//! (header-less, through standard input, as a Spark partition is piped), gives the same
//! customer table as the whole log, byte for byte after sorting.

mod common;
use common::*;
use std::io::Write;
use std::process::{Command, Stdio};

/// The log's columns without RETAIL_LOG_COLUMNS' `--exclude-items` (set here per run).
const LOG_FLAGS: &[&str] = RETAIL_LOG_COLUMNS.split_at(12).0;

fn aggregate_part(header: &str, part: &[u8]) -> Vec<u8> {
    let mut cmd = Command::new(BIN);
    cmd.args([
        "aggregate",
        "--transactions",
        "-",
        "--no-header",
        "--columns",
        header,
    ])
    .args(LOG_FLAGS)
    .args(["--as-of", "2011-06-01", "--exclude-items", "POST,M"])
    .stdin(Stdio::piped())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let bytes = part.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&bytes));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn sorted_lines(bytes: &[u8]) -> Vec<String> {
    let mut lines: Vec<String> = String::from_utf8(bytes.to_vec())
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    lines.sort();
    lines
}

/// FNV-1a: any hash that sends each customer to one part will do.
fn part_of(customer: &str, parts: u64) -> usize {
    let hash = customer.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
    });
    (hash % parts) as usize
}

#[test]
fn parts_split_by_customer_aggregate_to_the_whole_logs_table() {
    let dir = tempfile::tempdir().unwrap();
    let log = fixture("retail_sample.csv");
    let whole = dir.path().join("whole.csv");
    let out = run(&[
        &["aggregate", "--transactions", log.to_str().unwrap()][..],
        LOG_FLAGS,
        &["--as-of", "2011-06-01", "--exclude-items", "POST,M"],
        &["--output", whole.to_str().unwrap()],
    ]
    .concat());
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("customers written to"),
        "{}",
        stderr(&out)
    );
    let whole = std::fs::read(&whole).unwrap();
    let header_end = whole.iter().position(|&b| b == b'\n').unwrap() + 1;
    let header = String::from_utf8_lossy(&whole[..header_end]).into_owned();
    assert!(
        header.starts_with("CustomerID,recency_days,frequency,monetary"),
        "{header}"
    );
    assert!(header.trim_end().ends_with(",churned"), "{header}");
    let customers = sorted_lines(&whole[header_end..]);
    assert!(customers.len() > 50, "{}", customers.len());
    assert!(customers.iter().any(|l| l.ends_with(",Yes")));
    assert!(customers.iter().any(|l| l.ends_with(",No")));

    // Split the log's lines by a hash of the customer into 5 header-less parts.
    let text = std::fs::read_to_string(&log).unwrap();
    let mut lines = text.lines();
    let log_header = lines.next().unwrap();
    let customer_at = log_header
        .split(',')
        .position(|c| c == "CustomerID")
        .unwrap();
    let mut parts = vec![Vec::new(); 5];
    let mut reader = csv::ReaderBuilder::new().from_path(&log).unwrap();
    let mut writers: Vec<csv::Writer<&mut Vec<u8>>> = parts
        .iter_mut()
        .map(|p| csv::WriterBuilder::new().has_headers(false).from_writer(p))
        .collect();
    for record in reader.records() {
        let record = record.unwrap();
        writers[part_of(&record[customer_at], 5)]
            .write_record(&record)
            .unwrap();
    }
    drop(writers);
    let mut union = Vec::new();
    for part in &parts {
        assert!(!part.is_empty());
        union.extend(aggregate_part(log_header, part));
    }
    // An empty part (a partition without lines) gives no customers, not an error.
    assert!(aggregate_part(log_header, b"").is_empty());
    assert_eq!(sorted_lines(&union), customers);
}

#[test]
fn aggregate_needs_the_cut_off() {
    let log = fixture("retail_sample.csv");
    let out = run(&[
        &["aggregate", "--transactions", log.to_str().unwrap()][..],
        LOG_FLAGS,
    ]
    .concat());
    assert_fails_with(&out, &["--as-of DATE (or --cutoff) is required"]);
}
