//! Offers from what the customer bought (order-log bundles): each customer's own items
//! are the antecedent set of the cross-sell rules, and nothing they bought is offered
//! again ([`history`]); the time-split hit rate of those offers against popularity and
//! item-item co-occurrence ([`evaluate`], [`cooccurrence`]).

pub mod cooccurrence;
pub mod evaluate;
pub mod history;

pub use history::{CustomerItems, HistoryBuilder, HistorySettings, PurchaseHistory};
