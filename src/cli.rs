//! The command line (a stable contract: see README). Every flag can also be set through
//! a `CUSTSCORE_*` environment variable; flags win over the variables, and both win over
//! the config file.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "custscore",
    version,
    about = "Customer segments, cross-sell propensity and retention risk from one model bundle"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Fit every model on a customer table and save them as a new bundle.
    Train(Box<TrainArgs>),
    /// Score a CSV file of customers with the current bundle.
    Score(ScoreArgs),
    /// Show what a bundle holds: segments, value pyramid, data quality.
    Inspect(InspectArgs),
    /// Write the model report: one self-contained HTML file.
    Report(ReportArgs),
    /// Serve the REST scoring API (trains the default bundle first if there is none).
    Serve(ServeArgs),
    /// Mine frequent itemsets and association rules from a basket file.
    Rules(RulesArgs),
    /// The model registry: list versions and history, promote, roll back, clean up.
    Models(ModelsCommand),
    /// Compare a customer file with the bundle's training profile: PSI, missing, unseen
    /// and out-of-range rates per input, and PSI of the churn probability and segments.
    Drift(DriftArgs),
    /// Fit BG/NBD and Gamma-Gamma on a repeat-purchase summary or an order log: the
    /// parameters, a holdout check, and per customer P(alive), expected purchases and CLV.
    Lifetime(LifetimeArgs),
    /// Outcome events of campaigns: import a CSV or JSON Lines file into the store.
    Outcomes(OutcomesCommand),
    /// How a campaign did: realized AUC and lift per model version, treatment against
    /// control with 95% intervals.
    Evaluate(EvaluateArgs),
    /// Turn an order log, or any part of one that holds whole customers, into the
    /// customer table `train --transactions` builds (same features, same `churned`
    /// label) as of a given cut-off.
    Aggregate(AggregateArgs),
    /// A target list for one action: the customers that maximise its total expected value
    /// within a budget.
    Target(crate::decisions_cli::TargetArgs),
    /// Changes between two scored files (tier, segment, risk band, lifecycle, value
    /// drop), one row per change: the triggers of event-based marketing.
    Changes(crate::decisions_cli::ChangesArgs),
    /// API keys for `serve`: create one with scopes (printed once; the file keeps its hash),
    /// list them, revoke one.
    Keys(KeysCommand),
}

#[derive(Debug, Args)]
pub struct KeysCommand {
    #[command(subcommand)]
    pub action: KeysAction,
}

#[derive(Debug, Subcommand)]
pub enum KeysAction {
    /// Create a key: 32 random bytes, printed once on stdout; the keys file gets
    /// `id:scopes:sha256`.
    Create {
        /// The key's name in logs and the audit trail (letters, digits, `-`, `_`, `.`).
        #[arg(long)]
        id: String,
        /// Comma-separated: score, read, outcomes:write, admin.
        #[arg(long, default_value = "score,read")]
        scopes: String,
        /// The keys file to append to (created, owner-only, if absent).
        #[arg(long, env = "CUSTSCORE_API_KEYS_FILE", default_value = "api-keys.txt")]
        keys_file: PathBuf,
    },
    /// List the keys of a keys file: id, scopes, creation time and line (never a hash).
    List {
        #[arg(long, env = "CUSTSCORE_API_KEYS_FILE", default_value = "api-keys.txt")]
        keys_file: PathBuf,
    },
    /// Remove a key by id (the file is rewritten atomically, its permissions kept); a
    /// running server refuses it after SIGHUP or POST /v1/admin/keys/reload.
    Revoke {
        /// The key's id, as `keys list` shows it (`line<N>` for a plain key).
        #[arg(long)]
        id: String,
        #[arg(long, env = "CUSTSCORE_API_KEYS_FILE", default_value = "api-keys.txt")]
        keys_file: PathBuf,
    },
}

/// Where contacts and outcomes are kept.
#[derive(Debug, Args, Clone)]
pub struct OutcomesDbArg {
    /// SQLite file, or a `postgres://user@host/db` URL (default: outcomes.db in the
    /// models folder).
    #[arg(long, env = "CUSTSCORE_OUTCOMES_DB", hide_env_values = true)]
    pub outcomes_db: Option<String>,
}

impl OutcomesDbArg {
    pub fn location(&self, models: &std::path::Path) -> crate::outcomes::StoreLocation {
        crate::outcomes::StoreLocation::from_option(self.outcomes_db.as_deref(), models)
    }
}

#[derive(Debug, Args)]
pub struct OutcomesCommand {
    #[command(subcommand)]
    pub action: OutcomesAction,
}

#[derive(Debug, Subcommand)]
pub enum OutcomesAction {
    /// Store the events of a file (CSV with a header, or JSON Lines): columns campaign,
    /// customer_id, type (responded, purchased, churned, retained), time, and optionally
    /// key and value. An event already stored (same key) counts once.
    Import {
        /// The file holds contacts made outside custscore instead: campaign, customer_id,
        /// time, arm (treatment or control), model_version, optionally churn_probability,
        /// risk_band, segment, segment_name and offers, and the input row as scored (the
        /// CSV's other columns, or a JSON `inputs` object). A customer's first contact in
        /// a campaign is kept.
        #[arg(long)]
        contacts: bool,
        /// The events (or contacts) file.
        file: PathBuf,
        #[command(flatten)]
        db: OutcomesDbArg,
        #[command(flatten)]
        models: ModelsArg,
    },
}

