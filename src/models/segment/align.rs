//! Stable segment ids across retrains: a campaign keyed on "segment 3" must not silently
//! change meaning. New centroids are matched to the champion's, closest pairs first, and
//! take the champion's ids.

use super::kmeans::Clustering;

/// The id each new segment should carry: matched segments keep the champion's id (when it
/// exists among the new ids), the others take the free ids in order. Distances are
/// measured on `slots` (all features when empty). Greedy closest-pair-first matching: with
/// k ≤ 10 well-separated centroids it finds the same pairs as an optimal assignment, and
/// each pair it makes is the closest still available, which is what a user checks.
pub fn match_ids(champion: &[Vec<f64>], new: &[Vec<f64>], slots: &[usize]) -> Vec<usize> {
    let k = new.len();
    let mut pairs: Vec<(f64, usize, usize)> = Vec::new();
    for (n, centre) in new.iter().enumerate() {
        for (c, old) in champion.iter().enumerate().filter(|(c, _)| *c < k) {
            pairs.push((distance(centre, old, slots), n, c));
        }
    }
    pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut ids: Vec<Option<usize>> = vec![None; k];
    let mut taken = vec![false; k];
    for (_, n, c) in pairs {
        if ids[n].is_none() && !taken[c] {
            ids[n] = Some(c);
            taken[c] = true;
        }
    }
    let mut free = (0..k).filter(|&id| !taken[id]);
    ids.into_iter()
        .map(|id| id.or_else(|| free.next()).unwrap_or(0))
        .collect()
}

fn distance(a: &[f64], b: &[f64], slots: &[usize]) -> f64 {
    let at = |v: &[f64], j: usize| v.get(j).copied().unwrap_or(0.0);
    match slots.is_empty() {
        true => crate::models::stats::squared_distance(a, b),
        false => slots.iter().map(|&j| (at(a, j) - at(b, j)).powi(2)).sum(),
    }
}

/// Give segment `i` the id `ids[i]`: centroids move to their new index, labels follow.
/// `ids` must be a permutation of `0..k` (as [`match_ids`] returns).
pub fn renumber(clustering: &mut Clustering, ids: &[usize]) {
    let k = clustering.centroids.len();
    if ids.len() != k {
        return;
    }
    let mut centroids = vec![Vec::new(); k];
    for (old, centre) in clustering.centroids.drain(..).enumerate() {
        centroids[ids[old]] = centre;
    }
    clustering.centroids = centroids;
    for label in &mut clustering.labels {
        if let Some(&id) = ids.get(*label) {
            *label = id;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matched_segments_keep_the_champions_ids() {
        let champion = vec![vec![0.0, 0.0], vec![10.0, 0.0], vec![0.0, 10.0]];
        let new = vec![vec![0.2, 9.8], vec![0.1, 0.1], vec![9.9, 0.3]];
        assert_eq!(match_ids(&champion, &new, &[]), [2, 0, 1]);
        let mut clustering = Clustering {
            centroids: new,
            labels: vec![0, 1, 2, 2],
            inertia: 0.0,
        };
        renumber(&mut clustering, &[2, 0, 1]);
        assert_eq!(clustering.labels, [2, 0, 1, 1]);
        assert_eq!(clustering.centroids[0], [0.1, 0.1]);
    }

    #[test]
    fn extra_segments_take_the_free_ids_and_missing_ids_are_skipped() {
        let champion = vec![vec![0.0], vec![10.0]];
        let new = vec![vec![20.0], vec![9.0], vec![1.0]];
        assert_eq!(match_ids(&champion, &new, &[]), [2, 1, 0]);
        // Fewer new segments: the champion's id 2 does not exist any more.
        let champion = vec![vec![0.0], vec![10.0], vec![20.0]];
        let new = vec![vec![19.0], vec![1.0]];
        assert_eq!(match_ids(&champion, &new, &[]), [1, 0]);
    }

    #[test]
    fn distances_use_only_the_clustered_features() {
        let champion = vec![vec![0.0, 100.0], vec![10.0, 0.0]];
        let new = vec![vec![10.0, 100.0], vec![0.0, 0.0]];
        assert_eq!(match_ids(&champion, &new, &[0]), [1, 0]);
    }
}
