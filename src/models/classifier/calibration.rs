//! Turning a model's raw churn scores into probabilities that mean what they say,
//! fitted on out-of-fold predictions (never on the rows the model was fitted on).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CalibrationMethod {
    /// Monotone step function (pool adjacent violators), interpolated between steps.
    Isotonic,
    /// Logistic curve on the raw log-odds (two parameters).
    Platt,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "method", rename_all = "snake_case")]
pub enum Calibrator {
    /// Raw probability `x[i]` maps to `y[i]`; linear in between, flat outside.
    Isotonic { x: Vec<f64>, y: Vec<f64> },
    /// `1 / (1 + exp(-(a * logit(p) + b)))`.
    Platt { a: f64, b: f64 },
}

impl Calibrator {
    pub fn fit(method: CalibrationMethod, y: &[bool], p: &[f64]) -> Calibrator {
        match method {
            CalibrationMethod::Isotonic => fit_isotonic(y, p),
            CalibrationMethod::Platt => fit_platt(y, p),
        }
    }

    /// Calibrated probability of a raw one; non-decreasing in `p` and within [0, 1].
    pub fn apply(&self, p: f64) -> f64 {
        match self {
            Calibrator::Isotonic { x, y } => interpolate(x, y, p),
            Calibrator::Platt { a, b } => sigmoid(a * logit(p) + b),
        }
    }
}

pub fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

pub fn logit(p: f64) -> f64 {
    let p = p.clamp(1e-12, 1.0 - 1e-12);
    (p / (1.0 - p)).ln()
}

fn interpolate(x: &[f64], y: &[f64], p: f64) -> f64 {
    let (Some(&first), Some(&last)) = (x.first(), x.last()) else {
        return p.clamp(0.0, 1.0);
    };
    // NaN lands on the lowest step rather than indexing before the first point.
    if p.is_nan() || p <= first {
        return y[0];
    }
    if p >= last {
        return y[y.len() - 1];
    }
    let i = x.partition_point(|&v| v <= p).clamp(1, x.len() - 1); // x[i-1] <= p < x[i]
    let t = (p - x[i - 1]) / (x[i] - x[i - 1]);
    y[i - 1] + t * (y[i] - y[i - 1])
}

/// Pool adjacent violators over the distinct raw scores in increasing order. Rows with
/// the same raw score are one point first (their churn rate), as scikit-learn's
/// IsotonicRegression does, so the curve never depends on the order of tied rows.
fn fit_isotonic(y: &[bool], p: &[f64]) -> Calibrator {
    let mut order: Vec<usize> = (0..p.len()).collect();
    order.sort_by(|&a, &b| p[a].total_cmp(&p[b]));
    // (sum of raw scores, sum of outcomes, rows)
    let mut blocks: Vec<(f64, f64, f64)> = Vec::new();
    let mut at = 0;
    while at < order.len() {
        let score = p[order[at]];
        let tied = order[at..].partition_point(|&i| p[i].total_cmp(&score).is_eq());
        let churned = order[at..at + tied].iter().filter(|&&i| y[i]).count();
        blocks.push((score * tied as f64, churned as f64, tied as f64));
        at += tied;
        while blocks.len() > 1 {
            let (b, a) = (blocks[blocks.len() - 1], blocks[blocks.len() - 2]);
            if a.1 / a.2 < b.1 / b.2 {
                break;
            }
            blocks.pop();
            let last = blocks.len() - 1;
            blocks[last] = (a.0 + b.0, a.1 + b.1, a.2 + b.2);
        }
    }
    let x = blocks.iter().map(|b| b.0 / b.2).collect();
    let y = blocks.iter().map(|b| b.1 / b.2).collect();
    Calibrator::Isotonic { x, y }
}