#[derive(Debug, Args)]
pub struct EvaluateArgs {
    /// The campaign to evaluate (as given to `score --campaign`).
    #[arg(long)]
    pub campaign: String,
    /// The event type counted as the outcome.
    #[arg(long, default_value = "churned")]
    pub outcome: String,
    /// Print JSON (the same as GET /v1/campaigns/NAME).
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub db: OutcomesDbArg,
    #[command(flatten)]
    pub models: ModelsArg,
}

#[derive(Debug, Args)]
pub struct LifetimeArgs {
    /// Per-customer summary (frequency, recency, T, monetary value), as lifetimes writes it.
    #[arg(
        long,
        env = "CUSTSCORE_SUMMARY",
        required_unless_present = "transactions",
        conflicts_with = "transactions"
    )]
    pub summary: Option<PathBuf>,
    /// Summary columns.
    #[arg(long, default_value = "frequency")]
    pub frequency_col: String,
    #[arg(long, default_value = "recency")]
    pub recency_col: String,
    #[arg(long, default_value = "T")]
    pub t_col: String,
    #[arg(long, default_value = "monetary_value")]
    pub monetary_col: String,
    /// Customer id column of the summary (row number when absent).
    #[arg(long)]
    pub id_col: Option<String>,
    /// Order log (CSV or CSV.gz): summarised per purchase day.
    #[arg(long, env = "CUSTSCORE_TRANSACTIONS")]
    pub transactions: Option<PathBuf>,
    #[arg(long, requires = "transactions")]
    pub customer_col: Option<String>,
    #[arg(long, requires = "transactions")]
    pub time_col: Option<String>,
    /// Line value column.
    #[arg(long, requires = "transactions")]
    pub amount_col: Option<String>,
    /// Unit price column: line value = quantity × price.
    #[arg(long, requires = "transactions")]
    pub price_col: Option<String>,
    #[arg(long, requires = "transactions")]
    pub quantity_col: Option<String>,
    /// Last day of the calibration period (default: the log's last day, no holdout).
    #[arg(long, requires = "transactions")]
    pub calibration_end: Option<String>,
    /// Last day of the holdout period (default: the log's last day).
    #[arg(long, requires = "transactions")]
    pub observation_end: Option<String>,
    /// Days per time unit of the data (7: a weekly summary, or weekly parameters from a log).
    #[arg(long, default_value_t = 1.0)]
    pub unit_days: f64,
    /// Expected purchases are counted over this many days.
    #[arg(long, default_value_t = 90)]
    pub horizon_days: u32,
    /// Months summed into the lifetime value (30-day months).
    #[arg(long, default_value_t = 12)]
    pub clv_months: u32,
    /// Monthly discount rate of the lifetime value.
    #[arg(long, default_value_t = 0.01, allow_hyphen_values = true)]
    pub monthly_discount: f64,
    /// Write one row per customer: summary, p_alive, expected purchases, order value, CLV.
    #[arg(long)]
    pub output: Option<PathBuf>,
    /// Fit this many times and print the median fit times.
    #[arg(long, default_value_t = 1)]
    pub runs: usize,
    /// Purchase model that answers in --output: bg-nbd, mbg-nbd or pareto-nbd (default:
    /// the lowest holdout error, BG/NBD without a holdout period).
    #[arg(long)]
    pub model: Option<String>,
}

#[derive(Debug, Args)]
pub struct ModelsArg {
    /// Folder holding the model bundles and the CURRENT pointer.
    #[arg(long, env = "CUSTSCORE_MODELS", default_value = "models")]
    pub models: PathBuf,
}

