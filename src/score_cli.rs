//! `custscore score`: a customer file, or an order log aggregated as training did, scored
//! through the batch pipeline, with optional contacts, next best actions and ranking.

use crate::batch::{self, AggregatedLog, BatchError};
use crate::batch_input::{InputFormat, InputSpec, InputSpecError};
use crate::bundle::{Bundle, BundleError};
use crate::cli::ScoreArgs;
use crate::decisions::{ActionsError, Decider};
use crate::outcomes::contacts::CampaignError;
use crate::outcomes::{Campaign, StoreError};
use crate::rank::RankError;
use crate::score::Scorer;
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum ScoreCliError {
    #[error(transparent)]
    Bundle(#[from] BundleError),
    #[error("{0}")]
    Rejects(&'static str),
    #[error(transparent)]
    InputSpec(#[from] InputSpecError),
    #[error(transparent)]
    Batch(#[from] BatchError),
    #[error("pass --input FILE or --transactions FILE")]
    NoInput,
    #[error("--campaign / --control-share: {0}")]
    Campaign(CampaignError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Rank(#[from] RankError),
    #[error(transparent)]
    Actions(#[from] ActionsError),
    #[error(
        "--actions adds CSV columns: use --format csv (POST /v1/next-best-action answers in JSON)"
    )]
    ActionsNeedCsv,
}

pub fn run_score(args: ScoreArgs) -> Result<(), ScoreCliError> {
    let bundle = Bundle::load(&args.models.models, args.model_version.as_deref())?;
    let mut scorer = Scorer::new(bundle);
    let rejects = args.rejects_to().map_err(ScoreCliError::Rejects)?;
    let input_spec = InputSpec::new(
        InputFormat::resolve(
            args.input_format,
            args.customers.input.as_deref().unwrap_or("-".as_ref()),
        ),
        args.no_header,
        &args.columns,
        args.columns_from_bundle,
    )?;
    let output = batch::Stream::from_arg(&args.output);
    // Kept alive until scoring ends: the aggregated customers of a transaction log.
    let mut aggregated = None;
    let input = match (&args.customers.input, &args.customers.transactions) {
        (Some(input), _) => batch::Stream::from_arg(input),
        (None, Some(log)) => {
            let mut log = aggregated_log(&scorer, log, args.customers.cutoff.as_deref())?;
            if let Some(history) = log.history.take() {
                scorer.use_history(history);
            }
            aggregated.insert(log).stream()
        }
        (None, None) => return Err(ScoreCliError::NoInput),
    };
    let campaign = args
        .campaign
        .as_deref()
        .map(|name| Campaign::new(name, args.control_share))
        .transpose()
        .map_err(ScoreCliError::Campaign)?;
    let mut store = match &campaign {
        Some(_) => Some(crate::outcomes::open(
            &args.db.location(&args.models.models),
        )?),
        None => None,
    };
    let contacts = campaign
        .zip(store.as_deref_mut())
        .map(|(campaign, store)| batch::ContactLog { campaign, store });
    if args.rank_by.is_some() && (output == batch::Stream::Std || args.format != batch::Format::Csv)
    {
        return Err(RankError::NotAFile.into());
    }
    if let Some(column) = &args.rank_by {
        crate::rank::require_column(&scorer, column, &args.output)?;
    }
    let options = batch::StreamOptions {
        input: input_spec,
        format: args.format,
        rejects,
    };
    if args.actions.is_some() && args.format != batch::Format::Csv {
        return Err(ScoreCliError::ActionsNeedCsv);
    }
    // The bundle's own actions add the CSV columns; JSON Lines keeps the REST answer shape.
    let decider = match args.format {
        batch::Format::Csv => Decider::from_file(args.actions.as_deref(), &scorer)?,
        _ => None,
    };
    let summary = batch::score_stream_with(
        &scorer,
        &input,
        &output,
        &options,
        contacts,
        decider.as_ref(),
    )?;
    drop(aggregated);
    if let Some(column) = &args.rank_by {
        crate::rank::rank_csv(&args.output, column)?;
    }
    eprintln!("{summary}");
    if let Some(line) = summary.drift_line() {
        eprintln!("{line}");
    }
    Ok(())
}

/// Aggregate an order log to one row per customer, as the bundle's training did, and
/// say what reading it found.
fn aggregated_log(
    scorer: &Scorer,
    log: &Path,
    cutoff: Option<&str>,
) -> Result<AggregatedLog, BatchError> {
    let aggregated = batch::aggregate_log_with_items(scorer.bundle(), log, cutoff)?;
    for line in aggregated.quality.findings() {
        eprintln!("{line}");
    }
    Ok(aggregated)
}
