//! Bundles that pass their checksums but do not make sense: a hand-edited file with its
//! sha256 updated in the manifest must be refused by `inspect` and `score` with the file
//! and the field named, exit code 2, and no panic.

mod common;

use common::*;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// One trained bundle per test binary; each test works on its own copy.
fn trained() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        train_small(&dir.path().join("models"));
        dir
    })
    .path()
}

/// A fresh copy of the trained models folder, and the bundle folder in it.
fn copy() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let models = dir.path().join("models");
    let from = trained().join("models");
    std::fs::create_dir_all(&models).unwrap();
    let version = std::fs::read_to_string(from.join("CURRENT")).unwrap();
    let version = version.trim();
    std::fs::copy(from.join("CURRENT"), models.join("CURRENT")).unwrap();
    std::fs::create_dir_all(models.join(version)).unwrap();
    for entry in std::fs::read_dir(from.join(version)).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), models.join(version).join(entry.file_name())).unwrap();
    }
    let bundle = models.join(version);
    (dir, models, bundle)
}

/// Edit one model file and record its new sha256 in the manifest, as a careful
/// tamperer would.
fn tamper(bundle: &Path, file: &str, edit: impl FnOnce(&mut Value)) {
    let path = bundle.join(file);
    let mut value: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    edit(&mut value);
    let bytes = serde_json::to_vec_pretty(&value).unwrap();
    std::fs::write(&path, &bytes).unwrap();
    let manifest_path = bundle.join("manifest.json");
    let mut manifest: Value =
        serde_json::from_slice(&std::fs::read(&manifest_path).unwrap()).unwrap();
    manifest["files"][file] = json!(custscore::data::sha256_hex(&bytes));
    std::fs::write(
        &manifest_path,
        serde_json::to_vec_pretty(&manifest).unwrap(),
    )
    .unwrap();
}

/// `inspect` and `score` both refuse the bundle with every needle in the message.
fn refused(models: &Path, needles: &[&str]) {
    let m = models.to_str().unwrap();
    assert_fails_with(&run(&["inspect", "--models", m]), needles);
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("out.csv");
    let input = fixture("telco_400.csv");
    let out = run(&[
        "score",
        "--input",
        input.to_str().unwrap(),
        "--output",
        output.to_str().unwrap(),
        "--models",
        m,
    ]);
    assert_fails_with(&out, needles);
}

