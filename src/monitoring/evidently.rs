//! PSI with Evidently's binning, to compare our figures with Evidently's on the same
//! data (`benches/peers/drift_peer.sh`). Evidently bins each pair of samples afresh
//! (`get_binned_data` in `evidently/legacy/calculations/stattests/utils.py`): a numeric
//! column with more than 20 distinct reference values gets equal-width bins over
//! reference and current together, `np.histogram_bin_edges(combined, bins="sturges")`
//! in Evidently 0.7 (its `n_bins` argument is no longer used; older releases passed
//! `bins=n_bins`, 30 by default); any other column gets one bucket per value seen on
//! either side. Empty buckets get a fill value (see [`fill_zeros`]). Missing values
//! are dropped first, as Evidently's column drift does.

use std::collections::BTreeMap;

/// How numeric columns with many distinct values are cut into equal-width bins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Binning {
    /// Sturges' rule on the combined sample, as Evidently 0.7 does.
    Sturges,
    /// A fixed number of bins, as earlier Evidently releases did.
    Equal(usize),
}

/// Distinct reference values above which a numeric column is binned by width.
const MAX_DISCRETE: usize = 20;

/// The present values of one column, from one file.
#[derive(Debug, Clone, PartialEq)]
pub enum Sample {
    Numbers(Vec<f64>),
    Texts(Vec<String>),
}

/// Evidently's PSI of `current` against `reference`.
pub fn psi(reference: &Sample, current: &Sample, binning: Binning) -> f64 {
    let (mut r, mut c) = match (reference, current) {
        (Sample::Numbers(r), Sample::Numbers(c)) if distinct(r) > MAX_DISCRETE => {
            let edges = histogram_bin_edges(r, c, binning);
            (histogram(r, &edges), histogram(c, &edges))
        }
        (Sample::Numbers(r), Sample::Numbers(c)) => {
            let key = |x: &f64| x.to_bits() ^ (1 << 63);
            value_shares(r.iter().map(key), c.iter().map(key), r.len(), c.len())
        }
        (Sample::Texts(r), Sample::Texts(c)) => value_shares(r.iter(), c.iter(), r.len(), c.len()),
        _ => return f64::NAN,
    };
    fill_zeros(&mut r);
    fill_zeros(&mut c);
    r.iter().zip(&c).map(|(r, c)| (r - c) * (r / c).ln()).sum()
}

fn distinct(values: &[f64]) -> usize {
    let mut bits: Vec<u64> = values.iter().map(|x| x.to_bits()).collect();
    bits.sort_unstable();
    bits.dedup();
    bits.len()
}

/// `np.histogram_bin_edges(concat(reference, current), bins)`: equal-width bins from the
/// smallest to the largest value, computed as `np.linspace` does (`i * step + first`,
/// the last edge set to the largest value).
fn histogram_bin_edges(reference: &[f64], current: &[f64], binning: Binning) -> Vec<f64> {
    let (mut lo, mut hi) = reference
        .iter()
        .chain(current)
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &x| {
            (a.min(x), b.max(x))
        });
    let ptp = hi - lo;
    if lo == hi {
        (lo, hi) = (lo - 0.5, hi + 0.5);
    }
    let n = match binning {
        Binning::Equal(n) => n.max(1),
        // numpy: width = ptp / (log2(size) + 1), bins = ceil((last - first) / width); its
        // integer-data floor of width 1 cannot apply to more than 20 distinct integers.
        Binning::Sturges => {
            let size = (reference.len() + current.len()) as f64;
            let width = ptp / (size.log2() + 1.0);
            if width > 0.0 {
                ((hi - lo) / width).ceil() as usize
            } else {
                1
            }
        }
    };
    let step = (hi - lo) / n as f64;
    let mut edges: Vec<f64> = (0..=n).map(|i| i as f64 * step + lo).collect();
    edges[n] = hi;
    edges
}

