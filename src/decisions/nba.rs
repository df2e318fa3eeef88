//! Next best action: the expected value of every configured action for one customer,
//! ranked, each with its sum in words ("P(churn) 0.62 × save rate 0.3 × CLV 1,240 −
//! cost 25 = 206").
//!
//! Expected values:
//! - retention: P(target) × save rate × value at stake − cost, where the value at stake is
//!   the CLV when the bundle knows it, else the action's `value_column`, else its
//!   `value_default`; when the bundle's uplift model was taught by the action's campaign,
//!   uplift × value at stake − cost (the uplift is already the share the contact moves);
//! - cross-sell: the best offered product's propensity (its rule's confidence) × margin −
//!   cost;
//! - nothing: 0.

use super::actions::{Action, ActionSet, ActionsError, Effect};
use crate::bundle::Bundle;
use crate::features::{Encoding, Value};
use crate::numfmt;
use crate::score::{Answer, Scored, Scorer};
use serde::Serialize;
use std::borrow::Cow;

/// Target names that mean the bundle's attrition (churn) model.
const ATTRITION_TARGETS: [&str; 3] = ["churn", "attrition", "retention"];

/// Can an action name this target without knowing the bundle? The attrition target
/// answers to these names whatever it was called in training.
pub fn known_target(target: &str) -> bool {
    ATTRITION_TARGETS.contains(&target)
}

/// Is `target` one the bundle answers: an attrition alias, or a target it was trained for?
fn bundle_has_target(bundle: &Bundle, target: &str) -> bool {
    known_target(target) || (bundle.manifest.schema.targets.iter()).any(|t| t.name == target)
}

/// The campaign the bundle's uplift model was taught by, if it has one.
fn uplift_campaign(bundle: &Bundle) -> Option<&str> {
    bundle.uplift.as_ref()?;
    let campaign = bundle.manifest.training.campaign.as_ref()?;
    Some(campaign.campaign.as_str())
}

/// The one place a target's probability is read from an answer.
pub fn target_probability(answer: &Answer, target: &str) -> Option<f64> {
    match answer.propensity(target) {
        Some(p) => Some(p.probability),
        None if known_target(target) => answer.retention.as_ref().map(|r| r.probability),
        None => None,
    }
}

/// One eligible action's expected value for one customer.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct Choice {
    pub action: String,
    pub expected_value: f64,
    /// What one contact costs for this customer.
    pub cost: f64,
    /// The probability the action works (absent for doing nothing).
    pub probability: Option<f64>,
    /// The product offered, for a cross-sell action.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product: Option<String>,
    /// The sum, in words.
    pub reason: String,
}

/// An action the customer is not eligible for, and why.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct Ineligible {
    pub action: String,
    pub why: String,
}

/// Every action for one customer: eligible ones best first, then the others.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct NextBestAction {
    pub id: String,
    /// The action with the highest expected value (absent when none is eligible).
    pub best: Option<Choice>,
    pub ranked: Vec<Choice>,
    pub not_eligible: Vec<Ineligible>,
    pub model_version: String,
}

/// The actions, with the record columns they read found in one bundle's inputs.
#[derive(Debug, Clone)]
pub struct Decider {
    actions: ActionSet,
    /// (column name, input index) of every column an action reads.
    columns: Vec<(String, usize)>,
}

impl Decider {
    /// Check that every column an action reads is a numeric input of the scorer's bundle.
    pub fn new(actions: ActionSet, scorer: &Scorer) -> Result<Self, ActionsError> {
        Self::for_bundle(actions, scorer.bundle())
    }