#[derive(Debug, Args)]
pub struct TrainArgs {
    /// TOML config (defaults to training-data/custscore.toml when no --customers is given).
    #[arg(long, env = "CUSTSCORE_CONFIG")]
    pub config: Option<PathBuf>,
    /// Customer table, one row per customer.
    #[arg(long, env = "CUSTSCORE_CUSTOMERS")]
    pub customers: Option<PathBuf>,
    /// Customer id column (the row number when absent).
    #[arg(long, env = "CUSTSCORE_ID")]
    pub id: Option<String>,
    /// Churn label and its positive value, e.g. `churn=Yes`; with --from-campaign, the
    /// outcome type that is the label (e.g. responded, churned). Repeat for several
    /// targets in one bundle (`--label churn=Yes --label upgraded=Yes`).
    #[arg(long, env = "CUSTSCORE_LABEL", value_name = "COL=VALUE")]
    pub label: Vec<String>,
    /// The target lifetime value and the `retention` answer use (default: the label
    /// named churn, else the first).
    #[arg(long, env = "CUSTSCORE_ATTRITION", value_name = "TARGET")]
    pub attrition: Option<String>,
    /// Columns one target's model may not use, e.g. `upgraded=internet_service,monthly_charges`
    /// (the columns the target was derived from); repeatable.
    #[arg(long, value_name = "TARGET=COL,COL")]
    pub target_exclude: Vec<String>,
    /// Learn from a campaign's contacts (inputs as scored) instead of --customers.
    #[arg(long, value_name = "CAMPAIGN", conflicts_with_all = ["customers", "transactions"])]
    pub from_campaign: Option<String>,
    /// With --from-campaign: which arm's contacts to learn from.
    #[arg(
        long,
        value_enum,
        default_value = "treatment",
        requires = "from_campaign"
    )]
    pub arm: crate::outcomes::training::ArmChoice,
    /// With --from-campaign: also fit an uplift model (treatment minus control response)
    /// from both arms' contacts; scores then carry `uplift`.
    #[arg(long, requires = "from_campaign", conflicts_with = "arm")]
    pub uplift: bool,
    #[command(flatten)]
    pub db: OutcomesDbArg,
    /// Columns to leave out of every model (comma-separated).
    #[arg(long, env = "CUSTSCORE_DROP", value_delimiter = ',')]
    pub drop: Vec<String>,
    /// Product-holding columns for cross-sell (comma-separated).
    #[arg(long, env = "CUSTSCORE_HOLDINGS", value_delimiter = ',')]
    pub holdings: Vec<String>,
    /// Customer value column for the value pyramid.
    #[arg(long, env = "CUSTSCORE_VALUE")]
    pub value: Option<String>,
    /// Fixed number of segments (chosen by silhouette when absent).
    #[arg(long, env = "CUSTSCORE_SEGMENTS")]
    pub segments: Option<usize>,
    /// Cluster on these input columns only (comma-separated); segments are still profiled
    /// on every column.
    #[arg(long, env = "CUSTSCORE_SEGMENT_ON", value_delimiter = ',')]
    pub segment_on: Vec<String>,
    /// Random seed for every model.
    #[arg(long, env = "CUSTSCORE_SEED")]
    pub seed: Option<u64>,
    /// Train on N customers when the table holds more: a sample stratified by the label
    /// (uniform without one), the same rows for the same --seed.
    #[arg(long, env = "CUSTSCORE_SAMPLE", value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub sample: Option<u64>,
    /// Column holding each customer's cost to serve (contribution = value − cost).
    #[arg(long, env = "CUSTSCORE_COST", value_name = "COLUMN")]
    pub cost: Option<String>,
    /// Let segments, churn and the other targets read the cost columns (by default they
    /// are not model inputs: they describe us, not the customer).
    #[arg(long, env = "CUSTSCORE_COST_AS_INPUT")]
    pub cost_as_input: bool,
    /// Rank the pyramid, value shares, quadrants and CLV by revenue (the value column) or
    /// by contribution (value less the cost model).
    #[arg(long, env = "CUSTSCORE_VALUE_BASIS", value_enum)]
    pub value_basis: Option<crate::models::contribution::ValueBasis>,
    /// Margin per period column for customer lifetime value (e.g. monthly_charges).
    #[arg(long, env = "CUSTSCORE_MARGIN")]
    pub margin: Option<String>,
    /// Actions (TOML, as for `score --actions`) the bundle keeps, so next best action and
    /// `target` need no actions file (replaces the config's `[[actions]]`).
    #[arg(long, env = "CUSTSCORE_TRAIN_ACTIONS", value_name = "FILE")]
    pub actions: Option<PathBuf>,
    /// Keep examples of customer values (duplicate ids, unreadable cells) in the bundle's
    /// data quality findings, report and `inspect` (default: counts and line numbers only).
    #[arg(long, env = "CUSTSCORE_QUALITY_SAMPLES")]
    pub quality_samples: bool,
    /// Benchmarks: a CSV of `id,fold` fixing the cross-validation folds.
    #[arg(long, env = "CUSTSCORE_FOLDS", hide = true)]
    pub folds: Option<PathBuf>,
    #[command(flatten)]
    pub log: TransactionArgs,
    #[command(flatten)]
    pub gate: GateArgs,
    #[command(flatten)]
    pub models: ModelsArg,
}

/// How `train` decides whether the new version becomes CURRENT.
#[derive(Debug, Args)]
pub struct GateArgs {
    /// auto: promote only if the gate passes; always: promote after showing the figures;
    /// never: only save the new version.
    #[arg(long, env = "CUSTSCORE_PROMOTE", value_enum, default_value = "auto")]
    pub promote: crate::lifecycle::PromoteMode,
    /// Labelled customer table to compare challenger and champion on (default: a
    /// stratified 20% of the training rows kept out of fitting, when there is a champion).
    #[arg(long, env = "CUSTSCORE_HOLDOUT")]
    pub holdout: Option<PathBuf>,
    /// The challenger's holdout AUC may be this much below the champion's.
    #[arg(long, env = "CUSTSCORE_GATE_AUC_TOLERANCE", default_value_t = 0.01)]
    pub gate_auc_tolerance: f64,
    /// Highest holdout expected calibration error the challenger may have.
    #[arg(long, env = "CUSTSCORE_GATE_MAX_ECE", default_value_t = 0.05)]
    pub gate_max_ece: f64,
    /// A challenger at or above this holdout AUC (the champion below it) is refused as
    /// leaking the label through an input.
    #[arg(long, env = "CUSTSCORE_GATE_LEAK_AUC", default_value_t = 0.99)]
    pub gate_leak_auc: f64,
    /// The input columns changed on purpose: skip the check that the challenger can score
    /// what the champion scored.
    #[arg(long, env = "CUSTSCORE_SCHEMA_CHANGED")]
    pub schema_changed: bool,
}

#[derive(Debug, Args)]
pub struct ModelsCommand {
    #[command(subcommand)]
    pub action: ModelsAction,
}

