//! Several targets in one bundle, through the real binary and the real server: train
//! three targets from one telco-derived table, score a file (each target's columns), ask
//! the API (each target's propensity), refuse an inconsistent target, and keep loading a
//! bundle written in format 1.

mod common;
use common::http;
use common::*;
use std::path::Path;

/// `tests/fixtures/telco_targets_400.csv` is `telco_400.csv` through
/// `scripts/derive_telco_targets.py`: `upgraded` (fiber optic, blank without internet) and
/// `autopay` (an automatic payment method).
fn train_three(models: &Path) -> std::process::Output {
    let out = run(&[
        "train",
        "--promote",
        "always",
        "--customers",
        fixture("telco_targets_400.csv").to_str().unwrap(),
        "--id",
        "customer_id",
        "--label",
        "churn=Yes",
        "--label",
        "upgraded=Yes",
        "--label",
        "autopay=Yes",
        "--target-exclude",
        "upgraded=internet_service,monthly_charges,total_charges",
        "--target-exclude",
        "autopay=payment_method",
        "--value",
        "total_charges",
        "--margin",
        "monthly_charges",
        "--segments",
        "3",
        "--models",
        models.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "train failed: {}", stderr(&out));
    out
}

fn column(rows: &[csv::StringRecord], header: &csv::StringRecord, name: &str) -> Vec<String> {
    let at = header
        .iter()
        .position(|h| h == name)
        .unwrap_or_else(|| panic!("no column {name} in {header:?}"));
    rows.iter().map(|r| r[at].to_string()).collect()
}

#[test]
fn three_targets_are_trained_scored_and_served() {
    let dir = tempfile::tempdir().unwrap();
    let models = dir.path().join("models");
    let out = train_three(&models);
    let printed = stdout(&out);
    assert!(printed.contains("upgraded (upgraded = Yes)"), "{printed}");
    assert!(printed.contains("autopay (autopay = Yes)"), "{printed}");

    let scored = dir.path().join("scored.csv");
    let rows = score_file(&models, &fixture("telco_targets_400.csv"), &scored);
    assert_eq!(rows.len(), 400);
    let header = csv::Reader::from_path(&scored)
        .unwrap()
        .headers()
        .unwrap()
        .clone();
    // Today's columns are the attrition target's; each other target adds three.
    let churn = column(&rows, &header, "churn_probability");
    for target in ["upgraded", "autopay"] {
        let p = column(&rows, &header, &format!("{target}_probability"));
        let bands = column(&rows, &header, &format!("{target}_band"));
        let reasons = column(&rows, &header, &format!("{target}_reasons"));
        assert!(p
            .iter()
            .all(|p| p.parse::<f64>().is_ok_and(|p| (0.0..=1.0).contains(&p))));
        assert!(bands
            .iter()
            .all(|b| ["low", "medium", "high"].contains(&b.as_str())));
        assert_ne!(p, churn, "{target} answers differ from churn");
        let excluded: &[&str] = match target {
            "upgraded" => &["internet_service", "monthly_charges", "total_charges"],
            _ => &["payment_method"],
        };
        for r in &reasons {
            assert!(
                !excluded.iter().any(|c| r.contains(c)),
                "{target} reason uses an excluded input: {r}"
            );
        }
    }

    let server = http::start(&models, &[]);
    let answer = http::post_json(
        server.addr,
        "/v1/score",
        r#"{"customer_id": "x1", "tenure": 2, "contract": "Month-to-month",
            "internet_service": "Fiber optic", "payment_method": "Electronic check",
            "monthly_charges": 90.5, "total_charges": 181.0}"#,
    );
    assert_eq!(answer.status, 200, "{}", answer.body);
    let json = answer.json();
    let propensities = &json["propensities"];
    for target in ["churn", "upgraded", "autopay"] {
        let p = propensities[target]["probability"].as_f64().unwrap_or(-1.0);
        assert!((0.0..=1.0).contains(&p), "{target}: {json}");
        assert!(propensities[target]["band"].is_string(), "{json}");
        assert!(propensities[target]["reasons"].is_array(), "{json}");
    }
    assert_eq!(
        propensities["churn"]["probability"],
        json["retention"]["probability"]
    );
}

