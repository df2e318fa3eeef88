//! The REST service end to end: the real binary serving on 127.0.0.1, every endpoint, the
//! bad-input list, auth, hot reload (good, corrupted, under load) and graceful shutdown.

mod common;
use common::http::{get, post_json, request, start};
use common::*;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[test]
fn every_endpoint_answers() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(&trained(dir.path()), &[]);
    let a = server.addr;

    let r = post_json(a, "/v1/score", CUSTOMER);
    assert_eq!(r.status, 200, "{}", r.body);
    let answer = r.json();
    assert_eq!(answer["id"], "7590-VHVEG");
    assert!(answer["segment"]["name"].as_str().unwrap().contains(" · "));
    assert_eq!(answer["segment"]["tier"], "lead");
    assert!(answer["model_version"].as_str().unwrap().len() > 8);

    let batch = format!("[{CUSTOMER}, {CUSTOMER}]");
    let r = post_json(a, "/v1/score/batch", &batch).json();
    assert_eq!(
        (r["scored"].as_u64(), r["failed"].as_u64()),
        (Some(2), Some(0))
    );
    assert_eq!(r["results"][1]["segment"], answer["segment"]);

    let r = get(a, "/v1/models").json();
    assert_eq!(r["version"], answer["model_version"]);
    assert_eq!(r["available"].as_array().unwrap().len(), 1);
    let r = get(a, "/v1/segments").json();
    assert_eq!(r["segments"].as_array().unwrap().len(), 3);
    assert_eq!(r["pyramid"]["tiers"][0]["name"], "platinum");
    // The value cube: every training customer in exactly one cell.
    let cells = r["cube"].as_array().unwrap();
    let customers: u64 = cells.iter().map(|c| c["customers"].as_u64().unwrap()).sum();
    assert_eq!(customers, 400, "{cells:?}");
    assert!(cells
        .iter()
        .all(|c| c["tier"].is_string() && c["churn_rate"].is_number()));
    assert!(r["stability"]["mean_ari"].is_number(), "{r}");
    let health = get(a, "/healthz");
    assert_eq!(health.status, 200);
    assert_eq!(health.json()["model_version"], answer["model_version"]);
    assert_eq!(
        get(a, "/readyz").json()["model_version"],
        answer["model_version"]
    );

    let metrics = get(a, "/metrics").body;
    assert!(
        metrics.contains(
            r#"custscore_http_requests_total{method="POST",route="/v1/score",status="200"} 1"#
        ),
        "{metrics}"
    );
    assert!(
        metrics.contains("custscore_model_info{version="),
        "{metrics}"
    );

    let text = get(a, "/openapi.json").body;
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert!(doc["paths"]["/v1/score"]["post"].is_object());
    let customer = &doc["components"]["schemas"]["CustomerRecord"]["properties"];
    assert_eq!(customer["tenure"]["type"], "number");
    assert_eq!(customer["contract"]["type"], "string");
    // The public document names columns and types, never the training categories.
    assert!(
        customer["contract"]["enum"].is_null(),
        "{}",
        customer["contract"]
    );
    for category in ["Two year", "Mailed check", "Fiber optic"] {
        assert!(
            !text.contains(category),
            "{category} published in /openapi.json"
        );
    }
}