#[derive(Debug, Subcommand)]
pub enum ModelsAction {
    /// Every version (metrics, gate result, which is CURRENT) and the history of CURRENT.
    List {
        /// Print JSON (the same as GET /v1/models returns under `registry`).
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        db: OutcomesDbArg,
        #[command(flatten)]
        models: ModelsArg,
    },
    /// Verify a version fully, then make it CURRENT.
    Promote {
        /// The version (folder name) to make CURRENT.
        version: String,
        #[command(flatten)]
        models: ModelsArg,
    },
    /// Make the previous champion CURRENT again (repeat to go further back).
    Rollback {
        #[command(flatten)]
        models: ModelsArg,
    },
    /// Remove version folders beyond the newest N (never CURRENT or the previous champion).
    Gc {
        /// How many of the newest versions to keep.
        #[arg(long)]
        keep: usize,
        #[command(flatten)]
        models: ModelsArg,
    },
}

/// An order log to build the customer table from (instead of --customers).
#[derive(Debug, Args, Default)]
pub struct TransactionArgs {
    /// Order log (CSV, or CSV.gz), one row per order line.
    #[arg(long, env = "CUSTSCORE_TRANSACTIONS")]
    pub transactions: Option<PathBuf>,
    /// Customer id column of the log.
    #[arg(long, env = "CUSTSCORE_CUSTOMER_COL")]
    pub customer_col: Option<String>,
    /// Order id column (default: one order per customer and timestamp).
    #[arg(long, env = "CUSTSCORE_ORDER_COL")]
    pub order_col: Option<String>,
    /// Item (product) column, for baskets and distinct items.
    #[arg(long, env = "CUSTSCORE_ITEM_COL")]
    pub item_col: Option<String>,
    /// Date/time column (YYYY-MM-DD, optionally with HH:MM[:SS]).
    #[arg(long, env = "CUSTSCORE_TIME_COL")]
    pub time_col: Option<String>,
    /// Line value column.
    #[arg(long, env = "CUSTSCORE_AMOUNT_COL")]
    pub amount_col: Option<String>,
    /// Unit price column: line value = quantity × price.
    #[arg(long, env = "CUSTSCORE_PRICE_COL")]
    pub price_col: Option<String>,
    /// Quantity column (default 1 per line).
    #[arg(long, env = "CUSTSCORE_QUANTITY_COL")]
    pub quantity_col: Option<String>,
    /// No purchase in this many days after the cut-off = churned.
    #[arg(long, env = "CUSTSCORE_CHURN_AFTER_DAYS")]
    pub churn_after_days: Option<i64>,
    /// Cut-off date: features from before it, the label from after it
    /// (default: last event minus the churn window).
    #[arg(long, visible_alias = "as-of", env = "CUSTSCORE_CUTOFF")]
    pub cutoff: Option<String>,
    /// Item codes that are not products, e.g. POST,D,M,BANK CHARGES (comma-separated).
    #[arg(long, env = "CUSTSCORE_EXCLUDE_ITEMS", value_delimiter = ',')]
    pub exclude_items: Vec<String>,
    /// Cross-sell rules fire on the items of each customer's last N baskets (default:
    /// every item bought); nothing bought before is offered either way.
    #[arg(long, env = "CUSTSCORE_HISTORY_BASKETS", value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub history_baskets: Option<u32>,
}

impl TransactionArgs {
    /// The flags given, over what the config file says.
    pub fn apply(&self, log: &mut crate::config::TransactionsConfig) {
        let set = |flag: &Option<String>, field: &mut Option<String>| {
            if flag.is_some() {
                field.clone_from(flag);
            }
        };
        if let Some(file) = &self.transactions {
            log.file = Some(file.clone());
        }
        set(&self.customer_col, &mut log.customer_col);
        set(&self.order_col, &mut log.order_col);
        set(&self.item_col, &mut log.item_col);
        set(&self.time_col, &mut log.time_col);
        set(&self.amount_col, &mut log.amount_col);
        set(&self.price_col, &mut log.price_col);
        set(&self.quantity_col, &mut log.quantity_col);
        set(&self.cutoff, &mut log.cutoff);
        if let Some(days) = self.churn_after_days {
            log.churn_after_days = days;
        }
        if !self.exclude_items.is_empty() {
            log.exclude_items = self.exclude_items.clone();
        }
        if let Some(n) = self.history_baskets {
            log.history_baskets = Some(n as usize);
        }
    }
}

impl ScoreArgs {
    /// Where rejected rows go: `--rejects FILE`, marked in the output (`--rejects -`), or
    /// OUTPUT with `.rejects.csv` appended. Standard output needs one of the first two.
    pub fn rejects_to(&self) -> Result<crate::batch::RejectsTo, &'static str> {
        use crate::batch::RejectsTo;
        match (&self.rejects, self.output.as_os_str() == "-") {
            (Some(r), _) if r.as_os_str() == "-" => Ok(RejectsTo::Output),
            (Some(r), _) => Ok(RejectsTo::File(r.clone())),
            (None, true) => Err("--rejects FILE is required when --output is - (standard output); --rejects - marks them in the output"),
            (None, false) => {
                let mut name = self.output.clone().into_os_string();
                name.push(".rejects.csv");
                Ok(RejectsTo::File(name.into()))
            }
        }
    }
}

