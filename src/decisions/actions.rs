//! The actions a marketer can take, as configured in TOML (`--actions FILE`):
//!
//! ```toml
//! [[actions]]
//! name = "retention_call"
//! kind = "retention"          # retention | cross_sell | nothing
//! target = "churn"            # the propensity the action acts on (default churn)
//! cost = 25                   # per contact
//! save_rate = 0.3             # share of would-be leavers the offer keeps
//! campaign = "spring"         # where the bundle's uplift model was taught by this
//!                             # campaign, the uplift replaces P(target) × save_rate
//! value_column = "total_charges"  # value at stake when the bundle has no CLV
//! min_probability = 0.2       # eligibility
//!
//! [[actions]]
//! name = "cross_sell"
//! kind = "cross_sell"
//! cost = 3
//! margin = 40                 # per product sold, unless `margins` names the product
//! margins = { streaming_tv = 60 }
//!
//! [[actions]]
//! name = "nothing"
//! kind = "nothing"
//! ```
//!
//! Parsed once into checked [`Action`]s; everything after loading trusts them. The same
//! tables may sit in the training config (or come from `train --actions FILE`): the bundle
//! then keeps them in `actions.json`, checked again on load.

use crate::models::targets::is_target_name;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The default propensity a retention action acts on.
pub const DEFAULT_TARGET: &str = "churn";

#[derive(Debug, thiserror::Error)]
pub enum ActionsError {
    #[error("{}: cannot read", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: {message}", path.display())]
    Parse { path: PathBuf, message: String },
    #[error("{}: action `{action}`, `{field}`: {message}", path.display())]
    Invalid {
        path: PathBuf,
        action: String,
        field: &'static str,
        message: String,
    },
    #[error("{}: {message}", path.display())]
    Empty { path: PathBuf, message: String },
    #[error("no action named `{name}` (the actions file has: {known})")]
    UnknownAction { name: String, known: String },
    #[error("action `{action}`: bundle {version} has no target `{target}` (train it with --label {target}=VALUE)")]
    UnknownTarget {
        action: String,
        target: String,
        version: String,
    },
    #[error("action `{action}`: `{column}` is not a numeric input column of bundle {version} (numeric inputs: {inputs})")]
    UnknownColumn {
        action: String,
        column: String,
        version: String,
        inputs: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Kind {
    Retention,
    CrossSell,
    Nothing,
}

/// One `[[actions]]` table as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActionSpec {
    name: String,
    kind: Kind,
    target: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    campaign: Option<String>,
    #[serde(default)]
    cost: f64,
    cost_column: Option<String>,
    cost_per_unit: Option<f64>,
    save_rate: Option<f64>,
    value_column: Option<String>,
    value_default: Option<f64>,
    margin: Option<f64>,
    #[serde(default)]
    margins: BTreeMap<String, f64>,
    product: Option<String>,
    #[serde(default)]
    min_probability: f64,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActionsFile {
    #[serde(default)]
    actions: Vec<ActionSpec>,
}

/// The file name the bundle keeps its actions in (named in errors about them).
pub const BUNDLE_FILE: &str = "actions.json";

impl TryFrom<ActionsFile> for ActionSet {
    type Error = ActionsError;
    fn try_from(file: ActionsFile) -> Result<Self, Self::Error> {
        ActionSet::from_specs(file.actions, Path::new(BUNDLE_FILE))
    }
}

impl From<ActionSet> for ActionsFile {
    fn from(set: ActionSet) -> Self {
        ActionsFile { actions: set.specs }
    }
}

/// What the customer is worth to keep: the bundle's CLV when it has one, else a column of
/// the record, else a fixed amount.
#[derive(Debug, Clone, PartialEq)]
pub struct Stake {
    pub column: Option<String>,
    pub default: Option<f64>,
}

/// What an action does, and the figures its expected value needs.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    Retention {
        target: String,
        save_rate: f64,
        stake: Stake,
        /// The campaign whose uplift model, when the bundle has it, says how likely the
        /// contact is to work.
        campaign: Option<String>,
    },
    CrossSell {
        /// Only this product (any product the customer is offered when absent).
        product: Option<String>,
        margin: Option<f64>,
        margins: BTreeMap<String, f64>,
    },
    Nothing,
}

/// Cost of one contact: a fixed part plus, optionally, a rate times a column of the
/// record (e.g. a discount of 1.2 × the monthly charge).
#[derive(Debug, Clone, PartialEq)]
pub struct Cost {
    pub fixed: f64,
    pub per_unit: Option<(String, f64)>,
}

