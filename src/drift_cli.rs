//! `custscore drift`: read a customer file as `score` does (or aggregate an order log as
//! `score --transactions` does), score each row, and compare the inputs and scores with
//! the bundle's training profile. Drift is information, not an error: the command
//! succeeds whatever it finds.

use crate::batch::{aggregate_log, scan_stream, AggregatedLog, BatchError, ScanSummary, Stream};
use crate::bundle::{Bundle, BundleError};
use crate::cli::{DriftArgs, DriftBins};
use crate::features::Value;
use crate::monitoring::counts::AtomicCounts;
use crate::monitoring::drift::{Status, ThresholdError};
use crate::monitoring::evidently::{self, Binning, Sample};
use crate::monitoring::{DriftReport, SlotMap, Thresholds};
use crate::score::{Scored, Scorer};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

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
    #[error("--bins evidently needs --reference FILE: the training file, which the bundle keeps only as aggregates")]
    NeedsReferenceFile,
    #[error("--bins evidently compares customer files; with --transactions use the bundle's bins (--bins reference)")]
    EvidentlyNeedsCustomers,
    #[error("{}: cannot write", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// What is compared with the training profile.
#[derive(Debug, Clone, PartialEq)]
pub enum DriftInput {
    /// A customer file (`-`: standard input), read as `score --input` reads it.
    Customers(PathBuf),
    /// An order log, aggregated per customer as `score --transactions` does, with the
    /// features computed at `cutoff` (default: just after the log's last event).
    Log {
        path: PathBuf,
        cutoff: Option<String>,
    },
}

impl DriftInput {
    pub fn path(&self) -> &Path {
        match self {
            DriftInput::Customers(path) | DriftInput::Log { path, .. } => path,
        }
    }

    /// The customers to read, and the aggregated log they live in (kept while reading).
    fn open(&self, bundle: &Bundle) -> Result<(Stream, Option<AggregatedLog>), DriftCliError> {
        match self {
            DriftInput::Customers(path) => Ok((Stream::from_arg(path), None)),
            DriftInput::Log { path, cutoff } => {
                let log = aggregate_log(&bundle.manifest, path, cutoff.as_deref())?;
                Ok((log.stream(), Some(log)))
            }
        }
    }
}

/// What one run found.
pub struct DriftRun {
    pub report: DriftReport,
    pub summary: ScanSummary,
    /// What reading the order log found (order-log input only).
    pub log: Option<crate::data::transactions::LogQuality>,
}

pub fn run_drift(args: &DriftArgs) -> Result<DriftRun, DriftCliError> {
    let thresholds = Thresholds::new(args.psi_warn, args.psi_alert)?;
    let bundle = Bundle::load(&args.models.models, args.model_version.as_deref())?;
    let source = drift_input(args);
    if let (DriftInput::Log { .. }, DriftBins::Evidently(_)) = (&source, args.bins) {
        return Err(DriftCliError::EvidentlyNeedsCustomers);
    }
    let (input, aggregated) = source.open(&bundle)?;
    let (scorer, slots) = scorer_with_slots(bundle)?;
    let (summary, mut report) = match args.bins {
        DriftBins::Reference => reference_report(&scorer, &slots, &input, thresholds)?,
        DriftBins::Evidently(binning) => {
            let file = args
                .reference
                .as_deref()
                .ok_or(DriftCliError::NeedsReferenceFile)?;
            evidently_report(&scorer, &slots, &input, file, binning, thresholds)?
        }
    };
    report.thresholds = thresholds;
    if let Some(path) = &args.json {
        write_json(path, &report)?;
    }
    Ok(DriftRun {
        report,
        summary,
        log: aggregated.map(|a| a.quality),
    })
}

/// `custscore drift`: the table on standard output; what reading found and the row counts
/// on standard error.
pub fn print_drift(args: &DriftArgs) -> Result<(), DriftCliError> {
    let run = run_drift(args)?;
    for line in run.log.iter().flat_map(|q| q.findings()) {
        eprintln!("{line}");
    }
    print!("{}", run.report.table());
    let s = run.summary;
    let source = drift_input(args);
    let rows = match source {
        DriftInput::Log { .. } => "customers",
        DriftInput::Customers(_) => "rows",
    };
    eprintln!(
        "{}: {rows} in {}, compared {}, refused {} (rows `score` would reject)",
        source.path().display(),
        s.rows_in,
        s.scored,
        s.rejected
    );
    Ok(())
}

/// `--input FILE` or `--transactions LOG [--cutoff DATE]`.
fn drift_input(args: &DriftArgs) -> DriftInput {
    match (&args.customers.transactions, &args.customers.input) {
        (Some(log), _) => DriftInput::Log {
            path: log.clone(),
            cutoff: args.customers.cutoff.clone(),
        },
        (None, input) => DriftInput::Customers(input.clone().unwrap_or_else(|| "-".into())),
    }
}

