//! Hit rate@k on held-out baskets: mine on a training share, then for every test basket
//! with at least two items hide one (chosen at random, seeded), ask for k offers from the
//! rest, and count a hit when the hidden item is among them. The popularity baseline
//! offers the k most popular items not held.

use super::crosssell::CrossSellModel;
use super::params::RulesParams;
use crate::data::Baskets;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HitRate {
    pub k: usize,
    /// Test baskets with at least two items (one hidden, the rest held).
    pub test_baskets: usize,
    pub rules: f64,
    pub popularity: f64,
}

impl std::fmt::Display for HitRate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "hit rate@{}: rules {:.3}, popularity {:.3} ({} held-out baskets)",
            self.k, self.rules, self.popularity, self.test_baskets
        )
    }
}

/// Split, fit on the training share, score the held-out share.
pub fn evaluate_hit_rate(baskets: &Baskets, params: &RulesParams, k: usize) -> HitRate {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(params.seed);
    let mut order: Vec<usize> = (0..baskets.len()).collect();
    order.shuffle(&mut rng);
    let n_test = ((baskets.len() as f64) * params.eval_share).round() as usize;
    let (test, train) = order.split_at(n_test.min(order.len()));
    let model = CrossSellModel::fit(&baskets.select(train), params, Vec::new());
    let mut result = HitRate {
        k,
        ..Default::default()
    };
    let (mut rule_hits, mut popular_hits) = (0usize, 0usize);
    let mut held = Vec::new();
    for &b in test {
        let basket = baskets.basket(b);
        if basket.len() < 2 {
            continue;
        }
        let hidden_at = rng.gen_range(0..basket.len());
        let hidden = basket[hidden_at];
        held.clear();
        held.extend(basket.iter().copied().filter(|&i| i != hidden));
        result.test_baskets += 1;
        if model.offers(&held, k).iter().any(|o| o.item == hidden) {
            rule_hits += 1;
        }
        if model.popular_offers(&held, k).contains(&hidden) {
            popular_hits += 1;
        }
    }
    let n = result.test_baskets.max(1) as f64;
    result.rules = rule_hits as f64 / n;
    result.popularity = popular_hits as f64 / n;
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_beat_popularity_when_items_come_in_pairs() {
        // a always with b, c always with d; a/b more popular than c/d, e most popular alone.
        let mut lists = Vec::new();
        for i in 0..200 {
            lists.push(match i % 4 {
                0 | 1 => vec!["a", "b", "e"],
                2 => vec!["c", "d", "e"],
                _ => vec!["e", "f"],
            });
        }
        let baskets = Baskets::from_lists(lists);
        let params = RulesParams {
            min_support: 0.05,
            ..Default::default()
        };
        let hr = evaluate_hit_rate(&baskets, &params, 1);
        assert!(hr.test_baskets > 0);
        assert!(hr.rules > hr.popularity, "{hr}");
    }
}
