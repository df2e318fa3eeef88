//! `custscore drift` end to end: alerts on exactly what was shifted, nothing on a
//! resample, and bundles without a reference.

mod common;
use common::drift_data::{strip_drift_reference, write_resample, write_shifted};
use common::*;
use serde_json::Value as Json;
use std::path::{Path, PathBuf};

const TELCO: &str = "training-data/telco_churn.csv";

fn telco() -> PathBuf {
    repo().join(TELCO)
}

/// Run `drift` and return its JSON report; it must succeed whatever it finds.
fn drift(models: &Path, input: &Path, extra: &[&str]) -> Json {
    let json = input.with_extension("drift.json");
    let mut args = vec![
        "drift",
        "--models",
        models.to_str().unwrap(),
        "--input",
        input.to_str().unwrap(),
        "--json",
        json.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let out = run(&args);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("status"), "{}", stdout(&out));
    serde_json::from_slice(&std::fs::read(json).unwrap()).unwrap()
}

fn inputs_at(report: &Json, status: &str) -> Vec<String> {
    report["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["status"] == status)
        .map(|i| i["input"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn a_shifted_copy_alerts_on_exactly_what_moved_and_a_resample_on_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let models = dir.path().join("models");
    let trained = run(&[
        "train",
        "--customers",
        TELCO,
        "--id",
        "customer_id",
        "--label",
        "churn=Yes",
        "--segments",
        "4",
        "--models",
        models.to_str().unwrap(),
    ]);
    assert!(trained.status.success(), "{}", stderr(&trained));
    let (shifted, resample) = (
        dir.path().join("shifted.csv"),
        dir.path().join("resample.csv"),
    );
    write_shifted(&telco(), &shifted);
    write_resample(&telco(), &resample);

    let shifted_report = drift(&models, &shifted, &[]);
    let report = shifted_report.clone();
    assert_eq!(
        inputs_at(&report, "alert"),
        ["tenure", "contract"],
        "{report:#}"
    );
    assert!(inputs_at(&report, "warn").is_empty(), "{report:#}");
    let contract = report["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["input"] == "contract")
        .unwrap();
    assert!((contract["unseen_rate"].as_f64().unwrap() - 0.1).abs() < 1e-3);
    assert_eq!(report["records"], 7043);

    let report = drift(&models, &resample, &[]);
    assert!(inputs_at(&report, "alert").is_empty(), "{report:#}");
    assert!(inputs_at(&report, "warn").is_empty(), "{report:#}");
    // The churn probability moves with tenure (on telco by 0.05: below the warning).
    let churn_psi = |r: &Json| r["churn_probability"]["psi"].as_f64().unwrap();
    assert!(
        churn_psi(&shifted_report) > 10.0 * churn_psi(&report),
        "{shifted_report:#}"
    );
    assert_eq!(report["churn_probability"]["status"], "ok");
    assert_eq!(report["segments"]["status"], "ok");
    // Thresholds are the user's: at 0.001 a resample's sampling noise shows.
    let strict = drift(
        &models,
        &resample,
        &["--psi-warn", "0.0001", "--psi-alert", "0.001"],
    );
    assert!(!inputs_at(&strict, "alert").is_empty(), "{strict:#}");
}

#[test]
fn bad_flags_and_bundles_without_a_reference_fail_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let models = dir.path().join("models");
    train_small(&models);
    let input = fixture("telco_400.csv");
    let m = models.to_str().unwrap();
    let i = input.to_str().unwrap();
    let base = ["drift", "--models", m, "--input", i];
    let with = |extra: &[&str]| run(&[&base[..], extra].concat());
    assert_fails_with(&with(&["--psi-warn", "0.3"]), &["warn 0.3", "alert 0.25"]);
    // A file missing a column the model needs: named, as `score` names it.
    let bad = write(dir.path(), "bad.csv", b"customer_id,tenure\n1,3\n");
    let out = run(&["drift", "--models", m, "--input", bad.to_str().unwrap()]);
    assert_fails_with(&out, &["bad.csv", "line 1", "no column named"]);

    // A bundle written before drift references still loads, scores, and says what to do.
    strip_drift_reference(&models);
    assert_fails_with(&with(&[]), &["no drift reference", "retrain"]);
    let scored = dir.path().join("scored.csv");
    assert_eq!(score_file(&models, &input, &scored).len(), 400);
}
