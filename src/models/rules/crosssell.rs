//! Per-customer cross-sell: single-consequent rules indexed by antecedent item, and the
//! ranking of products a customer does not hold.
//!
//! Propensity of a product c not held = the highest confidence among the rules X → c that
//! fire (X ⊆ held), where the empty rule ∅ → c (c's popularity, lift 1) always fires.
//! Ties go to the higher lift, then to the more popular product. A customer holding
//! nothing therefore gets the most popular products, never an empty answer.

use super::itemsets::{mine_itemsets, ItemsetTable};
use super::params::{MinSupport, RulesParams};
use super::rulegen::{generate_rules, RuleFilter, RuleMetrics};
use crate::data::Baskets;
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;
use std::collections::HashMap;

/// At most this many firing rules are given as the reasons for one offer.
const REASONS: usize = 3;
const NO_COLUMN: u32 = u32::MAX;

/// X → c, as counts (the measures follow from them and the basket count).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rule {
    pub antecedent: Vec<u32>,
    pub consequent: u32,
    pub count: u32,
    pub antecedent_count: u32,
}

/// The rules and popularity that rank offers; stored in the bundle as `rules.json`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CrossSellModel {
    /// Customer columns the products are read from (empty when baskets came from orders).
    pub holdings: Vec<String>,
    /// Product names, indexed by item id.
    pub items: Vec<String>,
    /// Baskets (customers) the model was mined on.
    pub baskets: usize,
    /// Baskets holding each item.
    pub item_counts: Vec<u32>,
    /// Frequent items, most popular first (the empty-antecedent rules).
    pub popular: Vec<u32>,
    /// Single-consequent rules, strongest (confidence, then lift) first.
    pub rules: Vec<Rule>,
    pub params: RulesParams,
    /// Frequent itemsets mined (for the report).
    pub itemsets: usize,
    /// Rules by the rarest item of their antecedent, strongest first (rebuilt on load).
    #[serde(skip)]
    by_first_item: Vec<Vec<IndexEntry>>,
    /// The other antecedent items of every indexed rule, flat.
    #[serde(skip)]
    rest_items: Vec<u32>,
    /// Each rule in words, written on first use so scoring only copies it (evaluation,
    /// which never needs the words, does not pay for millions of them).
    #[serde(skip)]
    descriptions: std::sync::OnceLock<Vec<String>>,
    #[serde(skip)]
    item_ids: HashMap<String, u32>,
    /// For `column=value` products, the holdings column they come from: a customer with
    /// DSL is not offered Fiber optic as if it were an add-on (rebuilt on load).
    #[serde(skip)]
    column_of: Vec<u32>,
}

/// Whether X → c is more confident than every X' → c with X' a proper, non-empty subset
/// of X. A rule that does not improve on a more general one never decides a score (the
/// general rule fires whenever it does) and only repeats it as a reason.
fn improves_on_subsets(
    table: &ItemsetTable,
    antecedent: &[u32],
    consequent: u32,
    count: u32,
) -> bool {
    let n = antecedent.len();
    if n < 2 {
        return true;
    }
    let Some(a_count) = table.count(antecedent) else {
        return true;
    };
    let confidence = count as f64 / a_count as f64;
    let mut sub = Vec::with_capacity(n);
    let mut with_c = Vec::with_capacity(n);
    for mask in 1..(1u32 << n) - 1 {
        sub.clear();
        sub.extend(
            (0..n)
                .filter(|k| mask & (1 << k) != 0)
                .map(|k| antecedent[k]),
        );
        with_c.clear();
        with_c.extend_from_slice(&sub);
        let at = with_c.partition_point(|&i| i < consequent);
        with_c.insert(at, consequent);
        if let (Some(s), Some(sc)) = (table.count(&sub), table.count(&with_c)) {
            if sc as f64 / s as f64 >= confidence - 1e-12 {
                return false;
            }
        }
    }
    true
}

/// A rule as the scoring loop reads it: no pointer to chase for the common case.
#[derive(Debug, Clone, Copy, PartialEq)]
struct IndexEntry {
    rule: u32,
    consequent: u32,
    /// Range of the antecedent's other items in `rest_items`.
    rest: (u32, u32),
}

