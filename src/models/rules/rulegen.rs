//! Rules X → Y from frequent itemsets, with the usual interest measures. Consequents grow
//! one item at a time and a branch stops as soon as confidence falls below the minimum:
//! moving an item from X to Y can only lower confidence (supp(X) only grows), so nothing
//! under a failed consequent can pass.

use super::itemsets::ItemsetTable;

/// One rule, as counts over the baskets; measures come from [`RuleRecord::metrics`].
#[derive(Debug, Clone, PartialEq)]
pub struct RuleRecord<'a> {
    pub antecedent: &'a [u32],
    pub consequent: &'a [u32],
    pub count: u32,
    pub antecedent_count: u32,
    pub consequent_count: u32,
}

/// Support, confidence, lift, leverage, conviction and Zhang's metric (as in mlxtend).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RuleMetrics {
    pub support: f64,
    pub confidence: f64,
    pub lift: f64,
    pub leverage: f64,
    /// Infinite when confidence is 1.
    pub conviction: f64,
    pub zhang: f64,
}

impl RuleMetrics {
    pub fn from_counts(n: usize, count: u32, antecedent: u32, consequent: u32) -> Self {
        let n = n.max(1) as f64;
        let (s_ac, s_a, s_c) = (
            count as f64 / n,
            antecedent as f64 / n,
            consequent as f64 / n,
        );
        let confidence = if antecedent > 0 { s_ac / s_a } else { 0.0 };
        let lift = if s_c > 0.0 { confidence / s_c } else { 0.0 };
        let conviction = if confidence >= 1.0 {
            f64::INFINITY
        } else {
            (1.0 - s_c) / (1.0 - confidence)
        };
        let denominator = (s_ac * (1.0 - s_a)).max(s_a * (s_c - s_ac));
        let zhang = if denominator > 0.0 {
            (s_ac - s_a * s_c) / denominator
        } else {
            0.0
        };
        RuleMetrics {
            support: s_ac,
            confidence,
            lift,
            leverage: s_ac - s_a * s_c,
            conviction,
            zhang,
        }
    }
}

impl RuleRecord<'_> {
    pub fn metrics(&self, n: usize) -> RuleMetrics {
        RuleMetrics::from_counts(n, self.count, self.antecedent_count, self.consequent_count)
    }
}

/// Which rules to keep.
#[derive(Debug, Clone, Copy)]
pub struct RuleFilter {
    pub min_confidence: f64,
    pub min_lift: f64,
    /// 1 for cross-sell scoring; `usize::MAX` for every rule.
    pub max_consequent: usize,
}

/// Call `emit` for every rule of every itemset in `table` that passes `filter`.
pub fn generate_rules<F: FnMut(&RuleRecord)>(
    table: &ItemsetTable,
    filter: RuleFilter,
    mut emit: F,
) {
    let mut work = Work::default();
    for index in 0..table.len() {
        let (set, count) = table.get(index);
        if set.len() < 2 {
            continue;
        }
        work.consequent.clear();
        grow(table, filter, set, count, 0, &mut work, &mut emit);
    }
}

#[derive(Default)]
struct Work {
    consequent: Vec<u32>,
    antecedent: Vec<u32>,
}

/// Extend the consequent with items of `set` at positions >= `from`.
fn grow<F: FnMut(&RuleRecord)>(
    table: &ItemsetTable,
    filter: RuleFilter,
    set: &[u32],
    count: u32,
    from: usize,
    work: &mut Work,
    emit: &mut F,
) {
    for k in from..set.len() {
        if work.consequent.len() + 1 >= set.len() || work.consequent.len() >= filter.max_consequent
        {
            return;
        }
        work.consequent.push(set[k]);
        work.antecedent.clear();
        work.antecedent
            .extend(set.iter().filter(|i| !work.consequent.contains(i)));
        let (Some(a), Some(c)) = (table.count(&work.antecedent), table.count(&work.consequent))
        else {
            work.consequent.pop();
            continue;
        };
        if (count as f64) >= filter.min_confidence * a as f64 {
            let record = RuleRecord {
                antecedent: &work.antecedent,
                consequent: &work.consequent,
                count,
                antecedent_count: a,
                consequent_count: c,
            };
            if record.metrics(table.baskets).lift >= filter.min_lift {
                emit(&record);
            }
            grow(table, filter, set, count, k + 1, work, emit);
        }
        work.consequent.pop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Baskets;
    use crate::models::rules::mine_itemsets;

    #[test]
    fn measures_match_hand_computation() {
        // 10 baskets: A in 5, C in 4, both in 3.
        let m = RuleMetrics::from_counts(10, 3, 5, 4);
        assert!((m.support - 0.3).abs() < 1e-12);
        assert!((m.confidence - 0.6).abs() < 1e-12);
        assert!((m.lift - 1.5).abs() < 1e-12);
        assert!((m.leverage - 0.1).abs() < 1e-12);
        assert!((m.conviction - 1.5).abs() < 1e-12);
        // mlxtend: (0.3 - 0.2) / max(0.3 * 0.5, 0.5 * 0.1) = 0.1 / 0.15
        assert!((m.zhang - 2.0 / 3.0).abs() < 1e-12);
        assert!(RuleMetrics::from_counts(10, 4, 4, 5)
            .conviction
            .is_infinite());
    }

    #[test]
    fn every_rule_above_the_confidence_is_found() {
        let baskets = Baskets::from_lists([
            vec!["a", "b", "c"],
            vec!["a", "b"],
            vec!["a", "c"],
            vec!["b", "c"],
            vec!["a", "b", "c"],
        ]);
        let table = mine_itemsets(&baskets, 1, None, None);
        let mut all = 0;
        let filter = RuleFilter {
            min_confidence: 0.0,
            min_lift: 0.0,
            max_consequent: usize::MAX,
        };
        generate_rules(&table, filter, |_| all += 1);
        // 3 pairs x 2 rules + the triple's 6 rules.
        assert_eq!(all, 12);
        let mut single = Vec::new();
        let filter = RuleFilter {
            min_confidence: 0.7,
            max_consequent: 1,
            ..filter
        };
        generate_rules(&table, filter, |r| {
            single.push((r.antecedent.to_vec(), r.consequent.to_vec()))
        });
        // a→b, b→a, a→c, c→a, b→c, c→b all have confidence 3/4; the triple's 2/3 fails.
        assert_eq!(single.len(), 6);
    }
}
