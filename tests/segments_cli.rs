//! Segments a marketer can act on, end to end: clustering on chosen columns, the value
//! cube and stability in `inspect`, and segment ids kept across retrains.

mod common;
use common::*;
use std::path::Path;

fn telco_args<'a>(csv: &'a str, models: &'a str) -> Vec<&'a str> {
    vec![
        "train",
        "--customers",
        csv,
        "--id",
        "customer_id",
        "--label",
        "churn=Yes",
        "--value",
        "total_charges",
        "--margin",
        "monthly_charges",
        "--models",
        models,
    ]
}

/// The segments file of the bundle CURRENT points to.
fn current_segments(models: &Path) -> serde_json::Value {
    let version = std::fs::read_to_string(models.join("CURRENT")).unwrap();
    let text = std::fs::read_to_string(models.join(version.trim()).join("segments.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

#[test]
fn segment_on_clusters_on_some_columns_and_profiles_on_all() {
    let dir = tempfile::tempdir().unwrap();
    let models = dir.path().join("models");
    let (csv, m) = (
        fixture("telco_400.csv"),
        models.to_str().unwrap().to_string(),
    );
    let mut args = telco_args(csv.to_str().unwrap(), &m);
    args.extend(["--segment-on", "tenure,contract"]);
    let out = run(&args);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("clustered on: tenure, contract"), "{text}");
    assert!(text.contains("why: k="), "{text}");
    assert!(
        text.contains("stability: mean adjusted Rand index"),
        "{text}"
    );

    let segments = current_segments(&models);
    // tenure (1 feature) and contract (3 categories): 4 slots of the encoder's features.
    assert_eq!(
        segments["slots"].as_array().unwrap().len(),
        4,
        "{}",
        segments["slots"]
    );
    let profile = &segments["profiles"][0];
    let numeric: Vec<&str> = (profile["numeric"].as_array().unwrap().iter())
        .map(|n| n["column"].as_str().unwrap())
        .collect();
    assert!(numeric.contains(&"monthly_charges"), "{numeric:?}");

    let out = run(&["inspect", "--models", &m]);
    let text = stdout(&out);
    assert!(
        text.contains("value cube (segment × tier × quadrant"),
        "{text}"
    );
    assert!(text.contains("protect"), "{text}");

    // Scoring assigns by the same columns: every training row gets its training segment.
    let scored = score_file(&models, &csv, &dir.path().join("scored.csv"));
    assert_eq!(scored.len(), 400);
}

#[test]
fn segment_on_an_unknown_column_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let models = dir.path().join("models");
    let (csv, m) = (
        fixture("telco_400.csv"),
        models.to_str().unwrap().to_string(),
    );
    let mut args = telco_args(csv.to_str().unwrap(), &m);
    args.extend(["--segment-on", "tenure,shoe_size"]);
    let out = run(&args);
    assert_fails_with(&out, &["--segment-on", "`shoe_size`", "tenure"]);
    // The label is not an input either.
    let mut args = telco_args(csv.to_str().unwrap(), &m);
    args.extend(["--segment-on", "churn"]);
    assert_fails_with(&run(&args), &["`churn`"]);
}

/// Rows of `csv` in another order (every 7th row first, and so on), optionally thinned.
fn reshuffled(csv: &Path, out: &Path, keep: impl Fn(usize) -> bool) {
    let text = std::fs::read_to_string(csv).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    let rows: Vec<&str> = lines.collect();
    let mut order: Vec<usize> = (0..rows.len()).filter(|&i| keep(i)).collect();
    order.sort_by_key(|&i| (i % 7, i));
    let body: Vec<&str> = order.iter().map(|&i| rows[i]).collect();
    std::fs::write(out, format!("{header}\n{}\n", body.join("\n"))).unwrap();
}

fn ids_and_names(segments: &serde_json::Value) -> Vec<(u64, String)> {
    (segments["profiles"].as_array().unwrap().iter())
        .map(|p| {
            (
                p["id"].as_u64().unwrap(),
                p["name"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn a_retrain_on_a_resample_keeps_the_ids_of_matching_segments() {
    let dir = tempfile::tempdir().unwrap();
    let models = dir.path().join("models");
    let m = models.to_str().unwrap().to_string();
    let csv = fixture("telco_400.csv");
    let train = |file: &Path| {
        let mut args = telco_args(file.to_str().unwrap(), &m);
        args.extend(["--segments", "4"]);
        let out = run(&args);
        assert!(out.status.success(), "{}", stderr(&out));
        stdout(&out)
    };
    train(&csv);
    let first = current_segments(&models);

    // The same customers in another order: the same segments, so the same ids and names.
    let shuffled = dir.path().join("shuffled.csv");
    reshuffled(&csv, &shuffled, |_| true);
    let text = train(&shuffled);
    assert!(
        text.contains("ids of matching segments kept from"),
        "{text}"
    );
    let second = current_segments(&models);
    assert_eq!(ids_and_names(&first), ids_and_names(&second));

    // 90% of the customers: each new segment carries the id of the nearest old centre.
    let subsample = dir.path().join("subsample.csv");
    reshuffled(&csv, &subsample, |i| i % 10 != 3);
    train(&subsample);
    let third = current_segments(&models);
    let centres = |s: &serde_json::Value| -> Vec<Vec<f64>> {
        serde_json::from_value(s["centroids"].clone()).unwrap()
    };
    let (old, new) = (centres(&second), centres(&third));
    for (id, centre) in new.iter().enumerate() {
        let nearest = (0..old.len())
            .min_by(|&a, &b| distance(centre, &old[a]).total_cmp(&distance(centre, &old[b])))
            .unwrap();
        assert_eq!(nearest, id, "segment {id} moved: {old:?} vs {new:?}");
    }
    let same_names = ids_and_names(&second)
        .iter()
        .zip(ids_and_names(&third))
        .filter(|(a, b)| **a == *b)
        .count();
    assert!(
        same_names >= 2,
        "{:?} vs {:?}",
        ids_and_names(&second),
        ids_and_names(&third)
    );
}

fn distance(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}
