//! `custscore aggregate`: an order log → the customer table `train --transactions` fits
//! on, through the same running totals (`CustomerTotals`): features from events before
//! the cut-off, the `churned` label from the churn window after it.
//!
//! Every row depends only on its own customer's events and the cut-off, so a log split
//! by customer (Spark's `partitionBy` on the customer id, piped through this command)
//! gives the same rows as the whole log. That is why the cut-off must be given: a part
//! cannot know the whole log's last event, from which `train` derives its default.

use crate::cli::AggregateArgs;
use crate::config::{ConfigError, TransactionsConfig};
use crate::data::transactions::{self, CustomerTotals, TransactionError};
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum AggregateError {
    #[error("--as-of DATE (or --cutoff) is required: a part of a log cannot know the whole log's last event, so give the cut-off `train` used (its `inspect` shows it)")]
    NoCutoff,
    #[error("--transactions LOG (or - for standard input) is required")]
    NoLog,
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Log(#[from] TransactionError),
    #[error("{}: cannot write", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Customers written, and what reading the log found (printed to standard error).
pub struct Aggregated {
    pub customers: usize,
    pub quality: transactions::LogQuality,
}

pub fn run_aggregate(args: &AggregateArgs) -> Result<(), AggregateError> {
    let done = aggregate(args)?;
    for line in done.quality.findings() {
        eprintln!("{line}");
    }
    eprintln!(
        "{} customers written to {}",
        done.customers,
        args.output.display()
    );
    Ok(())
}

/// Aggregate the log the flags name and write the customer table.
pub fn aggregate(args: &AggregateArgs) -> Result<Aggregated, AggregateError> {
    let mut config = match &args.config {
        Some(path) => crate::config::TrainConfig::load(path)?.transactions,
        None => TransactionsConfig::default(),
    };
    args.log.apply(&mut config);
    let spec = config.spec()?;
    let log = config.file.clone().ok_or(AggregateError::NoLog)?;
    let cutoff = config.cutoff.as_deref().ok_or(AggregateError::NoCutoff)?;
    let cutoff = transactions::parse_cutoff(cutoff)?;
    let columns = args.no_header.then_some(args.columns.as_slice());
    let mut totals = CustomerTotals::new(Some(cutoff), spec.churn_after_days);
    let quality = match transactions::for_each_event_in(&log, columns, &spec, |e| totals.add(e)) {
        Ok(scan) => {
            let mut quality = scan.quality;
            quality.note_scan_span(scan.first, scan.last, cutoff);
            quality
        }
        // An empty part of a log (a partition without lines) has no customers.
        Err(TransactionError::NoEvents { rejected: 0, .. }) => transactions::LogQuality::default(),
        Err(e) => return Err(e.into()),
    };
    let (table, after_cutoff) = totals.table(&spec, cutoff, true);
    let mut quality = quality;
    quality.customers_after_cutoff = after_cutoff;
    write_table(&table, &spec.customer_col, &args.output, !args.no_header)?;
    Ok(Aggregated {
        customers: table.rows(),
        quality,
    })
}

/// Standard output for `-`, a device or pipe written in place; a file appears only once
/// complete.
fn write_table(
    table: &crate::data::Table,
    id_column: &str,
    output: &Path,
    header: bool,
) -> Result<(), AggregateError> {
    let error = |source| AggregateError::Write {
        path: output.to_path_buf(),
        source,
    };
    // Standard output, or a device or pipe (renaming a file over it would replace it):
    // written as it goes.
    let in_place: Option<Box<dyn Write>> = if output == Path::new("-") {
        Some(Box::new(std::io::stdout().lock()))
    } else if crate::batch::is_special_file(output) {
        let file = std::fs::OpenOptions::new().write(true).open(output);
        Some(Box::new(file.map_err(error)?))
    } else {
        None
    };
    if let Some(sink) = in_place {
        let mut sink = std::io::BufWriter::new(sink);
        transactions::write_customer_rows(table, id_column, &mut sink, header).map_err(error)?;
        return sink.flush().map_err(error);
    }
    let dir = match output.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let temp = tempfile::NamedTempFile::new_in(dir).map_err(error)?;
    transactions::write_customer_rows(table, id_column, temp.as_file(), header).map_err(error)?;
    temp.persist(output).map_err(|e| error(e.error))?;
    Ok(())
}
