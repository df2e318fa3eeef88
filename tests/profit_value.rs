//! Profit-based value end to end: a cost model in training, contribution and loss-makers
//! in batch, the API, `inspect` and the report, on the telco table and an order log.

mod common;
use common::http::{get, post_json, start};
use common::*;
use std::path::{Path, PathBuf};

/// The cost model the tests train with: 150 once, 10 a month of tenure, 6 a month for
/// tech support holders, 8% of revenue.
const TELCO_COSTS: &str = r#"
[value]
fixed = 150.0
periods = "tenure"
per_period = 10.0
revenue_share = 0.08
[value.holding_costs]
tech_support = 6.0
"#;

fn with_costs(dir: &Path, basis: &str) -> PathBuf {
    let text =
        format!("{TELCO_COSTS}\n").replace("[value]", &format!("[value]\nbasis = \"{basis}\""));
    let config = write(dir, "costs.toml", text.as_bytes());
    let models = dir.join(format!("models-{basis}"));
    train_small_with(&models, &["--config", config.to_str().unwrap()]);
    models
}

/// Expected contribution of each fixture row under [`TELCO_COSTS`] (None without revenue).
fn expected_contribution() -> Vec<Option<f64>> {
    let mut reader = csv::Reader::from_path(fixture("telco_400.csv")).unwrap();
    let header = reader.headers().unwrap().clone();
    let at = |name: &str| header.iter().position(|h| h == name).unwrap();
    let (tenure, support, total) = (at("tenure"), at("tech_support"), at("total_charges"));
    reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            let revenue: f64 = r[total].trim().parse().ok()?;
            let months: f64 = r[tenure].parse().unwrap();
            let held = if &r[support] == "Yes" { 6.0 } else { 0.0 };
            Some(revenue - (150.0 + 10.0 * months + held * months + 0.08 * revenue))
        })
        .collect()
}

#[test]
fn a_cost_model_adds_contribution_columns_and_leaves_every_other_column_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let plain = dir.path().join("plain");
    train_small(&plain);
    let costed = with_costs(dir.path(), "revenue");
    let input = fixture("telco_400.csv");
    let before = score_file(&plain, &input, &dir.path().join("plain.csv"));
    let after = score_file(&costed, &input, &dir.path().join("costed.csv"));
    let header = |p: &str| {
        csv::Reader::from_path(dir.path().join(p))
            .unwrap()
            .headers()
            .unwrap()
            .clone()
    };
    let (old, new) = (header("plain.csv"), header("costed.csv"));
    assert!(!old.iter().any(|h| h == "contribution" || h == "loss_maker"));
    let mut expected: Vec<&str> = old.iter().collect();
    expected.extend(["contribution", "loss_maker"]);
    assert_eq!(new.iter().collect::<Vec<_>>(), expected);
    let version = old.iter().position(|h| h == "model_version").unwrap();
    let mut loss_makers = 0;
    for ((a, b), want) in before.iter().zip(&after).zip(expected_contribution()) {
        for i in (0..old.len()).filter(|&i| i != version) {
            assert_eq!(a[i], b[i], "column {} of {}", &old[i], &a[0]);
        }
        let (got, flag) = (&b[old.len()], &b[old.len() + 1]);
        match want {
            Some(want) => {
                let got: f64 = got.parse().unwrap();
                assert!((got - want).abs() < 0.006, "{}: {got} vs {want}", &a[0]);
                assert_eq!(flag, if want < 0.0 { "yes" } else { "no" });
                loss_makers += usize::from(want < 0.0);
            }
            None => assert_eq!((got, flag), ("", ""), "no revenue, no contribution"),
        }
    }
    assert!(loss_makers > 10 && loss_makers < 390, "{loss_makers}");
    let out = run(&["inspect", "--models", costed.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains(&format!("loss-makers: {loss_makers} customers")),
        "{text}"
    );
    assert!(text.contains("whale curve peaks at"), "{text}");
}

