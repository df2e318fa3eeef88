//! L2-regularised logistic regression, fitted by linfa-logistic (L-BFGS) on the
//! standardized, one-hot features.

use linfa::prelude::*;
use linfa_logistic::LogisticRegression;
use ndarray::{Array1, ArrayView2};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogisticParams {
    /// L2 penalty (on the summed, not averaged, log-likelihood).
    pub alpha: f64,
    pub max_iterations: u64,
}

impl Default for LogisticParams {
    fn default() -> Self {
        LogisticParams {
            alpha: 1.0,
            max_iterations: 200,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogisticModel {
    pub intercept: f64,
    pub weights: Vec<f64>,
    /// Training mean of each feature: a reason is weight × (value − mean).
    pub means: Vec<f64>,
}

impl LogisticModel {
    pub fn log_odds(&self, x: &[f64]) -> f64 {
        self.intercept + self.weights.iter().zip(x).map(|(w, x)| w * x).sum::<f64>()
    }

    /// `out[j] += w_j (x_j − mean_j)`; returns the log-odds of an average customer,
    /// so bias + sum = log-odds exactly.
    pub fn contributions(&self, x: &[f64], out: &mut [f64]) -> f64 {
        let mut bias = self.intercept;
        for (j, ((w, m), x)) in self.weights.iter().zip(&self.means).zip(x).enumerate() {
            out[j] += w * (x - m);
            bias += w * m;
        }
        bias
    }
}

pub fn fit_logistic(
    x: ArrayView2<f64>,
    y: &[bool],
    params: &LogisticParams,
) -> Result<LogisticModel, linfa_logistic::error::Error> {
    let targets = Array1::from(y.to_vec());
    let dataset = DatasetBase::new(x.to_owned(), targets);
    let fitted = LogisticRegression::default()
        .alpha(params.alpha)
        .max_iterations(params.max_iterations)
        .fit(&dataset)?;
    // linfa's positive class is the more frequent label: flip to "churned" when needed.
    let sign = if fitted.labels().pos.class { 1.0 } else { -1.0 };
    let means = x
        .mean_axis(ndarray::Axis(0))
        .map(|m| m.to_vec())
        .unwrap_or_default();
    Ok(LogisticModel {
        intercept: sign * fitted.intercept(),
        weights: fitted.params().iter().map(|w| sign * w).collect(),
        means,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    #[test]
    fn reasons_add_up_to_the_prediction() {
        let x = Array2::from_shape_fn((200, 3), |(r, c)| ((r * (c + 3)) % 11) as f64 - 5.0);
        let y: Vec<bool> = (0..200)
            .map(|r| x[(r, 0)] + 0.5 * x[(r, 1)] > 0.0)
            .collect();
        let model = fit_logistic(x.view(), &y, &LogisticParams::default()).unwrap();
        assert!(model.weights[0] > 0.0);
        for r in 0..10 {
            let row = x.row(r).to_vec();
            let mut out = vec![0.0; 3];
            let bias = model.contributions(&row, &mut out);
            let total = bias + out.iter().sum::<f64>();
            assert!((total - model.log_odds(&row)).abs() < 1e-9);
        }
    }
}
