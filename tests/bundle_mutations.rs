//! Random edits of a valid bundle's JSON, with every checksum recomputed, never panic the
//! loader: a bundle either loads (and then scores a customer) or is refused with an error.

use custscore::bundle::Bundle;
use custscore::config::TrainConfig;
use custscore::features::{Encoding, Value as FeatureValue};
use custscore::progress::Progress;
use proptest::prelude::*;
use proptest::sample::Index;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

struct Trained {
    _dir: tempfile::TempDir,
    models: PathBuf,
    bundle: PathBuf,
    /// (file name, parsed JSON) of every file in the bundle, manifest included.
    files: Vec<(String, Value)>,
    /// (file name, bytes as saved).
    bytes: Vec<(String, Vec<u8>)>,
}

fn trained() -> &'static Trained {
    static TRAINED: OnceLock<Trained> = OnceLock::new();
    TRAINED.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut config = TrainConfig::default();
        config.data.customers = Some(root.join("tests/fixtures/telco_400.csv"));
        config.data.id = Some("customer_id".into());
        config.data.label = Some("churn=Yes".into());
        config.data.value = Some("total_charges".into());
        config.data.holdings = ["phone_service", "internet_service", "online_security"]
            .map(String::from)
            .to_vec();
        config.segments.k = Some(3);
        // A cost model, so that edits of it are tried too.
        config.value.cost = Some("monthly_charges".into());
        let mut bundle = custscore::train::train(&config, &Progress::silent()).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let models = dir.path().join("models");
        let bundle = bundle.save(&models).unwrap();
        assert!(Bundle::load(&models, None).is_ok());
        let mut files: Vec<(String, Value)> = std::fs::read_dir(&bundle)
            .unwrap()
            .map(|e| {
                let path = e.unwrap().path();
                let name = path.file_name().unwrap().to_string_lossy().into_owned();
                (
                    name,
                    serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap(),
                )
            })
            .collect();
        files.sort_by(|a, b| a.0.cmp(&b.0));
        let bytes = files
            .iter()
            .map(|(name, _)| (name.clone(), std::fs::read(bundle.join(name)).unwrap()))
            .collect();
        Trained {
            bytes,
            _dir: dir,
            models,
            bundle,
            files,
        }
    })
}

/// Every node of a JSON value as a JSON pointer.
fn pointers(value: &Value, at: String, out: &mut Vec<String>) {
    out.push(at.clone());
    match value {
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                pointers(item, format!("{at}/{i}"), out);
            }
        }
        Value::Object(fields) => {
            for (key, item) in fields {
                let key = key.replace('~', "~0").replace('/', "~1");
                pointers(item, format!("{at}/{key}"), out);
            }
        }
        _ => {}
    }
}

/// One edit of `node`, chosen by `kind`. Most edits keep the JSON type (so the file still
/// parses and the meaning checks are what stands between it and the scorer); one in
/// sixteen changes the type.
fn mutate(node: &mut Value, kind: usize) {
    let other_types = [
        json!("NaN"),
        json!(null),
        json!(true),
        json!([]),
        json!({}),
        json!(-1),
    ];
    if kind % 16 == 15 {
        *node = other_types[kind / 16 % other_types.len()].clone();
        return;
    }
    match node {
        Value::Number(n) => {
            *node = match (n.as_u64(), n.as_f64().unwrap_or(0.0)) {
                (Some(i), _) => {
                    let choices = [
                        0,
                        1,
                        i + 1,
                        i.saturating_sub(1),
                        i * 1000 + 7,
                        u64::from(u32::MAX),
                        1 << 32,
                    ];
                    json!(choices[kind % choices.len()])
                }
                (None, x) => {
                    let choices = [-x, x * 1e300, 0.0, -1.0, 1e308, x + 0.5, -1e308];
                    json!(choices[kind % choices.len()])
                }
            }
        }
        Value::Array(items) => match kind % 5 {
            0 => items.clear(),
            1 => {
                items.pop();
            }
            2 => items.reverse(),
            3 => items.truncate(1),
            _ => {
                if let Some(last) = items.last().cloned() {
                    items.push(last.clone());
                    items.insert(0, last);
                }
            }
        },
        Value::Object(fields) => {
            let key = fields.keys().nth(kind % fields.len().max(1)).cloned();
            if let Some(key) = key {
                fields.remove(&key);
            }
        }
        Value::String(text) => *text = ["", "x", "../x", "(other)"][kind % 4].to_string(),
        Value::Bool(b) => *b = !*b,
        Value::Null => *node = json!(kind),
    }
}

