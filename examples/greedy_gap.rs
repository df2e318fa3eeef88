//! How far the greedy target list (value per cost) is from the optimum, on random small
//! cases solved exactly by dynamic programming.
//!
//!     cargo run --release --example greedy_gap -- [CASES] [CUSTOMERS]
//!
//! Each case: CUSTOMERS customers with expected values drawn from -20..100 and contact
//! costs of 1..40 whole units, a budget of a quarter of the total cost. Prints the share
//! of cases solved exactly and the mean and worst shortfall as a share of the optimum.

use custscore::decisions::budget::{greedy, optimum_whole_costs, Candidate};
use rand::{Rng, SeedableRng};

fn main() {
    let mut args = std::env::args().skip(1).map(|a| a.parse::<usize>());
    let cases = args.next().and_then(Result::ok).unwrap_or(10_000);
    let customers = args.next().and_then(Result::ok).unwrap_or(30);
    let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(17);
    let (mut exact, mut total_gap, mut worst) = (0usize, 0.0f64, 0.0f64);
    for _ in 0..cases {
        let values: Vec<f64> = (0..customers)
            .map(|_| rng.gen_range(-20.0..100.0))
            .collect();
        let costs: Vec<usize> = (0..customers).map(|_| rng.gen_range(1..=40)).collect();
        let budget = costs.iter().sum::<usize>() / 4;
        let candidates: Vec<Candidate> = values
            .iter()
            .zip(&costs)
            .map(|(&value, &cost)| Candidate {
                value,
                cost: cost as f64,
            })
            .collect();
        let optimum = optimum_whole_costs(&values, &costs, budget);
        let ours = greedy(&candidates, budget as f64).value;
        let gap = if optimum > 0.0 {
            (optimum - ours) / optimum
        } else {
            0.0
        };
        exact += usize::from(gap < 1e-12);
        total_gap += gap;
        worst = worst.max(gap);
    }
    println!(
        "{cases} cases of {customers} customers: greedy optimal in {:.1}%, mean shortfall {:.3}%, worst {:.2}% of the optimum",
        100.0 * exact as f64 / cases as f64,
        100.0 * total_gap / cases as f64,
        100.0 * worst
    );
}
