//! Choosing k a marketer can use. The silhouette alone often peaks at k = 2, which no
//! campaign plan can use, so: within the business range, among the ks where every segment
//! holds at least `min_share` of customers, take the largest k whose silhouette is within
//! `k_tolerance` of the best.

use super::kmeans::{fit_kmeans, refine, row_sample, silhouette, silhouette_sample, Clustering};
use super::{SegmentError, SegmentParams};
use ndarray::{Array2, Axis};
use serde::{Deserialize, Serialize};

/// How one candidate k scored when k was chosen automatically.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct KScore {
    pub k: usize,
    pub silhouette: f64,
    pub inertia: f64,
    /// Share of customers in the smallest segment (absent in bundles made before it was
    /// recorded).
    #[serde(default)]
    pub smallest_share: Option<f64>,
    /// Why this k was or was not chosen, in words.
    #[serde(default)]
    pub verdict: String,
}

/// The chosen partition, every k's figures and why the chosen k won.
#[derive(Debug, Clone)]
pub struct KChoice {
    pub clustering: Clustering,
    pub scores: Vec<KScore>,
    pub reason: String,
}

/// Fit every k in the range, score each, and keep the one [`pick_k`] prefers. Above
/// `params.fit_sample` rows every k is fitted and scored on a sample of that size and only
/// the chosen k is iterated on every row (from the sample's centres). `on_step` is called
/// after each k (and after the final iteration on every row).
pub fn choose_k(
    rows: &Array2<f64>,
    params: &SegmentParams,
    on_step: &dyn Fn(),
) -> Result<KChoice, SegmentError> {
    let sampled = (rows.nrows() > params.fit_sample).then(|| {
        rows.select(
            Axis(0),
            &row_sample(rows.nrows(), params.fit_sample, params.seed),
        )
    });
    let on = sampled.as_ref().unwrap_or(rows);
    let sample_rows = silhouette_sample(on.nrows(), params.silhouette_sample, params.seed);
    let mut scores = Vec::new();
    let mut fits = Vec::new();
    for k in params.k_min..=params.k_max.min(on.nrows().saturating_sub(1)) {
        let clustering = fit_kmeans(on, k, params.restarts, params)?;
        scores.push(KScore {
            k,
            silhouette: silhouette(on, &clustering.labels, &sample_rows),
            inertia: clustering.inertia,
            smallest_share: Some(smallest_share(&clustering.labels, k)),
            verdict: String::new(),
        });
        fits.push(clustering);
        on_step();
    }
    if fits.is_empty() {
        return Err(SegmentError::TooFewRows {
            rows: rows.nrows(),
            k: params.k_min,
        });
    }
    let (chosen, reason) = pick_k(&mut scores, params.k_tolerance, params.min_share);
    let mut clustering = fits.swap_remove(chosen);
    if sampled.is_some() {
        clustering = refine(rows, clustering.centroids, params);
        on_step();
    }
    Ok(KChoice {
        clustering,
        scores,
        reason,
    })
}

/// Share of the rows in the smallest of `k` segments (an empty segment counts as 0).
pub fn smallest_share(labels: &[usize], k: usize) -> f64 {
    let mut counts = vec![0usize; k];
    for &l in labels {
        if let Some(c) = counts.get_mut(l) {
            *c += 1;
        }
    }
    let smallest = counts.iter().copied().min().unwrap_or(0);
    smallest as f64 / labels.len().max(1) as f64
}

/// Index of the chosen k in `scores` and why; fills in each score's verdict.
pub fn pick_k(scores: &mut [KScore], tolerance: f64, min_share: f64) -> (usize, String) {
    let eligible = |s: &KScore| s.smallest_share.is_none_or(|m| m >= min_share);
    let best = scores
        .iter()
        .enumerate()
        .filter(|(_, s)| eligible(s))
        .max_by(|a, b| a.1.silhouette.total_cmp(&b.1.silhouette))
        .map(|(i, _)| i);
    let Some(best) = best else {
        return no_k_eligible(scores, min_share);
    };
    let (best_k, best_silhouette) = (scores[best].k, scores[best].silhouette);
    let floor = best_silhouette - tolerance;
    let chosen = (0..scores.len())
        .filter(|&i| eligible(&scores[i]) && scores[i].silhouette >= floor)
        .max_by_key(|&i| scores[i].k)
        .unwrap_or(best);
    for (i, s) in scores.iter_mut().enumerate() {
        s.verdict = match s.smallest_share {
            _ if i == chosen => "chosen".to_string(),
            Some(m) if m < min_share => format!(
                "smallest segment {:.1}% < {:.1}%",
                100.0 * m,
                100.0 * min_share
            ),
            _ if s.silhouette < floor => format!(
                "silhouette more than {tolerance} below the best ({best_silhouette:.3} at k={best_k})"
            ),
            _ => "eligible, but a larger k is too".to_string(),
        };
    }
    let c = &scores[chosen];
    let reason = format!(
        "k={}: the largest k whose silhouette ({:.3}) is within {tolerance} of the best \
         ({best_silhouette:.3} at k={best_k}), with every segment at least {:.1}% of customers",
        c.k,
        c.silhouette,
        100.0 * min_share
    );
    (chosen, reason)
}

