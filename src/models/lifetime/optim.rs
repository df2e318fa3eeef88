//! A small BFGS minimiser for the lifetime models' likelihoods: a handful of (log)
//! parameters, analytic gradients, smooth objectives. Backtracking (Armijo) line search;
//! the inverse-Hessian estimate is reset whenever a step fails to curve upwards.

/// Where a minimisation ended.
#[derive(Debug, Clone, PartialEq)]
pub struct Minimum {
    pub x: Vec<f64>,
    pub value: f64,
    pub iterations: usize,
    /// The gradient fell below the tolerance (not just: no further progress possible).
    pub converged: bool,
}

/// Stop when every gradient component is below this (objectives are means per customer).
const GRADIENT_TOLERANCE: f64 = 1e-9;
/// Or when the gradient is below this and the objective has stopped moving (relative
/// change under `STALL` over `STALL_ITERATIONS`): a maximum on the boundary, e.g. a
/// parameter running to 0, flattens out without the gradient vanishing quickly.
const LOOSE_GRADIENT_TOLERANCE: f64 = 1e-6;
const STALL: f64 = 1e-12;
const STALL_ITERATIONS: usize = 10;
const MAX_ITERATIONS: usize = 500;
const ARMIJO: f64 = 1e-4;
/// Largest step in any coordinate of a log-parameter: e^5 ≈ 150× per step.
const MAX_STEP: f64 = 5.0;

/// Minimise `objective`, which returns the value at `x` and writes the gradient into its
/// third argument; non-finite values count as +∞ (the line search steps back from them).
pub fn minimize(
    mut objective: impl FnMut(&[f64], &mut [f64]) -> f64,
    start: &[f64],
) -> Option<Minimum> {
    let n = start.len();
    let mut x = start.to_vec();
    let mut gradient = vec![0.0; n];
    let mut value = objective(&x, &mut gradient);
    if !value.is_finite() || gradient.iter().any(|g| !g.is_finite()) {
        return None;
    }
    let mut inverse_hessian = identity(n);
    let mut trial = vec![0.0; n];
    let mut trial_gradient = vec![0.0; n];
    let mut history = Vec::with_capacity(MAX_ITERATIONS);
    for iteration in 0..MAX_ITERATIONS {
        history.push(value);
        let stalled = iteration >= STALL_ITERATIONS
            && history[iteration - STALL_ITERATIONS] - value <= STALL * value.abs().max(1.0)
            && max_abs(&gradient) < LOOSE_GRADIENT_TOLERANCE;
        if max_abs(&gradient) < GRADIENT_TOLERANCE || stalled {
            return Some(Minimum {
                x,
                value,
                iterations: iteration,
                converged: true,
            });
        }
        let mut direction: Vec<f64> = (0..n)
            .map(|i| -dot(&inverse_hessian[i], &gradient))
            .collect();
        let mut slope = dot(&direction, &gradient);
        if slope >= 0.0 {
            // Not a descent direction: fall back to steepest descent.
            inverse_hessian = identity(n);
            direction = gradient.iter().map(|g| -g).collect();
            slope = dot(&direction, &gradient);
        }
        let longest = max_abs(&direction);
        let mut step = if longest > MAX_STEP {
            MAX_STEP / longest
        } else {
            1.0
        };
        let mut accepted = None;
        for _ in 0..60 {
            for i in 0..n {
                trial[i] = x[i] + step * direction[i];
            }
            let v = objective(&trial, &mut trial_gradient);
            if v.is_finite()
                && trial_gradient.iter().all(|g| g.is_finite())
                && v <= value + ARMIJO * step * slope
            {
                accepted = Some(v);
                break;
            }
            step *= 0.5;
        }
        let Some(new_value) = accepted else {
            // No step lowers the objective: as close as floating point gets.
            return Some(Minimum {
                x,
                value,
                iterations: iteration,
                converged: max_abs(&gradient) < LOOSE_GRADIENT_TOLERANCE,
            });
        };
        let s: Vec<f64> = (0..n).map(|i| trial[i] - x[i]).collect();
        let y: Vec<f64> = (0..n).map(|i| trial_gradient[i] - gradient[i]).collect();
        update_inverse_hessian(&mut inverse_hessian, &s, &y);
        x.copy_from_slice(&trial);
        gradient.copy_from_slice(&trial_gradient);
        value = new_value;
    }
    Some(Minimum {
        converged: max_abs(&gradient) < LOOSE_GRADIENT_TOLERANCE,
        x,
        value,
        iterations: MAX_ITERATIONS,
    })
}

