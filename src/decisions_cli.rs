//! `custscore target` and `custscore changes`: decisions from scores (see `decisions/`).

use crate::batch::{scan_stream, BatchError, Stream};
use crate::bundle::{Bundle, BundleError};
use crate::cli::ModelsArg;
use crate::decisions::budget::{self, Candidate, Selection};
use crate::decisions::changes::{self, ChangeOptions, ChangesError};
use crate::decisions::nba::{amount, evaluate, Choice};
use crate::decisions::{ActionsError, Decider};
use crate::numfmt;
use crate::score::Scorer;
use clap::Args;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

#[derive(Debug, Args)]
pub struct TargetArgs {
    /// The actions file (TOML, as for `score --actions`; default: the actions the bundle
    /// keeps).
    #[arg(long, env = "CUSTSCORE_ACTIONS")]
    pub actions: Option<PathBuf>,
    /// The action to build the list for.
    #[arg(long)]
    pub action: String,
    /// Most the list may cost in total.
    #[arg(long)]
    pub budget: f64,
    /// Customers to choose from (CSV with the training columns, as `score` reads them).
    #[arg(long)]
    pub customers: PathBuf,
    /// Where to write the list: rank, id, expected value, cost, probability, reason.
    #[arg(long)]
    pub output: PathBuf,
    /// Also print the expected value of a random list of the same cost and of the list
    /// taken by highest probability first within the budget.
    #[arg(long)]
    pub compare: bool,
    /// Seed of the random list of --compare.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Bundle version to use (default: the one CURRENT points to).
    #[arg(long = "version", env = "CUSTSCORE_MODEL_VERSION")]
    pub model_version: Option<String>,
    #[command(flatten)]
    pub models: ModelsArg,
}

