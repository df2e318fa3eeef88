//! Frequent itemsets kept in memory for rule generation: flat storage (one `Vec<u32>` for
//! all items) and a hash index from an itemset to its count, so looking up the support of
//! an antecedent costs one hash and one slice compare, with no per-itemset allocation.

use super::miner::Miner;
use crate::data::Baskets;
use std::collections::HashMap;

const END: u32 = u32::MAX;

#[derive(Debug, Default)]
pub struct ItemsetTable {
    items: Vec<u32>,
    offsets: Vec<usize>,
    counts: Vec<u32>,
    /// Hash of an itemset → first index with that hash; `next` chains the rare collisions.
    heads: HashMap<u64, u32>,
    next: Vec<u32>,
    /// Number of baskets the supports are counted over.
    pub baskets: usize,
}

/// FxHash-style mixing over sorted item ids (collisions are resolved by comparing).
fn hash_set(items: &[u32]) -> u64 {
    let mut h: u64 = items.len() as u64;
    for &i in items {
        h = (h.rotate_left(5) ^ i as u64).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    h
}

impl ItemsetTable {
    pub fn new(baskets: usize) -> Self {
        ItemsetTable {
            offsets: vec![0],
            baskets,
            ..Default::default()
        }
    }

    pub fn len(&self) -> usize {
        self.counts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.counts.is_empty()
    }

    /// Add an itemset; `items` must be sorted ascending.
    pub fn push(&mut self, items: &[u32], count: u32) {
        let index = self.counts.len() as u32;
        self.items.extend_from_slice(items);
        self.offsets.push(self.items.len());
        self.counts.push(count);
        let previous = self.heads.insert(hash_set(items), index);
        self.next.push(previous.unwrap_or(END));
    }

    pub fn get(&self, index: usize) -> (&[u32], u32) {
        (
            &self.items[self.offsets[index]..self.offsets[index + 1]],
            self.counts[index],
        )
    }

    pub fn iter(&self) -> impl Iterator<Item = (&[u32], u32)> + '_ {
        (0..self.len()).map(|i| self.get(i))
    }

    /// Count of a sorted itemset, if it is frequent. The empty set counts every basket.
    pub fn count(&self, items: &[u32]) -> Option<u32> {
        if items.is_empty() {
            return Some(self.baskets as u32);
        }
        let mut at = *self.heads.get(&hash_set(items))?;
        while at != END {
            let (set, count) = self.get(at as usize);
            if set == items {
                return Some(count);
            }
            at = self.next[at as usize];
        }
        None
    }
}

/// Mine every frequent itemset of `baskets` into a table (items as sorted basket ids).
pub fn mine_itemsets(
    baskets: &Baskets,
    min_count: u32,
    max_len: Option<usize>,
    allowed: Option<&[bool]>,
) -> ItemsetTable {
    let miner = Miner::new(baskets, min_count, max_len, allowed);
    let item_of_rank: Vec<u32> = (0..miner.n_frequent_items() as u32)
        .map(|r| miner.item(r))
        .collect();
    let mut table = ItemsetTable::new(baskets.len());
    let mut buffer = Vec::new();
    miner.mine(|ranks, count| {
        buffer.clear();
        buffer.extend(ranks.iter().map(|&r| item_of_rank[r as usize]));
        buffer.sort_unstable();
        table.push(&buffer, count);
    });
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_are_found_by_content() {
        let mut t = ItemsetTable::new(10);
        t.push(&[1], 5);
        t.push(&[1, 2], 3);
        t.push(&[2], 4);
        assert_eq!(t.count(&[1, 2]), Some(3));
        assert_eq!(t.count(&[2]), Some(4));
        assert_eq!(t.count(&[2, 3]), None);
        assert_eq!(t.count(&[]), Some(10));
    }
}