/// A checked action.
#[derive(Debug, Clone, PartialEq)]
pub struct Action {
    pub name: String,
    pub cost: Cost,
    /// Below this probability the customer is not eligible.
    pub min_probability: f64,
    pub effect: Effect,
    /// Set when the scoring bundle's uplift model was taught by the action's campaign:
    /// its uplift is then the probability the action works.
    pub uplift_campaign: Option<String>,
}

impl Action {
    /// Record columns this action reads (checked against the bundle's inputs).
    pub fn columns(&self) -> impl Iterator<Item = &str> {
        let stake = match &self.effect {
            Effect::Retention { stake, .. } => stake.column.as_deref(),
            _ => None,
        };
        let cost = self.cost.per_unit.as_ref().map(|(c, _)| c.as_str());
        stake.into_iter().chain(cost)
    }

    /// `retention`, `cross_sell` or `nothing`, as the file says.
    pub fn kind_name(&self) -> &'static str {
        match self.effect {
            Effect::Retention { .. } => "retention",
            Effect::CrossSell { .. } => "cross_sell",
            Effect::Nothing => "nothing",
        }
    }

    /// The target whose probability this action acts on (retention actions).
    pub fn target(&self) -> Option<&str> {
        match &self.effect {
            Effect::Retention { target, .. } => Some(target),
            _ => None,
        }
    }
}

/// The configured actions, in file order (ties in expected value go to the earlier one).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "ActionsFile", into = "ActionsFile")]
pub struct ActionSet {
    pub actions: Vec<Action>,
    /// The tables as written, kept for the bundle.
    specs: Vec<ActionSpec>,
}

impl ActionSet {
    pub fn load(path: &Path) -> Result<Self, ActionsError> {
        let text = std::fs::read_to_string(path).map_err(|source| ActionsError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&text, path)
    }

    /// Parse and check the TOML text of an actions file (`path` names it in errors).
    pub fn parse(text: &str, path: &Path) -> Result<Self, ActionsError> {
        let file: ActionsFile = toml::from_str(text).map_err(|e| ActionsError::Parse {
            path: path.to_path_buf(),
            message: e.to_string().trim_end().replace('\n', " "),
        })?;
        Self::from_specs(file.actions, path)
    }

    /// Check `[[actions]]` tables already read (`path` names their file in errors).
    pub fn from_specs(specs: Vec<ActionSpec>, path: &Path) -> Result<Self, ActionsError> {
        if specs.is_empty() {
            return Err(ActionsError::Empty {
                path: path.to_path_buf(),
                message: "no [[actions]] table: configure at least one action".into(),
            });
        }
        let mut actions: Vec<Action> = Vec::with_capacity(specs.len());
        for spec in &specs {
            let invalid = |field, message: String| ActionsError::Invalid {
                path: path.to_path_buf(),
                action: spec.name.clone(),
                field,
                message,
            };
            if actions.iter().any(|a| a.name == spec.name) {
                return Err(invalid("name", "two actions have this name".into()));
            }
            actions.push(check(spec).map_err(|(field, message)| invalid(field, message))?);
        }
        Ok(ActionSet { actions, specs })
    }

    pub fn get(&self, name: &str) -> Result<&Action, ActionsError> {
        self.actions
            .iter()
            .find(|a| a.name == name)
            .ok_or_else(|| ActionsError::UnknownAction {
                name: name.to_string(),
                known: self.names().join(", "),
            })
    }

    /// The tables as written.
    pub fn specs(&self) -> &[ActionSpec] {
        &self.specs
    }

    pub fn names(&self) -> Vec<&str> {
        self.actions.iter().map(|a| a.name.as_str()).collect()
    }
}

