//! Shared helpers for the integration tests: run the real binary, make temp files.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub const BIN: &str = env!("CARGO_BIN_EXE_custscore");

/// The column roles of `tests/fixtures/retail_sample.csv` (Online Retail's header) and
/// its non-product item codes, as `train --transactions` flags.
pub const RETAIL_LOG_COLUMNS: [&str; 14] = [
    "--customer-col",
    "CustomerID",
    "--order-col",
    "InvoiceNo",
    "--item-col",
    "StockCode",
    "--time-col",
    "InvoiceDate",
    "--price-col",
    "UnitPrice",
    "--quantity-col",
    "Quantity",
    "--exclude-items",
    "POST,D,M,BANK CHARGES,DOT,AMAZONFEE",
];

/// The column roles of `tests/fixtures/cdnow_sample.csv` (one line per purchase, no
/// order or item ids) as `--transactions` flags.
pub const CDNOW_LOG_COLUMNS: [&str; 6] = [
    "--customer-col",
    "customer_id",
    "--time-col",
    "date",
    "--amount-col",
    "amount",
];

/// The repository root (tests run with it as the working directory).
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn fixture(name: &str) -> PathBuf {
    repo().join("tests/fixtures").join(name)
}

/// Run custscore with `args`, no CUSTSCORE_* variables leaking in from the caller.
pub fn run(args: &[&str]) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.args(args).current_dir(repo());
    for (key, _) in std::env::vars() {
        if key.starts_with("CUSTSCORE_") {
            cmd.env_remove(key);
        }
    }
    cmd.output().expect("the custscore binary runs")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Assert a clean failure: exit code 2, one-line message containing every `needle`, no panic.
pub fn assert_fails_with(o: &Output, needles: &[&str]) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(2), "stderr: {err}");
    assert!(!err.contains("panicked"), "panic: {err}");
    let last = err.lines().last().unwrap_or_default();
    for needle in needles {
        assert!(last.contains(needle), "{needle:?} not in {last:?}");
    }
}

/// The first telco customer as a JSON body (`POST /v1/score`).
pub const CUSTOMER: &str = r#"{"customer_id": "7590-VHVEG", "female": 1, "senior_citizen": 0,
  "partner": 1, "dependents": 0, "tenure": 1, "phone_service": 0,
  "multiple_lines": "No phone service", "internet_service": "DSL", "online_security": "No",
  "online_backup": "Yes", "device_protection": "No", "tech_support": "No",
  "streaming_tv": "No", "streaming_movies": "No", "contract": "Month-to-month",
  "paperless_billing": 1, "payment_method": "Electronic check",
  "monthly_charges": 29.85, "total_charges": 29.85}"#;

/// `train_small` into `dir/models`; that folder.
pub fn trained(dir: &Path) -> PathBuf {
    let models = dir.join("models");
    train_small(&models);
    models
}

/// Train a small bundle (fixed k, so it is quick) into `models` and make it CURRENT
/// (`--promote always`: these tests are about the new bundle, not the gate).
pub fn train_small(models: &Path) -> Output {
    train_small_with(models, &[])
}

/// [`train_small`] with `extra` flags after the usual ones.
pub fn train_small_with(models: &Path, extra: &[&str]) -> Output {
    let out = train_small_on(models, &fixture("telco_400.csv"), extra);
    assert!(out.status.success(), "train failed: {}", stderr(&out));
    out
}

/// [`train_small_with`] on another telco-shaped `customers` file, unchecked: the caller
/// asserts the success or the failure it expects.
pub fn train_small_on(models: &Path, customers: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "train",
        "--promote",
        "always",
        "--customers",
        customers.to_str().unwrap(),
        "--id",
        "customer_id",
        "--label",
        "churn=Yes",
        "--value",
        "total_charges",
        "--segments",
        "3",
        "--models",
        models.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    run(&args)
}

/// `train --from-campaign spring --label responded --uplift` into `models` (3 segments,
/// promoted), with `extra` flags after the usual ones; unchecked.
pub fn train_spring_uplift(models: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "train",
        "--from-campaign",
        "spring",
        "--label",
        "responded",
        "--uplift",
        "--segments",
        "3",
        "--promote",
        "always",
        "--models",
        models.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    run(&args)
}

/// Train on `tests/fixtures/retail_sample.csv` as [`train_log_on`] does, checked.
pub fn train_retail_log(models: &Path, extra: &[&str]) -> Output {
    let out = train_log_on(models, &fixture("retail_sample.csv"), extra);
    assert!(out.status.success(), "train failed: {}", stderr(&out));
    out
}

/// Train on the order log `log` with Online Retail's columns ([`RETAIL_LOG_COLUMNS`])
/// and 3 segments into `models`, `extra` flags after; unchecked.
pub fn train_log_on(models: &Path, log: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["train", "--transactions", log.to_str().unwrap()];
    args.extend(RETAIL_LOG_COLUMNS);
    args.extend(["--segments", "3", "--models", models.to_str().unwrap()]);
    args.extend_from_slice(extra);
    run(&args)
}

/// Train on `tests/fixtures/cdnow_sample.csv` ([`CDNOW_LOG_COLUMNS`]) with 3 segments
/// into `models`, `extra` flags after; unchecked.
pub fn train_cdnow_with(models: &Path, extra: &[&str]) -> Output {
    let log = fixture("cdnow_sample.csv");
    let mut args = vec!["train", "--transactions", log.to_str().unwrap()];
    args.extend(CDNOW_LOG_COLUMNS);
    args.extend(["--segments", "3", "--models", models.to_str().unwrap()]);
    args.extend_from_slice(extra);
    run(&args)
}

/// Score `tests/fixtures/retail_sample.csv` as an order log at `cutoff` with the bundle
/// in `models`, through `dir/scored.jsonl`; one JSON answer per customer.
pub fn score_retail_log(models: &Path, dir: &Path, cutoff: &str) -> Vec<serde_json::Value> {
    let scored = dir.join("scored.jsonl");
    let log = fixture("retail_sample.csv");
    let out = run(&[
        "score",
        "--models",
        models.to_str().unwrap(),
        "--transactions",
        log.to_str().unwrap(),
        "--cutoff",
        cutoff,
        "--output",
        scored.to_str().unwrap(),
        "--format",
        "jsonl",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    std::fs::read_to_string(&scored)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// `outcomes import FILE` into the outcomes store of `models`, `extra` flags after;
/// unchecked.
pub fn import_outcomes(models: &Path, file: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "outcomes",
        "import",
        file.to_str().unwrap(),
        "--models",
        models.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    run(&args)
}

pub fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

/// `custscore score` of `input` into `output` with the bundle in `models`, and `extra`
/// flags; the run, for the caller to check.
pub fn score_with(models: &Path, input: &Path, output: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "score",
        "--input",
        input.to_str().unwrap(),
        "--output",
        output.to_str().unwrap(),
        "--models",
        models.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    run(&args)
}

/// Score `input` into `output` with the bundle in `models`; the scored rows.
pub fn score_file(models: &Path, input: &Path, output: &Path) -> Vec<csv::StringRecord> {
    let out = score_with(models, input, output, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    csv_rows(output)
}

/// Count data rows of a CSV written by custscore (header excluded, quoted newlines handled).
pub fn csv_rows(path: &Path) -> Vec<csv::StringRecord> {
    let mut reader = csv::Reader::from_path(path).unwrap();
    reader.records().map(|r| r.unwrap()).collect()
}

pub mod browser;
pub mod drift_data;
pub mod http;
pub mod postgres;
