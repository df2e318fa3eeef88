//! custscore's side of `benches/peers/uplift_peer.sh`: fit the uplift model as `train
//! --uplift` does (two-model and X-learner averaged, early-stopped on a third of the training
//! rows for the held-out Qini curve, then on all of them) on the rows marked `train`, time
//! it (wall and this process's CPU seconds), and write the predicted uplift of the `test`
//! rows in file order.
//!
//! usage: uplift_peer DATA.csv OUT.csv RUNS [PARAMS_JSON]   (threads: RAYON_NUM_THREADS,
//! printed; PARAMS_JSON: `UpliftParams` fields that differ from the defaults)
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
    let (data, out, runs, params) = match args.as_slice() {
        [_, data, out, runs] => (data, out, runs, UpliftParams::default()),
        [_, data, out, runs, params] => (data, out, runs, serde_json::from_str(params)?),
        _ => return Err("usage: uplift_peer DATA.csv OUT.csv RUNS [PARAMS_JSON]".into()),
    };
    let runs: usize = runs.parse()?;
    let (train, test, width) = read(data)?;
    let x = Array2::from_shape_vec((train.treated.len(), width), train.x)?;
    let (mut seconds, mut model): (Vec<f64>, Option<UpliftModel>) = (Vec::new(), None);
    let mut cpu = Vec::new();
    for _ in 0..runs.max(1) {
        let (started, cpu_started) = (Instant::now(), cpu_seconds()?);
        model = Some(fit_uplift(
            x.view(),
            &train.treated,
            &train.outcome,
            &params,
        )?);
        seconds.push(started.elapsed().as_secs_f64());
        cpu.push(cpu_seconds()? - cpu_started);
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
    let median = |v: &[f64]| {
        let mut sorted = v.to_vec();
        sorted.sort_by(f64::total_cmp);
        sorted[sorted.len() / 2]
    };
    println!(
        "{}",
        serde_json::json!({
            "rayon_threads": rayon::current_num_threads(),
            "median_seconds": median(&seconds),
            "median_cpu_seconds": median(&cpu),
            "runs": seconds,
            "chosen": model.learner.name(),
            "candidates": model.candidates,
            "own_qini_auc": own.qini_auc,
            "own_auuc": own.auuc,
        })
    );
    Ok(())
}

/// User and system CPU seconds of this process so far, every thread (Linux
/// `/proc/self/stat`, in clock ticks of 1/100 s).
fn cpu_seconds() -> Result<f64, Box<dyn std::error::Error>> {
    let stat = std::fs::read_to_string("/proc/self/stat")?;
    // Fields after the parenthesised command name; utime and stime are the 14th and 15th.
    let rest = stat.rsplit_once(')').ok_or("unreadable /proc/self/stat")?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields[11].parse::<f64>()? + fields[12].parse::<f64>()?;
    Ok(ticks / 100.0)
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
