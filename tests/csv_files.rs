//! The same header rules for every kind of CSV the binary reads — customer tables
//! (`train --customers`), batch files (`score --input`), order logs (`train
//! --transactions`) and basket files (`rules --transactions`): blank and duplicate
//! header names are refused with their column, a UTF-8 BOM is dropped, gzip is found by
//! its magic bytes whatever the file is called, and an unterminated quote costs one
//! record, not the rest of the file. A file that cannot be opened, of any kind, is
//! named with its cause once.

mod common;
use common::*;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The first `rows` data rows of a fixture, header included.
fn head(name: &str, rows: usize) -> String {
    let text = std::fs::read_to_string(fixture(name)).unwrap();
    let mut out: String = text.lines().take(rows + 1).collect::<Vec<_>>().join("\n");
    out.push('\n');
    out
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), Default::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

/// The header with its `column`-th name (from 1) replaced.
fn rename_column(text: &str, column: usize, name: &str) -> String {
    let (header, rest) = text.split_once('\n').unwrap();
    let mut names: Vec<&str> = header.split(',').collect();
    names[column - 1] = name;
    format!("{}\n{rest}", names.join(","))
}

/// One kind of file: a good sample and how to run the command that reads it.
struct Kind {
    name: &'static str,
    good: String,
    run: fn(&Path, &Path) -> std::process::Output,
}

fn train_customers(file: &Path, dir: &Path) -> std::process::Output {
    run(&[
        "train",
        "--customers",
        file.to_str().unwrap(),
        "--id",
        "customer_id",
        "--label",
        "churn=Yes",
        "--segments",
        "3",
        "--models",
        dir.join("m-customers").to_str().unwrap(),
    ])
}

fn score_batch(file: &Path, dir: &Path) -> std::process::Output {
    let models = dir.join("models");
    if !models.exists() {
        train_small(&models);
    }
    score_with(&models, file, &dir.join("scored.csv"), &[])
}

fn train_log(file: &Path, dir: &Path) -> std::process::Output {
    train_log_on(&dir.join("m-log"), file, &[])
}

fn rules(file: &Path, _dir: &Path) -> std::process::Output {
    rules_with(file, &[])
}

/// `rules` on the baskets of `file`, with `extra` flags.
fn rules_with(file: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "rules",
        "--transactions",
        file.to_str().unwrap(),
        "--order-col",
        "InvoiceNo",
        "--item-col",
        "StockCode",
        "--min-support",
        "0.1",
    ];
    args.extend_from_slice(extra);
    run(&args)
}

fn kinds() -> Vec<Kind> {
    vec![
        Kind {
            name: "customers",
            good: head("telco_400.csv", 400),
            run: train_customers,
        },
        Kind {
            name: "batch",
            good: head("telco_400.csv", 20),
            run: score_batch,
        },
        Kind {
            name: "order log",
            good: std::fs::read_to_string(fixture("retail_sample.csv")).unwrap(),
            run: train_log,
        },
        Kind {
            name: "baskets",
            good: std::fs::read_to_string(fixture("baskets.csv")).unwrap(),
            run: rules,
        },
    ]
}

fn file(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    write(dir, name, bytes)
}

#[test]
fn blank_and_duplicate_header_names_are_refused_with_their_column() {
    let dir = tempfile::tempdir().unwrap();
    for kind in kinds() {
        let blank = file(
            dir.path(),
            "blank.csv",
            rename_column(&kind.good, 3, " ").as_bytes(),
        );
        let out = (kind.run)(&blank, dir.path());
        assert_fails_with(&out, &["blank.csv", "line 1, column 3", "blank"]);
        let err = stderr(&out);
        assert_eq!(err.matches("name is blank").count(), 1, "said once: {err}");

        let first = kind.good.split([',', '\n']).next().unwrap().to_string();
        let duplicate = file(
            dir.path(),
            "duplicate.csv",
            rename_column(&kind.good, 4, &first).as_bytes(),
        );
        let out = (kind.run)(&duplicate, dir.path());
        assert_fails_with(
            &out,
            &[
                "duplicate.csv",
                "line 1, column 4",
                &format!("`{first}`"),
                "more than once",
            ],
        );
        eprintln!("{}: refused", kind.name);
    }
}

#[test]
fn bom_and_gzip_are_read_whatever_the_file_is_called() {
    let dir = tempfile::tempdir().unwrap();
    for kind in kinds() {
        let mut bom = b"\xEF\xBB\xBF".to_vec();
        bom.extend_from_slice(kind.good.as_bytes());
        for (name, bytes) in [
            ("bom.csv", bom.clone()),
            ("compressed.csv", gzip(&bom)),
            ("compressed.csv.gz", gzip(kind.good.as_bytes())),
        ] {
            let path = file(dir.path(), name, &bytes);
            let out = (kind.run)(&path, dir.path());
            assert!(
                out.status.success(),
                "{} {name}: {}",
                kind.name,
                stderr(&out)
            );
        }
    }
}

