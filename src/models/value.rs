//! Customer lifetime value and the value quadrant. CLV = annual margin ×
//! (1 − (1 + r)^−n) / r, where n is the expected remaining years implied by the churn
//! probability (capped at a horizon); customer equity is the sum over customers. The
//! quadrant crosses current value with CLV, each split at its training median.

use crate::models::contribution::Contribution;
use serde::{Deserialize, Serialize};

/// What CLV and the quadrant are computed on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ClvBasis {
    /// The margin column as it is; current value is the value column (else the annual
    /// margin).
    #[default]
    Margin,
    /// The margin less the customer's running cost to serve; current value is their
    /// contribution (bundles whose cost model ranks by contribution).
    Contribution,
}

impl ClvBasis {
    pub fn name(self) -> &'static str {
        match self {
            ClvBasis::Margin => "margin",
            ClvBasis::Contribution => "contribution",
        }
    }
}

/// How a margin column and a churn probability become a lifetime value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClvSettings {
    /// Column holding each customer's margin per period (e.g. monthly_charges).
    pub margin: String,
    /// Share of the column that is profit (1.0 when the column already is margin).
    pub margin_rate: f64,
    /// Periods per year of the margin column (12 for a monthly amount).
    pub periods_per_year: f64,
    pub discount_rate: f64,
    pub horizon_years: f64,
    /// The time window the churn label covers, in years (the probability is turned into
    /// an annual churn rate with it).
    pub label_period_years: f64,
}

impl ClvSettings {
    pub fn annual_margin(&self, margin: f64) -> f64 {
        margin * self.margin_rate * self.periods_per_year
    }

    /// Expected remaining years: 1 / annual churn rate, at most the horizon.
    pub fn expected_years(&self, churn_probability: f64) -> f64 {
        let p = churn_probability.clamp(0.0, 1.0);
        let annual = 1.0 - (1.0 - p).powf(1.0 / self.label_period_years);
        if annual <= 1.0 / self.horizon_years {
            self.horizon_years
        } else {
            1.0 / annual
        }
    }

    pub fn clv(&self, margin: f64, churn_probability: f64) -> f64 {
        let m = self.annual_margin(margin);
        let n = self.expected_years(churn_probability);
        let r = self.discount_rate;
        if r.abs() < 1e-12 {
            m * n
        } else {
            m * (1.0 - (1.0 + r).powf(-n)) / r
        }
    }
}

/// The fitted value part of the retention model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ValueModel {
    pub settings: ClvSettings,
    /// Margin (bundles before contribution-based CLV) or contribution.
    #[serde(default)]
    pub basis: ClvBasis,
    /// Column read as current value (the bundle's value column, else the annual margin).
    pub current_value: Option<String>,
    pub current_threshold: f64,
    pub clv_threshold: f64,
    /// Sum of CLV over the training customers.
    pub equity: f64,
    pub customers: usize,
    pub quadrants: Vec<QuadrantShare>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuadrantShare {
    pub name: String,
    pub customers: usize,
    pub clv_total: f64,
}

pub const QUADRANTS: [&str; 4] = ["protect", "invest", "maintain", "let go"];

/// high current & high CLV → protect; low current & high CLV → invest (grow them);
/// high current & low CLV → maintain (serve at low cost while they stay); else let go.
pub fn quadrant(current_high: bool, clv_high: bool) -> &'static str {
    match (current_high, clv_high) {
        (true, true) => QUADRANTS[0],
        (false, true) => QUADRANTS[1],
        (true, false) => QUADRANTS[2],
        (false, false) => QUADRANTS[3],
    }
}

impl ValueModel {
    /// The margin per period CLV discounts and the current value the quadrant reads, from
    /// the record's margin, its value column and its contribution.
    pub fn figures(
        &self,
        margin: Option<f64>,
        value_column: Option<f64>,
        contribution: Option<&Contribution>,
    ) -> (Option<f64>, Option<f64>) {
        match self.basis {
            ClvBasis::Margin => {
                let current = match &self.current_value {
                    Some(_) => value_column,
                    None => margin.map(|m| self.settings.annual_margin(m)),
                };
                (margin, current)
            }
            ClvBasis::Contribution => {
                let contribution = contribution.filter(|c| c.revenue > 0.0);
                let margin = margin
                    .zip(contribution)
                    .map(|(m, c)| m * (1.0 - c.running_cost_share()));
                (margin, contribution.map(|c| c.value()))
            }
        }
    }

    /// CLV and quadrant of one customer from [`figures`](Self::figures)' answer.
    pub fn clv_and_quadrant(
        &self,
        churn_probability: f64,
        (margin, current): (Option<f64>, Option<f64>),
    ) -> (Option<f64>, Option<&'static str>) {
        let clv = margin.map(|m| self.settings.clv(m, churn_probability));
        let quadrant = clv
            .zip(current)
            .map(|(clv, cur)| self.quadrant_of(cur, clv));
        (clv, quadrant)
    }