#[test]
fn bad_input_gets_a_4xx_json_error_naming_what_was_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(
        &trained(dir.path()),
        &["--max-body-bytes", "4096", "--max-batch-items", "3"],
    );
    let a = server.addr;
    let big = format!("{{\"pad\": \"{}\"}}", "x".repeat(5000));
    // (route, headers, body, status, error code, field named)
    type Case<'a> = (
        &'a str,
        Vec<(&'a str, &'a str)>,
        String,
        u16,
        &'a str,
        Option<&'a str>,
    );
    let cases: Vec<Case> = vec![
        (
            "/v1/score",
            vec![("content-type", "application/json")],
            "{\"tenure\": ".into(),
            400,
            "invalid_json",
            None,
        ),
        (
            "/v1/score",
            vec![("content-type", "application/json")],
            "{\"tenure\": NaN}".into(),
            400,
            "invalid_json",
            None,
        ),
        (
            "/v1/score",
            vec![("content-type", "application/json")],
            "{\"customer_id\": \"c1\", \"tenure\": \"inf\"}".into(),
            400,
            "invalid_field",
            Some("tenure"),
        ),
        (
            "/v1/score",
            vec![("content-type", "application/json")],
            "{\"customer_id\": \"c1\", \"tenure\": \"ten\"}".into(),
            400,
            "invalid_field",
            Some("tenure"),
        ),
        (
            "/v1/score",
            vec![("content-type", "application/json")],
            "{\"contract\": [1]}".into(),
            400,
            "invalid_field",
            Some("contract"),
        ),
        (
            "/v1/score",
            vec![("content-type", "application/json")],
            "{\"tenure\": true}".into(),
            400,
            "invalid_field",
            Some("tenure"),
        ),
        (
            "/v1/score",
            vec![("content-type", "application/json")],
            "{\"tenure\": 1e999}".into(),
            400,
            "invalid_json",
            None,
        ),
        (
            "/v1/score",
            vec![("content-type", "application/json")],
            "{\"tenure\": 3}".into(),
            400,
            "invalid_field",
            Some("customer_id"),
        ),
        (
            "/v1/score",
            vec![("content-type", "application/json")],
            "{\"customer_id\": \" NA \", \"tenure\": 3}".into(),
            400,
            "invalid_field",
            Some("customer_id"),
        ),
        (
            "/v1/score",
            vec![("content-type", "application/json")],
            "[1, 2]".into(),
            400,
            "invalid_json",
            Some("body"),
        ),
        (
            "/v1/score",
            vec![("content-type", "application/json")],
            String::new(),
            400,
            "empty_body",
            None,
        ),
        (
            "/v1/score",
            vec![("content-type", "application/json")],
            big,
            413,
            "payload_too_large",
            None,
        ),
        (
            "/v1/score",
            vec![("content-type", "text/plain")],
            CUSTOMER.into(),
            415,
            "unsupported_media_type",
            None,
        ),
        (
            "/v1/score",
            vec![],
            CUSTOMER.into(),
            415,
            "unsupported_media_type",
            None,
        ),
        (
            "/v1/score/batch",
            vec![("content-type", "application/json")],
            "[{}, {}, {}, {}]".into(),
            400,
            "too_many_items",
            Some("body"),
        ),
        (
            "/v1/score/batch",
            vec![("content-type", "application/json")],
            "{}".into(),
            400,
            "invalid_json",
            Some("body"),
        ),
        (
            "/v1/nothing",
            vec![("content-type", "application/json")],
            "{}".into(),
            404,
            "not_found",
            None,
        ),
    ];
    for (path, headers, body, status, code, field) in cases {
        let r = request(a, "POST", path, &headers, Some(body.as_bytes()));
        assert_eq!(r.status, status, "{path} {body:.60}: {}", r.body);
        let e = r.json();
        assert_eq!(e["error"], code, "{body:.60}: {e}");
        assert_eq!(e["field"].as_str(), field, "{body:.60}: {e}");
        assert!(!e["detail"].as_str().unwrap().is_empty());
    }
    // Missing, unknown and null fields are scored; an unseen category is named in warnings.
    let r = post_json(
        a,
        "/v1/score",
        r#"{"customer_id": 7, "tenure": 3, "shoe_size": 44, "contract": null, "payment_method": "Bitcoin"}"#,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let warnings = r.json()["warnings"].to_string();
    assert!(
        warnings.contains("payment_method") && warnings.contains("Bitcoin"),
        "{warnings}"
    );
    // In a batch, one bad item does not fail the others.
    let r = post_json(
        a,
        "/v1/score/batch",
        r#"[{"customer_id": "a", "tenure": 1}, {"customer_id": "b", "tenure": "x"}, 7]"#,
    )
    .json();
    assert_eq!(
        (r["scored"].as_u64(), r["failed"].as_u64()),
        (Some(1), Some(2))
    );
    assert_eq!(r["results"][1]["error"]["field"], "[1].tenure");
    assert_eq!(r["results"][2]["error"]["field"], "[2]");
    // A record without an id is refused in a batch too, as a batch file rejects the row.
    let r = post_json(a, "/v1/score/batch", r#"[{"tenure": 1}]"#).json();
    assert_eq!(r["failed"].as_u64(), Some(1), "{r}");
    assert_eq!(r["results"][0]["error"]["field"], "[0].customer_id");
    // The server is still healthy after all of that.
    assert_eq!(post_json(a, "/v1/score", CUSTOMER).status, 200);
}

#[test]
fn a_mid_sized_batch_answers_each_record_as_the_single_route_does() {
    // 120 records, about 50 KiB: scored on the worker in slices of 25, or on the blocking
    // pool when that worker has just answered a single record; the same answers either way.
    let dir = tempfile::tempdir().unwrap();
    let server = start(&trained(dir.path()), &[]);
    let a = server.addr;
    let base: serde_json::Value = serde_json::from_str(CUSTOMER).unwrap();
    let bad = [24, 25, 50, 119];
    let records: Vec<String> = (0..120)
        .map(|i| {
            let mut record = base.clone();
            record["customer_id"] = format!("c-{i}").into();
            record["tenure"] = match bad.contains(&i) {
                true => "x".into(),
                false => (i % 72).into(),
            };
            record["monthly_charges"] = (20.0 + i as f64 * 0.75).into();
            record.to_string()
        })
        .collect();
    let body = format!("[{}]", records.join(","));
    assert!(
        (16 * 1024..64 * 1024).contains(&body.len()),
        "{}",
        body.len()
    );
    let first = post_json(a, "/v1/score/batch", &body);
    assert_eq!(first.status, 200, "{}", first.body);
    let answer = first.json();
    assert_eq!(
        (answer["scored"].as_u64(), answer["failed"].as_u64()),
        (Some(116), Some(4))
    );
    for (i, record) in records.iter().enumerate() {
        let result = &answer["results"][i];
        if bad.contains(&i) {
            assert_eq!(result["index"].as_u64(), Some(i as u64), "{result}");
            assert_eq!(
                result["error"]["field"],
                format!("[{i}].tenure"),
                "{result}"
            );
        } else {
            let alone = post_json(a, "/v1/score", record);
            assert_eq!(alone.status, 200, "{}", alone.body);
            assert_eq!(result, &alone.json(), "record {i}");
        }
    }
    let again = post_json(a, "/v1/score/batch", &body);
    assert_eq!(again.body, first.body);
}

#[test]
fn api_keys_and_the_admin_token_are_enforced() {
    let dir = tempfile::tempdir().unwrap();
    let models = trained(dir.path());
    let keys = write(dir.path(), "keys.txt", b"# clients\nkey-one\nkey-two\n");
    let admin = write(dir.path(), "admin.txt", b"admin-secret\n");
    let server = start(
        &models,
        &[
            "--api-keys-file",
            keys.to_str().unwrap(),
            "--admin-token-file",
            admin.to_str().unwrap(),
        ],
    );
    let a = server.addr;
    let json = ("content-type", "application/json");
    let score = |auth: Option<&str>| {
        let mut headers = vec![json];
        let value;
        if let Some(k) = auth {
            value = format!("Bearer {k}");
            headers.push(("authorization", value.as_str()));
            return request(a, "POST", "/v1/score", &headers, Some(CUSTOMER.as_bytes()));
        }
        request(a, "POST", "/v1/score", &headers, Some(CUSTOMER.as_bytes()))
    };
    assert_eq!(score(None).json()["error"], "missing_api_key");
    assert_eq!(score(None).status, 401);
    assert_eq!(score(Some("nope")).json()["error"], "invalid_api_key");
    assert_eq!(score(Some("key-two")).status, 200);
    assert_eq!(get(a, "/healthz").status, 200);

    let reload = |token: &str| {
        let value = format!("Bearer {token}");
        request(
            a,
            "POST",
            "/v1/admin/reload",
            &[("authorization", value.as_str())],
            None,
        )
    };
    assert_eq!(
        reload("key-one").status,
        403,
        "an API key is not the admin token"
    );
    assert_eq!(reload("admin-secret").status, 200);
}

#[test]
fn without_keys_the_server_refuses_a_public_address() {
    let dir = tempfile::tempdir().unwrap();
    let models = trained(dir.path());
    let port = common::http::free_port().to_string();
    let out = run(&[
        "serve",
        "--models",
        models.to_str().unwrap(),
        "--addr",
        &format!("0.0.0.0:{port}"),
    ]);
    assert_fails_with(&out, &["refusing to listen on 0.0.0.0", "--api-keys-file"]);
}

#[test]
fn without_an_admin_token_the_reload_route_is_closed_even_without_api_keys() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(&trained(dir.path()), &[]);
    let r = request(server.addr, "POST", "/v1/admin/reload", &[], None);
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(r.json()["error"], "admin_forbidden");
    let r = request(
        server.addr,
        "POST",
        "/v1/admin/reload",
        &[("authorization", "Bearer anything")],
        None,
    );
    assert_eq!(r.status, 403, "{}", r.body);
    // Scoring is still open on a loopback server without keys.
    assert_eq!(post_json(server.addr, "/v1/score", CUSTOMER).status, 200);
}

