//! Uplift: the difference a contact makes to a customer's chance of responding, learnt
//! from a campaign's treatment and control contacts. The two-model and X-learner on our
//! GBM are averaged (`average.rs`): the Qini AUC of a third of the contacts is too noisy
//! to choose between learners (0.81–0.91 inside training for 0.81 on a test part), and
//! the average ranked better than a chosen learner on every draw tried. A third of the
//! contacts (split by arm × outcome) is held out: it stops each GBM's boosting and draws
//! the Qini curve; the learner is then refitted on every contact and ships in
//! `uplift.json`. The stored curve is therefore of the two-thirds learner, which the
//! shipped one refits with the same settings and rounds on more rows.
//!
//! What a fit costs (`benches/peers/uplift_peer.sh`, draws 1–8, Qini AUC mean and CPU
//! seconds mean; causalml's T-learner 0.6407, X-learner 0.6424): the refit ships 0.6594
//! at rate 0.05 (1.98 s), the two-thirds models without it 0.6441 (0.81 s), two halves
//! each stopped on the other and averaged 0.6500 (1.57 s). The default, effects by
//! squared error at rate 0.15 with the refit, gives 0.6631 at 0.52 s.

pub mod average;
pub mod learners;
pub mod qini;

use crate::models::classifier::gbm::GbmParams;
use learners::{Arms, EffectScale, Learner};
use ndarray::{ArrayView2, Axis};
use qini::{qini_curve, QiniCurve, Ranked};
use serde::{Deserialize, Serialize};

/// One contact in this many (in each arm × outcome stratum) is held out to stop the
/// boosting and draw the Qini curve.
pub const HOLDOUT_FOLDS: usize = 3;
/// Fewest contacts, and fewest responders, each arm needs.
pub const MIN_ARM_ROWS: usize = 30;
pub const MIN_ARM_RESPONDERS: usize = 5;
/// Points of the stored Qini curve (every 5% of customers).
pub const CURVE_POINTS: usize = 20;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UpliftParams {
    pub gbm: GbmParams,
    pub seed: u64,
    /// What ships once the held-out third has stopped the boosting.
    pub finish: Finish,
    /// How the X-learner's effect models fit the imputed effects.
    pub effect_scale: EffectScale,
}

/// How the shipped GBMs are fitted after the held-out third has chosen their rounds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Finish {
    /// Refitted on every contact for the stopped rounds × 1.5.
    Refit,
    /// The early-stopped GBMs as they are, fitted on two thirds: a third of the CPU,
    /// for about 0.015 less Qini AUC on `benches/peers/uplift_peer.sh`.
    Stopped,
}

impl Default for UpliftParams {
    fn default() -> Self {
        UpliftParams {
            gbm: uplift_gbm(),
            seed: 42,
            finish: Finish::Refit,
            effect_scale: EffectScale::Direct,
        }
    }
}

/// The GBM the uplift learners start from: depth-3 trees at rate 0.15, rounds left to
/// early stopping (10 rounds without a better held-out loss), every row and feature. On
/// `benches/peers/uplift_peer.sh`, draws 1–8 (Qini AUC mean; CPU seconds of the whole
/// fit, mean), with the X-learner's effects by squared error and the refit: rate 0.05
/// 0.6565 at 1.65 s, 0.1 0.6592 at 0.89 s, 0.15 0.6603 at 0.58 s, 0.2 0.6567 at 0.50 s;
/// at 0.15, stopping after 10 rounds instead of 20 gave 0.6631 at 0.52 s. The churn
/// candidate's defaults (a round cap, row and feature sampling) suit a large labelled
/// table, but cost uplift's small effects about 0.03 of Qini AUC there. Leaf-wise trees
/// of 31 leaves at rate 0.2 ranked worse (0.77 against 0.81 on draw 1). LightGBM's fixed
/// 100 rounds at 0.1 found half the true effect on a 4,000-contact campaign: small
/// campaigns need the rounds chosen on held-out rows.
pub fn uplift_gbm() -> GbmParams {
    GbmParams {
        learning_rate: 0.15,
        max_rounds: 1000,
        early_stopping_rounds: 10,
        row_share: 1.0,
        feature_share: 1.0,
        ..GbmParams::default()
    }
}

