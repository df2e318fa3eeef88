//! The readable decision tree: a shallow classification tree on the churn target with
//! a minimum leaf size, exported as one if-then sentence per leaf in the raw units of
//! the input columns (`IF contract = Month-to-month AND tenure < 5.5 THEN churn 58% (n=812)`).
//! The same tree code, grown deeper, is the single-tree churn candidate.

use crate::features::{Encoding, FeatureEncoder};
use crate::models::classifier::calibration::logit;
use crate::models::classifier::flat_tree::FlatTree;
use crate::models::classifier::gbm::fit_cart;
use crate::numfmt::short;
use ndarray::ArrayView2;
use serde::{Deserialize, Serialize};
use std::fmt::Write;

/// One leaf as a sentence, with the customers it covers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rule {
    /// The leaf's node index in the tree.
    pub leaf: u32,
    pub conditions: Vec<String>,
    pub customers: usize,
    pub churned: usize,
    pub churn_rate: f64,
}

impl Rule {
    pub fn sentence(&self) -> String {
        let when = match self.conditions.is_empty() {
            true => "every customer".to_string(),
            false => self.conditions.join(" AND "),
        };
        format!(
            "IF {when} THEN churn {:.0}% (n={})",
            100.0 * self.churn_rate,
            self.customers
        )
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReadableTree {
    pub max_depth: usize,
    pub min_leaf: usize,
    pub tree: FlatTree,
    /// Leaves, highest churn rate first.
    pub rules: Vec<Rule>,
    /// For each customer segment, the rule that covers most of its customers.
    #[serde(default)]
    pub segments: Vec<SegmentRule>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SegmentRule {
    pub segment: usize,
    /// Index into [`ReadableTree::rules`].
    pub rule: usize,
    /// Share of the segment's customers the rule covers.
    pub share: f64,
}

impl ReadableTree {
    pub fn fit(
        x: ArrayView2<f64>,
        y: &[bool],
        encoder: &FeatureEncoder,
        max_depth: usize,
        min_leaf: usize,
    ) -> ReadableTree {
        let (tree, counts) = fit_counted_tree(x, y, max_depth, min_leaf);
        let mut rules = Vec::new();
        collect_rules(&tree, &counts, encoder, 0, &mut Vec::new(), &mut rules);
        rules.sort_by(|a, b| b.churn_rate.total_cmp(&a.churn_rate));
        ReadableTree {
            max_depth,
            min_leaf,
            tree,
            rules,
            segments: Vec::new(),
        }
    }

    /// Index into `rules` of the rule this encoded customer falls under.
    pub fn rule_of(&self, x: &[f64]) -> Option<usize> {
        let leaf = self.tree.leaf_of(x) as u32;
        self.rules.iter().position(|r| r.leaf == leaf)
    }

    /// Record, for each of `k` segments, the rule covering most of its customers.
    pub fn link_segments(&mut self, x: ArrayView2<f64>, segment_of: &[usize], k: usize) {
        let mut counts = vec![vec![0usize; self.rules.len()]; k];
        for (row, &segment) in x.rows().into_iter().zip(segment_of) {
            if let (Some(rule), Some(c)) = (self.rule_of(&row.to_vec()), counts.get_mut(segment)) {
                c[rule] += 1;
            }
        }
        self.segments = counts
            .iter()
            .enumerate()
            .filter_map(|(segment, c)| {
                let total: usize = c.iter().sum();
                let (rule, &n) = c.iter().enumerate().max_by_key(|(_, n)| **n)?;
                (total > 0).then(|| SegmentRule {
                    segment,
                    rule,
                    share: n as f64 / total as f64,
                })
            })
            .collect();
    }

    /// The rules as text, one line each.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for rule in &self.rules {
            let _ = writeln!(out, "{}", rule.sentence());
        }
        out
    }
}

/// A tree whose node values are the smoothed churn log-odds of the training rows that
/// reach them (leaf frequencies, not class votes), with those (rows, churned) counts.
pub fn fit_counted_tree(
    x: ArrayView2<f64>,
    y: &[bool],
    max_depth: usize,
    min_leaf: usize,
) -> (FlatTree, Vec<(usize, usize)>) {
    count_rows(fit_cart(x, y, max_depth, min_leaf), x, y)
}

/// A tree's node values and covers from the rows `x` that reach each node (churn rate
/// with one pseudo-count each way, as log-odds), and each node's (rows, churners).
pub fn count_rows(
    mut tree: FlatTree,
    x: ArrayView2<f64>,
    y: &[bool],
) -> (FlatTree, Vec<(usize, usize)>) {
    let mut counts = vec![(0usize, 0usize); tree.nodes.len()];
    for (r, &churned) in y.iter().enumerate() {
        let row = x.row(r);
        let row = row
            .as_slice()
            .map(<[f64]>::to_vec)
            .unwrap_or_else(|| row.to_vec());
        let mut at = 0;
        loop {
            counts[at].0 += 1;
            counts[at].1 += usize::from(churned);
            let node = &tree.nodes[at];
            if node.is_leaf() {
                break;
            }
            at = if row[node.feature as usize] <= node.threshold {
                node.left
            } else {
                node.right
            } as usize;
        }
    }
    for (node, &(n, pos)) in tree.nodes.iter_mut().zip(&counts) {
        node.value = logit((pos as f64 + 1.0) / (n as f64 + 2.0));
        node.cover = n as f64;
    }
    (tree, counts)
}

/// One condition on the path to a leaf: `feature <= threshold` (left) or `>` (right).
#[derive(Debug, Clone, Copy)]
struct Step {
    feature: usize,
    threshold: f64,
    left: bool,
}

fn collect_rules(
    tree: &FlatTree,
    counts: &[(usize, usize)],
    encoder: &FeatureEncoder,
    at: usize,
    path: &mut Vec<Step>,
    rules: &mut Vec<Rule>,
) {
    let node = &tree.nodes[at];
    if node.is_leaf() {
        let (n, churned) = counts[at];
        rules.push(Rule {
            leaf: at as u32,
            conditions: describe_path(path, encoder),
            customers: n,
            churned,
            churn_rate: churned as f64 / n.max(1) as f64,
        });
        return;
    }
    for (child, left) in [(node.left, true), (node.right, false)] {
        path.push(Step {
            feature: node.feature as usize,
            threshold: node.threshold,
            left,
        });
        collect_rules(tree, counts, encoder, child as usize, path, rules);
        path.pop();
    }
}

/// What the path says about one input column, merged over its steps.
#[derive(Default)]
struct Bounds {
    /// raw value > lower
    lower: Option<f64>,
    /// raw value ≤ upper
    upper: Option<f64>,
    equals: Option<String>,
    not_in: Vec<String>,
}

fn describe_path(path: &[Step], encoder: &FeatureEncoder) -> Vec<String> {
    let mut order: Vec<usize> = Vec::new();
    let mut bounds: Vec<Bounds> = Vec::new();
    for step in path {
        let feature = &encoder.features[step.feature];
        let slot = match order.iter().position(|&i| i == feature.input) {
            Some(s) => s,
            None => {
                order.push(feature.input);
                bounds.push(Bounds::default());
                order.len() - 1
            }
        };
        let b = &mut bounds[slot];
        match (&feature.category, &encoder.inputs[feature.input].encoding) {
            (Some(category), _) if step.left => b.not_in.push(category.clone()),
            (Some(category), _) => b.equals = Some(category.clone()),
            (None, encoding @ Encoding::Numeric { .. }) => {
                let raw = encoding.unstandardize(step.threshold);
                if step.left {
                    b.upper = Some(b.upper.map_or(raw, |u| u.min(raw)));
                } else {
                    b.lower = Some(b.lower.map_or(raw, |l| l.max(raw)));
                }
            }
            (None, _) => {}
        }
    }
    order
        .iter()
        .zip(&bounds)
        .map(|(&input, b)| describe_input(encoder, input, b))
        .collect()
}

fn describe_input(encoder: &FeatureEncoder, input: usize, b: &Bounds) -> String {
    let column = &encoder.inputs[input];
    let name = &column.name;
    if let Some(category) = &b.equals {
        return format!("{name} = {category}");
    }
    if let Encoding::OneHot { categories, other } = &column.encoding {
        // Ruling out every category but one reads better as that one.
        let left: Vec<&String> = categories
            .iter()
            .filter(|c| !b.not_in.contains(c))
            .collect();
        if other.is_empty() && !b.not_in.is_empty() && left.len() == 1 {
            return format!("{name} = {}", left[0]);
        }
    }
    if !b.not_in.is_empty() {
        return match b.not_in.as_slice() {
            [one] => format!("{name} ≠ {one}"),
            many => format!("{name} not in {{{}}}", many.join(", ")),
        };
    }
    if matches!(column.encoding, Encoding::Numeric { binary: true, .. }) {
        let yes = b.lower.is_some_and(|l| l >= 0.0 - 1e-9);
        return format!("{name} = {}", if yes { "yes" } else { "no" });
    }
    match (b.lower, b.upper) {
        // Cuts lie midway between training values, so no customer sits on one.
        (Some(l), Some(u)) => format!("{} < {name} < {}", short(l), short(u)),
        (Some(l), None) => format!("{name} > {}", short(l)),
        (None, Some(u)) => format!("{name} < {}", short(u)),
        (None, None) => name.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{Column, ColumnData, DataQuality, Table};
    use crate::features::EncoderParams;

    fn table() -> (Table, Vec<bool>) {
        let n = 400;
        let tenure: Vec<Option<f64>> = (0..n).map(|i| Some((i % 40) as f64)).collect();
        let contract: Vec<Option<crate::data::Text>> = (0..n)
            .map(|i| Some(if i % 3 == 0 { "Two year" } else { "Monthly" }.into()))
            .collect();
        let y: Vec<bool> = (0..n).map(|i| i % 3 != 0 && i % 40 < 10).collect();
        let table = Table {
            source: "t".into(),
            sha256: String::new(),
            ids: (0..n).map(|i| i.to_string()).collect(),
            lines: (0..n as u64).collect(),
            columns: vec![
                Column {
                    name: "tenure".into(),
                    data: ColumnData::Numeric(tenure),
                },
                Column {
                    name: "contract".into(),
                    data: ColumnData::Categorical(contract),
                },
            ],
            quality: DataQuality::default(),
        };
        (table, y)
    }

    #[test]
    fn rules_read_in_raw_units_and_cover_everyone() {
        let (table, y) = table();
        let encoder = FeatureEncoder::fit(&table, &[], &EncoderParams::default());
        let rows = encoder.encode_table(&table);
        let x = crate::train::to_matrix(&rows, encoder.n_features());
        let tree = ReadableTree::fit(x.view(), &y, &encoder, 3, 10);
        let text = tree.to_text();
        assert!(text.contains("tenure < 9.5"), "{text}");
        assert!(text.contains("contract"), "{text}");
        let covered: usize = tree.rules.iter().map(|r| r.customers).sum();
        assert_eq!(covered, 400);
        assert_eq!(tree.rules[0].churn_rate, 1.0, "{text}");
    }

    #[test]
    fn thresholds_on_log_scaled_columns_read_in_raw_units() {
        // Spend is skewed (a few huge accounts), so the encoder models it as ln(1 + x);
        // customers spending under 30 churn.
        let n = 500;
        let spend: Vec<Option<f64>> = (0..n)
            .map(|i| {
                Some(if i % 50 < 45 {
                    (i % 45) as f64 * 2.0
                } else {
                    1e5 + i as f64
                })
            })
            .collect();
        let y: Vec<bool> = spend.iter().map(|s| s.unwrap() < 30.0).collect();
        let table = Table {
            source: "t".into(),
            sha256: String::new(),
            ids: (0..n).map(|i| i.to_string()).collect(),
            lines: (0..n as u64).collect(),
            columns: vec![Column {
                name: "spend".into(),
                data: ColumnData::Numeric(spend),
            }],
            quality: DataQuality::default(),
        };
        let encoder = FeatureEncoder::fit(&table, &[], &EncoderParams::default());
        assert!(matches!(
            encoder.inputs[0].encoding,
            crate::features::Encoding::Numeric { log: true, .. }
        ));
        let x = crate::train::to_matrix(&encoder.encode_table(&table), encoder.n_features());
        let text = ReadableTree::fit(x.view(), &y, &encoder, 1, 10).to_text();
        let cut: f64 = text
            .split("spend < ")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no `spend <` rule in {text}"));
        // The split lies between 28 and 30 in raw units (not in log-standardised ones).
        assert!((28.0..30.0).contains(&cut), "{text}");
    }
}