#[test]
fn contribution_basis_ranks_the_pyramid_by_profit_and_a_cost_column_works() {
    let dir = tempfile::tempdir().unwrap();
    // A cost column: every fifth customer costs 500 more than they bring in.
    let mut reader = csv::Reader::from_path(fixture("telco_400.csv")).unwrap();
    let mut header = reader.headers().unwrap().clone();
    let total = header.iter().position(|h| h == "total_charges").unwrap();
    header.push_field("cost_to_serve");
    let mut writer = csv::Writer::from_path(dir.path().join("costed.csv")).unwrap();
    writer.write_record(&header).unwrap();
    let mut losing = Vec::new();
    for (i, r) in reader.records().enumerate() {
        let mut r = r.unwrap();
        let revenue: f64 = r[total].trim().parse().unwrap_or(0.0);
        let cost = if i % 5 == 0 {
            revenue + 500.0
        } else {
            0.2 * revenue
        };
        if i % 5 == 0 && !r[total].trim().is_empty() {
            losing.push(r[0].to_string());
        }
        r.push_field(&format!("{cost:.2}"));
        writer.write_record(&r).unwrap();
    }
    writer.flush().unwrap();
    let input = dir.path().join("costed.csv");
    let models = dir.path().join("models");
    let out = train_small_on(
        &models,
        &input,
        &["--cost", "cost_to_serve", "--value-basis", "contribution"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains(&format!("loss-makers: {} customers", losing.len())));
    let rows = score_file(&models, &input, &dir.path().join("scored.csv"));
    for r in rows.iter().filter(|r| losing.contains(&r[0].to_string())) {
        assert_eq!(&r[3], "lead", "a loss-maker is never above the bottom tier");
        assert_eq!(r.iter().next_back(), Some("yes"));
    }
    let report = dir.path().join("report.html");
    let out = run(&[
        "report",
        "--models",
        models.to_str().unwrap(),
        "--output",
        report.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let html = std::fs::read_to_string(report).unwrap();
    assert!(html.contains(r#"<section id="profit">"#) && html.contains("whale curve"));
}

#[test]
fn a_contribution_basis_without_costs_or_with_a_text_cost_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let telco = fixture("telco_400.csv");
    let models = dir.path().join("models");
    let out = train_small_on(&models, &telco, &["--value-basis", "contribution"]);
    assert_fails_with(&out, &["needs a cost model", "--cost"]);
    let out = train_small_on(&models, &telco, &["--cost", "contract"]);
    assert_fails_with(&out, &["cost", "`contract`", "not a numeric input column"]);
    assert!(!models.join("CURRENT").exists());
}

#[test]
fn an_order_log_counts_orders_for_the_per_order_cost() {
    let dir = tempfile::tempdir().unwrap();
    // The sample's customers place large wholesale orders: a high cost per order is what
    // makes some of them lose money.
    let config = write(
        dir.path(),
        "costs.toml",
        b"[value]\nbasis = \"contribution\"\nrevenue_share = 0.6\nper_order = 100.0\n",
    );
    let log = fixture("retail_sample.csv");
    let models = dir.path().join("models");
    let out = train_retail_log(&models, &["--config", config.to_str().unwrap()]);
    assert!(stdout(&out).contains("profit: contribution = net_value − cost to serve"));
    let scored = dir.path().join("scored.csv");
    let out = run(&[
        "score",
        "--transactions",
        log.to_str().unwrap(),
        "--output",
        scored.to_str().unwrap(),
        "--models",
        models.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let header = csv::Reader::from_path(&scored)
        .unwrap()
        .headers()
        .unwrap()
        .clone();
    let at = header.iter().position(|h| h == "contribution").unwrap();
    let rows = csv_rows(&scored);
    let flags: Vec<(f64, &str)> = rows
        .iter()
        .map(|r| (r[at].parse().unwrap(), &r[at + 1]))
        .collect();
    assert!(flags
        .iter()
        .all(|(c, f)| *f == if *c < 0.0 { "yes" } else { "no" }));
    assert!(flags.iter().any(|f| f.1 == "yes") && flags.iter().any(|f| f.1 == "no"));
}

const CUSTOMER: &str = r#"{"customer_id": "7590-VHVEG", "female": 1, "senior_citizen": 0,
  "partner": 1, "dependents": 0, "tenure": 1, "phone_service": 0,
  "multiple_lines": "No phone service", "internet_service": "DSL", "online_security": "No",
  "online_backup": "Yes", "device_protection": "No", "tech_support": "Yes",
  "streaming_tv": "No", "streaming_movies": "No", "contract": "Month-to-month",
  "paperless_billing": 1, "payment_method": "Electronic check",
  "monthly_charges": 29.85, "total_charges": 29.85}"#;

#[test]
fn the_api_answers_contribution_and_loss_maker_as_batch_does() {
    let dir = tempfile::tempdir().unwrap();
    let models = with_costs(dir.path(), "contribution");
    let server = start(&models, &[]);
    let r = post_json(server.addr, "/v1/score", CUSTOMER);
    assert_eq!(r.status, 200, "{}", r.body);
    let segment = &r.json()["segment"];
    // 29.85 − (150 + 10 + 6 + 0.08 × 29.85)
    let want = 29.85 - (166.0 + 0.08 * 29.85);
    let got = segment["contribution"].as_f64().unwrap();
    assert!((got - want).abs() < 1e-9, "{segment}");
    assert_eq!(segment["loss_maker"], true);
    assert_eq!(segment["tier"], "lead");
    let batch = post_json(server.addr, "/v1/score/batch", &format!("[{CUSTOMER}]")).json();
    assert_eq!(&batch["results"][0]["segment"], segment);
    let r = get(server.addr, "/v1/segments").json();
    let summary = &r["pyramid"]["profit"]["summary"];
    assert!(summary["loss_makers"].as_u64().unwrap() > 0, "{summary}");
    // A bundle without a cost model answers without the fields.
    let plain = dir.path().join("plain");
    train_small(&plain);
    let server = start(&plain, &[]);
    let segment = &post_json(server.addr, "/v1/score", CUSTOMER).json()["segment"];
    assert!(segment.get("contribution").is_none() && segment.get("loss_maker").is_none());
}

#[test]
fn a_cost_column_is_not_a_model_input_unless_asked() {
    let dir = tempfile::tempdir().unwrap();
    // A cost column that carries the label: churners cost 100, stayers 10.
    let mut reader = csv::Reader::from_path(fixture("telco_400.csv")).unwrap();
    let mut header = reader.headers().unwrap().clone();
    let churn = header.iter().position(|h| h == "churn").unwrap();
    header.push_field("cost_to_serve");
    let input = dir.path().join("costed.csv");
    let mut writer = csv::Writer::from_path(&input).unwrap();
    writer.write_record(&header).unwrap();
    for r in reader.records() {
        let mut r = r.unwrap();
        let cost = if &r[churn] == "Yes" { "100" } else { "10" };
        r.push_field(cost);
        writer.write_record(&r).unwrap();
    }
    writer.flush().unwrap();
    let reasons_naming_cost = |extra: &[&str]| {
        let models = dir.path().join(format!("models{}", extra.len()));
        let mut args = vec!["--cost", "cost_to_serve"];
        args.extend_from_slice(extra);
        let out = train_small_on(&models, &input, &args);
        assert!(out.status.success(), "{}", stderr(&out));
        let scored = dir.path().join(format!("scored{}.csv", extra.len()));
        let rows = score_file(&models, &input, &scored);
        let header = csv::Reader::from_path(&scored)
            .unwrap()
            .headers()
            .unwrap()
            .clone();
        let at = header.iter().position(|h| h == "reasons").unwrap();
        (rows.iter())
            .filter(|r| r[at].contains("cost_to_serve"))
            .count()
    };
    assert_eq!(
        reasons_naming_cost(&[]),
        0,
        "cost columns are not inputs by default"
    );
    assert!(
        reasons_naming_cost(&["--cost-as-input"]) > 100,
        "opted in, the leak shows"
    );
}

#[test]
fn on_the_contribution_basis_clv_and_quadrants_run_on_contribution_and_say_so() {
    let dir = tempfile::tempdir().unwrap();
    let telco = fixture("telco_400.csv");
    let train = |name: &str, basis: &str| {
        let config = TELCO_COSTS.replace("[value]", &format!("[value]\nbasis = \"{basis}\""));
        let config = write(dir.path(), &format!("{name}.toml"), config.as_bytes());
        let models = dir.path().join(name);
        let extra = [
            "--config",
            config.to_str().unwrap(),
            "--margin",
            "monthly_charges",
        ];
        train_small_with(&models, &extra);
        let scored = dir.path().join(format!("{name}.csv"));
        let rows = score_file(&models, &telco, &scored);
        let header = csv::Reader::from_path(&scored)
            .unwrap()
            .headers()
            .unwrap()
            .clone();
        (models, header, rows)
    };
    let (_, margin_header, on_margin) = train("margin", "revenue");
    let (models, header, on_contribution) = train("contribution", "contribution");
    assert!(!margin_header.iter().any(|h| h == "clv_basis"));
    assert_eq!(header.iter().next_back(), Some("clv_basis"));
    let at = |h: &csv::StringRecord, name: &str| h.iter().position(|c| c == name).unwrap();
    let (clv, quadrant) = (at(&header, "clv"), at(&header, "quadrant"));
    let (flag, contribution) = (at(&header, "loss_maker"), at(&header, "contribution"));
    let revenue_at = at(
        &csv::Reader::from_path(&telco)
            .unwrap()
            .headers()
            .unwrap()
            .clone(),
        "total_charges",
    );
    let inputs = csv_rows(&telco);
    let mut compared = 0;
    let rows = on_margin.iter().zip(&on_contribution).zip(&inputs);
    for (((m, c), input), want) in rows.zip(expected_contribution()) {
        assert_eq!(&c[header.len() - 1], "contribution");
        let Some(want) = want else {
            assert_eq!(&c[clv], "", "no revenue to date, no running cost share");
            continue;
        };
        assert!((c[contribution].parse::<f64>().unwrap() - want).abs() < 0.006);
        // The margin less the running costs (all but the one-off 150) as a share of revenue.
        let revenue: f64 = input[revenue_at].trim().parse().unwrap();
        let kept = 1.0 - (revenue - want - 150.0) / revenue;
        let (clv_m, clv_c): (f64, f64) = (m[clv].parse().unwrap(), c[clv].parse().unwrap());
        assert!(
            (clv_c - clv_m * kept).abs() < 0.02,
            "{}: {clv_c} vs {clv_m} × {kept}",
            &c[0]
        );
        if &c[flag] == "yes" {
            assert!(
                matches!(&c[quadrant], "invest" | "let go"),
                "a loss-maker's current value is low: {}",
                &c[quadrant]
            );
        }
        compared += 1;
    }
    assert!(compared > 350, "{compared}");
    let out = run(&["inspect", "--models", models.to_str().unwrap()]);
    let text = stdout(&out);
    assert!(text.contains("lifetime value (on contribution)"), "{text}");
    assert!(text.contains("current value = contribution"), "{text}");
    let server = start(&models, &[]);
    let r = post_json(server.addr, "/v1/score", CUSTOMER).json();
    assert_eq!(r["retention"]["clv_basis"], "contribution", "{r}");
    assert!(r["retention"]["clv"].as_f64().unwrap() > 0.0, "{r}");
}
