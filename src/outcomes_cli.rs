//! `custscore outcomes import` and `custscore evaluate`: the closed loop on the command
//! line.

use crate::cli::{EvaluateArgs, OutcomesAction, TrainArgs};
use crate::config::TrainConfig;
use crate::outcomes::import::{import_contacts_file, import_file, ImportError, ImportSummary};
use crate::outcomes::training::{self, ArmChoice, CampaignSource, CampaignTableError};
use crate::outcomes::{self, events::EVENT_TYPES, CampaignReport, StoreError, StoreLocation};
use std::collections::BTreeMap;
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum OutcomesCliError {
    #[error(transparent)]
    Import(#[from] ImportError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("--outcome {0}: expected one of {types}", types = EVENT_TYPES.join(", "))]
    OutcomeType(String),
    #[error(transparent)]
    CampaignTable(#[from] CampaignTableError),
    #[error("--from-campaign needs --label OUTCOME (e.g. responded)")]
    NoOutcome,
    #[error("a temporary folder for the campaign's table: {0}")]
    TempDir(std::io::Error),
    #[error("--campaign {campaign}: no contacts in {store} (campaigns there: {known})")]
    UnknownCampaign {
        campaign: String,
        store: String,
        known: String,
    },
    #[error("--campaign: no outcomes store at {0}; pass --outcomes-db")]
    NoStore(String),
}

/// With `--from-campaign`, write the campaign's labelled contacts to a temporary customer
/// table and point `config` at it. The folder returned must outlive training.
pub fn campaign_training_table(
    args: &TrainArgs,
    config: &mut TrainConfig,
) -> Result<Option<tempfile::TempDir>, OutcomesCliError> {
    let Some(campaign) = &args.from_campaign else {
        return Ok(None);
    };
    let outcome = args.label.first().ok_or(OutcomesCliError::NoOutcome)?;
    let dir = tempfile::tempdir().map_err(OutcomesCliError::TempDir)?;
    let path = dir.path().join("campaign.csv");
    let location = args.db.location(&args.models.models);
    let source = match args.uplift {
        true => uplift_table(&location, campaign, outcome, &path)?,
        false => campaign_table(&location, campaign, outcome, args.arm, &path)?,
    };
    config.data.customers = Some(path);
    config.data.id = Some(training::ID_COLUMN.to_string());
    config.data.label = Some(format!("{}=1", training::LABEL_COLUMN));
    config.data.campaign = Some(source);
    Ok(Some(dir))
}

/// Write the campaign's contacts, labelled by `outcome`, as a customer table at `path`.
pub fn campaign_table(
    location: &StoreLocation,
    campaign: &str,
    outcome: &str,
    arm: ArmChoice,
    path: &Path,
) -> Result<CampaignSource, OutcomesCliError> {
    check_outcome(outcome)?;
    let contacts = outcomes::open(location)?.campaign_inputs(campaign, outcome)?;
    Ok(training::write_campaign_table(
        campaign, outcome, arm, &contacts, path,
    )?)
}

/// Write every contact of the campaign, with its arm and labelled by `outcome`, as the
/// customer table of an uplift model at `path`.
pub fn uplift_table(
    location: &StoreLocation,
    campaign: &str,
    outcome: &str,
    path: &Path,
) -> Result<CampaignSource, OutcomesCliError> {
    check_outcome(outcome)?;
    let contacts = outcomes::open(location)?.campaign_inputs(campaign, outcome)?;
    Ok(training::write_uplift_table(
        campaign, outcome, &contacts, path,
    )?)
}

/// Realized AUC of the contact-time churn probability against `churned` events, with the
/// number of contacts, per model version over every campaign. Empty when there is no
/// store yet (a missing SQLite file is not created).
pub fn realized_aucs(
    location: &StoreLocation,
) -> Result<BTreeMap<String, (f64, usize)>, StoreError> {
    if let StoreLocation::Sqlite(path) = location {
        if !path.exists() {
            return Ok(BTreeMap::new());
        }
    }
    outcomes::realized::realized_aucs(outcomes::open(location)?.as_mut())
}

pub fn run_outcomes(action: OutcomesAction) -> Result<(), OutcomesCliError> {
    match action {
        OutcomesAction::Import {
            contacts,
            file,
            db,
            models,
        } => {
            let location = db.location(&models.models);
            let mut store = outcomes::open(&location)?;
            let (summary, what) = match contacts {
                true => (import_contacts_file(store.as_mut(), &file)?, "contacts"),
                false => (import_file(store.as_mut(), &file)?, "events"),
            };
            for error in &summary.errors {
                eprintln!("{}: {error}", file.display());
            }
            if summary.refused > summary.errors.len() {
                eprintln!(
                    "{}: {} more refused {what} not shown",
                    file.display(),
                    summary.refused - summary.errors.len()
                );
            }
            println!("{}", describe_import(&summary, what, &location.describe()));
        }
    }
    Ok(())
}

fn describe_import(s: &ImportSummary, what: &str, location: &str) -> String {
    format!(
        "{what} read {}, stored {}, already stored {}, refused {} (into {location})",
        s.read, s.stored, s.duplicates, s.refused
    )
}

/// The campaign report, as text or JSON.
pub fn run_evaluate(args: &EvaluateArgs) -> Result<String, OutcomesCliError> {
    check_outcome(&args.outcome)?;
    let mut store = outcomes::open(&args.db.location(&args.models.models))?;
    let report = evaluate_campaign(store.as_mut(), &args.campaign, &args.outcome)?;
    Ok(match args.json {
        true => serde_json::to_string_pretty(&report).unwrap_or_default() + "\n",
        false => report.table(),
    })
}

fn check_outcome(outcome: &str) -> Result<(), OutcomesCliError> {
    match EVENT_TYPES.contains(&outcome) {
        true => Ok(()),
        false => Err(OutcomesCliError::OutcomeType(outcome.to_string())),
    }
}

/// One campaign's evaluation: what `evaluate`, the API and the report all show.
fn evaluate_campaign(
    store: &mut dyn outcomes::Store,
    campaign: &str,
    outcome: &str,
) -> Result<CampaignReport, OutcomesCliError> {
    let rows = store.campaign(campaign, outcome)?;
    Ok(outcomes::evaluate(campaign, outcome, &rows))
}

/// The report's campaigns: those named, or every campaign in the store when none is.
/// Without a store (no SQLite file yet) there is nothing to show unless campaigns were
/// named, which is an error; so is a named campaign without contacts.
pub fn campaign_reports(
    location: &StoreLocation,
    named: &[String],
    outcome: &str,
) -> Result<Vec<CampaignReport>, OutcomesCliError> {
    check_outcome(outcome)?;
    if let StoreLocation::Sqlite(path) = location {
        if !path.exists() {
            return match named.is_empty() {
                true => Ok(Vec::new()),
                false => Err(OutcomesCliError::NoStore(location.describe())),
            };
        }
    }
    let mut store = outcomes::open(location)?;
    let known = store.campaigns()?;
    let wanted = match named.is_empty() {
        true => known.clone(),
        false => named.to_vec(),
    };
    let mut reports = Vec::with_capacity(wanted.len());
    for campaign in &wanted {
        if !known.contains(campaign) {
            return Err(OutcomesCliError::UnknownCampaign {
                campaign: campaign.clone(),
                store: location.describe(),
                known: match known.is_empty() {
                    true => "none".to_string(),
                    false => known.join(", "),
                },
            });
        }
        reports.push(evaluate_campaign(store.as_mut(), campaign, outcome)?);
    }
    Ok(reports)
}