#[test]
fn reload_swaps_good_bundles_refuses_bad_ones_and_loses_no_request_under_load() {
    let dir = tempfile::tempdir().unwrap();
    let models = trained(dir.path());
    let admin = write(dir.path(), "admin.txt", b"admin-secret\n");
    let server = start(&models, &["--admin-token-file", admin.to_str().unwrap()]);
    let a = server.addr;
    let reload = || {
        request(
            a,
            "POST",
            "/v1/admin/reload",
            &[("authorization", "Bearer admin-secret")],
            None,
        )
    };
    let first = get(a, "/v1/models").json()["version"]
        .as_str()
        .unwrap()
        .to_string();

    // A new good bundle becomes CURRENT; reload picks it up.
    train_small(&models);
    let r = reload().json();
    assert_eq!(r["previous"], first.as_str());
    let second = r["version"].as_str().unwrap().to_string();
    assert_ne!(second, first);

    // A corrupted CURRENT bundle is refused; the old one keeps answering.
    train_small(&models);
    let third = std::fs::read_to_string(models.join("CURRENT"))
        .unwrap()
        .trim()
        .to_string();
    let segments = models.join(&third).join("segments.json");
    let mut bytes = std::fs::read(&segments).unwrap();
    let at = bytes.iter().position(|&b| b == b'0').unwrap();
    bytes[at] = b'1';
    std::fs::write(&segments, bytes).unwrap();
    let r = reload();
    assert_eq!(r.status, 409, "{}", r.body);
    assert!(r.json()["detail"].as_str().unwrap().contains("sha256"));
    assert_eq!(
        post_json(a, "/v1/score", CUSTOMER).json()["model_version"],
        second.as_str()
    );

    // Good bundle back as CURRENT, then reload repeatedly while clients hammer the API.
    std::fs::write(models.join("CURRENT"), format!("{first}\n")).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let (ok, failed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let clients: Vec<_> = (0..4)
        .map(|_| {
            let (stop, ok, failed) = (stop.clone(), ok.clone(), failed.clone());
            std::thread::spawn(move || {
                let deadline = Instant::now() + Duration::from_secs(10);
                for _ in 0..2_000 {
                    if stop.load(Ordering::Relaxed) || Instant::now() > deadline {
                        break;
                    }
                    match post_json(a, "/v1/score", CUSTOMER).status {
                        200 => ok.fetch_add(1, Ordering::Relaxed),
                        _ => failed.fetch_add(1, Ordering::Relaxed),
                    };
                }
            })
        })
        .collect();
    for i in 0..10 {
        let version = if i % 2 == 0 { &second } else { &first };
        std::fs::write(models.join("CURRENT"), format!("{version}\n")).unwrap();
        assert_eq!(reload().status, 200);
        std::thread::sleep(Duration::from_millis(30));
    }
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        c.join().unwrap();
    }
    assert_eq!(failed.load(Ordering::Relaxed), 0);
    assert!(
        ok.load(Ordering::Relaxed) > 50,
        "load ran: {}",
        ok.load(Ordering::Relaxed)
    );
    let metrics = get(a, "/metrics").body;
    assert!(
        metrics.contains(r#"custscore_model_reloads_total{outcome="refused"} 1"#),
        "{metrics}"
    );
}

#[test]
fn sigterm_stops_the_server_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = start(&trained(dir.path()), &[]);
    let pid = server.child.id().to_string();
    assert!(std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let deadline = Instant::now() + Duration::from_secs(35);
    loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            assert!(status.success(), "{status:?}");
            break;
        }
        assert!(Instant::now() < deadline, "server did not stop");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn first_start_without_a_bundle_trains_the_default_one() {
    let dir = tempfile::tempdir().unwrap();
    let models = dir.path().join("fresh");
    let server = start(&models, &[]);
    assert!(models.join("CURRENT").exists());
    let r = post_json(server.addr, "/v1/score", CUSTOMER);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        get(server.addr, "/v1/models").json()["training"]["rows"],
        7043
    );
    // The default bundle answers all three questions.
    let answer = r.json();
    let retention = &answer["retention"];
    let p = retention["probability"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&p), "{answer}");
    assert!(["low", "medium", "high"].contains(&retention["band"].as_str().unwrap()));
    assert_eq!(
        retention["reasons"].as_array().unwrap().len(),
        3,
        "{answer}"
    );
    assert!(retention["clv"].as_f64().unwrap() > 0.0);
    assert!(answer["segment"]["quadrant"].is_string());
    let offers = answer["cross_sell"].as_array().unwrap();
    assert!(!offers.is_empty(), "{answer}");
    assert!(offers
        .iter()
        .all(|o| !o["because"].as_array().unwrap().is_empty()));
}

