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
pub mod text_eq;
pub mod train;
pub mod train_log;

/// Crate version, recorded in every bundle manifest.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// An error and its causes on one line, `error: cause: root cause`, as the command line
/// prints them (`{:#}`). Messages leave their cause to this chain, so an error shown in a
/// response or a log goes through here to keep its cause.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(next) = cause {
        text.push_str(": ");
        text.push_str(&next.to_string());
        cause = next.source();
    }
    text
}
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

#[cfg(test)]
mod tests {
    use super::error_chain;
    use crate::bundle::BundleError;
    use crate::lifecycle::LifecycleError;

    #[test]
    fn error_chain_names_each_cause_once() {
        let error = LifecycleError::Refused {
            version: "v2".into(),
            source: BundleError::Io {
                path: "models/v2/manifest.json".into(),
                source: std::io::Error::other("disk gone"),
            },
        };
        assert_eq!(
            error_chain(&error),
            "version v2 cannot become CURRENT (CURRENT is unchanged): \
             models/v2/manifest.json: disk gone"
        );
    }
}
