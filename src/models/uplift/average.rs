//! The shipped learner: the two-model and X-learner uplift averaged, four GBMs (the
//! X-learner imputes effects from the two-model's response models). Each GBM is fitted
//! on part of its arm and early-stopped on the rest of the same arm, which then draws
//! the Qini curve. The two response models are independent, and so are the two effect
//! models: each pair is fitted side by side (the same models on any number of threads).

use super::learners::{imputed_effects, Arms, EffectScale, Learner};
use crate::models::classifier::gbm::{
    fit_gbm_rounds, fit_gbm_validated, GbmModel, GbmParams, Loss,
};
use ndarray::Array2;

/// Round counts of the four GBMs: treatment, control, effect_treated, effect_control (the
/// order of [`Learner::models`]).
pub type Rounds = [usize; 4];

/// The average fitted on `fit`, each GBM early-stopped on its arm's `held` rows.
pub fn fit_validated(
    fit: &Arms,
    held: &Arms,
    gbm: &GbmParams,
    scale: EffectScale,
    seed: u64,
) -> (Learner, Rounds) {
    let fit_arm = |x: &Array2<f64>, y: &[f64], held: (&Array2<f64>, &[f64]), loss| {
        fit_gbm_validated(x.view(), y, (held.0.view(), held.1), loss, gbm, seed)
    };
    let response = |x, y: &[bool], x_held, y_held: &[bool]| {
        let held = (x_held, as_targets(y_held));
        fit_arm(x, &as_targets(y), (held.0, &held.1), Loss::CrossEntropy)
    };
    let ((treatment, treatment_rounds), (control, control_rounds)) = rayon::join(
        || response(&fit.treated, &fit.treated_y, &held.treated, &held.treated_y),
        || response(&fit.control, &fit.control_y, &held.control, &held.control_y),
    );
    let (fit_treated, fit_control) = imputed_effects(fit, &treatment, &control, scale);
    let (held_treated, held_control) = imputed_effects(held, &treatment, &control, scale);
    let ((effect_treated, effect_treated_rounds), (effect_control, effect_control_rounds)) =
        rayon::join(
            || {
                let held = (&held.treated, held_treated.as_slice());
                fit_arm(&fit.treated, &fit_treated, held, scale.loss())
            },
            || {
                let held = (&held.control, held_control.as_slice());
                fit_arm(&fit.control, &fit_control, held, scale.loss())
            },
        );
    let learner = average(
        [treatment, control, effect_treated, effect_control],
        fit.treated_share(),
        scale,
    );
    let rounds = [
        treatment_rounds,
        control_rounds,
        effect_treated_rounds,
        effect_control_rounds,
    ];
    (learner, rounds)
}

/// The average refitted on `all` contacts, each GBM for its `rounds` times `scale` (more
/// rows take more rounds to fit as closely at the same rate).
pub fn refit(
    all: &Arms,
    gbm: &GbmParams,
    rounds: Rounds,
    row_scale: f64,
    effect_scale: EffectScale,
    seed: u64,
) -> Learner {
    let fit_arm = |x: &Array2<f64>, y: &[f64], rounds: usize, loss| {
        let fixed = GbmParams {
            max_rounds: ((rounds as f64 * row_scale).ceil() as usize).max(1),
            ..gbm.clone()
        };
        fit_gbm_rounds(x.view(), y, loss, &fixed, seed)
    };
    let response = |x, y: &[bool], rounds| fit_arm(x, &as_targets(y), rounds, Loss::CrossEntropy);
    let (treatment, control) = rayon::join(
        || response(&all.treated, &all.treated_y, rounds[0]),
        || response(&all.control, &all.control_y, rounds[1]),
    );
    let (treated_effects, control_effects) =
        imputed_effects(all, &treatment, &control, effect_scale);
    let loss = effect_scale.loss();
    let (effect_treated, effect_control) = rayon::join(
        || fit_arm(&all.treated, &treated_effects, rounds[2], loss),
        || fit_arm(&all.control, &control_effects, rounds[3], loss),
    );
    average(
        [treatment, control, effect_treated, effect_control],
        all.treated_share(),
        effect_scale,
    )
}

fn average(models: [GbmModel; 4], treated_share: f64, effect_scale: EffectScale) -> Learner {
    let [treatment, control, effect_treated, effect_control] = models;
    Learner::Average {
        members: vec![
            Learner::TwoModel { treatment, control },
            Learner::X {
                effect_treated,
                effect_control,
                treated_share,
                effect_scale,
            },
        ],
    }
}

fn as_targets(y: &[bool]) -> Vec<f64> {
    y.iter().map(|&y| f64::from(u8::from(y))).collect()
}