    /// [`new`](Self::new) for a bundle: actions whose campaign taught the bundle's uplift
    /// model read the uplift.
    pub fn for_bundle(mut actions: ActionSet, bundle: &Bundle) -> Result<Self, ActionsError> {
        let encoder = &bundle.encoder;
        let version = || bundle.manifest.version.clone();
        let mut columns = Vec::new();
        for action in &mut actions.actions {
            if let Effect::Retention { campaign, .. } = &action.effect {
                action.uplift_campaign = campaign
                    .clone()
                    .filter(|c| uplift_campaign(bundle) == Some(c.as_str()));
            }
            if let Some(target) = action.target() {
                if !bundle_has_target(bundle, target) {
                    return Err(ActionsError::UnknownTarget {
                        action: action.name.clone(),
                        target: target.to_string(),
                        version: version(),
                    });
                }
            }
            for column in action.columns() {
                let at = encoder
                    .input_index(column)
                    .filter(|&i| matches!(encoder.inputs[i].encoding, Encoding::Numeric { .. }));
                let Some(at) = at else {
                    return Err(ActionsError::UnknownColumn {
                        action: action.name.clone(),
                        column: column.to_string(),
                        version: version(),
                        inputs: numeric_inputs(bundle).join(", "),
                    });
                };
                columns.push((column.to_string(), at));
            }
        }
        Ok(Decider { actions, columns })
    }

    /// The decider of an `--actions` file, else of the actions the bundle keeps; none
    /// without either.
    pub fn from_file(
        path: Option<&std::path::Path>,
        scorer: &Scorer,
    ) -> Result<Option<Self>, ActionsError> {
        let actions = match path {
            Some(p) => ActionSet::load(p)?,
            None => match &scorer.bundle().actions {
                Some(kept) => kept.clone(),
                None => return Ok(None),
            },
        };
        Decider::new(actions, scorer).map(Some)
    }

    pub fn actions(&self) -> &ActionSet {
        &self.actions
    }

    /// The figures of a scored record the actions read.
    pub fn record<'r>(&'r self, scorer: &'r Scorer, values: &'r [Value<'r>]) -> Record<'r> {
        Record {
            decider: self,
            scorer,
            values,
        }
    }

    /// The best eligible action for a customer as batch scoring found them.
    pub fn best_for_scored(&self, scorer: &Scorer, id: &str, scored: &Scored) -> Option<Choice> {
        let answer = scorer.answer(Cow::Borrowed(id), scored);
        let record = self.record(scorer, scored.values());
        self.decide(&answer, &record).best
    }

    /// Every action for one customer, ranked.
    pub fn decide(&self, answer: &Answer, record: &impl Figures) -> NextBestAction {
        let mut ranked = Vec::new();
        let mut not_eligible = Vec::new();
        for action in &self.actions.actions {
            match evaluate(action, answer, record) {
                Ok(choice) => ranked.push(choice),
                Err(why) => not_eligible.push(Ineligible {
                    action: action.name.clone(),
                    why,
                }),
            }
        }
        // Stable: equal values keep the file's order.
        ranked.sort_by(|a, b| b.expected_value.total_cmp(&a.expected_value));
        NextBestAction {
            id: answer.id.clone(),
            best: ranked.first().cloned(),
            ranked,
            not_eligible,
            model_version: answer.model_version.clone(),
        }
    }
}

fn numeric_inputs(bundle: &Bundle) -> Vec<&str> {
    let encoder = &bundle.encoder;
    encoder
        .inputs
        .iter()
        .filter(|i| matches!(i.encoding, Encoding::Numeric { .. }))
        .map(|i| i.name.as_str())
        .collect()
}

/// A scored record's numbers, by column name, as value arithmetic uses them (a number far
/// outside the training range counts as the range's edge).
pub struct Record<'r> {
    decider: &'r Decider,
    scorer: &'r Scorer,
    values: &'r [Value<'r>],
}

/// Where the record figures an action reads (value at stake, cost) come from.
pub trait Figures {
    fn number(&self, column: &str) -> Option<f64>;
}

impl Figures for Record<'_> {
    fn number(&self, column: &str) -> Option<f64> {
        let &(_, at) = self.decider.columns.iter().find(|(c, _)| c == column)?;
        let x = self.values.get(at)?.as_number()?;
        let encoding = &self.scorer.bundle().encoder.inputs.get(at)?.encoding;
        Some(encoding.value_for_arithmetic(x))
    }
}

