//! `custscore train` and `inspect` end to end on real files, and every broken customer
//! file getting a clear message or a reported reject.

mod common;
use common::*;

#[test]
fn default_training_prints_named_segments_and_the_pyramid() {
    let dir = tempfile::tempdir().unwrap();
    let models = dir.path().join("models");
    let out = run(&[
        "train",
        "--segments",
        "4",
        "--models",
        models.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("rows read 7043, accepted 7043"), "{text}");
    assert!(text.contains("total_charges: 11 missing values"), "{text}");
    assert!(text.contains("segments: 4"), "{text}");
    for tier in ["platinum", "gold", "iron", "lead"] {
        assert!(text.contains(tier), "{tier} missing: {text}");
    }

    let out = run(&["inspect", "--models", models.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("label: churn = Yes"), "{text}");
    assert!(text.contains("sets it apart:"), "{text}");
    assert!(text.contains("value pyramid by total_charges"), "{text}");
    // Segment names are made of traits joined by " · ".
    assert!(
        text.lines()
            .any(|l| l.starts_with("segment ") && l.contains(" · ")),
        "{text}"
    );
}

#[test]
fn files_that_cannot_be_read_get_one_line_naming_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let models = dir.path().join("models");
    let m = models.to_str().unwrap();
    // (file name, contents, extra flags, what the message must name)
    type Case<'a> = (&'a str, &'a [u8], Vec<&'a str>, Vec<&'a str>);
    let cases: Vec<Case> = vec![
        (
            "empty.csv",
            b"",
            vec![],
            vec!["empty.csv", "line 1", "empty"],
        ),
        (
            "header_only.csv",
            b"a,b\n",
            vec![],
            vec!["header_only.csv", "no usable data rows"],
        ),
        (
            "dup_header.csv",
            b"a,a\n1,2\n",
            vec![],
            vec!["dup_header.csv", "line 1, column 2", "`a`"],
        ),
        (
            "bad_header.csv",
            b"a,\xff\n1,2\n",
            vec![],
            vec!["bad_header.csv", "line 1, column 2", "UTF-8"],
        ),
        (
            "no_id.csv",
            b"a,b\n1,2\n3,4\n",
            vec!["--id", "customer"],
            vec!["no_id.csv", "line 1", "`customer` (id)"],
        ),
        (
            "no_label.csv",
            b"a,b\n1,2\n3,4\n",
            vec!["--label", "churn=Yes"],
            vec!["no_label.csv", "`churn` (label)"],
        ),
        (
            "all_ragged.csv",
            b"a,b\n1\n2\n",
            vec![],
            vec!["all_ragged.csv", "line 2", "expected 2 fields, found 1"],
        ),
        (
            "never_yes.csv",
            b"a,churn\n1,No\n2,No\n3,No\n",
            vec!["--label", "churn=Yes"],
            vec!["never_yes.csv", "never has the value \"Yes\"", "No"],
        ),
    ];
    for (name, bytes, extra, needles) in cases {
        let path = write(dir.path(), name, bytes);
        let mut args = vec![
            "train",
            "--customers",
            path.to_str().unwrap(),
            "--models",
            m,
        ];
        args.extend(extra);
        assert_fails_with(&run(&args), &needles);
    }
    let out = run(&["train", "--customers", "/nonexistent/x.csv", "--models", m]);
    assert_fails_with(&out, &["/nonexistent/x.csv", "cannot read"]);
    assert!(!models.join("CURRENT").exists(), "no bundle from bad input");
}

#[test]
fn bad_rows_are_rejected_and_reported_never_dropped_silently() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = std::fs::read(fixture("telco_400.csv")).unwrap();
    text.extend_from_slice(b"short,row\n");
    text.extend_from_slice(b"\xff\xfeX,No,1,0,1,0,1,0,No,DSL,No,Yes,No,No,No,No,Month-to-month,1,Electronic check,29.85,29.85\n");
    text.extend_from_slice(b"ZZ-1,No,1,0,1,0,oops,0,No,DSL,No,Yes,No,No,No,No,Month-to-month,1,Electronic check,29.85,29.85\n");
    let path = write(dir.path(), "messy.csv", &text);
    let models = dir.path().join("models");
    let out = run(&[
        "train",
        "--customers",
        path.to_str().unwrap(),
        "--id",
        "customer_id",
        "--label",
        "churn=Yes",
        "--segments",
        "3",
        "--models",
        models.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("rows read 403, accepted 401, rejected 2"),
        "{text}"
    );
    assert!(
        text.contains("rejected line 402: expected 21 fields, found 2"),
        "{text}"
    );
    assert!(
        text.contains("rejected line 403: column 1 (`customer_id`)"),
        "{text}"
    );
    // The line and column, not the cell: values are kept only with --quality-samples.
    assert!(
        text.contains("line 404, column tenure: value is not a number"),
        "{text}"
    );
    assert!(!text.contains("oops"), "{text}");
}

#[test]
fn every_flag_can_come_from_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let models = dir.path().join("models");
    let out = std::process::Command::new(BIN)
        .arg("train")
        .current_dir(repo())
        .env("CUSTSCORE_CUSTOMERS", fixture("telco_400.csv"))
        .env("CUSTSCORE_ID", "customer_id")
        .env("CUSTSCORE_LABEL", "churn=Yes")
        .env("CUSTSCORE_SEGMENTS", "2")
        .env("CUSTSCORE_MODELS", &models)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("segments: 2 (fixed by configuration)"));
    assert!(models.join("CURRENT").exists());
}