/// xorshift64*: seeded and dependency-free, so a failing fuzz run replays exactly.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// A field value (raw JSON text, possibly not JSON at all) that a client could send.
fn odd_value(rng: &mut Rng) -> Vec<u8> {
    const PLAIN: &[&str] = &[
        r#""NaN""#,
        r#""nan""#,
        r#""inf""#,
        r#""-inf""#,
        r#""Infinity""#,
        r#""1e999""#,
        "1e308",
        "-1e308",
        "1e-320",
        "-0",
        "0",
        "18446744073709551616",
        "1e999",
        "NaN",
        "Infinity",
        "-Infinity",
        "true",
        "null",
        "[]",
        "{}",
        r#"{"a": [1, {"b": null}]}"#,
        r#""""#,
        r#"" ""#,
        r#""NA""#,
        r#""\u0000""#,
        r#""\ud800""#,
        r#""é😀""#,
        "[1, 2",
        r#""tenure", "tenure": 5"#,
        r#"1, "customer_id": {"x": 1}"#,
        "01",
        "+1",
        ".5",
    ];
    match rng.below(20) {
        0 => format!("\"{}\"", "x".repeat(1_000_000)).into_bytes(),
        1 => {
            let depth = 10_000;
            let open = if rng.below(2) == 0 { "[" } else { "{\"a\":" };
            let close = if open == "[" { "]" } else { "}" };
            format!("{}1{}", open.repeat(depth), close.repeat(depth)).into_bytes()
        }
        2 => b"\"\xff\xfe bad utf-8 \xc3\"".to_vec(),
        3 => b"\xff\xfe".to_vec(),
        4 => format!("\"{}\"", "é".repeat(rng.below(5000))).into_bytes(),
        _ => rng.pick(PLAIN).as_bytes().to_vec(),
    }
}

