//! Our half of `benches/peers/kmeans_peer.sh`: encode a customer table with the fitted
//! feature encoder, write the standardized matrix for scikit-learn to read, and time
//! k-means on exactly that matrix twice: custscore's own (`fit_kmeans`) and linfa's
//! (`linfa-clustering`, a dev-dependency used only here), with the same k, the same number
//! of k-means++ restarts, the same iteration cap and tolerance. Each prints the best inertia
//! it reached, so the two can be seen to do the same work.
//!
//! usage: kmeans_peer CUSTOMERS.csv ID_COLUMN LABEL_COLUMN FEATURES_OUT.f64 K RESTARTS REPEATS
//! The matrix is written as raw little-endian f64, row-major (numpy.fromfile reads it);
//! its shape is in the printed JSON. linfa is timed only up to `LINFA_MAX_ROWS` rows
//! (50,000): above that its sequential restarts take minutes.
//! Threads: custscore runs its restarts on the rayon pool (RAYON_NUM_THREADS); linfa runs
//! its restarts one after another. The rayon pool size is printed.

use custscore::data::{read_customers, ReadOptions};
use custscore::features::{EncoderParams, FeatureEncoder};
use custscore::models::segment::{fit_kmeans, SegmentParams};
use custscore::train::to_matrix;
use linfa::prelude::*;
use linfa::DatasetBase;
use linfa_clustering::{KMeans, KMeansInit};
use rand::SeedableRng;
use rand_xoshiro::Xoshiro256Plus;
use std::io::Write;
use std::time::Instant;

const LINFA_MAX_ROWS: usize = 50_000;

/// Median of the times, or NaN (printed as null) when nothing was timed.
fn median(mut times: Vec<f64>) -> String {
    times.sort_by(f64::total_cmp);
    times
        .get(times.len() / 2)
        .map_or("null".to_string(), |t| t.to_string())
}

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
    for x in rows.iter().flatten() {
        out.write_all(&x.to_le_bytes())?;
    }
    out.flush()?;
    let matrix = to_matrix(&rows, encoder.n_features());
    let (k, restarts, repeats): (usize, usize, usize) =
        (args[4].parse()?, args[5].parse()?, args[6].parse()?);
    let params = SegmentParams::default();

    let (mut ours_best, mut ours_times) = (f64::INFINITY, Vec::new());
    let (mut linfa_best, mut linfa_times) = (f64::INFINITY, Vec::new());
    let dataset = DatasetBase::from(matrix.clone());
    for repeat in 0..repeats {
        let started = Instant::now();
        let clustering = fit_kmeans(&matrix, k, restarts, &params)?;
        ours_times.push(started.elapsed().as_secs_f64());
        ours_best = ours_best.min(clustering.inertia);

        if matrix.nrows() > LINFA_MAX_ROWS {
            continue;
        }
        let rng = Xoshiro256Plus::seed_from_u64(params.seed + repeat as u64);
        let started = Instant::now();
        let model = KMeans::params_with_rng(k, rng)
            .n_runs(restarts)
            .init_method(KMeansInit::KMeansPlusPlus)
            .max_n_iterations(params.max_iterations)
            .tolerance(params.tolerance)
            .fit(&dataset)?;
        linfa_times.push(started.elapsed().as_secs_f64());
        linfa_best = linfa_best.min(model.inertia());
    }
    // linfa's inertia() is the mean squared distance per row; ours and scikit-learn's are
    // the sum. Both are printed as sums.
    let linfa_sum = match linfa_best.is_finite() {
        true => (linfa_best * matrix.nrows() as f64).to_string(),
        false => "null".to_string(),
    };
    println!(
        "{{\"rows\": {}, \"features\": {}, \"rayon_threads\": {}, \"inertia\": {ours_best}, \
         \"median_seconds\": {}, \"linfa_inertia\": {linfa_sum}, \"linfa_median_seconds\": {}}}",
        rows.len(),
        encoder.n_features(),
        rayon::current_num_threads(),
        median(ours_times),
        median(linfa_times)
    );
    Ok(())
}