/// `aggregate`: an order log (or a part holding whole customers) → the customer table.
#[derive(Debug, Args)]
pub struct AggregateArgs {
    #[command(flatten)]
    pub log: TransactionArgs,
    /// TOML config whose `[transactions]` table gives the column roles (flags win).
    #[arg(long, env = "CUSTSCORE_CONFIG")]
    pub config: Option<PathBuf>,
    /// The log has no header row (a partition of a larger log): name its columns with
    /// --columns. The output then has no header row either.
    #[arg(long, env = "CUSTSCORE_NO_HEADER", requires = "columns")]
    pub no_header: bool,
    /// Column names of a header-less log, in order (comma-separated).
    #[arg(
        long,
        env = "CUSTSCORE_COLUMNS",
        value_delimiter = ',',
        requires = "no_header"
    )]
    pub columns: Vec<String>,
    /// Where to write the customer table; `-` writes standard output.
    #[arg(long, env = "CUSTSCORE_OUTPUT", default_value = "-")]
    pub output: PathBuf,
}

/// The customers `score` and `drift` read: a customer file, or an order log aggregated
/// to customers. The help texts are `score`'s; `drift` words them for itself.
#[derive(Debug, Args)]
pub struct CustomersArgs {
    /// Customers to score (CSV with the training columns; extra columns are ignored);
    /// `-` reads standard input.
    #[arg(
        long,
        env = "CUSTSCORE_INPUT",
        required_unless_present = "transactions"
    )]
    pub input: Option<PathBuf>,
    /// An order log to aggregate to customers first (bundles trained from a log).
    #[arg(long, env = "CUSTSCORE_SCORE_TRANSACTIONS", conflicts_with = "input")]
    pub transactions: Option<PathBuf>,
    /// With --transactions: the date features are computed at (default: just after the
    /// last event in the log).
    #[arg(
        long,
        visible_alias = "as-of",
        env = "CUSTSCORE_CUTOFF",
        requires = "transactions",
        // `requires` alone lets `--cutoff` pass beside `--input`, where it would be
        // ignored: the log it needs conflicts with the file.
        conflicts_with = "input"
    )]
    pub cutoff: Option<String>,
}

