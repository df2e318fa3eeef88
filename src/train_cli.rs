//! `custscore train`: the training config (file first, then flags on top), gated
//! training, and what was saved.

use crate::cli::TrainArgs;
use crate::config::{ConfigError, TrainConfig};
use crate::inspect;
use crate::lifecycle::{self, GateParams, LifecycleError};
use crate::outcomes_cli::OutcomesCliError;
use crate::progress::Progress;

#[derive(Debug, thiserror::Error)]
pub enum TrainCliError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Campaign(#[from] OutcomesCliError),
    #[error(transparent)]
    Lifecycle(#[from] LifecycleError),
    #[error(transparent)]
    Actions(#[from] crate::decisions::ActionsError),
}

pub fn run_train(args: TrainArgs) -> Result<(), TrainCliError> {
    let mut config = train_config(&args)?;
    // Kept alive until training ends: the campaign's contacts as a customer table.
    let _campaign_table = crate::outcomes_cli::campaign_training_table(&args, &mut config)?;
    let progress = Progress::for_terminal();
    let params = GateParams {
        mode: args.gate.promote,
        auc_tolerance: args.gate.gate_auc_tolerance,
        max_ece: args.gate.gate_max_ece,
        leak_auc: args.gate.gate_leak_auc,
        schema_changed: args.gate.schema_changed,
    };
    let trained = lifecycle::train_gated(
        &config,
        &progress,
        &args.models.models,
        &params,
        args.gate.holdout.as_deref(),
    )?;
    progress.finish();
    print!("{}", inspect::training_summary(&trained.bundle));
    print!("{}", lifecycle::gate::describe(&trained.gate));
    let state = match trained.gate.promotes() {
        true => "now CURRENT",
        false => "not CURRENT",
    };
    println!("saved {} ({state})", trained.dir.display());
    Ok(())
}

/// Config file first, then flags on top.
pub fn train_config(args: &TrainArgs) -> Result<TrainConfig, TrainCliError> {
    let use_default = args.config.is_none()
        && args.customers.is_none()
        && args.log.transactions.is_none()
        && args.from_campaign.is_none();
    let mut config = match (&args.config, use_default) {
        (Some(path), _) => TrainConfig::load(path)?,
        (None, true) => TrainConfig::load_or_default(None)?,
        (None, false) => TrainConfig::default(),
    };
    let data = &mut config.data;
    if let Some(c) = &args.customers {
        data.customers = Some(c.clone());
    }
    data.id = args.id.clone().or(data.id.take());
    crate::models::targets::apply_flags(
        &mut config,
        &args.label,
        &args.attrition,
        &args.target_exclude,
    )?;
    let data = &mut config.data;
    data.value = args.value.clone().or(data.value.take());
    if !args.drop.is_empty() {
        data.drop = args.drop.clone();
    }
    if !args.holdings.is_empty() {
        data.holdings = args.holdings.clone();
    }
    args.log.apply(&mut config.transactions);
    if let Some(k) = args.segments {
        config.segments.k = Some(k);
    }
    if !args.segment_on.is_empty() {
        config.segments.on = args.segment_on.clone();
    }
    if let Some(seed) = args.seed {
        config.segments.seed = seed;
        config.retention.seed = seed;
    }
    config.value.cost = args.cost.clone().or(config.value.cost.take());
    config.value.basis = args.value_basis.unwrap_or(config.value.basis);
    config.value.cost_as_input |= args.cost_as_input;
    if let Some(margin) = &args.margin {
        config.retention.margin = Some(margin.clone());
    }
    if let Some(path) = &args.actions {
        config.actions = crate::decisions::ActionSet::load(path)?.specs().to_vec();
    }
    if let Some(n) = args.sample {
        config.data.sample = Some(usize::try_from(n).unwrap_or(usize::MAX));
    }
    if args.quality_samples {
        config.data.quality_samples = true;
    }
    if let Some(folds) = &args.folds {
        config.retention.folds_file = Some(folds.clone());
    }
    Ok(config)
}
