//! `custscore serve`: the flags checked and turned into `ServeOptions`, then the server.

use super::{Limits, Monitoring, ServeError, ServeOptions};
use crate::cli::ServeArgs;
use crate::decisions::{ActionSet, ActionsError};
use crate::monitoring::drift::ThresholdError;
use crate::monitoring::Thresholds;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum ServeCliError {
    #[error(transparent)]
    Thresholds(#[from] ThresholdError),
    #[error(transparent)]
    Actions(#[from] ActionsError),
    #[error(transparent)]
    Shadow(#[from] super::shadow::ShadowError),
    #[error("{0}")]
    Access(String),
    #[error("--watch-interval {0}: give seconds from 0.05 to 86400")]
    WatchInterval(f64),
    #[error(transparent)]
    Serve(#[from] ServeError),
}

pub fn run_serve(args: ServeArgs) -> Result<(), ServeCliError> {
    let workers = args
        .workers
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
    super::run(ServeOptions {
        outcomes: args.db.location(&args.models.models),
        outcomes_required: args.db.outcomes_db.is_some(),
        models: args.models.models,
        addr: args.addr,
        api_keys_file: args.api_keys_file,
        admin_token_file: args.admin_token_file,
        limits: Limits {
            max_body_bytes: args.max_body_bytes,
            max_batch_items: args.max_batch_items,
        },
        monitoring: Monitoring {
            enabled: !args.no_monitoring,
            window: args.monitoring_window,
            thresholds: Thresholds::new(args.psi_warn, args.psi_alert)?,
        },
        workers,
        keep_alive: Duration::from_secs(args.keep_alive),
        backlog: args.backlog,
        watch_interval: watch_interval(args.watch_interval)?,
        actions: args.actions.as_deref().map(ActionSet::load).transpose()?,
        shadow: args
            .shadow
            .map(|version| super::shadow::ShadowOptions::new(version, args.shadow_share))
            .transpose()?,
        access: args.access.options().map_err(ServeCliError::Access)?,
        tls: args.access.tls(),
    })?;
    Ok(())
}

/// `--watch-interval` in seconds, from 0.05 to 86400.
fn watch_interval(secs: Option<f64>) -> Result<Option<Duration>, ServeCliError> {
    match secs {
        None => Ok(None),
        Some(s) if (0.05..=86_400.0).contains(&s) => Ok(Some(Duration::from_secs_f64(s))),
        Some(s) => Err(ServeCliError::WatchInterval(s)),
    }
}
