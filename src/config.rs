//! Training configuration: a TOML file (serde, unknown keys refused) with command-line
//! flags on top. Relative paths in a file are relative to that file's folder.

use crate::features::EncoderParams;
use crate::models::classifier::RetentionParams;
use crate::models::rules::RulesParams;
use crate::models::segment::{PyramidParams, SegmentParams};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Where `train` and `serve` look for the default set-up when no file is named.
pub const DEFAULT_CONFIG: &str = "training-data/custscore.toml";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{}: cannot read config", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: {message}", path.display())]
    Parse { path: PathBuf, message: String },
    #[error("--label {0:?}: expected COLUMN=VALUE, e.g. churn=Yes")]
    BadLabel(String),
    #[error("transactions: {0} is required with --transactions")]
    MissingTransactionColumn(&'static str),
    #[error("--churn-after-days must be between 1 and {MAX_CHURN_WINDOW_DAYS} (got {0})")]
    BadChurnWindow(i64),
    #[error("--history-baskets (`[transactions] history_baskets`) must be at least 1")]
    NoHistoryBaskets,
    #[error("no customer file: pass --customers FILE, --transactions FILE or --config FILE (no {DEFAULT_CONFIG} here)")]
    NoCustomers,
    #[error("[rules]")]
    Rules(#[from] crate::models::rules::RulesError),
    #[error("column `{0}` is both dropped and used as the {1}")]
    DroppedButUsed(String, &'static str),
    #[error(transparent)]
    Targets(#[from] crate::models::targets::TargetPlanError),
}

/// The `[data]` table: which file and what its columns mean.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DataConfig {
    pub customers: Option<PathBuf>,
    /// Customer id column; the row number when absent.
    pub id: Option<String>,
    /// `COLUMN=VALUE`: the churn label and the value that means "churned".
    pub label: Option<String>,
    /// Columns kept out of every model (leaky or irrelevant ones).
    pub drop: Vec<String>,
    /// Customer value for the pyramid (e.g. total_charges).
    pub value: Option<String>,
    /// Product-holding columns for cross-sell (a product is held when Yes / 1 / true).
    pub holdings: Vec<String>,
    /// Keep examples of customer values (duplicate ids, unreadable cells) in the bundle's
    /// data quality findings. Off by default: only counts and line numbers are kept.
    pub quality_samples: bool,
    /// Train on this many customers, sampled stratified by the label, when the table
    /// holds more (`train --sample`).
    pub sample: Option<usize>,
    /// Set by `train --from-campaign`: where the (temporary) customer table came from.
    #[serde(skip)]
    pub campaign: Option<crate::outcomes::training::CampaignSource>,
}

/// The `[transactions]` table: an order log to build the customer table from.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TransactionsConfig {
    pub file: Option<PathBuf>,
    pub customer_col: Option<String>,
    pub order_col: Option<String>,
    pub item_col: Option<String>,
    pub time_col: Option<String>,
    /// Line value (or unit price with `price_col` instead).
    pub amount_col: Option<String>,
    pub price_col: Option<String>,
    pub quantity_col: Option<String>,
    /// No purchase in this many days after the cut-off = churned.
    pub churn_after_days: i64,
    /// Cut-off date; default: the last event minus `churn_after_days`.
    pub cutoff: Option<String>,
    /// Item codes that are not products (postage, fees).
    pub exclude_items: Vec<String>,
    /// Cross-sell rules fire on the items of each customer's last N baskets (default:
    /// every item bought).
    pub history_baskets: Option<usize>,
}

impl Default for TransactionsConfig {
    fn default() -> Self {
        TransactionsConfig {
            file: None,
            customer_col: None,
            order_col: None,
            item_col: None,
            time_col: None,
            amount_col: None,
            price_col: None,
            quantity_col: None,
            churn_after_days: 90,
            cutoff: None,
            exclude_items: Vec::new(),
            history_baskets: None,
        }
    }
}

impl TransactionsConfig {
    /// The column roles, once the required ones are known to be there.
    pub fn spec(&self) -> Result<crate::data::transactions::TransactionSpec, ConfigError> {
        let need = |v: &Option<String>, flag: &'static str| {
            v.clone().ok_or(ConfigError::MissingTransactionColumn(flag))
        };
        if self.amount_col.is_none() && self.price_col.is_none() {
            return Err(ConfigError::MissingTransactionColumn(
                "--amount-col (or --price-col)",
            ));
        }
        if !(1..=MAX_CHURN_WINDOW_DAYS).contains(&self.churn_after_days) {
            return Err(ConfigError::BadChurnWindow(self.churn_after_days));
        }
        if self.history_baskets == Some(0) {
            return Err(ConfigError::NoHistoryBaskets);
        }
        Ok(crate::data::transactions::TransactionSpec {
            customer_col: need(&self.customer_col, "--customer-col")?,
            order_col: self.order_col.clone(),
            item_col: self.item_col.clone(),
            time_col: need(&self.time_col, "--time-col")?,
            amount_col: self.amount_col.clone(),
            price_col: self.price_col.clone(),
            quantity_col: self.quantity_col.clone(),
            churn_after_days: self.churn_after_days,
            exclude_items: self.exclude_items.clone(),
        })
    }
}

