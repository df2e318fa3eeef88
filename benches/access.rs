//! What finding a key costs natively: sha256 of the presented key (the sha2 crate uses the
//! CPU's SHA extensions when it has them, which callgrind's CPU does not) and the
//! constant-time comparison against ten stored digests. Varied keys: one of the ten, or a
//! wrong one, in turn.
//! Run: cargo build --release --bench access && target/release/deps/access-* --bench
//! (the HTTP side: benches/access_cost.sh and ACCESS=on benches/peers/serve_profile.sh).

use criterion::{criterion_group, criterion_main, Criterion};
use custscore::access::keys::Digest;
use custscore::access::{Key, KeyRing, Scope, Scopes};
use std::hint::black_box;

fn bench(c: &mut Criterion) {
    let secrets: Vec<String> = (0..10)
        .map(|i| format!("csk_{:064x}", i * 7919 + 1))
        .collect();
    let ring = KeyRing::new(
        secrets
            .iter()
            .enumerate()
            .map(|(i, s)| Key::new(format!("k{i}"), Scopes::of(&[Scope::Score]), s))
            .collect(),
    );
    let mut presented = secrets.clone();
    presented.push(format!("csk_{:064x}", 42));
    #[cfg(target_arch = "x86_64")]
    println!(
        "this CPU has SHA extensions: {}",
        std::arch::is_x86_feature_detected!("sha")
    );
    let mut i = 0;
    c.bench_function("sha256 of a 68-byte key", |b| {
        b.iter(|| {
            i = (i + 1) % presented.len();
            black_box(Digest::of(black_box(&presented[i])))
        })
    });
    c.bench_function("find a key among 10", |b| {
        b.iter(|| {
            i = (i + 1) % presented.len();
            black_box(ring.find(black_box(&presented[i])))
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
