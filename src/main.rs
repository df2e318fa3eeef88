use clap::Parser;
use custscore::cli::{Cli, Command};
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
        Command::Train(args) => Ok(custscore::train_cli::run_train(*args)?),
        Command::Score(args) => Ok(custscore::score_cli::run_score(args)?),
        Command::Inspect(args) => {
            print!("{}", custscore::inspect::run_inspect(&args)?);
            Ok(())
        }
        Command::Serve(args) => {
            init_logging(args.log_json);
            Ok(custscore::serve::cli::run_serve(args)?)
        }
        Command::Report(args) => Ok(custscore::report::run_report(&args)?),
        Command::Rules(args) => Ok(custscore::rules_cli::run_rules(&args)?),
        Command::Models(args) => Ok(custscore::models_cli::run_models(args.action)?),
        Command::Drift(args) => Ok(custscore::drift_cli::print_drift(&args)?),
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