/// Drift of a customer file or order log from `bundle`'s training profile over its own
/// bins, as `custscore drift` reports it by default (the report's drift section uses it).
pub fn drift_of(
    bundle: Bundle,
    input: &DriftInput,
    thresholds: Thresholds,
) -> Result<DriftRun, DriftCliError> {
    let (stream, aggregated) = input.open(&bundle)?;
    let (scorer, slots) = scorer_with_slots(bundle)?;
    let (summary, report) = reference_report(&scorer, &slots, &stream, thresholds)?;
    Ok(DriftRun {
        report,
        summary,
        log: aggregated.map(|a| a.quality),
    })
}

/// The bundle's Scorer and where its drift counts go; a bundle without a training
/// profile (trained before profiles existed) cannot measure drift.
fn scorer_with_slots(bundle: Bundle) -> Result<(Scorer, SlotMap), DriftCliError> {
    let Some(reference) = bundle.drift.clone() else {
        return Err(DriftCliError::NoReference {
            version: bundle.manifest.version.clone(),
        });
    };
    let scorer = Scorer::new(bundle);
    let slots = SlotMap::new(reference, &scorer.bundle().encoder);
    Ok((scorer, slots))
}

fn reference_report(
    scorer: &Scorer,
    slots: &SlotMap,
    input: &Stream,
    thresholds: Thresholds,
) -> Result<(ScanSummary, DriftReport), BatchError> {
    let (summary, counts) = count_file(scorer, slots, input)?;
    Ok((summary, DriftReport::compare(slots, &counts, thresholds)))
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
    let summary = scan_stream(scorer, input, &|_, s| {
        let (segment, probability) = scores(s);
        slots.record(s.values(), segment, probability, |slot| counts.hit(slot));
    })?;
    Ok((summary, counts.snapshot()))
}

/// The reference-bin report, with each PSI recomputed with Evidently's binning of the
/// training file and the current file (rates stay as the reference bins count them).
fn evidently_report(
    scorer: &Scorer,
    slots: &SlotMap,
    input: &Stream,
    reference_file: &Path,
    binning: Binning,
    thresholds: Thresholds,
) -> Result<(ScanSummary, DriftReport), DriftCliError> {
    let (summary, counts) = count_file(scorer, slots, input)?;
    let mut report = DriftReport::compare(slots, &counts, thresholds);
    let reference = samples(scorer, slots, &Stream::File(reference_file.to_path_buf()))?;
    let current = samples(scorer, slots, input)?;
    let psi = |i: usize| evidently::psi(&reference[i], &current[i], binning);
    for (i, input) in report.inputs.iter_mut().enumerate() {
        input.psi = psi(i);
        input.status = Status::of(input.psi, thresholds);
    }
    let n = report.inputs.len();
    if let Some(churn) = &mut report.churn_probability {
        churn.psi = psi(n);
        churn.status = Status::of(churn.psi, thresholds);
    }
    if let Some(segments) = &mut report.segments {
        segments.psi = psi(n + 1);
        segments.status = Status::of(segments.psi, thresholds);
    }
    Ok((summary, report))
}

/// The present values of each profiled input of a file, then the churn probabilities
/// and the segment ids (as numbers), in that order.
fn samples(scorer: &Scorer, slots: &SlotMap, input: &Stream) -> Result<Vec<Sample>, BatchError> {
    let encoder = &scorer.bundle().encoder;
    let at: Vec<Option<usize>> = slots
        .reference()
        .inputs
        .iter()
        .map(|i| encoder.input_index(&i.name))
        .collect();
    let columns = Mutex::new(empty_samples(slots));
    scan_stream(scorer, input, &|_, s| {
        let mut columns = columns.lock().unwrap_or_else(|e| e.into_inner());
        for (column, i) in columns.iter_mut().zip(&at) {
            match (column, i.and_then(|i| s.values().get(i))) {
                (Sample::Numbers(v), Some(Value::Number(x))) => v.push(*x),
                (Sample::Texts(v), Some(Value::Text(t))) => v.push(t.to_string()),
                _ => {}
            }
        }
        let (segment, probability) = scores(s);
        let n = at.len();
        if let (Some(Sample::Numbers(v)), Some(p)) = (columns.get_mut(n), probability) {
            v.push(p);
        }
        if let Some(Sample::Numbers(v)) = columns.get_mut(n + 1) {
            v.push(segment as f64);
        }
    })?;
    Ok(columns.into_inner().unwrap_or_else(|e| e.into_inner()))
}

fn empty_samples(slots: &SlotMap) -> Vec<Sample> {
    use crate::monitoring::reference::Profile;
    let mut samples: Vec<Sample> = slots
        .reference()
        .inputs
        .iter()
        .map(|i| match i.profile {
            Profile::Numeric(_) => Sample::Numbers(Vec::new()),
            Profile::Categorical(_) => Sample::Texts(Vec::new()),
        })
        .collect();
    samples.push(Sample::Numbers(Vec::new()));
    samples.push(Sample::Numbers(Vec::new()));
    samples
}

fn write_json(path: &Path, report: &DriftReport) -> Result<(), DriftCliError> {
    let write_error = |source| DriftCliError::Write {
        path: path.to_path_buf(),
        source,
    };
    let bytes = serde_json::to_vec_pretty(report).map_err(|e| write_error(e.into()))?;
    std::fs::write(path, bytes).map_err(write_error)
}
