//! Our half of `benches/peers/logistic_peer.sh`: encode a customer table with the fitted
//! feature encoder (standardized numbers, one-hot categories), write the design matrix and
//! labels for scikit-learn, and time the logistic fit on exactly that matrix: custscore's
//! own (`fit_logistic`, Newton) and linfa-logistic's (L-BFGS, a dev-dependency used only
//! here), both with the L2 penalty α = 1 (scikit-learn's C = 1).
//!
//! usage: logistic_peer CUSTOMERS.csv ID_COLUMN LABEL_COLUMN=POSITIVE OUT_PREFIX REPEATS
//! Writes OUT_PREFIX.x.f64 (raw little-endian f64, row-major), OUT_PREFIX.y.u8 and
//! OUT_PREFIX.coef.json (our intercept and weights) and prints one JSON line. linfa is
//! timed up to `LINFA_MAX_ROWS` rows. Threads: ours uses the rayon pool
//! (RAYON_NUM_THREADS, printed); linfa runs on one thread.

use custscore::data::{read_customers, ReadOptions};
use custscore::features::{EncoderParams, FeatureEncoder};
use custscore::models::classifier::logistic::{fit_logistic, LogisticParams};
use custscore::train::to_matrix;
use linfa::prelude::*;
use linfa_logistic::LogisticRegression;
use std::io::Write;
use std::time::Instant;

const LINFA_MAX_ROWS: usize = 500_000;

/// Median of the times, or `null` when nothing was timed.
fn median(mut times: Vec<f64>) -> String {
    times.sort_by(f64::total_cmp);
    times
        .get(times.len() / 2)
        .map_or("null".to_string(), |t| t.to_string())
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    anyhow::ensure!(
        args.len() == 5,
        "usage: logistic_peer CSV ID LABEL=POSITIVE OUT_PREFIX REPEATS"
    );
    let (label, positive) = args[2]
        .split_once('=')
        .ok_or_else(|| anyhow::anyhow!("label must be COLUMN=POSITIVE"))?;
    let options = ReadOptions {
        id: Some(args[1].clone()),
        ..Default::default()
    };
    let mut table = read_customers(args[0].as_ref(), &options)?;
    let y: Vec<bool> = match table.column(label).map(|c| &c.data) {
        Some(custscore::data::ColumnData::Categorical(v)) => {
            v.iter().map(|c| c.as_deref() == Some(positive)).collect()
        }
        _ => anyhow::bail!("{label} is not a categorical column"),
    };
    table.remove_column(label);
    let encoder = FeatureEncoder::fit(&table, &[], &EncoderParams::default());
    let x = to_matrix(&encoder.encode_table(&table), encoder.n_features());
    let prefix = &args[3];
    let mut out = std::io::BufWriter::new(std::fs::File::create(format!("{prefix}.x.f64"))?);
    for v in x.iter() {
        out.write_all(&v.to_le_bytes())?;
    }
    out.flush()?;
    let labels: Vec<u8> = y.iter().map(|&t| u8::from(t)).collect();
    std::fs::write(format!("{prefix}.y.u8"), labels)?;
    let repeats: usize = args[4].parse()?;
    let params = LogisticParams::default();

    let (mut ours, mut ours_times, mut linfa_times) = (None, Vec::new(), Vec::new());
    let mut linfa_gap = f64::NAN;
    for _ in 0..repeats {
        let started = Instant::now();
        let model = fit_logistic(x.view(), &y, &params)?;
        ours_times.push(started.elapsed().as_secs_f64());
        ours = Some(model);
    }
    let ours = ours.ok_or_else(|| anyhow::anyhow!("REPEATS must be at least 1"))?;
    if x.nrows() <= LINFA_MAX_ROWS {
        let dataset = DatasetBase::new(x.clone(), ndarray::Array1::from(y.clone()));
        for _ in 0..repeats {
            let started = Instant::now();
            let fitted = LogisticRegression::default()
                .alpha(params.alpha)
                .max_iterations(params.max_iterations)
                .fit(&dataset)?;
            linfa_times.push(started.elapsed().as_secs_f64());
            // linfa's positive class is the more frequent label.
            let sign = if fitted.labels().pos.class { 1.0 } else { -1.0 };
            linfa_gap = (fitted.params().iter().zip(&ours.weights))
                .map(|(w, o)| (sign * w - o).abs())
                .fold((sign * fitted.intercept() - ours.intercept).abs(), f64::max);
        }
    }
    let coef = serde_json::json!({"intercept": ours.intercept, "weights": ours.weights});
    std::fs::write(format!("{prefix}.coef.json"), coef.to_string())?;
    println!(
        "{{\"rows\": {}, \"features\": {}, \"rayon_threads\": {}, \"median_seconds\": {}, \
         \"linfa_median_seconds\": {}, \"linfa_max_coef_gap\": {}}}",
        x.nrows(),
        x.ncols(),
        rayon::current_num_threads(),
        median(ours_times),
        median(linfa_times),
        if linfa_gap.is_finite() {
            linfa_gap.to_string()
        } else {
            "null".into()
        }
    );
    Ok(())
}
