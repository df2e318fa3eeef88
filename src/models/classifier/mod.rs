//! Retention risk: churn-model candidates compared by stratified cross-validation, the
//! winner calibrated on its out-of-fold predictions, reason codes for each customer, the
//! readable tree, and lifetime value. Everything here works on the encoder's feature
//! matrix, the same one scoring builds, so training and scoring cannot disagree.

pub mod calibration;
pub mod cv;
pub mod dense_forest;
pub mod explain;
pub mod flat_tree;
pub mod gbm;
pub mod logistic;
pub mod tree_shap;

use crate::data::Table;
use crate::features::{EncoderParams, FeatureEncoder, Value};
use crate::models::contribution::Contribution;
use crate::models::tree::{count_rows, fit_counted_tree, ReadableTree};
use crate::models::value::{ClvBasis, ClvSettings, ValueModel};
use calibration::{sigmoid, CalibrationMethod, Calibrator};
use cv::ReliabilityBin;
pub use explain::{ReasonMethod, TopReasons};
use flat_tree::FlatTree;
use gbm::{GbmModel, GbmParams};
use logistic::{LogisticModel, LogisticParams};
use ndarray::{Array2, ArrayView2, Axis, CowArray, Ix2};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::time::Instant;

#[derive(Debug, thiserror::Error)]
pub enum RetentionError {
    #[error("retention: only {count} labeled customers have outcome `{class}`; {folds}-fold cross-validation needs at least {folds} of each")]
    TooFewOfClass {
        class: &'static str,
        count: usize,
        folds: usize,
    },
    #[error("retention: folds must be at least 2 (got {0})")]
    TooFewFolds(usize),
    #[error("retention: band cut-offs {0:?} must satisfy 0 < medium ≤ high < 1")]
    BadBands([f64; 2]),
    #[error("retention: no candidate models to compare (candidates = [])")]
    NoCandidates,
    #[error("retention: logistic regression failed: {0}")]
    Logistic(String),
    #[error("{}: {message}", path.display())]
    FoldsFile { path: PathBuf, message: String },
    #[error("retention: margin column `{0}` is not a numeric input column")]
    MarginColumn(String),
    #[error("retention: {0} must be positive")]
    NotPositive(&'static str),
    #[error("retention: discount_rate must be at least 0 (got {0})")]
    NegativeDiscount(f64),
}

/// The kinds of churn model we know how to fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CandidateKind {
    Logistic,
    DecisionTree,
    Gbm,
}

impl CandidateKind {
    pub fn name(self) -> &'static str {
        match self {
            CandidateKind::Logistic => "logistic",
            CandidateKind::DecisionTree => "decision_tree",
            CandidateKind::Gbm => "gbm",
        }
    }
}

/// The single-tree candidate (deeper than the readable tree).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DecisionTreeParams {
    pub max_depth: usize,
    pub min_leaf: usize,
}

impl Default for DecisionTreeParams {
    fn default() -> Self {
        DecisionTreeParams {
            max_depth: 6,
            min_leaf: 30,
        }
    }
}

/// The `[retention]` config table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetentionParams {
    pub seed: u64,
    pub folds: usize,
    pub candidates: Vec<CandidateKind>,
    /// Probability at which the medium band starts, and the high band.
    pub bands: [f64; 2],
    pub calibration: CalibrationMethod,
    /// How tree models' reasons are computed.
    pub reasons: ReasonMethod,
    /// Depth and smallest leaf of the readable tree.
    pub tree_depth: usize,
    pub tree_min_leaf: usize,
    /// Margin per period column for CLV (no CLV when absent).
    pub margin: Option<String>,
    pub margin_rate: f64,
    pub margin_periods_per_year: f64,
    pub discount_rate: f64,
    pub horizon_years: f64,
    pub label_period_years: f64,
    pub logistic: LogisticParams,
    pub decision_tree: DecisionTreeParams,
    pub gbm: GbmParams,
    /// Benchmarks only: a CSV of `id,fold` fixing each customer's fold (so another tool
    /// can be compared on the very same folds).
    pub folds_file: Option<PathBuf>,
}

impl Default for RetentionParams {
    fn default() -> Self {
        RetentionParams {
            seed: 42,
            folds: 5,
            candidates: vec![
                CandidateKind::Logistic,
                CandidateKind::DecisionTree,
                CandidateKind::Gbm,
            ],
            bands: [0.2, 0.5],
            calibration: CalibrationMethod::Isotonic,
            reasons: ReasonMethod::default(),
            tree_depth: 3,
            tree_min_leaf: 50,
            margin: None,
            margin_rate: 1.0,
            margin_periods_per_year: 1.0,
            discount_rate: 0.1,
            horizon_years: 10.0,
            label_period_years: 1.0,
            logistic: LogisticParams::default(),
            decision_tree: DecisionTreeParams::default(),
            gbm: GbmParams::default(),
            folds_file: None,
        }
    }
}

