//! BG/NBD (Fader, Hardie & Lee 2005): while alive a customer buys at a Poisson rate λ ~
//! Gamma(r, α); after each purchase they drop out with probability p ~ Beta(a, b). Fitted
//! by maximum likelihood on log parameters with the likelihood `lifetimes`'
//! `BetaGeoFitter` uses (no penalty), so the parameters agree with it.

use super::optim::minimize;
use super::special::{digamma, hyp2f1, ln_gamma};
use super::summary::RepeatSummary;
use super::LifetimeError;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// Fitted BG/NBD parameters; α is in the time unit of the data it was fitted on.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BgNbd {
    pub r: f64,
    pub alpha: f64,
    pub a: f64,
    pub b: f64,
}

/// Customers with the same (x, t_x, T) contribute the same term: fitted once, weighted.
pub(super) struct Group {
    pub(super) x: f64,
    pub(super) recency: f64,
    pub(super) age: f64,
    pub(super) weight: f64,
}

/// Per distinct frequency: the terms that depend on x and the parameters only.
pub(super) struct FrequencyGroup {
    x: f64,
    weight: f64,
}

/// Where lifetimes starts (log parameters of 0.1).
const START: [f64; 4] = [0.1; 4];

impl BgNbd {
    /// Maximum-likelihood fit. Time is rescaled so the longest T is 10 (as lifetimes does,
    /// for a well-conditioned start) and α scaled back at the end.
    pub fn fit(customers: &[RepeatSummary]) -> Result<(BgNbd, FitReport), LifetimeError> {
        fit_variant(customers, Dropout::AfterRepeat)
    }

    /// P(alive | x, t_x, T).
    pub fn p_alive(&self, c: &RepeatSummary) -> f64 {
        p_alive_variant(self, c, Dropout::AfterRepeat)
    }

    /// Expected purchases in the next `t` time units given the history
    /// (`conditional_expected_number_of_purchases_up_to_time`); `None` when the
    /// hypergeometric series does not converge.
    pub fn expected_purchases(&self, t: f64, c: &RepeatSummary) -> Option<f64> {
        expected_purchases_variant(self, t, c, Dropout::AfterRepeat)
    }

    /// Mean log-likelihood per customer of these parameters (as the fit maximises it).
    pub fn mean_log_likelihood(&self, customers: &[RepeatSummary]) -> f64 {
        mean_log_likelihood_variant(self, customers, Dropout::AfterRepeat)
    }
}

/// When a customer may drop out: BG/NBD after each repeat purchase, MBG/NBD (Batislam,
/// Denizel & Filiztekin 2007) after every purchase, the first included, so a one-time
/// buyer can be gone. MBG/NBD's formulas are BG/NBD's with b + x − 1 read as b + x.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Dropout {
    AfterRepeat,
    AtEveryPurchase,
}

impl Dropout {
    /// What the formulas add to b + x − 1.
    fn shift(self) -> f64 {
        match self {
            Dropout::AfterRepeat => 0.0,
            Dropout::AtEveryPurchase => 1.0,
        }
    }

    /// Whether a customer with `x` repeat purchases can have dropped out.
    fn can_drop(self, x: f64) -> bool {
        x > 0.0 || self == Dropout::AtEveryPurchase
    }

    fn name(self) -> &'static str {
        match self {
            Dropout::AfterRepeat => "BG/NBD",
            Dropout::AtEveryPurchase => "MBG/NBD",
        }
    }
}

