//! Gamma-Gamma spend model (Fader & Hardie 2005): a customer's purchase values are
//! Gamma(p, ν) around their own mean, with ν ~ Gamma(q, γ) across customers. Fitted on
//! customers with at least one repeat purchase, on log parameters, with the likelihood
//! `lifetimes`' `GammaGammaFitter` uses (no penalty).

use super::optim::minimize;
use super::special::{digamma, ln_gamma};
use super::summary::RepeatSummary;
use super::LifetimeError;
use serde::{Deserialize, Serialize};

/// Fitted Gamma-Gamma parameters (p, q, v = γ), in the currency of the data.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GammaGamma {
    pub p: f64,
    pub q: f64,
    pub v: f64,
}

/// One repeat customer's terms that do not depend on the parameters.
struct Spender {
    x: f64,
    m: f64,
    ln_m: f64,
    ln_x: f64,
}

const START: [f64; 3] = [0.1; 3];

impl GammaGamma {
    /// Maximum-likelihood fit on the customers with a repeat purchase (a first purchase
    /// says nothing about the spread of one customer's values) of positive mean value;
    /// repeat customers whose purchases were all free are left out and counted.
    pub fn fit(
        customers: &[RepeatSummary],
    ) -> Result<(GammaGamma, super::bgnbd::FitReport), LifetimeError> {
        let spenders: Vec<Spender> = customers
            .iter()
            .filter(|c| c.frequency > 0.0 && c.monetary > 0.0)
            .map(|c| Spender {
                x: c.frequency,
                m: c.monetary,
                ln_m: c.monetary.ln(),
                ln_x: c.frequency.ln(),
            })
            .collect();
        if spenders.len() < 2 {
            return Err(LifetimeError::TooFewCustomers {
                model: "Gamma-Gamma",
                needed: "two customers with a repeat purchase",
            });
        }
        let objective = |log_params: &[f64], gradient: &mut [f64]| {
            negative_log_likelihood(log_params, &spenders, gradient)
        };
        let best = minimize(objective, &START).ok_or(LifetimeError::NoFit {
            model: "Gamma-Gamma",
        })?;
        if !best.converged {
            return Err(LifetimeError::NoFit {
                model: "Gamma-Gamma",
            });
        }
        let [p, q, v] = [0, 1, 2].map(|i| best.x[i].exp());
        let report = super::bgnbd::FitReport {
            customers: spenders.len(),
            left_out: customers.iter().filter(|c| c.frequency > 0.0).count() - spenders.len(),
            mean_log_likelihood: -best.value,
            iterations: best.iterations,
        };
        Ok((GammaGamma { p, q, v }, report))
    }

    /// Expected value of this customer's future orders
    /// (`conditional_expected_average_profit`): a weighted mean of the population mean
    /// v p / (q − 1) and the customer's own mean; only the population mean without repeats.
    /// `None` when q ≤ 1 (the population mean does not exist).
    pub fn expected_order_value(&self, c: &RepeatSummary) -> Option<f64> {
        let GammaGamma { p, q, v } = *self;
        if q <= 1.0 {
            return None;
        }
        let own_weight = p * c.frequency / (p * c.frequency + q - 1.0);
        let population = v * p / (q - 1.0);
        Some((1.0 - own_weight) * population + own_weight * c.monetary)
    }
}

/// −(mean log-likelihood) at log parameters, and its gradient with respect to them.
fn negative_log_likelihood(log_params: &[f64], spenders: &[Spender], gradient: &mut [f64]) -> f64 {
    let [p, q, v] = [0, 1, 2].map(|i| log_params[i].exp());
    let (ln_gamma_q, psi_q, ln_v) = (ln_gamma(q), digamma(q), v.ln());
    let mut ll = 0.0;
    let mut g = [0.0; 3];
    for s in spenders {
        let px = p * s.x;
        let ln_total = (s.x * s.m + v).ln();
        ll += ln_gamma(px + q) - ln_gamma(px) - ln_gamma_q
            + q * ln_v
            + (px - 1.0) * s.ln_m
            + px * s.ln_x
            - (px + q) * ln_total;
        let psi_pxq = digamma(px + q);
        g[0] += s.x * (psi_pxq - digamma(px) + s.ln_m + s.ln_x - ln_total);
        g[1] += psi_pxq - psi_q + ln_v - ln_total;
        g[2] += q / v - (px + q) / (s.x * s.m + v);
    }
    let n = spenders.len() as f64;
    for (i, param) in [p, q, v].iter().enumerate() {
        gradient[i] = -g[i] * param / n;
    }
    -ll / n
}

#[cfg(test)]
mod tests {
    use super::super::optim::numeric_gradient;
    use super::*;

    #[test]
    fn the_gradient_is_the_slope_of_the_likelihood() {
        let spenders: Vec<Spender> = [(1.0, 12.5), (3.0, 40.0), (7.0, 22.1)]
            .iter()
            .map(|&(x, m): &(f64, f64)| Spender {
                x,
                m,
                ln_m: m.ln(),
                ln_x: x.ln(),
            })
            .collect();
        let at = [1.5, 1.1, 2.4];
        let mut analytic = [0.0; 3];
        negative_log_likelihood(&at, &spenders, &mut analytic);
        let numeric = numeric_gradient(
            |p| negative_log_likelihood(p, &spenders, &mut [0.0; 3]),
            &at,
        );
        for (a, n) in analytic.iter().zip(&numeric) {
            assert!((a - n).abs() < 1e-7, "{analytic:?} vs {numeric:?}");
        }
    }

    #[test]
    fn expected_order_value_matches_lifetimes() {
        // lifetimes 0.11.3 GammaGammaFitter with params_ = (6.25, 3.74, 15.45).
        let model = GammaGamma {
            p: 6.25,
            q: 3.74,
            v: 15.45,
        };
        let c = RepeatSummary {
            frequency: 2.0,
            recency: 30.43,
            age: 38.86,
            monetary: 22.35,
        };
        let value = model.expected_order_value(&c).unwrap();
        assert!((value - 24.667_814_960_629_922).abs() < 1e-9, "{value}");
        assert_eq!(
            GammaGamma { q: 0.9, ..model }.expected_order_value(&c),
            None
        );
    }
}