impl RetentionParams {
    /// The same settings with the GBM fitted for exactly `rounds` rounds, no early stopping.
    pub fn with_fixed_gbm_rounds(&self, rounds: usize) -> RetentionParams {
        let mut fixed = self.clone();
        fixed.gbm.max_rounds = rounds;
        fixed.gbm.early_stopping_rounds = 0;
        fixed
    }

    pub fn check(&self) -> Result<&Self, RetentionError> {
        if self.folds < 2 {
            return Err(RetentionError::TooFewFolds(self.folds));
        }
        let [medium, high] = self.bands;
        if !(medium > 0.0 && medium <= high && high < 1.0) {
            return Err(RetentionError::BadBands(self.bands));
        }
        if self.candidates.is_empty() {
            return Err(RetentionError::NoCandidates);
        }
        for (value, name) in [
            (self.horizon_years, "horizon_years"),
            (self.label_period_years, "label_period_years"),
            (self.margin_periods_per_year, "margin_periods_per_year"),
        ] {
            if value.is_nan() || value <= 0.0 {
                return Err(RetentionError::NotPositive(name));
            }
        }
        if self.discount_rate.is_nan() || self.discount_rate < 0.0 {
            return Err(RetentionError::NegativeDiscount(self.discount_rate));
        }
        Ok(self)
    }
}

/// A fitted churn model of any kind; all answer in log-odds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ChurnModel {
    Logistic(LogisticModel),
    DecisionTree { tree: FlatTree },
    Gbm(GbmModel),
}

impl ChurnModel {
    pub fn fit(
        kind: CandidateKind,
        x: ArrayView2<f64>,
        y: &[bool],
        params: &RetentionParams,
    ) -> Result<ChurnModel, RetentionError> {
        Ok(match kind {
            CandidateKind::Logistic => ChurnModel::Logistic(
                logistic::fit_logistic(x, y, &params.logistic)
                    .map_err(|e| RetentionError::Logistic(e.to_string()))?,
            ),
            CandidateKind::DecisionTree => {
                let p = &params.decision_tree;
                let (tree, _) = fit_counted_tree(x, y, p.max_depth, p.min_leaf);
                ChurnModel::DecisionTree { tree }
            }
            CandidateKind::Gbm => ChurnModel::Gbm(gbm::fit_gbm(x, y, &params.gbm, params.seed)),
        })
    }

    pub fn log_odds(&self, x: &[f64]) -> f64 {
        match self {
            ChurnModel::Logistic(m) => m.log_odds(x),
            ChurnModel::DecisionTree { tree } => tree.predict(x),
            ChurnModel::Gbm(m) => m.log_odds(x),
        }
    }

    /// Per-feature contributions added to `out`; returns the bias (bias + Σ = log-odds).
    pub fn contributions(&self, x: &[f64], out: &mut [f64], method: ReasonMethod) -> f64 {
        match self {
            ChurnModel::Logistic(m) => m.contributions(x, out),
            ChurnModel::DecisionTree { tree } => tree.contributions(x, out, method),
            ChurnModel::Gbm(m) => m.contributions(x, out, method),
        }
    }

    fn predict_rows(&self, x: ArrayView2<f64>) -> Vec<f64> {
        x.axis_iter(Axis(0))
            .map(|row| match row.as_slice() {
                Some(r) => sigmoid(self.log_odds(r)),
                None => sigmoid(self.log_odds(&row.to_vec())),
            })
            .collect()
    }
}

/// How one candidate did in cross-validation (scores on out-of-fold predictions).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CandidateMetrics {
    pub model: String,
    /// Mean of the per-fold AUCs.
    pub auc: f64,
    pub auc_std: f64,
    pub log_loss: f64,
    pub brier: f64,
    pub top_decile_lift: f64,
    /// Mean seconds to fit one fold.
    pub fit_seconds: f64,
    /// Out-of-fold ROC curve (false positive rate, true positive rate), thinned.
    #[serde(default)]
    pub roc: Vec<(f64, f64)>,
    /// Out-of-fold share of churners found in the top 10%, 20%, … by predicted risk.
    #[serde(default)]
    pub gains: Vec<f64>,
}

