//! Reason codes: a prediction split into per-feature contributions (log-odds), summed
//! per input column (a one-hot block is one column), and the columns that push this
//! customer's risk up most written as `contract = Month-to-month (+0.21)`.

use crate::features::{Encoding, FeatureEncoder, Value};
use crate::models::tree::number;
use serde::{Deserialize, Serialize};

/// How a tree model's prediction is split among features (the linear model always uses
/// weight × deviation from the mean).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReasonMethod {
    /// Exact Shapley values (path-dependent TreeSHAP): consistent, O(leaves × depth²)
    /// per tree.
    TreeShap,
    /// Each split's change in value credited to its feature (Saabas): O(depth) per tree,
    /// for scoring throughput over exactness.
    #[default]
    Path,
}

/// Up to `top` reasons, strongest first; only columns that raise the risk.
pub fn reasons(
    encoder: &FeatureEncoder,
    values: &[Value],
    contributions: &[f64],
    top: usize,
) -> Vec<String> {
    let mut per_input = vec![0.0; encoder.inputs.len()];
    for (feature, c) in encoder.features.iter().zip(contributions) {
        per_input[feature.input] += c;
    }
    let mut ranked: Vec<(usize, f64)> = per_input
        .into_iter()
        .enumerate()
        .filter(|(_, c)| *c > 0.005)
        .collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    ranked
        .into_iter()
        .take(top)
        .map(|(input, c)| {
            format!(
                "{} ({c:+.2})",
                describe_value(encoder, input, values.get(input))
            )
        })
        .collect()
}

/// `tenure = 2`, `partner = no`, `contract = Month-to-month`, `tenure missing`.
fn describe_value(encoder: &FeatureEncoder, input: usize, value: Option<&Value>) -> String {
    let column = &encoder.inputs[input];
    let name = &column.name;
    match (value, &column.encoding) {
        (Some(Value::Number(x)), Encoding::Numeric { binary: true, .. })
            if *x == 0.0 || *x == 1.0 =>
        {
            format!("{name} = {}", if *x == 1.0 { "yes" } else { "no" })
        }
        (Some(Value::Number(x)), _) => format!("{name} = {}", number(*x)),
        (Some(Value::Text(t)), _) => format!("{name} = {t}"),
        _ => format!("{name} missing"),
    }
}
