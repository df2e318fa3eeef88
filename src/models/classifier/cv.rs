//! Cross-validation and the scores we judge a churn model by: stratified folds, AUC,
//! log loss, Brier score, top-decile lift and expected calibration error.

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;
use serde::{Deserialize, Serialize};

/// The labelled rows of `labels` (`None`: unlabelled) and their classes, in row order.
pub fn labelled(labels: &[Option<bool>]) -> (Vec<usize>, Vec<bool>) {
    (labels.iter().enumerate())
        .filter_map(|(row, label)| label.map(|y| (row, y)))
        .unzip()
}

/// Fold of each row (0..k): positives and negatives are shuffled separately and dealt
/// round-robin, so every fold keeps the overall churn rate.
pub fn stratified_folds(y: &[bool], k: usize, seed: u64) -> Vec<usize> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let mut folds = vec![0; y.len()];
    for class in [true, false] {
        let mut rows: Vec<usize> = (0..y.len()).filter(|&i| y[i] == class).collect();
        rows.shuffle(&mut rng);
        for (n, row) in rows.into_iter().enumerate() {
            folds[row] = n % k;
        }
    }
    folds
}

/// Area under the ROC curve (ties count one half); NaN when one class is absent.
pub fn auc(y: &[bool], p: &[f64]) -> f64 {
    let mut order: Vec<usize> = (0..y.len()).collect();
    order.sort_by(|&a, &b| p[a].total_cmp(&p[b]));
    let (mut rank_sum, mut positives) = (0.0, 0.0);
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && p[order[j + 1]] == p[order[i]] {
            j += 1;
        }
        let mid_rank = (i + j) as f64 / 2.0 + 1.0;
        for &row in &order[i..=j] {
            if y[row] {
                rank_sum += mid_rank;
                positives += 1.0;
            }
        }
        i = j + 1;
    }
    let negatives = y.len() as f64 - positives;
    (rank_sum - positives * (positives + 1.0) / 2.0) / (positives * negatives)
}

/// Mean negative log-likelihood, probabilities clipped away from 0 and 1.
pub fn log_loss(y: &[bool], p: &[f64]) -> f64 {
    let total: f64 = y
        .iter()
        .zip(p)
        .map(|(&y, &p)| {
            let p = p.clamp(1e-15, 1.0 - 1e-15);
            if y {
                -p.ln()
            } else {
                -(1.0 - p).ln()
            }
        })
        .sum();
    total / y.len() as f64
}

pub fn brier(y: &[bool], p: &[f64]) -> f64 {
    let total: f64 = y
        .iter()
        .zip(p)
        .map(|(&y, &p)| (p - f64::from(u8::from(y))).powi(2))
        .sum();
    total / y.len() as f64
}

/// Churn rate among the 10% most at-risk customers over the overall churn rate.
/// ROC curve as (false positive rate, true positive rate), thinned to about `points`
/// points (ties in score move together, as the curve is defined).
pub fn roc_curve(y: &[bool], p: &[f64], points: usize) -> Vec<(f64, f64)> {
    let mut order: Vec<usize> = (0..y.len()).collect();
    order.sort_by(|&a, &b| p[b].total_cmp(&p[a]));
    let positives = y.iter().filter(|&&v| v).count().max(1) as f64;
    let negatives = y.iter().filter(|&&v| !v).count().max(1) as f64;
    let (mut tp, mut fp) = (0.0, 0.0);
    let mut curve = vec![(0.0, 0.0)];
    let step = (y.len() / points.max(1)).max(1);
    let mut since_last = 0;
    for (rank, &i) in order.iter().enumerate() {
        since_last += 1;
        if y[i] {
            tp += 1.0;
        } else {
            fp += 1.0;
        }
        let tie_next = order.get(rank + 1).is_some_and(|&j| p[j] == p[i]);
        if !tie_next && (since_last >= step || rank + 1 == order.len()) {
            curve.push((fp / negatives, tp / positives));
            since_last = 0;
        }
    }
    curve
}

/// Cumulative gains by decile: the share of all churners found in the top 10%, 20%, …
/// of customers ranked by predicted risk.
pub fn cumulative_gains(y: &[bool], p: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..y.len()).collect();
    order.sort_by(|&a, &b| p[b].total_cmp(&p[a]));
    let positives = y.iter().filter(|&&v| v).count().max(1) as f64;
    (1..=10)
        .map(|d| {
            let top = (y.len() * d).div_ceil(10);
            order[..top].iter().filter(|&&i| y[i]).count() as f64 / positives
        })
        .collect()
}

