//! Several yes/no targets in one bundle (churn, upgrade, response, …). The attrition
//! target is the one lifetime value uses and the `retention` answer shows (retention.json);
//! every other target gets its own candidates, cross-validation, calibration, reasons and
//! readable tree, fitted on the bundle's one encoder and feature matrix. A target derived
//! from some columns must not see them: its excluded inputs are left out of its folds'
//! encoders and held constant in its final fit, so no split or weight can use them.

use crate::config::{ConfigError, Label};
use crate::features::FeatureEncoder;
use crate::models::classifier::{
    cv, fit_retention, ChurnModel, RetentionError, RetentionFit, RetentionInputs, RetentionMetrics,
    RetentionModel, RetentionParams,
};
use crate::models::tree::ReadableTree;
use ndarray::{Array2, ArrayView2, Axis};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::collections::BTreeMap;

/// The `[targets]` config table.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TargetsConfig {
    /// `COLUMN=VALUE` per target (the column names the target), besides `[data] label`.
    pub labels: Vec<String>,
    /// The target lifetime value and the `retention` answer use (default: the one named
    /// `churn`, else the first).
    pub attrition: Option<String>,
    /// Per target, input columns its model may not use (the columns it was derived from).
    pub exclude: BTreeMap<String, Vec<String>>,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TargetPlanError {
    #[error("target `{0}` is named twice (--label / [targets] labels)")]
    Duplicate(String),
    #[error("--attrition {0}: not one of the targets ({1})")]
    UnknownAttrition(String, String),
    #[error("[targets] exclude names `{0}`, which is not a target ({1})")]
    UnknownExclude(String, String),
    #[error("target `{0}`: a target other than the attrition one needs a name of letters, digits and '_' (its file and CSV columns are named after it)")]
    BadName(String),
    #[error("--target-exclude {0:?}: expected TARGET=COL,COL, e.g. upgraded=internet_service")]
    BadExclude(String),
    #[error("target `{0}`: only the attrition target may be named `churn` (its answer is the churn_probability column); pass --attrition churn")]
    ChurnNotAttrition(String),
}

/// One target as the manifest records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetSpec {
    pub name: String,
    pub label: Label,
    /// The target lifetime value uses (its model is retention.json).
    #[serde(default)]
    pub attrition: bool,
    /// Input columns this target's model may not use.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub excluded: Vec<String>,
}

/// Every target of a training run; exactly one is the attrition target.
#[derive(Debug, Clone, PartialEq)]
pub struct TargetPlan {
    pub targets: Vec<TargetSpec>,
}