/// A GBM setting and the rounds each GBM stopped at, as the training summary shows them.
fn describe_settings(gbm: &GbmParams, effects: EffectScale, rounds: &average::Rounds) -> String {
    let shape = match gbm.max_leaves {
        0 => format!("depth {}", gbm.max_depth),
        leaves => format!("{leaves} leaves"),
    };
    let rounds: Vec<String> = rounds.iter().map(usize::to_string).collect();
    let effects = match effects {
        EffectScale::Logistic => "logistic",
        EffectScale::Direct => "squared error",
    };
    format!(
        "{shape}, rate {}, leaf >= {}, effects {effects}, rounds {}",
        gbm.learning_rate,
        gbm.min_leaf,
        rounds.join("/")
    )
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum UpliftError {
    #[error("uplift needs at least {MIN_ARM_ROWS} contacts with {MIN_ARM_RESPONDERS} responders and {MIN_ARM_RESPONDERS} non-responders in each arm; the {arm} arm has {rows} contacts, {responders} responders")]
    ThinArm {
        arm: &'static str,
        rows: usize,
        responders: usize,
    },
}

/// A learner's figures on the held-out contacts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Candidate {
    pub learner: String,
    /// The GBM settings it was fitted with.
    #[serde(default)]
    pub settings: String,
    pub qini_auc: f64,
    pub auuc: f64,
}

/// What `uplift.json` holds: the learner (refitted on every contact) and how it did on
/// the held-out contacts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UpliftModel {
    pub learner: Learner,
    pub candidates: Vec<Candidate>,
    /// The learner's Qini curve on the held-out contacts (fitted without them).
    pub qini: QiniCurve,
    pub contacts: usize,
    pub treated: usize,
    pub held_out: usize,
}

impl UpliftModel {
    /// Predicted uplift of one encoded row (treatment probability − control probability).
    pub fn uplift(&self, x: &[f64]) -> f64 {
        self.learner.uplift(x)
    }

    /// The training summary's lines.
    pub fn describe(&self) -> String {
        let how = match &self.learner {
            Learner::Average { members } => {
                let names: Vec<&str> = members.iter().map(Learner::name).collect();
                format!("average of {}, Qini AUC", names.join(" and "))
            }
            learner => format!("{} chosen by Qini AUC", learner.name()),
        };
        let mut out = format!(
            "uplift: {how} on {} held-out contacts ({} contacts, {} treated)\n",
            self.held_out, self.contacts, self.treated
        );
        for c in &self.candidates {
            out.push_str(&format!(
                "  {:<11} {:<30} Qini AUC {:.4}  AUUC {:.4}\n",
                c.learner, c.settings, c.qini_auc, c.auuc
            ));
        }
        let deciles: Vec<String> = (self.qini.points.iter().step_by(2))
            .map(|p| format!("{:.1}", p.incremental))
            .collect();
        out.push_str(&format!(
            "  Qini curve (incremental responses at 0, 10%, ..., 100% targeted): {}\n",
            deciles.join(" ")
        ));
        out
    }
}

/// Fit the average on two thirds of the contacts, early-stopped and scored on the rest,
/// then finish it as `params.finish` says.
pub fn fit_uplift(
    x: ArrayView2<f64>,
    treated: &[bool],
    y: &[bool],
    params: &UpliftParams,
) -> Result<UpliftModel, UpliftError> {
    check_arms(treated, y)?;
    let held = holdout_rows(treated, y, params.seed);
    let (fit, test): (Vec<usize>, Vec<usize>) = (0..y.len()).partition(|&i| !held[i]);
    let pick = |rows: &[usize], v: &[bool]| rows.iter().map(|&i| v[i]).collect::<Vec<_>>();
    let x_test = x.select(Axis(0), &test);
    let (t_test, y_test) = (pick(&test, treated), pick(&test, y));
    let fit_arms = Arms::split(
        x.select(Axis(0), &fit).view(),
        &pick(&fit, treated),
        &pick(&fit, y),
    );
    let held_arms = Arms::split(x_test.view(), &t_test, &y_test);
    let (gbm, effects, seed) = (&params.gbm, params.effect_scale, params.seed);
    let (learner, rounds) = average::fit_validated(&fit_arms, &held_arms, gbm, effects, seed);
    let qini = held_out_curve(&learner, x_test.view(), &t_test, &y_test);
    let candidates = vec![Candidate {
        learner: learner.name().to_string(),
        settings: describe_settings(gbm, effects, &rounds),
        qini_auc: qini.qini_auc,
        auuc: qini.auuc,
    }];
    let learner = match params.finish {
        Finish::Refit => {
            let scale = y.len() as f64 / fit.len().max(1) as f64;
            let all = Arms::split(x, treated, y);
            average::refit(&all, gbm, rounds, scale, effects, seed)
        }
        Finish::Stopped => learner,
    };
    Ok(UpliftModel {
        learner,
        candidates,
        qini,
        contacts: y.len(),
        treated: treated.iter().filter(|&&t| t).count(),
        held_out: test.len(),
    })
}

