//! Records the versions of the model libraries from Cargo.lock, so every bundle manifest
//! says exactly what fitted it. Only libraries whose code fits a model belong here; today
//! none does: k-means, the logistic regression, the trees, the GBM, the calibrators and
//! the rules are custscore's own code (linfa is a peer in examples/ only).
use std::fs;

const TRACKED: &[&str] = &[];

fn main() {
    println!("cargo:rerun-if-changed=Cargo.lock");
    let lock = fs::read_to_string("Cargo.lock").unwrap_or_default();
    let mut versions = Vec::new();
    let mut name: Option<&str> = None;
    for line in lock.lines() {
        if let Some(n) = line.strip_prefix("name = ") {
            name = Some(n.trim_matches('"'));
        } else if let (Some(v), Some(n)) = (line.strip_prefix("version = "), name.take()) {
            if TRACKED.contains(&n) {
                versions.push(format!("{n}={}", v.trim_matches('"')));
            }
        }
    }
    println!(
        "cargo:rustc-env=CUSTSCORE_LIBRARY_VERSIONS={}",
        versions.join(",")
    );
}
