use clap::Parser;
use custscore::cli::{Cli, Command, InspectArgs, ReportArgs, ScoreArgs, ServeArgs, TrainArgs};
use custscore::config::TrainConfig;
use custscore::progress::Progress;
use custscore::{batch, bundle::Bundle, inspect, report, score::Scorer, serve};
use std::process::ExitCode;

// Scoring allocates many small short-lived values per row and per request.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        // A closed pipe (`custscore score --output - | head`) is the reader's choice.
        Err(error) if format!("{error:#}").contains("Broken pipe") => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("custscore: {error:#}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Train(args) => run_train(*args),
        Command::Score(args) => run_score(args),
        Command::Inspect(args) => run_inspect(args),
        Command::Serve(args) => run_serve(args),
        Command::Report(args) => run_report(args),
        Command::Rules(args) => Ok(custscore::rules_cli::run_rules(&args)?),
        Command::Models(args) => Ok(custscore::models_cli::run_models(args.action)?),
        Command::Drift(args) => run_drift(args),
        Command::Lifetime(args) => Ok(custscore::lifetime_cli::run_lifetime(&args)?),
        Command::Outcomes(args) => Ok(custscore::outcomes_cli::run_outcomes(args.action)?),
        Command::Aggregate(args) => Ok(custscore::aggregate_cli::run_aggregate(&args)?),
        Command::Target(args) => {
            print!("{}", custscore::decisions_cli::run_target(&args)?);
            Ok(())
        }
        Command::Changes(args) => {
            print!("{}", custscore::decisions_cli::run_changes(&args)?);
            Ok(())
        }
        Command::Evaluate(args) => {
            print!("{}", custscore::outcomes_cli::run_evaluate(&args)?);
            Ok(())
        }
        Command::Keys(args) => Ok(custscore::keys_cli::run_keys(args.action)?),
    }
}

fn run_train(args: TrainArgs) -> anyhow::Result<()> {
    let mut config = train_config(&args)?;
    // Kept alive until training ends: the campaign's contacts as a customer table.
    let _campaign_table = custscore::outcomes_cli::campaign_training_table(&args, &mut config)?;
    let progress = Progress::for_terminal();
    let params = custscore::lifecycle::GateParams {
        mode: args.gate.promote,
        auc_tolerance: args.gate.gate_auc_tolerance,
        max_ece: args.gate.gate_max_ece,
        leak_auc: args.gate.gate_leak_auc,
        schema_changed: args.gate.schema_changed,
    };
    let trained = custscore::lifecycle::train_gated(
        &config,
        &progress,
        &args.models.models,
        &params,
        args.gate.holdout.as_deref(),
    )?;
    progress.finish();
    print!("{}", inspect::training_summary(&trained.bundle));
    print!("{}", custscore::lifecycle::gate::describe(&trained.gate));
    let state = match trained.gate.promotes() {
        true => "now CURRENT",
        false => "not CURRENT",
    };
    println!("saved {} ({state})", trained.dir.display());
    Ok(())
}

/// Config file first, then flags on top.
fn train_config(args: &TrainArgs) -> anyhow::Result<TrainConfig> {
    let use_default = args.config.is_none()
        && args.customers.is_none()
        && args.log.transactions.is_none()
        && args.from_campaign.is_none();
    let mut config = match (&args.config, use_default) {
        (Some(path), _) => TrainConfig::load(path)?,
        (None, true) => TrainConfig::load_or_default(None)?,
        (None, false) => TrainConfig::default(),
    };
    let data = &mut config.data;
    if let Some(c) = &args.customers {
        data.customers = Some(c.clone());
    }
    data.id = args.id.clone().or(data.id.take());
    custscore::models::targets::apply_flags(
        &mut config,
        &args.label,
        &args.attrition,
        &args.target_exclude,
    )?;
    let data = &mut config.data;
    data.value = args.value.clone().or(data.value.take());
    if !args.drop.is_empty() {
        data.drop = args.drop.clone();
    }
    if !args.holdings.is_empty() {
        data.holdings = args.holdings.clone();
    }
    args.log.apply(&mut config.transactions);
    if let Some(k) = args.segments {
        config.segments.k = Some(k);
    }
    if !args.segment_on.is_empty() {
        config.segments.on = args.segment_on.clone();
    }
    if let Some(seed) = args.seed {
        config.segments.seed = seed;
        config.retention.seed = seed;
    }
    config.value.cost = args.cost.clone().or(config.value.cost.take());
    config.value.basis = args.value_basis.unwrap_or(config.value.basis);
    config.value.cost_as_input |= args.cost_as_input;
    if let Some(margin) = &args.margin {
        config.retention.margin = Some(margin.clone());
    }
    if let Some(path) = &args.actions {
        config.actions = custscore::decisions::ActionSet::load(path)?
            .specs()
            .to_vec();
    }
    if let Some(n) = args.sample {
        config.data.sample = Some(usize::try_from(n).unwrap_or(usize::MAX));
    }
    if args.quality_samples {
        config.data.quality_samples = true;
    }
    if let Some(folds) = &args.folds {
        config.retention.folds_file = Some(folds.clone());
    }
    Ok(config)
}