fn check_arms(treated: &[bool], y: &[bool]) -> Result<(), UpliftError> {
    for (arm, in_arm) in [("treatment", true), ("control", false)] {
        let rows = treated.iter().filter(|&&t| t == in_arm).count();
        let responders = (treated.iter().zip(y))
            .filter(|&(&t, &y)| t == in_arm && y)
            .count();
        if rows < MIN_ARM_ROWS
            || responders < MIN_ARM_RESPONDERS
            || rows - responders < MIN_ARM_RESPONDERS
        {
            return Err(UpliftError::ThinArm {
                arm,
                rows,
                responders,
            });
        }
    }
    Ok(())
}

/// Which rows are held out: in each arm × outcome stratum, rows in a seeded random order,
/// every [`HOLDOUT_FOLDS`]th one.
pub fn holdout_rows(treated: &[bool], y: &[bool], seed: u64) -> Vec<bool> {
    use rand::seq::SliceRandom;
    use rand::SeedableRng;
    let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(seed);
    let mut held = vec![false; y.len()];
    for stratum in 0..4 {
        let mut rows: Vec<usize> = (0..y.len())
            .filter(|&i| usize::from(treated[i]) * 2 + usize::from(y[i]) == stratum)
            .collect();
        rows.shuffle(&mut rng);
        for &i in rows.iter().step_by(HOLDOUT_FOLDS) {
            held[i] = true;
        }
    }
    held
}

