//! Training: read the customer table, fit the encoder and every model, and assemble the
//! bundle. Saving is the caller's choice (`Bundle::save`), so tests can train in memory.

use crate::bundle::ScoredTraining;
use crate::bundle::{
    library_versions, Bundle, BundleError, CrossSellMetrics, Manifest, Metrics, Schema,
    SegmentMetrics, TrainingData, FORMAT_VERSION,
};
use crate::config::{ConfigError, Label, TrainConfig};
use crate::data::transactions::{self, TransactionError};
use crate::data::Baskets;
use crate::data::{read_customers, ColumnData, DataError, ReadOptions, Table, Text};
use crate::features::FeatureEncoder;
use crate::models::classifier::{
    fit_retention_watched, retention_steps, RetentionError, RetentionFit, RetentionInputs,
    RetentionParams,
};
use crate::models::lifetime::summary::CustomerHistory;
use crate::models::lifetime::{LifetimeModel, LifetimeSettings, RepeatSummary};
use crate::models::offers::HistoryBuilder;
use crate::models::rfm::RfmModel;
use crate::models::rules::{evaluate_hit_rate, holdings_baskets, CrossSellModel};
use crate::models::segment::{
    bootstrap_stability, cluster, cluster_steps, full_centroids, match_ids, profile_segments,
    project, renumber, segment_slots, stability_draws, value_cube, Clustering, CubeCell, CubeRow,
    KChoice, ProfileInputs, PyramidError, SegmentError, SegmentModel,
};
use crate::models::targets::{fit_target, TargetError, TargetMetrics, TargetModel};
use crate::monitoring::DriftReference;
use crate::progress::Progress;
use ndarray::Array2;