/// No k keeps every segment above the minimum share: fall back to the best silhouette and
/// say so, rather than refuse to train.
fn no_k_eligible(scores: &mut [KScore], min_share: f64) -> (usize, String) {
    let chosen = (0..scores.len())
        .max_by(|&a, &b| scores[a].silhouette.total_cmp(&scores[b].silhouette))
        .unwrap_or(0);
    for (i, s) in scores.iter_mut().enumerate() {
        s.verdict = match i == chosen {
            true => "chosen (best silhouette; no k met the minimum share)".to_string(),
            false => format!(
                "smallest segment {:.1}% < {:.1}%",
                100.0 * s.smallest_share.unwrap_or(0.0),
                100.0 * min_share
            ),
        };
    }
    let k = scores.get(chosen).map_or(0, |s| s.k);
    let reason = format!(
        "k={k}: no k in the range gives every segment at least {:.1}% of customers, so the \
         best silhouette decides",
        100.0 * min_share
    );
    (chosen, reason)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::stats::adjusted_rand_index;
    use rand::{Rng, SeedableRng};
    use rand_xoshiro::Xoshiro256Plus;

    fn score(k: usize, silhouette: f64, smallest: f64) -> KScore {
        KScore {
            k,
            silhouette,
            inertia: 0.0,
            smallest_share: Some(smallest),
            verdict: String::new(),
        }
    }

    #[test]
    fn the_largest_k_near_the_best_silhouette_wins() {
        let mut scores = vec![
            score(3, 0.30, 0.2),
            score(4, 0.29, 0.1),
            score(5, 0.285, 0.05),
            score(6, 0.20, 0.05),
        ];
        let (chosen, reason) = pick_k(&mut scores, 0.02, 0.03);
        assert_eq!(scores[chosen].k, 5, "{reason}");
        assert_eq!(scores[0].verdict, "eligible, but a larger k is too");
        assert!(scores[3].verdict.contains("below the best"), "{scores:?}");
    }

    #[test]
    fn a_tiny_segment_makes_a_k_ineligible() {
        let mut scores = vec![score(3, 0.30, 0.2), score(4, 0.31, 0.01)];
        let (chosen, _) = pick_k(&mut scores, 0.02, 0.03);
        assert_eq!(scores[chosen].k, 3);
        assert_eq!(scores[1].verdict, "smallest segment 1.0% < 3.0%");
    }

    #[test]
    fn when_no_k_is_eligible_the_best_silhouette_decides() {
        let mut scores = vec![score(3, 0.30, 0.01), score(4, 0.35, 0.01)];
        let (chosen, reason) = pick_k(&mut scores, 0.02, 0.03);
        assert_eq!(scores[chosen].k, 4);
        assert!(reason.contains("no k in the range"), "{reason}");
    }

    #[test]
    fn smallest_share_counts_empty_segments() {
        assert_eq!(smallest_share(&[0, 0, 1, 1], 2), 0.5);
        assert_eq!(smallest_share(&[0, 0, 1, 1], 3), 0.0);
    }

    /// Five Gaussian blobs (sd 1) in 6 dimensions, centres 8 apart on different axes,
    /// unequal sizes (8% to 35%), with the true blob of each row.
    pub(crate) fn five_blobs() -> (Array2<f64>, Vec<usize>) {
        let sizes = [350, 250, 200, 120, 80];
        let mut rng = Xoshiro256Plus::seed_from_u64(7);
        let mut gaussian = move || {
            // Box–Muller: two uniforms make one standard normal.
            let (u, v): (f64, f64) = (rng.gen_range(1e-12..1.0), rng.gen());
            (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
        };
        let (mut data, mut truth) = (Vec::new(), Vec::new());
        for (blob, &size) in sizes.iter().enumerate() {
            let mut centre = [0.0; 6];
            centre[blob] = 8.0;
            for _ in 0..size {
                data.extend(centre.iter().map(|c| c + gaussian()));
                truth.push(blob);
            }
        }
        let rows = Array2::from_shape_vec((truth.len(), 6), data).unwrap();
        (rows, truth)
    }

    #[test]
    fn five_known_clusters_come_back_as_five() {
        let (rows, truth) = five_blobs();
        let chosen = choose_k(&rows, &SegmentParams::default(), &|| {}).unwrap();
        assert_eq!(chosen.clustering.centroids.len(), 5, "{:?}", chosen.scores);
        let ari = adjusted_rand_index(&chosen.clustering.labels, &truth);
        assert!(ari > 0.9, "ARI {ari}");
        assert!(chosen.reason.starts_with("k=5"), "{}", chosen.reason);
    }

    #[test]
    fn k_chosen_on_a_sample_still_finds_five_clusters() {
        let (rows, truth) = five_blobs();
        let params = SegmentParams {
            fit_sample: 300,
            ..Default::default()
        };
        let chosen = choose_k(&rows, &params, &|| {}).unwrap();
        assert_eq!(chosen.clustering.centroids.len(), 5, "{:?}", chosen.scores);
        // Every row is labelled, not just the sample's.
        assert_eq!(chosen.clustering.labels.len(), rows.nrows());
        let ari = adjusted_rand_index(&chosen.clustering.labels, &truth);
        assert!(ari > 0.9, "ARI {ari}");
    }
}