/// One action's expected value for one customer, or why it does not apply.
pub fn evaluate(action: &Action, answer: &Answer, record: &impl Figures) -> Result<Choice, String> {
    let cost = contact_cost(action, record)?;
    let (value, probability, product, sum) = match &action.effect {
        Effect::Nothing => {
            return Ok(Choice {
                action: action.name.clone(),
                expected_value: 0.0,
                cost: 0.0,
                probability: None,
                product: None,
                reason: "do nothing: expected value 0".into(),
            })
        }
        Effect::Retention { stake, .. }
            if action.uplift_campaign.is_some() && answer.uplift.is_some() =>
        {
            let campaign = action.uplift_campaign.as_deref().unwrap_or_default();
            let uplift = answer.uplift.unwrap_or_default();
            eligible(action, uplift, &format!("uplift ({campaign})"))?;
            let (label, at_stake) = value_at_stake(answer, stake, record)?;
            let sum = format!(
                "uplift ({campaign}) {} × {label} {}",
                numfmt::fixed(uplift, 2),
                amount(at_stake)
            );
            (uplift * at_stake, uplift, None, sum)
        }
        Effect::Retention {
            target,
            save_rate,
            stake,
            ..
        } => {
            let p = target_probability(answer, target)
                .ok_or_else(|| format!("no P({target}): the bundle has no {target} model"))?;
            eligible(action, p, &format!("P({target})"))?;
            let (label, at_stake) = value_at_stake(answer, stake, record)?;
            let value = p * save_rate * at_stake;
            let sum = format!(
                "P({target}) {} × save rate {} × {label} {}",
                numfmt::fixed(p, 2),
                numfmt::short(*save_rate),
                amount(at_stake)
            );
            (value, p, None, sum)
        }
        Effect::CrossSell {
            product,
            margin,
            margins,
        } => {
            let priced = answer
                .cross_sell
                .iter()
                .filter(|o| product.as_ref().is_none_or(|p| *p == o.item))
                .filter_map(|o| Some((o, margins.get(&o.item).copied().or(*margin)?)))
                .filter(|(o, _)| o.score >= action.min_probability)
                .max_by(|(a, ma), (b, mb)| (a.score * ma).total_cmp(&(b.score * mb)));
            let Some((offer, margin)) = priced else {
                return Err(no_offer(action, product.as_deref()));
            };
            let sum = format!(
                "P(buys {}) {} × margin {}",
                offer.item,
                numfmt::fixed(offer.score, 2),
                amount(margin)
            );
            (
                offer.score * margin,
                offer.score,
                Some(offer.item.clone()),
                sum,
            )
        }
    };
    let expected_value = value - cost;
    Ok(Choice {
        action: action.name.clone(),
        expected_value,
        cost,
        probability: Some(probability),
        product,
        reason: format!("{sum} − cost {} = {}", amount(cost), amount(expected_value)),
    })
}

fn no_offer(action: &Action, product: Option<&str>) -> String {
    let floor = match action.min_probability > 0.0 {
        true => format!(" at P ≥ {}", numfmt::short(action.min_probability)),
        false => String::new(),
    };
    match product {
        Some(p) => format!("{p} is not among the customer's offers{floor}"),
        None => format!("no offered product has a margin{floor}"),
    }
}

fn eligible(action: &Action, p: f64, what: &str) -> Result<(), String> {
    match p >= action.min_probability {
        true => Ok(()),
        false => Err(format!(
            "{what} {} is below the action's minimum {}",
            numfmt::fixed(p, 2),
            numfmt::short(action.min_probability)
        )),
    }
}

fn contact_cost(action: &Action, record: &impl Figures) -> Result<f64, String> {
    let Some((column, rate)) = &action.cost.per_unit else {
        return Ok(action.cost.fixed);
    };
    let x = record
        .number(column)
        .ok_or_else(|| format!("no cost: `{column}` is missing"))?;
    Ok(action.cost.fixed + rate * x.max(0.0))
}

