//! Order logs end to end (train from a log, score a log), and batch scoring as a pipe
//! stage and in JSON Lines.

mod common;
use common::*;
use std::io::Write;
use std::process::{Command, Stdio};

fn train_retail(models: &std::path::Path) -> std::process::Output {
    train_retail_with(models, &[])
}

fn train_retail_with(models: &std::path::Path, extra: &[&str]) -> std::process::Output {
    train_log_on(models, &fixture("retail_sample.csv"), extra)
}

#[test]
fn a_cutoff_leaving_no_room_for_the_churn_window_is_refused_with_the_dates() {
    let dir = tempfile::tempdir().unwrap();
    let models = dir.path().join("models");
    // The log ends on 2011-12-09: a cut-off a month before it would label everyone churned.
    let out = train_retail_with(&models, &["--cutoff", "2011-11-09"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let message = stderr(&out);
    for needle in [
        "2011-11-09",
        "90-day churn window",
        "2011-12-09",
        "on or before 2011-09-10",
    ] {
        assert!(message.contains(needle), "{needle:?} missing: {message}");
    }
    assert!(!models.join("CURRENT").exists());
    // The latest cut-off it names is accepted.
    let out = train_retail_with(&models, &["--cutoff", "2011-09-10"]);
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn huge_churn_windows_are_refused_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let models = dir.path().join("models");
    for days in ["9223372036854775807", "100000000", "-5"] {
        let flag = format!("--churn-after-days={days}");
        let out = train_retail_with(&models, &[&flag]);
        assert_eq!(out.status.code(), Some(2), "{days}: {}", stderr(&out));
        assert!(stderr(&out).contains("--churn-after-days must be between 1 and 36525"));
    }
}

#[test]
fn online_retail_log_trains_rfm_segments_and_reports_its_quirks() {
    let dir = tempfile::tempdir().unwrap();
    let models = dir.path().join("models");
    let out = train_retail(&models);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    for needle in [
        "lines without a customer id: used for baskets only",
        "return/cancellation lines",
        "lines with an excluded (non-product) item code",
        "churn label: no purchase in the 90 days after 2011-09-10",
        "value pyramid by net_value",
        "segments: 3",
        "churn models (5-fold stratified CV",
        "cross-sell rules:",
    ] {
        assert!(text.contains(needle), "{needle:?} missing:\n{text}");
    }
    let inspect = stdout(&run(&["inspect", "--models", models.to_str().unwrap()]));
    assert!(inspect.contains("recency_days"), "{inspect}");
    assert!(inspect.contains("label: churned = Yes"), "{inspect}");
    assert!(
        inspect.contains("customer equity"),
        "CLV from annual spend: {inspect}"
    );

    // Scoring the log aggregates it as training did: one row per customer, ids kept.
    let scored = dir.path().join("scored.csv");
    let out = run(&[
        "score",
        "--transactions",
        fixture("retail_sample.csv").to_str().unwrap(),
        "--output",
        scored.to_str().unwrap(),
        "--models",
        models.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let rows = csv_rows(&scored);
    assert!(rows.len() > 50, "{}", rows.len());
    assert!(rows.iter().all(|r| r[0]
        .parse::<f64>()
        .is_ok_and(|id| (id as u64).is_multiple_of(40))));
}

#[test]
fn cdnow_log_without_orders_or_items_trains() {
    let dir = tempfile::tempdir().unwrap();
    let models = dir.path().join("models");
    let out = train_cdnow_with(
        &models,
        &["--quantity-col", "quantity", "--churn-after-days", "180"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("cut-off 1998-01-01"), "{text}");
    assert!(
        !text.contains("distinct_items"),
        "no item column, no item feature: {text}"
    );
}

#[test]
fn a_log_missing_a_named_column_or_role_is_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let m = dir.path().join("models");
    let log = fixture("cdnow_sample.csv");
    let out = run(&[
        "train",
        "--transactions",
        log.to_str().unwrap(),
        "--customer-col",
        "customer_id",
        "--time-col",
        "when",
        "--amount-col",
        "amount",
        "--models",
        m.to_str().unwrap(),
    ]);
    assert_fails_with(
        &out,
        &[
            "cdnow_sample.csv",
            "line 1",
            "no column named `when` (time)",
        ],
    );
    let out = run(&[
        "train",
        "--transactions",
        log.to_str().unwrap(),
        "--customer-col",
        "customer_id",
        "--time-col",
        "date",
        "--models",
        m.to_str().unwrap(),
    ]);
    assert_fails_with(&out, &["--amount-col"]);
    let out = train_cdnow_with(&m, &["--cutoff", "1990-01-01"]);
    assert_fails_with(
        &out,
        &["no customer has purchases before the cut-off 1990-01-01"],
    );
}

#[test]
fn score_runs_as_a_pipe_stage_and_writes_json_lines() {
    let dir = tempfile::tempdir().unwrap();
    let models = dir.path().join("models");
    train_small(&models);
    let input = std::fs::read(fixture("telco_400.csv")).unwrap();
    let rejects = dir.path().join("rejects.csv");
    let mut child = Command::new(BIN)
        .args([
            "score",
            "--input",
            "-",
            "--output",
            "-",
            "--format",
            "jsonl",
            "--rejects",
        ])
        .arg(&rejects)
        .args(["--models", models.to_str().unwrap()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut broken = input.clone();
    broken.extend_from_slice(b"half,a,row\n");
    std::thread::spawn(move || stdin.write_all(&broken));
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let lines: Vec<serde_json::Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 400);
    assert_eq!(lines[0]["id"], "7590-VHVEG");
    assert!(lines[0]["segment"]["name"].is_string());
    let rejected = csv_rows(&rejects);
    assert_eq!(rejected.len(), 1);
    assert_eq!(&rejected[0][0], "402");
    assert!(stderr(&out).contains("rows in 401, scored 400, rejected 1"));

    let out = run(&[
        "score",
        "--input",
        "-",
        "--output",
        "-",
        "--models",
        models.to_str().unwrap(),
    ]);
    assert_fails_with(&out, &["--rejects FILE is required"]);
}

/// An order-log bundle carries BG/NBD and Gamma-Gamma fitted on the purchases before the
/// cut-off (the oracle: lifetimes 0.11.3 `calibration_and_holdout_data(freq="D",
/// calibration_period_end="1998-03-31")` then `BetaGeoFitter` / `GammaGammaFitter` on the
/// same log: r=0.280599, alpha=44.311230, a=0.546423, b=2.343666; p=4.663826,
/// q=3.904597, v=22.703818); `inspect` shows them and scoring answers with them.
fn train_cdnow(models: &std::path::Path) -> std::process::Output {
    train_cdnow_with(models, &[])
}

#[test]
fn an_order_log_bundle_gives_rfm_cells_and_lifecycle_in_batch_and_http_alike() {
    let dir = tempfile::tempdir().unwrap();
    let models = dir.path().join("models");
    let out = train_cdnow(&models);
    assert!(out.status.success(), "{}", stderr(&out));
    let shown = stdout(&run(&["inspect", "--models", models.to_str().unwrap()]));
    assert!(shown.contains("RFM quintile edges"), "{shown}");
    assert!(shown.contains("customers per RFM group:"), "{shown}");

    // Every customer of the log: a cell of three digits 1-5, a named group, a status.
    let csv_out = dir.path().join("scored.csv");
    let log = fixture("cdnow_sample.csv");
    let out = run(&[
        "score",
        "--models",
        models.to_str().unwrap(),
        "--transactions",
        log.to_str().unwrap(),
        "--output",
        csv_out.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let rows = common::csv_rows(&csv_out);
    let n = rows[0].len();
    let mut groups = std::collections::BTreeSet::new();
    let mut statuses = std::collections::BTreeSet::new();
    for row in &rows {
        let cell = &row[n - 3];
        assert!(
            cell.len() == 3 && cell.chars().all(|c| ('1'..='5').contains(&c)),
            "{row:?}"
        );
        groups.insert(row[n - 2].to_string());
        statuses.insert(row[n - 1].to_string());
    }
    assert!(
        groups.contains("champions") && groups.contains("lost"),
        "{groups:?}"
    );
    for status in &statuses {
        let known = ["new", "active", "at risk", "lapsed", "lost"];
        assert!(known.contains(&status.as_str()), "{statuses:?}");
    }
    assert!(statuses.len() >= 3, "{statuses:?}");

    // One customer scored from a file and over HTTP: the same RFM answer.
    let header = "customer_id,recency_days,frequency,monetary,net_value,avg_order_value,\
                  tenure_days,days_since_first,interpurchase_days,units,returns_share,\
                  annual_spend,repeat_days,repeat_span_days,age_days,repeat_day_value";
    let values = [
        3.0, 6.0, 400.0, 400.0, 66.7, 150.0, 153.0, 30.0, 12.0, 0.0, 950.0,
    ];
    let line: Vec<String> = values.iter().map(f64::to_string).collect();
    let input = write(
        dir.path(),
        "one.csv",
        format!("{header}\nc1,{},5,150,152,60\n", line.join(",")).as_bytes(),
    );
    let one_out = dir.path().join("one_scored.csv");
    let rows = score_file(&models, &input, &one_out);
    let n = rows[0].len();
    let (cell, group, status) = (&rows[0][n - 3], &rows[0][n - 2], &rows[0][n - 1]);
    assert_eq!(status, "active", "{:?}", rows[0]);

    let names: Vec<&str> = header.split(',').map(str::trim).collect();
    let mut record = serde_json::Map::new();
    record.insert("customer_id".into(), "c1".into());
    for (name, value) in names[1..]
        .iter()
        .zip(values.iter().chain(&[5.0, 150.0, 152.0, 60.0]))
    {
        record.insert(name.to_string(), (*value).into());
    }
    let server = common::http::start(&models, &[]);
    let body = serde_json::Value::Object(record).to_string();
    let r = common::http::post_json(server.addr, "/v1/score", &body);
    assert_eq!(r.status, 200, "{}", r.body);
    let rfm = &r.json()["rfm"];
    assert_eq!(rfm["cell"], cell.to_string(), "{rfm}");
    assert_eq!(rfm["group"], group.to_string(), "{rfm}");
    assert_eq!(rfm["lifecycle"], status.to_string(), "{rfm}");
    let digits = format!("{}{}{}", rfm["r"], rfm["f"], rfm["m"]);
    assert_eq!(digits, cell.to_string());
}

#[test]
fn a_customer_table_bundle_has_no_rfm_answer() {
    let dir = tempfile::tempdir().unwrap();
    let models = dir.path().join("models");
    assert!(train_small(&models).status.success());
    let out = dir.path().join("scored.csv");
    let rows = score_file(&models, &fixture("telco_400.csv"), &out);
    let header = std::fs::read_to_string(&out).unwrap();
    assert!(!header.lines().next().unwrap().contains("rfm_cell"));
    assert!(!rows.is_empty());
}

#[test]
fn an_order_log_bundle_answers_lifetime_value() {
    let dir = tempfile::tempdir().unwrap();
    let models = dir.path().join("models");
    let log = fixture("cdnow_sample.csv");
    let out = train_cdnow(&models);
    assert!(out.status.success(), "{}", stderr(&out));
    let fitted = "BG/NBD: r=0.2806 alpha=44.3112 a=0.5464 b=2.3437 (alpha in days)";
    assert!(stdout(&out).contains(fitted), "{}", stdout(&out));
    let shown = stdout(&run(&["inspect", "--models", models.to_str().unwrap()]));
    assert!(shown.contains(fitted), "{shown}");
    assert!(
        shown.contains("Gamma-Gamma: p=4.6638 q=3.9046 v=22.7038"),
        "{shown}"
    );

    // One customer with a repeat-purchase summary, one without, one impossible.
    let inputs = "recency_days,frequency,monetary,net_value,avg_order_value,tenure_days,\
                  days_since_first,interpurchase_days,units,returns_share,annual_spend";
    let blanks = ",".repeat(11);
    let customers = format!(
        "customer_id,{inputs},repeat_days,repeat_span_days,age_days,repeat_day_value\n\
         x{blanks},2,200,272,22.35\ny{blanks},,,,\nz{blanks},3,300,200,5\n"
    );
    let input = write(dir.path(), "customers.csv", customers.as_bytes());
    let scored = dir.path().join("scored.jsonl");
    let out = score_with(&models, &input, &scored, &["--format", "jsonl"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let answers: Vec<serde_json::Value> = std::fs::read_to_string(&scored)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let lifetime = &answers[0]["lifetime"];
    // MBG/NBD has the lowest holdout error here and answers. lifetimes'
    // ModifiedBetaGeoFitter with the bundle's parameters (r=0.740196277320868,
    // alpha=73.53493395147815, a=0.5261620226614437, b=0.8907892552657772):
    // conditional_probability_alive, conditional_expected_number_of_purchases_up_to_time(90);
    // GammaGammaFitter's conditional_expected_average_profit; the CLV as
    // customer_lifetime_value sums it (time=12, discount_rate=0.01, 30-day months).
    assert!(
        shown.contains("purchase model answering: MBG/NBD"),
        "{shown}"
    );
    for (field, want) in [
        ("p_alive", 0.743_337_714),
        ("expected_purchases", 0.502_874_523),
        ("expected_order_value", 25.699_255_44),
        ("clv", 42.953_484_13),
    ] {
        let got = lifetime[field].as_f64().unwrap();
        assert!((got / want - 1.0).abs() < 1e-6, "{field}: {got} vs {want}");
    }
    assert!(answers[1]["lifetime"].is_null());
    assert!(answers[2]["lifetime"].is_null());
    assert!(answers[2]["warnings"][0]
        .as_str()
        .unwrap()
        .contains("recency must be between 0 and T"));

    // The batch file: the lifetime columns after the usual ones, for every customer of the log.
    let csv_out = dir.path().join("scored.csv");
    let out = run(&[
        "score",
        "--models",
        models.to_str().unwrap(),
        "--transactions",
        log.to_str().unwrap(),
        "--output",
        csv_out.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = std::fs::read_to_string(&csv_out).unwrap();
    let header = text.lines().next().unwrap();
    assert!(
        header.ends_with(
            ",warnings,p_alive,expected_purchases_90d,expected_order_value,lifetime_clv,\
             rfm_cell,rfm_group,lifecycle_status"
        ),
        "{header}"
    );
    let rows = common::csv_rows(&csv_out);
    assert_eq!(rows.len(), 2357);
    for row in &rows {
        let p: f64 = row[12].parse().unwrap();
        assert!((0.0..=1.0).contains(&p), "{row:?}");
    }
}

#[test]
fn training_from_a_log_prints_its_steps_on_a_non_terminal_stderr() {
    let dir = tempfile::tempdir().unwrap();
    let out = train_retail(&dir.path().join("models"));
    assert!(out.status.success(), "{}", stderr(&out));
    let steps = stderr(&out);
    // `[  1.2s] step`: a plain line per step, no spinner or bar drawn into a log file.
    assert!(
        !steps.contains('\r') && !steps.contains('\u{1b}'),
        "{steps}"
    );
    for needle in [
        "] finding the last event of",
        "] reading transactions",
        // The read's totals: every line of the fixture, its size and rate.
        &format!(": {} lines, ", fixture_lines("retail_sample.csv")),
        " lines/s (",
        "] fitting BG/NBD and Gamma-Gamma",
        "] mining association rules from ",
        "] comparing churn models by cross-validation (",
        "] writing the bundle",
    ] {
        assert!(steps.contains(needle), "{needle:?} missing:\n{steps}");
    }
}

/// Lines of a fixture after its header.
fn fixture_lines(name: &str) -> usize {
    csv_rows(&fixture(name)).len()
}
