//! Shadow scoring: `serve --shadow VERSION --shadow-share S` scores a share of the
//! /v1/score and /v1/score/batch records with a challenger off the response path and
//! reports the agreement and the challenger's failures in GET /v1/models and /metrics;
//! it stops, saying why, once the challenger is served or removed.

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
    train_challenger_on(models, &fixture("telco_400.csv"))
}

fn train_challenger_on(models: &Path, customers: &Path) -> String {
    let before: Vec<_> = std::fs::read_dir(models).unwrap().flatten().collect();
    let out = run(&[
        "train",
        "--promote",
        "never",
        "--customers",
        customers.to_str().unwrap(),
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
        "custscore_shadow_failures_total",
        "custscore_shadow_active 1",
    ] {
        assert!(metrics.contains(name), "{name} not in /metrics");
    }
}

#[test]
fn the_served_version_is_never_shadowed_against_itself() {
    let dir = tempfile::tempdir().unwrap();
    let models = dir.path().join("models");
    train_small(&models);
    let champion = current(&models);
    let server = start(&models, &["--shadow", &champion, "--shadow-share", "1.0"]);
    for body in customers(20) {
        assert_eq!(post_json(server.addr, "/v1/score", &body).status, 200);
    }
    let shadow = get(server.addr, "/v1/models").json()["shadow"].clone();
    assert_eq!(shadow["active"], false, "{shadow}");
    let why = shadow["stopped"].as_str().unwrap_or_default();
    assert!(why.contains("being served"), "{shadow}");
    assert_eq!(shadow["queued"], 0, "{shadow}");
    assert_eq!(shadow["records"], 0, "{shadow}");
    assert!(get(server.addr, "/metrics")
        .body
        .contains("custscore_shadow_active 0\n"));
}

/// The `shadow` object once every queued record has been scored or failed.
fn settled(addr: std::net::SocketAddr) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let shadow = get(addr, "/v1/models").json()["shadow"].clone();
        let done = shadow["records"].as_u64().unwrap() + shadow["failures"].as_u64().unwrap();
        if done == shadow["queued"].as_u64().unwrap() {
            return shadow;
        }
        assert!(Instant::now() < deadline, "shadow stalled: {shadow}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A server shadowing half the records (by id) with a challenger trained beside its
/// bundle; the folder lives as long as the returned guard.
fn shadowing_half() -> (tempfile::TempDir, Server) {
    let dir = tempfile::tempdir().unwrap();
    let models = dir.path().join("models");
    train_small(&models);
    let challenger = train_challenger(&models);
    let server = start(&models, &["--shadow", &challenger, "--shadow-share", "0.5"]);
    (dir, server)
}

#[test]
fn batch_records_are_shadowed_one_by_one_by_the_share() {
    let (_dir, server) = shadowing_half();
    let batch = format!("[{}]", customers(200).join(","));
    let r = post_json(server.addr, "/v1/score/batch", &batch);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["scored"], 200, "{}", r.body);
    let shadow = settled(server.addr);
    println!("batch of 200 at share 0.5: {shadow}");
    let queued = shadow["queued"].as_u64().unwrap();
    assert!((60..=140).contains(&queued), "{shadow}");
    assert_eq!(shadow["records"], queued, "{shadow}");
    assert_eq!(shadow["failures"], 0, "{shadow}");
    assert_eq!(shadow["active"], true, "{shadow}");
    // The same ids one at a time are selected exactly as in the batch.
    for body in customers(200) {
        assert_eq!(post_json(server.addr, "/v1/score", &body).status, 200);
    }
    assert_eq!(settled(server.addr)["queued"], 2 * queued);
}

/// CSV batches (`text/csv` in and out) are shadowed row by row as JSON batches are: the
/// same ids selected, and the challenger reads each row as the JSON object of its cells.
#[test]
fn csv_batch_rows_are_shadowed_as_json_records_are() {
    let (_dir, server) = shadowing_half();
    let text = std::fs::read_to_string(fixture("telco_400.csv")).unwrap();
    let rows: String = text.lines().take(201).map(|l| format!("{l}\n")).collect();
    let csv_headers = [("content-type", "text/csv"), ("accept", "text/csv")];
    let r = request(
        server.addr,
        "POST",
        "/v1/score/batch",
        &csv_headers,
        Some(rows.as_bytes()),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body.lines().count(), 201, "header and 200 rows");
    let shadow = settled(server.addr);
    println!("CSV batch of 200 at share 0.5: {shadow}");
    let queued = shadow["queued"].as_u64().unwrap();
    assert!((60..=140).contains(&queued), "{shadow}");
    assert_eq!(shadow["records"], queued, "{shadow}");
    assert_eq!(
        shadow["failures"], 0,
        "the challenger read every row: {shadow}"
    );
    // The same customers as a JSON batch: the same ids, so as many again, and the
    // challenger agrees with the champion on them as often as on the CSV rows.
    let batch = format!("[{}]", customers(200).join(","));
    assert_eq!(
        post_json(server.addr, "/v1/score/batch", &batch).status,
        200
    );
    let both = settled(server.addr);
    assert_eq!(both["queued"], 2 * queued, "{both}");
    assert_eq!(both["same_segment"], shadow["same_segment"], "{both}");
    assert_eq!(both["same_band"], shadow["same_band"], "{both}");
}

#[test]
fn challenger_failures_are_counted_and_shadowing_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let models = dir.path().join("models");
    train_small(&models);
    // The challenger reads `contract` as a number, so it refuses every served record.
    let text = std::fs::read_to_string(fixture("telco_400.csv")).unwrap();
    let numeric = text
        .replace(",Month-to-month,", ",0,")
        .replace(",One year,", ",1,")
        .replace(",Two year,", ",2,");
    let file = write(dir.path(), "numeric_contract.csv", numeric.as_bytes());
    let challenger = train_challenger_on(&models, &file);
    let server = start(&models, &["--shadow", &challenger, "--shadow-share", "1.0"]);
    for body in customers(30) {
        assert_eq!(post_json(server.addr, "/v1/score", &body).status, 200);
    }
    let shadow = settled(server.addr);
    assert_eq!(shadow["queued"], 30, "{shadow}");
    assert_eq!(shadow["failures"], 30, "{shadow}");
    assert_eq!(shadow["panics"], 0, "{shadow}");
    assert_eq!(shadow["active"], true, "{shadow}");
    let metrics = get(server.addr, "/metrics").body;
    assert!(
        metrics.contains("custscore_shadow_failures_total{kind=\"error\"} 30\n"),
        "{metrics}"
    );
    assert!(metrics.contains("custscore_shadow_failures_total{kind=\"panic\"} 0\n"));
}