type Problem = (&'static str, String);

fn check(spec: &ActionSpec) -> Result<Action, Problem> {
    if spec.name.trim().is_empty() {
        return Err(("name", "must not be blank".into()));
    }
    non_negative("cost", spec.cost)?;
    if !(0.0..=1.0).contains(&spec.min_probability) {
        return Err(("min_probability", "must be from 0 to 1".into()));
    }
    let cost = Cost {
        fixed: spec.cost,
        per_unit: match (&spec.cost_column, spec.cost_per_unit) {
            (None, None) => None,
            (Some(column), Some(rate)) => {
                Some((column.clone(), non_negative("cost_per_unit", rate)?))
            }
            (Some(_), None) => return Err(("cost_per_unit", "needed with cost_column".into())),
            (None, Some(_)) => return Err(("cost_column", "needed with cost_per_unit".into())),
        },
    };
    let effect = match spec.kind {
        Kind::Retention => retention(spec)?,
        Kind::CrossSell => cross_sell(spec)?,
        Kind::Nothing => {
            refuse_fields(
                spec,
                &[
                    "target",
                    "save_rate",
                    "value_column",
                    "value_default",
                    "margin",
                    "margins",
                    "product",
                    "cost_column",
                    "campaign",
                ],
            )?;
            if spec.cost != 0.0 {
                return Err(("cost", "doing nothing costs nothing: leave cost out".into()));
            }
            Effect::Nothing
        }
    };
    Ok(Action {
        name: spec.name.clone(),
        cost,
        min_probability: spec.min_probability,
        effect,
        uplift_campaign: None,
    })
}

fn retention(spec: &ActionSpec) -> Result<Effect, Problem> {
    refuse_fields(spec, &["margin", "margins", "product"])?;
    let target = spec.target.clone().unwrap_or_else(|| DEFAULT_TARGET.into());
    if !is_target_name(&target) {
        return Err((
            "target",
            format!("`{target}` is not a target name (letters, digits and '_')"),
        ));
    }
    let save_rate = match spec.save_rate {
        Some(rate) if rate > 0.0 && rate <= 1.0 => rate,
        Some(_) => return Err(("save_rate", "must be above 0 and at most 1".into())),
        None => return Err(("save_rate", "a retention action needs its save rate".into())),
    };
    if let Some(default) = spec.value_default {
        non_negative("value_default", default)?;
    }
    if spec
        .campaign
        .as_deref()
        .is_some_and(|c| c.trim().is_empty())
    {
        return Err(("campaign", "must not be blank".into()));
    }
    Ok(Effect::Retention {
        target,
        save_rate,
        stake: Stake {
            column: spec.value_column.clone(),
            default: spec.value_default,
        },
        campaign: spec.campaign.clone(),
    })
}

fn cross_sell(spec: &ActionSpec) -> Result<Effect, Problem> {
    refuse_fields(
        spec,
        &[
            "target",
            "save_rate",
            "value_column",
            "value_default",
            "campaign",
        ],
    )?;
    if let Some(margin) = spec.margin {
        non_negative("margin", margin)?;
    }
    for margin in spec.margins.values() {
        non_negative("margins", *margin)?;
    }
    let priced = |p: &str| spec.margin.is_some() || spec.margins.contains_key(p);
    match &spec.product {
        Some(p) if !priced(p) => {
            return Err(("margin", format!("no margin for product `{p}`")));
        }
        None if spec.margin.is_none() && spec.margins.is_empty() => {
            return Err((
                "margin",
                "a cross-sell action needs `margin` or `margins`".into(),
            ));
        }
        _ => {}
    }
    Ok(Effect::CrossSell {
        product: spec.product.clone(),
        margin: spec.margin,
        margins: spec.margins.clone(),
    })
}

fn non_negative(field: &'static str, x: f64) -> Result<f64, Problem> {
    match x.is_finite() && x >= 0.0 {
        true => Ok(x),
        false => Err((field, format!("{x} must be a finite amount of at least 0"))),
    }
}

/// Fields that mean nothing for this kind of action are refused rather than ignored.
fn refuse_fields(spec: &ActionSpec, fields: &[&'static str]) -> Result<(), Problem> {
    for &field in fields {
        let set = match field {
            "target" => spec.target.is_some(),
            "save_rate" => spec.save_rate.is_some(),
            "value_column" => spec.value_column.is_some(),
            "value_default" => spec.value_default.is_some(),
            "margin" => spec.margin.is_some(),
            "margins" => !spec.margins.is_empty(),
            "product" => spec.product.is_some(),
            "cost_column" => spec.cost_column.is_some(),
            "campaign" => spec.campaign.is_some(),
            _ => false,
        };
        if set {
            return Err((
                field,
                format!("does not apply to a `{:?}` action", spec.kind).to_lowercase(),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<ActionSet, ActionsError> {
        ActionSet::parse(text, Path::new("actions.toml"))
    }

    const GOOD: &str = r#"
        [[actions]]
        name = "call"
        kind = "retention"
        cost = 25
        save_rate = 0.3
        value_column = "total_charges"

        [[actions]]
        name = "offer"
        kind = "cross_sell"
        cost = 2
        margins = { streaming_tv = 60 }

        [[actions]]
        name = "nothing"
        kind = "nothing"
    "#;

    #[test]
    fn a_good_file_keeps_its_order_and_defaults() {
        let set = parse(GOOD).unwrap();
        assert_eq!(set.names(), ["call", "offer", "nothing"]);
        let Effect::Retention {
            target,
            save_rate,
            stake,
            ..
        } = &set.actions[0].effect
        else {
            panic!("retention expected");
        };
        assert_eq!((target.as_str(), *save_rate), ("churn", 0.3));
        assert_eq!(stake.column.as_deref(), Some("total_charges"));
        assert_eq!(
            set.actions[0].columns().collect::<Vec<_>>(),
            ["total_charges"]
        );
    }

    fn message(text: &str) -> String {
        parse(text).unwrap_err().to_string()
    }

    #[test]
    fn a_retention_action_needs_a_save_rate_in_range() {
        let base = "[[actions]]\nname = \"call\"\nkind = \"retention\"\n";
        assert!(message(base).contains("`save_rate`: a retention action needs"));
        let high = format!("{base}save_rate = 1.5\n");
        assert!(message(&high).contains("action `call`, `save_rate`: must be above 0"));
    }

    #[test]
    fn mistakes_name_the_file_action_and_field() {
        let negative =
            "[[actions]]\nname = \"x\"\nkind = \"retention\"\nsave_rate = 0.2\ncost = -1\n";
        assert_eq!(
            message(negative),
            "actions.toml: action `x`, `cost`: -1 must be a finite amount of at least 0"
        );
        let wrong_field =
            "[[actions]]\nname = \"x\"\nkind = \"cross_sell\"\nmargin = 3\nsave_rate = 0.2\n";
        assert!(
            message(wrong_field).contains("`save_rate`: does not apply to a `crosssell` action")
        );
        let unknown_target = "[[actions]]\nname = \"x\"\nkind = \"retention\"\nsave_rate = 0.2\ntarget = \"up-grade\"\n";
        assert!(message(unknown_target).contains("`up-grade` is not a target name"));
        let unpriced = "[[actions]]\nname = \"x\"\nkind = \"cross_sell\"\nproduct = \"tv\"\nmargins = { phone = 1 }\n";
        assert!(message(unpriced).contains("no margin for product `tv`"));
    }

    #[test]
    fn typos_duplicates_and_empty_files_are_refused() {
        assert!(
            message("[[actions]]\nname = \"x\"\nkind = \"nothing\"\nsavings = 1\n")
                .contains("unknown field `savings`")
        );
        assert!(message("[[actions]]\nname = \"x\"\nkind = \"gift\"\n")
            .contains("unknown variant `gift`"));
        let twice = "[[actions]]\nname = \"x\"\nkind = \"nothing\"\n[[actions]]\nname = \"x\"\nkind = \"nothing\"\n";
        assert!(message(twice).contains("two actions have this name"));
        assert!(message("").contains("no [[actions]] table"));
    }

    #[test]
    fn cost_per_unit_comes_with_its_column() {
        let text = "[[actions]]\nname = \"x\"\nkind = \"retention\"\nsave_rate = 0.2\ncost_per_unit = 1.2\n";
        assert!(message(text).contains("`cost_column`: needed with cost_per_unit"));
        let ok = format!("{text}cost_column = \"monthly_charges\"\n");
        let set = parse(&ok).unwrap();
        assert_eq!(
            set.actions[0].cost.per_unit,
            Some(("monthly_charges".into(), 1.2))
        );
    }

    #[test]
    fn the_bundle_form_round_trips_and_is_checked_again() {
        let set = parse(GOOD).unwrap();
        let json = serde_json::to_string(&set).unwrap();
        assert_eq!(serde_json::from_str::<ActionSet>(&json).unwrap(), set);
        let bad = json.replace("0.3", "1.5");
        let err = serde_json::from_str::<ActionSet>(&bad)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("actions.json: action `call`, `save_rate`"),
            "{err}"
        );
    }

    #[test]
    fn an_unknown_action_name_lists_the_known_ones() {
        let set = parse(GOOD).unwrap();
        assert_eq!(
            set.get("cal").unwrap_err().to_string(),
            "no action named `cal` (the actions file has: call, offer, nothing)"
        );
    }
}
