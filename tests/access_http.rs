//! Access control end to end against the real server: the route × scope matrix, keys made
//! by `custscore keys create`, rate limits with Retry-After, the lock-out of one address,
//! the audit trail (and what happens when its disk fails) and TLS with a generated
//! certificate.

mod common;
use common::http::{get, start, start_https, start_logged};
use common::*;
use custscore::serve::access::{Need, ROUTES};
use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// One answer with its headers (lower-cased names).
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn error(&self) -> String {
        serde_json::from_str::<serde_json::Value>(&self.body)
            .map(|v| v["error"].as_str().unwrap_or_default().to_string())
            .unwrap_or_default()
    }
}

/// Send one request from `from` (a loopback address) with an optional bearer key.
fn call(
    to: SocketAddr,
    from: Option<IpAddr>,
    method: &str,
    path: &str,
    key: Option<&str>,
    body: Option<&str>,
) -> Reply {
    call_with(to, from, method, path, key, body, &[])
}

/// `call` with more request headers.
fn call_with(
    to: SocketAddr,
    from: Option<IpAddr>,
    method: &str,
    path: &str,
    key: Option<&str>,
    body: Option<&str>,
    headers: &[(&str, &str)],
) -> Reply {
    let stream = match from {
        None => TcpStream::connect(to).unwrap(),
        Some(ip) => {
            let socket =
                socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
            socket.bind(&SocketAddr::new(ip, 0).into()).unwrap();
            socket.connect(&to.into()).unwrap();
            socket.into()
        }
    };
    let mut stream: TcpStream = stream;
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut head = format!("{method} {path} HTTP/1.1\r\nhost: {to}\r\nconnection: close\r\n");
    if let Some(key) = key {
        head.push_str(&format!("authorization: Bearer {key}\r\n"));
    }
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    let body = body.unwrap_or("");
    if method == "POST" {
        head.push_str("content-type: application/json\r\n");
    }
    head.push_str(&format!("content-length: {}\r\n\r\n{body}", body.len()));
    stream.write_all(head.as_bytes()).unwrap();
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").expect("a complete response");
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .expect("a status line");
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Reply {
        status,
        headers,
        body: body.to_string(),
    }
}

