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
    /// Churn label and its positive value, e.g. `churn=Yes`.
    #[arg(long, env = "CUSTSCORE_LABEL", value_name = "COL=VALUE")]
    pub label: Option<String>,
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
    /// Margin per period column for customer lifetime value (e.g. monthly_charges).
    #[arg(long, env = "CUSTSCORE_MARGIN")]
    pub margin: Option<String>,
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
    pub models: ModelsArg,
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
    #[arg(long, env = "CUSTSCORE_CUTOFF")]
    pub cutoff: Option<String>,
    /// Item codes that are not products, e.g. POST,D,M,BANK CHARGES (comma-separated).
    #[arg(long, env = "CUSTSCORE_EXCLUDE_ITEMS", value_delimiter = ',')]
    pub exclude_items: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ScoreArgs {
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
    #[arg(long, env = "CUSTSCORE_CUTOFF", requires = "transactions")]
    pub cutoff: Option<String>,
    /// Where to write one scored row per accepted input row; `-` writes standard output.
    #[arg(long, env = "CUSTSCORE_OUTPUT")]
    pub output: PathBuf,
    /// Where rows that cannot be scored go, with line number and reason (default: OUTPUT
    /// with `.rejects.csv` appended; required when OUTPUT is `-`).
    #[arg(long, env = "CUSTSCORE_REJECTS")]
    pub rejects: Option<PathBuf>,
    /// Output format.
    #[arg(long, env = "CUSTSCORE_FORMAT", value_enum, default_value = "csv")]
    pub format: crate::batch::Format,
    /// Bundle version to use (default: the one CURRENT points to).
    #[arg(long = "version", env = "CUSTSCORE_MODEL_VERSION")]
    pub model_version: Option<String>,
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
    /// File with one API key per line; clients send `Authorization: Bearer <key>`.
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
    /// Log as JSON lines instead of text.
    #[arg(long, env = "CUSTSCORE_LOG_JSON")]
    pub log_json: bool,
    #[command(flatten)]
    pub models: ModelsArg,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Where to write the HTML report.
    #[arg(long, env = "CUSTSCORE_REPORT")]
    pub output: PathBuf,
    /// Bundle version to report on (default: the one CURRENT points to).
    #[arg(long = "version", env = "CUSTSCORE_MODEL_VERSION")]
    pub model_version: Option<String>,
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
