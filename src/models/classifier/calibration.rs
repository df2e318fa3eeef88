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
    if p <= first {
        return y[0];
    }
    if p >= last {
        return y[y.len() - 1];
    }
    let i = x.partition_point(|&v| v <= p); // x[i-1] <= p < x[i]
    let t = (p - x[i - 1]) / (x[i] - x[i - 1]);
    y[i - 1] + t * (y[i] - y[i - 1])
}

/// Pool adjacent violators over the rows sorted by raw score; each block becomes one
/// point at its mean raw score and churn rate.
fn fit_isotonic(y: &[bool], p: &[f64]) -> Calibrator {
    let mut order: Vec<usize> = (0..p.len()).collect();
    order.sort_by(|&a, &b| p[a].total_cmp(&p[b]));
    // (sum of raw scores, sum of outcomes, rows)
    let mut blocks: Vec<(f64, f64, f64)> = Vec::new();
    for &i in &order {
        blocks.push((p[i], f64::from(u8::from(y[i])), 1.0));
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

    proptest! {
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