/// What the manifest records about retention.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RetentionMetrics {
    pub chosen: String,
    pub folds: usize,
    pub labeled_rows: usize,
    pub churn_rate: f64,
    pub candidates: Vec<CandidateMetrics>,
    /// Candidates that could not be fitted on this table, with the reason.
    pub skipped: Vec<String>,
    pub calibration: Option<CalibrationMethod>,
    /// Expected calibration error of calibrated out-of-fold probabilities (the calibrator
    /// of each fold fitted on the other folds).
    pub ece: f64,
    pub ece_uncalibrated: f64,
    pub customer_equity: Option<f64>,
    /// Seconds to refit the chosen candidate on every labelled row.
    pub refit_seconds: f64,
    /// Seconds for calibration, the readable tree and lifetime value after the refit.
    pub finishing_seconds: f64,
}

impl RetentionMetrics {
    /// The cross-validation figures of the candidate that was chosen.
    pub fn chosen_candidate(&self) -> Option<&CandidateMetrics> {
        self.candidates.iter().find(|c| c.model == self.chosen)
    }
}

/// retention.json: everything scoring needs for the retention answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RetentionModel {
    pub chosen: String,
    pub model: ChurnModel,
    pub calibrator: Calibrator,
    pub reliability: Vec<ReliabilityBin>,
    pub ece: f64,
    pub bands: [f64; 2],
    pub value: Option<ValueModel>,
    #[serde(default)]
    pub reasons: ReasonMethod,
}

impl RetentionModel {
    pub fn probability(&self, features: &[f64]) -> f64 {
        self.calibrator
            .apply(sigmoid(self.model.log_odds(features)))
    }

    pub fn band(&self, probability: f64) -> &'static str {
        match probability {
            p if p >= self.bands[1] => "high",
            p if p >= self.bands[0] => "medium",
            _ => "low",
        }
    }

    /// Where the value model's columns are among the encoder's inputs.
    pub fn value_inputs(&self, encoder: &FeatureEncoder) -> ValueInputs {
        let margin = self
            .value
            .as_ref()
            .and_then(|v| encoder.input_index(&v.settings.margin));
        let current = self.value.as_ref().and_then(|v| match &v.current_value {
            Some(column) => encoder.input_index(column),
            None => margin,
        });
        ValueInputs { margin, current }
    }

    /// Probability, band, reasons (as input columns; see [`explain::reason_texts`]), CLV
    /// and quadrant of one parsed, encoded customer, with buffers reused across customers.
    /// `contribution` is the customer's under the bundle's cost model, if any.
    pub fn score(
        &self,
        encoder: &FeatureEncoder,
        inputs: &ValueInputs,
        values: &[Value],
        features: &[f64],
        contribution: Option<&Contribution>,
        scratch: &mut ReasonScratch,
    ) -> RiskScore {
        let contributions = &mut scratch.contributions;
        contributions.clear();
        contributions.resize(features.len(), 0.0);
        let raw = self
            .model
            .contributions(features, contributions, self.reasons)
            + contributions.iter().sum::<f64>();
        let probability = self.calibrator.apply(sigmoid(raw));
        let number = |at: Option<usize>| {
            let i = at?;
            let x = values.get(i)?.as_number()?;
            Some(encoder.inputs.get(i)?.encoding.value_for_arithmetic(x))
        };
        let (clv, quadrant) = match &self.value {
            Some(v) => {
                let figures =
                    v.figures(number(inputs.margin), number(inputs.current), contribution);
                v.clv_and_quadrant(probability, figures)
            }
            None => (None, None),
        };
        RiskScore {
            probability,
            band: self.band(probability),
            reasons: explain::top_reasons(encoder, contributions, &mut scratch.per_input),
            clv,
            quadrant,
        }
    }
}

/// Input indices of the value model's margin and current-value columns.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ValueInputs {
    margin: Option<usize>,
    current: Option<usize>,
}

/// Buffers [`RetentionModel::score`] reuses from one customer to the next.
#[derive(Debug, Clone, Default)]
pub struct ReasonScratch {
    contributions: Vec<f64>,
    per_input: Vec<f64>,
}

/// The retention answer with reasons as input columns, not yet text.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RiskScore {
    pub probability: f64,
    pub band: &'static str,
    pub reasons: TopReasons,
    pub clv: Option<f64>,
    pub quadrant: Option<&'static str>,
}

/// What training hands the retention fit.
pub struct RetentionInputs<'a> {
    /// Every row through the bundle's encoder (fitted on all rows): the final model's input.
    pub x: &'a Array2<f64>,
    /// The raw table and how its encoder was fitted, so that each cross-validation fold
    /// fits its own encoder on its training rows alone.
    pub table: &'a Table,
    pub ignore: &'a [(String, String)],
    pub encoder_params: &'a EncoderParams,
    /// Outcome per row; `None` = unlabeled (scored for CLV, not fitted on).
    pub churned: &'a [Option<bool>],
    pub ids: &'a [String],
    pub encoder: &'a FeatureEncoder,
    /// Raw numeric columns by name (margin and current value).
    pub numeric: &'a dyn Fn(&str) -> Option<Vec<Option<f64>>>,
    /// The bundle's value column, read as current value for the quadrant.
    pub value_column: Option<&'a str>,
    /// Each row's contribution when CLV and the quadrant run on it.
    pub contribution: Option<&'a [Option<Contribution>]>,
}

