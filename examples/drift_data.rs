//! Write the drift test files (shifted copy and resample of the telco table) into a
//! folder: `cargo run --release --example drift_data -- OUT_DIR`.

#[path = "../tests/common/drift_data.rs"]
mod drift_data;

use std::path::PathBuf;

fn main() {
    let out = PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| ".".into()));
    let telco = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("training-data/telco_churn.csv");
    drift_data::write_shifted(&telco, &out.join("telco_shifted.csv"));
    drift_data::write_resample(&telco, &out.join("telco_resample.csv"));
    println!("{}", out.display());
}
