//! The drift test files, made from the telco table the same way every time: a shifted
//! copy (tenure halved, rounded down; every tenth customer on a contract training never
//! saw) and an unshifted resample (rows drawn with replacement). `examples/drift_data.rs`
//! writes them for the Evidently peer script; the tests write the same bytes.
#![allow(dead_code)]

use std::path::Path;

/// The contract value no training customer has.
pub const NEW_CONTRACT: &str = "Four year";

/// splitmix64: a tiny fixed generator, so the resample needs no crate and never changes.
pub struct SplitMix(pub u64);

impl SplitMix {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

fn read(source: &Path) -> (csv::StringRecord, Vec<csv::StringRecord>) {
    let mut reader = csv::Reader::from_path(source).expect("telco table");
    let header = reader.headers().expect("header").clone();
    let rows = reader.records().map(|r| r.expect("row")).collect();
    (header, rows)
}

fn write(path: &Path, header: &csv::StringRecord, rows: &[csv::StringRecord]) {
    let mut writer = csv::Writer::from_path(path).expect("writable");
    writer.write_record(header).expect("write");
    for row in rows {
        writer.write_record(row).expect("write");
    }
    writer.flush().expect("flush");
}

/// Tenure halved (rounded down) and every tenth row on [`NEW_CONTRACT`].
pub fn write_shifted(source: &Path, target: &Path) {
    let (header, rows) = read(source);
    let at = |name: &str| header.iter().position(|h| h == name).expect(name);
    let (tenure, contract) = (at("tenure"), at("contract"));
    let shifted: Vec<csv::StringRecord> = rows
        .iter()
        .enumerate()
        .map(|(i, row)| {
            let mut fields: Vec<String> = row.iter().map(String::from).collect();
            if let Ok(t) = fields[tenure].parse::<u64>() {
                fields[tenure] = (t / 2).to_string();
            }
            if i % 10 == 0 {
                fields[contract] = NEW_CONTRACT.to_string();
            }
            csv::StringRecord::from(fields)
        })
        .collect();
    write(target, &header, &shifted);
}

/// As many rows as the source, drawn with replacement (seed 42).
pub fn write_resample(source: &Path, target: &Path) {
    let (header, rows) = read(source);
    let mut rng = SplitMix(42);
    let n = rows.len() as u64;
    let drawn: Vec<csv::StringRecord> = (0..n)
        .map(|_| rows[(rng.next() % n) as usize].clone())
        .collect();
    write(target, &header, &drawn);
}

/// Make the CURRENT bundle look like one from before drift references.
pub fn strip_drift_reference(models: &Path) {
    let version = std::fs::read_to_string(models.join("CURRENT")).unwrap();
    let dir = models.join(version.trim());
    let manifest_path = dir.join("manifest.json");
    let mut manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&manifest_path).unwrap()).unwrap();
    let files = manifest["files"].as_object_mut().unwrap();
    assert!(files.remove("drift_reference.json").is_some());
    std::fs::write(
        &manifest_path,
        serde_json::to_vec_pretty(&manifest).unwrap(),
    )
    .unwrap();
    std::fs::remove_file(dir.join("drift_reference.json")).unwrap();
}
