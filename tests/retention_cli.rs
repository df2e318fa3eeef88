//! Retention risk end to end through the real binary: the telco table, an 80/20 split
//! scored by `custscore score`, a synthetic table with a known signal, and bad targets.

mod common;
use common::*;
use custscore::models::classifier::cv::{auc, ece, reliability, stratified_folds};
use rand::{Rng, SeedableRng};
use serde_json::Value as Json;
use std::path::Path;

fn manifest(models: &Path) -> Json {
    let version = std::fs::read_to_string(models.join("CURRENT")).unwrap();
    let text = std::fs::read_to_string(models.join(version.trim()).join("manifest.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// The chosen candidate's cross-validated AUC.
fn chosen_auc(retention: &Json) -> f64 {
    let chosen = retention["chosen"].as_str().unwrap();
    retention["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["model"] == chosen)
        .and_then(|c| c["auc"].as_f64())
        .unwrap()
}

fn train(data: &Path, label: &str, models: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "train",
        "--customers",
        data.to_str().unwrap(),
        "--id",
        "customer_id",
        "--label",
        label,
        "--segments",
        "2",
        "--models",
        models.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    run(&args)
}

fn column(path: &Path, name: &str) -> usize {
    let mut reader = csv::Reader::from_path(path).unwrap();
    reader
        .headers()
        .unwrap()
        .iter()
        .position(|h| h == name)
        .unwrap()
}

#[test]
fn telco_bundle_holds_candidates_calibration_tree_and_value() {
    let dir = tempfile::tempdir().unwrap();
    let models = dir.path().join("models");
    let telco = repo().join("training-data/telco_churn.csv");
    let out = train(
        &telco,
        "churn=Yes",
        &models,
        &["--margin", "monthly_charges"],
    );
    assert!(out.status.success(), "{}", stderr(&out));

    let retention = &manifest(&models)["metrics"]["retention"];
    let candidates = retention["candidates"].as_array().unwrap();
    assert_eq!(candidates.len(), 3);
    for c in candidates {
        for key in ["auc", "log_loss", "brier", "top_decile_lift", "fit_seconds"] {
            assert!(c[key].as_f64().unwrap().is_finite(), "{key} of {c}");
        }
    }
    assert!(chosen_auc(retention) > 0.84, "{retention}");
    assert!(retention["ece"].as_f64().unwrap() < 0.02, "{retention}");

    let tree = run(&["inspect", "--tree", "--models", models.to_str().unwrap()]);
    let rules = stdout(&tree);
    assert!(tree.status.success(), "{}", stderr(&tree));
    let (ifs, links): (Vec<&str>, Vec<&str>) = rules.lines().partition(|l| l.starts_with("IF "));
    assert!(ifs.len() >= 2, "{rules}");
    assert!(ifs
        .iter()
        .all(|l| l.contains(" THEN churn ") && l.contains("(n=")));
    assert!(rules.contains("contract"), "{rules}");
    // Each segment is linked to the rule covering most of it.
    assert_eq!(links.len(), 2, "{rules}");
    assert!(links
        .iter()
        .all(|l| l.starts_with("segment ") && l.contains("% of it under IF ")));

    let report = stdout(&run(&["inspect", "--models", models.to_str().unwrap()]));
    for needle in ["← chosen", "ECE", "customer equity", "protect", "IF "] {
        assert!(report.contains(needle), "{needle} missing from:\n{report}");
    }

    let output = dir.path().join("scored.csv");
    let rows = score_file(&models, &telco, &output);
    assert_eq!(rows.len(), 7043);
    let at = |name| column(&output, name);
    let (p, band, reasons, clv, quadrant) = (
        at("churn_probability"),
        at("risk_band"),
        at("reasons"),
        at("clv"),
        at("quadrant"),
    );
    for row in &rows {
        let prob: f64 = row[p].parse().unwrap();
        assert!((0.0..=1.0).contains(&prob));
        assert!(["low", "medium", "high"].contains(&&row[band]));
        assert!(row[clv].parse::<f64>().unwrap() >= 0.0);
        assert!(["protect", "invest", "maintain", "let go"].contains(&&row[quadrant]));
        assert!(row[reasons].split("; ").count() <= 3);
    }
    let with_reasons = rows.iter().filter(|r| r[reasons].contains(" (+")).count();
    // Only the safest customers have nothing raising their risk.
    assert!(with_reasons > 6500, "{with_reasons}");
}

/// Telco split 80/20 by stratified fold: (training file, held-out file, held-out labels).
fn telco_split(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf, Vec<bool>) {
    let telco = repo().join("training-data/telco_churn.csv");
    let mut reader = csv::Reader::from_path(&telco).unwrap();
    let header = reader.headers().unwrap().clone();
    let churn_at = header.iter().position(|h| h == "churn").unwrap();
    let records: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    let y: Vec<bool> = records.iter().map(|r| &r[churn_at] == "Yes").collect();
    let folds = stratified_folds(&y, 5, 2026);
    let (train_path, test_path) = (dir.join("train.csv"), dir.join("test.csv"));
    let mut train_csv = csv::Writer::from_path(&train_path).unwrap();
    let mut test_csv = csv::Writer::from_path(&test_path).unwrap();
    train_csv.write_record(&header).unwrap();
    test_csv.write_record(&header).unwrap();
    for (record, fold) in records.iter().zip(&folds) {
        let writer = if *fold == 0 {
            &mut test_csv
        } else {
            &mut train_csv
        };
        writer.write_record(record).unwrap();
    }
    let y_test = (0..y.len())
        .filter(|&i| folds[i] == 0)
        .map(|i| y[i])
        .collect();
    (train_path, test_path, y_test)
}

/// Train on 80% of telco (with `extra` flags), score the other 20%: the held-out AUC must
/// match the cross-validated one and the calibrated probabilities must mean what they
/// say on customers no model or calibrator saw. Returns (CV AUC, held-out AUC, held-out ECE).
fn held_out_check(extra: &[&str]) -> (f64, f64, f64) {
    let dir = tempfile::tempdir().unwrap();
    let (train_path, test_path, y_test) = telco_split(dir.path());
    let models = dir.path().join("models");
    let out = train(&train_path, "churn=Yes", &models, extra);
    assert!(out.status.success(), "{}", stderr(&out));
    let cv_auc = chosen_auc(&manifest(&models)["metrics"]["retention"]);

    let output = dir.path().join("scored.csv");
    let rows = score_file(&models, &test_path, &output);
    let p_at = column(&output, "churn_probability");
    let p: Vec<f64> = rows.iter().map(|r| r[p_at].parse().unwrap()).collect();
    assert_eq!(p.len(), y_test.len());
    let held_out = auc(&y_test, &p);
    let held_out_ece = ece(&reliability(&y_test, &p));
    let (mean_p, rate) = (
        p.iter().sum::<f64>() / p.len() as f64,
        y_test.iter().filter(|&&c| c).count() as f64 / y_test.len() as f64,
    );
    eprintln!(
        "{extra:?}: CV AUC {cv_auc:.4}, held-out AUC {held_out:.4}, held-out ECE {held_out_ece:.4}, \
         mean probability {mean_p:.4} vs churn rate {rate:.4}"
    );
    assert!(
        (held_out - cv_auc).abs() < 0.015,
        "held-out AUC {held_out:.4} vs CV AUC {cv_auc:.4}"
    );
    assert!(held_out_ece < 0.05, "held-out ECE {held_out_ece:.4}");
    assert!((mean_p - rate).abs() < 0.03, "{mean_p:.4} vs {rate:.4}");
    (cv_auc, held_out, held_out_ece)
}

/// Train with only `candidate` competing, then check it on the held-out 20%.
fn held_out_check_of(candidate: &str) {
    let dir = tempfile::tempdir().unwrap();
    let toml = format!("[retention]\ncandidates = [\"{candidate}\"]\n");
    let config = write(dir.path(), "retention.toml", toml.as_bytes());
    held_out_check(&["--config", config.to_str().unwrap()]);
}

#[test]
fn a_logistic_model_is_calibrated_on_held_out_customers() {
    held_out_check_of("logistic");
}

#[test]
fn a_gbm_is_calibrated_as_shipped_on_held_out_customers() {
    // Early stopping picks the shipped GBM's rounds; its calibrator must be fitted on
    // predictions of models with those very rounds.
    held_out_check_of("gbm");
}

/// Churn from a known logistic model: usage and plan matter, age a little, region and
/// noise not at all; some usage values are blank. Returns the file and the oracle AUC.
fn synthetic(dir: &Path, rows: usize) -> (std::path::PathBuf, f64) {
    let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(11);
    let path = dir.join("synthetic.csv");
    let mut out = csv::Writer::from_path(&path).unwrap();
    out.write_record([
        "customer_id",
        "age",
        "usage",
        "plan",
        "region",
        "noise",
        "left",
    ])
    .unwrap();
    let (mut y, mut truth) = (Vec::new(), Vec::new());
    for i in 0..rows {
        let age: f64 = rng.gen_range(18.0..80.0);
        let usage: f64 = rng.gen_range(0.0..10.0);
        let plan = ["basic", "plus", "premium"][rng.gen_range(0..3)];
        let region = ["north", "south", "east", "west"][rng.gen_range(0..4)];
        let plan_effect = match plan {
            "basic" => 1.0,
            "plus" => 0.0,
            _ => -1.0,
        };
        let logit = -1.0 + 0.5 * (usage - 5.0) - 0.03 * (age - 50.0) + plan_effect;
        let p = 1.0 / (1.0 + (-logit).exp());
        let left = rng.gen::<f64>() < p;
        let usage_cell = if i % 37 == 0 {
            String::new()
        } else {
            format!("{usage:.2}")
        };
        out.write_record([
            format!("c{i}"),
            format!("{age:.0}"),
            usage_cell,
            plan.into(),
            region.into(),
            format!("{:.3}", rng.gen::<f64>()),
            if left { "yes" } else { "no" }.into(),
        ])
        .unwrap();
        y.push(left);
        truth.push(p);
    }
    (path, auc(&y, &truth))
}

#[test]
fn cross_validated_auc_recovers_a_known_signal() {
    let dir = tempfile::tempdir().unwrap();
    let (data, oracle) = synthetic(dir.path(), 3000);
    let models = dir.path().join("models");
    let out = train(&data, "left=yes", &models, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let retention = &manifest(&models)["metrics"]["retention"];
    let best = chosen_auc(retention);
    assert!(
        best > oracle - 0.03 && best < oracle + 0.03,
        "CV {best} vs oracle {oracle}"
    );
    for c in retention["candidates"].as_array().unwrap() {
        assert!(c["auc"].as_f64().unwrap() > 0.7, "{c}");
    }
    let rules = stdout(&run(&[
        "inspect",
        "--tree",
        "--models",
        models.to_str().unwrap(),
    ]));
    let ifs: Vec<&str> = rules.lines().filter(|l| l.starts_with("IF ")).collect();
    assert!(ifs.iter().any(|l| l.contains("usage")), "{rules}");
    assert!(
        !ifs.iter()
            .any(|l| l.contains("noise") || l.contains("region")),
        "{rules}"
    );
}

#[test]
fn a_target_with_one_outcome_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let body = (0..50)
        .map(|i| format!("c{i},{},Yes\n", i % 10))
        .collect::<String>();
    let data = write(
        dir.path(),
        "all_yes.csv",
        format!("customer_id,tenure,churn\n{body}").as_bytes(),
    );
    let models = dir.path().join("models");
    let out = train(&data, "churn=Yes", &models, &[]);
    assert_fails_with(&out, &["all_yes.csv", "`churn`", "every labeled row"]);
    let out = train(&data, "churn=No", &models, &[]);
    assert_fails_with(&out, &["all_yes.csv", "never has the value \"No\""]);
}

#[test]
fn too_few_churners_for_the_folds_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let body = (0..50)
        .map(|i| format!("c{i},{},{}\n", i % 10, if i < 3 { "Yes" } else { "No" }))
        .collect::<String>();
    let data = write(
        dir.path(),
        "rare.csv",
        format!("customer_id,tenure,churn\n{body}").as_bytes(),
    );
    let out = train(&data, "churn=Yes", &dir.path().join("models"), &[]);
    assert_fails_with(&out, &["only 3 labeled customers", "churned", "5-fold"]);
}

#[test]
fn inspect_tree_without_a_label_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let models = dir.path().join("models");
    let out = run(&[
        "train",
        "--customers",
        fixture("telco_400.csv").to_str().unwrap(),
        "--id",
        "customer_id",
        "--segments",
        "2",
        "--models",
        models.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = run(&["inspect", "--tree", "--models", models.to_str().unwrap()]);
    assert_fails_with(&out, &["no decision tree"]);
}

#[test]
fn the_same_seed_gives_the_same_models() {
    let dir = tempfile::tempdir().unwrap();
    let (data, _) = synthetic(dir.path(), 1500);
    let files: Vec<Vec<u8>> = ["a", "b"]
        .iter()
        .flat_map(|name| {
            let models = dir.path().join(name);
            let out = train(&data, "left=yes", &models, &["--seed", "9"]);
            assert!(out.status.success(), "{}", stderr(&out));
            let version = std::fs::read_to_string(models.join("CURRENT")).unwrap();
            let bundle = models.join(version.trim());
            ["retention.json", "tree.json"].map(|f| std::fs::read(bundle.join(f)).unwrap())
        })
        .collect();
    assert!(files[0] == files[2] && files[1] == files[3]);
}
