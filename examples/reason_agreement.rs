//! How often path attribution (the default reason method) names the same top reason as
//! exact TreeSHAP, per customer of a table, for tree churn models.
//!
//! Both methods run on the same fitted trees and the same encoded rows; contributions are
//! summed per input column (a one-hot block is one column) exactly as scoring does, and
//! the strongest risk-raising column is compared. Customers for whom neither method finds
//! a reason (nothing pushes their risk up) are counted apart.
//!
//! The models: the bundle's own churn model when it is a tree model, plus the gradient-
//! boosted trees and the decision tree fitted with default settings on the whole table
//! (so the figure exists whichever candidate the bundle chose).
//!
//! usage: reason_agreement CUSTOMERS.csv ID_COLUMN LABEL=POSITIVE [MODELS_DIR]
//! e.g.   cargo run --release --example reason_agreement -- \
//!            training-data/telco_churn.csv customer_id churn=Yes models

use custscore::bundle::Bundle;
use custscore::data::{read_customers, ColumnData, ReadOptions};
use custscore::features::{EncoderParams, FeatureEncoder};
use custscore::models::classifier::explain::top_reasons;
use custscore::models::classifier::{
    CandidateKind, ChurnModel, ReasonMethod, RetentionParams, TopReasons,
};
use custscore::train::to_matrix;
use std::time::Instant;

struct Agreement {
    rows: usize,
    both_empty: usize,
    same_top: usize,
    same_top3_set: usize,
    path_seconds: f64,
    shap_seconds: f64,
}

fn reasons(
    model: &ChurnModel,
    encoder: &FeatureEncoder,
    rows: &[Vec<f64>],
    method: ReasonMethod,
) -> (Vec<TopReasons>, f64) {
    let mut contributions = vec![0.0; encoder.n_features()];
    let mut per_input = Vec::new();
    let started = Instant::now();
    let top = rows
        .iter()
        .map(|x| {
            contributions.iter_mut().for_each(|c| *c = 0.0);
            model.contributions(x, &mut contributions, method);
            top_reasons(encoder, &contributions, &mut per_input)
        })
        .collect();
    (top, started.elapsed().as_secs_f64())
}

fn agreement(model: &ChurnModel, encoder: &FeatureEncoder, rows: &[Vec<f64>]) -> Agreement {
    let (path, path_seconds) = reasons(model, encoder, rows, ReasonMethod::Path);
    let (shap, shap_seconds) = reasons(model, encoder, rows, ReasonMethod::TreeShap);
    let mut a = Agreement {
        rows: rows.len(),
        both_empty: 0,
        same_top: 0,
        same_top3_set: 0,
        path_seconds,
        shap_seconds,
    };
    for (p, s) in path.iter().zip(&shap) {
        if p.is_empty() && s.is_empty() {
            a.both_empty += 1;
            continue;
        }
        let first = |t: &TopReasons| t.iter().next().map(|(input, _)| input);
        if first(p) == first(s) {
            a.same_top += 1;
        }
        let mut ps: Vec<usize> = p.iter().map(|(i, _)| i).collect();
        let mut ss: Vec<usize> = s.iter().map(|(i, _)| i).collect();
        ps.sort_unstable();
        ss.sort_unstable();
        if ps == ss {
            a.same_top3_set += 1;
        }
    }
    a
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    anyhow::ensure!(
        (3..=4).contains(&args.len()),
        "usage: reason_agreement CSV ID LABEL=POSITIVE [MODELS_DIR]"
    );
    let (label, positive) = args[2]
        .split_once('=')
        .ok_or_else(|| anyhow::anyhow!("label must be COLUMN=VALUE"))?;
    let options = ReadOptions {
        id: Some(args[1].clone()),
        ..Default::default()
    };
    let mut table = read_customers(args[0].as_ref(), &options)?;
    let label_column = table
        .remove_column(label)
        .ok_or_else(|| anyhow::anyhow!("no column {label}"))?;
    let y: Vec<bool> = match &label_column.data {
        ColumnData::Categorical(v) => v.iter().map(|c| c.as_deref() == Some(positive)).collect(),
        ColumnData::Numeric(v) => {
            let want: f64 = positive.parse()?;
            v.iter().map(|c| *c == Some(want)).collect()
        }
    };

    let mut models: Vec<(String, FeatureEncoder, ChurnModel)> = Vec::new();
    if let Some(dir) = args.get(3) {
        let bundle = Bundle::load(dir.as_ref(), None)?;
        if let Some(retention) = bundle.retention {
            match retention.model {
                ChurnModel::Logistic(_) => println!(
                    "bundle {}: the chosen model is logistic; its reasons are exact linear \
                     terms whichever method is set",
                    bundle.manifest.version
                ),
                model => models.push((
                    format!("bundle {} ({})", bundle.manifest.version, retention.chosen),
                    bundle.encoder,
                    model,
                )),
            }
        }
    }
    let encoder = FeatureEncoder::fit(&table, &[], &EncoderParams::default());
    let rows = encoder.encode_table(&table);
    let x = to_matrix(&rows, encoder.n_features());
    let params = RetentionParams::default();
    for kind in [CandidateKind::Gbm, CandidateKind::DecisionTree] {
        let model = ChurnModel::fit(kind, x.view(), &y, &params)?;
        models.push((
            format!("{} (default settings)", kind.name()),
            encoder.clone(),
            model,
        ));
    }

    println!(
        "{}: {} customers; top reason = the input column path attribution / TreeSHAP \
         credits with the largest risk-raising log-odds",
        args[0],
        table.rows()
    );
    println!(
        "{:<44} {:>10} {:>12} {:>12} {:>9} {:>9}",
        "model", "same top", "same top-3", "no reason", "path s", "shap s"
    );
    for (name, encoder, model) in &models {
        let rows = encoder.encode_table(&table);
        let a = agreement(model, encoder, &rows);
        let with_reason = (a.rows - a.both_empty).max(1) as f64;
        println!(
            "{:<44} {:>9.1}% {:>11.1}% {:>12} {:>9.3} {:>9.3}",
            name,
            100.0 * a.same_top as f64 / with_reason,
            100.0 * a.same_top3_set as f64 / with_reason,
            a.both_empty,
            a.path_seconds,
            a.shap_seconds
        );
    }
    println!("percentages are of customers for whom at least one method gives a reason");
    Ok(())
}
