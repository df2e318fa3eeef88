//! Offers from purchase history, end to end: a bundle trained on an order log carries
//! each customer's items; `score --transactions` takes them from the log it scores; no
//! customer is offered an item they bought, and offers name the rule that fired.

mod common;
use common::*;
use std::collections::{HashMap, HashSet};

fn bundle_file(models: &std::path::Path, name: &str) -> serde_json::Value {
    let version = std::fs::read_to_string(models.join("CURRENT")).unwrap();
    let text = std::fs::read_to_string(models.join(version.trim()).join(name)).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// Items each customer bought (not returned) before `cutoff`, read straight from the CSV.
fn bought_before(cutoff: &str) -> HashMap<String, HashSet<String>> {
    let mut out: HashMap<String, HashSet<String>> = HashMap::new();
    for row in csv_rows(&fixture("retail_sample.csv")) {
        let (item, quantity, time, customer) = (&row[1], &row[3], &row[4], &row[6]);
        if customer.is_empty() || time >= cutoff || quantity.starts_with('-') {
            continue;
        }
        out.entry(customer.to_string())
            .or_default()
            .insert(item.to_string());
    }
    out
}

#[test]
fn customers_are_never_offered_what_they_bought_and_offers_name_their_rule() {
    let dir = tempfile::tempdir().unwrap();
    let models = dir.path().join("models");
    train_retail_log(&models, &[]);
    let manifest = bundle_file(&models, "manifest.json");
    let cutoff = manifest["transactions"]["cutoff"]
        .as_str()
        .unwrap()
        .to_string();
    let history = bundle_file(&models, "history.json");
    let customers = history["customers"].as_object().unwrap();
    let bought = bought_before(&cutoff);
    assert!(customers.len() > 50, "{}", customers.len());
    assert!(customers.keys().all(|c| bought.contains_key(c)));

    let answers = score_retail_log(&models, dir.path(), &cutoff);
    assert_eq!(answers.len(), bought.len());
    let (mut offers, mut from_rules) = (0, 0);
    for answer in &answers {
        let id = answer["id"].as_str().unwrap();
        for offer in answer["cross_sell"].as_array().unwrap() {
            let item = offer["item"].as_str().unwrap();
            assert!(
                !bought[id].contains(item),
                "{id} bought {item} and is offered it"
            );
            offers += 1;
            let because = offer["because"][0].as_str().unwrap();
            if because.contains(&format!("→ {item} (confidence")) {
                from_rules += 1;
            }
        }
    }
    assert_eq!(offers, 3 * answers.len());
    assert!(
        from_rules > offers / 4,
        "{from_rules} of {offers} offers from rules"
    );
}

#[test]
fn history_baskets_limits_what_fires_but_not_what_is_excluded() {
    let dir = tempfile::tempdir().unwrap();
    let models = dir.path().join("models");
    train_retail_log(&models, &["--history-baskets", "1"]);
    let history = bundle_file(&models, "history.json");
    assert_eq!(history["settings"]["baskets"], 1);
    // Customers with several baskets have a narrower antecedent set than what they bought.
    let narrower = history["customers"]
        .as_object()
        .unwrap()
        .values()
        .filter(|c| {
            c["recent"]
                .as_array()
                .is_some_and(|r| r.len() < c["bought"].as_array().unwrap().len())
        })
        .count();
    assert!(narrower > 10, "{narrower}");
    let manifest = bundle_file(&models, "manifest.json");
    let cutoff = manifest["transactions"]["cutoff"]
        .as_str()
        .unwrap()
        .to_string();
    let bought = bought_before(&cutoff);
    for answer in score_retail_log(&models, dir.path(), &cutoff) {
        let id = answer["id"].as_str().unwrap();
        for offer in answer["cross_sell"].as_array().unwrap() {
            assert!(!bought[id].contains(offer["item"].as_str().unwrap()));
        }
    }
    let out = run(&["train", "--transactions", "x.csv", "--history-baskets", "0"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}