/// Keep the `REASONS` strongest (lowest-index) rules, in order.
fn keep_strongest(because: &mut Vec<u32>, rule: u32) {
    let at = because.partition_point(|&r| r < rule);
    if at < REASONS {
        because.insert(at, rule);
        because.truncate(REASONS);
    }
}

/// One ranked offer: the item, its propensity and lift, and the rules that fired for it
/// (indices into `rules`; empty = popularity only).
#[derive(Debug, Clone, PartialEq)]
pub struct ItemOffer {
    pub item: u32,
    pub score: f64,
    pub lift: f64,
    pub because: Vec<u32>,
}

impl CrossSellModel {
    /// Mine `baskets` and keep the single-consequent rules that pass the filters.
    pub fn fit(baskets: &Baskets, params: &RulesParams, holdings: Vec<String>) -> Self {
        let min_count = MinSupport::Fraction(params.min_support).min_count(baskets.len());
        let allowed = params.allowed_items(baskets);
        let table = mine_itemsets(baskets, min_count, params.max_len, allowed.as_deref());
        let mut item_counts = vec![0u32; baskets.names.len()];
        for b in baskets.iter() {
            for &i in b {
                item_counts[i as usize] += 1;
            }
        }
        let mut popular: Vec<u32> = table
            .iter()
            .filter(|(set, _)| set.len() == 1)
            .map(|(set, _)| set[0])
            .collect();
        popular.sort_by(|&a, &b| {
            item_counts[b as usize]
                .cmp(&item_counts[a as usize])
                .then(a.cmp(&b))
        });
        let mut rules = Vec::new();
        let filter = RuleFilter {
            min_confidence: params.min_confidence,
            min_lift: params.min_lift,
            max_consequent: 1,
        };
        generate_rules(&table, filter, |r| {
            if !improves_on_subsets(&table, r.antecedent, r.consequent[0], r.count) {
                return;
            }
            rules.push(Rule {
                antecedent: r.antecedent.to_vec(),
                consequent: r.consequent[0],
                count: r.count,
                antecedent_count: r.antecedent_count,
            })
        });
        let mut model = CrossSellModel {
            holdings,
            items: baskets.names.clone(),
            baskets: baskets.len(),
            item_counts,
            popular,
            rules,
            params: params.clone(),
            itemsets: table.len(),
            ..Default::default()
        };
        model.sort_rules();
        model.restore()
    }

    fn sort_rules(&mut self) {
        let mut keyed: Vec<(RuleMetrics, Rule)> = std::mem::take(&mut self.rules)
            .into_iter()
            .map(|r| (self.metrics(&r), r))
            .collect();
        keyed.sort_by(|(ma, a), (mb, b)| {
            mb.confidence
                .total_cmp(&ma.confidence)
                .then(mb.lift.total_cmp(&ma.lift))
                .then(a.antecedent.len().cmp(&b.antecedent.len()))
                .then(a.antecedent.cmp(&b.antecedent))
                .then(a.consequent.cmp(&b.consequent))
        });
        self.rules = keyed.into_iter().map(|(_, r)| r).collect();
    }

    /// Rebuild the lookup indexes after loading from JSON.
    pub fn restore(mut self) -> Self {
        self.by_first_item = vec![Vec::new(); self.items.len()];
        self.rest_items.clear();
        for (index, rule) in self.rules.iter().enumerate() {
            // Key on the rarest antecedent item: fewest customers hold it, so the
            // fewest rules are looked at per customer.
            let count = |i: &u32| self.item_counts.get(*i as usize).copied().unwrap_or(0);
            let Some(&key) = rule.antecedent.iter().min_by_key(|i| count(i)) else {
                continue;
            };
            let Some(slot) = self.by_first_item.get_mut(key as usize) else {
                continue;
            };
            let start = self.rest_items.len() as u32;
            let rest = rule.antecedent.iter().filter(|&&i| i != key);
            self.rest_items.extend(rest);
            slot.push(IndexEntry {
                rule: index as u32,
                consequent: rule.consequent,
                rest: (start, self.rest_items.len() as u32),
            });
        }
        self.item_ids = self
            .items
            .iter()
            .enumerate()
            .map(|(i, n)| (n.clone(), i as u32))
            .collect();
        self.descriptions = std::sync::OnceLock::new();
        self.column_of = self
            .items
            .iter()
            .map(|name| {
                let column = name.split_once('=').map(|(c, _)| c);
                column
                    .and_then(|c| self.holdings.iter().position(|h| h == c))
                    .map_or(NO_COLUMN, |p| p as u32)
            })
            .collect();
        self
    }