#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Data(#[from] DataError),
    #[error(transparent)]
    Segment(#[from] SegmentError),
    #[error(transparent)]
    Pyramid(#[from] PyramidError),
    #[error(transparent)]
    Contribution(#[from] crate::models::contribution::ContributionError),
    #[error(transparent)]
    Bundle(#[from] BundleError),
    #[error(transparent)]
    Retention(#[from] RetentionError),
    #[error(transparent)]
    Target(#[from] TargetError),
    #[error("{file}: label column `{column}` is {positive:?} on every labeled row; a churn model needs customers who stayed too")]
    LabelConstant {
        file: String,
        column: String,
        positive: String,
    },
    #[error(
        "{file}: label column `{column}` never has the value {positive:?} (values seen: {seen})"
    )]
    LabelNeverOccurs {
        file: String,
        column: String,
        positive: String,
        seen: String,
    },
    #[error(transparent)]
    Transactions(#[from] TransactionError),
    #[error("{file}: value column `{column}` must be numeric (it holds text)")]
    ValueNotNumeric { file: String, column: String },
    #[error("--holdout needs a churn label (--label COL=VALUE) to compare bundles on")]
    HoldoutNeedsLabel,
    #[error(transparent)]
    Uplift(#[from] crate::models::uplift::UpliftError),
    #[error(transparent)]
    Actions(#[from] crate::decisions::ActionsError),
}

/// Labelled customers kept for comparing bundles: the table (label column removed) and
/// each row's label (`None` = unknown).
#[derive(Debug, Clone)]
pub struct Holdout {
    /// Where the rows came from, for messages and gate.json.
    pub source: String,
    pub table: Table,
    pub churned: Vec<Option<bool>>,
    /// Kept out of this training file (rather than read from `--holdout`): a champion
    /// trained on the same file has seen these rows.
    pub kept_out: bool,
}

/// One row in this many (stratified by the label) is kept out of fitting by
/// [`train_with_holdout`]: 20%.
pub const HOLDOUT_FOLDS: usize = 5;

/// Fit every model the configuration asks for and return the (unsaved) bundle.
pub fn train(config: &TrainConfig, progress: &Progress) -> Result<Bundle, TrainError> {
    Ok(train_with_holdout(config, progress, false, None)?.0)
}

/// As [`train`]; segments that match the `champion` bundle's (the one CURRENT points to)
/// keep its segment ids.
pub fn train_against(
    config: &TrainConfig,
    progress: &Progress,
    champion: Option<&Bundle>,
) -> Result<Bundle, TrainError> {
    Ok(train_with_holdout(config, progress, false, champion)?.0)
}

/// [`train_against`], optionally keeping a stratified 20% of the labelled customers out
/// of fitting and returning them (only when the config has a label).
pub fn train_with_holdout(
    config: &TrainConfig,
    progress: &Progress,
    keep_holdout: bool,
    champion: Option<&Bundle>,
) -> Result<(Bundle, Option<Holdout>), TrainError> {
    config.check()?;
    // Baskets of the order log's invoices, when it names items: the cross-sell source.
    let mut invoices: Option<Baskets> = None;
    let mut purchases: Option<HistoryBuilder> = None;
    let mut lifetime_holdout = None;
    let (mut table, log, config) = match &config.transactions.file {
        Some(path) if config.data.customers.is_none() => {
            let log = crate::train_log::table_from_log(path, config, progress)?;
            (invoices, purchases) = log.items.unzip();
            lifetime_holdout = log.lifetime_holdout;
            let config = from_log_config(config, &log.info.spec.customer_col);
            (log.table, Some(log.info), config)
        }
        _ => {
            let path = config
                .data
                .customers
                .as_deref()
                .ok_or(ConfigError::NoCustomers)?;
            progress.step(&format!("reading {}", path.display()));
            let table = read_customers(path, &read_options(config)?)?;
            (table, None, config.clone())
        }
    };
    let config = &config;
    let label = config.label()?;
    let sampled_from = sample_table(&mut table, label.as_ref(), config, progress)?;
    let holdout = match (&label, keep_holdout) {
        (Some(label), true) => Some(take_holdout(&mut table, label, config.retention.seed)?),
        _ => None,
    };
    for column in &config.data.drop {
        table.remove_column(column);
    }
    let treated = (config.data.campaign.as_ref())
        .filter(|c| c.uplift)
        .map(|_| crate::outcomes::uplift::split_arm(&mut table));
    let churned = label
        .as_ref()
        .map(|l| split_label(&mut table, l))
        .transpose()?;
    let plan = config.target_plan()?;
    let mut other_labels = Vec::new();
    for spec in plan.others() {
        other_labels.push((spec, split_label(&mut table, &spec.label)?));
    }
    let value = value_column(&table, config.data.value.as_deref())?;

    progress.step("fitting the feature encoder");
    let mut ignore = ignored_columns(&table);
    let lifetime = match &log {
        Some(_) => {
            progress.step("fitting BG/NBD and Gamma-Gamma (lifetime value)");
            ignore.extend(transactions::LIFETIME_INPUTS.map(|c| {
                (
                    c.to_string(),
                    "input of the lifetime models only".to_string(),
                )
            }));
            fit_lifetime(&table, lifetime_holdout.take())
        }
        None => None,
    };
    let rfm = log
        .as_ref()
        .and_then(|log| RfmModel::fit(&table, log.spec.churn_after_days as f64));
    let encoder = FeatureEncoder::fit(&table, &ignore, &config.features);
    let mut matrix = encoder.encode_table_matrix(&table);
    // Cost columns describe us, not the customer: no model reads them (unless asked).
    let cost_columns = model_excluded_inputs(&config.value, &encoder);
    crate::models::targets::zero_inputs(&mut matrix, &encoder, &cost_columns);
    ignore.extend(config.value.model_excluded_columns().into_iter().map(|c| {
        (
            c.to_string(),
            "a cost column (describes us, not the customer)".to_string(),
        )
    }));

    let (segments, segment_labels) = fit_segments(
        &SegmentInputs {
            matrix: &matrix,
            table: &table,
            encoder: &encoder,
            churned: churned.as_deref(),
            value: value.as_deref(),
            champion,
        },
        &config.segments,
        progress,
    )?;
    let silhouette = (segments.k_scores.iter())
        .find(|s| s.k == segments.k())
        .map(|s| s.silhouette);

    progress.step("building the value pyramid");
    let revenue = config.data.value.as_deref().zip(value.as_deref());
    let pyramid = crate::models::contribution::train_pyramid(
        &config.pyramid,
        &config.value,
        revenue,
        &table,
        &encoder,
        log.is_some(),
    )?;

    // On the contribution basis, CLV and the quadrant run on contribution too.
    let contributions =
        crate::models::contribution::training_contributions(pyramid.as_ref(), &table, &encoder);
    let cross_sell = fit_cross_sell(&table, invoices.as_ref(), config, progress);
    let history = cross_sell
        .as_ref()
        .zip(purchases)
        .map(|((model, _), purchases)| purchases.finish(model));
    let retention = match &churned {
        Some(churned) => {
            let stage = progress.stage(
                "comparing churn models by cross-validation",
                table.rows(),
                retention_steps(&config.retention),
            );
            let numeric = |name: &str| {
                table
                    .column(name)
                    .and_then(|c| c.numeric())
                    .map(<[Option<f64>]>::to_vec)
            };
            Some(fit_retention_watched(
                &RetentionInputs {
                    x: &matrix,
                    table: &table,
                    ignore: &ignore,
                    encoder_params: &config.features,
                    churned,
                    ids: &table.ids,
                    encoder: &encoder,
                    numeric: &numeric,
                    value_column: config.data.value.as_deref(),
                    contribution: contributions.as_deref(),
                },
                &config.retention,
                &|step| stage.next(step),
            )?)
        }
        None => None,
    };
    let mut targets = Vec::new();
    let mut target_metrics = std::collections::BTreeMap::new();
    for (spec, labels) in &other_labels {
        progress.step(&format!(
            "comparing models for target `{}` by cross-validation",
            spec.name
        ));
        let numeric = |_: &str| None;
        let inputs = RetentionInputs {
            x: &matrix,
            table: &table,
            ignore: &ignore,
            encoder_params: &config.features,
            churned: labels,
            ids: &table.ids,
            encoder: &encoder,
            numeric: &numeric,
            value_column: None,
            contribution: None,
        };
        // Lifetime value belongs to the attrition target alone.
        let params = RetentionParams {
            margin: None,
            ..config.retention.clone()
        };
        let (fit, strongest) = fit_target(spec, &inputs, &params)?;
        let (strongest_input, strongest_input_auc) = strongest.unzip();
        let mut tree = fit.tree;
        tree.link_segments(matrix.view(), &segment_labels, segments.k());
        targets.push(TargetModel {
            name: spec.name.clone(),
            model: fit.model,
            tree,
        });
        target_metrics.insert(
            spec.name.clone(),
            TargetMetrics {
                fit: fit.metrics,
                strongest_input,
                strongest_input_auc,
            },
        );
    }
    let (retention, mut tree, retention_metrics) = match retention {
        Some(RetentionFit {
            model,
            tree,
            metrics,
        }) => (Some(model), Some(tree), Some(metrics)),
        None => (None, None, None),
    };

    let uplift = match (&treated, &churned) {
        (Some(treated), Some(responded)) => {
            progress.step("fitting the uplift learners (two-model, X-learner)");
            let params = crate::models::uplift::UpliftParams {
                seed: config.retention.seed,
                ..Default::default()
            };
            Some(crate::outcomes::uplift::fit(
                &matrix, treated, responded, &params,
            )?)
        }
        _ => None,
    };

    if let Some(tree) = &mut tree {
        tree.link_segments(matrix.view(), &segment_labels, segments.k());
    }

    let mut schema = Schema::from_encoder(
        &encoder,
        config.data.id.clone(),
        label,
        config.data.value.clone(),
        config.data.drop.clone(),
    );
    if plan.targets.len() > 1 || plan.targets.iter().any(|t| !t.excluded.is_empty()) {
        schema.targets = plan.targets.clone();
    }
    let manifest = Manifest {
        format_version: FORMAT_VERSION,
        version: version_name(&table.sha256),
        created: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        custscore_version: crate::VERSION.to_string(),
        libraries: library_versions(),
        training: TrainingData {
            source: match &config.data.campaign {
                Some(c) => format!("campaign {}", c.campaign),
                None => table.source.clone(),
            },
            sha256: table.sha256.clone(),
            rows: table.rows(),
            sampled_from,
            campaign: config.data.campaign.clone(),
        },
        schema,
        metrics: Metrics {
            segments: SegmentMetrics {
                k: segments.k(),
                inertia: segments.inertia,
                silhouette,
            },
            cross_sell: cross_sell.as_ref().map(|(_, metrics)| metrics.clone()),
            retention: retention_metrics,
            targets: target_metrics,
            scored_training: None,
        },
        files: Default::default(),
        transactions: log,
    };
    let mut bundle = Bundle {
        manifest,
        encoder,
        segments,
        pyramid,
        quality: match config.data.quality_samples {
            true => table.quality.clone(),
            false => table.quality.clone().without_values(),
        },
        rules: cross_sell.map(|(model, _)| model),
        retention,
        tree,
        targets,
        drift: None,
        lifetime,
        rfm,
        history,
        uplift,
        actions: None,
    };
    if !config.actions.is_empty() {
        let actions = crate::decisions::ActionSet::from_specs(
            config.actions.clone(),
            std::path::Path::new("[[actions]] of the training config"),
        )?;
        crate::decisions::Decider::for_bundle(actions.clone(), &bundle)?;
        bundle.actions = Some(actions);
    }
    progress.step("profiling the training inputs for drift monitoring");
    bundle.drift = Some(drift_reference(&bundle, &table));
    if bundle.retention.is_some() {
        progress.step("scoring the training customers with the finished bundle");
        bundle.manifest.metrics.scored_training = Some(score_training(&bundle, &table));
    }
    bundle.segments.cube = training_cube(&bundle, &table, churned.as_deref(), value.as_deref());
    Ok((bundle, holdout))
}

/// Input indices of the cost columns the models must not read.
fn model_excluded_inputs(
    cost: &crate::models::contribution::CostParams,
    encoder: &FeatureEncoder,
) -> Vec<usize> {
    (cost.model_excluded_columns().into_iter())
        .filter_map(|c| encoder.input_index(c))
        .collect()
}

/// `--sample N`: keep N rows of a larger table, stratified by the label (uniform without
/// one); returns how many rows the table held, when it was sampled.
fn sample_table(
    table: &mut Table,
    label: Option<&Label>,
    config: &TrainConfig,
    progress: &Progress,
) -> Result<Option<usize>, TrainError> {
    let (Some(n), rows) = (config.data.sample, table.rows()) else {
        return Ok(None);
    };
    if n >= rows {
        return Ok(None);
    }
    let class = match label {
        Some(label) => label_of(table, label)?,
        None => vec![None; rows],
    };
    progress.step(&format!("sampling {n} of {rows} customers"));
    let keep = crate::data::sample::stratified_sample(&class, n, config.retention.seed);
    *table = table.select_rows(&keep);
    Ok(Some(rows))
}

/// Move a stratified 1/[`HOLDOUT_FOLDS`] of the labelled rows out of `table` (all columns,
/// as read) into a [`Holdout`]; unlabelled rows stay for fitting.
fn take_holdout(table: &mut Table, label: &Label, seed: u64) -> Result<Holdout, TrainError> {
    let churned = label_of(table, label)?;
    let (labelled, y) = crate::models::classifier::cv::labelled(&churned);
    let folds = crate::models::classifier::cv::stratified_folds(&y, HOLDOUT_FOLDS, seed);
    let held: Vec<usize> = (labelled.iter().zip(&folds))
        .filter(|(_, &fold)| fold == 0)
        .map(|(&row, _)| row)
        .collect();
    let fit: Vec<usize> = (0..table.rows())
        .filter(|row| held.binary_search(row).is_err())
        .collect();
    let mut kept = table.select_rows(&held);
    *table = table.select_rows(&fit);
    let churned = split_label(&mut kept, label)?;
    Ok(Holdout {
        source: format!(
            "{} (a stratified 1/{HOLDOUT_FOLDS} kept out of fitting)",
            table.source
        ),
        table: kept,
        churned,
        kept_out: true,
    })
}

/// Read a labelled customer table to compare bundles on (`train --holdout FILE`): the
/// same id and label as training.
pub fn read_holdout(path: &std::path::Path, config: &TrainConfig) -> Result<Holdout, TrainError> {
    let label = config.label()?.ok_or(TrainError::HoldoutNeedsLabel)?;
    let options = ReadOptions {
        id: config.data.id.clone(),
        required: vec![(label.column.clone(), "label")],
        as_text: vec![label.column.clone()],
    };
    let mut table = read_customers(path, &options)?;
    let churned = split_label(&mut table, &label)?;
    Ok(Holdout {
        source: path.display().to_string(),
        table,
        churned,
        kept_out: false,
    })
}

/// The inputs' training profile, with the churn probabilities and segments the finished
/// bundle gives the training customers (through the real Scorer).
fn drift_reference(bundle: &Bundle, table: &Table) -> DriftReference {
    let scorer = crate::score::Scorer::new(bundle.clone());
    let columns: Vec<_> = scorer.input_names().map(|n| table.column(n)).collect();
    let mut scratch = crate::score::Scratch::default();
    let (mut probabilities, mut segments) = (Vec::new(), Vec::new());
    for row in 0..table.rows() {
        scratch.values = crate::features::row_values(&columns, row);
        if let Ok(scored) = scorer.score_into(&mut scratch) {
            probabilities.push(scored.risk.map(|r| r.probability));
            segments.push(scored.segment);
        }
    }
    DriftReference::fit(table, &bundle.encoder).with_scores(
        &probabilities,
        &segments,
        bundle.segments.k(),
    )
}

/// What segmenting needs from training.
struct SegmentInputs<'a> {
    /// Every encoded feature of every customer.
    matrix: &'a Array2<f64>,
    table: &'a Table,
    encoder: &'a FeatureEncoder,
    churned: Option<&'a [Option<bool>]>,
    value: Option<&'a [Option<f64>]>,
    champion: Option<&'a Bundle>,
}

/// Cluster on the chosen columns' features, keep the champion's ids for matching segments,
/// measure stability, then profile on every column. Returns the model and each row's segment.
fn fit_segments(
    inputs: &SegmentInputs,
    params: &crate::models::segment::SegmentParams,
    progress: &Progress,
) -> Result<(SegmentModel, Vec<usize>), TrainError> {
    let slots = segment_slots(inputs.encoder, &params.on)?;
    let selected;
    let clustered = match slots.is_empty() {
        true => inputs.matrix,
        false => {
            selected = inputs.matrix.select(ndarray::Axis(1), &slots);
            &selected
        }
    };
    let rows = clustered.nrows();
    let stage = progress.stage(
        "clustering customers into segments",
        rows,
        cluster_steps(rows, params),
    );
    let KChoice {
        mut clustering,
        scores,
        reason,
    } = cluster(clustered, params, &|| stage.tick())?;
    drop(stage);
    widen_centroids(&mut clustering, inputs.matrix, &slots);
    let ids_from = keep_champion_ids(inputs.champion, inputs.encoder, &mut clustering, &slots);
    let k = clustering.centroids.len();
    let stability = match params.bootstrap {
        0 => None,
        resamples => {
            let stage = progress.stage(
                &format!("refitting segments on {resamples} bootstrap resamples"),
                stability_draws(rows, k, params),
                resamples as u64,
            );
            let tick = || stage.tick();
            let s =
                bootstrap_stability(clustered, &clustering.labels, k, resamples, params, &tick)?;
            Some(s)
        }
    };
    let profiles = profile_segments(&ProfileInputs {
        table: inputs.table,
        encoder: inputs.encoder,
        labels: &clustering.labels,
        k,
        churned: inputs.churned,
        value: inputs.value,
    });
    let projection = project(
        inputs.matrix.view(),
        &clustering.labels,
        &clustering.centroids,
        params.seed,
    );
    let model = SegmentModel {
        projection,
        centroids: clustering.centroids,
        k_scores: scores,
        inertia: clustering.inertia,
        profiles,
        k_reason: reason,
        segment_on: params.on.clone(),
        slots,
        stability,
        ids_from,
        cube: Vec::new(),
    };
    Ok((model, clustering.labels))
}

/// Centroids clustered on some features get every feature (the members' means), so the
/// report, the champion match and the bundle checks see the whole feature space.
fn widen_centroids(clustering: &mut Clustering, matrix: &Array2<f64>, slots: &[usize]) {
    if slots.is_empty() {
        return;
    }
    let k = clustering.centroids.len();
    let mut full = full_centroids(matrix, &clustering.labels, k);
    for (wide, narrow) in full.iter_mut().zip(&clustering.centroids) {
        for (&j, &x) in slots.iter().zip(narrow) {
            wide[j] = x;
        }
    }
    clustering.centroids = full;
}

/// Renumber the new segments after the champion's when both bundles have the same
/// features; the champion's version when they did.
fn keep_champion_ids(
    champion: Option<&Bundle>,
    encoder: &FeatureEncoder,
    clustering: &mut Clustering,
    slots: &[usize],
) -> Option<String> {
    let champion = champion?;
    let same_features = champion.encoder.features.len() == encoder.features.len()
        && (champion.encoder.features.iter())
            .zip(&encoder.features)
            .all(|(a, b)| a.name == b.name);
    if !same_features || champion.segments.centroids.is_empty() {
        return None;
    }
    let ids = match_ids(&champion.segments.centroids, &clustering.centroids, slots);
    renumber(clustering, &ids);
    Some(champion.manifest.version.clone())
}

/// Segment × tier × quadrant of every training customer, as the finished bundle scores them.
fn training_cube(
    bundle: &Bundle,
    table: &Table,
    churned: Option<&[Option<bool>]>,
    value: Option<&[Option<f64>]>,
) -> Vec<CubeCell> {
    use std::borrow::Cow;
    let scorer = crate::score::Scorer::new(bundle.clone());
    let columns: Vec<_> = scorer.input_names().map(|n| table.column(n)).collect();
    // (row, segment, tier, quadrant): only what the cube needs, not whole answers.
    let placed: Vec<(usize, usize, String, Option<String>)> = (0..table.rows())
        .filter_map(|row| {
            let values = crate::features::row_values(&columns, row);
            let s = scorer.score(Cow::Borrowed(""), values).ok()?.segment;
            Some((row, s.id, s.tier, s.quadrant))
        })
        .collect();
    let tiers: Vec<&str> = (bundle.pyramid.iter())
        .flat_map(|p| p.tiers.iter().map(|t| t.name.as_str()))
        .collect();
    let rows = placed.iter().map(|(row, segment, tier, quadrant)| CubeRow {
        segment: *segment,
        tier,
        quadrant: quadrant.as_deref(),
        value: value.and_then(|v| v.get(*row).copied().flatten()),
        churned: churned.and_then(|c| c.get(*row).copied().flatten()),
    });
    value_cube(rows, &tiers)
}

/// Score every training customer through the real Scorer and summarise the answers.
fn score_training(bundle: &Bundle, table: &Table) -> ScoredTraining {
    use std::borrow::Cow;
    let scorer = crate::score::Scorer::new(bundle.clone());
    let columns: Vec<_> = scorer.input_names().map(|n| table.column(n)).collect();
    let mut drivers: std::collections::HashMap<String, usize> = Default::default();
    let mut clvs = Vec::new();
    for row in 0..table.rows() {
        let values = crate::features::row_values(&columns, row);
        let Ok(answer) = scorer.score(Cow::Borrowed(""), values) else {
            continue;
        };
        if let Some(r) = answer.retention {
            for reason in &r.reasons {
                let what = reason.rsplit_once(" (").map_or(reason.as_str(), |(w, _)| w);
                *drivers.entry(what.to_string()).or_default() += 1;
            }
            clvs.extend(r.clv);
        }
    }
    let n = table.rows().max(1) as f64;
    let mut drivers: Vec<(String, f64)> = drivers
        .into_iter()
        .map(|(k, c)| (k, c as f64 / n))
        .collect();
    drivers.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    drivers.truncate(10);
    ScoredTraining {
        drivers,
        clv_histogram: histogram(&clvs, 20),
    }
}

fn histogram(values: &[f64], bins: usize) -> Vec<(f64, f64, usize)> {
    let (lo, hi) = values
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
            (a.min(v), b.max(v))
        });
    if values.is_empty() || hi <= lo {
        return Vec::new();
    }
    let width = (hi - lo) / bins as f64;
    let mut counts = vec![0usize; bins];
    for &v in values {
        counts[(((v - lo) / width) as usize).min(bins - 1)] += 1;
    }
    counts
        .into_iter()
        .enumerate()
        .map(|(i, c)| (lo + i as f64 * width, lo + (i + 1) as f64 * width, c))
        .collect()
}

/// BG/NBD, MBG/NBD, Pareto/NBD and Gamma-Gamma on the customers' repeat-purchase
/// summaries before the cut-off; the purchase model with the lowest holdout error
/// answers. A log whose customers never buy twice has no lifetime model (not an error:
/// the other models still stand).
fn fit_lifetime(
    table: &Table,
    holdout: Option<(Vec<CustomerHistory>, f64)>,
) -> Option<LifetimeModel> {
    let [x, recency, age, value] =
        transactions::LIFETIME_INPUTS.map(|name| table.column(name).and_then(|c| c.numeric()));
    let (x, recency, age, value) = (x?, recency?, age?, value?);
    let customers: Vec<RepeatSummary> = (0..table.rows())
        .filter_map(|row| {
            Some(RepeatSummary {
                frequency: x[row]?,
                recency: recency[row]?,
                age: age[row]?,
                monetary: value[row]?,
            })
        })
        .collect();
    let mut model = LifetimeModel::fit(&customers, LifetimeSettings::default()).ok()?;
    if let Some((histories, length)) = holdout {
        model.choose_by_holdout(&histories, length);
    }
    Some(model)
}

/// Roles of the aggregated table: id = customer, label = churned, value = net value
/// (purchases less returns: a customer who returns everything is worth nothing).
fn from_log_config(config: &TrainConfig, customer_col: &str) -> TrainConfig {
    let mut config = config.clone();
    config.data.id = Some(customer_col.to_string());
    config.data.label = Some(format!("{}=Yes", transactions::CHURNED));
    config.data.value = Some(
        config
            .data
            .value
            .clone()
            .unwrap_or_else(|| "net_value".into()),
    );
    config.data.customers = None;
    // Lifetime value from each customer's annual spend, unless a margin was configured.
    if config.retention.margin.is_none() {
        config.retention.margin = Some("annual_spend".into());
        config.retention.margin_periods_per_year = 1.0;
    }
    config
}

/// Hit rate is measured at 3 offers whatever `top_n` is, so bundles compare.
const HIT_RATE_AT: usize = 3;

/// One basket of held products per customer, the rules mined from all of them, and the
/// hit rate of rules mined on a training share (vs popularity) on the rest.
/// Rules from the order log's invoices when there are any, else from the customer table's
/// holdings columns. A customer table aggregated from a log has no holdings columns, so its
/// customers get the most popular products (rules with an empty antecedent).
fn fit_cross_sell(
    table: &Table,
    invoices: Option<&Baskets>,
    config: &TrainConfig,
    progress: &Progress,
) -> Option<(CrossSellModel, CrossSellMetrics)> {
    let holdings: Vec<String> = (config.data.holdings.iter())
        .filter(|h| table.column(h).is_some())
        .cloned()
        .collect();
    let baskets = match invoices {
        Some(invoices) => {
            progress.step(&format!(
                "mining association rules from {} invoices",
                invoices.len()
            ));
            invoices.clone()
        }
        None if holdings.is_empty() => return None,
        None => {
            progress.step("mining association rules from product holdings");
            holdings_baskets(table, &holdings)
        }
    };
    let holdings = if invoices.is_some() {
        Vec::new()
    } else {
        holdings
    };
    let hit_rate = evaluate_hit_rate(&baskets, &config.rules, HIT_RATE_AT);
    let model = CrossSellModel::fit(&baskets, &config.rules, holdings);
    let metrics = CrossSellMetrics {
        baskets: baskets.len(),
        products: model.popular.len(),
        itemsets: model.itemsets,
        rules: model.rules.len(),
        hit_rate,
    };
    Some((model, metrics))
}

fn read_options(config: &TrainConfig) -> Result<ReadOptions, ConfigError> {
    let labels: Vec<String> = (config.target_plan()?.targets.into_iter())
        .map(|t| t.label.column)
        .collect();
    let mut required: Vec<(String, &'static str)> = Vec::new();
    required.extend(labels.iter().map(|l| (l.clone(), "label")));
    if let Some(v) = &config.data.value {
        required.push((v.clone(), "value"));
    }
    required.extend(config.data.drop.iter().map(|d| (d.clone(), "drop")));
    required.extend(config.data.holdings.iter().map(|h| (h.clone(), "holdings")));
    Ok(ReadOptions {
        id: config.data.id.clone(),
        required,
        as_text: labels,
    })
}

/// Take the label out of the feature columns: `Some(true)` = churned, `None` = unknown.
fn split_label(table: &mut Table, label: &Label) -> Result<Vec<Option<bool>>, TrainError> {
    let churned = label_of(table, label)?;
    table.remove_column(&label.column);
    table.quality.unlabeled_rows = churned.iter().filter(|c| c.is_none()).count();
    Ok(churned)
}

/// Each row's label: `Some(true)` = churned, `None` = unknown.
fn label_of(table: &Table, label: &Label) -> Result<Vec<Option<bool>>, TrainError> {
    let values: &[Option<Text>] = match table.column(&label.column).map(|c| &c.data) {
        Some(ColumnData::Categorical(v)) => v,
        _ => &[],
    };
    let exact = values.iter().flatten().any(|v| **v == *label.positive);
    let matches = |v: &str| match exact {
        true => v == label.positive,
        false => v.eq_ignore_ascii_case(&label.positive),
    };
    let churned: Vec<Option<bool>> = values.iter().map(|v| v.as_deref().map(matches)).collect();
    if !churned.contains(&Some(true)) {
        let mut seen: Vec<&str> = values.iter().flatten().map(|v| &**v).collect();
        seen.sort_unstable();
        seen.dedup();
        seen.truncate(10);
        return Err(TrainError::LabelNeverOccurs {
            file: table.source.clone(),
            column: label.column.clone(),
            positive: label.positive.clone(),
            seen: seen.join(", "),
        });
    }
    if !churned.contains(&Some(false)) {
        return Err(TrainError::LabelConstant {
            file: table.source.clone(),
            column: label.column.clone(),
            positive: label.positive.clone(),
        });
    }
    Ok(churned)
}

fn value_column(table: &Table, name: Option<&str>) -> Result<Option<Vec<Option<f64>>>, TrainError> {
    let Some(name) = name else { return Ok(None) };
    match table.column(name).map(|c| &c.data) {
        Some(ColumnData::Numeric(v)) => Ok(Some(v.clone())),
        _ => Err(TrainError::ValueNotNumeric {
            file: table.source.clone(),
            column: name.to_string(),
        }),
    }
}

/// Columns the models leave out, with the reason recorded in the encoder.
fn ignored_columns(table: &Table) -> Vec<(String, String)> {
    let q = &table.quality;
    q.constant_columns
        .iter()
        .map(|c| (c.clone(), "constant".to_string()))
        .chain(q.identifier_columns.iter().map(|c| {
            (
                c.clone(),
                "identifier-like: every value distinct".to_string(),
            )
        }))
        .collect()
}

pub fn to_matrix(rows: &[Vec<f64>], width: usize) -> Array2<f64> {
    let flat: Vec<f64> = rows.iter().flatten().copied().collect();
    Array2::from_shape_vec((rows.len(), width), flat).unwrap_or_else(|_| Array2::zeros((0, width)))
}

/// `20261123-140501-3b1f0c2a`: sortable by time, tied to the training data.
fn version_name(data_sha256: &str) -> String {
    let now = chrono::Utc::now().format("%Y%m%d-%H%M%S");
    format!("{now}-{}", &data_sha256[..8.min(data_sha256.len())])
}
