//! `custscore rules`: read a long-format basket file, mine the frequent itemsets, write
//! them and the rules as CSV, and print what was found and how long each step took.

use crate::cli::RulesArgs;
use crate::data::{read_baskets, BasketOptions, Baskets, DataError};
use crate::models::rules::params::allowed_items;
use crate::models::rules::rulegen::RuleFilter;
use crate::models::rules::{
    evaluate_hit_rate, generate_rules, ItemsetTable, MinSupport, Miner, RulesError, RulesParams,
};
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(Debug, thiserror::Error)]
pub enum RulesCliError {
    #[error(transparent)]
    Data(#[from] DataError),
    #[error("{flag}")]
    Param {
        flag: &'static str,
        source: RulesError,
    },
    #[error("{}: cannot write", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: no baskets left after skipping ({report})", path.display())]
    NoBaskets { path: PathBuf, report: String },
}

fn param(flag: &'static str) -> impl FnOnce(RulesError) -> RulesCliError {
    move |source| RulesCliError::Param { flag, source }
}

/// Checked settings of one run.
struct Settings {
    min_support: MinSupport,
    filter: RuleFilter,
}

fn check(args: &RulesArgs) -> Result<Settings, RulesCliError> {
    let min_support: MinSupport = args.min_support.parse().map_err(param("--min-support"))?;
    if !(0.0..=1.0).contains(&args.min_confidence) {
        return Err(param("--min-confidence")(RulesError::MinConfidence(
            args.min_confidence,
        )));
    }
    if args.min_lift.is_nan() || args.min_lift < 0.0 {
        return Err(param("--min-lift")(RulesError::MinLift(args.min_lift)));
    }
    if args.max_len == Some(0) {
        return Err(param("--max-len")(RulesError::MaxLen));
    }
    Ok(Settings {
        min_support,
        filter: RuleFilter {
            min_confidence: args.min_confidence,
            min_lift: args.min_lift,
            max_consequent: usize::MAX,
        },
    })
}

/// Run the command; progress and results go to stdout.
pub fn run_rules(args: &RulesArgs) -> Result<(), RulesCliError> {
    let settings = check(args)?;
    let started = Instant::now();
    let options = BasketOptions {
        order_col: args.order_col.clone(),
        item_col: args.item_col.clone(),
        cancelled_prefix: args.cancelled_prefix.clone(),
        quantity_col: args.quantity_col.clone(),
    };
    let (baskets, report) = read_baskets(&args.transactions, &options)?;
    if baskets.is_empty() {
        return Err(RulesCliError::NoBaskets {
            path: args.transactions.clone(),
            report: report.to_string(),
        });
    }
    println!("{}: {report}", args.transactions.display());
    println!(
        "{} baskets, {} items, {} basket lines (read in {} ms)",
        baskets.len(),
        baskets.names.len(),
        baskets.occurrences(),
        started.elapsed().as_millis()
    );
    let allowed = allowed_items(&baskets, &args.include, &args.exclude);
    if let Some(mask) = &allowed {
        let out = mask.iter().filter(|a| !**a).count();
        println!("item constraints leave out {out} of {} items", mask.len());
    }
    let min_count = settings.min_support.min_count(baskets.len());
    let mined = mine(args, &baskets, min_count, allowed.as_deref())?;
    if let (Some(path), Some(table)) = (&args.rules, &mined) {
        write_rules(path, &baskets, table, settings.filter)?;
    }
    if args.evaluate {
        evaluate(args, &baskets, &settings);
    }
    println!("total {} ms", started.elapsed().as_millis());
    Ok(())
}

/// Mine; stream the itemsets to `--itemsets` unless rules need them kept in memory.
fn mine(
    args: &RulesArgs,
    baskets: &Baskets,
    min_count: u32,
    allowed: Option<&[bool]>,
) -> Result<Option<ItemsetTable>, RulesCliError> {
    let started = Instant::now();
    let miner = Miner::new(baskets, min_count, args.max_len, allowed);
    let frequent = miner.n_frequent_items();
    let item_of_rank: Vec<u32> = (0..frequent as u32).map(|r| miner.item(r)).collect();
    let mut sizes: Vec<usize> = Vec::new();
    let mut table = args
        .rules
        .as_ref()
        .map(|_| ItemsetTable::new(baskets.len()));
    let mut writer = match (&args.itemsets, &table) {
        (Some(path), None) => Some(ItemsetWriter::create(path, baskets)?),
        _ => None,
    };
    let mut buffer = Vec::new();
    let mut write_error = None;
    miner.mine(|ranks, count| {
        if sizes.len() < ranks.len() {
            sizes.resize(ranks.len(), 0);
        }
        sizes[ranks.len() - 1] += 1;
        if table.is_none() && writer.is_none() {
            return;
        }
        buffer.clear();
        buffer.extend(ranks.iter().map(|&r| item_of_rank[r as usize]));
        if let Some(t) = &mut table {
            buffer.sort_unstable();
            t.push(&buffer, count);
        } else if let Some(w) = &mut writer {
            if let Err(e) = w.write(&mut buffer, count) {
                write_error.get_or_insert(e);
            }
        }
    });
    let total: usize = sizes.iter().sum();
    println!(
        "{total} frequent itemsets (min count {min_count} of {} baskets, {frequent} frequent items) mined {}in {} ms",
        baskets.len(),
        if args.itemsets.is_some() && args.rules.is_none() {
            "and written "
        } else {
            ""
        },
        started.elapsed().as_millis()
    );
    let by_size: Vec<String> = sizes
        .iter()
        .enumerate()
        .map(|(i, n)| format!("{}:{n}", i + 1))
        .collect();
    println!("itemsets by size: {}", by_size.join(" "));
    if let Some(e) = write_error {
        return Err(e);
    }
    if let Some(w) = writer {
        w.finish()?;
    } else if let (Some(path), Some(t)) = (&args.itemsets, &table) {
        let mut w = ItemsetWriter::create(path, baskets)?;
        for (set, count) in t.iter() {
            buffer.clear();
            buffer.extend_from_slice(set);
            w.write(&mut buffer, count)?;
        }
        w.finish()?;
    }
    Ok(table)
}

/// Item names sorted by name within each row, `;`-joined. Written beside the target and
/// renamed at the end, so a half-written file never carries the final name.
struct ItemsetWriter<'b> {
    path: PathBuf,
    file: csv::Writer<std::io::BufWriter<tempfile::NamedTempFile>>,
    names: &'b [String],
    name_rank: Vec<u32>,
    baskets: f64,
    line: String,
    started: Instant,
    rows: usize,
}