#[derive(Debug, Args)]
pub struct ScoreArgs {
    #[command(flatten)]
    pub customers: CustomersArgs,
    /// Where to write one scored row per accepted input row; `-` writes standard output.
    #[arg(long, env = "CUSTSCORE_OUTPUT")]
    pub output: PathBuf,
    /// Where rows that cannot be scored go, with line number and reason (default: OUTPUT
    /// with `.rejects.csv` appended; required when OUTPUT is `-`). `-` marks them in the
    /// output instead: CSV columns `_rejected,_record`, or a JSON line `{"_rejected": …}`.
    #[arg(long, env = "CUSTSCORE_REJECTS")]
    pub rejects: Option<PathBuf>,
    /// Input format (default: jsonl for a `.jsonl` file name, else csv). JSON Lines: one
    /// customer object per line, read as POST /v1/score reads one.
    #[arg(long, env = "CUSTSCORE_INPUT_FORMAT", value_enum)]
    pub input_format: Option<crate::batch_input::InputFormat>,
    /// The CSV input has no header row (a partition of a text file): name its columns
    /// with --columns or --columns-from-bundle. The CSV output then has no header either.
    #[arg(long, env = "CUSTSCORE_NO_HEADER")]
    pub no_header: bool,
    /// Column names of header-less input, in order (comma-separated).
    #[arg(
        long,
        env = "CUSTSCORE_COLUMNS",
        value_delimiter = ',',
        conflicts_with = "columns_from_bundle"
    )]
    pub columns: Vec<String>,
    /// Header-less input has the bundle's columns: the id column, then the inputs in
    /// training order (`custscore inspect` lists them).
    #[arg(long, env = "CUSTSCORE_COLUMNS_FROM_BUNDLE")]
    pub columns_from_bundle: bool,
    /// Output format.
    #[arg(long, env = "CUSTSCORE_FORMAT", value_enum, default_value = "csv")]
    pub format: crate::batch::Format,
    /// Bundle version to use (default: the one CURRENT points to).
    #[arg(long = "version", env = "CUSTSCORE_MODEL_VERSION")]
    pub model_version: Option<String>,
    /// Record every scored customer as a contact of this campaign (with its arm in the
    /// output's `arm` column).
    #[arg(long, env = "CUSTSCORE_CAMPAIGN")]
    pub campaign: Option<String>,
    /// Share of the campaign's customers held back as control (by a hash of campaign and
    /// customer id, so a customer is always in the same arm).
    #[arg(
        long,
        env = "CUSTSCORE_CONTROL_SHARE",
        default_value_t = 0.1,
        requires = "campaign"
    )]
    pub control_share: f64,
    /// Actions (TOML): adds the columns next_best_action and next_best_action_value
    /// (default: the actions the bundle keeps, if any; this file overrides them).
    #[arg(long, env = "CUSTSCORE_ACTIONS")]
    pub actions: Option<PathBuf>,
    /// Order the output best first by this numeric column once scoring ends (e.g.
    /// `uplift` for a target list of the customers a contact moves most).
    #[arg(long, value_name = "COLUMN")]
    pub rank_by: Option<String>,
    #[command(flatten)]
    pub db: OutcomesDbArg,
    #[command(flatten)]
    pub models: ModelsArg,
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// Print the decision tree's if-then rules instead of the whole bundle.
    #[arg(long, env = "CUSTSCORE_TREE")]
    pub tree: bool,
    /// Bundle version to show (default: the one CURRENT points to).
    #[arg(long = "version", env = "CUSTSCORE_MODEL_VERSION")]
    pub model_version: Option<String>,
    #[command(flatten)]
    pub models: ModelsArg,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on. Without API keys only loopback addresses are allowed.
    #[arg(long, env = "CUSTSCORE_ADDR", default_value = "127.0.0.1:8080")]
    pub addr: std::net::SocketAddr,
    /// Keys file: `id:scopes:sha256` lines from `custscore keys create`, or plain keys
    /// (scopes score and read); clients send `Authorization: Bearer <key>`.
    #[arg(long, env = "CUSTSCORE_API_KEYS_FILE")]
    pub api_keys_file: Option<PathBuf>,
    /// File holding the token for admin routes (POST /v1/admin/reload). Without it the
    /// admin routes answer 403; SIGHUP still reloads the bundle.
    #[arg(long, env = "CUSTSCORE_ADMIN_TOKEN_FILE")]
    pub admin_token_file: Option<PathBuf>,
    /// Largest request body accepted, in bytes.
    #[arg(long, env = "CUSTSCORE_MAX_BODY_BYTES", default_value_t = 1 << 20)]
    pub max_body_bytes: usize,
    /// Most customers in one POST /v1/score/batch request.
    #[arg(long, env = "CUSTSCORE_MAX_BATCH_ITEMS", default_value_t = 1000)]
    pub max_batch_items: usize,
    /// Worker threads (default: one per core).
    #[arg(long, env = "CUSTSCORE_WORKERS")]
    pub workers: Option<usize>,
    /// Seconds an idle client connection stays open for its next request; 0 closes
    /// each connection after one answer.
    #[arg(
        long,
        env = "CUSTSCORE_KEEP_ALIVE",
        value_name = "SECS",
        default_value_t = 5
    )]
    pub keep_alive: u64,
    /// Connections the kernel queues before the server accepts them (capped by the
    /// system's `net.core.somaxconn`).
    #[arg(long, env = "CUSTSCORE_BACKLOG", default_value_t = 1024)]
    pub backlog: u32,
    /// Log as JSON lines instead of text.
    #[arg(long, env = "CUSTSCORE_LOG_JSON")]
    pub log_json: bool,
    /// Poll models/CURRENT every SECS seconds and serve a new CURRENT once verified
    /// (for replicas sharing one models folder). Fractions allowed, e.g. 0.5.
    #[arg(long, env = "CUSTSCORE_WATCH_INTERVAL", value_name = "SECS")]
    pub watch_interval: Option<f64>,
    /// Do not count scored records for drift (GET /v1/monitoring answers 404).
    #[arg(long, env = "CUSTSCORE_NO_MONITORING")]
    pub no_monitoring: bool,
    /// The drift monitoring window: the newest N scored records (`10000`), or those
    /// scored in the last span of time (`15m`, `1h`, `1d`; from 1m to 7d).
    #[arg(
        long,
        env = "CUSTSCORE_MONITORING_WINDOW",
        default_value = "10000",
        value_name = "N|SPAN"
    )]
    pub monitoring_window: crate::monitoring::WindowSpan,
    /// PSI from which an input is flagged `warn` in monitoring.
    #[arg(long, env = "CUSTSCORE_PSI_WARN", default_value_t = 0.1)]
    pub psi_warn: f64,
    /// PSI from which an input is flagged `alert` in monitoring.
    #[arg(long, env = "CUSTSCORE_PSI_ALERT", default_value_t = 0.25)]
    pub psi_alert: f64,
    /// Also score a share of the /v1/score and /v1/score/batch records with this bundle version (off the
    /// response path) and report the agreement in GET /v1/models and /metrics.
    #[arg(long, env = "CUSTSCORE_SHADOW", value_name = "VERSION")]
    pub shadow: Option<String>,
    /// Share of the records (by customer id) to shadow, in (0, 1].
    #[arg(
        long,
        env = "CUSTSCORE_SHADOW_SHARE",
        default_value_t = 0.1,
        requires = "shadow"
    )]
    pub shadow_share: f64,
    /// Actions (TOML) for POST /v1/next-best-action, overriding those the bundle keeps
    /// (without either that route answers 404).
    #[arg(long, env = "CUSTSCORE_ACTIONS")]
    pub actions: Option<PathBuf>,
    #[command(flatten)]
    pub db: OutcomesDbArg,
    #[command(flatten)]
    pub access: AccessArgs,
    #[command(flatten)]
    pub models: ModelsArg,
}

