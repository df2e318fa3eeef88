//! The command line (a stable contract: see README). Every flag can also be set through
//! a `CUSTSCORE_*` environment variable; flags win over the variables, and both win over
//! the config file.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "custscore",
    version,
    about = "Customer segments, cross-sell propensity and retention risk from one model bundle"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Fit every model on a customer table and save them as a new bundle.
    Train(TrainArgs),
    /// Score a CSV file of customers with the current bundle.
    Score(ScoreArgs),
    /// Show what a bundle holds: segments, value pyramid, data quality.
    Inspect(InspectArgs),
}

#[derive(Debug, Args)]
pub struct ModelsArg {
    /// Folder holding the model bundles and the CURRENT pointer.
    #[arg(long, env = "CUSTSCORE_MODELS", default_value = "models")]
    pub models: PathBuf,
}

#[derive(Debug, Args)]
pub struct TrainArgs {
    /// TOML config (defaults to training-data/custscore.toml when no --customers is given).
    #[arg(long, env = "CUSTSCORE_CONFIG")]
    pub config: Option<PathBuf>,
    /// Customer table, one row per customer.
    #[arg(long, env = "CUSTSCORE_CUSTOMERS")]
    pub customers: Option<PathBuf>,
    /// Customer id column (the row number when absent).
    #[arg(long, env = "CUSTSCORE_ID")]
    pub id: Option<String>,
    /// Churn label and its positive value, e.g. `churn=Yes`.
    #[arg(long, env = "CUSTSCORE_LABEL", value_name = "COL=VALUE")]
    pub label: Option<String>,
    /// Columns to leave out of every model (comma-separated).
    #[arg(long, env = "CUSTSCORE_DROP", value_delimiter = ',')]
    pub drop: Vec<String>,
    /// Product-holding columns for cross-sell (comma-separated).
    #[arg(long, env = "CUSTSCORE_HOLDINGS", value_delimiter = ',')]
    pub holdings: Vec<String>,
    /// Customer value column for the value pyramid.
    #[arg(long, env = "CUSTSCORE_VALUE")]
    pub value: Option<String>,
    /// Fixed number of segments (chosen by silhouette when absent).
    #[arg(long, env = "CUSTSCORE_SEGMENTS")]
    pub segments: Option<usize>,
    /// Random seed for every model.
    #[arg(long, env = "CUSTSCORE_SEED")]
    pub seed: Option<u64>,
    /// Margin per period column for customer lifetime value (e.g. monthly_charges).
    #[arg(long, env = "CUSTSCORE_MARGIN")]
    pub margin: Option<String>,
    /// Benchmarks: a CSV of `id,fold` fixing the cross-validation folds.
    #[arg(long, env = "CUSTSCORE_FOLDS", hide = true)]
    pub folds: Option<PathBuf>,
    #[command(flatten)]
    pub models: ModelsArg,
}

#[derive(Debug, Args)]
pub struct ScoreArgs {
    /// Customers to score (CSV with the training columns; extra columns are ignored).
    #[arg(long, env = "CUSTSCORE_INPUT")]
    pub input: PathBuf,
    /// Where to write one scored row per accepted input row.
    #[arg(long, env = "CUSTSCORE_OUTPUT")]
    pub output: PathBuf,
    /// Where rows that cannot be scored go, with line number and reason
    /// (default: OUTPUT with `.rejects.csv` appended).
    #[arg(long, env = "CUSTSCORE_REJECTS")]
    pub rejects: Option<PathBuf>,
    /// Bundle version to use (default: the one CURRENT points to).
    #[arg(long = "version", env = "CUSTSCORE_MODEL_VERSION")]
    pub model_version: Option<String>,
    #[command(flatten)]
    pub models: ModelsArg,
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// Print the decision tree's if-then rules instead of the whole bundle.
    #[arg(long, env = "CUSTSCORE_TREE")]
    pub tree: bool,
    /// Bundle version to show (default: the one CURRENT points to).
    #[arg(long = "version", env = "CUSTSCORE_MODEL_VERSION")]
    pub model_version: Option<String>,
    #[command(flatten)]
    pub models: ModelsArg,
}