/// Everything the retention fit produces.
pub struct RetentionFit {
    pub model: RetentionModel,
    pub tree: ReadableTree,
    pub metrics: RetentionMetrics,
}

pub fn fit_retention(
    inputs: &RetentionInputs,
    params: &RetentionParams,
) -> Result<RetentionFit, RetentionError> {
    fit_retention_watched(inputs, params, &|_| ())
}

/// How many times [`fit_retention_watched`] calls its `next_step`: once per candidate and
/// fold, once for the GBM's folds boosted in step, once for the refit.
pub fn retention_steps(params: &RetentionParams) -> u64 {
    let gbm = params.candidates.contains(&CandidateKind::Gbm);
    (params.folds * params.candidates.len() + usize::from(gbm) + 1) as u64
}

/// [`fit_retention`], naming each step (candidate and fold, the refit) to `next_step`
/// before it starts, so a long comparison can show where it is.
pub fn fit_retention_watched(
    inputs: &RetentionInputs,
    params: &RetentionParams,
    next_step: &dyn Fn(&str),
) -> Result<RetentionFit, RetentionError> {
    params.check()?;
    let (labeled, y) = cv::labelled(inputs.churned);
    check_classes(&y, params.folds)?;
    // Every row labeled (the usual case): the shared matrix itself, not a copy of it.
    let x: CowArray<f64, Ix2> = match labeled.len() == inputs.x.nrows() {
        true => inputs.x.view().into(),
        false => inputs.x.select(Axis(0), &labeled).into(),
    };
    let folds = match &params.folds_file {
        Some(path) => {
            let ids: Vec<&str> = labeled.iter().map(|&i| inputs.ids[i].as_str()).collect();
            read_folds(path, &ids, params.folds)?
        }
        None => cv::stratified_folds(&y, params.folds, params.seed),
    };
    let fold_features = FoldFeatures {
        table: inputs.table,
        ignore: inputs.ignore,
        params: inputs.encoder_params,
        rows: &labeled,
    };
    // A candidate that cannot be fitted on this table is reported and left out; the
    // others still compete.
    let (mut results, mut skipped, mut first_error) = (Vec::new(), Vec::new(), None);
    let outcomes = cross_validate(
        &params.candidates,
        &fold_features,
        &y,
        &folds,
        params,
        next_step,
    );
    for (&kind, outcome) in params.candidates.iter().zip(outcomes) {
        match outcome {
            Ok(run) => results.push((kind, run)),
            Err(e) => {
                skipped.push(format!("{}: {e}", kind.name()));
                first_error.get_or_insert(e);
            }
        }
    }
    let best = (0..results.len()).max_by(|&a, &b| {
        results[a]
            .1
            .metrics
            .auc
            .total_cmp(&results[b].1.metrics.auc)
    });
    let Some((kind, chosen)) = best.map(|b| &results[b]) else {
        return Err(first_error.unwrap_or(RetentionError::NoCandidates));
    };
    let kind = *kind;
    next_step(&format!("refitting {} on every row", kind.name()));

    // A GBM ships with the round count its folds chose together, so the out-of-fold
    // predictions the calibrator learns from are those of the configuration shipped.
    let refit_started = Instant::now();
    let model = match chosen.gbm_rounds {
        Some(rounds) => ChurnModel::fit(kind, x.view(), &y, &params.with_fixed_gbm_rounds(rounds))?,
        None => ChurnModel::fit(kind, x.view(), &y, params)?,
    };
    let refit_seconds = refit_started.elapsed().as_secs_f64();
    let finishing_started = Instant::now();
    let shipped_oof = &chosen.oof;
    let calibrated =
        cross_fitted_calibration(params.calibration, &y, shipped_oof, &folds, params.folds);
    let reliability = cv::reliability(&y, &calibrated);
    let ece = cv::ece(&reliability);
    let ece_uncalibrated = cv::ece(&cv::reliability(&y, shipped_oof));
    let calibrator = Calibrator::fit(params.calibration, &y, shipped_oof);
    let tree = ReadableTree::fit(
        x.view(),
        &y,
        inputs.encoder,
        params.tree_depth,
        params.tree_min_leaf,
    );
    let mut retention = RetentionModel {
        chosen: chosen.metrics.model.clone(),
        model,
        calibrator,
        reliability,
        ece,
        bands: params.bands,
        value: None,
        reasons: params.reasons,
    };
    retention.value = fit_value(inputs, params, &retention)?;
    let metrics = RetentionMetrics {
        chosen: retention.chosen.clone(),
        folds: params.folds,
        labeled_rows: y.len(),
        churn_rate: y.iter().filter(|&&c| c).count() as f64 / y.len() as f64,
        candidates: results.into_iter().map(|r| r.1.metrics).collect(),
        skipped,
        calibration: Some(params.calibration),
        ece,
        ece_uncalibrated,
        customer_equity: retention.value.as_ref().map(|v| v.equity),
        refit_seconds,
        finishing_seconds: finishing_started.elapsed().as_secs_f64(),
    };
    Ok(RetentionFit {
        model: retention,
        tree,
        metrics,
    })
}