/// Logistic regression of the outcome on the raw log-odds, by Newton's method.
fn fit_platt(y: &[bool], p: &[f64]) -> Calibrator {
    let z: Vec<f64> = p.iter().map(|&p| logit(p)).collect();
    let (mut a, mut b) = (1.0, 0.0);
    for _ in 0..50 {
        let (mut ga, mut gb, mut haa, mut hab, mut hbb) = (0.0, 0.0, 1e-9, 0.0, 1e-9);
        for (&z, &y) in z.iter().zip(y) {
            let q = sigmoid(a * z + b);
            let r = q - f64::from(u8::from(y));
            let w = q * (1.0 - q);
            ga += r * z;
            gb += r;
            haa += w * z * z;
            hab += w * z;
            hbb += w;
        }
        let det = haa * hbb - hab * hab;
        if det.abs() < 1e-12 {
            break;
        }
        let da = (hbb * ga - hab * gb) / det;
        let db = (haa * gb - hab * ga) / det;
        a -= da;
        b -= db;
        if da.abs() + db.abs() < 1e-10 {
            break;
        }
    }
    if a < 0.0 || !a.is_finite() || !b.is_finite() {
        // A calibration curve must never reverse the model's ranking: fall back to the
        // base rate (flat) rather than a decreasing curve.
        let rate = y.iter().filter(|&&y| y).count() as f64 / y.len().max(1) as f64;
        return Calibrator::Platt {
            a: 0.0,
            b: logit(rate),
        };
    }
    Calibrator::Platt { a, b }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn isotonic_pools_violators() {
        let y = [false, true, false, true];
        let p = [0.1, 0.2, 0.3, 0.4];
        let Calibrator::Isotonic { x, y } = fit_isotonic(&y, &p) else {
            unreachable!()
        };
        assert_eq!(y, vec![0.0, 0.5, 1.0]);
        assert_eq!(x.len(), 3);
    }

    #[test]
    fn platt_recovers_a_calibrated_model() {
        // Outcomes drawn to match p exactly in expectation: a ≈ 1, b ≈ 0.
        let mut y = Vec::new();
        let mut p = Vec::new();
        for k in 1..10 {
            let q = k as f64 / 10.0;
            for j in 0..100 {
                p.push(q);
                y.push((j as f64) < q * 100.0);
            }
        }
        let Calibrator::Platt { a, b } = fit_platt(&y, &p) else {
            unreachable!()
        };
        assert!((a - 1.0).abs() < 0.05 && b.abs() < 0.05, "{a} {b}");
    }

    #[test]
    fn tied_scores_are_one_point_whatever_their_order() {
        // Four rows share the raw score 0.5, two of them churned: one point at rate 0.5.
        let p = [0.2, 0.5, 0.5, 0.5, 0.5, 0.8];
        let a = fit_isotonic(&[false, true, true, false, false, true], &p);
        let b = fit_isotonic(&[false, false, false, true, true, true], &p);
        assert_eq!(a, b);
        let Calibrator::Isotonic { x, y } = a else {
            unreachable!()
        };
        assert_eq!(x, vec![0.2, 0.5, 0.8]);
        assert_eq!(y, vec![0.0, 0.5, 1.0]);
    }

    #[test]
    fn a_nan_score_is_the_lowest_step_not_a_panic() {
        let c = fit_isotonic(&[false, true, false, true], &[0.1, 0.2, 0.3, 0.4]);
        assert_eq!(c.apply(f64::NAN), c.apply(0.0));
    }

    proptest! {
        #[test]
        fn permuting_rows_never_changes_the_isotonic_curve(
            rows in prop::collection::vec((0u8..6, any::<bool>()), 2..120),
            seed in any::<u64>(),
        ) {
            // Few distinct scores, so most rows are tied with others.
            let (p, y): (Vec<f64>, Vec<bool>) =
                rows.iter().map(|&(s, y)| (f64::from(s) / 5.0, y)).unzip();
            let mut order: Vec<usize> = (0..p.len()).collect();
            let mut state = seed | 1;
            for i in (1..order.len()).rev() {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                order.swap(i, (state % (i as u64 + 1)) as usize);
            }
            let p2: Vec<f64> = order.iter().map(|&i| p[i]).collect();
            let y2: Vec<bool> = order.iter().map(|&i| y[i]).collect();
            prop_assert_eq!(fit_isotonic(&y, &p), fit_isotonic(&y2, &p2));
        }

        #[test]
        fn calibrated_probabilities_are_monotone_and_bounded(
            rows in prop::collection::vec((0.0f64..1.0, any::<bool>()), 2..200),
            probes in prop::collection::vec(-0.5f64..1.5, 2..50),
            platt in any::<bool>(),
        ) {
            let (p, y): (Vec<f64>, Vec<bool>) = rows.into_iter().unzip();
            let method = if platt { CalibrationMethod::Platt } else { CalibrationMethod::Isotonic };
            let c = Calibrator::fit(method, &y, &p);
            let mut probes = probes;
            probes.sort_by(f64::total_cmp);
            let out: Vec<f64> = probes.iter().map(|&q| c.apply(q)).collect();
            for w in out.windows(2) {
                prop_assert!(w[0] <= w[1] + 1e-12, "{out:?}");
            }
            prop_assert!(out.iter().all(|q| (0.0..=1.0).contains(q)));
        }
    }
}
