//! The population stability index: Σ (cur − ref) · ln(cur / ref) over bins.

/// A share of zero (a bin one side never filled) becomes this before the logarithm, so an
/// empty bin costs a large but finite amount. 1e-4 (0.01%) is the fill value Evidently
/// uses when no non-empty bin is smaller than it.
pub const EPSILON: f64 = 1e-4;

/// PSI of two distributions over the same bins (shares, each summing to 1 or less).
/// Zero shares are replaced by [`EPSILON`]; bins empty on both sides add nothing.
pub fn psi(reference: &[f64], current: &[f64]) -> f64 {
    reference
        .iter()
        .zip(current)
        .filter(|(r, c)| **r > 0.0 || **c > 0.0)
        .map(|(&r, &c)| {
            let (r, c) = (r.max(EPSILON), c.max(EPSILON));
            (c - r) * (c / r).ln()
        })
        .sum()
}

/// Counts as shares of `total` (all zeros when the total is zero).
pub fn shares(counts: &[u64], total: u64) -> Vec<f64> {
    let total = total.max(1) as f64;
    counts.iter().map(|&c| c as f64 / total).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_distributions_have_zero_psi() {
        assert_eq!(psi(&[0.2, 0.3, 0.5], &[0.2, 0.3, 0.5]), 0.0);
    }

    #[test]
    fn psi_matches_a_hand_computed_value() {
        // (0.4-0.5)ln(0.4/0.5) + (0.6-0.5)ln(0.6/0.5)
        let expected = -0.1 * (0.8f64).ln() + 0.1 * (1.2f64).ln();
        assert!((psi(&[0.5, 0.5], &[0.4, 0.6]) - expected).abs() < 1e-15);
        assert!((expected - 0.040_546_5).abs() < 1e-6);
    }

    #[test]
    fn an_empty_bin_costs_epsilon_not_infinity() {
        let value = psi(&[1.0, 0.0], &[0.9, 0.1]);
        let expected = (0.9 - 1.0) * (0.9f64).ln() + (0.1 - EPSILON) * (0.1 / EPSILON).ln();
        assert!((value - expected).abs() < 1e-12, "{value}");
        assert_eq!(psi(&[1.0, 0.0], &[1.0, 0.0]), 0.0);
    }
}