    /// Whether the customer already holds another value of `item`'s column.
    fn excluded(&self, held: &[u32], item: u32) -> bool {
        let column = self
            .column_of
            .get(item as usize)
            .copied()
            .unwrap_or(NO_COLUMN);
        column != NO_COLUMN && held.iter().any(|&h| self.column_of[h as usize] == column)
    }

    /// Whether the stored ids are in range (checked when a bundle is loaded).
    pub fn is_consistent(&self) -> bool {
        let n = self.items.len() as u32;
        self.item_counts.len() == self.items.len()
            && self.popular.iter().all(|&i| i < n)
            && self.rules.iter().all(|r| {
                r.consequent < n
                    && !r.antecedent.is_empty()
                    && r.antecedent.windows(2).all(|w| w[0] < w[1])
                    && r.antecedent.iter().all(|&i| i < n)
            })
    }

    pub fn item_id(&self, name: &str) -> Option<u32> {
        self.item_ids.get(name).copied()
    }

    pub fn metrics(&self, rule: &Rule) -> RuleMetrics {
        RuleMetrics::from_counts(
            self.baskets,
            rule.count,
            rule.antecedent_count,
            self.item_counts[rule.consequent as usize],
        )
    }

    /// Popularity of an item: the confidence of the empty rule ∅ → item.
    pub fn popularity(&self, item: u32) -> f64 {
        self.item_counts[item as usize] as f64 / self.baskets.max(1) as f64
    }

    /// Rule `index` in words (see [`CrossSellModel::describe`]).
    pub fn rule_text(&self, index: u32) -> &str {
        self.descriptions
            .get_or_init(|| self.rules.iter().map(|r| self.describe(r)).collect())
            .get(index as usize)
            .map_or("", String::as_str)
    }

    /// The rule in words: `a + b → c (confidence 0.52, lift 1.80)`.
    pub fn describe(&self, rule: &Rule) -> String {
        let m = self.metrics(rule);
        let names: Vec<&str> = rule
            .antecedent
            .iter()
            .map(|&i| self.items[i as usize].as_str())
            .collect();
        format!(
            "{} → {} (confidence {:.2}, lift {:.2})",
            names.join(" + "),
            self.items[rule.consequent as usize],
            m.confidence,
            m.lift
        )
    }

    /// The best `top_n` products for a customer holding `held` (item ids, any order).
    pub fn offers(&self, held: &[u32], top_n: usize) -> Vec<ItemOffer> {
        self.offers_from(held, held, top_n)
    }

    /// The best `top_n` products when the rules fire on `antecedent` and nothing in
    /// `owned` (which holds `antecedent`) may be offered: a customer's last baskets and
    /// everything they ever bought.
    pub fn offers_from(&self, antecedent: &[u32], owned: &[u32], top_n: usize) -> Vec<ItemOffer> {
        let bits = |set: &[u32]| {
            let mut bits = vec![0u64; self.items.len().div_ceil(64)];
            for &h in set {
                if let Some(word) = bits.get_mut(h as usize / 64) {
                    *word |= 1 << (h % 64);
                }
            }
            bits
        };
        let (fires_bits, owned_bits) = (bits(antecedent), bits(owned));
        let is_set = |bits: &[u64], i: u32| bits[i as usize / 64] & (1 << (i % 64)) != 0;
        let is_held = |i: u32| is_set(&fires_bits, i);
        let is_owned = |i: u32| is_set(&owned_bits, i);
        let held = owned;
        let mut offers: Vec<ItemOffer> = Vec::new();
        for &h in antecedent {
            for entry in self
                .by_first_item
                .get(h as usize)
                .map_or(&[][..], Vec::as_slice)
            {
                let rest = &self.rest_items[entry.rest.0 as usize..entry.rest.1 as usize];
                if is_owned(entry.consequent)
                    || !rest.iter().all(|&a| is_held(a))
                    || self.excluded(held, entry.consequent)
                {
                    continue;
                }
                match offers.iter_mut().find(|o| o.item == entry.consequent) {
                    Some(offer) => keep_strongest(&mut offer.because, entry.rule),
                    None => offers.push(ItemOffer {
                        item: entry.consequent,
                        score: 0.0,
                        lift: 0.0,
                        because: vec![entry.rule],
                    }),
                }
            }
        }
        for offer in &mut offers {
            let m = self.metrics(&self.rules[offer.because[0] as usize]);
            (offer.score, offer.lift) = (m.confidence, m.lift);
        }
        self.add_popular(held, top_n, &mut offers);
        offers.sort_by(|a, b| self.rank(a, b));
        offers.truncate(top_n);
        offers
    }

