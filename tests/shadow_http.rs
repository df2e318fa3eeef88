//! Shadow scoring: `serve --shadow VERSION --shadow-share S` scores a share of the
//! /v1/score records with a challenger off the response path and reports the agreement
//! in GET /v1/models and /metrics.

mod common;
use common::http::*;
use common::*;
use serde_json::{Map, Value};
use std::path::Path;
use std::time::{Duration, Instant};

fn current(models: &Path) -> String {
    std::fs::read_to_string(models.join("CURRENT"))
        .unwrap()
        .trim()
        .to_string()
}

/// Train a challenger with 4 segments next to CURRENT, without promoting it.
fn train_challenger(models: &Path) -> String {
    let before: Vec<_> = std::fs::read_dir(models).unwrap().flatten().collect();
    let out = run(&[
        "train",
        "--promote",
        "never",
        "--customers",
        fixture("telco_400.csv").to_str().unwrap(),
        "--id",
        "customer_id",
        "--label",
        "churn=Yes",
        "--value",
        "total_charges",
        "--segments",
        "4",
        "--models",
        models.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "train failed: {}", stderr(&out));
    std::fs::read_dir(models)
        .unwrap()
        .flatten()
        .filter(|e| e.path().join("manifest.json").is_file())
        .filter(|e| !before.iter().any(|b| b.path() == e.path()))
        .filter_map(|e| e.file_name().into_string().ok())
        .next()
        .expect("a new version folder")
}

/// The first `n` fixture rows as JSON customers (numbers where they parse).
fn customers(n: usize) -> Vec<String> {
    let mut reader = csv::Reader::from_path(fixture("telco_400.csv")).unwrap();
    let header = reader.headers().unwrap().clone();
    reader
        .records()
        .take(n)
        .map(|row| {
            let row = row.unwrap();
            let fields: Map<String, Value> = header
                .iter()
                .zip(row.iter())
                .map(|(k, v)| {
                    let value = match v.parse::<f64>() {
                        Ok(x) => serde_json::json!(x),
                        Err(_) => Value::String(v.to_string()),
                    };
                    (k.to_string(), value)
                })
                .collect();
            Value::Object(fields).to_string()
        })
        .collect()
}

/// Score 200 customers, then wait for at least 150 shadowed ones; the `shadow` object.
fn shadowed(models: &Path, version: &str) -> (Value, String) {
    let server = start(models, &["--shadow", version, "--shadow-share", "1.0"]);
    for body in customers(200) {
        let r = post_json(server.addr, "/v1/score", &body);
        assert_eq!(r.status, 200, "{}", r.body);
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let shadow = get(server.addr, "/v1/models").json()["shadow"].clone();
        if shadow["records"].as_u64().unwrap_or(0) >= 150 {
            return (shadow, get(server.addr, "/metrics").body);
        }
        assert!(Instant::now() < deadline, "shadow stalled: {shadow}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn figure(shadow: &Value, name: &str, low: f64) -> f64 {
    let x = shadow[name]
        .as_f64()
        .unwrap_or_else(|| panic!("{name}: {shadow}"));
    assert!((low..=1.0).contains(&x), "{name} = {x}");
    x
}

#[test]
fn a_challenger_is_compared_on_the_shadowed_records() {
    let dir = tempfile::tempdir().unwrap();
    let models = dir.path().join("models");
    train_small(&models);
    let champion = current(&models);
    let challenger = train_challenger(&models);
    assert_eq!(current(&models), champion, "the challenger is not promoted");

    let (shadow, metrics) = shadowed(&models, &challenger);
    println!("challenger {challenger} vs champion {champion}: {shadow}");
    assert_eq!(shadow["version"], challenger.as_str());
    assert_eq!(shadow["share"], 1.0);
    figure(&shadow, "same_band", 0.0);
    figure(&shadow, "same_segment", 0.0);
    figure(&shadow, "spearman", -1.0);
    for name in [
        "custscore_shadow_records_total",
        "custscore_shadow_dropped_total",
        "custscore_shadow_same_band_ratio",
        "custscore_shadow_same_segment_ratio",
        "custscore_shadow_probability_spearman",
    ] {
        assert!(metrics.contains(name), "{name} not in /metrics");
    }
}

#[test]
fn shadowing_the_champion_itself_agrees_fully() {
    let dir = tempfile::tempdir().unwrap();
    let models = dir.path().join("models");
    train_small(&models);
    let champion = current(&models);
    let (shadow, metrics) = shadowed(&models, &champion);
    println!("champion {champion} vs itself: {shadow}");
    assert_eq!(figure(&shadow, "same_band", 0.0), 1.0);
    assert_eq!(figure(&shadow, "same_segment", 0.0), 1.0);
    assert!((figure(&shadow, "spearman", -1.0) - 1.0).abs() < 1e-9);
    assert!(metrics.contains("custscore_shadow_same_band_ratio 1\n"));
}

#[test]
fn bad_shadow_flags_stop_the_server_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let models = dir.path().join("models");
    train_small(&models);
    let champion = current(&models);
    let models = models.to_str().unwrap();
    let addr = format!("127.0.0.1:{}", free_port());
    let serve = |extra: &[&str]| {
        let mut args = vec!["serve", "--models", models, "--addr", &addr];
        args.extend_from_slice(extra);
        run(&args)
    };
    for share in ["0", "1.5", "-0.2", "NaN"] {
        let flag = format!("--shadow-share={share}");
        let out = serve(&["--shadow", &champion, &flag]);
        assert_fails_with(&out, &["--shadow-share", "(0, 1]"]);
    }
    let out = serve(&["--shadow", "20990101-000000-nope", "--shadow-share", "0.5"]);
    assert_fails_with(&out, &["--shadow 20990101-000000-nope", "challenger"]);
    let out = serve(&["--shadow", "../escape"]);
    assert_fails_with(&out, &["--shadow ../escape"]);
}
