//! `train --sample N`: which rows of a too-large customer table to train on.

use rand::seq::index;
use rand::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;
use std::collections::BTreeMap;

/// Indices (ascending) of `n` rows drawn without replacement, stratified by `class`: each
/// class keeps its share of the rows within one row (largest remainders). All rows when
/// `n` covers them. The same classes, `n` and `seed` always give the same rows.
pub fn stratified_sample<K: Ord>(class: &[K], n: usize, seed: u64) -> Vec<usize> {
    if n >= class.len() {
        return (0..class.len()).collect();
    }
    let mut groups: BTreeMap<&K, Vec<usize>> = BTreeMap::new();
    for (row, key) in class.iter().enumerate() {
        groups.entry(key).or_default().push(row);
    }
    let groups: Vec<Vec<usize>> = groups.into_values().collect();
    let sizes: Vec<usize> = groups.iter().map(Vec::len).collect();
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let mut kept: Vec<usize> = (groups.iter().zip(quotas(&sizes, n)))
        .flat_map(|(rows, quota)| {
            index::sample(&mut rng, rows.len(), quota)
                .into_iter()
                .map(|i| rows[i])
                .collect::<Vec<_>>()
        })
        .collect();
    kept.sort_unstable();
    kept
}

/// Split `n` over groups of these sizes in proportion (Hamilton's method): the floor of
/// each exact share, then one more to the largest remainders, earlier groups on ties.
fn quotas(sizes: &[usize], n: usize) -> Vec<usize> {
    let total: usize = sizes.iter().sum();
    // u128: n * size can pass u64 for very large tables.
    let exact = |size: usize| (n as u128 * size as u128, total as u128);
    let mut quota: Vec<usize> = sizes
        .iter()
        .map(|&s| (exact(s).0 / exact(s).1) as usize)
        .collect();
    let mut by_remainder: Vec<usize> = (0..sizes.len()).collect();
    by_remainder.sort_by_key(|&g| std::cmp::Reverse(exact(sizes[g]).0 % total as u128));
    let short = n - quota.iter().sum::<usize>();
    for &g in by_remainder.iter().take(short) {
        quota[g] += 1;
    }
    quota
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn count(class: &[u8], rows: &[usize], key: u8) -> usize {
        rows.iter().filter(|&&r| class[r] == key).count()
    }

    #[test]
    fn each_class_keeps_its_share_within_one_row() {
        // 26.5% positives, as in the telco table.
        let class: Vec<u8> = (0..7043).map(|i| u8::from(i % 1000 < 265)).collect();
        let rows = stratified_sample(&class, 1000, 7);
        assert_eq!(rows.len(), 1000);
        let positives = count(&class, &rows, 1) as f64;
        let share = 1000.0 * count(&class, &(0..7043).collect::<Vec<_>>(), 1) as f64 / 7043.0;
        assert!((positives - share).abs() <= 1.0, "{positives} vs {share}");
    }

    #[test]
    fn same_seed_same_rows_other_seed_other_rows() {
        let class: Vec<u8> = (0..500).map(|i| (i % 3) as u8).collect();
        assert_eq!(
            stratified_sample(&class, 100, 1),
            stratified_sample(&class, 100, 1)
        );
        assert_ne!(
            stratified_sample(&class, 100, 1),
            stratified_sample(&class, 100, 2)
        );
    }

    #[test]
    fn a_sample_as_large_as_the_table_is_the_table() {
        let class = [0u8, 1, 1, 0];
        assert_eq!(stratified_sample(&class, 4, 3), vec![0, 1, 2, 3]);
        assert_eq!(stratified_sample(&class, 10, 3), vec![0, 1, 2, 3]);
    }

    #[test]
    fn quotas_follow_largest_remainders() {
        assert_eq!(quotas(&[1, 1, 1], 2), vec![1, 1, 0]);
        assert_eq!(quotas(&[90, 10], 5), vec![5, 0]);
        assert_eq!(quotas(&[70, 30], 10), vec![7, 3]);
    }

    proptest! {
        #[test]
        fn sample_is_n_distinct_rows_with_class_shares_kept(
            class in proptest::collection::vec(0u8..4, 0..400),
            n in 0usize..450,
            seed in any::<u64>(),
        ) {
            let rows = stratified_sample(&class, n, seed);
            prop_assert_eq!(rows.len(), n.min(class.len()));
            prop_assert!(rows.windows(2).all(|w| w[0] < w[1]));
            prop_assert!(rows.iter().all(|&r| r < class.len()));
            for key in 0u8..4 {
                let total = class.iter().filter(|&&c| c == key).count();
                let share = rows.len() as f64 * total as f64 / class.len().max(1) as f64;
                let kept = count(&class, &rows, key) as f64;
                prop_assert!((kept - share).abs() < 1.0 + 1e-9, "class {} kept {} of share {}", key, kept, share);
            }
        }
    }
}
