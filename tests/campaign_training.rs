//! Learning from a campaign: `train --from-campaign` and realized AUC in `models list`
//! and `GET /v1/models`, on SQLite and on a real PostgreSQL server.

mod common;

use common::*;
use std::path::Path;

/// Where the outcomes go: the default SQLite file in the models folder, or a PostgreSQL
/// database passed as `--outcomes-db`.
enum Backend {
    Sqlite,
    Postgres(String),
}

impl Backend {
    fn flag(&self) -> Vec<&str> {
        match self {
            Backend::Sqlite => vec![],
            Backend::Postgres(url) => vec!["--outcomes-db", url],
        }
    }

    /// Run custscore with `args` and this store.
    fn run(&self, args: &[&str]) -> std::process::Output {
        let mut all = args.to_vec();
        all.extend(self.flag());
        run(&all)
    }

    /// Store a `type` event for the customer, straight into the events table.
    fn insert_event(&self, models: &Path, key: &str, customer: &str, kind: &str) {
        let sql = format!(
            "INSERT INTO outcome_events VALUES ('{key}', 'spring', '{customer}', '{kind}', '2026-01-01T00:00:00Z', NULL)"
        );
        match self {
            Backend::Sqlite => {
                let db = rusqlite::Connection::open(models.join("outcomes.db")).unwrap();
                db.execute(&sql, []).unwrap();
            }
            Backend::Postgres(url) => {
                let mut db = ::postgres::Client::connect(url, ::postgres::NoTls).unwrap();
                db.execute(sql.as_str(), &[]).unwrap();
            }
        }
    }
}

