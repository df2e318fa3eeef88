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

/// Telco records as /v1/score bodies: numbers as numbers, blanks and the label left out.
fn telco_bodies() -> Vec<String> {
    let mut reader = csv::Reader::from_path(fixture("telco_400.csv")).unwrap();
    let header = reader.headers().unwrap().clone();
    reader
        .records()
        .take(40)
        .map(|row| {
            let mut object = serde_json::Map::new();
            for (name, value) in header.iter().zip(row.unwrap().iter()) {
                if name == "churn" || value.trim().is_empty() {
                    continue;
                }
                let json = match value.parse::<f64>() {
                    Ok(n) if name != "customer_id" => serde_json::json!(n),
                    _ => serde_json::json!(value),
                };
                object.insert(name.to_string(), json);
            }
            serde_json::Value::Object(object).to_string()
        })
        .collect()
}

#[test]
fn three_replicas_under_load_never_fail_a_request_across_switches() {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};

    let dir = tempfile::tempdir().unwrap();
    let models = dir.path().join("models");
    train_small(&models);
    let v0 = current(&models);
    train_small(&models);
    let v1 = current(&models);
    // Serve the first version; the second waits to be promoted.
    let out = run(&[
        "models",
        "promote",
        &v0,
        "--models",
        models.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(current(&models), v0);

    let token = write(dir.path(), "admin.txt", b"admin-secret\n");
    let flags = [
        "--admin-token-file",
        token.to_str().unwrap(),
        "--watch-interval",
        "0.2",
    ];
    let replicas: Vec<Server> = (0..3).map(|_| start(&models, &flags)).collect();
    let addrs: Vec<std::net::SocketAddr> = replicas.iter().map(|s| s.addr).collect();
    let served = |a| get(a, "/healthz").json()["model_version"].clone();
    for &a in &addrs {
        assert_eq!(served(a), v0.as_str());
    }

    let bodies = Arc::new(telco_bodies());
    let versions = Arc::new([v0.clone(), v1.clone()]);
    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicUsize::new(0));
    let failures = Arc::new(Mutex::new(Vec::<String>::new()));
    let clients: Vec<_> = (0..4)
        .map(|client| {
            let (bodies, versions, stop, sent, failures, addrs) = (
                bodies.clone(),
                versions.clone(),
                stop.clone(),
                sent.clone(),
                failures.clone(),
                addrs.clone(),
            );
            std::thread::spawn(move || {
                let mut i = client;
                while !stop.load(Ordering::Relaxed) {
                    let addr = addrs[i % addrs.len()];
                    let body = &bodies[i % bodies.len()];
                    let outcome = try_request(
                        addr,
                        "POST",
                        "/v1/score",
                        &[("content-type", "application/json")],
                        Some(body.as_bytes()),
                    );
                    sent.fetch_add(1, Ordering::Relaxed);
                    let failure = match outcome {
                        Err(e) => Some(format!("{addr}: {e}")),
                        Ok((200, text)) => match serde_json::from_str::<serde_json::Value>(&text) {
                            Ok(json)
                                if versions.iter().any(|v| json["model_version"] == v.as_str()) =>
                            {
                                None
                            }
                            _ => Some(format!("{addr}: 200 {text}")),
                        },
                        Ok((status, text)) => Some(format!("{addr}: {status} {text}")),
                    };
                    if let Some(f) = failure {
                        failures.lock().unwrap().push(f);
                    }
                    i += 1;
                }
            })
        })
        .collect();

    let converge = |target: &str, what: &str| {
        let started = Instant::now();
        loop {
            if addrs.iter().all(|&a| served(a) == target) {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(2),
                "replicas did not converge on {target} within 2 s after the {what}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        let took = started.elapsed();
        println!(
            "{what}: all 3 replicas on {target} after {} ms ({} requests so far)",
            took.as_millis(),
            sent.load(Ordering::Relaxed)
        );
    };

    std::thread::sleep(Duration::from_millis(700));
    let body = format!(r#"{{"version": "{v1}"}}"#);
    let r = admin(addrs[0], "/v1/admin/promote", "admin-secret", Some(&body));
    assert_eq!(r.status, 200, "{}", r.body);
    converge(&v1, "HTTP promote");

    std::thread::sleep(Duration::from_millis(700));
    let out = run(&["models", "rollback", "--models", models.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    converge(&v0, "CLI rollback");

    std::thread::sleep(Duration::from_millis(700));
    let r = admin(addrs[0], "/v1/admin/promote", "admin-secret", Some(&body));
    assert_eq!(r.status, 200, "{}", r.body);
    converge(&v1, "HTTP promote again");

    std::thread::sleep(Duration::from_millis(700));
    stop.store(true, Ordering::Relaxed);
    for client in clients {
        client.join().unwrap();
    }
    let failures = failures.lock().unwrap();
    let sent = sent.load(Ordering::Relaxed);
    println!(
        "{sent} score requests to 3 replicas, {} failed",
        failures.len()
    );
    assert!(sent > 0);
    assert!(
        failures.is_empty(),
        "{} of {sent} requests failed, first: {:?}",
        failures.len(),
        failures.iter().take(5).collect::<Vec<_>>()
    );
}

#[test]
fn records_are_read_by_the_served_bundles_inputs_across_promote_and_rollback() {
    let dir = tempfile::tempdir().unwrap();
    let models = dir.path().join("models");
    train_small(&models);
    let all_inputs = current(&models);
    train_small_with(&models, &["--drop", "tenure,contract"]);
    let fewer_inputs = current(&models);
    let token = write(dir.path(), "admin.txt", b"admin-secret\n");
    let server = start(&models, &["--admin-token-file", token.to_str().unwrap()]);
    let a = server.addr;
    let answer = |addr| {
        let r = post_json(addr, "/v1/score", CUSTOMER);
        assert_eq!(r.status, 200, "{}", r.body);
        r.json()
    };
    let fewer = answer(a);
    assert_eq!(fewer["model_version"], fewer_inputs.as_str());

    let body = format!(r#"{{"version": "{all_inputs}"}}"#);
    let r = admin(a, "/v1/admin/promote", "admin-secret", Some(&body));
    assert_eq!(r.status, 200, "{}", r.body);
    // The oracle: a server started on the promoted bundle.
    let fresh = start(&models, &[]);
    let all = answer(fresh.addr);
    assert_eq!(all["model_version"], all_inputs.as_str());
    assert_ne!(all["retention"], fewer["retention"], "the inputs matter");
    assert_eq!(answer(a), all);

    let r = admin(a, "/v1/admin/rollback", "admin-secret", None);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(answer(a), fewer);
}