#[test]
fn an_unterminated_quote_costs_one_record_in_every_kind_of_file() {
    let dir = tempfile::tempdir().unwrap();
    // Enough rows after the open quote that the record passes the 1 MiB bound, and no
    // quote after it that would close it.
    let sample = std::fs::read_to_string(fixture("retail_sample.csv")).unwrap();
    let log_rows: Vec<&str> = sample
        .lines()
        .skip(1)
        .filter(|l| !l.contains('"'))
        .collect();
    let mut log = format!("{}\n", sample.lines().next().unwrap());
    log.push_str(&log_rows[0].replacen(",", ",\"", 1));
    log.push('\n');
    while log.len() < (1 << 20) + (100 << 10) {
        for row in &log_rows {
            log.push_str(row);
            log.push('\n');
        }
    }
    let path = file(dir.path(), "open_quote_log.csv", log.as_bytes());
    let out = train_log(&path, dir.path());
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stdout(&out);
    assert!(err.contains("1 unreadable lines: rejected"), "{err}");
    assert!(
        err.contains("rejected line 2: record longer than 1048576 bytes"),
        "{err}"
    );

    let mut customers = head("telco_400.csv", 400);
    let second = customers.lines().nth(2).unwrap().to_string();
    customers = customers.replacen(&second, &second.replacen(",", ",\"", 1), 1);
    let rows: Vec<String> = customers.lines().skip(3).map(String::from).collect();
    let mut n = 0;
    while customers.len() < (1 << 20) + (100 << 10) {
        for row in &rows {
            n += 1;
            customers.push_str(&row.replacen('-', &format!("-{n}-"), 1));
            customers.push('\n');
        }
    }
    let path = file(dir.path(), "open_quote_customers.csv", customers.as_bytes());
    let out = train_customers(&path, dir.path());
    assert!(out.status.success(), "{}", stderr(&out));

    // The same file as a batch: only the record with the open quote is rejected.
    let rows_in = customers.lines().count() - 1;
    let out = score_batch(&path, dir.path());
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "rows in {rows_in}, scored {}, rejected 1",
            rows_in - 1
        )),
        "{err}"
    );
    let rejects = csv_rows(&dir.path().join("scored.csv.rejects.csv"));
    assert_eq!(&rejects[0][0], "3");
    assert!(rejects[0][1].starts_with("record longer than 1048576 bytes"));
}

const NO_SUCH_FILE: &str = "No such file or directory";

/// A clean failure naming `path` whose one-line message holds `cause` exactly once.
fn assert_cause_once(out: &std::process::Output, path: &Path, cause: &str) {
    assert_fails_with(out, &[path.to_str().unwrap(), cause]);
    let last = stderr(out).lines().last().unwrap_or_default().to_string();
    assert_eq!(last.matches(cause).count(), 1, "{last}");
}

/// The one-line message names each cause once: an error that chains its cause leaves
/// the cause's text out of its own message.
#[test]
fn a_file_that_cannot_be_read_or_written_names_its_cause_once() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-folder");
    for kind in kinds() {
        let path = missing.join(format!("{}.csv", kind.name.replace(' ', "_")));
        assert_cause_once(&(kind.run)(&path, dir.path()), &path, NO_SUCH_FILE);
    }
    let config = missing.join("custscore.toml");
    let out = run(&["train", "--config", config.to_str().unwrap()]);
    assert_cause_once(&out, &config, NO_SUCH_FILE);
    let itemsets = missing.join("itemsets.csv");
    let out = rules_with(
        &fixture("baskets.csv"),
        &["--itemsets", itemsets.to_str().unwrap()],
    );
    assert_cause_once(&out, &itemsets, NO_SUCH_FILE);
}

/// The same for the files beside the CSVs: outcome events, the keys file, the outcomes
/// store and the audit log.
#[test]
fn an_events_keys_store_or_audit_file_that_cannot_be_opened_names_its_cause_once() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-folder");
    let models = trained(dir.path());

    let events = missing.join("events.csv");
    let out = import_outcomes(&models, &events, &[]);
    assert_cause_once(&out, &events, NO_SUCH_FILE);

    let keys = missing.join("api-keys.txt");
    let out = run(&["keys", "list", "--keys-file", keys.to_str().unwrap()]);
    assert_cause_once(&out, &keys, NO_SUCH_FILE);

    // A store whose folder would have to be made inside a plain file (the store opens
    // before the events file is read).
    let plain = write(dir.path(), "plain", b"");
    let store = plain.join("sub/outcomes.db");
    let out = import_outcomes(&models, &plain, &["--outcomes-db", store.to_str().unwrap()]);
    assert_cause_once(&out, &store, "Not a directory");

    let audit = missing.join("audit.log");
    let port = common::http::free_port().to_string();
    let out = run(&[
        "serve",
        "--models",
        models.to_str().unwrap(),
        "--addr",
        &format!("127.0.0.1:{port}"),
        "--audit-log",
        audit.to_str().unwrap(),
    ]);
    assert_cause_once(&out, &audit, NO_SUCH_FILE);
}