pub(super) fn fit_variant(
    customers: &[RepeatSummary],
    dropout: Dropout,
) -> Result<(BgNbd, FitReport), LifetimeError> {
    let model = dropout.name();
    let max_age = customers.iter().fold(0.0f64, |m, c| m.max(c.age));
    if customers.is_empty() || max_age <= 0.0 {
        return Err(LifetimeError::TooFewCustomers {
            model,
            needed: "customers with T > 0",
        });
    }
    if customers.iter().all(|c| c.frequency == 0.0) {
        return Err(LifetimeError::TooFewCustomers {
            model,
            needed: "a customer with a repeat purchase",
        });
    }
    let scale = 10.0 / max_age;
    let (groups, frequencies) = group(customers, scale);
    let total: f64 = groups.iter().map(|g| g.weight).sum();
    let objective = |log_params: &[f64], gradient: &mut [f64]| {
        negative_log_likelihood(log_params, &groups, &frequencies, total, gradient, dropout)
    };
    let best = minimize(objective, &START).ok_or(LifetimeError::NoFit { model })?;
    if !best.converged {
        return Err(LifetimeError::NoFit { model });
    }
    let [r, alpha, a, b] = [0, 1, 2, 3].map(|i| best.x[i].exp());
    let fitted = BgNbd {
        r,
        alpha: alpha / scale,
        a,
        b,
    };
    let report = FitReport {
        customers: customers.len(),
        left_out: 0,
        mean_log_likelihood: -best.value,
        iterations: best.iterations,
    };
    Ok((fitted, report))
}

pub(super) fn p_alive_variant(m: &BgNbd, c: &RepeatSummary, dropout: Dropout) -> f64 {
    let x = c.frequency;
    if !dropout.can_drop(x) {
        return 1.0;
    }
    let BgNbd { r, alpha, a, b } = *m;
    let log_odds_dead = (r + x) * ((alpha + c.age) / (alpha + c.recency)).ln()
        + (a / (b + x - 1.0 + dropout.shift())).ln();
    1.0 / (1.0 + log_odds_dead.exp())
}

pub(super) fn expected_purchases_variant(
    m: &BgNbd,
    t: f64,
    c: &RepeatSummary,
    dropout: Dropout,
) -> Option<f64> {
    if t <= 0.0 {
        return Some(0.0);
    }
    let BgNbd { r, alpha, a, b } = *m;
    let x = c.frequency;
    let k = dropout.shift();
    let (ha, hb, hc) = (r + x, b + x + k, a + b + x - 1.0 + k);
    let z = t / (alpha + c.age + t);
    // Euler's transformation: 2F1(ha, hb; hc; z) = (1 − z)^(hc−ha−hb) 2F1(hc−ha, hc−hb;
    // hc; z), whose terms stay small for large x (where the direct series overflows).
    // With a + b + x < 1 the series can sum to a negative number, so its sign is
    // carried apart from the logarithm of its size.
    let hyp = hyp2f1(hc - ha, hc - hb, hc, z)?;
    let ln_rest =
        (hc - ha - hb) * (1.0 - z).ln() + (r + x) * ((alpha + c.age) / (alpha + t + c.age)).ln();
    let first = hc / (a - 1.0);
    let second = 1.0 - hyp.signum() * (hyp.abs().ln() + ln_rest).exp();
    let denominator = match dropout.can_drop(x) {
        true => 1.0 + a / (b + x - 1.0 + k) * ((alpha + c.age) / (alpha + c.recency)).powf(r + x),
        false => 1.0,
    };
    let expected = first * second / denominator;
    expected.is_finite().then_some(expected)
}

pub(super) fn mean_log_likelihood_variant(
    m: &BgNbd,
    customers: &[RepeatSummary],
    dropout: Dropout,
) -> f64 {
    let (groups, frequencies) = group(customers, 1.0);
    let total: f64 = groups.iter().map(|g| g.weight).sum();
    let log_params = [m.r, m.alpha, m.a, m.b].map(f64::ln);
    -negative_log_likelihood(
        &log_params,
        &groups,
        &frequencies,
        total,
        &mut [0.0; 4],
        dropout,
    )
}

/// How a fit went.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FitReport {
    pub customers: usize,
    /// Customers the model could not use (Gamma-Gamma: repeat purchases worth nothing).
    #[serde(default)]
    pub left_out: usize,
    pub mean_log_likelihood: f64,
    pub iterations: usize,
}