fn check_classes(y: &[bool], folds: usize) -> Result<(), RetentionError> {
    let positives = y.iter().filter(|&&c| c).count();
    for (class, count) in [("churned", positives), ("stayed", y.len() - positives)] {
        if count < folds {
            return Err(RetentionError::TooFewOfClass {
                class,
                count,
                folds,
            });
        }
    }
    Ok(())
}

/// The labeled rows' features for one cross-validation fold, through an encoder fitted
/// on that fold's training rows only: the held-out rows shape no median, scale or
/// category group, so the fold's AUC is an honest out-of-sample figure.
pub struct FoldFeatures<'a> {
    pub table: &'a Table,
    pub ignore: &'a [(String, String)],
    pub params: &'a EncoderParams,
    /// Table row of each labeled customer (the rows `y` and `folds` describe).
    pub rows: &'a [usize],
}

impl FoldFeatures<'_> {
    /// The encoder fitted on positions `train` of the labeled rows, and their matrix.
    pub fn training(&self, train: &[usize]) -> (FeatureEncoder, Array2<f64>) {
        let train = self.table_rows(train);
        let encoder = FeatureEncoder::fit_rows(self.table, &train, self.ignore, self.params);
        let x = encoder.encode_rows_matrix(self.table, &train);
        (encoder, x)
    }

    /// Positions `test` of the labeled rows through a fold's encoder.
    pub fn held_out(&self, encoder: &FeatureEncoder, test: &[usize]) -> Array2<f64> {
        encoder.encode_rows_matrix(self.table, &self.table_rows(test))
    }

    fn table_rows(&self, at: &[usize]) -> Vec<usize> {
        at.iter().map(|&i| self.rows[i]).collect()
    }
}

/// One candidate's cross-validation: its metrics, its out-of-fold probabilities and, for
/// the GBM, the round count the folds chose together (the count the shipped model gets).
pub struct CandidateRun {
    pub metrics: CandidateMetrics,
    pub oof: Vec<f64>,
    pub gbm_rounds: Option<usize>,
}