/// A century: longer churn windows are typing mistakes, and dates stay far from
/// the calendar's limits.
pub const MAX_CHURN_WINDOW_DAYS: i64 = 36_525;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainConfig {
    pub data: DataConfig,
    pub transactions: TransactionsConfig,
    pub features: EncoderParams,
    pub segments: SegmentParams,
    pub pyramid: PyramidParams,
    /// Association rules and cross-sell offers (mined from `data.holdings`).
    pub rules: RulesParams,
    pub retention: RetentionParams,
    /// Several yes/no targets in one bundle, and which is the attrition one.
    pub targets: crate::models::targets::TargetsConfig,
    /// Cost to serve, and whether value means revenue or contribution.
    pub value: crate::models::contribution::CostParams,
    /// `[[actions]]` tables (as in an actions file) the bundle keeps for next best action
    /// and target lists.
    pub actions: Vec<crate::decisions::actions::ActionSpec>,
}

/// The churn label: a column and the value that marks a churned customer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Label {
    pub column: String,
    pub positive: String,
}

impl std::str::FromStr for Label {
    type Err = ConfigError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.split_once('=') {
            Some((column, positive)) if !column.trim().is_empty() => Ok(Label {
                column: column.trim().to_string(),
                positive: positive.trim().to_string(),
            }),
            _ => Err(ConfigError::BadLabel(s.to_string())),
        }
    }
}

impl TrainConfig {
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let mut config: TrainConfig = toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            message: e.to_string().replace('\n', " "),
        })?;
        if let Some(dir) = path.parent() {
            for file in [&mut config.data.customers, &mut config.transactions.file] {
                if let Some(f) = file.as_mut().filter(|f| f.is_relative()) {
                    *f = dir.join(&*f);
                }
            }
        }
        Ok(config)
    }

    /// The named file, else the default set-up when present, else an empty config.
    pub fn load_or_default(path: Option<&Path>) -> Result<Self, ConfigError> {
        match path {
            Some(p) => Self::load(p),
            None if Path::new(DEFAULT_CONFIG).exists() => Self::load(Path::new(DEFAULT_CONFIG)),
            None => Ok(Self::default()),
        }
    }

    /// The attrition target's label (the churn label lifetime value and the gate use).
    pub fn label(&self) -> Result<Option<Label>, ConfigError> {
        Ok(self.target_plan()?.attrition().map(|t| t.label.clone()))
    }

    /// Every target: `[data] label` and `[targets] labels` (`--label`, repeatable).
    pub fn target_plan(&self) -> Result<crate::models::targets::TargetPlan, ConfigError> {
        crate::models::targets::TargetPlan::new(self.data.label.as_deref(), &self.targets)
    }

    /// Checks that need the whole config (after flags are applied).
    pub fn check(&self) -> Result<(), ConfigError> {
        if self.data.customers.is_none() && self.transactions.file.is_none() {
            return Err(ConfigError::NoCustomers);
        }
        if self.data.customers.is_none() {
            self.transactions.spec()?;
        }
        let plan = self.target_plan()?;
        for dropped in &self.data.drop {
            if self.data.id.as_ref() == Some(dropped) {
                return Err(ConfigError::DroppedButUsed(dropped.clone(), "id"));
            }
            if plan.targets.iter().any(|t| &t.label.column == dropped) {
                return Err(ConfigError::DroppedButUsed(dropped.clone(), "label"));
            }
            if self.data.value.as_ref() == Some(dropped) {
                return Err(ConfigError::DroppedButUsed(dropped.clone(), "value"));
            }
            if self.data.holdings.contains(dropped) {
                return Err(ConfigError::DroppedButUsed(dropped.clone(), "holdings"));
            }
        }
        if !self.data.holdings.is_empty() {
            self.rules.check()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_parse() {
        let l: Label = "churn = Yes".parse().unwrap();
        assert_eq!(l.column, "churn");
        assert_eq!(l.positive, "Yes");
        assert!("churn".parse::<Label>().is_err());
        assert!("=Yes".parse::<Label>().is_err());
    }

    #[test]
    fn unknown_keys_are_refused_with_their_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, "[segments]\nk = 3\nkk = 4\n").unwrap();
        let err = TrainConfig::load(&path).unwrap_err().to_string();
        assert!(err.contains("kk"), "{err}");
        assert!(err.contains("line 3"), "{err}");
    }

    #[test]
    fn relative_customer_path_is_relative_to_the_config() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, "[data]\ncustomers = \"x.csv\"\n").unwrap();
        let config = TrainConfig::load(&path).unwrap();
        assert_eq!(config.data.customers.unwrap(), dir.path().join("x.csv"));
    }
}