#[derive(Debug, Args)]
pub struct ChangesArgs {
    /// The earlier scored file (as `score` writes it).
    #[arg(long)]
    pub before: PathBuf,
    /// The later scored file.
    #[arg(long)]
    pub after: PathBuf,
    /// A fall of at least this share of the earlier value is a change (0.2 = 20%).
    #[arg(long, default_value_t = 0.2)]
    pub value_drop: f64,
    /// The value column whose fall is a change.
    #[arg(long, default_value = "clv")]
    pub value_col: String,
    /// The customer id column joining the two files.
    #[arg(long, default_value = "id")]
    pub id_col: String,
    /// Where to write one row per change: id, change, before, after, before_line, after_line.
    #[arg(long)]
    pub output: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum DecisionsCliError {
    #[error(transparent)]
    Bundle(#[from] BundleError),
    #[error(transparent)]
    Actions(#[from] ActionsError),
    #[error(transparent)]
    Batch(#[from] BatchError),
    #[error(transparent)]
    Changes(#[from] ChangesError),
    #[error("bundle {0} names no customer id column: a target list needs customer ids (train with --id)")]
    NoIdColumn(String),
    #[error("{}: customer id `{id}` appears more than once; a target list needs one row per customer", path.display())]
    DuplicateId { path: PathBuf, id: String },
    #[error("bundle {0} keeps no actions: pass --actions FILE (or train with --actions FILE)")]
    NoActions(String),
    #[error("--budget {0}: give a finite amount of at least 0")]
    Budget(f64),
    #[error("{}: cannot write", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// One customer eligible for the action.
struct Eligible {
    id: String,
    choice: Choice,
}

/// Build the target list, write it and return what to print.
pub fn run_target(args: &TargetArgs) -> Result<String, DecisionsCliError> {
    let started = Instant::now();
    if !(args.budget.is_finite() && args.budget >= 0.0) {
        return Err(DecisionsCliError::Budget(args.budget));
    }
    let scorer = Scorer::new(Bundle::load(
        &args.models.models,
        args.model_version.as_deref(),
    )?);
    if scorer.id_column().is_none() {
        return Err(DecisionsCliError::NoIdColumn(scorer.version().to_string()));
    }
    let decider = Decider::from_file(args.actions.as_deref(), &scorer)?
        .ok_or_else(|| DecisionsCliError::NoActions(scorer.version().to_string()))?;
    let action = decider.actions().get(&args.action)?;
    let eligible = Mutex::new(Vec::new());
    let ineligible = Mutex::new(0usize);
    let scan = scan_stream(
        &scorer,
        &Stream::File(args.customers.clone()),
        &|id, scored| {
            let answer = scorer.answer(id.into(), scored);
            let record = decider.record(&scorer, scored.values());
            match evaluate(action, &answer, &record) {
                Ok(choice) => lock(&eligible).push(Eligible {
                    id: answer.id,
                    choice,
                }),
                Err(_) => *lock(&ineligible) += 1,
            }
        },
    )?;
    let mut eligible = eligible.into_inner().unwrap_or_else(|e| e.into_inner());
    // Rows were scored on several threads: a fixed order makes the run repeatable.
    eligible.sort_by(|a, b| a.id.cmp(&b.id));
    if let Some(twice) = eligible.windows(2).find(|w| w[0].id == w[1].id) {
        return Err(DecisionsCliError::DuplicateId {
            path: args.customers.clone(),
            id: twice[0].id.clone(),
        });
    }
    let candidates: Vec<Candidate> = eligible
        .iter()
        .map(|e| Candidate {
            value: e.choice.expected_value,
            cost: e.choice.cost,
        })
        .collect();
    let list = budget::greedy(&candidates, args.budget);
    write_list(&args.output, &eligible, &list)?;
    let positive = candidates.iter().filter(|c| c.value > 0.0).count();
    let mut out = format!(
        "{}: {} rows, {} scored ({} refused: `custscore score` gives the reasons); {} eligible for `{}`, {} of them with positive expected value\n",
        args.customers.display(),
        scan.rows_in,
        scan.scored,
        scan.rejected,
        eligible.len(),
        action.name,
        positive,
    );
    let ineligible = ineligible.into_inner().unwrap_or_else(|e| e.into_inner());
    if ineligible > 0 {
        out += &format!("{ineligible} not eligible (see POST /v1/next-best-action for why)\n");
    }
    out += &format!(
        "list: {} customers, expected value {}, cost {} of budget {} -> {} ({:.2} s)\n",
        list.picked.len(),
        amount(list.value),
        amount(list.cost),
        amount(args.budget),
        args.output.display(),
        started.elapsed().as_secs_f64()
    );
    if args.compare {
        out += &compare_lists(&eligible, &candidates, &list, args);
    }
    Ok(out)
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The list against the lists built without expected values, on the same customers.
fn compare_lists(
    eligible: &[Eligible],
    candidates: &[Candidate],
    list: &Selection,
    args: &TargetArgs,
) -> String {
    let random = budget::random_within(candidates, list.cost, args.seed);
    let mut by_probability: Vec<usize> = (0..eligible.len()).collect();
    let p = |i: usize| eligible[i].choice.probability.unwrap_or(0.0);
    by_probability.sort_by(|&a, &b| p(b).total_cmp(&p(a)));
    let top = budget::in_order_within(candidates, by_probability, args.budget);
    let line = |name: &str, s: &Selection| {
        format!(
            "  {name:<34} {:>8} customers, expected value {:>12}, cost {:>12}\n",
            s.picked.len(),
            amount(s.value),
            amount(s.cost)
        )
    };
    format!(
        "compared on the same {} eligible customers:\n{}{}{}",
        eligible.len(),
        line("by expected value per cost", list),
        line(&format!("random, same cost (seed {})", args.seed), &random),
        line("highest probability first", &top),
    )
}

fn write_list(
    path: &Path,
    eligible: &[Eligible],
    list: &Selection,
) -> Result<(), DecisionsCliError> {
    let csv_error = |e: csv::Error| DecisionsCliError::Write {
        path: path.to_path_buf(),
        source: std::io::Error::other(e),
    };
    staged_write(path, |out| {
        let mut csv = csv::Writer::from_writer(out);
        csv.write_record([
            "rank",
            "id",
            "action",
            "product",
            "expected_value",
            "cost",
            "probability",
            "reason",
        ])
        .map_err(csv_error)?;
        for (rank, &i) in list.picked.iter().enumerate() {
            let (id, c) = (&eligible[i].id, &eligible[i].choice);
            csv.write_record([
                &(rank + 1).to_string(),
                id,
                &c.action,
                c.product.as_deref().unwrap_or(""),
                &numfmt::fixed(c.expected_value, 2),
                &numfmt::fixed(c.cost, 2),
                &c.probability.map_or(String::new(), |p| numfmt::fixed(p, 4)),
                &c.reason,
            ])
            .map_err(csv_error)?;
        }
        csv.flush().map_err(|e| csv_error(e.into()))
    })
}

/// Write `path` through a temp file beside it, renamed at the end: a half-written file
/// never carries the final name.
fn staged_write<T>(
    path: &Path,
    fill: impl FnOnce(&mut dyn Write) -> Result<T, DecisionsCliError>,
) -> Result<T, DecisionsCliError> {
    let error = |source| DecisionsCliError::Write {
        path: path.to_path_buf(),
        source,
    };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let tmp = tempfile::NamedTempFile::new_in(dir).map_err(error)?;
    let mut out = std::io::BufWriter::new(tmp);
    let value = fill(&mut out)?;
    let tmp = out.into_inner().map_err(|e| error(e.into_error()))?;
    tmp.persist(path).map_err(|e| error(e.error))?;
    Ok(value)
}

/// Compare two scored files, write the change rows and return what to print.
pub fn run_changes(args: &ChangesArgs) -> Result<String, DecisionsCliError> {
    let options = ChangeOptions {
        id_column: args.id_col.clone(),
        value_column: args.value_col.clone(),
        value_drop: args.value_drop,
    };
    let summary = staged_write(&args.output, |out| {
        Ok(changes::compare(&args.before, &args.after, &options, out)?)
    })?;
    Ok(format!("{summary}changes -> {}\n", args.output.display()))
}
