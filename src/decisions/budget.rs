//! Target lists within a budget: pick customers so that the total expected value of one
//! action is as high as the budget allows (a 0/1 knapsack).
//!
//! The list is built greedily by expected value per unit of cost, skipping a customer who
//! no longer fits, and then compared with the single most valuable customer that fits
//! alone; the better of the two is kept. That is within the value of one customer of the
//! optimum, and never below half of it. When every contact costs the same (a fixed cost),
//! greedy is the optimum: it takes the customers of highest expected value.
//! [`optimum_whole_costs`] solves small cases exactly, to show the gap.

use rand::seq::SliceRandom;
use rand::SeedableRng;

/// One customer who could go on the list.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Candidate {
    pub value: f64,
    pub cost: f64,
}

/// Customers picked (indices into the candidates, in the order picked), with their total.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Selection {
    pub picked: Vec<usize>,
    pub value: f64,
    pub cost: f64,
}

impl Selection {
    fn of(candidates: &[Candidate], picked: Vec<usize>) -> Self {
        let (value, cost) = picked.iter().fold((0.0, 0.0), |(v, c), &i| {
            (v + candidates[i].value, c + candidates[i].cost)
        });
        Selection {
            picked,
            value,
            cost,
        }
    }
}

/// Greedy by value per cost, then the better of that list and the best single customer.
/// Only customers of positive expected value are picked.
pub fn greedy(candidates: &[Candidate], budget: f64) -> Selection {
    let mut order: Vec<usize> = (0..candidates.len())
        .filter(|&i| worth_it(candidates[i]))
        .collect();
    // Value per cost, best first; free contacts first of all; equal ratios by value.
    order.sort_by(|&a, &b| {
        let (a, b) = (candidates[a], candidates[b]);
        ratio(b)
            .total_cmp(&ratio(a))
            .then(b.value.total_cmp(&a.value))
    });
    let mut spent = 0.0;
    let mut picked = Vec::new();
    for i in order {
        if spent + candidates[i].cost <= budget {
            spent += candidates[i].cost;
            picked.push(i);
        }
    }
    let list = Selection::of(candidates, picked);
    let single = (0..candidates.len())
        .filter(|&i| worth_it(candidates[i]) && candidates[i].cost <= budget)
        .max_by(|&a, &b| candidates[a].value.total_cmp(&candidates[b].value));
    match single {
        Some(i) if candidates[i].value > list.value => Selection::of(candidates, vec![i]),
        _ => list,
    }
}

fn worth_it(c: Candidate) -> bool {
    c.value > 0.0 && c.cost >= 0.0 && c.value.is_finite() && c.cost.is_finite()
}

fn ratio(c: Candidate) -> f64 {
    match c.cost > 0.0 {
        true => c.value / c.cost,
        false => f64::INFINITY,
    }
}

/// Take customers in `order` while the budget lasts (a customer who does not fit is
/// skipped), whatever their value: the lists marketers build without expected values.
pub fn in_order_within(
    candidates: &[Candidate],
    order: impl IntoIterator<Item = usize>,
    budget: f64,
) -> Selection {
    let mut spent = 0.0;
    let mut picked = Vec::new();
    for i in order {
        if spent + candidates[i].cost <= budget {
            spent += candidates[i].cost;
            picked.push(i);
        }
    }
    Selection::of(candidates, picked)
}

/// A random list of at most `budget` cost (seeded, so a run can be repeated).
pub fn random_within(candidates: &[Candidate], budget: f64, seed: u64) -> Selection {
    let mut order: Vec<usize> = (0..candidates.len()).collect();
    order.shuffle(&mut rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(seed));
    in_order_within(candidates, order, budget)
}

