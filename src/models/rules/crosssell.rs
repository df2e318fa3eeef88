//! Per-customer cross-sell: single-consequent rules indexed by antecedent item, and the
//! ranking of products a customer does not hold.
//!
//! Propensity of a product c not held = the highest confidence among the rules X → c that
//! fire (X ⊆ held), where the empty rule ∅ → c (c's popularity, lift 1) always fires.
//! Ties go to the higher lift, then to the more popular product. A customer holding
//! nothing therefore gets the most popular products, never an empty answer.

use super::itemsets::mine_itemsets;
use super::params::{MinSupport, RulesParams};
use super::rulegen::{generate_rules, RuleFilter, RuleMetrics};
use crate::data::Baskets;
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;
use std::collections::HashMap;

/// At most this many firing rules are given as the reasons for one offer.
const REASONS: usize = 3;

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
    /// Rule indices by the smallest item of their antecedent (rebuilt on load).
    #[serde(skip)]
    by_first_item: Vec<Vec<u32>>,
    #[serde(skip)]
    item_ids: HashMap<String, u32>,
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
        for (index, rule) in self.rules.iter().enumerate() {
            if let Some(slot) = rule
                .antecedent
                .first()
                .and_then(|&first| self.by_first_item.get_mut(first as usize))
            {
                slot.push(index as u32);
            }
        }
        self.item_ids = self
            .items
            .iter()
            .enumerate()
            .map(|(i, n)| (n.clone(), i as u32))
            .collect();
        self
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
        let is_held = |i: u32| held.contains(&i);
        let mut fired: Vec<(u32, u32)> = Vec::new();
        for &h in held {
            for &r in self
                .by_first_item
                .get(h as usize)
                .map_or(&[][..], Vec::as_slice)
            {
                let rule = &self.rules[r as usize];
                if !is_held(rule.consequent) && rule.antecedent.iter().all(|&a| is_held(a)) {
                    fired.push((rule.consequent, r));
                }
            }
        }
        // Rules are stored strongest first, so within a consequent the first is the best.
        fired.sort_unstable();
        let mut offers: Vec<ItemOffer> = Vec::new();
        for group in fired.chunk_by(|a, b| a.0 == b.0) {
            let best = &self.rules[group[0].1 as usize];
            let m = self.metrics(best);
            offers.push(ItemOffer {
                item: group[0].0,
                score: m.confidence,
                lift: m.lift,
                because: group.iter().take(REASONS).map(|&(_, r)| r).collect(),
            });
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
            if held.contains(&item) {
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
            .filter(|i| !held.contains(i))
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
