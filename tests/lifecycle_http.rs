//! Promote and roll back over HTTP behind the admin token, GET /v1/models with the
//! registry, and replicas on one models folder converging with --watch-interval.

mod common;
use common::http::*;
use common::*;
use std::path::Path;
use std::time::{Duration, Instant};

const CUSTOMER: &str = r#"{"customer_id": "X1", "tenure": 3, "contract": "Month-to-month", "monthly_charges": 80.5, "total_charges": 241.5}"#;

fn admin(addr: std::net::SocketAddr, path: &str, token: &str, body: Option<&str>) -> Response {
    let auth = format!("Bearer {token}");
    request(
        addr,
        "POST",
        path,
        &[
            ("authorization", &auth),
            ("content-type", "application/json"),
        ],
        body.map(str::as_bytes),
    )
}

fn current(models: &Path) -> String {
    std::fs::read_to_string(models.join("CURRENT"))
        .unwrap()
        .trim()
        .to_string()
}

/// Three versions in `models`, the last CURRENT.
fn three_versions(models: &Path) -> Vec<String> {
    (0..3)
        .map(|_| {
            train_small(models);
            current(models)
        })
        .collect()
}

#[test]
fn promote_and_rollback_switch_current_and_the_served_bundle() {
    let dir = tempfile::tempdir().unwrap();
    let models = dir.path().join("models");
    let v = three_versions(&models);
    let token = write(dir.path(), "admin.txt", b"admin-secret\n");
    let server = start(&models, &["--admin-token-file", token.to_str().unwrap()]);
    let a = server.addr;
    let served = || post_json(a, "/v1/score", CUSTOMER).json()["model_version"].clone();
    assert_eq!(served(), v[2].as_str());

    let body = format!(r#"{{"version": "{}"}}"#, v[0]);
    let r = admin(a, "/v1/admin/promote", "wrong", Some(&body));
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(current(&models), v[2]);

    let r = admin(a, "/v1/admin/promote", "admin-secret", Some(&body));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["from"], v[2].as_str());
    assert_eq!(current(&models), v[0]);
    assert_eq!(served(), v[0].as_str());

    let r = admin(
        a,
        "/v1/admin/promote",
        "admin-secret",
        Some(r#"{"version": "nope"}"#),
    );
    assert_eq!(r.status, 404, "{}", r.body);
    let r = admin(
        a,
        "/v1/admin/promote",
        "admin-secret",
        Some(r#"{"version": "../x"}"#),
    );
    assert_eq!(r.status, 400, "{}", r.body);

    let r = admin(a, "/v1/admin/rollback", "admin-secret", None);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(current(&models), v[2]);
    assert_eq!(served(), v[2].as_str());

    let listed = get(a, "/v1/models").json();
    let registry = &listed["registry"];
    assert_eq!(registry["current"], v[2].as_str());
    assert_eq!(registry["versions"].as_array().unwrap().len(), 3);
    let actions: Vec<&str> = registry["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["train", "train", "train", "promote", "rollback"]);
    let cli = run(&[
        "models",
        "list",
        "--json",
        "--models",
        models.to_str().unwrap(),
    ]);
    let cli: serde_json::Value = serde_json::from_slice(&cli.stdout).unwrap();
    assert_eq!(&cli, registry, "the same data as `models list --json`");
}

#[test]
fn replicas_watching_one_folder_converge_after_a_promote() {
    let dir = tempfile::tempdir().unwrap();
    let models = dir.path().join("models");
    let v = three_versions(&models);
    let token = write(dir.path(), "admin.txt", b"admin-secret\n");
    let flags = [
        "--admin-token-file",
        token.to_str().unwrap(),
        "--watch-interval",
        "0.2",
    ];
    let one = start(&models, &flags);
    let two = start(&models, &flags);
    let served = |s: &Server| get(s.addr, "/healthz").json()["model_version"].clone();
    assert_eq!(served(&two), v[2].as_str());

    let body = format!(r#"{{"version": "{}"}}"#, v[1]);
    let r = admin(one.addr, "/v1/admin/promote", "admin-secret", Some(&body));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        served(&one),
        v[1].as_str(),
        "the promoting replica switches at once"
    );

    let deadline = Instant::now() + Duration::from_secs(10);
    while served(&two) != v[1].as_str() {
        assert!(
            Instant::now() < deadline,
            "the other replica never caught up"
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    // A CLI rollback is picked up by both.
    let out = run(&["models", "rollback", "--models", models.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let deadline = Instant::now() + Duration::from_secs(10);
    while served(&one) != v[2].as_str() || served(&two) != v[2].as_str() {
        assert!(
            Instant::now() < deadline,
            "replicas did not converge on the rollback"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
