//! Association rules and cross-sell: exact frequent itemsets ([`miner`]), rules with their
//! interest measures ([`rulegen`]), the per-customer offer ranking stored in the bundle
//! ([`crosssell`]), products held read from customer columns ([`holdings`]) and the
//! hit-rate evaluation against a popularity baseline ([`evaluate`]).

pub mod crosssell;
pub mod evaluate;
pub mod holdings;
pub mod itemsets;
pub mod miner;
pub mod params;
pub mod rulegen;

pub use crosssell::{CrossSellModel, ItemOffer, Rule};
pub use evaluate::{evaluate_hit_rate, HitRate};
pub use holdings::{holdings_baskets, product_held, HeldLookup};
pub use itemsets::{mine_itemsets, ItemsetTable};
pub use miner::Miner;
pub use params::{MinSupport, RulesError, RulesParams};
pub use rulegen::{generate_rules, RuleMetrics, RuleRecord};