fn run_score(args: ScoreArgs) -> anyhow::Result<()> {
    let bundle = Bundle::load(&args.models.models, args.model_version.as_deref())?;
    let mut scorer = Scorer::new(bundle);
    let rejects = args.rejects_to().map_err(anyhow::Error::msg)?;
    let input_spec = custscore::batch_input::InputSpec::new(
        custscore::batch_input::InputFormat::resolve(
            args.input_format,
            args.input.as_deref().unwrap_or("-".as_ref()),
        ),
        args.no_header,
        &args.columns,
        args.columns_from_bundle,
    )?;
    let output = batch::Stream::from_arg(&args.output);
    // Kept alive until scoring ends: the aggregated customers of a transaction log.
    let mut aggregated = None;
    let input = match (&args.input, &args.transactions) {
        (Some(input), _) => batch::Stream::from_arg(input),
        (None, Some(log)) => {
            let mut log = aggregated_log(&scorer, log, args.cutoff.as_deref())?;
            if let Some(history) = log.history.take() {
                scorer.use_history(history);
            }
            aggregated.insert(log).stream()
        }
        (None, None) => anyhow::bail!("pass --input FILE or --transactions FILE"),
    };
    let campaign = args
        .campaign
        .as_deref()
        .map(|name| custscore::outcomes::Campaign::new(name, args.control_share))
        .transpose()
        .map_err(|e| anyhow::anyhow!("--campaign / --control-share: {e}"))?;
    let mut store = match &campaign {
        Some(_) => Some(custscore::outcomes::open(
            &args.db.location(&args.models.models),
        )?),
        None => None,
    };
    let contacts = campaign
        .zip(store.as_deref_mut())
        .map(|(campaign, store)| batch::ContactLog { campaign, store });
    if args.rank_by.is_some() && (output == batch::Stream::Std || args.format != batch::Format::Csv)
    {
        return Err(custscore::rank::RankError::NotAFile.into());
    }
    if let Some(column) = &args.rank_by {
        custscore::rank::require_column(&scorer, column, &args.output)?;
    }
    let options = batch::StreamOptions {
        input: input_spec,
        format: args.format,
        rejects,
    };
    if args.actions.is_some() && args.format != batch::Format::Csv {
        anyhow::bail!("--actions adds CSV columns: use --format csv (POST /v1/next-best-action answers in JSON)");
    }
    // The bundle's own actions add the CSV columns; JSON Lines keeps the REST answer shape.
    let decider = match args.format {
        batch::Format::Csv => {
            custscore::decisions::Decider::from_file(args.actions.as_deref(), &scorer)?
        }
        _ => None,
    };
    let summary = batch::score_stream_with(
        &scorer,
        &input,
        &output,
        &options,
        contacts,
        decider.as_ref(),
    )?;
    drop(aggregated);
    if let Some(column) = &args.rank_by {
        custscore::rank::rank_csv(&args.output, column)?;
    }
    eprintln!("{summary}");
    if let Some(line) = summary.drift_line() {
        eprintln!("{line}");
    }
    Ok(())
}

/// Aggregate an order log to one row per customer, as the bundle's training did, and
/// say what reading it found.
fn aggregated_log(
    scorer: &Scorer,
    log: &std::path::Path,
    cutoff: Option<&str>,
) -> anyhow::Result<batch::AggregatedLog> {
    let aggregated = batch::aggregate_log_with_items(scorer.bundle(), log, cutoff)?;
    for line in aggregated.quality.findings() {
        eprintln!("{line}");
    }
    Ok(aggregated)
}