pub(super) fn group(customers: &[RepeatSummary], scale: f64) -> (Vec<Group>, Vec<FrequencyGroup>) {
    let mut by_history: HashMap<[u64; 3], f64> = HashMap::new();
    let mut by_frequency: HashMap<u64, f64> = HashMap::new();
    for c in customers {
        let key = [c.frequency, c.recency * scale, c.age * scale].map(f64::to_bits);
        *by_history.entry(key).or_default() += 1.0;
        *by_frequency.entry(c.frequency.to_bits()).or_default() += 1.0;
    }
    let mut groups: Vec<Group> = by_history
        .into_iter()
        .map(|(key, weight)| Group {
            x: f64::from_bits(key[0]),
            recency: f64::from_bits(key[1]),
            age: f64::from_bits(key[2]),
            weight,
        })
        .collect();
    // A fixed order keeps the sums, and so the fit, identical from run to run.
    groups.sort_by(|p, q| {
        (p.x, p.recency, p.age)
            .partial_cmp(&(q.x, q.recency, q.age))
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    let mut frequencies: Vec<FrequencyGroup> = by_frequency
        .into_iter()
        .map(|(x, weight)| FrequencyGroup {
            x: f64::from_bits(x),
            weight,
        })
        .collect();
    frequencies.sort_by(|p, q| p.x.total_cmp(&q.x));
    (groups, frequencies)
}

/// −(mean log-likelihood) at log parameters, and its gradient with respect to them.
fn negative_log_likelihood(
    log_params: &[f64],
    groups: &[Group],
    frequencies: &[FrequencyGroup],
    total: f64,
    gradient: &mut [f64],
    dropout: Dropout,
) -> f64 {
    let [r, alpha, a, b] = [0, 1, 2, 3].map(|i| log_params[i].exp());
    let k = dropout.shift();
    let mut ll = 0.0;
    // d ll / d (r, α, a, b)
    let mut g = [0.0; 4];
    // Terms in x only: ln Γ(r+x) − ln Γ(r) + r ln α + ln B(a, b+x+k) − ln B(a, b).
    let (ln_alpha, ln_gamma_r, psi_r) = (alpha.ln(), ln_gamma(r), digamma(r));
    let (ln_gamma_ab, ln_gamma_b, psi_ab, psi_b) =
        (ln_gamma(a + b), ln_gamma(b), digamma(a + b), digamma(b));
    for f in frequencies {
        let (x, w) = (f.x + k, f.weight);
        let r_x = f.x;
        ll += w
            * (ln_gamma(r + r_x) - ln_gamma_r + r * ln_alpha + ln_gamma_ab + ln_gamma(b + x)
                - ln_gamma_b
                - ln_gamma(a + b + x));
        let psi_abx = digamma(a + b + x);
        g[0] += w * (digamma(r + r_x) - psi_r + ln_alpha);
        g[1] += w * r / alpha;
        g[2] += w * (psi_ab - psi_abx);
        g[3] += w * (psi_ab + digamma(b + x) - psi_b - psi_abx);
    }
    // Terms in the history: ln(e^A3 + [can drop] e^A4).
    let ln_a = a.ln();
    for c in groups {
        let (x, w) = (c.x, c.weight);
        let ln_age = (alpha + c.age).ln();
        let a3 = -(r + x) * ln_age;
        if !dropout.can_drop(x) {
            ll += w * a3;
            g[0] -= w * ln_age;
            g[1] -= w * r / (alpha + c.age);
            continue;
        }
        let ln_recency = (alpha + c.recency).ln();
        let a4 = ln_a - (b + x - 1.0 + k).ln() - (r + x) * ln_recency;
        let top = a3.max(a4);
        let (e3, e4) = ((a3 - top).exp(), (a4 - top).exp());
        let sum = e3 + e4;
        let (s3, s4) = (e3 / sum, e4 / sum);
        ll += w * (top + sum.ln());
        g[0] -= w * (s3 * ln_age + s4 * ln_recency);
        g[1] -= w * (r + x) * (s3 / (alpha + c.age) + s4 / (alpha + c.recency));
        g[2] += w * s4 / a;
        g[3] -= w * s4 / (b + x - 1.0 + k);
    }
    for (i, p) in [r, alpha, a, b].iter().enumerate() {
        gradient[i] = -g[i] * p / total;
    }
    -ll / total
}

#[cfg(test)]
mod tests {
    use super::super::optim::numeric_gradient;
    use super::*;

    fn customers() -> Vec<RepeatSummary> {
        let raw = [
            (0.0, 0.0, 30.0),
            (2.0, 20.0, 38.0),
            (5.0, 36.0, 37.0),
            (1.0, 2.0, 39.0),
        ];
        raw.iter()
            .map(|&(frequency, recency, age)| RepeatSummary {
                frequency,
                recency,
                age,
                monetary: 0.0,
            })
            .collect()
    }

    #[test]
    fn the_gradient_is_the_slope_of_the_likelihood() {
        let (groups, frequencies) = group(&customers(), 0.25);
        let at = [-0.4, 1.2, -0.3, 0.8];
        for dropout in [Dropout::AfterRepeat, Dropout::AtEveryPurchase] {
            let mut analytic = [0.0; 4];
            negative_log_likelihood(&at, &groups, &frequencies, 4.0, &mut analytic, dropout);
            let numeric = numeric_gradient(
                |p| negative_log_likelihood(p, &groups, &frequencies, 4.0, &mut [0.0; 4], dropout),
                &at,
            );
            for (a, n) in analytic.iter().zip(&numeric) {
                assert!(
                    (a - n).abs() < 1e-7,
                    "{dropout:?}: {analytic:?} vs {numeric:?}"
                );
            }
        }
    }

    #[test]
    fn a_fit_where_nobody_drops_out_ends_on_the_boundary() {
        // Everyone bought on their last day: the likelihood keeps rising as a → 0.
        let customers: Vec<RepeatSummary> = (0..200)
            .map(|i| {
                let x = f64::from(i % 9);
                let age = 60.0 + f64::from(i % 50);
                RepeatSummary {
                    frequency: x,
                    recency: if x > 0.0 { age } else { 0.0 },
                    age,
                    monetary: 0.0,
                }
            })
            .collect();
        let (model, _) = BgNbd::fit(&customers).unwrap();
        assert!(model.a / (model.a + model.b) < 1e-4, "{model:?}");
        assert!(model.p_alive(&customers[5]) > 0.999);
    }

    #[test]
    fn predictions_match_lifetimes_on_known_parameters() {
        // lifetimes 0.11.3 BetaGeoFitter with params_ = (0.243, 4.414, 0.793, 2.426).
        let model = BgNbd {
            r: 0.243,
            alpha: 4.414,
            a: 0.793,
            b: 2.426,
        };
        let c = RepeatSummary {
            frequency: 2.0,
            recency: 30.43,
            age: 38.86,
            monetary: 22.35,
        };
        assert!(
            (model.p_alive(&c) - P_ALIVE).abs() < 1e-9,
            "{}",
            model.p_alive(&c)
        );
        let e = model.expected_purchases(39.0, &c).unwrap();
        assert!((e - EXPECTED_39).abs() < 1e-9, "{e}");
        let new = RepeatSummary {
            frequency: 0.0,
            recency: 0.0,
            age: 38.86,
            monetary: 0.0,
        };
        assert_eq!(model.p_alive(&new), 1.0);
        let e0 = model.expected_purchases(39.0, &new).unwrap();
        assert!((e0 - EXPECTED_39_NEW).abs() < 1e-9, "{e0}");
    }

    const P_ALIVE: f64 = 0.726_578_570_080_673;
    const EXPECTED_39: f64 = 1.226_028_174_767_135;
    const EXPECTED_39_NEW: f64 = 0.195_098_052_011_253_96;
}