impl TargetPlan {
    /// Targets from `[data] label` (first) and `[targets] labels`; none without labels.
    pub fn new(data_label: Option<&str>, config: &TargetsConfig) -> Result<Self, ConfigError> {
        let mut targets: Vec<TargetSpec> = Vec::new();
        for text in data_label
            .into_iter()
            .chain(config.labels.iter().map(String::as_str))
        {
            let label: Label = text.parse()?;
            let name = label.column.clone();
            if targets.iter().any(|t| t.name == name) {
                if data_label.is_some_and(|d| d == text) {
                    continue; // the same label in [data] and [targets]
                }
                return Err(TargetPlanError::Duplicate(name).into());
            }
            let excluded = config.exclude.get(&name).cloned().unwrap_or_default();
            targets.push(TargetSpec {
                name,
                label,
                attrition: false,
                excluded,
            });
        }
        let names = || {
            targets
                .iter()
                .map(|t| t.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        if let Some(unknown) = config
            .exclude
            .keys()
            .find(|k| !targets.iter().any(|t| &t.name == *k))
        {
            return Err(TargetPlanError::UnknownExclude(unknown.clone(), names()).into());
        }
        if targets.is_empty() {
            return Ok(TargetPlan { targets });
        }
        let attrition = match &config.attrition {
            Some(name) => targets
                .iter()
                .position(|t| &t.name == name)
                .ok_or_else(|| TargetPlanError::UnknownAttrition(name.clone(), names()))?,
            None => targets.iter().position(|t| t.name == "churn").unwrap_or(0),
        };
        targets[attrition].attrition = true;
        for t in targets.iter().filter(|t| !t.attrition) {
            if t.name == "churn" {
                return Err(TargetPlanError::ChurnNotAttrition(t.name.clone()).into());
            }
            if !is_target_name(&t.name) {
                return Err(TargetPlanError::BadName(t.name.clone()).into());
            }
        }
        Ok(TargetPlan { targets })
    }

    pub fn attrition(&self) -> Option<&TargetSpec> {
        self.targets.iter().find(|t| t.attrition)
    }

    /// The targets other than the attrition one, in the order given.
    pub fn others(&self) -> impl Iterator<Item = &TargetSpec> {
        self.targets.iter().filter(|t| !t.attrition)
    }
}

/// `train --label` (repeatable), `--attrition` and `--target-exclude` over the config:
/// one `--label` replaces the config's labels as it always did; several become the targets.
pub fn apply_flags(
    config: &mut crate::config::TrainConfig,
    labels: &[String],
    attrition: &Option<String>,
    exclude: &[String],
) -> Result<(), ConfigError> {
    match labels {
        [] => {}
        [one] => {
            config.data.label = Some(one.clone());
            config.targets.labels.clear();
        }
        many => {
            config.data.label = None;
            config.targets.labels = many.to_vec();
        }
    }
    if attrition.is_some() {
        config.targets.attrition.clone_from(attrition);
    }
    for text in exclude {
        let (target, columns) = text
            .split_once('=')
            .filter(|(t, c)| !t.trim().is_empty() && !c.trim().is_empty())
            .ok_or_else(|| TargetPlanError::BadExclude(text.clone()))?;
        let columns = columns.split(',').map(|c| c.trim().to_string());
        (config.targets.exclude)
            .entry(target.trim().to_string())
            .or_default()
            .extend(columns);
    }
    Ok(())
}

/// Letters, digits and `_`: safe as a file name part and a CSV column prefix.
pub fn is_target_name(name: &str) -> bool {
    !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The bundle file of a target other than the attrition one.
pub fn target_file(name: &str) -> String {
    format!("target.{name}.json")
}

/// A target other than the attrition one: its model (no lifetime value) and readable tree.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetModel {
    pub name: String,
    pub model: RetentionModel,
    pub tree: ReadableTree,
}

/// What the manifest records about a target other than the attrition one.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TargetMetrics {
    pub fit: RetentionMetrics,
    /// The input that alone separates the target best, and its AUC (a value near 1 means
    /// the input carries the target: a leak).
    pub strongest_input: Option<String>,
    pub strongest_input_auc: Option<f64>,
}

#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    #[error("target `{target}`")]
    Fit {
        target: String,
        source: RetentionError,
    },
    #[error("target `{target}`: input `{column}` alone separates it with AUC {auc:.4} (at or above {bound}): it carries the target; exclude it with [targets] exclude or --target-exclude {target}={column}")]
    Leak {
        target: String,
        column: String,
        auc: f64,
        bound: f64,
    },
    #[error("target `{target}`: excluded column `{column}` is not an input column")]
    UnknownExcluded { target: String, column: String },
}

/// An input column and the AUC it reaches alone.
pub type InputAuc = (String, f64);

/// A single input with a holdout AUC at or above this carries the target (the gate's
/// leak bound).
pub const LEAK_AUC: f64 = 0.99;

/// Fit `spec`'s model on `inputs` (whose `churned` holds this target's labels) with its
/// excluded inputs held out; the strongest single input is measured first and a leak
/// refused.
pub fn fit_target(
    spec: &TargetSpec,
    inputs: &RetentionInputs,
    params: &RetentionParams,
) -> Result<(RetentionFit, Option<InputAuc>), TargetError> {
    let encoder = inputs.encoder;
    let mut excluded_inputs = Vec::new();
    for column in &spec.excluded {
        let at = encoder
            .input_index(column)
            .ok_or_else(|| TargetError::UnknownExcluded {
                target: spec.name.clone(),
                column: column.clone(),
            })?;
        excluded_inputs.push(at);
    }
    let x = without_inputs(inputs.x, encoder, &excluded_inputs);
    let (labeled, y) = crate::models::classifier::cv::labelled(inputs.churned);
    let strongest = strongest_input(
        x.select(Axis(0), &labeled).view(),
        &y,
        encoder,
        &excluded_inputs,
    );
    if let Some((column, auc)) = strongest.clone().filter(|(_, auc)| *auc >= LEAK_AUC) {
        return Err(TargetError::Leak {
            target: spec.name.clone(),
            column,
            auc,
            bound: LEAK_AUC,
        });
    }
    let mut ignore = inputs.ignore.to_vec();
    ignore.extend(
        spec.excluded
            .iter()
            .map(|c| (c.clone(), format!("excluded from target {}", spec.name))),
    );
    let masked = RetentionInputs {
        x: &x,
        ignore: &ignore,
        ..*inputs
    };
    let mut fit = fit_retention(&masked, params).map_err(|source| TargetError::Fit {
        target: spec.name.clone(),
        source,
    })?;
    zero_excluded_weights(&mut fit.model.model, encoder, &excluded_inputs);
    Ok((fit, strongest))
}

