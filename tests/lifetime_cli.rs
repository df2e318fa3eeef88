//! `custscore lifetime` end to end: the real binary on committed files, with what
//! Python's lifetimes 0.11.3 computes on the same files as the oracle.

mod common;

use common::{assert_fails_with, csv_rows, fixture, run, stdout, write, CDNOW_LOG_COLUMNS};

fn summary_args(extra: &[&str]) -> Vec<String> {
    let summary = fixture("cdnow_sample_summary.csv");
    let mut args: Vec<String> = [
        "lifetime",
        "--summary",
        summary.to_str().unwrap(),
        "--id-col",
        "sample_id",
        "--recency-col",
        "recency_weeks",
        "--t-col",
        "T_weeks",
        "--unit-days",
        "7",
        "--horizon-days",
        "273",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.extend(extra.iter().map(|s| s.to_string()));
    args
}

fn close(got: &str, want: f64) {
    let got: f64 = got.parse().unwrap();
    assert!((got - want).abs() < 1e-6, "got {got}, lifetimes {want}");
}

#[test]
fn a_summary_fit_prints_the_parameters_and_every_customers_answers() {
    let dir = tempfile::tempdir().unwrap();
    let answers = dir.path().join("answers.csv");
    let args = summary_args(&["--output", answers.to_str().unwrap(), "--runs", "3"]);
    let out = run(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let text = stdout(&out);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("BG/NBD: r=0.2426 alpha=4.4135 a=0.7929 b=2.4258 (alpha in weeks)"),
        "{text}"
    );
    assert!(
        text.contains("Gamma-Gamma: p=6.2488 q=3.7446 v=15.4477"),
        "{text}"
    );
    assert!(text.contains("median of 3 runs"), "{text}");
    let rows = csv_rows(&answers);
    assert_eq!(rows.len(), 2357);
    // Customer 1 (x = 2, t_x = 30.43, T = 38.86, m = 22.35), as lifetimes answers with
    // the parameters it fits on this file.
    let first = &rows[0];
    assert_eq!(&first[0], "1");
    close(&first[5], 0.726_609_136_799_059_6);
    close(&first[6], 1.225_910_424_174_406_8);
    close(&first[7], 24.658_616_189_238_27);
}

#[test]
fn an_order_log_is_summarised_per_day_and_checked_on_the_holdout_period() {
    let log = fixture("cdnow_sample.csv");
    let mut args = vec!["lifetime", "--transactions", log.to_str().unwrap()];
    args.extend(CDNOW_LOG_COLUMNS);
    args.extend([
        "--calibration-end",
        "1997-09-30",
        "--observation-end",
        "1998-06-30",
        "--unit-days",
        "7",
    ]);
    let out = run(&args);
    let text = stdout(&out);
    assert!(out.status.success(), "{text}");
    // lifetimes: calibration_and_holdout_data(freq="D"), recency and T in weeks, then
    // BetaGeoFitter: r=0.263026, alpha=5.090294, a=0.984231, b=2.802445; 1,930 holdout
    // purchase days against 1,504.44 expected.
    assert!(
        text.contains("r=0.2630 alpha=5.0903 a=0.9842 b=2.8024 (alpha in weeks)"),
        "{text}"
    );
    assert!(
        text.contains("2357 customers first buying by 1997-09-30"),
        "{text}"
    );
    assert!(
        text.contains("total purchases: actual 1930, predicted 1504.4"),
        "{text}"
    );
    assert!(text.contains("       7+        57"), "{text}");
}

#[test]
fn a_bad_summary_row_is_named_by_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let bad = write(
        dir.path(),
        "summary.csv",
        b"frequency,recency,T,monetary_value\n2,5,10,3.5\n1.5,2,10,4\n",
    );
    let out = run(&["lifetime", "--summary", bad.to_str().unwrap()]);
    assert_fails_with(
        &out,
        &["summary.csv", "line 3", "frequency must be a whole number"],
    );
    let text = write(
        dir.path(),
        "text.csv",
        b"frequency,recency,T,monetary_value\n2,x,10,3.5\n",
    );
    let out = run(&["lifetime", "--summary", text.to_str().unwrap()]);
    assert_fails_with(&out, &["text.csv", "line 2", "column 2 (`recency`)"]);
    let out = run(&[
        "lifetime",
        "--summary",
        bad.to_str().unwrap(),
        "--t-col",
        "age",
    ]);
    assert_fails_with(&out, &["no column named `age`"]);
}

#[test]
fn a_summary_without_repeat_purchases_cannot_be_fitted() {
    let dir = tempfile::tempdir().unwrap();
    let none = write(
        dir.path(),
        "summary.csv",
        b"frequency,recency,T,monetary_value\n0,0,10,0\n0,0,4,0\n",
    );
    let out = run(&["lifetime", "--summary", none.to_str().unwrap()]);
    assert_fails_with(&out, &["BG/NBD", "a customer with a repeat purchase"]);
}