/// The learner's Qini curve on the held-out rows (in their order: ties keep it).
fn held_out_curve(
    learner: &Learner,
    x: ArrayView2<f64>,
    treated: &[bool],
    y: &[bool],
) -> QiniCurve {
    let ranked: Vec<Ranked> = (x.rows().into_iter().zip(treated).zip(y))
        .map(|((row, &treated), &outcome)| Ranked {
            uplift: learner.uplift(&row.to_vec()),
            treated,
            outcome,
        })
        .collect();
    qini_curve(&ranked, CURVE_POINTS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use learners::{fit_transformed, fit_two_model, fit_x};
    use ndarray::Array2;
    use proptest::prelude::*;
    use rand::{Rng, SeedableRng};

    /// Customers with two features; the contact lifts the response rate from 10% to 40%
    /// when the first feature is positive and does nothing otherwise.
    fn campaign(n: usize, seed: u64) -> (Array2<f64>, Vec<bool>, Vec<bool>) {
        let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(seed);
        let mut x = Array2::zeros((n, 2));
        let (mut treated, mut y) = (Vec::new(), Vec::new());
        for i in 0..n {
            x[[i, 0]] = rng.gen_range(-1.0..1.0);
            x[[i, 1]] = rng.gen_range(-1.0..1.0);
            let t = rng.gen_bool(0.5);
            let rate = if t && x[[i, 0]] > 0.0 { 0.4 } else { 0.1 };
            treated.push(t);
            y.push(rng.gen_bool(rate));
        }
        (x, treated, y)
    }

    #[test]
    fn finds_who_the_contact_moves() {
        let (x, treated, y) = campaign(4000, 1);
        let model = fit_uplift(x.view(), &treated, &y, &UpliftParams::default()).unwrap();
        let moved = model.uplift(&[0.5, 0.0]);
        let unmoved = model.uplift(&[-0.5, 0.0]);
        assert!((moved - 0.3).abs() < 0.1, "uplift where it works: {moved}");
        assert!(unmoved.abs() < 0.1, "uplift where it does not: {unmoved}");
        assert!(model.qini.qini_auc > 0.1, "{:?}", model.candidates);
        assert_eq!(model.candidates.len(), 1);
        assert_eq!(model.qini.points.len(), CURVE_POINTS + 1);
        assert!(model
            .describe()
            .contains("average of two-model and X-learner"));
    }

    #[test]
    fn the_average_is_the_mean_of_its_members() {
        let (x, treated, y) = campaign(1500, 6);
        let model = fit_uplift(x.view(), &treated, &y, &UpliftParams::default()).unwrap();
        let Learner::Average { members } = &model.learner else {
            panic!("not an average: {}", model.learner.name())
        };
        let names: Vec<&str> = members.iter().map(Learner::name).collect();
        assert_eq!(names, ["two-model", "X-learner"]);
        for row in [[0.5, 0.1], [-0.7, 0.9], [0.0, -1.0]] {
            let mean = (members[0].uplift(&row) + members[1].uplift(&row)) / 2.0;
            assert!((model.uplift(&row) - mean).abs() < 1e-12);
        }
        assert_eq!(model.learner.models().len(), 4);
    }

    #[test]
    fn each_gbm_is_refitted_for_the_rounds_it_stopped_at() {
        let (x, treated, y) = campaign(3000, 5);
        let held = holdout_rows(&treated, &y, 3);
        let (fit, test): (Vec<usize>, Vec<usize>) = (0..y.len()).partition(|&i| !held[i]);
        let arms_of = |rows: &[usize]| {
            let pick = |v: &[bool]| rows.iter().map(|&i| v[i]).collect::<Vec<_>>();
            Arms::split(x.select(Axis(0), rows).view(), &pick(&treated), &pick(&y))
        };
        let gbm = uplift_gbm();
        let scale = EffectScale::Direct;
        let (stopped, rounds) =
            average::fit_validated(&arms_of(&fit), &arms_of(&test), &gbm, scale, 3);
        for ((name, model), &r) in stopped.models().into_iter().zip(&rounds) {
            assert_eq!(model.trees().len(), r, "{name}");
            assert!(r < gbm.max_rounds, "{name} stopped early: {r}");
        }
        let all = Arms::split(x.view(), &treated, &y);
        let refitted = average::refit(&all, &gbm, rounds, 1.5, scale, 3);
        for ((name, model), &r) in refitted.models().into_iter().zip(&rounds) {
            let scaled = (r as f64 * 1.5).ceil() as usize;
            assert_eq!(model.trees().len(), scaled, "{name}");
        }
    }

    #[test]
    fn each_learner_recovers_the_effect() {
        let (x, treated, y) = campaign(4000, 4);
        let arms = Arms::split(x.view(), &treated, &y);
        let gbm = GbmParams::default();
        let (treatment, control) = fit_two_model(&arms, &gbm, 1);
        let x_learner = fit_x(&arms, &treatment, &control, &gbm, 1);
        let transformed = fit_transformed(x.view(), &treated, &y, &gbm, 1);
        for learner in [
            Learner::TwoModel { treatment, control },
            x_learner,
            transformed,
        ] {
            let (moved, unmoved) = (learner.uplift(&[0.5, 0.0]), learner.uplift(&[-0.5, 0.0]));
            assert!((moved - 0.3).abs() < 0.12, "{}: {moved}", learner.name());
            assert!(unmoved.abs() < 0.12, "{}: {unmoved}", learner.name());
        }
    }

    /// The two response models, then the two effect models, are fitted side by side; each
    /// is the same model on one thread or two.
    #[test]
    fn one_thread_and_two_fit_the_same_uplift_model() {
        let (x, treated, y) = campaign(2000, 8);
        let fit = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .expect("thread pool");
            pool.install(|| fit_uplift(x.view(), &treated, &y, &UpliftParams::default()))
        };
        assert_eq!(fit(1).unwrap(), fit(2).unwrap());
    }

    #[test]
    fn the_holdout_keeps_a_third_of_each_stratum() {
        let (_, treated, y) = campaign(3000, 2);
        let held = holdout_rows(&treated, &y, 7);
        for stratum in [(true, true), (true, false), (false, true), (false, false)] {
            let rows: Vec<usize> = (0..y.len())
                .filter(|&i| (treated[i], y[i]) == stratum)
                .collect();
            let kept = rows.iter().filter(|&&i| held[i]).count();
            assert_eq!(kept, rows.len().div_ceil(HOLDOUT_FOLDS), "{stratum:?}");
        }
        assert_eq!(held, holdout_rows(&treated, &y, 7));
    }

    #[test]
    fn a_thin_arm_is_refused_by_name() {
        let (x, mut treated, y) = campaign(400, 3);
        treated.iter_mut().skip(10).for_each(|t| *t = true);
        let error = fit_uplift(x.view(), &treated, &y, &UpliftParams::default()).unwrap_err();
        assert!(error.to_string().contains("the control arm has"), "{error}");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(8))]
        #[test]
        fn uplift_is_a_difference_of_probabilities(seed in 0u64..1000, a in -3.0f64..3.0, b in -3.0f64..3.0) {
            let (x, treated, y) = campaign(600, seed);
            let params = UpliftParams { gbm: GbmParams { max_rounds: 50, ..uplift_gbm() }, seed, ..UpliftParams::default() };
            let model = fit_uplift(x.view(), &treated, &y, &params).unwrap();
            let u = model.uplift(&[a, b]);
            prop_assert!((-1.0..=1.0).contains(&u), "{}", u);
            // Stored and reloaded, the model answers the same.
            let json = serde_json::to_string(&model).unwrap();
            let back: UpliftModel = serde_json::from_str(&json).unwrap();
            prop_assert_eq!(back.uplift(&[a, b]), u);
        }
    }
}