/// Rate limits, lock-out, audit trail and TLS of `serve`.
#[derive(Debug, Args)]
pub struct AccessArgs {
    /// Requests per second per key (token bucket); each item of a batch counts as a
    /// request. Over it: 429 with Retry-After. Default: no limit.
    #[arg(long, env = "CUSTSCORE_RATE_LIMIT", value_name = "N")]
    pub rate_limit: Option<f64>,
    /// Requests a key may send at once (default: the rate limit).
    #[arg(
        long,
        env = "CUSTSCORE_RATE_BURST",
        value_name = "N",
        requires = "rate_limit"
    )]
    pub rate_burst: Option<f64>,
    /// Invalid keys from one address within --lockout-window that lock it out (0: never).
    #[arg(long, env = "CUSTSCORE_LOCKOUT_FAILURES", default_value_t = 10)]
    pub lockout_failures: u32,
    /// Seconds in which --lockout-failures invalid keys lock an address out.
    #[arg(
        long,
        env = "CUSTSCORE_LOCKOUT_WINDOW",
        default_value_t = 60,
        value_name = "SECS"
    )]
    pub lockout_window: u64,
    /// Seconds a locked-out address gets 429.
    #[arg(
        long,
        env = "CUSTSCORE_LOCKOUT_SECS",
        default_value_t = 300,
        value_name = "SECS"
    )]
    pub lockout_secs: u64,
    /// Append one JSON line per request touching customer data or changing state (key
    /// id, route, model version, customer ids or count, status; never field values).
    #[arg(long, env = "CUSTSCORE_AUDIT_LOG", value_name = "FILE")]
    pub audit_log: Option<PathBuf>,
    /// Start a new audit file past this size; the full one is kept with its UTC time.
    #[arg(long, env = "CUSTSCORE_AUDIT_MAX_BYTES", default_value_t = 100 << 20)]
    pub audit_max_bytes: u64,
    /// A proxy address range (`10.0.0.0/8`, `2001:db8::/32`, one address); repeatable.
    /// Only from these peers is the client's address taken from --proxy-header (the
    /// right-most hop that is not a trusted proxy); lock-out, rate limits and the audit
    /// trail use it. Default: none, the peer's address is the client's.
    #[arg(
        long = "trusted-proxy",
        env = "CUSTSCORE_TRUSTED_PROXIES",
        value_name = "CIDR",
        value_delimiter = ','
    )]
    pub trusted_proxies: Vec<crate::access::proxy::Cidr>,
    /// The header trusted proxies write the client's address into (only this one is read).
    #[arg(
        long,
        env = "CUSTSCORE_PROXY_HEADER",
        value_enum,
        default_value = "x-forwarded-for"
    )]
    pub proxy_header: crate::access::proxy::ProxyHeader,
    /// Serve HTTPS: PEM certificate chain, leaf first (with --tls-key).
    #[arg(long, env = "CUSTSCORE_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(long, env = "CUSTSCORE_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
}

impl AccessArgs {
    pub fn options(&self) -> Result<crate::serve::AccessOptions, String> {
        use crate::access::limits::{LockoutPolicy, RateLimit};
        let rate_limit = match self.rate_limit {
            None => None,
            Some(rate) if rate.is_finite() && rate > 0.0 => {
                let burst = self.rate_burst.unwrap_or(rate.max(1.0));
                if !(burst.is_finite() && burst >= 1.0) {
                    return Err(format!("--rate-burst {burst}: give at least 1"));
                }
                Some(RateLimit { rate, burst })
            }
            Some(rate) => return Err(format!("--rate-limit {rate}: give a positive number")),
        };
        if self.lockout_window == 0 {
            return Err("--lockout-window 0: give at least 1 second".into());
        }
        Ok(crate::serve::AccessOptions {
            rate_limit,
            lockout: LockoutPolicy {
                failures: self.lockout_failures,
                window: std::time::Duration::from_secs(self.lockout_window),
                cooldown: std::time::Duration::from_secs(self.lockout_secs),
            },
            audit_log: self.audit_log.clone(),
            audit_max_bytes: self.audit_max_bytes,
            proxies: crate::access::proxy::TrustedProxies {
                ranges: self.trusted_proxies.clone(),
                header: self.proxy_header,
            },
        })
    }

    pub fn tls(&self) -> Option<crate::serve::tls::TlsFiles> {
        Some(crate::serve::tls::TlsFiles {
            cert: self.tls_cert.clone()?,
            key: self.tls_key.clone()?,
        })
    }
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Where to write the HTML report.
    #[arg(long, env = "CUSTSCORE_REPORT")]
    pub output: PathBuf,
    /// Bundle version to report on (default: the one CURRENT points to).
    #[arg(long = "version", env = "CUSTSCORE_MODEL_VERSION")]
    pub model_version: Option<String>,
    /// A customer file to compare with the training profile: adds a drift section
    /// (PSI warn at 0.1, alert at 0.25, as `custscore drift`).
    #[arg(long, value_name = "FILE")]
    pub drift_input: Option<PathBuf>,
    /// An order log to compare instead, aggregated as `score --transactions` does.
    #[arg(long, value_name = "LOG", conflicts_with = "drift_input")]
    pub drift_transactions: Option<PathBuf>,
    /// With --drift-transactions: the date its features are computed at (default: just
    /// after the log's last event).
    #[arg(long, value_name = "DATE", requires = "drift_transactions")]
    pub drift_as_of: Option<String>,
    /// A campaign to evaluate in the campaigns section (repeatable; default: every
    /// campaign in the outcomes store, none when there is no store).
    #[arg(long, value_name = "NAME")]
    pub campaign: Vec<String>,
    /// The event type counted as the campaigns' outcome (as `evaluate --outcome`).
    #[arg(long, default_value = "churned")]
    pub outcome: String,
    #[command(flatten)]
    pub db: OutcomesDbArg,
    #[command(flatten)]
    pub models: ModelsArg,
}

