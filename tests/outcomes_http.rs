//! The closed loop over HTTP against the real server: contacts from the scoring routes,
//! POST /v1/outcomes, GET /v1/campaigns/{name}, on SQLite and on PostgreSQL.

mod common;

use common::http::{get, post_json, start, try_request};
use common::*;
use serde_json::{json, Value};
use std::path::Path;

/// The first `n` customers of the telco fixture as JSON records (values as strings).
fn records(n: usize) -> Vec<serde_json::Map<String, Value>> {
    let mut reader = csv::Reader::from_path(fixture("telco_400.csv")).unwrap();
    let header = reader.headers().unwrap().clone();
    reader
        .records()
        .take(n)
        .map(|r| {
            let r = r.unwrap();
            header
                .iter()
                .zip(r.iter())
                .map(|(k, v)| (k.to_string(), Value::String(v.to_string())))
                .collect()
        })
        .collect()
}

fn with_campaign(mut record: serde_json::Map<String, Value>) -> Value {
    record.insert("campaign".into(), json!("spring"));
    record.insert("control_share".into(), json!(0.1));
    Value::Object(record)
}

/// Contacts from /v1/score and /v1/score/batch land in the arm `score --campaign` gives.
fn scoring_records_contacts(server_extra: &[&str], models: &Path, dir: &Path) {
    let server = start(models, server_extra);
    let items: Vec<Value> = records(60).into_iter().map(with_campaign).collect();
    let one = post_json(server.addr, "/v1/score", &items[0].to_string());
    assert_eq!(one.status, 200, "{}", one.body);
    let batch = post_json(
        server.addr,
        "/v1/score/batch",
        &Value::Array(items[1..].to_vec()).to_string(),
    );
    assert_eq!(batch.status, 200, "{}", batch.body);
    let mut arms = vec![one.json()["contact"]["arm"].as_str().unwrap().to_string()];
    for item in batch.json()["results"].as_array().unwrap() {
        assert_eq!(item["contact"]["campaign"], "spring");
        arms.push(item["contact"]["arm"].as_str().unwrap().to_string());
    }
    // The same customers through the batch command (its own store) get the same arms.
    let output = dir.join("cli.csv");
    let out = score_with(
        models,
        &fixture("telco_400.csv"),
        &output,
        &[
            "--campaign",
            "spring",
            "--control-share",
            "0.1",
            "--outcomes-db",
            dir.join("cli.db").to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let cli: Vec<String> = csv_rows(&output)
        .iter()
        .take(60)
        .map(|r| r[r.len() - 1].to_string())
        .collect();
    assert_eq!(arms, cli);
    // Scoring without a campaign records nothing and shows no arm.
    let plain = post_json(
        server.addr,
        "/v1/score",
        &Value::Object(records(61).pop().unwrap()).to_string(),
    );
    assert!(plain.json().get("contact").is_none(), "{}", plain.body);
    let events: Vec<Value> = (0..60)
        .step_by(3)
        .map(|i| json!({"campaign": "spring", "customer_id": items[i]["customer_id"], "type": "churned", "time": "2024-06-01"}))
        .collect();
    let stored = post_json(
        server.addr,
        "/v1/outcomes",
        &Value::Array(events).to_string(),
    );
    assert_eq!(stored.json()["stored"], 20, "{}", stored.body);
    let report = get(server.addr, "/v1/campaigns/spring");
    assert_eq!(report.status, 200, "{}", report.body);
    let report = report.json();
    assert_eq!(report["contacts"], 60);
    let outcomes = report["treatment"]["outcomes"].as_u64().unwrap()
        + report["control"]["outcomes"].as_u64().unwrap();
    assert_eq!(outcomes, 20);
}

#[test]
fn scoring_with_a_campaign_records_contacts_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let models = dir.path().join("models");
    train_small(&models);
    scoring_records_contacts(&[], &models, dir.path());
}

#[test]
fn scoring_with_a_campaign_records_contacts_on_postgres() {
    if common::postgres::skipped("scoring_with_a_campaign_records_contacts_on_postgres") {
        return;
    }
    let pg = common::postgres::Postgres::start();
    let url = pg.database("serve");
    let dir = tempfile::tempdir().unwrap();
    let models = dir.path().join("models");
    train_small(&models);
    scoring_records_contacts(&["--outcomes-db", &url], &models, dir.path());
    assert!(
        !models.join("outcomes.db").exists(),
        "nothing went to SQLite"
    );
}

#[test]
fn outcome_events_are_answered_one_by_one_and_counted_once() {
    let dir = tempfile::tempdir().unwrap();
    let models = dir.path().join("models");
    train_small(&models);
    let server = start(&models, &[]);
    let body = json!([
        {"key": "k1", "campaign": "spring", "customer_id": "1", "type": "responded", "time": "2024-06-01"},
        {"campaign": "spring", "customer_id": "2", "type": "bought", "time": "2024-06-01"},
        {"key": "k1", "campaign": "spring", "customer_id": "1", "type": "responded", "time": "2024-06-01"},
        "not an event",
        {"campaign": "spring", "customer_id": "3", "type": "purchased", "time": "2024-06-01", "value": "x"}
    ])
    .to_string();
    let answer = post_json(server.addr, "/v1/outcomes", &body);
    assert_eq!(answer.status, 200, "{}", answer.body);
    let a = answer.json();
    assert_eq!(
        (
            a["stored"].clone(),
            a["duplicates"].clone(),
            a["refused"].clone()
        ),
        (json!(1), json!(1), json!(3))
    );
    let results = a["results"].as_array().unwrap();
    let statuses: Vec<&str> = results
        .iter()
        .map(|r| r["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses,
        ["stored", "refused", "duplicate", "refused", "refused"]
    );
    assert_eq!(results[1]["error"]["at"], "[1]");
    assert_eq!(results[1]["error"]["field"], "type");
    assert_eq!(results[4]["error"]["field"], "value");
    let again = post_json(server.addr, "/v1/outcomes", &body).json();
    assert_eq!(
        (again["stored"].clone(), again["duplicates"].clone()),
        (json!(0), json!(2))
    );
    // Client mistakes are 4xx JSON naming what is wrong.
    for (path, body, status, field) in [
        ("/v1/outcomes", "{\"campaign\": \"x\"}", 400, "body"),
        ("/v1/outcomes", "[{", 400, ""),
        (
            "/v1/score",
            "{\"customer_id\": \"1\", \"campaign\": 7}",
            400,
            "campaign",
        ),
        (
            "/v1/score",
            "{\"customer_id\": \"1\", \"campaign\": \"c\", \"control_share\": 2}",
            400,
            "control_share",
        ),
        (
            "/v1/score/batch",
            "[{\"customer_id\": \"1\", \"campaign\": \"c\", \"control_share\": \"a\"}]",
            200,
            "[0].control_share",
        ),
    ] {
        let r = post_json(server.addr, path, body);
        assert_eq!(r.status, status, "{path} {body}: {}", r.body);
        let json = r.json();
        let named = match status {
            200 => json["results"][0]["error"]["field"].clone(),
            _ => json["field"].clone(),
        };
        if !field.is_empty() {
            assert_eq!(named, field, "{}", r.body);
        }
    }
    let r = get(server.addr, "/v1/campaigns/nobody");
    assert_eq!(
        (r.status, r.json()["error"].clone()),
        (404, json!("not_found"))
    );
    let r = get(server.addr, "/v1/campaigns/spring?outcome=bogus");
    assert_eq!(
        (r.status, r.json()["field"].clone()),
        (400, json!("outcome"))
    );
}

/// Events posted in batches while the server is killed with SIGKILL, then everything
/// sent again to a restarted server: each distinct event is stored once.
fn killed_under_load_then_resent(extra: &[&str], models: &Path, count: &dyn Fn() -> i64) {
    let batches: Vec<String> = (0..300)
        .map(|b| {
            let events: Vec<Value> = (0..100)
                .map(|i| json!({"campaign": "load", "customer_id": format!("{}", (b * 100 + i) % 7000),
                    "type": "purchased", "time": format!("2024-06-{:02}", 1 + (b * 100 + i) / 7000), "value": i}))
                .collect();
            Value::Array(events).to_string()
        })
        .collect();
    let distinct = 300 * 100;
    let mut server = start(models, extra);
    let addr = server.addr;
    let sender = std::thread::spawn({
        let batches = batches.clone();
        move || {
            let mut sent = 0;
            for body in &batches {
                match try_request(
                    addr,
                    "POST",
                    "/v1/outcomes",
                    &[("content-type", "application/json")],
                    Some(body.as_bytes()),
                ) {
                    Ok((200, _)) => sent += 1,
                    _ => break,
                }
            }
            sent
        }
    });
    while count() < 2_000 && !sender.is_finished() {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    let acknowledged = sender.join().unwrap();
    let at_kill = count();
    assert!(
        at_kill >= acknowledged as i64 * 100,
        "every acknowledged batch is stored"
    );
    assert!(
        (at_kill as usize) < distinct,
        "killed after all {distinct} were stored: send more"
    );
    drop(server);
    let server = start(models, extra);
    for body in &batches {
        let r = post_json(server.addr, "/v1/outcomes", body);
        assert_eq!(r.status, 200, "{}", r.body);
    }
    assert_eq!(count() as usize, distinct);
}

#[test]
fn a_server_killed_under_post_load_keeps_each_event_once_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let models = dir.path().join("models");
    train_small(&models);
    let db = models.join("outcomes.db");
    let count = || {
        rusqlite::Connection::open(&db)
            .and_then(|c| c.query_row("SELECT COUNT(*) FROM outcome_events", [], |r| r.get(0)))
            .unwrap_or(0)
    };
    killed_under_load_then_resent(&[], &models, &count);
}

#[test]
fn a_server_killed_under_post_load_keeps_each_event_once_on_postgres() {
    if common::postgres::skipped(
        "a_server_killed_under_post_load_keeps_each_event_once_on_postgres",
    ) {
        return;
    }
    let pg = common::postgres::Postgres::start();
    let url = pg.database("load");
    let dir = tempfile::tempdir().unwrap();
    let models = dir.path().join("models");
    train_small(&models);
    let count = || {
        ::postgres::Client::connect(&url, ::postgres::NoTls)
            .and_then(|mut c| c.query_one("SELECT COUNT(*) FROM outcome_events", &[]))
            .map(|row| row.get::<_, i64>(0))
            .unwrap_or(0)
    };
    killed_under_load_then_resent(&["--outcomes-db", &url], &models, &count);
}

#[test]
fn a_campaign_needs_a_bundle_that_names_customers() {
    let dir = tempfile::tempdir().unwrap();
    let models = dir.path().join("models");
    let out = run(&[
        "train",
        "--promote",
        "always",
        "--customers",
        fixture("telco_400.csv").to_str().unwrap(),
        "--label",
        "churn=Yes",
        "--drop",
        "customer_id",
        "--segments",
        "3",
        "--models",
        models.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let server = start(&models, &[]);
    let r = post_json(
        server.addr,
        "/v1/score",
        "{\"tenure\": 3, \"campaign\": \"spring\"}",
    );
    assert_eq!(
        (r.status, r.json()["field"].clone()),
        (400, json!("campaign")),
        "{}",
        r.body
    );
    let r = post_json(server.addr, "/v1/score", "{\"tenure\": 3}");
    assert_eq!(r.status, 200, "{}", r.body);
}

#[test]
fn a_default_store_that_cannot_open_leaves_scoring_up_and_a_named_one_stops_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let models = dir.path().join("models");
    train_small(&models);
    // A folder where the database file would be: SQLite cannot open it.
    std::fs::create_dir(models.join("outcomes.db")).unwrap();
    let server = start(&models, &[]);
    let record = with_campaign(records(1).pop().unwrap());
    let r = post_json(server.addr, "/v1/score", &record.to_string());
    assert_eq!(
        (r.status, r.json()["error"].clone()),
        (503, json!("store_unavailable")),
        "{}",
        r.body
    );
    // The detail names the store once, and SQLite's reason.
    let detail = r.json()["detail"].as_str().unwrap().to_string();
    assert!(detail.contains("--outcomes-db"), "{detail}");
    let store = format!("outcomes database {}", models.join("outcomes.db").display());
    assert_eq!(detail.matches(&store).count(), 1, "{detail}");
    assert!(detail.contains("unable to open database file"), "{detail}");
    let r = post_json(
        server.addr,
        "/v1/score",
        &Value::Object(records(1).pop().unwrap()).to_string(),
    );
    assert_eq!(
        r.status, 200,
        "scoring without a campaign goes on: {}",
        r.body
    );
    drop(server);
    let port = common::http::free_port().to_string();
    let named = models.join("outcomes.db");
    let mut child = std::process::Command::new(BIN)
        .args([
            "serve",
            "--models",
            models.to_str().unwrap(),
            "--addr",
            &format!("127.0.0.1:{port}"),
        ])
        .args(["--outcomes-db", named.to_str().unwrap()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() > deadline {
            child.kill().unwrap();
            panic!("serve started with an outcomes database it cannot open");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let mut err = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
    assert_eq!(status.code(), Some(2), "{err}");
    assert!(
        err.contains(&format!("outcomes database {}", named.display())),
        "{err}"
    );
}