/// `x` with the features of `inputs` set to 0: constant, so no tree splits on them and
/// no penalised weight grows on them. Borrowed when nothing is held out, so a target
/// without exclusions copies no matrix.
pub fn without_inputs<'x>(
    x: &'x Array2<f64>,
    encoder: &FeatureEncoder,
    inputs: &[usize],
) -> Cow<'x, Array2<f64>> {
    if inputs.is_empty() {
        return Cow::Borrowed(x);
    }
    let mut x = x.clone();
    zero_inputs(&mut x, encoder, inputs);
    Cow::Owned(x)
}

/// [`without_inputs`] in place, for a matrix no one else reads as it was.
pub fn zero_inputs(x: &mut Array2<f64>, encoder: &FeatureEncoder, inputs: &[usize]) {
    for (j, feature) in encoder.features.iter().enumerate() {
        if inputs.contains(&feature.input) {
            x.column_mut(j).fill(0.0);
        }
    }
}

/// A logistic weight on an all-zero column stays 0 in exact arithmetic; make it exact,
/// so scoring never reads the excluded inputs.
fn zero_excluded_weights(model: &mut ChurnModel, encoder: &FeatureEncoder, inputs: &[usize]) {
    if let ChurnModel::Logistic(m) = model {
        for (j, feature) in encoder.features.iter().enumerate() {
            if inputs.contains(&feature.input) {
                if let Some(w) = m.weights.get_mut(j) {
                    *w = 0.0;
                }
            }
        }
    }
}

/// Whether `model` reads any feature of `inputs` (a non-zero weight or a split on it).
pub fn uses_inputs(model: &ChurnModel, encoder: &FeatureEncoder, inputs: &[usize]) -> bool {
    let excluded = |j: usize| {
        encoder
            .features
            .get(j)
            .is_some_and(|f| inputs.contains(&f.input))
    };
    let splits = |tree: &crate::models::classifier::flat_tree::FlatTree| {
        tree.nodes
            .iter()
            .any(|n| !n.is_leaf() && excluded(n.feature as usize))
    };
    match model {
        ChurnModel::Logistic(m) => m
            .weights
            .iter()
            .enumerate()
            .any(|(j, &w)| w != 0.0 && excluded(j)),
        ChurnModel::DecisionTree { tree } => splits(tree),
        ChurnModel::Gbm(m) => m.trees().iter().any(splits),
    }
}

/// The input that alone ranks the labelled rows best, and its AUC (0.5 … 1, whichever
/// direction): a numeric input by its value, a one-hot input by its category's rate of
/// positives. `x` holds the labelled rows.
pub fn strongest_input(
    x: ArrayView2<f64>,
    y: &[bool],
    encoder: &FeatureEncoder,
    skip: &[usize],
) -> Option<InputAuc> {
    let mut best: Option<InputAuc> = None;
    for (input, column) in encoder.inputs.iter().enumerate() {
        if skip.contains(&input) {
            continue;
        }
        let features: Vec<usize> = (encoder.features.iter().enumerate())
            .filter(|(_, f)| f.input == input)
            .map(|(j, _)| j)
            .collect();
        let score: Vec<f64> = match features.as_slice() {
            [] => continue,
            [j] => x.column(*j).to_vec(),
            block => category_rates(x, y, block),
        };
        let auc = cv::auc(y, &score);
        let auc = auc.max(1.0 - auc);
        if best.as_ref().is_none_or(|(_, b)| auc > *b) {
            best = Some((column.name.clone(), auc));
        }
    }
    best
}