#[test]
fn help_is_available_for_every_subcommand() {
    for sub in ["train", "score", "inspect"] {
        let out = run(&[sub, "--help"]);
        assert!(out.status.success());
        assert!(stdout(&out).contains("CUSTSCORE_MODELS"), "{sub}");
    }
}

#[test]
fn the_bundle_carries_a_drift_reference_of_aggregates_only() {
    let dir = tempfile::tempdir().unwrap();
    let models = dir.path().join("models");
    train_small(&models);
    let version = std::fs::read_to_string(models.join("CURRENT")).unwrap();
    let bundle = models.join(version.trim());
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(bundle.join("manifest.json")).unwrap()).unwrap();
    assert!(manifest["files"]["drift_reference.json"].is_string());
    let text = std::fs::read_to_string(bundle.join("drift_reference.json")).unwrap();
    // Aggregates only: no customer id from the training file appears.
    assert!(
        !text.contains("7590-VHVEG"),
        "an id leaked into the profile"
    );
    let profile: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(profile["rows"], 400);
    let inputs = profile["inputs"].as_array().unwrap();
    assert!(inputs.iter().all(|i| i["name"] != "customer_id"));
    let tenure = inputs.iter().find(|i| i["name"] == "tenure").unwrap();
    assert_eq!(tenure["type"], "numeric");
    assert!(tenure["edges"].as_array().unwrap().len() <= 9);
    let sum = |v: &serde_json::Value| {
        v.as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_f64().unwrap())
            .sum::<f64>()
    };
    assert!((sum(&tenure["shares"]) - 1.0).abs() < 1e-9);
    let contract = inputs.iter().find(|i| i["name"] == "contract").unwrap();
    assert_eq!(
        contract["categories"],
        serde_json::json!(["Month-to-month", "One year", "Two year"])
    );
    assert!((sum(&profile["churn_probability"]["shares"]) - 1.0).abs() < 1e-9);
    assert!((sum(&profile["segments"]) - 1.0).abs() < 1e-9);
}

#[test]
fn sample_trains_on_n_customers_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let models = dir.path().join("models");
    let out = run(&[
        "train",
        "--customers",
        fixture("telco_400.csv").to_str().unwrap(),
        "--id",
        "customer_id",
        "--label",
        "churn=Yes",
        "--segments",
        "2",
        "--sample",
        "150",
        "--seed",
        "5",
        "--models",
        models.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("trained on a stratified sample of 150 of 400 customers"),
        "{text}"
    );
    let version = std::fs::read_to_string(models.join("CURRENT")).unwrap();
    let manifest: serde_json::Value = serde_json::from_slice(
        &std::fs::read(models.join(version.trim()).join("manifest.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(manifest["training"]["rows"], 150);
    assert_eq!(manifest["training"]["sampled_from"], 400);
    let out = run(&["inspect", "--models", models.to_str().unwrap()]);
    assert!(
        stdout(&out).contains("(150 rows sampled of 400,"),
        "{}",
        stdout(&out)
    );

    // A sample no smaller than the table changes nothing and is not mentioned.
    let out = run(&[
        "train",
        "--customers",
        fixture("telco_400.csv").to_str().unwrap(),
        "--id",
        "customer_id",
        "--segments",
        "2",
        "--sample",
        "400",
        "--models",
        dir.path().join("whole").to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!stdout(&out).contains("sample of"), "{}", stdout(&out));
}