#[test]
fn the_untouched_copy_loads() {
    let (_dir, models, _) = copy();
    let out = run(&["inspect", "--models", models.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn a_centroid_of_the_wrong_width_is_refused() {
    let (_dir, models, bundle) = copy();
    tamper(&bundle, "segments.json", |v| {
        v["centroids"][1].as_array_mut().unwrap().pop();
    });
    refused(&models, &["segments.json", "centroids[1]"]);
}

#[test]
fn a_drift_profile_whose_shares_do_not_match_its_bins_is_refused() {
    let (_dir, models, bundle) = copy();
    tamper(&bundle, "drift_reference.json", |v| {
        v["inputs"][0]["shares"].as_array_mut().unwrap().pop();
    });
    refused(
        &models,
        &["drift_reference.json", "inputs[0]", "shares for"],
    );
    let (_dir, models, bundle) = copy();
    tamper(&bundle, "drift_reference.json", |v| {
        v["inputs"][0]["name"] = json!("no_such_input");
    });
    refused(&models, &["drift_reference.json", "no_such_input"]);
}

#[test]
fn a_zero_standard_deviation_is_refused() {
    let (_dir, models, bundle) = copy();
    tamper(&bundle, "encoder.json", |v| {
        let inputs = v["inputs"].as_array_mut().unwrap();
        let numeric = inputs
            .iter()
            .position(|i| i["encoding"]["type"] == "numeric")
            .unwrap();
        inputs[numeric]["encoding"]["std"] = json!(0.0);
    });
    refused(&models, &["encoder.json", ".encoding.std"]);
}

#[test]
fn a_boosted_tree_that_loops_is_refused_instead_of_hanging() {
    // The shared bundle's winner may be logistic: train one whose churn model is the GBM.
    let dir = tempfile::tempdir().unwrap();
    let config = write(
        dir.path(),
        "gbm.toml",
        b"[retention]\ncandidates = [\"gbm\"]\n",
    );
    let models = dir.path().join("models");
    let out = run(&[
        "train",
        "--config",
        config.to_str().unwrap(),
        "--customers",
        fixture("telco_400.csv").to_str().unwrap(),
        "--id",
        "customer_id",
        "--label",
        "churn=Yes",
        "--segments",
        "3",
        "--models",
        models.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let version = std::fs::read_to_string(models.join("CURRENT")).unwrap();
    let bundle = models.join(version.trim());
    let mut field = String::new();
    tamper(&bundle, "retention.json", |v| {
        assert_eq!(v["model"]["kind"], "gbm");
        let trees = v["model"]["trees"].as_array_mut().unwrap();
        let t = trees
            .iter()
            .position(|t| t["nodes"].as_array().unwrap().len() > 1)
            .unwrap();
        trees[t]["nodes"][0]["right"] = json!(0);
        field = format!("model.trees[{t}].nodes[0].right");
    });
    refused(&models, &["retention.json", &field]);
}

#[test]
fn churn_model_widths_must_match_the_encoder() {
    let (_dir, models, bundle) = copy();
    let mut field = String::new();
    tamper(&bundle, "retention.json", |v| {
        let model = &mut v["model"];
        let nodes = match model["kind"].as_str().unwrap() {
            "gbm" => &mut model["trees"][0]["nodes"],
            "decision_tree" => &mut model["tree"]["nodes"],
            _ => {
                model["weights"].as_array_mut().unwrap().pop();
                field = "model.weights".into();
                return;
            }
        };
        nodes[0]["feature"] = json!(100_000);
        field = "nodes[0].feature".into();
    });
    refused(&models, &["retention.json", &field]);
}

#[test]
fn a_readable_tree_whose_loop_is_edited_in_is_refused() {
    let (_dir, models, bundle) = copy();
    tamper(&bundle, "tree.json", |v| {
        v["tree"]["nodes"][0]["right"] = json!(0);
    });
    refused(&models, &["tree.json", "tree.nodes[0].right"]);
}

#[test]
fn a_rule_naming_a_missing_leaf_is_refused() {
    let (_dir, models, bundle) = copy();
    tamper(&bundle, "tree.json", |v| {
        v["rules"][0]["leaf"] = json!(100_000)
    });
    refused(&models, &["tree.json", "rules[0].leaf"]);
}

#[test]
fn a_calibrator_with_unequal_lengths_or_bad_bands_is_refused() {
    let (_dir, models, bundle) = copy();
    let mut isotonic = false;
    tamper(&bundle, "retention.json", |v| {
        if v["calibrator"]["method"] == "isotonic" {
            isotonic = true;
            v["calibrator"]["y"].as_array_mut().unwrap().pop();
        } else {
            v["bands"] = json!([0.9, 0.1]);
        }
    });
    let field = if isotonic { "calibrator.y" } else { "bands" };
    refused(&models, &["retention.json", field]);

    let (_dir, models, bundle) = copy();
    tamper(&bundle, "retention.json", |v| {
        v["bands"] = json!([0.9, 0.1])
    });
    refused(&models, &["retention.json", "bands"]);
}

#[test]
fn pyramid_tiers_out_of_order_or_missing_are_refused() {
    let (_dir, models, bundle) = copy();
    tamper(&bundle, "pyramid.json", |v| {
        let tiers = v["tiers"].as_array_mut().unwrap();
        tiers[0]["min_value"] = json!(-1.0);
    });
    refused(&models, &["pyramid.json", "tiers[1].min_value"]);

    let (_dir, models, bundle) = copy();
    tamper(&bundle, "pyramid.json", |v| v["tiers"] = json!([]));
    refused(&models, &["pyramid.json", "tiers"]);
}

#[test]
fn a_churn_window_beyond_the_limit_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let models = dir.path().join("models");
    train_retail_log(&models, &[]);
    let version = std::fs::read_to_string(models.join("CURRENT")).unwrap();
    let manifest = models.join(version.trim()).join("manifest.json");
    let mut value: Value = serde_json::from_slice(&std::fs::read(&manifest).unwrap()).unwrap();
    value["transactions"]["spec"]["churn_after_days"] = json!(i64::MAX);
    std::fs::write(&manifest, serde_json::to_vec_pretty(&value).unwrap()).unwrap();
    assert_fails_with(
        &run(&["inspect", "--models", models.to_str().unwrap()]),
        &["manifest.json", "transactions.spec.churn_after_days"],
    );
}

#[test]
fn a_version_that_is_a_path_is_refused() {
    let (_dir, models, _) = copy();
    let m = models.to_str().unwrap();
    for bad in ["../models", "..", "", "a/b"] {
        let out = run(&["inspect", "--models", m, "--version", bad]);
        assert_fails_with(&out, &["is not a bundle version name"]);
    }
}