/// The exact optimum when costs are whole units (cents, say), by dynamic programming over
/// the budget: O(customers × budget). For checking the greedy list on small cases.
pub fn optimum_whole_costs(values: &[f64], costs: &[usize], budget: usize) -> f64 {
    let mut best = vec![0.0f64; budget + 1];
    for (&value, &cost) in values.iter().zip(costs) {
        if value <= 0.0 || cost > budget {
            continue;
        }
        for room in (cost..=budget).rev() {
            best[room] = best[room].max(best[room - cost] + value);
        }
    }
    best[budget]
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn candidates(pairs: &[(f64, f64)]) -> Vec<Candidate> {
        pairs
            .iter()
            .map(|&(value, cost)| Candidate { value, cost })
            .collect()
    }

    /// Every subset, for the smallest cases.
    fn brute_force(candidates: &[Candidate], budget: f64) -> f64 {
        (0u32..1 << candidates.len())
            .filter_map(|mask| {
                let (mut v, mut c) = (0.0, 0.0);
                for (i, x) in candidates.iter().enumerate() {
                    if mask & (1 << i) != 0 {
                        v += x.value;
                        c += x.cost;
                    }
                }
                (c <= budget).then_some(v)
            })
            .fold(0.0, f64::max)
    }

    #[test]
    fn greedy_takes_the_best_value_per_cost_and_skips_what_does_not_fit() {
        let c = candidates(&[(10.0, 5.0), (9.0, 3.0), (-4.0, 1.0), (8.0, 4.0), (1.0, 1.0)]);
        let s = greedy(&c, 9.0);
        // 9/3 = 3, 10/5 = 2, 8/4 = 2 (does not fit), 1/1 = 1.
        assert_eq!(s.picked, vec![1, 0, 4]);
        assert_eq!((s.value, s.cost), (20.0, 9.0));
        assert_eq!(brute_force(&c, 9.0), 20.0);
    }

    #[test]
    fn one_big_customer_beats_a_list_of_small_ones_when_it_is_worth_more() {
        let c = candidates(&[(2.0, 1.0), (50.0, 100.0)]);
        let s = greedy(&c, 100.0);
        assert_eq!(s.picked, vec![1]);
        assert_eq!(s.value, 50.0);
    }

    #[test]
    fn with_one_fixed_cost_greedy_is_the_top_values() {
        let c = candidates(&[(5.0, 2.0), (7.0, 2.0), (1.0, 2.0), (6.0, 2.0)]);
        let s = greedy(&c, 4.0);
        assert_eq!(s.picked, vec![1, 3]);
        assert_eq!(s.value, brute_force(&c, 4.0));
    }

    #[test]
    fn baselines_spend_within_the_budget_whatever_the_value() {
        let c = candidates(&[(-5.0, 2.0), (7.0, 2.0), (1.0, 3.0)]);
        let s = in_order_within(&c, [0, 2, 1], 5.0);
        assert_eq!(s.picked, vec![0, 2]);
        assert_eq!((s.value, s.cost), (-4.0, 5.0));
        let r = random_within(&c, 4.0, 7);
        assert!(r.cost <= 4.0 && !r.picked.is_empty());
        assert_eq!(r, random_within(&c, 4.0, 7));
    }

    #[test]
    fn the_dynamic_programme_agrees_with_brute_force() {
        let c = candidates(&[(10.0, 5.0), (9.0, 3.0), (8.0, 4.0), (1.0, 1.0)]);
        let values: Vec<f64> = c.iter().map(|x| x.value).collect();
        let costs: Vec<usize> = c.iter().map(|x| x.cost as usize).collect();
        for budget in 0..14 {
            assert_eq!(
                optimum_whole_costs(&values, &costs, budget),
                brute_force(&c, budget as f64)
            );
        }
    }

    proptest! {
        /// Greedy is never more than one customer's value below the optimum, never below
        /// half of it, and never over budget.
        #[test]
        fn greedy_is_within_one_customer_and_half_of_the_optimum(
            items in prop::collection::vec((-20.0f64..100.0, 1usize..40), 1..12),
            budget in 0usize..120,
        ) {
            let c: Vec<Candidate> = items.iter().map(|&(value, cost)| Candidate { value, cost: cost as f64 }).collect();
            let values: Vec<f64> = items.iter().map(|x| x.0).collect();
            let costs: Vec<usize> = items.iter().map(|x| x.1).collect();
            let optimum = optimum_whole_costs(&values, &costs, budget);
            prop_assert!((optimum - brute_force(&c, budget as f64)).abs() < 1e-9);
            let s = greedy(&c, budget as f64);
            let largest = values.iter().copied().fold(0.0, f64::max);
            prop_assert!(s.cost <= budget as f64);
            prop_assert!(s.value <= optimum + 1e-9);
            prop_assert!(s.value >= optimum - largest - 1e-9);
            prop_assert!(s.value >= optimum / 2.0 - 1e-9);
        }

        /// With one cost for everybody, greedy is exactly the optimum.
        #[test]
        fn greedy_is_optimal_when_every_contact_costs_the_same(
            values in prop::collection::vec(-20.0f64..100.0, 1..12),
            cost in 1usize..10,
            budget in 0usize..60,
        ) {
            let c: Vec<Candidate> = values.iter().map(|&value| Candidate { value, cost: cost as f64 }).collect();
            let optimum = optimum_whole_costs(&values, &vec![cost; values.len()], budget);
            prop_assert!((greedy(&c, budget as f64).value - optimum).abs() < 1e-9);
        }
    }
}
