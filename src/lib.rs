//! custscore: customer segments, cross-sell propensity and retention risk from one
//! versioned model bundle.
//!
//! The flow is `data` (CSV → typed [`data::Table`]) → `features` (fitted encoder) →
//! `models::*` (fitted models) → `bundle` (versioned, checksummed directory) →
//! `score::Scorer` (one record → three answers), used by both `batch` and `serve`.

pub mod access;
pub mod bundle;
pub mod config;
pub mod data;
pub mod decisions;
pub mod features;
pub mod lifecycle;
pub mod models;
pub mod monitoring;
pub mod numfmt;
pub mod outcomes;
pub mod progress;
pub mod rank;
pub mod score;
pub mod train;
pub mod train_log;

/// Crate version, recorded in every bundle manifest.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
pub mod aggregate_cli;
pub mod batch;
pub mod batch_input;
pub mod cli;
pub mod decisions_cli;
pub mod drift_cli;
pub mod inspect;
pub mod inspect_profit;
pub mod inspect_retention;
pub mod keys_cli;
pub mod lifetime_cli;
pub mod models_cli;
pub mod outcomes_cli;
pub mod report;
pub mod rules_cli;
pub mod score_cli;
pub mod serve;
pub mod train_cli;