/// Fit each of `kinds` on all folds but one, predict the held-out one; per kind, the
/// metrics and the out-of-fold probabilities (or why it could not be fitted). Each fold's
/// features are built once and shared by every kind; its training matrix is let go before
/// its held-out one is built, so only one of them is held at a time. The GBM's folds are
/// binned once and boosted in step after the loop, so early stopping chooses one round
/// count for all.
pub fn cross_validate(
    kinds: &[CandidateKind],
    features: &FoldFeatures,
    y: &[bool],
    folds: &[usize],
    params: &RetentionParams,
    next_step: &dyn Fn(&str),
) -> Vec<Result<CandidateRun, RetentionError>> {
    let mut runs: Vec<Result<FoldRun, RetentionError>> =
        kinds.iter().map(|_| Ok(FoldRun::new(y.len()))).collect();
    let gbm_at = kinds.iter().position(|&k| k == CandidateKind::Gbm);
    let mut gbm_folds = Vec::new();
    let mut tests = Vec::new();
    for k in 0..params.folds {
        let (test, train): (Vec<usize>, Vec<usize>) = (0..y.len()).partition(|&i| folds[i] == k);
        let (encoder, x_train) = features.training(&train);
        let y_train: Vec<bool> = train.iter().map(|&i| y[i]).collect();
        let y_test: Vec<bool> = test.iter().map(|&i| y[i]).collect();
        // The GBM's fold is binned first: the tree candidate grows on the same bins.
        let gbm_fold = gbm_at.and_then(|at| {
            let state = runs[at].as_mut().ok()?;
            next_step(&format!("gbm, fold {}/{}", k + 1, params.folds));
            let started = Instant::now();
            let fold = gbm::GbmFold::from_training(x_train.view(), &y_train, &params.gbm);
            state.seconds += started.elapsed().as_secs_f64();
            Some(fold)
        });
        let mut fitted: Vec<Option<ChurnModel>> = Vec::with_capacity(kinds.len());
        for (&kind, run) in kinds.iter().zip(&mut runs) {
            let Ok(state) = run else {
                fitted.push(None);
                continue;
            };
            if kind == CandidateKind::Gbm {
                fitted.push(None);
                continue;
            }
            next_step(&format!("{}, fold {}/{}", kind.name(), k + 1, params.folds));
            let started = Instant::now();
            match fit_fold(kind, x_train.view(), &y_train, gbm_fold.as_ref(), params) {
                Ok(model) => {
                    state.seconds += started.elapsed().as_secs_f64();
                    fitted.push(Some(model));
                }
                Err(e) => {
                    *run = Err(e);
                    fitted.push(None);
                }
            }
        }
        drop(x_train);
        let x_test = features.held_out(&encoder, &test);
        for (run, model) in runs.iter_mut().zip(fitted) {
            if let (Ok(state), Some(model)) = (run, model) {
                state.record(&test, &y_test, model.predict_rows(x_test.view()));
            }
        }
        if let (Some(fold), Some(Ok(state))) = (gbm_fold, gbm_at.map(|at| &mut runs[at])) {
            let started = Instant::now();
            gbm_folds.push(fold.with_held_out(x_test.view(), &y_test));
            state.seconds += started.elapsed().as_secs_f64();
        }
        tests.push((test, y_test));
    }
    let mut gbm_rounds = None;
    if let Some(at) = gbm_at {
        if let Ok(state) = &mut runs[at] {
            next_step(&format!("gbm, {} folds boosted in step", params.folds));
            let started = Instant::now();
            let (rounds, held_out) = gbm::cross_validate_rounds(gbm_folds, &params.gbm);
            state.seconds += started.elapsed().as_secs_f64();
            for ((test, y_test), log_odds) in tests.iter().zip(held_out) {
                state.record(test, y_test, log_odds.into_iter().map(sigmoid).collect());
            }
            gbm_rounds = Some(rounds);
        }
    }
    kinds
        .iter()
        .zip(runs)
        .map(|(&kind, run)| {
            run.map(|run| {
                let (metrics, oof) = run.finish(kind, y, params.folds);
                CandidateRun {
                    metrics,
                    oof,
                    gbm_rounds: gbm_rounds.filter(|_| kind == CandidateKind::Gbm),
                }
            })
        })
        .collect()
}

/// A non-GBM candidate on one fold's training rows; the tree candidate grows on the GBM
/// fold's bins when there is one with the bins it uses.
fn fit_fold(
    kind: CandidateKind,
    x_train: ArrayView2<f64>,
    y_train: &[bool],
    gbm_fold: Option<&gbm::GbmFold>,
    params: &RetentionParams,
) -> Result<ChurnModel, RetentionError> {
    let p = &params.decision_tree;
    let binned_tree = (kind == CandidateKind::DecisionTree)
        .then(|| gbm_fold?.fit_cart(p.max_depth, p.min_leaf))
        .flatten();
    match binned_tree {
        Some(tree) => Ok(ChurnModel::DecisionTree {
            tree: count_rows(tree, x_train, y_train).0,
        }),
        None => ChurnModel::fit(kind, x_train, y_train, params),
    }
}

/// One candidate's cross-validation so far.
struct FoldRun {
    oof: Vec<f64>,
    aucs: Vec<f64>,
    seconds: f64,
}

impl FoldRun {
    fn new(rows: usize) -> Self {
        FoldRun {
            oof: vec![0.0; rows],
            aucs: Vec::new(),
            seconds: 0.0,
        }
    }

    /// One fold's held-out probabilities.
    fn record(&mut self, test: &[usize], y_test: &[bool], p: Vec<f64>) {
        self.aucs.push(cv::auc(y_test, &p));
        for (&i, p) in test.iter().zip(p) {
            self.oof[i] = p;
        }
    }

    fn finish(self, kind: CandidateKind, y: &[bool], folds: usize) -> (CandidateMetrics, Vec<f64>) {
        let oof = self.oof;
        let metrics = CandidateMetrics {
            model: kind.name().to_string(),
            auc: crate::models::stats::mean(&self.aucs),
            auc_std: crate::models::stats::std_dev(&self.aucs),
            log_loss: cv::log_loss(y, &oof),
            brier: cv::brier(y, &oof),
            top_decile_lift: cv::top_decile_lift(y, &oof),
            fit_seconds: self.seconds / folds as f64,
            roc: cv::roc_curve(y, &oof, 60),
            gains: cv::cumulative_gains(y, &oof),
        };
        (metrics, oof)
    }
}