/// Score the fixture in campaign `spring` and record a `churned` event for every customer
/// the fixture marks churned.
fn campaign_with_outcomes(models: &Path, backend: &Backend) {
    let dir = models.parent().unwrap();
    let output = dir.join("scored.csv");
    let input = fixture("telco_400.csv");
    let out = backend.run(&[
        "score",
        "--input",
        input.to_str().unwrap(),
        "--output",
        output.to_str().unwrap(),
        "--models",
        models.to_str().unwrap(),
        "--campaign",
        "spring",
        "--control-share",
        "0.2",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let mut reader = csv::Reader::from_path(&input).unwrap();
    let h = reader.headers().unwrap().clone();
    let (id, churn) = (
        h.iter().position(|c| c == "customer_id").unwrap(),
        h.iter().position(|c| c == "churn").unwrap(),
    );
    for row in reader.records().map(Result::unwrap) {
        if &row[churn] == "Yes" {
            backend.insert_event(models, &format!("k-{}", &row[id]), &row[id], "churned");
        }
    }
}

fn models_list(models: &Path, backend: &Backend) -> serde_json::Value {
    let out = backend.run(&[
        "models",
        "list",
        "--json",
        "--models",
        models.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn trains_from_a_campaign_and_lists_the_realized_auc_on_sqlite() {
    trains_from_a_campaign_and_lists_the_realized_auc(&Backend::Sqlite);
}

#[test]
fn trains_from_a_campaign_and_lists_the_realized_auc_on_postgres() {
    if common::postgres::skipped("trains_from_a_campaign_and_lists_the_realized_auc_on_postgres") {
        return;
    }
    let server = common::postgres::Postgres::start();
    trains_from_a_campaign_and_lists_the_realized_auc(&Backend::Postgres(
        server.database("campaign_training"),
    ));
}

fn trains_from_a_campaign_and_lists_the_realized_auc(backend: &Backend) {
    let dir = tempfile::tempdir().unwrap();
    let models = dir.path().join("models");
    train_small(&models);
    let before = models_list(&models, backend);
    assert!(before["versions"][0].get("realized_auc").is_none());
    let scored_by = before["current"].as_str().unwrap().to_string();
    campaign_with_outcomes(&models, backend);

    let m = models.to_str().unwrap();
    let out = backend.run(&[
        "train",
        "--from-campaign",
        "spring",
        "--label",
        "churned",
        "--arm",
        "all",
        "--segments",
        "3",
        "--promote",
        "never",
        "--models",
        m,
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let listed = models_list(&models, backend);
    let versions = listed["versions"].as_array().unwrap();
    let new = versions
        .iter()
        .find(|v| v["version"] != scored_by.as_str())
        .unwrap();
    let manifest: serde_json::Value = serde_json::from_slice(
        &std::fs::read(
            models
                .join(new["version"].as_str().unwrap())
                .join("manifest.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let source = &manifest["training"]["campaign"];
    assert_eq!(source["campaign"], "spring");
    assert_eq!(source["outcome"], "churned");
    assert_eq!(source["arm"], "all");
    assert_eq!(source["rows"], 400);
    let cv_auc = new["cv_auc"].as_f64().unwrap();
    assert!((0.7..0.99).contains(&cv_auc), "CV AUC {cv_auc}");

    let out = backend.run(&[
        "evaluate",
        "--campaign",
        "spring",
        "--outcome",
        "churned",
        "--json",
        "--models",
        m,
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let evaluated = &report["versions"][0];
    assert_eq!(evaluated["model_version"], scored_by.as_str());
    let scorer = versions
        .iter()
        .find(|v| v["version"] == scored_by.as_str())
        .unwrap();
    assert_eq!(scorer["realized_auc"], evaluated["auc"]);
    assert_eq!(scorer["realized_contacts"], 400);
    assert!(new.get("realized_auc").is_none());

    let out = backend.run(&["models", "list", "--models", m]);
    let text = String::from_utf8_lossy(&out.stdout);
    let auc = evaluated["auc"].as_f64().unwrap();
    assert!(text.contains(&format!("{auc:.4} (400)")), "{text}");

    // The service lists the same realized AUC per version.
    let server = common::http::start(&models, &backend.flag());
    let answer = common::http::get(server.addr, "/v1/models");
    assert_eq!(answer.status, 200, "{}", answer.body);
    let served = answer.json();
    let listed = served["registry"]["versions"].as_array().unwrap();
    let scorer = listed
        .iter()
        .find(|v| v["version"] == scored_by.as_str())
        .unwrap();
    assert_eq!(scorer["realized_auc"], evaluated["auc"]);
    assert_eq!(scorer["realized_contacts"], 400);
    let new = listed.iter().find(|v| v["version"] != scored_by.as_str());
    assert!(new.unwrap().get("realized_auc").is_none());
}

#[test]
fn refuses_a_campaign_without_contacts_or_with_one_class_on_sqlite() {
    refuses_a_campaign_without_contacts_or_with_one_class(&Backend::Sqlite);
}

#[test]
fn refuses_a_campaign_without_contacts_or_with_one_class_on_postgres() {
    if common::postgres::skipped(
        "refuses_a_campaign_without_contacts_or_with_one_class_on_postgres",
    ) {
        return;
    }
    let server = common::postgres::Postgres::start();
    refuses_a_campaign_without_contacts_or_with_one_class(&Backend::Postgres(
        server.database("one_class"),
    ));
}

fn refuses_a_campaign_without_contacts_or_with_one_class(backend: &Backend) {
    let dir = tempfile::tempdir().unwrap();
    let models = dir.path().join("models");
    train_small(&models);
    let m = models.to_str().unwrap();
    let train = |campaign: &str| {
        backend.run(&[
            "train",
            "--from-campaign",
            campaign,
            "--label",
            "responded",
            "--models",
            m,
        ])
    };
    let out = train("nobody");
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("campaign \"nobody\" has no contacts"),
        "{}",
        stderr(&out)
    );
    campaign_with_outcomes(&models, backend);
    let out = train("spring");
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("training needs both classes"),
        "{}",
        stderr(&out)
    );
}