/// One customer record, valid or mutated: fields replaced, dropped or doubled.
fn fuzzed_record(rng: &mut Rng, base: &serde_json::Map<String, serde_json::Value>) -> Vec<u8> {
    let keys: Vec<&String> = base.keys().collect();
    let mut out = b"{".to_vec();
    let mut first = true;
    let mutations = rng.below(4);
    let targets: Vec<usize> = (0..mutations).map(|_| rng.below(keys.len())).collect();
    for (i, key) in keys.iter().enumerate() {
        let hit = targets.contains(&i);
        if hit && rng.below(4) == 0 {
            continue; // dropped field (the id among them)
        }
        if !first {
            out.push(b',');
        }
        first = false;
        out.extend_from_slice(format!("{:?}:", key.as_str()).as_bytes());
        if hit {
            out.extend(odd_value(rng));
        } else {
            out.extend(base[key.as_str()].to_string().into_bytes());
        }
    }
    out.push(b'}');
    out
}

fn fuzzed_body(
    rng: &mut Rng,
    batch: bool,
    base: &serde_json::Map<String, serde_json::Value>,
) -> Vec<u8> {
    let mut body = if batch {
        let n = match rng.below(20) {
            0 => 0,
            1 => 300 + rng.below(700), // above 64 KiB: scored on the blocking pool
            // 16-64 KiB: on the worker in slices, or on the pool after a single record
            2 => 40 + rng.below(90),
            _ => 1 + rng.below(5),
        };
        let mut body = b"[".to_vec();
        for i in 0..n {
            if i > 0 {
                body.push(b',');
            }
            match rng.below(30) {
                0 => body.extend(odd_value(rng)),
                _ => body.extend(fuzzed_record(rng, base)),
            }
        }
        body.push(b']');
        body
    } else {
        match rng.below(30) {
            0 => odd_value(rng),
            _ => fuzzed_record(rng, base),
        }
    };
    match rng.below(20) {
        0 => body.truncate(rng.below(body.len() + 1)),
        1 => body.clear(),
        2 if !body.is_empty() => {
            let at = rng.below(body.len());
            body[at] = (rng.next() & 0xff) as u8;
        }
        _ => {}
    }
    body
}