/// Write file `chosen` of `files` (the others are on disk as trained) and the manifest
/// with its new sha256.
fn write_with_checksums(bundle: &Path, files: &[(String, Value)], chosen: usize) {
    let index = |name: &str| files.iter().position(|(n, _)| n == name).unwrap();
    let mut manifest = files[index("manifest.json")].1.clone();
    let (name, value) = &files[chosen];
    if name != "manifest.json" {
        let bytes = serde_json::to_vec_pretty(value).unwrap();
        std::fs::write(bundle.join(name), &bytes).unwrap();
        if let Some(entry) = manifest.get_mut("files").and_then(|f| f.get_mut(name)) {
            *entry = json!(custscore::data::sha256_hex(&bytes));
        }
    }
    std::fs::write(
        bundle.join("manifest.json"),
        serde_json::to_vec_pretty(&manifest).unwrap(),
    )
    .unwrap();
}

/// Put the trained file back.
fn restore(trained: &Trained, name: &str) {
    for name in [name, "manifest.json"] {
        let (_, bytes) = trained.bytes.iter().find(|(n, _)| n == name).unwrap();
        std::fs::write(trained.bundle.join(name), bytes).unwrap();
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn mutated_bundles_never_panic_the_loader(
        file in any::<Index>(),
        node in any::<Index>(),
        depth_choice in any::<Index>(),
        kind in 0usize..64,
        edits in 1usize..3,
    ) {
        let trained = trained();
        let mut files = trained.files.clone();
        let chosen = file.index(files.len());
        for edit in 0..edits {
            let value = &mut files[chosen].1;
            let mut all = Vec::new();
            pointers(value, String::new(), &mut all);
            // Pick a depth first, then a node at that depth: big arrays (trees, map
            // points) would otherwise leave the small structural fields almost untouched.
            let depth = |p: &String| p.matches('/').count();
            let deepest = all.iter().map(depth).max().unwrap_or(0);
            let level = (depth_choice.index(deepest + 1) + edit) % (deepest + 1);
            let at_level: Vec<&String> = all.iter().filter(|p| depth(p) == level).collect();
            let at = at_level[node.index(at_level.len())];
            if let Some(target) = value.pointer_mut(at) {
                mutate(target, kind + edit);
            }
        }
        write_with_checksums(&trained.bundle, &files, chosen);
        let loaded = Bundle::load(&trained.models, None);
        restore(trained, &files[chosen].0);
        if let Ok(bundle) = loaded {
            // What loads must also score: the training customers' kind of values.
            let scorer = custscore::score::Scorer::new(bundle);
            let missing = vec![FeatureValue::Missing; scorer.n_inputs()];
            let _ = scorer.score("a".into(), missing);
            let typical = scorer
                .bundle()
                .encoder
                .inputs
                .iter()
                .map(|input| match &input.encoding {
                    Encoding::OneHot { categories, .. } => match categories.first() {
                        Some(c) => FeatureValue::Text(c.clone().into()),
                        None => FeatureValue::Text("Yes".into()),
                    },
                    _ => FeatureValue::Number(1e9),
                })
                .collect();
            let _ = scorer.score("b".into(), typical);
        }
    }
}
