//! `custscore rules` and cross-sell end to end: the real binary on committed files.

mod common;
use common::*;

use std::path::Path;
use std::process::Output;

/// A failed run: non-zero exit, one line on stderr, no panic.
fn assert_one_line_error(out: &Output) -> String {
    assert!(!out.status.success(), "expected failure: {}", stdout(out));
    let err = stderr(out);
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    err
}

fn rules_args<'a>(baskets: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "rules",
        "--transactions",
        baskets,
        "--order-col",
        "InvoiceNo",
        "--item-col",
        "StockCode",
    ];
    args.extend_from_slice(extra);
    args
}

fn read_csv(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let mut reader = csv::Reader::from_path(path).expect("open output");
    let header = reader
        .headers()
        .expect("header")
        .iter()
        .map(String::from)
        .collect();
    let rows = reader
        .records()
        .map(|r| r.expect("row").iter().map(String::from).collect())
        .collect();
    (header, rows)
}

#[test]
fn itemsets_and_rules_are_written_with_the_contract_columns() {
    let dir = tempfile::tempdir().unwrap();
    let baskets = fixture("baskets.csv");
    let itemsets = dir.path().join("itemsets.csv");
    let rules = dir.path().join("rules.csv");
    let out = run(&rules_args(
        baskets.to_str().unwrap(),
        &[
            "--min-support",
            "2",
            "--cancelled-prefix",
            "C",
            "--min-confidence",
            "0.6",
            "--itemsets",
            itemsets.to_str().unwrap(),
            "--rules",
            rules.to_str().unwrap(),
        ],
    ));
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("2 cancelled lines skipped"), "{text}");
    assert!(text.contains("9 baskets"), "{text}");
    assert!(text.contains("13 frequent itemsets"), "{text}");

    let (header, rows) = read_csv(&itemsets);
    assert_eq!(header, ["items", "size", "count", "support"]);
    assert_eq!(rows.len(), 13);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&itemsets).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o644, "{mode:o}");
    }
    let bread_milk = rows
        .iter()
        .find(|r| r[0] == "BREAD;MILK")
        .expect("BREAD;MILK");
    assert_eq!(bread_milk[1..3], ["2".to_string(), "5".to_string()]);

    let (header, rows) = read_csv(&rules);
    assert_eq!(
        header,
        [
            "antecedent",
            "consequent",
            "support",
            "confidence",
            "lift",
            "leverage",
            "conviction",
            "zhang"
        ]
    );
    assert!(!rows.is_empty());
    for row in &rows {
        let confidence: f64 = row[3].parse().unwrap();
        assert!(confidence >= 0.6, "{row:?}");
    }
}

#[test]
fn excluded_items_never_appear() {
    let dir = tempfile::tempdir().unwrap();
    let baskets = fixture("baskets.csv");
    let itemsets = dir.path().join("itemsets.csv");
    let out = run(&rules_args(
        baskets.to_str().unwrap(),
        &[
            "--min-support",
            "0.2",
            "--cancelled-prefix",
            "C",
            "--exclude",
            "POST,DOT",
            "--itemsets",
            itemsets.to_str().unwrap(),
        ],
    ));
    assert!(out.status.success(), "{}", stderr(&out));
    let (_, rows) = read_csv(&itemsets);
    // 0.2 of 9 baskets = at least 2 baskets.
    assert_eq!(rows.len(), 9);
    assert!(rows.iter().all(|r| !r[0].contains("POST")));
}

#[test]
fn include_keeps_only_the_listed_items() {
    let dir = tempfile::tempdir().unwrap();
    let baskets = fixture("baskets.csv");
    let itemsets = dir.path().join("itemsets.csv");
    let out = run(&rules_args(
        baskets.to_str().unwrap(),
        &[
            "--min-support",
            "2",
            "--cancelled-prefix",
            "C",
            "--include",
            "BREAD,MILK",
            "--itemsets",
            itemsets.to_str().unwrap(),
        ],
    ));
    assert!(out.status.success(), "{}", stderr(&out));
    let (_, rows) = read_csv(&itemsets);
    let sets: Vec<&str> = rows.iter().map(|r| r[0].as_str()).collect();
    assert_eq!(sets.len(), 3, "{sets:?}");
    for set in ["BREAD", "MILK", "BREAD;MILK"] {
        assert!(sets.contains(&set), "{sets:?}");
    }
}

#[test]
fn cancellations_kept_are_reported() {
    let baskets = fixture("baskets.csv");
    let out = run(&rules_args(
        baskets.to_str().unwrap(),
        &["--min-support", "2"],
    ));
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("10 baskets"), "{text}");
    assert!(text.contains("--cancelled-prefix C"), "{text}");
}

#[test]
fn a_missing_file_is_one_line_naming_it() {
    let out = run(&rules_args(
        "no/such/baskets.csv",
        &["--min-support", "0.1"],
    ));
    let err = assert_one_line_error(&out);
    assert!(err.contains("no/such/baskets.csv"), "{err}");
}

