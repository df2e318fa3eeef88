//! Reason codes: a prediction split into per-feature contributions (log-odds), summed
//! per input column (a one-hot block is one column), and the columns that push this
//! customer's risk up most written as `contract = Month-to-month (+0.21)`.

use crate::features::{Encoding, FeatureEncoder, Value};
use crate::numfmt::{push_fixed, push_short};
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

/// Most reasons given per customer.
pub const MAX_REASONS: usize = 3;

/// Smallest log-odds push that counts as a reason.
const MIN_REASON: f64 = 0.005;

/// The input columns that raise one customer's risk most, strongest first, as
/// (input index, log-odds contribution); text is written only when wanted.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct TopReasons {
    items: [(usize, f64); MAX_REASONS],
    len: usize,
}

impl TopReasons {
    pub fn iter(&self) -> impl Iterator<Item = (usize, f64)> + '_ {
        self.items[..self.len].iter().copied()
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Keep `(input, c)` if it ranks in the top; ties keep the earlier input first.
    fn offer(&mut self, input: usize, c: f64) {
        let at = self.items[..self.len].partition_point(|&(_, kept)| kept >= c);
        if at == MAX_REASONS {
            return;
        }
        let end = (self.len + 1).min(MAX_REASONS);
        self.items.copy_within(at..end - 1, at + 1);
        self.items[at] = (input, c);
        self.len = end;
    }
}

/// Sum feature contributions per input column (a one-hot block is one column) into
/// `per_input` (reused) and keep the columns that push the risk up most.
pub fn top_reasons(
    encoder: &FeatureEncoder,
    contributions: &[f64],
    per_input: &mut Vec<f64>,
) -> TopReasons {
    per_input.clear();
    per_input.resize(encoder.inputs.len(), 0.0);
    for (feature, c) in encoder.features.iter().zip(contributions) {
        per_input[feature.input] += c;
    }
    let mut top = TopReasons::default();
    for (input, &c) in per_input.iter().enumerate() {
        if c > MIN_REASON {
            top.offer(input, c);
        }
    }
    top
}

/// Append one reason: `contract = Month-to-month (+0.56)`.
pub fn push_reason(
    out: &mut String,
    encoder: &FeatureEncoder,
    (input, contribution): (usize, f64),
    value: Option<&Value>,
) {
    push_value(out, encoder, input, value);
    out.push_str(" (");
    if contribution >= 0.0 {
        out.push('+');
    }
    push_fixed(out, contribution, 2);
    out.push(')');
}

/// The reasons as separate texts.
pub fn reason_texts(encoder: &FeatureEncoder, values: &[Value], top: &TopReasons) -> Vec<String> {
    top.iter()
        .map(|reason| {
            let mut text = String::new();
            push_reason(&mut text, encoder, reason, values.get(reason.0));
            text
        })
        .collect()
}

/// `tenure = 2`, `partner = no`, `contract = Month-to-month`, `tenure missing`.
fn push_value(out: &mut String, encoder: &FeatureEncoder, input: usize, value: Option<&Value>) {
    let column = &encoder.inputs[input];
    out.push_str(&column.name);
    match (value, &column.encoding) {
        (Some(Value::Number(x)), Encoding::Numeric { binary: true, .. })
            if *x == 0.0 || *x == 1.0 =>
        {
            out.push_str(if *x == 1.0 { " = yes" } else { " = no" });
        }
        (Some(Value::Number(x)), _) => {
            out.push_str(" = ");
            push_short(out, *x);
        }
        (Some(Value::Text(t)), _) => {
            out.push_str(" = ");
            out.push_str(t);
        }
        _ => out.push_str(" missing"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_strongest_reasons_are_kept_in_order() {
        let mut top = TopReasons::default();
        for (input, c) in [(0, 0.1), (1, 0.3), (2, 0.1), (3, 0.2), (4, 0.05), (5, 0.3)] {
            top.offer(input, c);
        }
        let kept: Vec<_> = top.iter().collect();
        assert_eq!(kept, vec![(1, 0.3), (5, 0.3), (3, 0.2)]);
        let mut few = TopReasons::default();
        few.offer(7, 0.01);
        assert_eq!(few.iter().collect::<Vec<_>>(), vec![(7, 0.01)]);
        assert!(TopReasons::default().is_empty());
    }
}