/// `np.histogram(values, edges)[0] / len(values)`: bins closed on the left, the last one
/// on both sides.
fn histogram(values: &[f64], edges: &[f64]) -> Vec<f64> {
    let n = edges.len() - 1;
    let mut counts = vec![0u64; n];
    for &x in values {
        if x < edges[0] || x > edges[n] {
            continue;
        }
        let bin = edges
            .partition_point(|&e| e <= x)
            .saturating_sub(1)
            .min(n - 1);
        counts[bin] += 1;
    }
    let len = values.len().max(1) as f64;
    counts.iter().map(|&c| c as f64 / len).collect()
}

/// Shares of each value seen on either side, in one key order for both.
fn value_shares<K: Ord>(
    reference: impl Iterator<Item = K>,
    current: impl Iterator<Item = K>,
    reference_len: usize,
    current_len: usize,
) -> (Vec<f64>, Vec<f64>) {
    let mut counts: BTreeMap<K, (u64, u64)> = BTreeMap::new();
    for key in reference {
        counts.entry(key).or_default().0 += 1;
    }
    for key in current {
        counts.entry(key).or_default().1 += 1;
    }
    let (r, c) = (reference_len.max(1) as f64, current_len.max(1) as f64);
    counts
        .values()
        .map(|&(a, b)| (a as f64 / r, b as f64 / c))
        .unzip()
}

/// Evidently's fill for empty buckets: the smallest non-zero share divided by 10⁶ when
/// that share is at most 10⁻⁴, else 10⁻⁴.
fn fill_zeros(shares: &mut [f64]) {
    let smallest = shares
        .iter()
        .copied()
        .filter(|&s| s != 0.0)
        .fold(f64::INFINITY, f64::min);
    let fill = if smallest <= 1e-4 {
        smallest / 1e6
    } else {
        1e-4
    };
    for s in shares.iter_mut().filter(|s| **s == 0.0) {
        *s = fill;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bin_edges_follow_numpy() {
        // np.histogram_bin_edges([0, 72], bins=30)[5] == 12.0
        let edges = histogram_bin_edges(&[0.0], &[72.0], Binning::Equal(30));
        assert_eq!((edges.len(), edges[5], edges[30]), (31, 12.0, 72.0));
        // A value on the top edge is in the last bin; on an inner edge, in the bin above.
        let h = histogram(&[0.0, 12.0, 72.0], &edges);
        assert_eq!((h[0], h[5], h[29]), (1.0 / 3.0, 1.0 / 3.0, 1.0 / 3.0));
    }

    #[test]
    fn sturges_picks_the_bin_count_from_the_sample_size() {
        // 1,000 values: log2(1000) + 1 = 10.97, so 11 bins.
        let values: Vec<f64> = (0..1000).map(f64::from).collect();
        let edges = histogram_bin_edges(&values[..500], &values[500..], Binning::Sturges);
        assert_eq!((edges.len(), edges[0], edges[11]), (12, 0.0, 999.0));
    }

    #[test]
    fn few_distinct_values_are_compared_value_by_value() {
        let r = Sample::Numbers(vec![0.0, 0.0, 1.0, 1.0]);
        let c = Sample::Numbers(vec![0.0, 1.0, 1.0, 1.0]);
        let expected = (0.5 - 0.25) * (0.5f64 / 0.25).ln() + (0.5 - 0.75) * (0.5f64 / 0.75).ln();
        assert!((psi(&r, &c, Binning::Sturges) - expected).abs() < 1e-12);
    }

    #[test]
    fn a_category_on_one_side_only_gets_the_fill_value() {
        let r = Sample::Texts(vec!["a".into(), "b".into()]);
        let c = Sample::Texts(vec!["a".into(), "c".into()]);
        let expected = (0.5 - 1e-4) * (0.5f64 / 1e-4).ln() * 2.0;
        assert!((psi(&r, &c, Binning::Sturges) - expected).abs() < 1e-12);
    }
}