/// Calibrated out-of-fold probabilities: each fold's calibrator is fitted on the other
/// folds' out-of-fold predictions, so the calibration error is measured honestly.
pub fn cross_fitted_calibration(
    method: CalibrationMethod,
    y: &[bool],
    oof: &[f64],
    folds: &[usize],
    k: usize,
) -> Vec<f64> {
    let mut out = vec![0.0; y.len()];
    for fold in 0..k {
        let (test, train): (Vec<usize>, Vec<usize>) = (0..y.len()).partition(|&i| folds[i] == fold);
        let y_train: Vec<bool> = train.iter().map(|&i| y[i]).collect();
        let p_train: Vec<f64> = train.iter().map(|&i| oof[i]).collect();
        let calibrator = Calibrator::fit(method, &y_train, &p_train);
        for i in test {
            out[i] = calibrator.apply(oof[i]);
        }
    }
    out
}

/// CLV settings, quadrant thresholds and equity over every customer (labeled or not).
fn fit_value(
    inputs: &RetentionInputs,
    params: &RetentionParams,
    model: &RetentionModel,
) -> Result<Option<ValueModel>, RetentionError> {
    let Some(margin_column) = &params.margin else {
        return Ok(None);
    };
    let margins = (inputs.numeric)(margin_column)
        .filter(|_| inputs.encoder.input_index(margin_column).is_some())
        .ok_or_else(|| RetentionError::MarginColumn(margin_column.clone()))?;
    let settings = ClvSettings {
        margin: margin_column.clone(),
        margin_rate: params.margin_rate,
        periods_per_year: params.margin_periods_per_year,
        discount_rate: params.discount_rate,
        horizon_years: params.horizon_years,
        label_period_years: params.label_period_years,
    };
    let current = inputs.value_column.and_then(|c| (inputs.numeric)(c));
    let current_name = current
        .is_some()
        .then(|| inputs.value_column.map(String::from))
        .flatten();
    let basis = match inputs.contribution {
        Some(_) => ClvBasis::Contribution,
        None => ClvBasis::Margin,
    };
    // The model's answers per row come from the fitted settings, thresholds not yet known.
    let unfitted = ValueModel::fit(settings.clone(), basis, current_name.clone(), &[]);
    let mut rows = Vec::new();
    for (i, row) in inputs.x.axis_iter(Axis(0)).enumerate() {
        let contribution = inputs.contribution.and_then(|c| c[i].as_ref());
        let value_column = current.as_ref().and_then(|values| values[i]);
        let (margin, current_value) = unfitted.figures(margins[i], value_column, contribution);
        let Some(margin) = margin else { continue };
        let p = model.probability(&row.to_vec());
        rows.push((current_value, settings.clv(margin, p)));
    }
    Ok(Some(ValueModel::fit(settings, basis, current_name, &rows)))
}