fn run_drift(args: custscore::cli::DriftArgs) -> anyhow::Result<()> {
    let run = custscore::drift_cli::run_drift(&args)?;
    for line in run.log.iter().flat_map(|q| q.findings()) {
        eprintln!("{line}");
    }
    print!("{}", run.report.table());
    let s = run.summary;
    let (name, rows) = match (&args.transactions, &args.input) {
        (Some(log), _) => (log.display().to_string(), "customers"),
        (None, input) => (
            input
                .as_deref()
                .unwrap_or("-".as_ref())
                .display()
                .to_string(),
            "rows",
        ),
    };
    eprintln!(
        "{name}: {rows} in {}, compared {}, refused {} (rows `score` would reject)",
        s.rows_in, s.scored, s.rejected
    );
    Ok(())
}

fn run_inspect(args: InspectArgs) -> anyhow::Result<()> {
    let bundle = Bundle::load(&args.models.models, args.model_version.as_deref())?;
    if args.tree {
        print!("{}", inspect::tree_rules(&bundle)?);
        return Ok(());
    }
    print!("{}", inspect::describe(&bundle));
    Ok(())
}

fn run_serve(args: ServeArgs) -> anyhow::Result<()> {
    init_logging(args.log_json);
    let workers = args
        .workers
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
    serve::run(serve::ServeOptions {
        outcomes: args.db.location(&args.models.models),
        outcomes_required: args.db.outcomes_db.is_some(),
        models: args.models.models,
        addr: args.addr,
        api_keys_file: args.api_keys_file,
        admin_token_file: args.admin_token_file,
        limits: serve::Limits {
            max_body_bytes: args.max_body_bytes,
            max_batch_items: args.max_batch_items,
        },
        monitoring: serve::Monitoring {
            enabled: !args.no_monitoring,
            window: args.monitoring_window,
            thresholds: custscore::monitoring::Thresholds::new(args.psi_warn, args.psi_alert)?,
        },
        workers,
        watch_interval: watch_interval(args.watch_interval)?,
        actions: args
            .actions
            .as_deref()
            .map(custscore::decisions::ActionSet::load)
            .transpose()?,
        shadow: args
            .shadow
            .map(|version| serve::shadow::ShadowOptions::new(version, args.shadow_share))
            .transpose()?,
        access: args.access.options().map_err(anyhow::Error::msg)?,
        tls: args.access.tls(),
    })?;
    Ok(())
}

fn watch_interval(secs: Option<f64>) -> anyhow::Result<Option<std::time::Duration>> {
    match secs {
        None => Ok(None),
        Some(s) if (0.05..=86_400.0).contains(&s) => {
            Ok(Some(std::time::Duration::from_secs_f64(s)))
        }
        Some(s) => anyhow::bail!("--watch-interval {s}: give seconds from 0.05 to 86400"),
    }
}

/// Logs go to stderr; RUST_LOG picks the level (default info).
fn init_logging(json: bool) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

fn run_report(args: ReportArgs) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let bundle = Bundle::load(&args.models.models, args.model_version.as_deref())?;
    use custscore::drift_cli::DriftInput;
    let drift_input = match (&args.drift_input, &args.drift_transactions) {
        (Some(path), _) => Some(DriftInput::Customers(path.clone())),
        (None, Some(log)) => Some(DriftInput::Log {
            path: log.clone(),
            cutoff: args.drift_as_of.clone(),
        }),
        (None, None) => None,
    };
    let drift = match drift_input {
        Some(input) => {
            let thresholds = custscore::monitoring::Thresholds::new(0.1, 0.25)?;
            let run = custscore::drift_cli::drift_of(bundle.clone(), &input, thresholds)?;
            Some((input.path().display().to_string(), run.report))
        }
        None => None,
    };
    let location = args.db.location(&args.models.models);
    let campaigns =
        custscore::outcomes_cli::campaign_reports(&location, &args.campaign, &args.outcome)?;
    let html = report::render_with_campaigns(
        &bundle,
        drift.as_ref().map(|(p, r)| (p.as_str(), r)),
        &campaigns,
    );
    std::fs::write(&args.output, html)
        .map_err(|e| anyhow::anyhow!("{}: cannot write: {e}", args.output.display()))?;
    eprintln!(
        "wrote {} for bundle {} in {:.2}s",
        args.output.display(),
        bundle.manifest.version,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
