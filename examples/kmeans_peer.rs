//! Our half of `benches/peers/kmeans_peer.sh`: encode a customer table with the fitted
//! feature encoder, write the standardized matrix for the peer to read, and time k-means
//! on exactly that matrix.
//!
//! usage: kmeans_peer CUSTOMERS.csv ID_COLUMN LABEL_COLUMN FEATURES_OUT.csv K RESTARTS REPEATS

use custscore::data::{read_customers, ReadOptions};
use custscore::features::{EncoderParams, FeatureEncoder};
use custscore::models::segment::{fit_kmeans, SegmentParams};
use custscore::train::to_matrix;
use std::io::Write;
use std::time::Instant;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    anyhow::ensure!(
        args.len() == 7,
        "usage: kmeans_peer CSV ID LABEL OUT K RESTARTS REPEATS"
    );
    let options = ReadOptions {
        id: Some(args[1].clone()),
        ..Default::default()
    };
    let mut table = read_customers(args[0].as_ref(), &options)?;
    table.remove_column(&args[2]);
    let encoder = FeatureEncoder::fit(&table, &[], &EncoderParams::default());
    let rows = encoder.encode_table(&table);
    let mut out = std::io::BufWriter::new(std::fs::File::create(&args[3])?);
    for row in &rows {
        let cells: Vec<String> = row.iter().map(|x| format!("{x:.17e}")).collect();
        writeln!(out, "{}", cells.join(","))?;
    }
    out.flush()?;
    let matrix = to_matrix(&rows, encoder.n_features());
    let (k, restarts, repeats): (usize, usize, usize) =
        (args[4].parse()?, args[5].parse()?, args[6].parse()?);
    let params = SegmentParams::default();
    let mut best = f64::INFINITY;
    let mut times = Vec::new();
    for _ in 0..repeats {
        let started = Instant::now();
        let clustering = fit_kmeans(&matrix, k, restarts, &params)?;
        times.push(started.elapsed().as_secs_f64());
        best = best.min(clustering.inertia);
    }
    times.sort_by(f64::total_cmp);
    println!(
        "{{\"rows\": {}, \"features\": {}, \"inertia\": {best}, \"median_seconds\": {}}}",
        rows.len(),
        encoder.n_features(),
        times[times.len() / 2]
    );
    Ok(())
}