#[test]
fn fuzzed_requests_never_get_a_5xx_or_a_dropped_connection() {
    const REQUESTS: usize = 5_000;
    const CONTENT_TYPES: &[Option<&str>] = &[
        Some("text/plain"),
        None,
        Some("application/x-www-form-urlencoded"),
        Some("application/json; charset=utf-8"),
        Some("application/problem+json"),
        Some("application/json; charset"),
        Some("json"),
    ];
    let dir = tempfile::tempdir().unwrap();
    let server = start(&trained(dir.path()), &[]);
    let a = server.addr;
    let base = serde_json::from_str::<serde_json::Value>(CUSTOMER).unwrap();
    let base = base.as_object().unwrap();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    // (endpoint, status class) → count; class "dropped" when no complete response came back.
    let mut counts = std::collections::BTreeMap::<(&str, String), usize>::new();
    let mut failures = Vec::new();
    let started = Instant::now();
    for i in 0..REQUESTS {
        let batch = rng.below(2) == 0;
        let path = if batch {
            "/v1/score/batch"
        } else {
            "/v1/score"
        };
        let body = fuzzed_body(&mut rng, batch, base);
        let content_type = match rng.below(10) {
            0 => *rng.pick(CONTENT_TYPES),
            _ => Some("application/json"),
        };
        let headers: Vec<(&str, &str)> = content_type
            .map(|t| ("content-type", t))
            .into_iter()
            .collect();
        let class = match common::http::try_request(a, "POST", path, &headers, Some(&body)) {
            Ok((status, _)) => format!("{}xx", status / 100),
            Err(e) => {
                failures.push(format!("#{i} {path} dropped: {e}"));
                "dropped".to_string()
            }
        };
        if class == "5xx" {
            failures.push(format!(
                "#{i} {path} 5xx: {:.200}",
                String::from_utf8_lossy(&body)
            ));
        }
        *counts.entry((path, class)).or_default() += 1;
    }
    println!("fuzz: {REQUESTS} requests in {:.1?}", started.elapsed());
    for ((path, class), n) in &counts {
        println!("fuzz: {path:<16} {class:<8} {n}");
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    // The server still scores, and no scoring panic was hidden behind a 4xx.
    assert_eq!(post_json(a, "/v1/score", CUSTOMER).status, 200);
    let metrics = get(a, "/metrics").body;
    assert!(
        metrics.contains("custscore_scoring_panics_total 0"),
        "{metrics}"
    );
}

/// `POST /v1/score/batch` with `content` as `content_type`, accepting `accept`.
fn post_batch(
    a: std::net::SocketAddr,
    content_type: &str,
    accept: Option<&str>,
    body: &str,
) -> common::http::Response {
    let mut headers = vec![("content-type", content_type)];
    headers.extend(accept.map(|accept| ("accept", accept)));
    request(
        a,
        "POST",
        "/v1/score/batch",
        &headers,
        Some(body.as_bytes()),
    )
}

/// The first `n` rows of the telco fixture with its header: a row of too few fields
/// inserted as row `bad_at` (1-based), and the row after the next one given text for
/// tenure.
fn telco_rows_with_bad_ones(n: usize, bad_at: usize) -> String {
    let text = std::fs::read_to_string(fixture("telco_400.csv")).unwrap();
    let mut lines: Vec<String> = text.lines().take(n + 1).map(String::from).collect();
    lines.insert(bad_at, "9999-SHORT,No,1,0".into());
    let mut fields: Vec<&str> = lines[bad_at + 2].split(',').collect();
    assert_eq!(lines[0].split(',').nth(6), Some("tenure"));
    fields[6] = "lots";
    lines[bad_at + 2] = fields.join(",");
    lines.join("\n") + "\n"
}

#[test]
fn a_csv_batch_is_answered_with_the_batch_clis_rows_in_input_order() {
    let dir = tempfile::tempdir().unwrap();
    let models = trained(dir.path());
    let server = start(&models, &[]);
    let a = server.addr;
    let body = telco_rows_with_bad_ones(30, 4);
    assert!(body.contains(",lots,"), "the numeric cell was replaced");

    let r = post_batch(a, "text/csv", Some("text/csv"), &body);
    assert_eq!(r.status, 200, "{}", r.body);
    // The oracle: `custscore score --rejects -` on the same rows, from a file.
    let input = write(dir.path(), "rows.csv", body.as_bytes());
    let output = dir.path().join("scored.csv");
    let cli = score_with(&models, &input, &output, &["--rejects", "-"]);
    assert!(cli.status.success(), "{}", stderr(&cli));
    let cli = std::fs::read_to_string(&output).unwrap();
    let (served_lines, cli_lines): (Vec<&str>, Vec<&str>) =
        (r.body.lines().collect(), cli.lines().collect());
    assert_eq!(served_lines[0], cli_lines[0], "the same header");
    assert!(served_lines[0].ends_with(",_rejected,_record"));
    assert_eq!(served_lines.len(), 1 + 31, "one answer row per input row");
    let (mut served_sorted, mut cli_sorted) = (served_lines.clone(), cli_lines.clone());
    served_sorted.sort_unstable();
    cli_sorted.sort_unstable();
    assert_eq!(served_sorted, cli_sorted, "the same rows");
    // Rows stay in input order: the bad ones where they were sent.
    let rows = csv_rows_of(&r.body);
    let rejected = rows.iter().position(|row| !row[row.len() - 2].is_empty());
    assert_eq!(rejected, Some(3), "{}", r.body);
    assert!(rows[3][rows[3].len() - 2].starts_with("line 5: expected 21 fields, found 4"));
    assert_eq!(&rows[3][rows[3].len() - 1], "9999-SHORT,No,1,0");
    assert!(
        rows[5][rows[5].len() - 2].starts_with("line 7: "),
        "{:?}",
        rows[5]
    );
    assert!(
        rows[5][rows[5].len() - 2].contains("tenure"),
        "{:?}",
        rows[5]
    );
    assert_eq!(&rows[0][0], "7590-VHVEG");

    // A body scored in several slices (25 rows at a time on the worker, or whole on the
    // blocking pool): the same rows as the CLI, the bad ones on either side of a slice's
    // end, in input order.
    let body = telco_rows_with_bad_ones(120, 24);
    let r = post_batch(a, "text/csv", Some("text/csv"), &body);
    assert_eq!(r.status, 200, "{}", r.body);
    let input = write(dir.path(), "rows120.csv", body.as_bytes());
    let cli = score_with(&models, &input, &output, &["--rejects", "-"]);
    assert!(cli.status.success(), "{}", stderr(&cli));
    let cli = std::fs::read_to_string(&output).unwrap();
    let mut served_sorted: Vec<&str> = r.body.lines().collect();
    let mut cli_sorted: Vec<&str> = cli.lines().collect();
    assert_eq!(served_sorted.len(), 1 + 121);
    served_sorted.sort_unstable();
    cli_sorted.sort_unstable();
    assert_eq!(served_sorted, cli_sorted, "the same rows");
    let rows = csv_rows_of(&r.body);
    let rejected: Vec<usize> = (0..rows.len())
        .filter(|&i| !rows[i][rows[i].len() - 2].is_empty())
        .collect();
    assert_eq!(rejected, [23, 25], "{}", r.body);

    // Accept: anything that takes text/csv gets it (an empty one states no preference);
    // one that refuses it gets a 406.
    for accept in [
        None,
        Some("*/*"),
        Some("text/*"),
        Some("application/json;q=0.5, text/csv"),
        Some(""),
    ] {
        let r = post_batch(a, "text/csv; charset=utf-8", accept, &body);
        assert_eq!(r.status, 200, "{accept:?}: {}", r.body);
        assert_eq!(r.body, post_batch(a, "text/csv", None, &body).body);
    }
    for accept in ["application/json", "text/csv;q=0, */*", "text/html"] {
        let r = post_batch(a, "text/csv", Some(accept), &body);
        assert_eq!(r.status, 406, "{accept}: {}", r.body);
        assert_eq!(r.json()["error"], "not_acceptable");
    }
    // JSON stays JSON; asking a JSON batch for CSV is refused, not answered in JSON.
    let json = format!("[{CUSTOMER}]");
    let r = post_batch(
        a,
        "application/json",
        Some("application/json, text/csv;q=0.1"),
        &json,
    );
    assert_eq!(r.json()["scored"], 1, "{}", r.body);
    let r = post_batch(a, "application/json", Some("text/csv"), &json);
    assert_eq!(r.status, 406, "{}", r.body);
}

#[test]
fn csv_batch_mistakes_get_a_4xx_json_error() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(
        &trained(dir.path()),
        &["--max-body-bytes", "4096", "--max-batch-items", "3"],
    );
    let a = server.addr;
    let rows = telco_rows_with_bad_ones(2, 1);
    // (content type, body, status, error code, words the detail holds)
    let cases = [
        (
            "text/plain",
            rows.clone(),
            415,
            "unsupported_media_type",
            "text/csv",
        ),
        (
            "text/csv",
            String::new(),
            400,
            "invalid_csv",
            "body: line 1, the file is empty",
        ),
        (
            "text/csv",
            rows.replacen("customer_id,churn", "id,churn", 1),
            400,
            "invalid_csv",
            "no id column `customer_id`",
        ),
        (
            "text/csv",
            rows.replacen(",tenure,", ",months,", 1),
            400,
            "invalid_csv",
            "no column named `tenure`",
        ),
        (
            "text/csv",
            rows.replacen(",female,", ",churn,", 1),
            400,
            "invalid_csv",
            "appears more than once",
        ),
        (
            "text/csv",
            telco_rows_with_bad_ones(3, 1),
            400,
            "too_many_items",
            "more than 3 rows",
        ),
        (
            "text/csv",
            format!("{rows}{}", "x".repeat(5000)),
            413,
            "payload_too_large",
            "4096",
        ),
    ];
    for (content_type, body, status, code, detail) in cases {
        let r = post_batch(a, content_type, None, &body);
        assert_eq!(r.status, status, "{content_type} {body:.80}: {}", r.body);
        let error = r.json();
        assert_eq!(error["error"], code, "{}", r.body);
        let text = error["detail"].as_str().unwrap();
        assert!(text.contains(detail), "{detail:?} in {text}");
    }
    // Three rows, the bad ones among them, are scored or marked: none is lost.
    let r = post_batch(a, "text/csv", None, &rows);
    assert_eq!(r.status, 200, "{}", r.body);
    let rows = csv_rows_of(&r.body);
    assert_eq!(rows.len(), 3);
    let marked = rows
        .iter()
        .filter(|row| !row[row.len() - 2].is_empty())
        .count();
    assert_eq!(marked, 2, "{}", r.body);
}

/// The rows of a CSV answer, header left out.
fn csv_rows_of(text: &str) -> Vec<csv::StringRecord> {
    csv::Reader::from_reader(text.as_bytes())
        .records()
        .map(|r| r.unwrap())
        .collect()
}
