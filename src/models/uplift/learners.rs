//! Meta-learners on our GBM (Künzel et al. 2019). The two-model (T-) learner fits the
//! response of each arm and takes the difference. The X-learner starts from the same two
//! models, imputes each customer's effect from the other arm's model, fits that effect in
//! each arm and blends the two by the treated share (the propensity of a randomized
//! campaign). The class-transformation learner fits one model on every contact, to a
//! target whose mean is the treated share plus the effect scaled by the arms' variance.

use crate::models::classifier::calibration::sigmoid;
use crate::models::classifier::gbm::{fit_gbm, fit_gbm_targets, GbmModel, GbmParams, Loss};
use ndarray::{Array2, ArrayView2, Axis};
use serde::{Deserialize, Serialize};

/// A fitted uplift learner: `uplift(x)` is the treatment response probability minus the
/// control one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "learner", rename_all = "snake_case")]
pub enum Learner {
    TwoModel {
        treatment: GbmModel,
        control: GbmModel,
    },
    X {
        /// Effect fitted on treated customers (their outcome less the control model's).
        effect_treated: GbmModel,
        /// Effect fitted on control customers (the treatment model's less their outcome).
        effect_control: GbmModel,
        /// Share of contacts in treatment: the control-fitted effect gets this weight.
        treated_share: f64,
        /// How the effect models' output reads as an effect (bundles without the field
        /// were fitted on the logistic scale).
        #[serde(default)]
        effect_scale: EffectScale,
    },
    /// One model of a transformed outcome (Athey & Imbens 2016 for a known propensity p):
    /// p + (1 − p)·y for treated contacts and p·(1 − y) for control ones, whose mean is
    /// p + p(1 − p)·uplift.
    Transformed { model: GbmModel, treated_share: f64 },
    /// The mean of its members' uplift: averaging learners that err differently is a
    /// steadier ranking than choosing one on a small, noisy holdout.
    Average { members: Vec<Learner> },
}

impl Learner {
    pub fn name(&self) -> &'static str {
        match self {
            Learner::TwoModel { .. } => "two-model",
            Learner::X { .. } => "X-learner",
            Learner::Transformed { .. } => "transformed",
            Learner::Average { .. } => "average",
        }
    }

    /// Predicted uplift of one encoded row, in [-1, 1].
    pub fn uplift(&self, x: &[f64]) -> f64 {
        match self {
            Learner::TwoModel { treatment, control } => {
                sigmoid(treatment.log_odds(x)) - sigmoid(control.log_odds(x))
            }
            Learner::X {
                effect_treated,
                effect_control,
                treated_share,
                effect_scale,
            } => {
                let effect = |m: &GbmModel| effect_scale.effect(m.log_odds(x));
                treated_share * effect(effect_control)
                    + (1.0 - treated_share) * effect(effect_treated)
            }
            Learner::Transformed {
                model,
                treated_share: p,
            } => {
                let spread = (p * (1.0 - p)).max(f64::EPSILON);
                ((sigmoid(model.log_odds(x)) - p) / spread).clamp(-1.0, 1.0)
            }
            Learner::Average { members } => {
                let sum: f64 = members.iter().map(|m| m.uplift(x)).sum();
                sum / members.len().max(1) as f64
            }
        }
    }

    /// Every GBM of the learner with its field path in `learner` (for checking a stored
    /// bundle: `members[1].effect_control` in an average).
    pub fn models(&self) -> Vec<(String, &GbmModel)> {
        match self {
            Learner::TwoModel { treatment, control } => {
                vec![("treatment".into(), treatment), ("control".into(), control)]
            }
            Learner::X {
                effect_treated,
                effect_control,
                ..
            } => vec![
                ("effect_treated".into(), effect_treated),
                ("effect_control".into(), effect_control),
            ],
            Learner::Transformed { model, .. } => vec![("model".into(), model)],
            Learner::Average { members } => under_members(members, Learner::models),
        }
    }

    /// Every treated share the learner weighs by, with its field path in `learner` (for
    /// checking a stored bundle).
    pub fn treated_shares(&self) -> Vec<(String, f64)> {
        match self {
            Learner::TwoModel { .. } => Vec::new(),
            Learner::X { treated_share, .. } | Learner::Transformed { treated_share, .. } => {
                vec![("treated_share".into(), *treated_share)]
            }
            Learner::Average { members } => under_members(members, Learner::treated_shares),
        }
    }
}