/// Read `id,fold` rows (header first) into the fold of each labeled customer.
fn read_folds(
    path: &std::path::Path,
    ids: &[&str],
    k: usize,
) -> Result<Vec<usize>, RetentionError> {
    let error = |message: String| RetentionError::FoldsFile {
        path: path.to_path_buf(),
        message,
    };
    let mut reader = csv::Reader::from_path(path).map_err(|e| error(e.to_string()))?;
    let mut by_id = std::collections::HashMap::new();
    for (n, record) in reader.records().enumerate() {
        let record = record.map_err(|e| error(e.to_string()))?;
        let line = n + 2;
        let (Some(id), Some(fold)) = (record.get(0), record.get(1)) else {
            return Err(error(format!("line {line}: expected id,fold")));
        };
        let fold: usize = fold
            .trim()
            .parse()
            .ok()
            .filter(|&f| f < k)
            .ok_or_else(|| error(format!("line {line}: fold {fold:?} is not in 0..{k}")))?;
        by_id.insert(id.trim().to_string(), fold);
    }
    ids.iter()
        .map(|id| {
            by_id
                .get(*id)
                .copied()
                .ok_or_else(|| error(format!("customer {id:?} has no fold")))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{Column, ColumnData, DataQuality, Table};
    use crate::features::EncoderParams;
    use std::borrow::Cow;

    /// Churn rises with `calls` and on the `monthly` plan; `noise` carries nothing.
    fn table(rows: usize) -> (Table, Vec<Option<bool>>) {
        let calls: Vec<Option<f64>> = (0..rows).map(|i| Some((i * 7 % 10) as f64)).collect();
        let noise: Vec<Option<f64>> = (0..rows).map(|i| Some((i * 13 % 17) as f64)).collect();
        let plan: Vec<Option<crate::data::Text>> = (0..rows)
            .map(|i| Some(if i % 3 == 0 { "yearly" } else { "monthly" }.into()))
            .collect();
        let churned = (0..rows)
            .map(|i| {
                let score = (i * 7 % 10) as f64 / 10.0 + if i % 3 == 0 { 0.0 } else { 0.4 };
                let wobble = (i * 31 % 100) as f64 / 100.0;
                Some(score > wobble + 0.3)
            })
            .collect();
        let column = |name: &str, data| Column {
            name: name.into(),
            data,
        };
        let table = Table {
            source: "t".into(),
            sha256: String::new(),
            ids: (0..rows).map(|i| i.to_string()).collect(),
            lines: (0..rows as u64).collect(),
            columns: vec![
                column("calls", ColumnData::Numeric(calls)),
                column("noise", ColumnData::Numeric(noise)),
                column("plan", ColumnData::Categorical(plan)),
            ],
            quality: DataQuality::default(),
        };
        (table, churned)
    }

    #[test]
    fn params_are_checked() {
        let check = |p: RetentionParams| p.check().map(|_| ()).map_err(|e| e.to_string());
        let bad = |f: fn(&mut RetentionParams)| {
            let mut p = RetentionParams::default();
            f(&mut p);
            check(p).unwrap_err()
        };
        assert!(check(RetentionParams::default()).is_ok());
        assert!(bad(|p| p.folds = 1).contains("folds"));
        assert!(bad(|p| p.bands = [0.6, 0.5]).contains("cut-offs"));
        assert!(bad(|p| p.candidates.clear()).contains("candidates"));
        assert!(bad(|p| p.horizon_years = 0.0).contains("horizon_years"));
        assert!(bad(|p| p.discount_rate = -0.1).contains("discount_rate"));
    }

    #[test]
    fn params_are_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<RetentionParams>();
        check::<RetentionModel>();
    }

    #[test]
    fn linear_reasons_are_the_largest_parts_of_the_prediction() {
        let (table, churned) = table(600);
        let encoder = FeatureEncoder::fit(&table, &[], &EncoderParams::default());
        let x = crate::train::to_matrix(&encoder.encode_table(&table), encoder.n_features());
        let numeric = |_: &str| None;
        let params = RetentionParams {
            candidates: vec![CandidateKind::Logistic],
            ..RetentionParams::default()
        };
        let inputs = RetentionInputs {
            x: &x,
            table: &table,
            ignore: &[],
            encoder_params: &EncoderParams::default(),
            churned: &churned,
            ids: &table.ids,
            encoder: &encoder,
            numeric: &numeric,
            value_column: None,
            contribution: None,
        };
        let fit = fit_retention(&inputs, &params).unwrap();
        let model = &fit.model;
        let ChurnModel::Logistic(linear) = &model.model else {
            panic!("only the logistic candidate was asked for")
        };
        assert!(fit.metrics.candidates[0].auc > 0.7, "{:?}", fit.metrics);

        // A monthly customer with many calls: both real signals push the risk up.
        let raw = vec![
            Value::Number(9.0),
            Value::Number(3.0),
            Value::Text(Cow::Borrowed("monthly")),
        ];
        let values = encoder.parse(raw).unwrap();
        let (mut features, mut warnings) = (Vec::new(), Vec::new());
        encoder.encode(&values, &mut features, &mut warnings);
        let inputs = model.value_inputs(&encoder);
        let risk = model.score(
            &encoder,
            &inputs,
            &values,
            &features,
            None,
            &mut ReasonScratch::default(),
        );
        assert!((risk.probability - model.probability(&features)).abs() < 1e-12);
        let reasons = explain::reason_texts(&encoder, &values, &risk.reasons);

        // Per input: weight × (value − mean), summed over a one-hot block; with the bias
        // they give back the model's log-odds exactly.
        let mut parts = vec![0.0; encoder.n_features()];
        let bias = linear.contributions(&features, &mut parts);
        let total = bias + parts.iter().sum::<f64>();
        assert!((total - model.model.log_odds(&features)).abs() < 1e-9);
        let mut per_input = vec![0.0; encoder.inputs.len()];
        for (f, part) in encoder.features.iter().zip(&parts) {
            per_input[f.input] += part;
        }
        assert!(reasons[0].starts_with("calls = 9 (+"), "{:?}", reasons);
        assert!(reasons[1].starts_with("plan = monthly (+"), "{:?}", reasons);
        for (reason, input) in reasons.iter().zip([0, 2]) {
            assert!(
                reason.ends_with(&format!("({:+.2})", per_input[input])),
                "{reason}"
            );
        }
    }
}
