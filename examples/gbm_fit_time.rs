//! Time one GBM fit (`fit_gbm`: rounds chosen by early stopping, then the refit) on
//! generated rows, and its AUC on fresh rows from the same generator. A quick check
//! between changes; `benches/gbm_fit.rs` is the criterion benchmark.
//!
//! usage: gbm_fit_time [ROWS] [REPEATS]   (threads: RAYON_NUM_THREADS, printed)

#[path = "../benches/data/gbm_data.rs"]
mod gbm_data;

use custscore::models::classifier::cv::auc;
use custscore::models::classifier::gbm::{fit_gbm, GbmParams};
use std::time::Instant;

fn main() {
    let mut args = std::env::args().skip(1);
    let rows: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let repeats: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(3);
    let (x, y) = gbm_data::generated(rows, 1);
    let (x_test, y_test) = gbm_data::generated(20_000, 2);
    let params = GbmParams::default();
    println!(
        "{rows} rows x {} features, rayon threads {}",
        x.ncols(),
        rayon::current_num_threads()
    );
    let mut seconds = Vec::new();
    for _ in 0..repeats {
        let started = Instant::now();
        let model = fit_gbm(x.view(), &y, &params, 42);
        seconds.push(started.elapsed().as_secs_f64());
        let p: Vec<f64> = x_test
            .rows()
            .into_iter()
            .map(|r| model.log_odds(&r.to_vec()))
            .collect();
        println!(
            "fit {:.2} s, {} trees, test AUC {:.4}",
            seconds.last().unwrap_or(&0.0),
            model.trees().len(),
            auc(&y_test, &p)
        );
    }
    seconds.sort_by(f64::total_cmp);
    println!("median fit {:.2} s", seconds[seconds.len() / 2]);
}
