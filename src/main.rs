use anyhow::Context;
use clap::Parser;
use custscore::cli::{Cli, Command, InspectArgs, ScoreArgs, TrainArgs};
use custscore::config::TrainConfig;
use custscore::progress::Progress;
use custscore::{batch, bundle::Bundle, inspect, score::Scorer, train};
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("custscore: {error:#}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Train(args) => run_train(args),
        Command::Score(args) => run_score(args),
        Command::Inspect(args) => run_inspect(args),
    }
}

fn run_train(args: TrainArgs) -> anyhow::Result<()> {
    let config = train_config(&args)?;
    let progress = Progress::for_terminal();
    let mut bundle = train::train(&config, &progress)?;
    progress.step("writing the bundle");
    let dir = bundle.save(&args.models.models)?;
    progress.finish();
    print!("{}", inspect::training_summary(&bundle));
    println!("saved {} (now CURRENT)", dir.display());
    Ok(())
}

/// Config file first, then flags on top.
fn train_config(args: &TrainArgs) -> anyhow::Result<TrainConfig> {
    let use_default = args.config.is_none() && args.customers.is_none();
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
    data.label = args.label.clone().or(data.label.take());
    data.value = args.value.clone().or(data.value.take());
    if !args.drop.is_empty() {
        data.drop = args.drop.clone();
    }
    if !args.holdings.is_empty() {
        data.holdings = args.holdings.clone();
    }
    if let Some(k) = args.segments {
        config.segments.k = Some(k);
    }
    if let Some(seed) = args.seed {
        config.segments.seed = seed;
        config.retention.seed = seed;
    }
    if let Some(margin) = &args.margin {
        config.retention.margin = Some(margin.clone());
    }
    if let Some(folds) = &args.folds {
        config.retention.folds_file = Some(folds.clone());
    }
    Ok(config)
}

fn run_score(args: ScoreArgs) -> anyhow::Result<()> {
    let bundle = Bundle::load(&args.models.models, args.model_version.as_deref())?;
    let scorer = Scorer::new(bundle);
    let rejects = args.rejects.clone().unwrap_or_else(|| {
        let mut name = args.output.clone().into_os_string();
        name.push(".rejects.csv");
        name.into()
    });
    let summary = batch::score_file(&scorer, &args.input, &args.output, &rejects)
        .with_context(|| format!("scoring {}", args.input.display()))?;
    eprintln!("{summary}");
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
