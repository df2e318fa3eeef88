//! Drift monitoring in the service: what /v1/score/batch scores is counted in the window,
//! and a shifted batch shows as an alert in GET /v1/monitoring and on /metrics.

mod common;
use common::http::{get, post_json, request, start};
use common::*;
use serde_json::{Map, Value as Json};

/// The fixture's customers as JSON records, with tenure changed by `tenure`.
fn customers(tenure: impl Fn(f64) -> f64) -> Vec<Json> {
    let mut reader = csv::Reader::from_path(fixture("telco_400.csv")).unwrap();
    let header = reader.headers().unwrap().clone();
    reader
        .records()
        .map(|row| {
            let row = row.unwrap();
            let mut record = Map::new();
            for (name, cell) in header.iter().zip(row.iter()) {
                let value = match (name, cell.parse::<f64>()) {
                    ("tenure", Ok(t)) => Json::from(tenure(t)),
                    _ => Json::from(cell),
                };
                record.insert(name.to_string(), value);
            }
            Json::Object(record)
        })
        .collect()
}

fn post_batch(addr: std::net::SocketAddr, records: &[Json]) {
    let r = post_json(
        addr,
        "/v1/score/batch",
        &Json::from(records.to_vec()).to_string(),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["failed"], 0, "{}", r.body);
}

fn status_of<'a>(monitoring: &'a Json, input: &str) -> &'a Json {
    &monitoring["drift"]["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["input"] == input)
        .unwrap_or_else(|| panic!("no {input} in {monitoring:#}"))["status"]
}

#[test]
fn a_shifted_batch_raises_the_tenure_alert_in_monitoring_and_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let models = dir.path().join("models");
    train_small(&models);
    let keys = write(dir.path(), "keys", b"k1\n");
    let server = start(
        &models,
        &[
            "--monitoring-window",
            "400",
            "--api-keys-file",
            keys.to_str().unwrap(),
        ],
    );
    let a = server.addr;
    let auth = [
        ("authorization", "Bearer k1"),
        ("content-type", "application/json"),
    ];
    let batch = |records: &[Json]| {
        let body = Json::from(records.to_vec()).to_string();
        let r = request(a, "POST", "/v1/score/batch", &auth, Some(body.as_bytes()));
        assert_eq!(r.status, 200, "{}", r.body);
    };
    // Behind the same API key as the other read routes.
    assert_eq!(get(a, "/v1/monitoring").status, 401);
    let monitoring = || {
        let r = request(a, "GET", "/v1/monitoring", &auth[..1], None);
        assert_eq!(r.status, 200, "{}", r.body);
        r.json()
    };
    assert_eq!(monitoring()["drift"]["records"], 0);

    // The training customers themselves: nothing moves.
    batch(&customers(|t| t));
    let same = monitoring();
    assert_eq!(same["drift"]["records"], 400);
    assert_eq!(status_of(&same, "tenure"), "ok", "{same:#}");

    // Tenure halved: the window (400 records) now holds only shifted customers.
    batch(&customers(|t| (t / 2.0).floor()));
    let shifted = monitoring();
    assert_eq!(shifted["drift"]["records"], 400);
    let window = &shifted["window"];
    assert_eq!(window["kind"], "records", "{window}");
    assert_eq!(window["span_records"], 400, "{window}");
    assert_eq!(window["rows"], 400, "{window}");
    assert_eq!(status_of(&shifted, "tenure"), "alert", "{shifted:#}");
    assert_eq!(status_of(&shifted, "contract"), "ok", "{shifted:#}");
    assert_eq!(shifted["model_version"], same["model_version"]);

    let metrics = get(a, "/metrics").body;
    let line = |prefix: &str| {
        metrics
            .lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no {prefix} in\n{metrics}"))
            .to_string()
    };
    let psi: f64 = line("custscore_input_psi{input=\"tenure\"}")
        .rsplit(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(psi >= 0.25, "{psi}");
    assert!(line("custscore_input_drift_status{input=\"tenure\"}").ends_with(" 2"));
    assert!(line("custscore_input_drift_status{input=\"contract\"}").ends_with(" 0"));
    assert!(line("custscore_monitoring_window_records").ends_with(" 400"));
    let openapi = get(a, "/openapi.json").json();
    assert!(openapi["paths"]["/v1/monitoring"]["get"].is_object());
}

#[test]
fn without_monitoring_nothing_is_counted_and_the_route_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let models = dir.path().join("models");
    train_small(&models);
    let server = start(&models, &["--no-monitoring"]);
    post_batch(server.addr, &customers(|t| t / 2.0));
    let r = get(server.addr, "/v1/monitoring");
    assert_eq!(r.status, 404, "{}", r.body);
    assert!(r.body.contains("monitoring is off"), "{}", r.body);
    assert!(!get(server.addr, "/metrics")
        .body
        .contains("custscore_input_psi"));
    drop(server);

    // A bundle from before drift references serves as before, without monitoring.
    common::drift_data::strip_drift_reference(&models);
    let server = start(&models, &[]);
    post_batch(server.addr, &customers(|t| t));
    let r = get(server.addr, "/v1/monitoring");
    assert_eq!(r.status, 404, "{}", r.body);
    assert!(r.body.contains("no drift reference"), "{}", r.body);
}

#[test]
fn a_time_window_reports_its_kind_span_and_rows() {
    let dir = tempfile::tempdir().unwrap();
    let models = dir.path().join("models");
    train_small(&models);
    let server = start(&models, &["--monitoring-window", "15m"]);
    post_batch(server.addr, &customers(|t| t));
    post_batch(server.addr, &customers(|t| t)[..100]);
    let r = get(server.addr, "/v1/monitoring");
    assert_eq!(r.status, 200, "{}", r.body);
    let monitoring = r.json();
    let window = &monitoring["window"];
    assert_eq!(window["kind"], "time", "{window}");
    assert_eq!(window["span_seconds"], 900, "{window}");
    assert_eq!(window["rows"], 500, "{window}");
    assert_eq!(monitoring["drift"]["records"], 500);
    assert_eq!(status_of(&monitoring, "tenure"), "ok", "{monitoring:#}");
    drop(server);

    let addr = format!("127.0.0.1:{}", common::http::free_port());
    let m = models.to_str().unwrap();
    for bad in ["10s", "1.5h", "0", "soon"] {
        let out = run(&[
            "serve",
            "--models",
            m,
            "--addr",
            &addr,
            "--monitoring-window",
            bad,
        ]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{bad}: {err}");
        assert!(err.contains("--monitoring-window"), "{bad}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}