/// `custscore keys create`, returning the printed key.
fn create_key(file: &Path, id: &str, scopes: &str) -> String {
    let out = run(&[
        "keys",
        "create",
        "--id",
        id,
        "--scopes",
        scopes,
        "--keys-file",
        file.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let key = stdout(&out).trim().to_string();
    assert!(key.starts_with("csk_"), "{key}");
    key
}

/// A server on a bundle trained in `dir`, with one key (`crm`, of `scopes`) and `extra`
/// flags: the server, the key and the server's log.
fn serve_with_one_key(
    dir: &Path,
    scopes: &str,
    extra: &[&str],
) -> (common::http::Server, String, PathBuf) {
    let models = trained(dir);
    let keys = dir.join("keys.txt");
    let key = create_key(&keys, "crm", scopes);
    let log = dir.join("serve.log");
    let mut flags = vec!["--api-keys-file", keys.to_str().unwrap()];
    flags.extend_from_slice(extra);
    (start_logged(&models, &flags, &log), key, log)
}

/// A request each route accepts when the caller may use it.
fn request_for(pattern: &str) -> (&'static str, String, Option<String>) {
    match pattern {
        "/v1/score" => ("POST", pattern.into(), Some(CUSTOMER.into())),
        "/v1/score/batch" => ("POST", pattern.into(), Some(format!("[{CUSTOMER}]"))),
        "/v1/outcomes" => ("POST", pattern.into(), Some("[]".into())),
        "/v1/campaigns/{name}" => ("GET", "/v1/campaigns/spring".into(), None),
        "/v1/admin/promote" => ("POST", pattern.into(), Some(String::new())),
        p if p.starts_with("/v1/admin/") => ("POST", p.into(), None),
        p => ("GET", p.into(), None),
    }
}

#[test]
fn every_route_answers_each_scope_as_its_table_says() {
    let dir = tempfile::tempdir().unwrap();
    let models = trained(dir.path());
    let keys = dir.path().join("keys.txt");
    std::fs::write(&keys, "a-plain-key\n").unwrap();
    let callers: Vec<(String, Option<String>)> = vec![
        ("no key".into(), None),
        ("invalid".into(), Some("not-a-key".into())),
        ("plain".into(), Some("a-plain-key".into())),
        ("score".into(), Some(create_key(&keys, "s", "score"))),
        ("read".into(), Some(create_key(&keys, "r", "read"))),
        (
            "outcomes:write".into(),
            Some(create_key(&keys, "o", "outcomes:write")),
        ),
        ("admin".into(), Some(create_key(&keys, "a", "admin"))),
        ("admin token".into(), Some("admin-secret".into())),
    ];
    let admin = write(dir.path(), "admin.txt", b"admin-secret\n");
    let server = start(
        &models,
        &[
            "--api-keys-file",
            keys.to_str().unwrap(),
            "--admin-token-file",
            admin.to_str().unwrap(),
            "--lockout-failures",
            "0",
        ],
    );
    let a = server.addr;
    let version = get(a, "/healthz").json()["model_version"]
        .as_str()
        .unwrap()
        .to_string();
    // A contact of campaign `spring`, so its report exists.
    let with_campaign = CUSTOMER.replacen('{', r#"{"campaign": "spring","#, 1);
    let r = call(
        a,
        None,
        "POST",
        "/v1/score",
        callers[3].1.as_deref(),
        Some(&with_campaign),
    );
    assert_eq!(r.status, 200, "{}", r.body);

    let mut table = format!("{:<26}", "route \\ caller");
    for (name, _) in &callers {
        table.push_str(&format!("{name:>15}"));
    }
    table.push('\n');
    let mut wrong = Vec::new();
    for route in ROUTES {
        let (method, path, body) = request_for(route.pattern);
        let body = match route.pattern {
            "/v1/admin/promote" => Some(format!(r#"{{"version": "{version}"}}"#)),
            _ => body,
        };
        table.push_str(&format!("{:<26}", format!("{method} {}", route.pattern)));
        for (name, key) in &callers {
            let r = call(a, None, method, &path, key.as_deref(), body.as_deref());
            let allowed = match route.need {
                Need::Public => true,
                Need::Scope(scope) => match name.as_str() {
                    "plain" => ["score", "read"].contains(&scope.name()),
                    "admin token" => scope.name() == "admin",
                    other => other == scope.name(),
                },
            };
            let ok = match allowed {
                true => r.status < 400 || (r.status < 500 && ![401, 403, 429].contains(&r.status)),
                false => [401, 403].contains(&r.status),
            };
            if !ok {
                wrong.push(format!(
                    "{method} {path} as {name}: {} {}",
                    r.status, r.body
                ));
            }
            let mark = if allowed { "" } else { "✗" };
            table.push_str(&format!("{:>15}", format!("{mark}{}", r.status)));
        }
        table.push('\n');
    }
    println!("route × scope (status; ✗ = must be refused):\n{table}");
    assert!(wrong.is_empty(), "{}\n{table}", wrong.join("\n"));
    // No route of the API description is missing from the table.
    let doc = get(a, "/openapi.json").json();
    for path in doc["paths"].as_object().unwrap().keys() {
        assert!(
            ROUTES.iter().any(|r| r.pattern == path),
            "{path} has no scope in serve::access::ROUTES"
        );
    }
}

#[test]
fn keys_create_refuses_bad_input_and_the_file_keeps_only_hashes() {
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys.txt");
    let key = create_key(&keys, "crm", "score,read");
    let text = std::fs::read_to_string(&keys).unwrap();
    assert!(
        !text.contains(&key) && text.starts_with("crm:score,read:"),
        "{text}"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&keys).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "{mode:o}");
    }
    let file = keys.to_str().unwrap();
    let out = run(&["keys", "create", "--id", "crm", "--keys-file", file]);
    assert_fails_with(&out, &["keys.txt", "line 1", "crm"]);
    let out = run(&[
        "keys",
        "create",
        "--id",
        "x",
        "--scopes",
        "score,all",
        "--keys-file",
        file,
    ]);
    assert_fails_with(&out, &["--scopes", "\"all\""]);
    std::fs::write(&keys, format!("{text}bad:nope:{}\n", "0".repeat(64))).unwrap();
    let models = dir.path().join("models");
    let out = run(&[
        "serve",
        "--models",
        models.to_str().unwrap(),
        "--api-keys-file",
        file,
    ]);
    assert_fails_with(&out, &["keys.txt", "line 2", "\"nope\""]);
}

#[test]
fn a_burst_over_the_rate_limit_gets_429_with_retry_after_and_no_5xx() {
    let dir = tempfile::tempdir().unwrap();
    let models = trained(dir.path());
    let keys = dir.path().join("keys.txt");
    let busy = create_key(&keys, "busy", "score");
    let calm = create_key(&keys, "calm", "score");
    let server = start(
        &models,
        &[
            "--api-keys-file",
            keys.to_str().unwrap(),
            "--rate-limit",
            "5",
            "--rate-burst",
            "10",
        ],
    );
    let a = server.addr;
    let mut statuses = std::collections::BTreeMap::new();
    let mut retry_after = Vec::new();
    for _ in 0..40 {
        let r = call(a, None, "POST", "/v1/score", Some(&busy), Some(CUSTOMER));
        *statuses.entry(r.status).or_insert(0) += 1;
        if r.status == 429 {
            assert_eq!(r.error(), "rate_limited", "{}", r.body);
            retry_after.push(r.header("retry-after").expect("Retry-After").to_string());
        }
    }
    println!("40 requests at once, limit 5/s burst 10: {statuses:?}; Retry-After {retry_after:?}");
    assert!(
        statuses.keys().all(|&s| s == 200 || s == 429),
        "{statuses:?}"
    );
    let admitted = statuses.get(&200).copied().unwrap_or(0);
    assert!((10..=13).contains(&admitted), "{statuses:?}");
    assert!(retry_after.iter().all(|s| s == "1"), "{retry_after:?}");
    // Another key has its own bucket.
    let r = call(a, None, "POST", "/v1/score", Some(&calm), Some(CUSTOMER));
    assert_eq!(r.status, 200, "{}", r.body);
    // A batch's items count: 20 records leave the key about 11 tokens in debt (2.4 s at 5/s).
    let batch = format!("[{}]", vec![CUSTOMER; 20].join(","));
    let r = call(
        a,
        None,
        "POST",
        "/v1/score/batch",
        Some(&calm),
        Some(&batch),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let r = call(a, None, "POST", "/v1/score", Some(&calm), Some(CUSTOMER));
    assert_eq!(r.status, 429, "{}", r.body);
    let wait: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((2..=3).contains(&wait), "Retry-After {wait}");
    std::thread::sleep(Duration::from_secs(wait));
    let r = call(a, None, "POST", "/v1/score", Some(&calm), Some(CUSTOMER));
    assert_eq!(r.status, 200, "after Retry-After: {}", r.body);
    let metrics = get(a, "/metrics").body;
    assert!(!metrics.contains("status=\"5"), "{metrics}");
}

#[test]
fn invalid_keys_lock_out_one_address_and_not_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let lockout = [
        "--lockout-failures",
        "5",
        "--lockout-window",
        "60",
        "--lockout-secs",
        "3",
    ];
    let (server, key, log) = serve_with_one_key(dir.path(), "score,read", &lockout);
    let a = server.addr;
    let guesser: IpAddr = "127.0.0.2".parse().unwrap();
    let other: IpAddr = "127.0.0.1".parse().unwrap();
    let score = |from: IpAddr, key: &str| {
        call(
            a,
            Some(from),
            "POST",
            "/v1/score",
            Some(key),
            Some(CUSTOMER),
        )
    };
    for i in 0..5 {
        let r = score(guesser, &format!("guess-{i}"));
        assert_eq!((r.status, r.error().as_str()), (401, "invalid_api_key"));
    }
    let r = score(guesser, &key);
    assert_eq!(
        (r.status, r.error().as_str()),
        (429, "locked_out"),
        "{}",
        r.body
    );
    let wait: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=3).contains(&wait), "{wait}");
    println!(
        "127.0.0.2 after 5 invalid keys, with a valid key: {} {} Retry-After {wait}",
        r.status, r.body
    );
    let r = score(other, &key);
    assert_eq!(r.status, 200, "another address is unaffected: {}", r.body);
    assert_eq!(
        call(a, Some(guesser), "GET", "/healthz", None, None).status,
        200
    );
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(
        logged.contains("locked out") && logged.contains("127.0.0.2"),
        "{logged}"
    );
    std::thread::sleep(Duration::from_secs(wait));
    assert_eq!(score(guesser, &key).status, 200, "after the cool-down");
}

fn audit_lines(path: &Path, at_least: usize) -> Vec<serde_json::Value> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        if lines.len() >= at_least || Instant::now() > deadline {
            return lines;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn the_audit_trail_records_ids_counts_and_promotions_never_values() {
    let dir = tempfile::tempdir().unwrap();
    let models = trained(dir.path());
    let version = std::fs::read_to_string(models.join("CURRENT")).unwrap();
    let version = version.trim();
    let keys = dir.path().join("keys.txt");
    let crm = create_key(&keys, "crm", "score,read");
    let ops = create_key(&keys, "ops", "admin");
    let audit = dir.path().join("audit.log");
    let server = start(
        &models,
        &[
            "--api-keys-file",
            keys.to_str().unwrap(),
            "--audit-log",
            audit.to_str().unwrap(),
        ],
    );
    let a = server.addr;
    assert_eq!(
        call(a, None, "POST", "/v1/score", Some(&crm), Some(CUSTOMER)).status,
        200
    );
    let second = CUSTOMER.replace("7590-VHVEG", "5575-GNVDE");
    let batch = format!("[{CUSTOMER},{second},{{\"tenure\": 3}}]");
    assert_eq!(
        call(a, None, "POST", "/v1/score/batch", Some(&crm), Some(&batch)).status,
        200
    );
    assert_eq!(
        call(a, None, "GET", "/v1/segments", Some(&crm), None).status,
        200
    );
    let promote = format!(r#"{{"version": "{version}"}}"#);
    let r = call(
        a,
        None,
        "POST",
        "/v1/admin/promote",
        Some(&ops),
        Some(&promote),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let r = call(
        a,
        None,
        "POST",
        "/v1/admin/promote",
        Some(&crm),
        Some(&promote),
    );
    assert_eq!(r.status, 403, "{}", r.body);

    let lines = audit_lines(&audit, 4);
    let text = std::fs::read_to_string(&audit).unwrap();
    println!("audit lines:\n{text}");
    assert_eq!(lines.len(), 4, "GET /v1/segments is not audited:\n{text}");
    let field = |i: usize, name: &str| lines[i][name].clone();
    assert_eq!(field(0, "route"), "/v1/score");
    assert_eq!(field(0, "key_id"), "crm");
    assert_eq!(field(0, "customer_ids"), serde_json::json!(["7590-VHVEG"]));
    assert_eq!(field(0, "model_version"), version);
    assert_eq!(field(0, "status"), 200);
    assert_eq!(field(1, "route"), "/v1/score/batch");
    assert_eq!(field(1, "customers"), 3);
    assert!(lines[1].get("customer_ids").is_none());
    assert_eq!(field(2, "route"), "/v1/admin/promote");
    assert_eq!(field(2, "key_id"), "ops");
    assert_eq!(field(2, "model_version"), version);
    assert_eq!(field(3, "status"), 403);
    assert_eq!(field(3, "key_id"), "crm", "who was refused is recorded");
    for line in &lines {
        assert_eq!(line["method"], "POST");
        assert_eq!(line["client"], "127.0.0.1");
        assert!(line["time"].as_str().unwrap().ends_with('Z'));
    }
    for value in ["Month-to-month", "29.85", "Electronic check", "DSL"] {
        assert!(
            !text.contains(value),
            "a field value in the audit log: {value}"
        );
    }
}

#[test]
fn losing_the_audit_disk_is_counted_and_logged_and_scoring_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let models = trained(dir.path());
    for (target, small) in [("/dev/full", false), ("gone", true)] {
        let audit_dir = dir.path().join("audit");
        std::fs::create_dir_all(&audit_dir).unwrap();
        let path = match target {
            "gone" => audit_dir.join("audit.log"),
            device => PathBuf::from(device),
        };
        let mut extra = vec!["--audit-log", path.to_str().unwrap()];
        if small {
            // Every line starts a new file, so the next one needs the folder.
            extra.extend(["--audit-max-bytes", "100"]);
        }
        let log = dir.path().join("serve.log");
        let server = start_logged(&models, &extra, &log);
        let a = server.addr;
        let score = || call(a, None, "POST", "/v1/score", None, Some(CUSTOMER)).status;
        assert_eq!(score(), 200);
        if target == "gone" {
            std::fs::remove_dir_all(&audit_dir).unwrap();
        }
        for _ in 0..5 {
            assert_eq!(score(), 200, "scoring goes on ({target})");
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        let failures = loop {
            let metrics = get(a, "/metrics").body;
            let n: u64 = metrics
                .lines()
                .find_map(|l| l.strip_prefix("custscore_audit_failures_total "))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            if n >= 5 || Instant::now() > deadline {
                break n;
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        println!("{target}: custscore_audit_failures_total {failures}");
        assert!(failures >= 5, "{target}: {failures}");
        let logged = std::fs::read_to_string(&log).unwrap();
        assert!(logged.contains("cannot write the audit log"), "{logged}");
    }
}

#[test]
fn tls_serves_https_with_a_generated_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let models = trained(dir.path());
    let cert = dir.path().join("cert.pem");
    let key = dir.path().join("key.pem");
    let made = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        ])
        .args(["-subj", "/CN=localhost"])
        .args(["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("the openssl command is installed (it makes the test certificate)");
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let log = dir.path().join("serve.log");
    let cacert = cert.to_str().unwrap();
    let server = start_https(
        &models,
        &["--tls-cert", cacert, "--tls-key", key.to_str().unwrap()],
        &log,
        &cert,
    );
    let a = server.addr;
    let url = format!("https://localhost:{}/v1/score", a.port());
    let resolve = format!("localhost:{}:127.0.0.1", a.port());
    let curl = |extra: &[&str]| {
        Command::new("curl")
            .args([
                "-sS",
                "--resolve",
                &resolve,
                "-H",
                "content-type: application/json",
            ])
            .args(["-d", CUSTOMER, "-w", "\n%{http_code} %{ssl_verify_result}"])
            .args(extra)
            .arg(&url)
            .output()
            .unwrap()
    };
    let out = curl(&["--cacert", cacert]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    println!("curl --cacert cert.pem {url}:\n{text}");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.ends_with("200 0") && text.contains("\"model_version\""),
        "{text}"
    );
    let untrusted = curl(&[]);
    assert!(
        !untrusted.status.success(),
        "a client that does not trust the certificate fails"
    );
    let plain = common::http::try_request(a, "GET", "/readyz", &[], None);
    assert!(
        !matches!(plain, Ok((200, _))),
        "plain HTTP is not served on the TLS port: {plain:?}"
    );
    assert!(std::fs::read_to_string(&log).unwrap().contains("https://"));
}

fn keys_cli(action: &str, file: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["keys", action, "--keys-file", file.to_str().unwrap()];
    args.extend_from_slice(extra);
    run(&args)
}

#[test]
fn revoked_keys_are_refused_after_a_reload_and_a_bad_file_keeps_the_old_keys() {
    let dir = tempfile::tempdir().unwrap();
    let models = trained(dir.path());
    let keys = dir.path().join("keys.txt");
    let crm = create_key(&keys, "crm", "score,read");
    let web = create_key(&keys, "web", "score");
    let ops = create_key(&keys, "ops", "admin");
    let listed = keys_cli("list", &keys, &[]);
    assert!(listed.status.success(), "{}", stderr(&listed));
    let listing = stdout(&listed);
    println!("custscore keys list:\n{listing}");
    let text = std::fs::read_to_string(&keys).unwrap();
    for line in text.lines() {
        let hash = line.split(':').nth(2).unwrap();
        assert!(!listing.contains(hash), "the hash is never listed");
    }
    for (id, scopes) in [("crm", "score,read"), ("web", "score"), ("ops", "admin")] {
        let row = listing.lines().find(|l| l.starts_with(id)).unwrap();
        assert!(row.contains(scopes) && row.contains("Z"), "{row}");
    }

    let log = dir.path().join("serve.log");
    let mut server = start_logged(&models, &["--api-keys-file", keys.to_str().unwrap()], &log);
    let a = server.addr;
    let score = |key: &str| call(a, None, "POST", "/v1/score", Some(key), Some(CUSTOMER));
    let reload = |key: &str| call(a, None, "POST", "/v1/admin/keys/reload", Some(key), None);
    assert_eq!(score(&web).status, 200);

    let revoked = keys_cli("revoke", &keys, &["--id", "web"]);
    assert!(revoked.status.success(), "{}", stderr(&revoked));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&keys).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "still owner-only: {mode:o}");
    }
    assert_eq!(score(&web).status, 200, "in force until reloaded");
    assert_eq!(reload(&crm).status, 403, "reloading keys needs scope admin");
    let r = reload(&ops);
    assert_eq!((r.status, r.body.as_str()), (200, "{\"keys\":2}"));
    let r = score(&web);
    assert_eq!(
        (r.status, r.error().as_str()),
        (401, "invalid_api_key"),
        "{}",
        r.body
    );
    assert_eq!(score(&crm).status, 200);

    // A broken file: the reload is refused with the reason, the keys in force stay.
    let good = std::fs::read_to_string(&keys).unwrap();
    std::fs::write(
        &keys,
        format!("{good}bad:score,everything:{}\n", "0".repeat(64)),
    )
    .unwrap();
    let r = reload(&ops);
    println!("reload of a bad keys file: {} {}", r.status, r.body);
    assert_eq!(
        (r.status, r.error().as_str()),
        (409, "keys_refused"),
        "{}",
        r.body
    );
    assert!(
        r.body.contains("line 3") && r.body.contains("everything"),
        "{}",
        r.body
    );
    assert_eq!(score(&crm).status, 200);

    // A keys file that cannot be read: the answer names the cause once.
    std::fs::remove_file(&keys).unwrap();
    let r = reload(&ops);
    assert_eq!(r.status, 409, "{}", r.body);
    assert_eq!(
        r.body.matches("No such file or directory").count(),
        1,
        "{}",
        r.body
    );
    assert_eq!(score(&crm).status, 200);

    // SIGHUP reloads the keys file too: a new key works without a restart.
    std::fs::write(&keys, &good).unwrap();
    let fresh = create_key(&keys, "fresh", "score");
    assert_eq!(score(&fresh).status, 401);
    let pid = server.child.id().to_string();
    assert!(Command::new("kill")
        .args(["-HUP", &pid])
        .status()
        .unwrap()
        .success());
    let deadline = Instant::now() + Duration::from_secs(10);
    while score(&fresh).status != 200 {
        assert!(Instant::now() < deadline, "SIGHUP did not reload the keys");
        std::thread::sleep(Duration::from_millis(50));
    }
    std::fs::write(&keys, "").unwrap();
    assert!(Command::new("kill")
        .args(["-HUP", &pid])
        .status()
        .unwrap()
        .success());
    let deadline = Instant::now() + Duration::from_secs(10);
    while !std::fs::read_to_string(&log)
        .unwrap()
        .contains("API keys not reloaded")
    {
        assert!(
            Instant::now() < deadline,
            "the refused SIGHUP reload is logged"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(
        score(&fresh).status,
        200,
        "an empty file keeps the keys in force"
    );
    assert!(server.child.try_wait().unwrap().is_none());
}

#[test]
fn a_trusted_proxy_names_the_client_and_an_untrusted_one_does_not() {
    let dir = tempfile::tempdir().unwrap();
    let audit = dir.path().join("audit.jsonl");
    let flags = [
        "--trusted-proxy",
        "127.0.0.2/32",
        "--lockout-failures",
        "3",
        "--audit-log",
        audit.to_str().unwrap(),
    ];
    let (server, key, log) = serve_with_one_key(dir.path(), "score", &flags);
    let a = server.addr;
    let proxy: IpAddr = "127.0.0.2".parse().unwrap();
    let stranger: IpAddr = "127.0.0.3".parse().unwrap();
    let score = |from: IpAddr, key: &str, forwarded: &str| {
        call_with(
            a,
            Some(from),
            "POST",
            "/v1/score",
            Some(key),
            Some(CUSTOMER),
            &[("x-forwarded-for", forwarded)],
        )
    };
    // The guesser sits behind the proxy; the left-most hop is its own invention.
    for i in 0..3 {
        let r = score(
            proxy,
            &format!("guess-{i}"),
            &format!("10.9.9.{i}, 203.0.113.9"),
        );
        assert_eq!(r.status, 401, "{}", r.body);
    }
    let r = score(proxy, &key, "203.0.113.9");
    assert_eq!(
        (r.status, r.error().as_str()),
        (429, "locked_out"),
        "{}",
        r.body
    );
    println!(
        "via trusted 127.0.0.2, X-Forwarded-For 203.0.113.9 after 3 invalid keys: {} {}",
        r.status, r.body
    );
    let r = score(proxy, &key, "203.0.113.10");
    assert_eq!(
        r.status, 200,
        "another client behind the same proxy: {}",
        r.body
    );
    // The same header from a peer that is not a trusted proxy is ignored.
    let r = score(stranger, &key, "203.0.113.10");
    assert_eq!(r.status, 200, "{}", r.body);
    for i in 0..3 {
        let r = score(stranger, &format!("guess-{i}"), &format!("198.51.100.{i}"));
        assert_eq!(r.status, 401, "{}", r.body);
    }
    let r = score(stranger, &key, "198.51.100.200");
    assert_eq!(
        (r.status, r.error().as_str()),
        (429, "locked_out"),
        "the stranger's own address is locked out, whatever it claims: {}",
        r.body
    );
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(
        logged.contains("203.0.113.9") && logged.contains("127.0.0.3"),
        "{logged}"
    );
    assert!(
        !logged.contains("10.9.9.") && !logged.contains("198.51.100."),
        "{logged}"
    );
    let clients: Vec<String> = audit_lines(&audit, 10)
        .iter()
        .map(|l| l["client"].as_str().unwrap_or_default().to_string())
        .collect();
    assert!(clients.iter().any(|c| c == "203.0.113.10"), "{clients:?}");
    assert!(
        clients
            .iter()
            .all(|c| ["203.0.113.9", "203.0.113.10", "127.0.0.3"].contains(&c.as_str())),
        "{clients:?}"
    );
}
