//! The shipped learner: the two-model and X-learner uplift averaged, four GBMs (the
//! X-learner imputes effects from the two-model's response models). Each GBM is fitted
//! on two thirds of its arm, early-stopped on the held-out third of the same arm, which
//! then draws the Qini curve; the four are refitted on every contact for the rounds they
//! stopped at. The held-out rows choose the rounds and draw the curve, so no GBM needs an
//! inner split of its own: eight boosting runs in all.

use super::learners::{imputed_effects, Arms, Learner};
use crate::models::classifier::gbm::{fit_gbm_targets, fit_gbm_validated, GbmModel, GbmParams};
use ndarray::Array2;

/// Round counts of the four GBMs: treatment, control, effect_treated, effect_control (the
/// order of [`Learner::models`]).
pub type Rounds = [usize; 4];

/// The average fitted on `fit`, each GBM early-stopped on its arm's `held` rows.
pub fn fit_validated(fit: &Arms, held: &Arms, gbm: &GbmParams, seed: u64) -> (Learner, Rounds) {
    let fit_arm = |x: &Array2<f64>, y: &[f64], x_held: &Array2<f64>, y_held: &[f64]| {
        fit_gbm_validated(x.view(), y, x_held.view(), y_held, gbm, seed)
    };
    let (treatment, treatment_rounds) = fit_arm(
        &fit.treated,
        &as_targets(&fit.treated_y),
        &held.treated,
        &as_targets(&held.treated_y),
    );
    let (control, control_rounds) = fit_arm(
        &fit.control,
        &as_targets(&fit.control_y),
        &held.control,
        &as_targets(&held.control_y),
    );
    let (fit_treated, fit_control) = imputed_effects(fit, &treatment, &control);
    let (held_treated, held_control) = imputed_effects(held, &treatment, &control);
    let (effect_treated, effect_treated_rounds) =
        fit_arm(&fit.treated, &fit_treated, &held.treated, &held_treated);
    let (effect_control, effect_control_rounds) =
        fit_arm(&fit.control, &fit_control, &held.control, &held_control);
    let learner = average(
        [treatment, control, effect_treated, effect_control],
        fit.treated_share(),
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
pub fn refit(all: &Arms, gbm: &GbmParams, rounds: Rounds, scale: f64, seed: u64) -> Learner {
    let fixed = |rounds: usize| GbmParams {
        max_rounds: ((rounds as f64 * scale).ceil() as usize).max(1),
        early_stopping_rounds: 0,
        ..gbm.clone()
    };
    let fit_arm =
        |x: &Array2<f64>, y: &[f64], rounds| fit_gbm_targets(x.view(), y, &fixed(rounds), seed);
    let treatment = fit_arm(&all.treated, &as_targets(&all.treated_y), rounds[0]);
    let control = fit_arm(&all.control, &as_targets(&all.control_y), rounds[1]);
    let (treated_effects, control_effects) = imputed_effects(all, &treatment, &control);
    let effect_treated = fit_arm(&all.treated, &treated_effects, rounds[2]);
    let effect_control = fit_arm(&all.control, &control_effects, rounds[3]);
    average(
        [treatment, control, effect_treated, effect_control],
        all.treated_share(),
    )
}

fn average(models: [GbmModel; 4], treated_share: f64) -> Learner {
    let [treatment, control, effect_treated, effect_control] = models;
    Learner::Average {
        members: vec![
            Learner::TwoModel { treatment, control },
            Learner::X {
                effect_treated,
                effect_control,
                treated_share,
            },
        ],
    }
}

fn as_targets(y: &[bool]) -> Vec<f64> {
    y.iter().map(|&y| f64::from(u8::from(y))).collect()
}
