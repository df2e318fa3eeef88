//! Decisions end to end with the real binary: `score --actions`, `target`, `changes`, and
//! POST /v1/next-best-action on a real server.

mod common;
use common::http::{post_json, start};
use common::*;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

const ACTIONS: &str = "training-data/actions.toml";

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn number(record: &csv::StringRecord, headers: &csv::StringRecord, name: &str) -> f64 {
    let at = headers.iter().position(|h| h == name).unwrap();
    record[at].parse().unwrap()
}

#[test]
fn score_with_actions_adds_the_best_action_and_its_value() {
    let dir = tempfile::tempdir().unwrap();
    let models = trained(dir.path());
    let output = dir.path().join("scored.csv");
    let out = run(&[
        "score",
        "--input",
        path(&fixture("telco_400.csv")),
        "--output",
        path(&output),
        "--models",
        path(&models),
        "--actions",
        ACTIONS,
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let mut reader = csv::Reader::from_path(&output).unwrap();
    let headers = reader.headers().unwrap().clone();
    let tail: Vec<&str> = headers.iter().rev().take(2).collect();
    assert_eq!(tail, ["next_best_action_value", "next_best_action"]);
    let rows: Vec<_> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 400);
    let mut seen = BTreeMap::new();
    for row in &rows {
        let action = &row[headers.len() - 2];
        *seen.entry(action.to_string()).or_insert(0) += 1;
        let value = number(row, &headers, "next_best_action_value");
        // "nothing" is configured, so the best action is never worth less than nothing.
        assert!(value >= 0.0, "{row:?}");
        if action == "nothing" {
            assert_eq!(value, 0.0);
        }
    }
    assert!(
        // The small bundle has no cross-sell rules: retention or nothing.
        seen.contains_key("retention_offer") && seen.contains_key("nothing"),
        "{seen:?}"
    );
}

#[test]
fn target_list_stays_within_budget_and_beats_a_random_list() {
    let dir = tempfile::tempdir().unwrap();
    let models = trained(dir.path());
    let list = dir.path().join("list.csv");
    let out = run(&[
        "target",
        "--actions",
        ACTIONS,
        "--action",
        "retention_offer",
        "--budget",
        "3000",
        "--customers",
        path(&fixture("telco_400.csv")),
        "--output",
        path(&list),
        "--models",
        path(&models),
        "--compare",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let mut reader = csv::Reader::from_path(&list).unwrap();
    let headers = reader.headers().unwrap().clone();
    let rows: Vec<_> = reader.records().map(Result::unwrap).collect();
    assert!(!rows.is_empty(), "{text}");
    let cost: f64 = rows.iter().map(|r| number(r, &headers, "cost")).sum();
    let value: f64 = rows
        .iter()
        .map(|r| number(r, &headers, "expected_value"))
        .sum();
    assert!(cost <= 3000.0 + 0.01 * rows.len() as f64, "{cost}");
    assert!(rows
        .iter()
        .all(|r| number(r, &headers, "expected_value") > 0.0));
    let ids: std::collections::HashSet<_> = rows.iter().map(|r| r[1].to_string()).collect();
    assert_eq!(ids.len(), rows.len(), "a customer twice on the list");
    assert!(rows[0][7].starts_with("P(churn) "), "{:?}", &rows[0]);
    assert!(
        text.contains(&format!("list: {} customers", rows.len())),
        "{text}"
    );
    // The printed figures are the list's, and the random list of the same cost is worse.
    let figure = |line: &str| -> f64 {
        let from = line.rfind("expected value").unwrap() + "expected value".len();
        let to = line.find(", cost").unwrap();
        line[from..to].trim().replace(',', "").parse().unwrap()
    };
    let line = |start: &str| {
        text.lines()
            .find(|l| l.trim_start().starts_with(start))
            .unwrap_or_else(|| panic!("{start}: {text}"))
    };
    let ours = figure(line("by expected value per cost"));
    assert!(
        (ours - value).abs() <= 1.0 + 0.01 * rows.len() as f64,
        "{ours} vs {value}"
    );
    assert!(ours > figure(line("random, same cost")), "{text}");
    assert!(ours >= figure(line("highest probability first")), "{text}");
}

#[test]
fn target_refuses_mistakes_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let models = trained(dir.path());
    let list = dir.path().join("list.csv");
    let customers = fixture("telco_400.csv");
    let target = |action: &str, budget: &str, customers: &Path, actions: &str| {
        run(&[
            "target",
            "--actions",
            actions,
            "--action",
            action,
            "--budget",
            budget,
            "--customers",
            path(customers),
            "--output",
            path(&list),
            "--models",
            path(&models),
        ])
    };
    let out = target("retention", "100", &customers, ACTIONS);
    assert_fails_with(
        &out,
        &[
            "no action named `retention`",
            "retention_offer, cross_sell, nothing",
        ],
    );
    let out = target("retention_offer", "NaN", &customers, ACTIONS);
    assert_fails_with(&out, &["--budget NaN"]);
    let twice = {
        let text = std::fs::read_to_string(&customers).unwrap();
        let second = text.lines().nth(1).unwrap();
        write(
            dir.path(),
            "twice.csv",
            format!("{text}{second}\n").as_bytes(),
        )
    };
    let out = target("retention_offer", "100", &twice, ACTIONS);
    assert_fails_with(
        &out,
        &[
            "twice.csv",
            "customer id `7590-VHVEG` appears more than once",
        ],
    );
    let bad = write(
        dir.path(),
        "bad.toml",
        b"[[actions]]\nname = \"call\"\nkind = \"retention\"\nsave_rate = 0.3\nvalue_column = \"contract\"\n",
    );
    let out = target("call", "100", &customers, path(&bad));
    assert_fails_with(
        &out,
        &[
            "action `call`: `contract` is not a numeric input column",
            "monthly_charges",
        ],
    );
    assert!(!list.exists(), "no list is written on a failed run");
}

/// The telco fixture as a later extract: charges raised for some, contracts switched for
/// others, one customer gone, one new, one id twice.
fn later_extract(dir: &Path) -> PathBuf {
    let text = std::fs::read_to_string(fixture("telco_400.csv")).unwrap();
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    let header: Vec<&str> = lines[0].split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let (monthly, contract) = (col("monthly_charges"), col("contract"));
    for (i, line) in lines.iter_mut().enumerate().skip(1) {
        let mut fields: Vec<String> = line.split(',').map(String::from).collect();
        match i % 5 {
            0 => {
                let raised = fields[monthly].parse::<f64>().unwrap() * 1.3;
                fields[monthly] = format!("{raised:.2}");
            }
            1 => {
                fields[contract] = match fields[contract].as_str() {
                    "Month-to-month" => "Two year".into(),
                    _ => "Month-to-month".into(),
                }
            }
            _ => {}
        }
        *line = fields.join(",");
    }
    let gone = lines.remove(2);
    let mut new = gone.split_once(',').unwrap().1.to_string();
    new.insert_str(0, "NEW-0001,");
    lines.push(new);
    lines.push(lines[3].clone());
    write(dir, "later.csv", (lines.join("\n") + "\n").as_bytes())
}

fn scored(models: &Path, input: &Path, output: &Path) -> HashMap<String, Vec<String>> {
    let rows = score_file(models, input, output);
    let mut reader = csv::Reader::from_path(output).unwrap();
    let headers = reader.headers().unwrap().clone();
    let at = |n: &str| headers.iter().position(|h| h == n).unwrap();
    let picks = [at("tier"), at("segment"), at("risk_band")];
    rows.iter()
        .map(|r| {
            (
                r[0].to_string(),
                picks.iter().map(|&i| r[i].to_string()).collect(),
            )
        })
        .collect()
}

#[test]
fn changes_between_two_scorings_are_counted_by_kind() {
    let dir = tempfile::tempdir().unwrap();
    let models = trained(dir.path());
    let (before, after) = (dir.path().join("before.csv"), dir.path().join("after.csv"));
    let early = scored(&models, &fixture("telco_400.csv"), &before);
    let late = scored(&models, &later_extract(dir.path()), &after);
    let changes = dir.path().join("changes.csv");
    let out = run(&[
        "changes",
        "--before",
        path(&before),
        "--after",
        path(&after),
        "--output",
        path(&changes),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let rows = csv_rows(&changes);
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for r in &rows {
        *counts.entry(r[1].to_string()).or_default() += 1;
    }
    // The oracle: the same comparison done here on the two scored files.
    for (k, kind) in ["tier", "segment", "risk_band"].iter().enumerate() {
        let expected = early
            .iter()
            .filter(|(id, a)| late.get(*id).is_some_and(|b| a[k] != b[k]))
            .count();
        assert_eq!(
            counts.get(*kind).copied().unwrap_or(0),
            expected,
            "{kind}: {}",
            stdout(&out)
        );
    }
    assert!(
        counts["risk_band"] > 0,
        "switched contracts move risk bands: {counts:?}"
    );
    assert_eq!(
        (counts["new"], counts["gone"], counts["duplicate_id"]),
        (1, 1, 1)
    );
    let printed = stdout(&out);
    assert!(
        printed.contains("401 after, 399 customers in both"),
        "{printed}"
    );
    assert!(
        printed.contains(&format!("  risk_band     {}", counts["risk_band"])),
        "{printed}"
    );
    let out = run(&[
        "changes",
        "--before",
        path(&before),
        "--after",
        path(&after),
        "--output",
        path(&changes),
        "--id-col",
        "customer",
    ]);
    assert_fails_with(&out, &["before.csv: line 1: no `customer` column"]);
}

#[test]
fn next_best_action_over_http() {
    let dir = tempfile::tempdir().unwrap();
    let models = trained(dir.path());
    let server = start(&models, &["--actions", ACTIONS]);
    let answer = post_json(server.addr, "/v1/next-best-action", CUSTOMER);
    assert_eq!(answer.status, 200, "{}", answer.body);
    let json = answer.json();
    assert_eq!(json["id"], "7590-VHVEG");
    let ranked = json["ranked"].as_array().unwrap();
    assert!(!ranked.is_empty());
    assert_eq!(json["best"], ranked[0]);
    let values: Vec<f64> = ranked
        .iter()
        .map(|c| c["expected_value"].as_f64().unwrap())
        .collect();
    assert!(values.windows(2).all(|w| w[0] >= w[1]), "{values:?}");
    let listed = ranked.len() + json["not_eligible"].as_array().unwrap().len();
    assert_eq!(listed, 3, "every configured action is ranked or explained");
    assert!(ranked
        .iter()
        .all(|c| c["reason"].as_str().unwrap().contains("= ") || c["action"] == "nothing"));

    let bad = post_json(
        server.addr,
        "/v1/next-best-action",
        r#"{"customer_id": "x", "tenure": [1]}"#,
    );
    assert_eq!(bad.status, 400, "{}", bad.body);
    assert_eq!(bad.json()["field"], "tenure");
    let broken = post_json(server.addr, "/v1/next-best-action", "{not json");
    assert_eq!(broken.status, 400, "{}", broken.body);

    let plain = start(&models, &[]);
    let none = post_json(plain.addr, "/v1/next-best-action", CUSTOMER);
    assert_eq!(none.status, 404, "{}", none.body);
    assert!(none.json()["detail"]
        .as_str()
        .unwrap()
        .contains("--actions"));
}

#[test]
fn actions_trained_into_the_bundle_answer_without_a_file_and_a_file_overrides_them() {
    let dir = tempfile::tempdir().unwrap();
    let models = dir.path().join("models");
    train_small_with(&models, &["--actions", ACTIONS]);
    let inspect = stdout(&run(&["inspect", "--models", path(&models)]));
    assert!(
        inspect.contains("actions (used when no --actions file is given)")
            && inspect.contains("retention_offer: retention"),
        "{inspect}"
    );
    // Batch: the columns come from the bundle, as with the file.
    let from_bundle = dir.path().join("bundle.csv");
    let from_file = dir.path().join("file.csv");
    let telco = fixture("telco_400.csv");
    let score = |output: &Path, extra: &[&str]| {
        let mut args = vec![
            "score",
            "--input",
            path(&telco),
            "--output",
            path(output),
            "--models",
            path(&models),
        ];
        args.extend_from_slice(extra);
        let out = run(&args);
        assert!(out.status.success(), "{}", stderr(&out));
        csv_rows(output)
    };
    let kept = score(&from_bundle, &[]);
    let given = score(&from_file, &["--actions", ACTIONS]);
    let tail = |rows: &[csv::StringRecord]| -> Vec<String> {
        rows.iter().map(|r| r[r.len() - 2].to_string()).collect()
    };
    assert_eq!(tail(&kept), tail(&given));
    assert!(tail(&kept).iter().any(|a| a == "retention_offer"));
    let only_nothing = write(
        dir.path(),
        "nothing.toml",
        b"[[actions]]\nname = \"wait\"\nkind = \"nothing\"\n",
    );
    let overridden = score(
        &dir.path().join("over.csv"),
        &["--actions", path(&only_nothing)],
    );
    assert!(tail(&overridden).iter().all(|a| a == "wait"));
    // JSON Lines keeps the REST answer shape: the bundle's actions add no columns there.
    let lines = dir.path().join("scored.jsonl");
    let out = run(&[
        "score",
        "--input",
        path(&telco),
        "--output",
        path(&lines),
        "--models",
        path(&models),
        "--format",
        "jsonl",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = std::fs::read_to_string(&lines).unwrap();
    let first: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert!(first.get("next_best_action").is_none(), "{first}");
    // target: no file needed.
    let list = dir.path().join("list.csv");
    let out = run(&[
        "target",
        "--action",
        "retention_offer",
        "--budget",
        "500",
        "--customers",
        path(&fixture("telco_400.csv")),
        "--output",
        path(&list),
        "--models",
        path(&models),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(csv_rows(&list).len() > 1);
    // HTTP: the bundle's actions, or the file's when given.
    let server = start(&models, &[]);
    let answer = post_json(server.addr, "/v1/next-best-action", CUSTOMER);
    assert_eq!(answer.status, 200, "{}", answer.body);
    let json = answer.json();
    let listed =
        json["ranked"].as_array().unwrap().len() + json["not_eligible"].as_array().unwrap().len();
    assert_eq!(listed, 3, "the bundle's three actions: {json}");
    let over = start(&models, &["--actions", path(&only_nothing)]);
    let answer = post_json(over.addr, "/v1/next-best-action", CUSTOMER).json();
    assert_eq!(answer["best"]["action"], "wait", "{answer}");
    // An action reading a column the bundle lacks is refused at training.
    let bad = write(
        dir.path(),
        "bad.toml",
        b"[[actions]]\nname = \"call\"\nkind = \"retention\"\nsave_rate = 0.3\nvalue_column = \"contract\"\n",
    );
    let out = run(&[
        "train",
        "--customers",
        path(&fixture("telco_400.csv")),
        "--label",
        "churn=Yes",
        "--actions",
        path(&bad),
        "--models",
        path(&dir.path().join("refused")),
    ]);
    assert_fails_with(
        &out,
        &["action `call`: `contract` is not a numeric input column"],
    );
}

/// Campaign `spring` with half held back: month-to-month customers respond when contacted
/// (7 in 10; 1 in 10 held back), the others 1 in 10 in either arm.
fn campaign_with_responses(models: &Path) {
    let scored = models.parent().unwrap().join("contacted.csv");
    let out = run(&[
        "score",
        "--input",
        path(&fixture("telco_400.csv")),
        "--output",
        path(&scored),
        "--models",
        path(models),
        "--campaign",
        "spring",
        "--control-share",
        "0.5",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let mut reader = csv::Reader::from_path(fixture("telco_400.csv")).unwrap();
    let h = reader.headers().unwrap().clone();
    let contract: HashMap<String, String> = reader
        .records()
        .map(Result::unwrap)
        .map(|r| {
            (
                r[0].to_string(),
                r[h.iter().position(|c| c == "contract").unwrap()].to_string(),
            )
        })
        .collect();
    let mut reader = csv::Reader::from_path(&scored).unwrap();
    let h = reader.headers().unwrap().clone();
    let (id, arm) = (
        h.iter().position(|c| c == "id").unwrap(),
        h.iter().position(|c| c == "arm").unwrap(),
    );
    let db = rusqlite::Connection::open(models.join("outcomes.db")).unwrap();
    for (n, row) in reader.records().map(Result::unwrap).enumerate() {
        let moved = contract[&row[id]] == "Month-to-month" && &row[arm] == "treatment";
        if (moved && n % 10 < 7) || (!moved && n % 10 == 3) {
            db.execute(
                "INSERT INTO outcome_events VALUES (?1, 'spring', ?2, 'responded', '2026-01-01T00:00:00Z', NULL)",
                [format!("r-{}", &row[id]), row[id].to_string()],
            )
            .unwrap();
        }
    }
}

#[test]
fn an_action_whose_campaign_taught_the_uplift_model_works_with_the_uplift() {
    let dir = tempfile::tempdir().unwrap();
    let models = trained(dir.path());
    campaign_with_responses(&models);
    let actions = write(
        dir.path(),
        "uplift.toml",
        b"[[actions]]\nname = \"call\"\nkind = \"retention\"\ncampaign = \"spring\"\ncost = 5\nsave_rate = 0.3\nvalue_default = 100\n\n[[actions]]\nname = \"mail\"\nkind = \"retention\"\ncampaign = \"autumn\"\ncost = 5\nsave_rate = 0.3\nvalue_default = 100\n",
    );
    let out = train_spring_uplift(&models, &["--actions", path(&actions)]);
    assert!(out.status.success(), "{}", stderr(&out));
    let inspect = stdout(&run(&["inspect", "--models", path(&models)]));
    assert!(
        inspect.contains("call: retention (works with the uplift of campaign spring)"),
        "{inspect}"
    );
    let server = start(&models, &[]);
    let answer = post_json(server.addr, "/v1/next-best-action", CUSTOMER).json();
    let scored = post_json(server.addr, "/v1/score", CUSTOMER).json();
    let uplift = scored["uplift"].as_f64().unwrap();
    let p = scored["retention"]["probability"].as_f64().unwrap();
    let choice = |name: &str| {
        let ranked = answer["ranked"].as_array().unwrap();
        ranked
            .iter()
            .find(|c| c["action"] == name)
            .cloned()
            .unwrap()
    };
    let call = choice("call");
    // The uplift is the probability the contact works: no save rate on top.
    let value = call["expected_value"].as_f64().unwrap();
    assert!((value - (uplift * 100.0 - 5.0)).abs() < 1e-9, "{call}");
    assert_eq!(call["probability"].as_f64().unwrap(), uplift);
    assert!(
        call["reason"]
            .as_str()
            .unwrap()
            .starts_with("uplift (spring) "),
        "{call}"
    );
    // A campaign the bundle's uplift model does not come from: P(target) × save rate.
    let mail = choice("mail");
    let value = mail["expected_value"].as_f64().unwrap();
    assert!((value - (p * 0.3 * 100.0 - 5.0)).abs() < 1e-9, "{mail}");
    assert!(
        mail["reason"].as_str().unwrap().contains("× save rate 0.3"),
        "{mail}"
    );
}