fn name_ranks(names: &[String]) -> Vec<u32> {
    let mut order: Vec<usize> = (0..names.len()).collect();
    order.sort_by(|&a, &b| names[a].cmp(&names[b]));
    let mut rank = vec![0u32; names.len()];
    for (r, &i) in order.iter().enumerate() {
        rank[i] = r as u32;
    }
    rank
}

fn staged(path: &Path) -> Result<tempfile::NamedTempFile, RulesCliError> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let tmp = tempfile::NamedTempFile::new_in(dir).map_err(write_error(path))?;
    // Temp files are created owner-only; an output file should be readable like any other.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let readable = std::fs::Permissions::from_mode(0o644);
        tmp.as_file()
            .set_permissions(readable)
            .map_err(write_error(path))?;
    }
    Ok(tmp)
}

fn write_error(path: &Path) -> impl FnOnce(std::io::Error) -> RulesCliError + '_ {
    move |source| RulesCliError::Write {
        path: path.to_path_buf(),
        source,
    }
}

fn persist(
    path: &Path,
    file: csv::Writer<std::io::BufWriter<tempfile::NamedTempFile>>,
) -> Result<(), RulesCliError> {
    let inner = file
        .into_inner()
        .map_err(|e| write_error(path)(std::io::Error::other(e.to_string())))?;
    let tmp = inner
        .into_inner()
        .map_err(|e| write_error(path)(e.into_error()))?;
    tmp.persist(path)
        .map_err(|e| write_error(path)(e.error))
        .map(|_| ())
}

