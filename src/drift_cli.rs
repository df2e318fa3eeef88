//! `custscore drift`: read a customer file as `score` does, score each row, and compare
//! the inputs and scores with the bundle's training profile. Drift is information, not
//! an error: the command succeeds whatever it finds.

use crate::batch::{scan_stream, BatchError, ScanSummary, Stream};
use crate::bundle::{Bundle, BundleError};
use crate::cli::DriftArgs;
use crate::monitoring::counts::AtomicCounts;
use crate::monitoring::drift::ThresholdError;
use crate::monitoring::{DriftReport, SlotMap, Thresholds};
use crate::score::{Scored, Scorer};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum DriftCliError {
    #[error(transparent)]
    Bundle(#[from] BundleError),
    #[error(transparent)]
    Batch(#[from] BatchError),
    #[error(transparent)]
    Thresholds(#[from] ThresholdError),
    #[error("bundle {version} has no drift reference (it was trained by an older custscore); retrain it to measure drift")]
    NoReference { version: String },
    #[error("{}: cannot write: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// What one run found.
pub struct DriftRun {
    pub report: DriftReport,
    pub summary: ScanSummary,
}

pub fn run_drift(args: &DriftArgs) -> Result<DriftRun, DriftCliError> {
    let thresholds = Thresholds::new(args.psi_warn, args.psi_alert)?;
    let bundle = Bundle::load(&args.models.models, args.model_version.as_deref())?;
    let Some(reference) = bundle.drift.clone() else {
        return Err(DriftCliError::NoReference {
            version: bundle.manifest.version.clone(),
        });
    };
    let scorer = Scorer::new(bundle);
    let slots = SlotMap::new(reference, &scorer.bundle().encoder);
    let input = Stream::from_arg(&args.input);
    let (summary, counts) = count_file(&scorer, &slots, &input)?;
    let report = DriftReport::compare(&slots, &counts, thresholds);
    if let Some(path) = &args.json {
        write_json(path, &report)?;
    }
    Ok(DriftRun { report, summary })
}

/// The probability and segment of a scored record, as the reference profiles them.
fn scores(s: &Scored) -> (usize, Option<f64>) {
    (s.segment, s.risk.map(|r| r.probability))
}

/// Bin counts of every scored row of a file.
fn count_file(
    scorer: &Scorer,
    slots: &SlotMap,
    input: &Stream,
) -> Result<(ScanSummary, crate::monitoring::Counts), BatchError> {
    let counts = AtomicCounts::new(slots.len());
    let summary = scan_stream(scorer, input, &|s| {
        let (segment, probability) = scores(s);
        slots.record(s.values(), segment, probability, |slot| counts.hit(slot));
    })?;
    Ok((summary, counts.snapshot()))
}

fn write_json(path: &Path, report: &DriftReport) -> Result<(), DriftCliError> {
    let write_error = |source| DriftCliError::Write {
        path: path.to_path_buf(),
        source,
    };
    let bytes = serde_json::to_vec_pretty(report).map_err(|e| write_error(e.into()))?;
    std::fs::write(path, bytes).map_err(write_error)
}