#[test]
fn a_missing_item_column_names_file_line_and_columns() {
    let baskets = fixture("baskets.csv");
    let mut args = rules_args(baskets.to_str().unwrap(), &["--min-support", "0.1"]);
    args[6] = "Sku";
    let err = assert_one_line_error(&run(&args));
    assert!(err.contains("baskets.csv: line 1"), "{err}");
    assert!(err.contains("`Sku`") && err.contains("StockCode"), "{err}");
}

#[test]
fn min_support_out_of_range_is_refused() {
    let baskets = fixture("baskets.csv");
    for bad in ["1.5", "0", "-0.1", "lots"] {
        let out = run(&rules_args(
            baskets.to_str().unwrap(),
            &["--min-support", bad],
        ));
        let err = assert_one_line_error(&out);
        assert!(err.contains("--min-support"), "{err}");
    }
}

#[test]
fn a_bad_quantity_names_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.csv");
    std::fs::write(&path, "InvoiceNo,StockCode,Quantity\n1,A,1\n1,B,two\n").unwrap();
    let out = run(&rules_args(
        path.to_str().unwrap(),
        &["--min-support", "1", "--quantity-col", "Quantity"],
    ));
    let err = assert_one_line_error(&out);
    assert!(
        err.contains("line 3") && err.contains("column 3 (`Quantity`)"),
        "{err}"
    );
}

#[test]
fn trained_bundle_offers_cross_sell_in_score_and_inspect() {
    let dir = tempfile::tempdir().unwrap();
    let models = dir.path().join("models");
    let customers = Path::new(env!("CARGO_MANIFEST_DIR")).join("training-data/telco_churn.csv");
    let out = run(&[
        "train",
        "--customers",
        customers.to_str().unwrap(),
        "--id",
        "customer_id",
        "--label",
        "churn=Yes",
        "--holdings",
        "phone_service,internet_service,online_security,online_backup,tech_support,streaming_tv",
        "--segments",
        "3",
        "--models",
        models.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("hit rate@3"), "{}", stdout(&out));

    let scored = dir.path().join("scored.csv");
    common::score_file(&models, &customers, &scored);
    let (header, rows) = read_csv(&scored);
    let at = header
        .iter()
        .position(|h| h == "cross_sell")
        .expect("cross_sell column");
    let (input_header, input) = read_csv(&customers);
    let column = |name: &str| input_header.iter().position(|h| h == name).unwrap();
    let (phone, internet) = (column("phone_service"), column("internet_service"));
    assert_eq!(rows.len(), input.len());
    let mut with_offers = 0;
    for (row, customer) in rows.iter().zip(&input) {
        let offers: Vec<&str> = row[at].split(';').filter(|o| !o.is_empty()).collect();
        assert!(offers.len() <= 3, "{row:?}");
        with_offers += usize::from(!offers.is_empty());
        // Nothing held is offered, nor another value of a column already held.
        if customer[phone] == "1" {
            assert!(!offers.contains(&"phone_service"), "{row:?}");
        }
        if customer[internet] != "No" {
            assert!(
                !offers.iter().any(|o| o.starts_with("internet_service=")),
                "{row:?}"
            );
        }
    }
    assert!(with_offers > rows.len() * 9 / 10, "{with_offers}");

    let out = run(&["inspect", "--models", models.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("cross-sell rules:"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn the_api_answers_offers_and_rules() {
    let dir = tempfile::tempdir().unwrap();
    let models = dir.path().join("models");
    let out = run(&[
        "train",
        "--customers",
        fixture("telco_400.csv").to_str().unwrap(),
        "--id",
        "customer_id",
        "--holdings",
        "phone_service,internet_service,online_security,online_backup,tech_support",
        "--segments",
        "3",
        "--models",
        models.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let server = common::http::start(&models, &[]);
    let customer = r#"{"customer_id": "x", "phone_service": 1, "internet_service": "DSL",
        "online_security": "No", "online_backup": "Yes", "tech_support": "No"}"#;
    let r = common::http::post_json(server.addr, "/v1/score", customer);
    assert_eq!(r.status, 200, "{}", r.body);
    let offers = r.json()["cross_sell"].as_array().unwrap().clone();
    assert!(!offers.is_empty() && offers.len() <= 3, "{offers:?}");
    for offer in &offers {
        let item = offer["item"].as_str().unwrap();
        assert!(
            ["online_security", "tech_support"].contains(&item),
            "{offer}"
        );
        assert!(!offer["because"].as_array().unwrap().is_empty(), "{offer}");
    }

    let r = common::http::get(server.addr, "/v1/rules?item=tech_support&limit=5");
    assert_eq!(r.status, 200, "{}", r.body);
    let rules = r.json()["rules"].as_array().unwrap().clone();
    assert!(!rules.is_empty() && rules.len() <= 5);
    for rule in &rules {
        let names = rule.to_string();
        assert!(names.contains("tech_support"), "{names}");
    }
    let r = common::http::get(server.addr, "/v1/rules?item=nothing");
    assert_eq!((r.status, r.json()["field"].as_str()), (404, Some("item")));
    let r = common::http::get(server.addr, "/v1/rules?limit=0");
    assert_eq!((r.status, r.json()["field"].as_str()), (400, Some("limit")));
}