#[test]
fn a_target_copied_by_an_input_is_refused_as_a_leak() {
    let dir = tempfile::tempdir().unwrap();
    let models = dir.path().join("models");
    let out = run(&[
        "train",
        "--customers",
        fixture("telco_targets_400.csv").to_str().unwrap(),
        "--id",
        "customer_id",
        "--label",
        "churn=Yes",
        "--label",
        "upgraded=Yes",
        "--label",
        "autopay=Yes",
        "--segments",
        "3",
        "--models",
        models.to_str().unwrap(),
    ]);
    // upgraded is read straight off internet_service.
    assert_fails_with(
        &out,
        &["target `upgraded`", "internet_service", "--target-exclude"],
    );
}

#[test]
fn an_inconsistent_target_is_refused_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let models = dir.path().join("models");
    train_three(&models);
    let version = std::fs::read_to_string(models.join("CURRENT")).unwrap();
    let bundle = models.join(version.trim());
    let manifest_path = bundle.join("manifest.json");
    let original = std::fs::read_to_string(&manifest_path).unwrap();
    let inspect = || run(&["inspect", "--models", models.to_str().unwrap()]);
    assert!(inspect().status.success(), "{}", stderr(&inspect()));

    // The manifest now says `autopay` may not read tenure, which its model does read.
    let mut manifest: serde_json::Value = serde_json::from_str(&original).unwrap();
    let targets = manifest["schema"]["targets"].as_array_mut().unwrap();
    let autopay = targets.iter_mut().find(|t| t["name"] == "autopay").unwrap();
    let used: Vec<String> = (manifest_inputs_used(&original))
        .into_iter()
        .filter(|c| c != "payment_method")
        .collect();
    autopay["excluded"] = serde_json::json!(used);
    std::fs::write(
        &manifest_path,
        serde_json::to_string_pretty(&manifest).unwrap(),
    )
    .unwrap();
    assert_fails_with(
        &inspect(),
        &["target.autopay.json", "excluded from target `autopay`"],
    );

    // A target listed whose file is gone.
    std::fs::write(&manifest_path, &original).unwrap();
    std::fs::remove_file(bundle.join("target.upgraded.json")).unwrap();
    assert_fails_with(&inspect(), &["target.upgraded.json", "missing"]);
}

/// Every input column the bundle's models use.
fn manifest_inputs_used(manifest: &str) -> Vec<String> {
    let m: serde_json::Value = serde_json::from_str(manifest).unwrap();
    m["schema"]["columns"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["used"] == true)
        .map(|c| c["name"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn a_format_1_bundle_still_loads_and_scores_as_before() {
    let dir = tempfile::tempdir().unwrap();
    let models = dir.path().join("models");
    let source = fixture("bundle_format1");
    copy_dir(&source, &models);
    let scored = dir.path().join("scored.csv");
    let rows = score_file(&models, &fixture("telco_400.csv"), &scored);
    assert_eq!(rows.len(), 400);
    let header = csv::Reader::from_path(&scored)
        .unwrap()
        .headers()
        .unwrap()
        .clone();
    let names: Vec<&str> = header.iter().collect();
    assert_eq!(
        names,
        [
            "id",
            "segment",
            "segment_name",
            "tier",
            "churn_probability",
            "risk_band",
            "reasons",
            "clv",
            "quadrant",
            "cross_sell",
            "model_version",
            "warnings"
        ]
    );
    // As the format-1 binary scored the first two customers.
    assert_eq!(&rows[0][4], "0.7026");
    assert_eq!(
        &rows[0][6],
        "tenure = 1 (+1.06); tech_support = No (+0.47); contract = Month-to-month (+0.43)"
    );
    assert_eq!(&rows[1][4], "0.0866");
    assert_eq!(&rows[1][7], "349.93");

    let server = http::start(&models, &[]);
    let json = http::post_json(
        server.addr,
        "/v1/score",
        r#"{"customer_id": "x", "tenure": 1}"#,
    )
    .json();
    let churn = &json["propensities"]["churn"];
    assert_eq!(
        churn["probability"], json["retention"]["probability"],
        "{json}"
    );
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        match entry.file_type().unwrap().is_dir() {
            true => copy_dir(&entry.path(), &target),
            false => {
                std::fs::copy(entry.path(), target).unwrap();
            }
        }
    }
}