#[test]
fn promoting_or_removing_the_challenger_stops_shadowing() {
    let dir = tempfile::tempdir().unwrap();
    let models = dir.path().join("models");
    train_small(&models);
    let challenger = train_challenger(&models);
    let token = write(dir.path(), "admin", b"admin-secret\n");
    let server = start(
        &models,
        &[
            "--shadow",
            &challenger,
            "--shadow-share",
            "1.0",
            "--admin-token-file",
            token.to_str().unwrap(),
        ],
    );
    let score = |n| {
        for body in customers(n) {
            assert_eq!(post_json(server.addr, "/v1/score", &body).status, 200);
        }
    };
    score(40);
    assert_eq!(settled(server.addr)["records"], 40);
    let body = format!(r#"{{"version": "{challenger}"}}"#);
    let r = request(
        server.addr,
        "POST",
        "/v1/admin/promote",
        &[
            ("authorization", "Bearer admin-secret"),
            ("content-type", "application/json"),
        ],
        Some(body.as_bytes()),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    score(40);
    let shadow = settled(server.addr);
    assert_eq!(shadow["active"], false, "{shadow}");
    let why = shadow["stopped"].as_str().unwrap_or_default();
    assert!(
        why.contains(&challenger) && why.contains("being served"),
        "{shadow}"
    );
    assert_eq!(
        shadow["queued"], 40,
        "nothing shadowed after the promote: {shadow}"
    );
    drop(server);

    // A challenger whose folder disappears.
    let other = train_challenger(&models);
    let server = start(&models, &["--shadow", &other, "--shadow-share", "1.0"]);
    std::fs::remove_dir_all(models.join(&other)).unwrap();
    let shadow = get(server.addr, "/v1/models").json()["shadow"].clone();
    assert_eq!(shadow["active"], false, "{shadow}");
    assert!(
        shadow["stopped"]
            .as_str()
            .unwrap_or_default()
            .contains("removed"),
        "{shadow}"
    );
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
