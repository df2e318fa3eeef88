//! Item-item co-occurrence recommendations, the usual baseline for "customers who bought
//! this also bought": cosine similarity of two items over the baskets,
//! count(i and j) / √(count(i) · count(j)); a candidate's score is the sum of its
//! similarities to the customer's items.

use crate::data::Baskets;
use std::collections::HashMap;

/// Neighbours kept per item (the most similar).
const NEIGHBOURS: usize = 200;

pub struct CoOccurrence {
    /// Per item, its most similar items with the cosine, most similar first.
    neighbours: Vec<Vec<(u32, f64)>>,
    counts: Vec<u32>,
}

impl CoOccurrence {
    pub fn fit(baskets: &Baskets) -> Self {
        let n = baskets.names.len();
        let mut counts = vec![0u32; n];
        let mut pairs: HashMap<(u32, u32), u32> = HashMap::new();
        for basket in baskets.iter() {
            for (k, &i) in basket.iter().enumerate() {
                counts[i as usize] += 1;
                for &j in &basket[k + 1..] {
                    *pairs.entry((i.min(j), i.max(j))).or_default() += 1;
                }
            }
        }
        let mut neighbours = vec![Vec::new(); n];
        for ((i, j), together) in pairs {
            let cosine = together as f64
                / (f64::from(counts[i as usize]) * f64::from(counts[j as usize])).sqrt();
            neighbours[i as usize].push((j, cosine));
            neighbours[j as usize].push((i, cosine));
        }
        for list in &mut neighbours {
            list.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
            list.truncate(NEIGHBOURS);
        }
        CoOccurrence { neighbours, counts }
    }

    /// The `k` best items for a customer whose items are `antecedent`, never one of
    /// `owned` (sorted); ties go to the more popular item, then the lower id.
    pub fn recommend(&self, antecedent: &[u32], owned: &[u32], k: usize) -> Vec<u32> {
        let mut scores: HashMap<u32, f64> = HashMap::new();
        for &i in antecedent {
            for &(j, cosine) in self
                .neighbours
                .get(i as usize)
                .map_or(&[][..], Vec::as_slice)
            {
                if owned.binary_search(&j).is_err() {
                    *scores.entry(j).or_default() += cosine;
                }
            }
        }
        let mut ranked: Vec<(u32, f64)> = scores.into_iter().collect();
        ranked.sort_by(|a, b| {
            b.1.total_cmp(&a.1)
                .then(self.counts[b.0 as usize].cmp(&self.counts[a.0 as usize]))
                .then(a.0.cmp(&b.0))
        });
        ranked.into_iter().take(k).map(|(item, _)| item).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cosine_ranks_the_items_bought_together() {
        // a with b in 4 baskets of 4; a with c in 1; c alone 3 more times.
        let mut lists = vec![vec!["a", "b"]; 3];
        lists.push(vec!["a", "b", "c"]);
        lists.extend(vec![vec!["c"]; 3]);
        let baskets = Baskets::from_lists(lists);
        let model = CoOccurrence::fit(&baskets);
        let id = |n: &str| baskets.item_id(n).unwrap();
        let owned = [id("a")];
        assert_eq!(model.recommend(&owned, &owned, 2), [id("b"), id("c")]);
        // cos(a, b) = 4 / √(4·4) = 1; cos(a, c) = 1 / √(4·4) = 0.25.
        let a = &model.neighbours[id("a") as usize];
        assert_eq!(a[0], (id("b"), 1.0));
        assert_eq!(a[1], (id("c"), 0.25));
    }
}