#[derive(Debug, Args)]
pub struct RulesArgs {
    /// Basket lines, one row per (order, item) (long format CSV).
    #[arg(long, env = "CUSTSCORE_TRANSACTIONS")]
    pub transactions: PathBuf,
    /// Column holding the order (basket) id.
    #[arg(long, env = "CUSTSCORE_ORDER_COL")]
    pub order_col: String,
    /// Column holding the item.
    #[arg(long, env = "CUSTSCORE_ITEM_COL")]
    pub item_col: String,
    /// Minimum support: a fraction of baskets (0.01) or a whole basket count (45).
    #[arg(
        long,
        env = "CUSTSCORE_MIN_SUPPORT",
        value_name = "S",
        allow_hyphen_values = true
    )]
    pub min_support: String,
    /// Minimum confidence of the rules written with --rules.
    #[arg(long, env = "CUSTSCORE_MIN_CONFIDENCE", default_value_t = 0.5)]
    pub min_confidence: f64,
    /// Minimum lift of the rules written with --rules.
    #[arg(long, env = "CUSTSCORE_MIN_LIFT", default_value_t = 0.0)]
    pub min_lift: f64,
    /// Longest itemset to mine.
    #[arg(long, env = "CUSTSCORE_MAX_LEN")]
    pub max_len: Option<usize>,
    /// Write the frequent itemsets here (items, size, count, support).
    #[arg(long, env = "CUSTSCORE_ITEMSETS")]
    pub itemsets: Option<PathBuf>,
    /// Write the rules here (antecedent, consequent, support, confidence, lift, ...).
    #[arg(long, env = "CUSTSCORE_RULES")]
    pub rules: Option<PathBuf>,
    /// Skip lines whose order id starts with this prefix (Online Retail: C = cancelled).
    #[arg(long, env = "CUSTSCORE_CANCELLED_PREFIX")]
    pub cancelled_prefix: Option<String>,
    /// Skip lines whose quantity in this column is zero or negative (returns).
    #[arg(long, env = "CUSTSCORE_QUANTITY_COL")]
    pub quantity_col: Option<String>,
    /// Only these items may appear in itemsets (comma-separated).
    #[arg(long, env = "CUSTSCORE_INCLUDE", value_delimiter = ',')]
    pub include: Vec<String>,
    /// Items that never appear in itemsets, e.g. POST,D,M,BANK CHARGES,DOT,AMAZONFEE.
    #[arg(long, env = "CUSTSCORE_EXCLUDE", value_delimiter = ',')]
    pub exclude: Vec<String>,
    /// Also report hit rate@3 of cross-sell offers vs popularity on held-out baskets.
    #[arg(long, env = "CUSTSCORE_EVALUATE")]
    pub evaluate: bool,
}

/// How `drift` bins values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DriftBins {
    /// The bins stored in the bundle at training (deciles, categories plus unseen).
    Reference,
    /// Evidently's binning (needs --reference, the training file).
    Evidently(crate::monitoring::evidently::Binning),
}

impl std::str::FromStr for DriftBins {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        use crate::monitoring::evidently::Binning;
        let bad = || format!("{s:?}: expected `reference`, `evidently` or `evidently:N` (N ≥ 1)");
        match s.split_once(':') {
            None if s == "reference" => Ok(DriftBins::Reference),
            None if s == "evidently" => Ok(DriftBins::Evidently(Binning::Sturges)),
            Some(("evidently", n)) => match n.parse::<usize>() {
                Ok(n) if n >= 1 => Ok(DriftBins::Evidently(Binning::Equal(n))),
                _ => Err(bad()),
            },
            _ => Err(bad()),
        }
    }
}

#[derive(Debug, Args)]
#[command(
    mut_arg("input", |a| a.help("Customers to compare (CSV with the training columns, \
        as `score` reads them); `-` reads standard input")),
    mut_arg("transactions", |a| a.help("An order log to aggregate to customers first, \
        as `score --transactions` does (bundles trained from a log)")),
    mut_arg("cutoff", |a| a.help("With --transactions: the date features are computed at \
        (default: just after the last event in the log). Use the bundle's training \
        cut-off to compare like with like")),
)]
pub struct DriftArgs {
    #[command(flatten)]
    pub customers: CustomersArgs,
    /// Also write the figures as JSON here.
    #[arg(long, env = "CUSTSCORE_DRIFT_JSON")]
    pub json: Option<PathBuf>,
    /// PSI from which an input is flagged `warn`.
    #[arg(long, env = "CUSTSCORE_PSI_WARN", default_value_t = 0.1)]
    pub psi_warn: f64,
    /// PSI from which an input is flagged `alert`.
    #[arg(long, env = "CUSTSCORE_PSI_ALERT", default_value_t = 0.25)]
    pub psi_alert: f64,
    /// `reference` (the bundle's bins), or `evidently[:N]`: Evidently's binning of the
    /// reference and current files together (Sturges' rule as in Evidently 0.7, or N
    /// equal-width bins as earlier releases), for comparison with Evidently.
    #[arg(long, env = "CUSTSCORE_DRIFT_BINS", default_value = "reference")]
    pub bins: DriftBins,
    /// With --bins evidently: the training file (the bundle keeps only aggregates).
    #[arg(long, env = "CUSTSCORE_DRIFT_REFERENCE")]
    pub reference: Option<PathBuf>,
    /// Bundle version to compare with (default: the one CURRENT points to).
    #[arg(long = "version", env = "CUSTSCORE_MODEL_VERSION")]
    pub model_version: Option<String>,
    #[command(flatten)]
    pub models: ModelsArg,
}
