//! custscore's side of `benches/peers/uplift_peer.sh`: fit the uplift learners (both
//! meta-learners on part of the training rows, the better by Qini AUC refitted on all of
//! them) on the rows marked `train`, time it, and write the predicted uplift of the `test`
//! rows in file order.
//!
//! usage: uplift_peer DATA.csv OUT.csv RUNS   (threads: RAYON_NUM_THREADS, printed)
//! DATA.csv: numeric feature columns named x…, then treated (0/1), outcome (0/1), split.

use custscore::models::uplift::qini::{qini_curve, Ranked};
use custscore::models::uplift::{fit_uplift, UpliftModel, UpliftParams};
use ndarray::Array2;
use std::time::Instant;

struct Rows {
    x: Vec<f64>,
    treated: Vec<bool>,
    outcome: Vec<bool>,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, data, out, runs] = args.as_slice() else {
        return Err("usage: uplift_peer DATA.csv OUT.csv RUNS".into());
    };
    let runs: usize = runs.parse()?;
    let (train, test, width) = read(data)?;
    let x = Array2::from_shape_vec((train.treated.len(), width), train.x)?;
    let params = UpliftParams::default();
    let (mut seconds, mut model): (Vec<f64>, Option<UpliftModel>) = (Vec::new(), None);
    for _ in 0..runs.max(1) {
        let started = Instant::now();
        model = Some(fit_uplift(
            x.view(),
            &train.treated,
            &train.outcome,
            &params,
        )?);
        seconds.push(started.elapsed().as_secs_f64());
    }
    let model = model.ok_or("no run")?;
    let predicted: Vec<f64> = test.x.chunks(width).map(|row| model.uplift(row)).collect();
    let mut writer = csv::Writer::from_path(out)?;
    writer.write_record(["uplift"])?;
    for p in &predicted {
        writer.write_record([p.to_string()])?;
    }
    writer.flush()?;
    let ranked: Vec<Ranked> = (predicted.iter().zip(&test.treated).zip(&test.outcome))
        .map(|((&uplift, &treated), &outcome)| Ranked {
            uplift,
            treated,
            outcome,
        })
        .collect();
    let own = qini_curve(&ranked, 20);
    let mut sorted = seconds.clone();
    sorted.sort_by(f64::total_cmp);
    println!(
        "{}",
        serde_json::json!({
            "rayon_threads": rayon::current_num_threads(),
            "median_seconds": sorted[sorted.len() / 2],
            "runs": seconds,
            "chosen": model.learner.name(),
            "candidates": model.candidates,
            "own_qini_auc": own.qini_auc,
            "own_auuc": own.auuc,
        })
    );
    Ok(())
}

/// (train rows, test rows, feature count).
fn read(path: &str) -> Result<(Rows, Rows, usize), Box<dyn std::error::Error>> {
    let mut reader = csv::Reader::from_path(path)?;
    let header = reader.headers()?.clone();
    let at = |name: &str| {
        header
            .iter()
            .position(|h| h == name)
            .ok_or(format!("no column {name}"))
    };
    let (treated, outcome, split) = (at("treated")?, at("outcome")?, at("split")?);
    let features: Vec<usize> = (0..header.len())
        .filter(|&i| header[i].starts_with('x'))
        .collect();
    let empty = || Rows {
        x: Vec::new(),
        treated: Vec::new(),
        outcome: Vec::new(),
    };
    let (mut train, mut test) = (empty(), empty());
    for record in reader.records() {
        let record = record?;
        let rows = if &record[split] == "test" {
            &mut test
        } else {
            &mut train
        };
        for &f in &features {
            rows.x.push(record[f].parse()?);
        }
        rows.treated.push(&record[treated] == "1");
        rows.outcome.push(&record[outcome] == "1");
    }
    Ok((train, test, features.len()))
}