/// The BFGS update of the inverse Hessian H with step s and gradient change y; skipped
/// (H reset) when sᵀy ≤ 0, which would make H indefinite.
fn update_inverse_hessian(h: &mut [Vec<f64>], s: &[f64], y: &[f64]) {
    let n = s.len();
    let sy = dot(s, y);
    if sy <= 1e-300 {
        h.iter_mut()
            .zip(identity(n))
            .for_each(|(row, fresh)| *row = fresh);
        return;
    }
    let rho = 1.0 / sy;
    let hy: Vec<f64> = (0..n).map(|i| dot(&h[i], y)).collect();
    let yhy = dot(y, &hy);
    // H' = H − ρ (H y sᵀ + s yᵀ H) + (ρ² yᵀH y + ρ) s sᵀ   (H symmetric)
    for i in 0..n {
        for j in 0..n {
            h[i][j] += -rho * (hy[i] * s[j] + s[i] * hy[j]) + (rho * rho * yhy + rho) * s[i] * s[j];
        }
    }
}

fn identity(n: usize) -> Vec<Vec<f64>> {
    (0..n)
        .map(|i| (0..n).map(|j| f64::from(u8::from(i == j))).collect())
        .collect()
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn max_abs(v: &[f64]) -> f64 {
    v.iter().fold(0.0, |m, x| m.max(x.abs()))
}

/// Central differences of `f` at `x` into `gradient`, each step `relative_step` times
/// the coordinate's size (at least 1).
pub fn central_difference(
    mut f: impl FnMut(&[f64]) -> f64,
    x: &[f64],
    relative_step: f64,
    gradient: &mut [f64],
) {
    let mut at = x.to_vec();
    for (i, slope) in gradient.iter_mut().enumerate().take(x.len()) {
        let h = relative_step * x[i].abs().max(1.0);
        at[i] = x[i] + h;
        let up = f(&at);
        at[i] = x[i] - h;
        let down = f(&at);
        at[i] = x[i];
        *slope = (up - down) / (2.0 * h);
    }
}

/// Central-difference gradient, for checking analytic gradients in tests.
#[cfg(test)]
pub fn numeric_gradient(f: impl FnMut(&[f64]) -> f64, x: &[f64]) -> Vec<f64> {
    let mut gradient = vec![0.0; x.len()];
    central_difference(f, x, 1e-6, &mut gradient);
    gradient
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rosenbrock(x: &[f64], g: &mut [f64]) -> f64 {
        let (a, b) = (x[0], x[1]);
        g[0] = -2.0 * (1.0 - a) - 400.0 * a * (b - a * a);
        g[1] = 200.0 * (b - a * a);
        (1.0 - a).powi(2) + 100.0 * (b - a * a).powi(2)
    }

    #[test]
    fn finds_the_rosenbrock_minimum() {
        let m = minimize(rosenbrock, &[-1.2, 1.0]).unwrap();
        assert!(m.converged, "{m:?}");
        assert!(
            (m.x[0] - 1.0).abs() < 1e-6 && (m.x[1] - 1.0).abs() < 1e-6,
            "{m:?}"
        );
    }

    #[test]
    fn steps_back_from_where_the_objective_is_undefined() {
        // ln is undefined below 0: the minimum of x − ln x is at 1.
        let f = |x: &[f64], g: &mut [f64]| {
            g[0] = 1.0 - 1.0 / x[0];
            x[0] - x[0].ln()
        };
        let m = minimize(f, &[8.0]).unwrap();
        assert!((m.x[0] - 1.0).abs() < 1e-8, "{m:?}");
    }

    #[test]
    fn refuses_a_start_where_the_objective_is_undefined() {
        let f = |x: &[f64], g: &mut [f64]| {
            g[0] = 1.0;
            x[0].ln()
        };
        assert_eq!(minimize(f, &[-1.0]), None);
    }
}
