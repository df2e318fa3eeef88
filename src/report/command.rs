//! `custscore report`: the bundle's report, with a drift section when a customer file or
//! order log is named and a section per evaluated campaign, written to one HTML file.

use crate::bundle::{Bundle, BundleError};
use crate::cli::ReportArgs;
use crate::drift_cli::{DriftCliError, DriftInput};
use crate::monitoring::drift::ThresholdError;
use crate::monitoring::Thresholds;
use crate::outcomes_cli::OutcomesCliError;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error(transparent)]
    Bundle(#[from] BundleError),
    #[error(transparent)]
    Thresholds(#[from] ThresholdError),
    #[error(transparent)]
    Drift(#[from] DriftCliError),
    #[error(transparent)]
    Campaigns(#[from] OutcomesCliError),
    #[error("{}: cannot write: {error}", path.display())]
    Write {
        path: PathBuf,
        error: std::io::Error,
    },
}

pub fn run_report(args: &ReportArgs) -> Result<(), ReportError> {
    let started = std::time::Instant::now();
    let bundle = Bundle::load(&args.models.models, args.model_version.as_deref())?;
    let drift = match drift_input(args) {
        Some(input) => {
            let thresholds = Thresholds::new(0.1, 0.25)?;
            let run = crate::drift_cli::drift_of(bundle.clone(), &input, thresholds)?;
            Some((input.path().display().to_string(), run.report))
        }
        None => None,
    };
    let location = args.db.location(&args.models.models);
    let campaigns =
        crate::outcomes_cli::campaign_reports(&location, &args.campaign, &args.outcome)?;
    let html = super::render_with_campaigns(
        &bundle,
        drift.as_ref().map(|(p, r)| (p.as_str(), r)),
        &campaigns,
    );
    std::fs::write(&args.output, html).map_err(|error| ReportError::Write {
        path: args.output.clone(),
        error,
    })?;
    eprintln!(
        "wrote {} for bundle {} in {:.2}s",
        args.output.display(),
        bundle.manifest.version,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// `--drift-input FILE` or `--drift-transactions LOG [--drift-as-of DATE]`, if either.
fn drift_input(args: &ReportArgs) -> Option<DriftInput> {
    match (&args.drift_input, &args.drift_transactions) {
        (Some(path), _) => Some(DriftInput::Customers(path.clone())),
        (None, Some(log)) => Some(DriftInput::Log {
            path: log.clone(),
            cutoff: args.drift_as_of.clone(),
        }),
        (None, None) => None,
    }
}