    /// Fit thresholds and equity from each training customer's (current value, CLV);
    /// a customer without a current value counts in equity but in no quadrant.
    pub fn fit(
        settings: ClvSettings,
        basis: ClvBasis,
        current_value: Option<String>,
        customers: &[(Option<f64>, f64)],
    ) -> Self {
        let equity = customers.iter().map(|r| r.1).sum();
        let rows: Vec<(f64, f64)> = customers
            .iter()
            .filter_map(|&(current, clv)| current.map(|c| (c, clv)))
            .collect();
        // Without a single current value there is nothing to split: thresholds of 0 keep
        // the model finite (a NaN median would be written as null and not load).
        let median_or_zero = |values: Vec<f64>| match values.is_empty() {
            true => 0.0,
            false => crate::models::stats::median(values),
        };
        let current_threshold = median_or_zero(rows.iter().map(|r| r.0).collect());
        let clv_threshold = median_or_zero(rows.iter().map(|r| r.1).collect());
        let mut quadrants: Vec<QuadrantShare> = QUADRANTS
            .iter()
            .map(|q| QuadrantShare {
                name: q.to_string(),
                customers: 0,
                clv_total: 0.0,
            })
            .collect();
        for &(current, clv) in &rows {
            let name = quadrant(current > current_threshold, clv > clv_threshold);
            if let Some(q) = quadrants.iter_mut().find(|q| q.name == name) {
                q.customers += 1;
                q.clv_total += clv;
            }
        }
        ValueModel {
            settings,
            basis,
            current_value,
            current_threshold,
            clv_threshold,
            equity,
            customers: customers.len(),
            quadrants,
        }
    }

    pub fn quadrant_of(&self, current: f64, clv: f64) -> &'static str {
        quadrant(current > self.current_threshold, clv > self.clv_threshold)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> ClvSettings {
        ClvSettings {
            margin: "m".into(),
            margin_rate: 1.0,
            periods_per_year: 12.0,
            discount_rate: 0.1,
            horizon_years: 10.0,
            label_period_years: 1.0,
        }
    }

    #[test]
    fn clv_matches_the_annuity_formula() {
        let s = settings();
        // p = 0.5 a year → 2 expected years; 100 a month → 1200 a year.
        let expected = 1200.0 * (1.0 - 1.1f64.powf(-2.0)) / 0.1;
        assert!((s.clv(100.0, 0.5) - expected).abs() < 1e-9);
        assert_eq!(s.expected_years(0.0), 10.0);
        assert!(s.clv(100.0, 0.9) < s.clv(100.0, 0.1));
    }

    #[test]
    fn no_current_values_still_give_finite_thresholds() {
        let model = ValueModel::fit(
            settings(),
            ClvBasis::Margin,
            None,
            &[(None, 2.0), (None, 3.0)],
        );
        assert!(model.current_threshold.is_finite() && model.clv_threshold.is_finite());
        let model = ValueModel::fit(settings(), ClvBasis::Margin, None, &[]);
        assert!(model.current_threshold.is_finite() && model.clv_threshold.is_finite());
    }

    #[test]
    fn contribution_clv_takes_the_running_costs_off_the_margin_but_not_one_off_costs() {
        use crate::models::contribution::CostParts;
        let mut model = ValueModel::fit(settings(), ClvBasis::Contribution, None, &[]);
        // 12 months at 100: 1,200 revenue; 150 once, 20 a month, 8% of revenue.
        let c = Contribution {
            revenue: 1200.0,
            cost: CostParts {
                fixed: 150.0,
                periods: 240.0,
                revenue_share: 96.0,
                ..CostParts::default()
            },
        };
        let (margin, current) = model.figures(Some(100.0), Some(1200.0), Some(&c));
        assert!((margin.unwrap() - (100.0 * 0.92 - 20.0)).abs() < 1e-9);
        assert_eq!(current, Some(1200.0 - 486.0));
        let no_revenue = Contribution { revenue: 0.0, ..c };
        assert_eq!(
            model.figures(Some(100.0), None, Some(&no_revenue)),
            (None, None)
        );
        model.basis = ClvBasis::Margin;
        assert_eq!(
            model.figures(Some(100.0), Some(1200.0), Some(&c)),
            (Some(100.0), Some(12.0 * 100.0))
        );
    }

    #[test]
    fn quadrants_split_at_the_medians() {
        let rows = [
            (Some(1.0), 1.0),
            (Some(2.0), 2.0),
            (Some(3.0), 1.0),
            (Some(4.0), 4.0),
            (None, 2.0),
        ];
        let model = ValueModel::fit(settings(), ClvBasis::Margin, None, &rows);
        assert_eq!(model.equity, 10.0);
        assert_eq!(model.quadrant_of(5.0, 5.0), "protect");
        assert_eq!(model.quadrant_of(0.0, 0.0), "let go");
        assert_eq!(model.quadrant_of(0.0, 5.0), "invest");
        assert_eq!(
            model.quadrants.iter().map(|q| q.customers).sum::<usize>(),
            4
        );
    }
}
