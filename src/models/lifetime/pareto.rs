//! Pareto/NBD (Schmittlein, Morrison & Colombo 1987): while alive a customer buys at a
//! Poisson rate λ ~ Gamma(r, α) and lives an exponential time with rate μ ~ Gamma(s, β),
//! so drop-out can happen at any moment, not only after a purchase. The likelihood is
//! equation (18) of Fader & Hardie's "A Note on Deriving the Pareto/NBD Model" (2005), as
//! `lifetimes`' `ParetoNBDFitter` computes it; maximised here by BFGS on log parameters
//! with a central-difference gradient (the 2F1 term has no cheap derivative).

use super::bgnbd::{group, FitReport, Group};
use super::optim::{central_difference, minimize};
use super::special::{ln_gamma, ln_hyp2f1_next};
use super::summary::RepeatSummary;
use super::LifetimeError;
use serde::{Deserialize, Serialize};

/// Fitted Pareto/NBD parameters; α and β are in the time unit of the data.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ParetoNbd {
    pub r: f64,
    pub alpha: f64,
    pub s: f64,
    pub beta: f64,
}

/// Where lifetimes starts (parameters of about 1, on time scaled so the longest T is 10).
const START: [f64; 4] = [0.0; 4];
const MODEL: &str = "Pareto/NBD";

impl ParetoNbd {
    pub fn fit(customers: &[RepeatSummary]) -> Result<(ParetoNbd, FitReport), LifetimeError> {
        let max_age = customers.iter().fold(0.0f64, |m, c| m.max(c.age));
        if customers.is_empty() || max_age <= 0.0 {
            return Err(LifetimeError::TooFewCustomers {
                model: MODEL,
                needed: "customers with T > 0",
            });
        }
        if customers.iter().all(|c| c.frequency == 0.0) {
            return Err(LifetimeError::TooFewCustomers {
                model: MODEL,
                needed: "a customer with a repeat purchase",
            });
        }
        let scale = 10.0 / max_age;
        let (groups, _) = group(customers, scale);
        let total: f64 = groups.iter().map(|g| g.weight).sum();
        let value = |log_params: &[f64]| {
            let [r, alpha, s, beta] = [0, 1, 2, 3].map(|i| log_params[i].exp());
            let m = ParetoNbd { r, alpha, s, beta };
            // Stop at the first group that fails: far from the maximum (where line
            // searches probe) 2F1's argument nears 1 and each series is long.
            let ll = groups.iter().try_fold(0.0, |sum, g| {
                let term = g.weight * m.log_likelihood(g);
                term.is_finite().then_some(sum + term)
            });
            ll.map_or(f64::INFINITY, |ll| -ll / total)
        };
        let objective = |x: &[f64], gradient: &mut [f64]| {
            // Steps of ε^(1/3) relative: the size that balances rounding and truncation.
            central_difference(&value, x, 6e-6, gradient);
            value(x)
        };
        let best = minimize(objective, &START).ok_or(LifetimeError::NoFit { model: MODEL })?;
        if !best.converged {
            return Err(LifetimeError::NoFit { model: MODEL });
        }
        let [r, alpha, s, beta] = [0, 1, 2, 3].map(|i| best.x[i].exp());
        let fitted = ParetoNbd {
            r,
            alpha: alpha / scale,
            s,
            beta: beta / scale,
        };
        let report = FitReport {
            customers: customers.len(),
            left_out: 0,
            mean_log_likelihood: -best.value,
            iterations: best.iterations,
        };
        Ok((fitted, report))
    }

    /// P(alive | x, t_x, T), equation (36) of the note.
    pub fn p_alive(&self, c: &RepeatSummary) -> f64 {
        let ParetoNbd { r, alpha, s, beta } = *self;
        let x = c.frequency;
        let Some(ln_a0) = self.ln_a0(x, c.recency, c.age) else {
            return f64::NAN;
        };
        let log_odds_dead = s.ln() - (r + s + x).ln()
            + (r + x) * (alpha + c.age).ln()
            + s * (beta + c.age).ln()
            + ln_a0;
        1.0 / (1.0 + log_odds_dead.exp())
    }

