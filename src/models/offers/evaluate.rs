//! Offers measured on a time split, as a shop would meet them: rules are mined from the
//! baskets before the cut-off, each customer's items before it are the antecedent set,
//! and a customer counts as a hit at k when one of the k offers is an item they first
//! bought after the cut-off. Only customers who bought before the cut-off and bought at
//! least one new item after it are counted. The same customers, items and exclusions are
//! given to the two baselines: popularity (the most popular items not bought) and
//! item-item co-occurrence (cosine).

use super::cooccurrence::CoOccurrence;
use super::history::{HistoryBuilder, HistorySettings};
use crate::data::transactions::{baskets, Event};
use crate::data::Baskets;
use crate::models::rules::{CrossSellModel, RulesParams};
use chrono::NaiveDateTime;
use std::collections::{HashMap, HashSet};

/// Hits of one method at each k.
#[derive(Debug, Clone, PartialEq)]
pub struct MethodHits {
    pub method: &'static str,
    /// Customers with a hit, per k of [`OfferEvaluation::ks`].
    pub hits: Vec<usize>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct OfferEvaluation {
    pub ks: Vec<usize>,
    /// Baskets before the cut-off the rules were mined from, and the rules kept.
    pub baskets: usize,
    pub rules: usize,
    /// Customers counted: bought before the cut-off and a new item after it.
    pub customers: usize,
    pub methods: Vec<MethodHits>,
}

impl OfferEvaluation {
    /// Share of the counted customers with a hit (0 when none were counted).
    pub fn rate(&self, hits: usize) -> f64 {
        hits as f64 / self.customers.max(1) as f64
    }
}

impl std::fmt::Display for OfferEvaluation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "{} baskets before the cut-off, {} rules; {} customers with a new item after it",
            self.baskets, self.rules, self.customers
        )?;
        write!(f, "{:<28}", "method")?;
        for k in &self.ks {
            write!(f, " {:>10}", format!("hit@{k}"))?;
        }
        writeln!(f)?;
        for m in &self.methods {
            write!(f, "{:<28}", m.method)?;
            for &hits in &m.hits {
                write!(f, " {:>10.4}", self.rate(hits))?;
            }
            writeln!(f)?;
        }
        Ok(())
    }
}

/// Split `events` at `cutoff`, fit on the part before it and count hits after it.
pub fn evaluate_offers(
    events: &[Event],
    cutoff: NaiveDateTime,
    params: &RulesParams,
    settings: &HistorySettings,
    ks: &[usize],
) -> OfferEvaluation {
    let before = || events.iter().filter(|e| e.time < cutoff);
    let train = Baskets::from_lists(baskets(before()));
    let model = CrossSellModel::fit(&train, params, Vec::new());
    let cooccurrence = CoOccurrence::fit(&train);
    let ids: HashMap<&str, u32> = (train.names.iter().enumerate())
        .map(|(i, n)| (n.as_str(), i as u32))
        .collect();
    // Every item, not only frequent ones: co-occurrence may offer any of them.
    let uncapped = HistorySettings {
        max_items_per_customer: usize::MAX,
        max_items_total: usize::MAX,
        ..settings.clone()
    };
    let mut builder = HistoryBuilder::new(uncapped, Some(cutoff));
    before().for_each(|e| builder.add(e));
    let history = builder.finish_with(|name| ids.get(name).copied());
    let new_items = first_bought_after(events, cutoff);
    let top = ks.iter().copied().max().unwrap_or(0);
    let mut methods: Vec<MethodHits> =
        ["rules from history", "popularity", "co-occurrence (cosine)"]
            .into_iter()
            .map(|method| MethodHits {
                method,
                hits: vec![0; ks.len()],
            })
            .collect();
    let mut customers = 0;
    for (customer, items) in &history.customers {
        let Some(new) = new_items.get(customer.as_str()) else {
            continue;
        };
        customers += 1;
        let offered: [Vec<&str>; 3] = [
            (model
                .offers_from(items.antecedent(), &items.bought, top)
                .iter())
            .map(|o| train.names[o.item as usize].as_str())
            .collect(),
            (model.popular.iter())
                .filter(|i| items.bought.binary_search(i).is_err())
                .take(top)
                .map(|&i| train.names[i as usize].as_str())
                .collect(),
            (cooccurrence
                .recommend(items.antecedent(), &items.bought, top)
                .iter())
            .map(|&i| train.names[i as usize].as_str())
            .collect(),
        ];
        for (method, offers) in methods.iter_mut().zip(&offered) {
            for (hits, &k) in method.hits.iter_mut().zip(ks) {
                if offers.iter().take(k).any(|o| new.contains(o)) {
                    *hits += 1;
                }
            }
        }
    }
    OfferEvaluation {
        ks: ks.to_vec(),
        baskets: train.len(),
        rules: model.rules.len(),
        customers,
        methods,
    }
}

/// Per customer who bought before `cutoff`, the items bought at or after it that they
/// had not bought before it (customers without one are left out).
fn first_bought_after(events: &[Event], cutoff: NaiveDateTime) -> HashMap<&str, HashSet<&str>> {
    let mut before: HashMap<&str, HashSet<&str>> = HashMap::new();
    for e in events.iter().filter(|e| e.time < cutoff && !e.is_return()) {
        if let (Some(c), Some(i)) = (e.customer.as_deref(), e.item.as_deref()) {
            before.entry(c).or_default().insert(i);
        }
    }
    let mut new: HashMap<&str, HashSet<&str>> = HashMap::new();
    for e in events.iter().filter(|e| e.time >= cutoff && !e.is_return()) {
        if let (Some(c), Some(i)) = (e.customer.as_deref(), e.item.as_deref()) {
            if before.get(c).is_some_and(|old| !old.contains(i)) {
                new.entry(c).or_default().insert(i);
            }
        }
    }
    new
}