/// The value a retention action protects, with its name for the sum.
fn value_at_stake(
    answer: &Answer,
    stake: &super::actions::Stake,
    record: &impl Figures,
) -> Result<(String, f64), String> {
    let clv = answer
        .retention
        .as_ref()
        .and_then(|r| r.clv)
        .or_else(|| answer.lifetime.as_ref().and_then(|l| l.clv));
    if let Some(clv) = clv {
        return Ok(("CLV".into(), clv.max(0.0)));
    }
    if let Some(x) = stake.column.as_deref().and_then(|c| record.number(c)) {
        return Ok((stake.column.clone().unwrap_or_default(), x.max(0.0)));
    }
    match (stake.default, &stake.column) {
        (Some(x), _) => Ok(("value".into(), x)),
        (None, Some(c)) => Err(format!("no value at stake: no CLV and `{c}` is missing")),
        (None, None) => Err(
            "no value at stake: the bundle has no CLV and the action names no value_column or value_default"
                .into(),
        ),
    }
}

/// An amount for people: `1,240`, `70.35`, `-3.5`.
pub fn amount(x: f64) -> String {
    let text = numfmt::short(x);
    let (sign, rest) = text.split_at(usize::from(text.starts_with('-')));
    let (whole, fraction) = rest.split_at(rest.find('.').unwrap_or(rest.len()));
    let mut grouped = String::with_capacity(text.len() + whole.len() / 3);
    for (i, digit) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    format!("{sign}{grouped}{fraction}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::score::{Offer, Propensity, Retention, SegmentAnswer};
    use std::collections::HashMap;
    use std::path::Path;

    struct Columns(HashMap<&'static str, f64>);

    impl Figures for Columns {
        fn number(&self, column: &str) -> Option<f64> {
            self.0.get(column).copied()
        }
    }

    fn answer(p: Option<f64>, clv: Option<f64>, offers: &[(&str, f64)]) -> Answer {
        Answer {
            id: "c1".into(),
            segment: SegmentAnswer {
                id: 0,
                name: "s".into(),
                tier: "gold".into(),
                quadrant: None,
                contribution: None,
                loss_maker: None,
            },
            cross_sell: offers
                .iter()
                .map(|(item, score)| Offer {
                    item: item.to_string(),
                    score: *score,
                    because: vec![],
                })
                .collect(),
            retention: p.map(|probability| Retention {
                probability,
                band: "high".into(),
                reasons: vec![],
                clv,
                clv_basis: None,
            }),
            propensities: Default::default(),
            uplift: None,
            lifetime: None,
            rfm: None,
            warnings: vec![],
            model_version: "v1".into(),
            contact: None,
        }
    }

    #[test]
    fn other_targets_are_read_from_the_propensities() {
        let mut a = answer(Some(0.4), None, &[]);
        let upgraded = Propensity {
            probability: 0.7,
            band: "high".into(),
            reasons: vec![],
        };
        a.propensities.insert("upgraded".into(), upgraded);
        assert_eq!(target_probability(&a, "upgraded"), Some(0.7));
        assert_eq!(target_probability(&a, "autopay"), None);
        assert_eq!(target_probability(&a, "attrition"), Some(0.4));
    }

    fn actions(text: &str) -> ActionSet {
        ActionSet::parse(text, Path::new("a.toml")).unwrap()
    }

    const CALL: &str = "[[actions]]\nname = \"call\"\nkind = \"retention\"\ncost = 25\nsave_rate = 0.3\nvalue_column = \"total\"\n";

    #[test]
    fn retention_value_is_probability_times_save_rate_times_clv_less_cost() {
        let set = actions(CALL);
        let none = Columns(HashMap::new());
        let choice = evaluate(
            &set.actions[0],
            &answer(Some(0.62), Some(1240.0), &[]),
            &none,
        )
        .unwrap();
        assert!((choice.expected_value - (0.62 * 0.3 * 1240.0 - 25.0)).abs() < 1e-9);
        assert_eq!(
            choice.reason,
            "P(churn) 0.62 × save rate 0.3 × CLV 1,240 − cost 25 = 206"
        );
    }

    #[test]
    fn without_clv_the_value_column_then_the_default_is_at_stake() {
        let set = actions(CALL);
        let total = Columns(HashMap::from([("total", 2000.0)]));
        let choice = evaluate(&set.actions[0], &answer(Some(0.5), None, &[]), &total).unwrap();
        assert_eq!(choice.expected_value, 0.5 * 0.3 * 2000.0 - 25.0);
        assert!(
            choice.reason.contains("× total 2,000 −"),
            "{}",
            choice.reason
        );
        let none = Columns(HashMap::new());
        let why = evaluate(&set.actions[0], &answer(Some(0.5), None, &[]), &none).unwrap_err();
        assert_eq!(why, "no value at stake: no CLV and `total` is missing");
        let with_default = actions(&format!("{CALL}value_default = 100\n"));
        let choice = evaluate(
            &with_default.actions[0],
            &answer(Some(0.5), None, &[]),
            &none,
        )
        .unwrap();
        assert_eq!(choice.expected_value, 0.5 * 0.3 * 100.0 - 25.0);
    }

    #[test]
    fn cross_sell_takes_the_best_priced_offer() {
        let set = actions(
            "[[actions]]\nname = \"offer\"\nkind = \"cross_sell\"\ncost = 2\nmargin = 10\nmargins = { tv = 60 }\n",
        );
        let none = Columns(HashMap::new());
        let a = answer(None, None, &[("phone", 0.9), ("tv", 0.4)]);
        let choice = evaluate(&set.actions[0], &a, &none).unwrap();
        assert_eq!(choice.product.as_deref(), Some("tv"));
        assert_eq!(choice.expected_value, 0.4 * 60.0 - 2.0);
        assert_eq!(choice.reason, "P(buys tv) 0.40 × margin 60 − cost 2 = 22");
    }

    #[test]
    fn ranking_puts_the_best_first_and_keeps_the_reasons_for_the_rest() {
        let set = actions(&format!(
            "{CALL}min_probability = 0.3\n[[actions]]\nname = \"nothing\"\nkind = \"nothing\"\n"
        ));
        let decider = Decider {
            actions: set,
            columns: vec![],
        };
        let low = decider.decide(
            &answer(Some(0.2), Some(1000.0), &[]),
            &Columns(HashMap::new()),
        );
        assert_eq!(low.best.map(|b| b.action).as_deref(), Some("nothing"));
        assert_eq!(
            low.not_eligible[0].why,
            "P(churn) 0.20 is below the action's minimum 0.3"
        );
        let high = decider.decide(
            &answer(Some(0.9), Some(1000.0), &[]),
            &Columns(HashMap::new()),
        );
        let order: Vec<_> = high.ranked.iter().map(|c| c.action.as_str()).collect();
        assert_eq!(order, ["call", "nothing"]);
        assert_eq!(high.best.as_ref(), high.ranked.first());
    }

    #[test]
    fn only_the_attrition_target_is_read_from_the_retention_answer() {
        let a = answer(Some(0.4), None, &[]);
        assert_eq!(target_probability(&a, "churn"), Some(0.4));
        assert_eq!(target_probability(&a, "upgrade"), None);
        assert_eq!(target_probability(&answer(None, None, &[]), "churn"), None);
    }

    #[test]
    fn amounts_are_grouped_by_thousands() {
        assert_eq!(amount(1240.0), "1,240");
        assert_eq!(amount(-1234567.0), "-1,234,567");
        assert_eq!(amount(70.35), "70.35");
        assert_eq!(amount(999.6), "1,000");
        assert_eq!(amount(0.0), "0");
    }
}