    /// Expected purchases in the next `t` time units given the history, equation (41).
    pub fn expected_purchases(&self, t: f64, c: &RepeatSummary) -> Option<f64> {
        if t <= 0.0 {
            return Some(0.0);
        }
        let ParetoNbd { r, alpha, s, beta } = *self;
        let (x, age) = (c.frequency, c.age);
        let ll = self.log_likelihood(&Group {
            x,
            recency: c.recency,
            age,
            weight: 1.0,
        });
        let alive_part = ln_gamma(r + x) - ln_gamma(r) + r * alpha.ln() + s * beta.ln()
            - (r + x) * (alpha + age).ln()
            - s * (beta + age).ln();
        let rate = (r + x).ln() + (beta + age).ln() - (alpha + age).ln();
        // (1 − u^(s−1)) / (s − 1), u = (β+T)/(β+T+t); its limit −ln u at s = 1.
        let ln_u = ((beta + age) / (beta + age + t)).ln();
        let life = match (s - 1.0).abs() < 1e-12 {
            true => -ln_u,
            false => -((s - 1.0) * ln_u).exp_m1() / (s - 1.0),
        };
        let expected = (alive_part + rate + life.ln() - ll).exp();
        expected.is_finite().then_some(expected)
    }

    /// Mean log-likelihood per customer of these parameters.
    pub fn mean_log_likelihood(&self, customers: &[RepeatSummary]) -> f64 {
        let (groups, _) = group(customers, 1.0);
        let total: f64 = groups.iter().map(|g| g.weight).sum();
        groups
            .iter()
            .map(|g| g.weight * self.log_likelihood(g))
            .sum::<f64>()
            / total
    }

    /// ln L(r, α, s, β | x, t_x, T), equation (18); NaN where 2F1 fails.
    fn log_likelihood(&self, g: &Group) -> f64 {
        let ParetoNbd { r, alpha, s, beta } = *self;
        let (x, age) = (g.x, g.age);
        let a1 = ln_gamma(r + x) - ln_gamma(r) + r * alpha.ln() + s * beta.ln();
        let alive = -(r + x) * (alpha + age).ln() - s * (beta + age).ln();
        let Some(ln_a0) = self.ln_a0(x, g.recency, age) else {
            return f64::NAN;
        };
        let died = s.ln() + ln_a0 - (r + s + x).ln();
        a1 + log_add_exp(alive, died)
    }

    /// ln A0, equations (19) and (20): the hypergeometric term over when the customer
    /// died, between t_x and T. −∞ when t_x = T.
    fn ln_a0(&self, x: f64, recency: f64, age: f64) -> Option<f64> {
        let ParetoNbd { r, alpha, s, beta } = *self;
        let (low, high, second) = match alpha < beta {
            true => (alpha, beta, r + x),
            false => (beta, alpha, s + 1.0),
        };
        let rsx = r + s + x;
        let at = |t: f64| {
            let ln_hyp = ln_hyp2f1_next(rsx, second, (high - low) / (high + t))?;
            Some(ln_hyp - rsx * (high + t).ln())
        };
        let (early, late) = (at(recency)?, at(age)?);
        Some(early + (-(late - early).exp()).ln_1p())
    }
}

fn log_add_exp(p: f64, q: f64) -> f64 {
    let top = p.max(q);
    if top == f64::NEG_INFINITY {
        return top;
    }
    top + ((p - top).exp() + (q - top).exp()).ln()
}

#[cfg(test)]
mod tests {
    use super::super::oracle::{assert_known_answers, PARETO_CDNOW};
    use super::*;

    #[test]
    fn predictions_match_lifetimes_on_known_parameters() {
        let [r, alpha, s, beta] = PARETO_CDNOW;
        let model = ParetoNbd { r, alpha, s, beta };
        assert_known_answers(
            |c| (model.p_alive(c), model.expected_purchases(39.0, c).unwrap()),
            &KNOWN,
        );
    }

    #[test]
    fn nobody_is_surely_alive_without_a_purchase_since_the_first() {
        let [r, alpha, s, beta] = PARETO_CDNOW;
        let model = ParetoNbd { r, alpha, s, beta };
        let quiet = |age| RepeatSummary {
            frequency: 0.0,
            recency: 0.0,
            age,
            monetary: 0.0,
        };
        assert!(model.p_alive(&quiet(5.0)) > model.p_alive(&quiet(50.0)));
        let just_bought = RepeatSummary {
            frequency: 3.0,
            recency: 20.0,
            age: 20.0,
            monetary: 0.0,
        };
        assert_eq!(model.p_alive(&just_bought), 1.0);
    }

    /// (x, t_x, P(alive), E[X(39)]) at T = 38.86 from lifetimes 0.11.3's ParetoNBDFitter
    /// with params_ = PARETO_CDNOW.
    const KNOWN: [(f64, f64, f64, f64); 3] = [
        (2.0, 30.43, 0.869_118_714_799_455_3, 1.455_112_942_874_677_2),
        (0.0, 0.0, 0.295_097_149_306_816_4, 0.107_059_791_101_857_23),
        (25.0, 35.0, 0.856_782_172_835_599_5, 14.356_114_690_448_209),
    ];
}
