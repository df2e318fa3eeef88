//! Customer values stay out of the bundle, the report and `inspect` unless the user asks
//! for samples with `train --quality-samples`: by default only counts and line numbers.

mod common;

use common::*;
use std::path::Path;

const SECRET_ID: &str = "ZQX-PRIVATE-7731";
const SECRET_CELL: &str = "SECRETCELL42";

/// telco_400 with one customer id appearing twice and one unreadable tenure cell.
fn customers(dir: &Path) -> std::path::PathBuf {
    let text = std::fs::read_to_string(fixture("telco_400.csv")).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    for at in [1, 2] {
        let rest = lines[at].split_once(',').unwrap().1.to_string();
        lines[at] = format!("{SECRET_ID},{rest}");
    }
    // tenure is the 7th column.
    let mut fields: Vec<String> = lines[3].split(',').map(str::to_string).collect();
    fields[6] = SECRET_CELL.to_string();
    lines[3] = fields.join(",");
    write(dir, "customers.csv", (lines.join("\n") + "\n").as_bytes())
}

/// Train with the extra flags; every text custscore wrote or printed about the bundle.
fn outputs(extra: &[&str]) -> (String, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let models = dir.path().join("models");
    let input = customers(dir.path());
    let m = models.to_str().unwrap();
    let mut args = vec![
        "train",
        "--customers",
        input.to_str().unwrap(),
        "--id",
        "customer_id",
        "--segments",
        "3",
        "--models",
        m,
    ];
    args.extend(extra);
    let train = run(&args);
    assert!(train.status.success(), "{}", stderr(&train));
    let mut bundle = String::new();
    for entry in std::fs::read_dir(&models).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            for file in std::fs::read_dir(&path).unwrap() {
                bundle += &std::fs::read_to_string(file.unwrap().path()).unwrap();
            }
        }
    }
    let report = dir.path().join("report.html");
    let out = run(&[
        "report",
        "--models",
        m,
        "--output",
        report.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report = std::fs::read_to_string(report).unwrap();
    let inspect = run(&["inspect", "--models", m]);
    assert!(inspect.status.success(), "{}", stderr(&inspect));
    let printed = stdout(&train) + &stdout(&inspect);
    (bundle, report, printed)
}

#[test]
fn customer_values_are_left_out_by_default() {
    let (bundle, report, printed) = outputs(&[]);
    for (name, text) in [
        ("bundle", &bundle),
        ("report", &report),
        ("output", &printed),
    ] {
        assert!(!text.contains(SECRET_ID), "customer id in the {name}");
        assert!(!text.contains(SECRET_CELL), "cell value in the {name}");
    }
    // The findings themselves are still there, as counts and line numbers.
    assert!(bundle.contains("\"duplicate_id_total\": 1"), "{bundle}");
    assert!(printed.contains("duplicate ids 1"), "{printed}");
    assert!(printed.contains("lines [2, 3]"), "{printed}");
    assert!(printed.contains("line 4, column tenure"), "{printed}");
}

#[test]
fn samples_are_kept_when_asked_for() {
    let (bundle, report, printed) = outputs(&["--quality-samples"]);
    for (name, text) in [
        ("bundle", &bundle),
        ("report", &report),
        ("output", &printed),
    ] {
        assert!(text.contains(SECRET_ID), "no customer id in the {name}");
        assert!(text.contains(SECRET_CELL), "no cell value in the {name}");
    }
}
