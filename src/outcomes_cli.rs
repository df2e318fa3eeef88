//! `custscore outcomes import` and `custscore evaluate`: the closed loop on the command
//! line.

use crate::cli::{EvaluateArgs, OutcomesAction};
use crate::outcomes::import::{import_file, ImportError, ImportSummary};
use crate::outcomes::{self, events::EVENT_TYPES, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum OutcomesCliError {
    #[error(transparent)]
    Import(#[from] ImportError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("--outcome {0}: expected one of {types}", types = EVENT_TYPES.join(", "))]
    OutcomeType(String),
}

pub fn run_outcomes(action: OutcomesAction) -> Result<(), OutcomesCliError> {
    match action {
        OutcomesAction::Import { file, db, models } => {
            let location = db.location(&models.models);
            let mut store = outcomes::open(&location)?;
            let summary = import_file(store.as_mut(), &file)?;
            for error in &summary.errors {
                eprintln!("{}: {error}", file.display());
            }
            if summary.refused > summary.errors.len() {
                eprintln!(
                    "{}: {} more refused events not shown",
                    file.display(),
                    summary.refused - summary.errors.len()
                );
            }
            println!("{}", describe_import(&summary, &location.describe()));
        }
    }
    Ok(())
}

fn describe_import(s: &ImportSummary, location: &str) -> String {
    format!(
        "events read {}, stored {}, already stored {}, refused {} (into {location})",
        s.read, s.stored, s.duplicates, s.refused
    )
}

/// The campaign report, as text or JSON.
pub fn run_evaluate(args: &EvaluateArgs) -> Result<String, OutcomesCliError> {
    if !EVENT_TYPES.contains(&args.outcome.as_str()) {
        return Err(OutcomesCliError::OutcomeType(args.outcome.clone()));
    }
    let mut store = outcomes::open(&args.db.location(&args.models.models))?;
    let rows = store.campaign(&args.campaign, &args.outcome)?;
    let report = outcomes::evaluate(&args.campaign, &args.outcome, &rows);
    Ok(match args.json {
        true => serde_json::to_string_pretty(&report).unwrap_or_default() + "\n",
        false => report.table(),
    })
}