/// Each row's rate of positives among the rows with the same hot feature in `block`.
fn category_rates(x: ArrayView2<f64>, y: &[bool], block: &[usize]) -> Vec<f64> {
    let hot: Vec<usize> = x
        .axis_iter(Axis(0))
        .map(|row| {
            (0..block.len())
                .max_by(|&a, &b| row[block[a]].total_cmp(&row[block[b]]))
                .unwrap_or(0)
        })
        .collect();
    let mut counts = vec![(0usize, 0usize); block.len()];
    for (&h, &positive) in hot.iter().zip(y) {
        counts[h].0 += positive as usize;
        counts[h].1 += 1;
    }
    hot.iter()
        .map(|&h| counts[h].0 as f64 / counts[h].1.max(1) as f64)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(labels: &[&str]) -> TargetsConfig {
        TargetsConfig {
            labels: labels.iter().map(|s| s.to_string()).collect(),
            ..TargetsConfig::default()
        }
    }

    #[test]
    fn churn_is_the_attrition_target_unless_named() {
        let plan = TargetPlan::new(None, &config(&["upgraded=Yes", "churn=Yes"])).unwrap();
        assert_eq!(plan.attrition().unwrap().name, "churn");
        let names: Vec<&str> = plan.others().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["upgraded"]);
        let plan = TargetPlan::new(Some("left=1"), &config(&["upgraded=Yes"])).unwrap();
        assert_eq!(plan.attrition().unwrap().name, "left");
        let mut c = config(&["churn=Yes", "upgraded=Yes"]);
        c.attrition = Some("upgraded".into());
        let err = TargetPlan::new(None, &c).unwrap_err().to_string();
        assert!(err.contains("attrition churn"), "{err}");
    }

    #[test]
    fn plans_are_checked() {
        let err = |data: Option<&str>, c: TargetsConfig| {
            TargetPlan::new(data, &c).unwrap_err().to_string()
        };
        assert!(err(Some("a=1"), config(&["a=2"])).contains("named twice"));
        assert!(err(None, config(&["churn=Yes", "up grade=1"])).contains("letters, digits"));
        let mut c = config(&["churn=Yes"]);
        c.attrition = Some("nope".into());
        assert!(err(None, c).contains("--attrition nope"));
        let mut c = config(&["churn=Yes"]);
        c.exclude.insert("upgraded".into(), vec!["x".into()]);
        assert!(err(None, c).contains("not a target"));
        assert!(err(None, config(&["churn"])).contains("COLUMN=VALUE"));
        // The same label in [data] and [targets] is one target.
        let plan = TargetPlan::new(Some("churn=Yes"), &config(&["churn=Yes"])).unwrap();
        assert_eq!(plan.targets.len(), 1);
        assert!(TargetPlan::new(None, &TargetsConfig::default())
            .unwrap()
            .targets
            .is_empty());
    }
}

#[cfg(test)]
mod fitted {
    use crate::features::Value;
    use crate::score::Scorer;
    use std::borrow::Cow;

    /// Three targets from the derived telco fixture, with the columns each was derived
    /// from excluded.
    fn scorer() -> Scorer {
        let mut config = crate::config::TrainConfig::default();
        config.data.customers = Some(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures/telco_targets_400.csv"),
        );
        config.data.id = Some("customer_id".into());
        config.segments.k = Some(3);
        config.targets.labels = ["churn=Yes", "upgraded=Yes", "autopay=Yes"]
            .map(String::from)
            .to_vec();
        config.targets.exclude.insert(
            "upgraded".into(),
            ["internet_service", "monthly_charges", "total_charges"]
                .map(String::from)
                .to_vec(),
        );
        config
            .targets
            .exclude
            .insert("autopay".into(), vec!["payment_method".into()]);
        let bundle = crate::train::train(&config, &crate::progress::Progress::silent()).unwrap();
        Scorer::new(bundle)
    }

    fn answer(scorer: &Scorer, set: &[(&str, Value<'static>)]) -> crate::score::Answer {
        let values = scorer
            .input_names()
            .map(|name| {
                set.iter()
                    .find(|(n, _)| *n == name)
                    .map_or(Value::Missing, |(_, v)| v.clone())
            })
            .collect();
        scorer.score(Cow::Borrowed("x"), values).unwrap()
    }

    #[test]
    fn excluded_inputs_never_move_their_target() {
        let scorer = scorer();
        let text = |s: &'static str| Value::Text(Cow::Borrowed(s));
        let record = |internet, monthly, payment| {
            let set = [
                ("tenure", Value::Number(5.0)),
                ("contract", text("Month-to-month")),
                ("internet_service", text(internet)),
                ("monthly_charges", Value::Number(monthly)),
                ("total_charges", Value::Number(5.0 * monthly)),
                ("payment_method", text(payment)),
            ];
            answer(&scorer, &set)
        };
        let p = |x: &crate::score::Answer, t: &str| x.propensity(t).unwrap().probability;
        let dsl = record("DSL", 30.0, "Mailed check");
        let fiber = record("Fiber optic", 105.0, "Mailed check");
        let card = record("DSL", 30.0, "Credit card (automatic)");
        assert_eq!(p(&dsl, "upgraded"), p(&fiber, "upgraded"));
        assert_ne!(p(&dsl, "churn"), p(&fiber, "churn"), "churn does read them");
        assert_eq!(p(&dsl, "autopay"), p(&card, "autopay"));
        assert_eq!(
            p(&dsl, "churn"),
            dsl.retention.as_ref().unwrap().probability
        );
        let names: Vec<&String> = dsl.propensities.keys().collect();
        assert_eq!(names, ["autopay", "churn", "upgraded"]);
    }
}