pub fn top_decile_lift(y: &[bool], p: &[f64]) -> f64 {
    let mut order: Vec<usize> = (0..y.len()).collect();
    order.sort_by(|&a, &b| p[b].total_cmp(&p[a]));
    let top = (y.len() / 10).max(1);
    let rate = |rows: &[usize]| rows.iter().filter(|&&i| y[i]).count() as f64 / rows.len() as f64;
    rate(&order[..top]) / rate(&order)
}

/// One row of a reliability table: customers whose predicted probability fell in
/// `[from, to)`, what we predicted on average and what happened.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ReliabilityBin {
    pub from: f64,
    pub to: f64,
    pub customers: usize,
    pub predicted: f64,
    pub observed: f64,
}

/// Ten equal-width bins of predicted probability.
pub fn reliability(y: &[bool], p: &[f64]) -> Vec<ReliabilityBin> {
    const BINS: usize = 10;
    let mut sums = [(0usize, 0.0, 0.0); BINS];
    for (&y, &p) in y.iter().zip(p) {
        let b = ((p * BINS as f64) as usize).min(BINS - 1);
        sums[b].0 += 1;
        sums[b].1 += p;
        sums[b].2 += f64::from(u8::from(y));
    }
    sums.iter()
        .enumerate()
        .filter(|(_, s)| s.0 > 0)
        .map(|(b, &(n, p, y))| ReliabilityBin {
            from: b as f64 / BINS as f64,
            to: (b + 1) as f64 / BINS as f64,
            customers: n,
            predicted: p / n as f64,
            observed: y / n as f64,
        })
        .collect()
}

/// Expected calibration error: the customer-weighted gap between predicted and observed.
pub fn ece(table: &[ReliabilityBin]) -> f64 {
    let total: usize = table.iter().map(|b| b.customers).sum();
    table
        .iter()
        .map(|b| b.customers as f64 * (b.predicted - b.observed).abs())
        .sum::<f64>()
        / total.max(1) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labelled_keeps_the_rows_with_a_label_in_order() {
        let labels = [Some(true), None, Some(false), None, Some(true)];
        assert_eq!(labelled(&labels), (vec![0, 2, 4], vec![true, false, true]));
        assert_eq!(labelled(&[None, None]), (vec![], vec![]));
    }

    #[test]
    fn auc_of_perfect_random_and_reversed_scores() {
        let y = [false, false, true, true];
        assert_eq!(auc(&y, &[0.1, 0.2, 0.8, 0.9]), 1.0);
        assert_eq!(auc(&y, &[0.9, 0.8, 0.2, 0.1]), 0.0);
        assert_eq!(auc(&y, &[0.5; 4]), 0.5);
        assert_eq!(auc(&y, &[0.1, 0.8, 0.8, 0.9]), 0.875);
    }

    #[test]
    fn folds_keep_the_class_balance() {
        let y: Vec<bool> = (0..1000).map(|i| i % 4 == 0).collect();
        let folds = stratified_folds(&y, 5, 7);
        for k in 0..5 {
            let rows: Vec<usize> = (0..y.len()).filter(|&i| folds[i] == k).collect();
            assert_eq!(rows.len(), 200);
            assert_eq!(rows.iter().filter(|&&i| y[i]).count(), 50);
        }
        assert_eq!(folds, stratified_folds(&y, 5, 7));
    }

    #[test]
    fn scores_of_a_known_case() {
        let y = [true, false];
        assert!((brier(&y, &[0.8, 0.4]) - 0.1).abs() < 1e-12);
        assert!((log_loss(&y, &[0.5, 0.5]) - std::f64::consts::LN_2).abs() < 1e-12);
        let y: Vec<bool> = (0..100).map(|i| i < 10).collect();
        let p: Vec<f64> = (0..100).map(|i| 1.0 - i as f64 / 100.0).collect();
        assert!((top_decile_lift(&y, &p) - 10.0).abs() < 1e-12);
        let gains = cumulative_gains(&y, &p);
        assert!((gains[0] - 1.0).abs() < 1e-12 && (gains[9] - 1.0).abs() < 1e-12);
        let roc = roc_curve(&y, &p, 20);
        assert_eq!(roc.first(), Some(&(0.0, 0.0)));
        assert_eq!(roc.last(), Some(&(1.0, 1.0)));
        assert!(roc.windows(2).all(|w| w[0].0 <= w[1].0 && w[0].1 <= w[1].1));
        let table = reliability(&y, &p);
        assert_eq!(table.iter().map(|b| b.customers).sum::<usize>(), 100);
        assert!(ece(&table) > 0.0);
    }
}