/// Each member's `(path, item)` pairs, their paths under `members[i]`.
fn under_members<'a, T>(
    members: &'a [Learner],
    items: impl Fn(&'a Learner) -> Vec<(String, T)>,
) -> Vec<(String, T)> {
    (members.iter().enumerate())
        .flat_map(|(i, member)| {
            (items(member).into_iter())
                .map(move |(path, item)| (format!("members[{i}].{path}"), item))
        })
        .collect()
}

/// How the X-learner's effect models fit the imputed effects, which lie in [-1, 1].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EffectScale {
    /// As probabilities (effect + 1) / 2 with cross-entropy: the effect is
    /// 2·sigmoid(output) − 1, inside the range by construction.
    #[default]
    Logistic,
    /// By squared error on the effect itself: the effect is the output, clipped to the
    /// range. Its gradient does not fade near the middle of the range, so it stops in
    /// fewer rounds.
    Direct,
}

impl EffectScale {
    /// The loss the effect models are boosted on.
    pub fn loss(self) -> Loss {
        match self {
            EffectScale::Logistic => Loss::CrossEntropy,
            EffectScale::Direct => Loss::Squared,
        }
    }

    /// The target an imputed effect in [-1, 1] is fitted as.
    fn target(self, effect: f64) -> f64 {
        match self {
            EffectScale::Logistic => ((effect + 1.0) / 2.0).clamp(0.0, 1.0),
            EffectScale::Direct => effect.clamp(-1.0, 1.0),
        }
    }

    /// The effect an effect model's output stands for.
    pub fn effect(self, output: f64) -> f64 {
        match self {
            EffectScale::Logistic => 2.0 * sigmoid(output) - 1.0,
            EffectScale::Direct => output.clamp(-1.0, 1.0),
        }
    }
}

/// Rows of each arm, with their outcomes.
pub struct Arms {
    pub treated: Array2<f64>,
    pub treated_y: Vec<bool>,
    pub control: Array2<f64>,
    pub control_y: Vec<bool>,
}

impl Arms {
    pub fn split(x: ArrayView2<f64>, treated: &[bool], y: &[bool]) -> Arms {
        let (t, c): (Vec<usize>, Vec<usize>) = (0..treated.len()).partition(|&i| treated[i]);
        let pick = |rows: &[usize]| rows.iter().map(|&i| y[i]).collect();
        Arms {
            treated: x.select(Axis(0), &t),
            treated_y: pick(&t),
            control: x.select(Axis(0), &c),
            control_y: pick(&c),
        }
    }

    /// Share of the contacts in treatment (the propensity of a randomized campaign).
    pub fn treated_share(&self) -> f64 {
        let treated = self.treated_y.len() as f64;
        treated / (treated + self.control_y.len() as f64).max(1.0)
    }
}

/// The response model of each arm: (treatment, control). The two fits run one after the
/// other, each on every core.
pub fn fit_two_model(arms: &Arms, params: &GbmParams, seed: u64) -> (GbmModel, GbmModel) {
    (
        fit_gbm(arms.treated.view(), &arms.treated_y, params, seed),
        fit_gbm(arms.control.view(), &arms.control_y, params, seed),
    )
}

/// The X-learner's effect models from the two response models. Imputed effects lie in
/// [-1, 1]; they are fitted as probabilities (effect + 1) / 2 with cross-entropy, which
/// keeps every prediction inside that range.
pub fn fit_x(
    arms: &Arms,
    treatment: &GbmModel,
    control: &GbmModel,
    params: &GbmParams,
    seed: u64,
) -> Learner {
    let scale = EffectScale::Logistic;
    let (treated_effects, control_effects) = imputed_effects(arms, treatment, control, scale);
    Learner::X {
        effect_treated: fit_gbm_targets(arms.treated.view(), &treated_effects, params, seed),
        effect_control: fit_gbm_targets(arms.control.view(), &control_effects, params, seed),
        treated_share: arms.treated_share(),
        effect_scale: scale,
    }
}