impl<'b> ItemsetWriter<'b> {
    fn create(path: &Path, baskets: &'b Baskets) -> Result<Self, RulesCliError> {
        let tmp = staged(path)?;
        let mut file = csv::Writer::from_writer(std::io::BufWriter::with_capacity(1 << 20, tmp));
        file.write_record(["items", "size", "count", "support"])
            .map_err(|e| write_error(path)(e.into()))?;
        Ok(ItemsetWriter {
            path: path.to_path_buf(),
            file,
            names: &baskets.names,
            name_rank: name_ranks(&baskets.names),
            baskets: baskets.len() as f64,
            line: String::new(),
            started: Instant::now(),
            rows: 0,
        })
    }

    fn write(&mut self, items: &mut [u32], count: u32) -> Result<(), RulesCliError> {
        items.sort_unstable_by_key(|&i| self.name_rank[i as usize]);
        self.line.clear();
        for (k, &i) in items.iter().enumerate() {
            if k > 0 {
                self.line.push(';');
            }
            self.line.push_str(&self.names[i as usize]);
        }
        let support = count as f64 / self.baskets;
        self.file
            .write_record([
                self.line.as_str(),
                &items.len().to_string(),
                &count.to_string(),
                &support.to_string(),
            ])
            .map_err(|e| write_error(&self.path)(e.into()))?;
        self.rows += 1;
        Ok(())
    }

    fn finish(self) -> Result<(), RulesCliError> {
        let (rows, ms) = (self.rows, self.started.elapsed().as_millis());
        persist(&self.path, self.file)?;
        println!(
            "wrote {rows} itemsets to {} in {ms} ms",
            self.path.display()
        );
        Ok(())
    }
}

fn joined(names: &[String], rank: &[u32], items: &[u32]) -> String {
    let mut sorted = items.to_vec();
    sorted.sort_unstable_by_key(|&i| rank[i as usize]);
    let parts: Vec<&str> = sorted.iter().map(|&i| names[i as usize].as_str()).collect();
    parts.join(";")
}

fn number(x: f64) -> String {
    if x.is_infinite() {
        "inf".to_string()
    } else {
        x.to_string()
    }
}

fn write_rules(
    path: &Path,
    baskets: &Baskets,
    table: &ItemsetTable,
    filter: RuleFilter,
) -> Result<(), RulesCliError> {
    let started = Instant::now();
    let rank = name_ranks(&baskets.names);
    let mut file =
        csv::Writer::from_writer(std::io::BufWriter::with_capacity(1 << 20, staged(path)?));
    let header = [
        "antecedent",
        "consequent",
        "support",
        "confidence",
        "lift",
        "leverage",
        "conviction",
        "zhang",
    ];
    let mut result = file.write_record(header);
    let mut rows = 0usize;
    generate_rules(table, filter, |r| {
        if result.is_err() {
            return;
        }
        let m = r.metrics(baskets.len());
        rows += 1;
        result = file.write_record([
            joined(&baskets.names, &rank, r.antecedent),
            joined(&baskets.names, &rank, r.consequent),
            number(m.support),
            number(m.confidence),
            number(m.lift),
            number(m.leverage),
            number(m.conviction),
            number(m.zhang),
        ]);
    });
    result.map_err(|e| write_error(path)(e.into()))?;
    persist(path, file)?;
    println!(
        "{rows} rules (confidence >= {}, lift >= {}) written to {} in {} ms",
        filter.min_confidence,
        filter.min_lift,
        path.display(),
        started.elapsed().as_millis()
    );
    Ok(())
}

fn evaluate(args: &RulesArgs, baskets: &Baskets, settings: &Settings) {
    let started = Instant::now();
    let min_support = match settings.min_support {
        MinSupport::Fraction(f) => f,
        MinSupport::Count(c) => c as f64 / baskets.len() as f64,
    };
    let params = RulesParams {
        min_support,
        min_confidence: settings.filter.min_confidence,
        min_lift: settings.filter.min_lift,
        max_len: args.max_len,
        include: args.include.clone(),
        exclude: args.exclude.clone(),
        ..RulesParams::default()
    };
    let hit = evaluate_hit_rate(baskets, &params, 3);
    println!(
        "{hit}; single-consequent rules mined on {:.0}% of baskets ({} ms)",
        100.0 * (1.0 - params.eval_share),
        started.elapsed().as_millis()
    );
}