    /// The empty rule fires for every product: add the most popular ones not held, or
    /// raise a rule-based score that is below the product's own popularity.
    fn add_popular(&self, held: &[u32], top_n: usize, offers: &mut Vec<ItemOffer>) {
        let mut added = 0;
        for &item in &self.popular {
            if added >= top_n {
                break;
            }
            if held.contains(&item) || self.excluded(held, item) {
                continue;
            }
            let score = self.popularity(item);
            match offers.iter_mut().find(|o| o.item == item) {
                Some(o) if o.score < score => {
                    o.score = score;
                    o.lift = 1.0;
                }
                Some(_) => {}
                None => offers.push(ItemOffer {
                    item,
                    score,
                    lift: 1.0,
                    because: Vec::new(),
                }),
            }
            added += 1;
        }
    }

    fn rank(&self, a: &ItemOffer, b: &ItemOffer) -> Ordering {
        b.score
            .total_cmp(&a.score)
            .then(b.lift.total_cmp(&a.lift))
            .then(self.item_counts[b.item as usize].cmp(&self.item_counts[a.item as usize]))
            .then(a.item.cmp(&b.item))
    }

    /// The top `top_n` products by popularity alone (the baseline the rules must beat).
    pub fn popular_offers(&self, held: &[u32], top_n: usize) -> Vec<u32> {
        self.popular
            .iter()
            .copied()
            .filter(|&i| !held.contains(&i) && !self.excluded(held, i))
            .take(top_n)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model() -> CrossSellModel {
        let mut lists = Vec::new();
        for _ in 0..6 {
            lists.push(vec!["phone", "internet", "security"]);
        }
        for _ in 0..2 {
            lists.push(vec!["phone", "internet"]);
        }
        for _ in 0..10 {
            lists.push(vec!["phone"]);
        }
        lists.push(vec!["tv"]);
        let params = RulesParams {
            min_support: 0.05,
            min_confidence: 0.5,
            min_lift: 1.0,
            ..Default::default()
        };
        CrossSellModel::fit(&Baskets::from_lists(lists), &params, Vec::new())
    }

    #[test]
    fn firing_rules_rank_products_not_held() {
        let m = model();
        let internet = m.item_id("internet").unwrap();
        let security = m.item_id("security").unwrap();
        let phone = m.item_id("phone").unwrap();
        let offers = m.offers(&[phone, internet], 2);
        assert_eq!(offers[0].item, security);
        assert!((offers[0].score - 0.75).abs() < 1e-12);
        assert!(!offers[0].because.is_empty());
        assert!(offers.iter().all(|o| o.item != internet));
        let text = m.describe(&m.rules[offers[0].because[0] as usize]);
        assert!(text.contains("→ security"), "{text}");
    }

    #[test]
    fn holding_nothing_gives_the_most_popular() {
        let m = model();
        let offers = m.offers(&[], 2);
        assert_eq!(offers.len(), 2);
        assert_eq!(m.items[offers[0].item as usize], "phone");
        assert!(offers[0].because.is_empty());
    }

    #[test]
    fn survives_json() {
        let m = model();
        let json = serde_json::to_string(&m).unwrap();
        let back: CrossSellModel = serde_json::from_str(&json).unwrap();
        let back = back.restore();
        assert!(back.is_consistent());
        assert_eq!(back.offers(&[1], 3), m.offers(&[1], 3));
    }
}