/// Each arm's imputed effects as targets on `scale`: a treated customer's outcome less the
/// control model's probability, the treatment model's probability less a control
/// customer's outcome. Returns (treated, control).
pub fn imputed_effects(
    arms: &Arms,
    treatment: &GbmModel,
    control: &GbmModel,
    scale: EffectScale,
) -> (Vec<f64>, Vec<f64>) {
    let as_target = |effect: f64| scale.target(effect);
    let outcome = |y: bool| f64::from(u8::from(y));
    let treated = (arms.treated.rows().into_iter().zip(&arms.treated_y))
        .map(|(row, &y)| as_target(outcome(y) - prob(control, row)))
        .collect();
    let control = (arms.control.rows().into_iter().zip(&arms.control_y))
        .map(|(row, &y)| as_target(prob(treatment, row) - outcome(y)))
        .collect();
    (treated, control)
}

fn prob(model: &GbmModel, row: ndarray::ArrayView1<f64>) -> f64 {
    match row.as_slice() {
        Some(x) => sigmoid(model.log_odds(x)),
        None => sigmoid(model.log_odds(&row.to_vec())),
    }
}

/// The class-transformation learner: one model on every contact of both arms.
pub fn fit_transformed(
    x: ArrayView2<f64>,
    treated: &[bool],
    y: &[bool],
    params: &GbmParams,
    seed: u64,
) -> Learner {
    let p = treated.iter().filter(|&&t| t).count() as f64 / treated.len().max(1) as f64;
    let targets: Vec<f64> = (treated.iter().zip(y))
        .map(|(&t, &y)| match (t, y) {
            (true, y) => p + (1.0 - p) * f64::from(u8::from(y)),
            (false, y) => p * (1.0 - f64::from(u8::from(y))),
        })
        .collect();
    Learner::Transformed {
        model: fit_gbm_targets(x, &targets, params, seed),
        treated_share: p,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_average_names_its_members_models_by_their_stored_paths() {
        let model = || GbmModel::new(0.0, Vec::new());
        let average = Learner::Average {
            members: vec![
                Learner::TwoModel {
                    treatment: model(),
                    control: model(),
                },
                Learner::X {
                    effect_treated: model(),
                    effect_control: model(),
                    treated_share: 0.4,
                    effect_scale: EffectScale::Logistic,
                },
            ],
        };
        let paths: Vec<String> = average.models().into_iter().map(|(p, _)| p).collect();
        assert_eq!(
            paths,
            [
                "members[0].treatment",
                "members[0].control",
                "members[1].effect_treated",
                "members[1].effect_control"
            ]
        );
        let shares = average.treated_shares();
        assert_eq!(shares, [("members[1].treated_share".to_string(), 0.4)]);
    }

    /// Bundles stored before the effect scale existed fitted their effects as
    /// probabilities: they still answer 2·sigmoid(output) − 1.
    #[test]
    fn a_stored_x_learner_without_an_effect_scale_reads_as_logistic() {
        let stored = r#"{"learner": "x", "treated_share": 0.5,
            "effect_treated": {"base": 0.4, "trees": []},
            "effect_control": {"base": 0.4, "trees": []}}"#;
        let learner: Learner = serde_json::from_str(stored).unwrap();
        let logistic = 2.0 * sigmoid(0.4) - 1.0;
        assert!((learner.uplift(&[0.0]) - logistic).abs() < 1e-12);
        let direct = Learner::X {
            effect_treated: GbmModel::new(0.4, Vec::new()),
            effect_control: GbmModel::new(0.4, Vec::new()),
            treated_share: 0.5,
            effect_scale: EffectScale::Direct,
        };
        assert!((direct.uplift(&[0.0]) - 0.4).abs() < 1e-12);
        let json = serde_json::to_string(&direct).unwrap();
        assert_eq!(serde_json::from_str::<Learner>(&json).unwrap(), direct);
    }
}
