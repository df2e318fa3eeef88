//! Profit, not revenue: a customer's contribution is their revenue (the bundle's value
//! column) less their cost to serve. The cost model is a sum of parts, each a constant or
//! a numeric input column: a cost column, a fixed cost per customer, a cost per order, a
//! cost per period (× a periods column such as tenure) with extra per-period costs for
//! holders of given products, and a share of revenue (cost of goods, payment fees).
//! The fitted model travels in the bundle (inside the pyramid), so batch and serve compute
//! the same contribution through the Scorer; training keeps a summary beside it: the
//! pyramid by revenue and by contribution, the loss-makers and the whale curve.

use crate::data::Table;
use crate::features::{FeatureEncoder, Value};
use crate::models::rules::product_held;
use crate::models::segment::{PyramidError, PyramidParams, Tier, ValuePyramid};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What the pyramid, value shares, quadrants and CLV rank customers by.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum ValueBasis {
    /// The value column as it is (today's behaviour).
    #[default]
    Revenue,
    /// The value column less the cost to serve.
    Contribution,
}

/// One cost part's amount: the same for every customer, or read from a column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Amount {
    Constant(f64),
    Column(String),
}

/// The `[value]` table of the training config (and `train --cost / --value-basis`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CostParams {
    pub basis: ValueBasis,
    /// Column holding each customer's cost to serve.
    pub cost: Option<String>,
    /// Cost per customer.
    pub fixed: Option<Amount>,
    /// Cost per order, times the `orders` column.
    pub per_order: Option<Amount>,
    /// Column counting each customer's orders (default `frequency` for a table built from
    /// an order log).
    pub orders: Option<String>,
    /// Cost per period, times the `periods` column.
    pub per_period: Option<Amount>,
    /// Column counting each customer's periods (e.g. tenure in months).
    pub periods: Option<String>,
    /// Extra cost of holding a product (holdings meaning: Yes / 1 / any value but No), per
    /// period when `periods` is set, else once.
    pub holding_costs: BTreeMap<String, f64>,
    /// Share of revenue that is cost (cost of goods, payment fees).
    pub revenue_share: Option<Amount>,
    /// Let the models read the cost columns too (default: they describe us, not the
    /// customer, so segments, churn and every other target see them as constants).
    pub cost_as_input: bool,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ContributionError {
    #[error("[value]: basis = \"contribution\" (--value-basis contribution) needs a cost model: --cost COLUMN or cost parts in the [value] table")]
    NoCostModel,
    #[error("[value]: a cost model needs the value column it is taken from (--value COLUMN or [data] value)")]
    NoValueColumn,
    #[error("[value] {part}: column `{column}` is not a numeric input column (absent, dropped or ignored)")]
    NotNumericInput { part: &'static str, column: String },
    #[error(
        "[value] holding_costs: column `{0}` is not an input column (absent, dropped or ignored)"
    )]
    NotHoldingInput(String),
    #[error("[value] {0}: must be a finite number")]
    NotFinite(String),
    #[error("[value] per_order: needs `orders`, the column counting each customer's orders")]
    NoOrdersColumn,
    #[error("[value] per_period / holding_costs: per_period needs `periods`, the column counting each customer's periods")]
    NoPeriodsColumn,
    #[error(transparent)]
    Pyramid(#[from] PyramidError),
}

/// Where a part's amount is read from, once the columns are found among the inputs.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Source {
    Constant(f64),
    Input(usize),
}

/// The cost model with its columns found among the encoder's inputs (made once per
/// Scorer; training uses the same one).
#[derive(Debug, Clone, PartialEq)]
pub struct CostInputs {
    revenue: usize,
    cost: Option<Source>,
    fixed: Option<Source>,
    per_order: Option<(Source, Source)>,
    per_period: Option<(Source, Source)>,
    periods: Option<Source>,
    holdings: Vec<(usize, f64)>,
    revenue_share: Option<Source>,
}

/// One customer's cost to serve, part by part.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct CostParts {
    pub cost_column: f64,
    pub fixed: f64,
    pub orders: f64,
    pub periods: f64,
    pub holdings: f64,
    pub revenue_share: f64,
}

impl CostParts {
    pub fn total(&self) -> f64 {
        self.cost_column
            + self.fixed
            + self.orders
            + self.periods
            + self.holdings
            + self.revenue_share
    }
}

/// Revenue, cost to serve and what is left.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Contribution {
    pub revenue: f64,
    pub cost: CostParts,
}

impl Contribution {
    pub fn value(&self) -> f64 {
        self.revenue - self.cost.total()
    }

    /// The cost to serve other than one-off costs (`fixed`), as a share of revenue to date:
    /// what each unit of future margin is expected to cost (revenue must be positive).
    pub fn running_cost_share(&self) -> f64 {
        (self.cost.total() - self.cost.fixed) / self.revenue
    }

    /// A customer who costs more to serve than they bring in.
    pub fn loss_maker(&self) -> bool {
        self.value() < 0.0
    }
}

impl CostParams {
    /// No cost part is configured (the basis alone says nothing).
    pub fn is_empty(&self) -> bool {
        self.cost.is_none()
            && self.fixed.is_none()
            && self.per_order.is_none()
            && self.per_period.is_none()
            && self.holding_costs.is_empty()
            && self.revenue_share.is_none()
    }

    /// Columns holding amounts of cost (not the order, period or holding counts they
    /// multiply, which describe the customer).
    pub fn cost_columns(&self) -> Vec<&str> {
        fn column(a: &Option<Amount>) -> Option<&str> {
            match a {
                Some(Amount::Column(c)) => Some(c.as_str()),
                _ => None,
            }
        }
        let mut columns: Vec<&str> = self.cost.as_deref().into_iter().collect();
        for part in [
            &self.fixed,
            &self.per_order,
            &self.per_period,
            &self.revenue_share,
        ] {
            columns.extend(column(part));
        }
        columns.sort_unstable();
        columns.dedup();
        columns
    }

    /// The cost columns the models must not read, unless `cost_as_input` lets them.
    pub fn model_excluded_columns(&self) -> Vec<&str> {
        match self.cost_as_input {
            true => Vec::new(),
            false => self.cost_columns(),
        }
    }

    /// Check the parts against the encoder's inputs; the model the bundle keeps.
    pub fn check(&self, encoder: &FeatureEncoder) -> Result<CostModel, ContributionError> {
        let numeric = |part: &'static str, column: &str| match encoder.input_index(column) {
            Some(i) if encoder.inputs[i].is_numeric() => Ok(()),
            _ => Err(ContributionError::NotNumericInput {
                part,
                column: column.to_string(),
            }),
        };
        let amount = |part: &'static str, a: &Option<Amount>| match a {
            Some(Amount::Column(c)) => numeric(part, c),
            Some(Amount::Constant(x)) if !x.is_finite() => {
                Err(ContributionError::NotFinite(part.to_string()))
            }
            _ => Ok(()),
        };
        if let Some(c) = &self.cost {
            numeric("cost", c)?;
        }
        amount("fixed", &self.fixed)?;
        amount("per_order", &self.per_order)?;
        amount("per_period", &self.per_period)?;
        amount("revenue_share", &self.revenue_share)?;
        match (&self.per_order, &self.orders) {
            (Some(_), None) => return Err(ContributionError::NoOrdersColumn),
            (_, Some(c)) => numeric("orders", c)?,
            _ => {}
        }
        match (&self.per_period, &self.periods) {
            (Some(_), None) => return Err(ContributionError::NoPeriodsColumn),
            (_, Some(c)) => numeric("periods", c)?,
            _ => {}
        }
        for (column, cost) in &self.holding_costs {
            if encoder.input_index(column).is_none() {
                return Err(ContributionError::NotHoldingInput(column.clone()));
            }
            if !cost.is_finite() {
                return Err(ContributionError::NotFinite(format!(
                    "holding_costs.{column}"
                )));
            }
        }
        Ok(CostModel(self.clone()))
    }
}

/// A checked cost model, as the bundle keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CostModel(CostParams);

impl CostModel {
    pub fn params(&self) -> &CostParams {
        &self.0
    }

    pub fn basis(&self) -> ValueBasis {
        self.0.basis
    }

    /// The model's columns among the encoder's inputs; `None` when one is missing (a
    /// checked bundle never has that).
    pub fn inputs(&self, encoder: &FeatureEncoder, revenue: &str) -> Option<CostInputs> {
        let p = &self.0;
        let column = |c: &str| encoder.input_index(c).map(Source::Input);
        let amount = |a: &Option<Amount>| -> Option<Option<Source>> {
            match a {
                None => Some(None),
                Some(Amount::Constant(x)) => Some(Some(Source::Constant(*x))),
                Some(Amount::Column(c)) => column(c).map(Some),
            }
        };
        let times = |a: &Option<Amount>, by: &Option<String>| -> Option<Option<(Source, Source)>> {
            match (amount(a)?, by) {
                (None, _) => Some(None),
                (Some(a), Some(by)) => Some(Some((a, column(by)?))),
                (Some(_), None) => None,
            }
        };
        let holdings = (p.holding_costs.iter())
            .map(|(c, &cost)| Some((encoder.input_index(c)?, cost)))
            .collect::<Option<_>>()?;
        Some(CostInputs {
            revenue: encoder.input_index(revenue)?,
            cost: match &p.cost {
                Some(c) => Some(column(c)?),
                None => None,
            },
            fixed: amount(&p.fixed)?,
            per_order: times(&p.per_order, &p.orders)?,
            per_period: times(&p.per_period, &p.periods)?,
            periods: match &p.periods {
                Some(c) => Some(column(c)?),
                None => None,
            },
            holdings,
            revenue_share: amount(&p.revenue_share)?,
        })
    }
}

impl CostInputs {
    /// Revenue and cost parts of one parsed record (values in input order); `None` when
    /// the revenue or a column a part needs is missing.
    pub fn contribution(&self, encoder: &FeatureEncoder, values: &[Value]) -> Option<Contribution> {
        let read = |s: Source| match s {
            Source::Constant(x) => Some(x),
            Source::Input(i) => {
                let x = values.get(i)?.as_number()?;
                Some(encoder.inputs.get(i)?.encoding.value_for_arithmetic(x))
            }
        };
        let optional = |s: Option<Source>| s.map_or(Some(0.0), read);
        let product = |p: Option<(Source, Source)>| match p {
            None => Some(0.0),
            Some((a, b)) => Some(read(a)? * read(b)?),
        };
        let revenue = read(Source::Input(self.revenue))?;
        let held: f64 = (self.holdings.iter())
            // Whether a cell means "held" does not depend on the product's name.
            .filter(|(at, _)| {
                values
                    .get(*at)
                    .is_some_and(|v| product_held("", v).is_some())
            })
            .map(|h| h.1)
            .sum();
        let holdings = match self.periods {
            Some(periods) if held != 0.0 => held * read(periods)?,
            _ => held,
        };
        Some(Contribution {
            revenue,
            cost: CostParts {
                cost_column: optional(self.cost)?,
                fixed: optional(self.fixed)?,
                orders: product(self.per_order)?,
                periods: product(self.per_period)?,
                holdings,
                revenue_share: optional(self.revenue_share)? * revenue,
            },
        })
    }
}

/// The cost model and what it showed on the training customers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProfitModel {
    pub cost: CostModel,
    pub summary: ProfitSummary,
}

/// Revenue against contribution on the training customers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProfitSummary {
    /// Customers with both a revenue and a contribution.
    pub customers: usize,
    pub revenue_total: f64,
    pub cost_total: f64,
    pub contribution_total: f64,
    /// Customers with negative contribution, and what they lose together (a positive sum).
    pub loss_makers: usize,
    pub losses: f64,
    /// Share of total contribution earned by the top 20% of customers by contribution.
    pub top_20_share: f64,
    /// Whale curve: (share of customers ranked by contribution, best first; cumulative
    /// share of total contribution), at every percent.
    pub whale_curve: Vec<[f64; 2]>,
    /// The curve's highest point (above 1 when loss-makers give profit back).
    pub peak: [f64; 2],
    pub revenue_tiers: Vec<Tier>,
    pub contribution_tiers: Vec<Tier>,
    /// Customers whose tier by contribution differs from their tier by revenue.
    pub tier_changes: usize,
    /// (tier by revenue, tier by contribution, customers), for the pairs that differ.
    pub moves: Vec<(String, String, usize)>,
}

impl ProfitSummary {
    pub fn loss_maker_share(&self) -> f64 {
        share(self.loss_makers as f64, self.customers as f64)
    }

    /// What loss-makers give back, as a share of what the profitable customers earn.
    pub fn losses_share_of_profit(&self) -> f64 {
        share(self.losses, self.contribution_total + self.losses)
    }
}

fn share(part: f64, total: f64) -> f64 {
    if total == 0.0 {
        0.0
    } else {
        part / total
    }
}

/// The bundle's value pyramid: by revenue, or by contribution when the cost model asks,
/// with the cost model and its summary inside. `revenue` is the value column per row;
/// `contribution` the model's answer per row.
pub fn fit_pyramid(
    params: &PyramidParams,
    column: &str,
    revenue: &[Option<f64>],
    cost: Option<(CostModel, &[Option<f64>])>,
) -> Result<ValuePyramid, ContributionError> {
    let by_revenue = params.fit(column, revenue)?;
    let Some((cost, contribution)) = cost else {
        return Ok(by_revenue);
    };
    let by_contribution = params.fit(column, contribution)?;
    let summary = summarise(&by_revenue, &by_contribution, revenue, contribution);
    let mut pyramid = match cost.basis() {
        ValueBasis::Revenue => by_revenue,
        ValueBasis::Contribution => by_contribution,
    };
    pyramid.profit = Some(Box::new(ProfitModel { cost, summary }));
    Ok(pyramid)
}

/// The pyramid `train` ships: by revenue alone without a cost model; else with the cost
/// model (checked against the encoder) and its summary. A table built from an order log
/// counts orders in `frequency` unless `orders` names another column.
pub fn train_pyramid(
    params: &PyramidParams,
    cost: &CostParams,
    revenue: Option<(&str, &[Option<f64>])>,
    table: &Table,
    encoder: &FeatureEncoder,
    order_log: bool,
) -> Result<Option<ValuePyramid>, ContributionError> {
    if cost.is_empty() {
        return match (cost.basis, revenue) {
            (ValueBasis::Contribution, _) => Err(ContributionError::NoCostModel),
            (ValueBasis::Revenue, None) => Ok(None),
            (ValueBasis::Revenue, Some((column, values))) => Ok(Some(params.fit(column, values)?)),
        };
    }
    let Some((column, values)) = revenue else {
        return Err(ContributionError::NoValueColumn);
    };
    let mut cost = cost.clone();
    if order_log && cost.per_order.is_some() && cost.orders.is_none() {
        cost.orders = Some("frequency".into());
    }
    let model = cost.check(encoder)?;
    let inputs =
        model
            .inputs(encoder, column)
            .ok_or_else(|| ContributionError::NotNumericInput {
                part: "value",
                column: column.to_string(),
            })?;
    let contribution: Vec<Option<f64>> = (row_contributions(&inputs, table, encoder).iter())
        .map(|c| c.map(|c| c.value()))
        .collect();
    fit_pyramid(params, column, values, Some((model, &contribution))).map(Some)
}

/// Each table row's revenue and cost parts under the cost model's inputs.
pub fn row_contributions(
    inputs: &CostInputs,
    table: &Table,
    encoder: &FeatureEncoder,
) -> Vec<Option<Contribution>> {
    let columns: Vec<_> = (encoder.inputs.iter())
        .map(|i| table.column(&i.name))
        .collect();
    (0..table.rows())
        .map(|row| {
            let values = crate::features::row_values(&columns, row);
            inputs.contribution(encoder, &values)
        })
        .collect()
}

/// Each training row's contribution when the pyramid ranks by it (so CLV and the quadrant
/// run on it too); `None` on the revenue basis or without a cost model.
pub fn training_contributions(
    pyramid: Option<&ValuePyramid>,
    table: &Table,
    encoder: &FeatureEncoder,
) -> Option<Vec<Option<Contribution>>> {
    let pyramid = pyramid?;
    let cost = &pyramid.profit.as_ref()?.cost;
    if cost.basis() != ValueBasis::Contribution {
        return None;
    }
    let inputs = cost.inputs(encoder, &pyramid.column)?;
    Some(row_contributions(&inputs, table, encoder))
}

/// Whale curve points per percent of customers.
const CURVE_POINTS: usize = 100;

fn summarise(
    by_revenue: &ValuePyramid,
    by_contribution: &ValuePyramid,
    revenue: &[Option<f64>],
    contribution: &[Option<f64>],
) -> ProfitSummary {
    let pairs: Vec<(f64, f64)> = (revenue.iter().zip(contribution))
        .filter_map(|(r, c)| Some(((*r)?, (*c)?)))
        .collect();
    let mut sorted: Vec<f64> = pairs.iter().map(|p| p.1).collect();
    sorted.sort_by(|a, b| b.total_cmp(a));
    let n = sorted.len();
    let total: f64 = sorted.iter().sum();
    let mut cumulative = Vec::with_capacity(n + 1);
    cumulative.push(0.0);
    for c in &sorted {
        cumulative.push(cumulative.last().copied().unwrap_or(0.0) + c);
    }
    let at_share = |s: f64| share(cumulative[((s * n as f64).round() as usize).min(n)], total);
    let whale_curve: Vec<[f64; 2]> = (0..=CURVE_POINTS)
        .map(|k| {
            let s = k as f64 / CURVE_POINTS as f64;
            [s, at_share(s)]
        })
        .collect();
    let peak = (cumulative.iter().enumerate())
        .map(|(k, &c)| [share(k as f64, n as f64), share(c, total)])
        .max_by(|a, b| a[1].total_cmp(&b[1]))
        .unwrap_or([0.0, 0.0]);
    let mut moves: BTreeMap<(String, String), usize> = BTreeMap::new();
    for &(r, c) in &pairs {
        let (from, to) = (
            by_revenue.tier_of(Some(r)),
            by_contribution.tier_of(Some(c)),
        );
        if from != to {
            *moves.entry((from.to_string(), to.to_string())).or_default() += 1;
        }
    }
    let losses: f64 = -sorted.iter().filter(|&&c| c < 0.0).sum::<f64>();
    let revenue_total: f64 = pairs.iter().map(|p| p.0).sum();
    ProfitSummary {
        customers: n,
        revenue_total,
        cost_total: revenue_total - total,
        contribution_total: total,
        loss_makers: sorted.iter().filter(|&&c| c < 0.0).count(),
        losses,
        top_20_share: at_share(0.2),
        whale_curve,
        peak,
        revenue_tiers: by_revenue.tiers.clone(),
        contribution_tiers: by_contribution.tiers.clone(),
        tier_changes: moves.values().sum(),
        moves: moves.into_iter().map(|((f, t), k)| (f, t, k)).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{Column, ColumnData, DataQuality};
    use proptest::prelude::*;

    fn encoder() -> FeatureEncoder {
        let numeric = |name: &str, v: Vec<Option<f64>>| Column {
            name: name.into(),
            data: ColumnData::Numeric(v),
        };
        let text = |name: &str, v: &[&str]| Column {
            name: name.into(),
            data: ColumnData::Categorical(v.iter().map(|s| Some((*s).into())).collect()),
        };
        // Ranges wide enough that no value the tests use is clipped as far out of range.
        let table = Table {
            source: "t".into(),
            sha256: String::new(),
            ids: vec!["1".into(), "2".into(), "3".into()],
            lines: vec![2, 3, 4],
            columns: vec![
                numeric("revenue", vec![Some(-1e5), Some(1e6), Some(10.0)]),
                numeric("cost", vec![Some(0.0), Some(1e4), Some(1.0)]),
                numeric("orders", vec![Some(0.0), Some(500.0), Some(1.0)]),
                numeric("months", vec![Some(0.0), Some(120.0), Some(1.0)]),
                text("support", &["Yes", "No", "No internet service"]),
            ],
            quality: DataQuality::default(),
        };
        FeatureEncoder::fit(&table, &[], &Default::default())
    }

    #[test]
    fn cost_columns_are_the_amounts_not_the_counts_they_multiply() {
        let mut params = full_model(0.1);
        params.per_period = Some(Amount::Column("rate".into()));
        assert_eq!(params.cost_columns(), ["cost", "rate"]);
        assert_eq!(params.model_excluded_columns(), ["cost", "rate"]);
        params.cost_as_input = true;
        assert!(params.model_excluded_columns().is_empty());
    }

    fn full_model(share: f64) -> CostParams {
        CostParams {
            basis: ValueBasis::Contribution,
            cost: Some("cost".into()),
            fixed: Some(Amount::Constant(2.0)),
            per_order: Some(Amount::Constant(1.5)),
            orders: Some("orders".into()),
            per_period: Some(Amount::Constant(0.5)),
            periods: Some("months".into()),
            holding_costs: [("support".to_string(), 1.0)].into(),
            revenue_share: Some(Amount::Constant(share)),
            cost_as_input: false,
        }
    }

    fn record(
        revenue: f64,
        cost: f64,
        orders: f64,
        months: f64,
        support: &str,
    ) -> Vec<Value<'static>> {
        vec![
            Value::Number(revenue),
            Value::Number(cost),
            Value::Number(orders),
            Value::Number(months),
            Value::Text(support.to_string().into()),
        ]
    }

    #[test]
    fn each_part_is_counted_once() {
        let enc = encoder();
        let model = full_model(0.1).check(&enc).unwrap();
        let inputs = model.inputs(&enc, "revenue").unwrap();
        let c = inputs
            .contribution(&enc, &record(100.0, 10.0, 3.0, 12.0, "Yes"))
            .unwrap();
        // 10 + 2 + 1.5×3 + 0.5×12 + 1×12 + 0.1×100
        assert_eq!(c.cost.total(), 10.0 + 2.0 + 4.5 + 6.0 + 12.0 + 10.0);
        assert_eq!(c.value(), 100.0 - 44.5);
        let c = inputs
            .contribution(&enc, &record(10.0, 1.0, 1.0, 1.0, "No internet service"))
            .unwrap();
        assert_eq!(c.cost.holdings, 0.0, "not held");
        assert!(!c.loss_maker());
        let c = inputs
            .contribution(&enc, &record(5.0, 10.0, 1.0, 1.0, "No"))
            .unwrap();
        assert!(c.loss_maker());
    }

    #[test]
    fn a_missing_part_leaves_the_contribution_unknown() {
        let enc = encoder();
        let model = full_model(0.1).check(&enc).unwrap();
        let inputs = model.inputs(&enc, "revenue").unwrap();
        let mut values = record(100.0, 10.0, 3.0, 12.0, "Yes");
        values[2] = Value::Missing;
        assert_eq!(inputs.contribution(&enc, &values), None);
        values[2] = Value::Number(3.0);
        values[0] = Value::Missing;
        assert_eq!(inputs.contribution(&enc, &values), None);
    }

    #[test]
    fn bad_models_are_refused_naming_the_part() {
        let enc = encoder();
        let mut p = full_model(0.1);
        p.orders = None;
        assert_eq!(p.check(&enc), Err(ContributionError::NoOrdersColumn));
        let mut p = full_model(0.1);
        p.cost = Some("support".into());
        assert!(
            matches!(
                p.check(&enc),
                Err(ContributionError::NotNumericInput { part: "cost", .. })
            ),
            "a text column is no cost"
        );
        let mut p = full_model(f64::NAN);
        p.cost = None;
        assert_eq!(
            p.check(&enc),
            Err(ContributionError::NotFinite("revenue_share".into()))
        );
        let mut p = full_model(0.1);
        p.holding_costs.insert("nope".into(), 1.0);
        assert_eq!(
            p.check(&enc),
            Err(ContributionError::NotHoldingInput("nope".into()))
        );
        assert!(CostParams::default().is_empty());
    }

    #[test]
    fn loss_makers_push_the_whale_curve_above_one() {
        let revenue: Vec<Option<f64>> = (0..100).map(|i| Some(100.0 + i as f64)).collect();
        // 10 customers lose 50 each; 90 earn 10 each: total 400, peak 900/400.
        let contribution: Vec<Option<f64>> = (0..100)
            .map(|i| Some(if i < 10 { -50.0 } else { 10.0 }))
            .collect();
        let model = full_model(0.0).check(&encoder()).unwrap();
        let p = fit_pyramid(
            &PyramidParams::default(),
            "revenue",
            &revenue,
            Some((model, &contribution)),
        )
        .unwrap();
        let s = &p.profit.as_ref().unwrap().summary;
        assert_eq!((s.loss_makers, s.losses), (10, 500.0));
        assert!((s.peak[1] - 900.0 / 400.0).abs() < 1e-12 && (s.peak[0] - 0.9).abs() < 1e-12);
        assert!((s.top_20_share - 200.0 / 400.0).abs() < 1e-12);
        assert_eq!(s.whale_curve.last().map(|p| p[1]), Some(1.0));
        assert!((s.loss_maker_share() - 0.1).abs() < 1e-12);
        // The pyramid ranks contribution: the loss-makers are all in the bottom tier.
        assert_eq!(p.tier_of(Some(-50.0)), "lead");
        assert!(s.tier_changes > 0);
    }

    proptest! {
        #[test]
        fn contribution_is_revenue_less_the_sum_of_the_parts(
            revenue in -1e5f64..1e6, cost in 0f64..1e4, orders in 0f64..500.0,
            months in 0f64..120.0, share in 0f64..1.0, held in any::<bool>(),
        ) {
            let enc = encoder();
            let model = full_model(share).check(&enc).unwrap();
            let inputs = model.inputs(&enc, "revenue").unwrap();
            let support = if held { "Yes" } else { "No" };
            let c = inputs.contribution(&enc, &record(revenue, cost, orders, months, support)).unwrap();
            let p = c.cost;
            let parts = [p.cost_column, p.fixed, p.orders, p.periods, p.holdings, p.revenue_share];
            prop_assert!((c.value() - (c.revenue - parts.iter().sum::<f64>())).abs() <= 1e-9 * revenue.abs().max(1.0));
            prop_assert_eq!(c.revenue, revenue);
            prop_assert!((p.revenue_share - share * revenue).abs() <= 1e-9 * revenue.abs().max(1.0));
            prop_assert_eq!(p.holdings, if held { months } else { 0.0 });
        }

        #[test]
        fn tier_shares_sum_to_one_on_either_basis(
            rows in proptest::collection::vec((0f64..1e4, -1e3f64..1e3), 1..200)
        ) {
            let revenue: Vec<Option<f64>> = rows.iter().map(|r| Some(r.0)).collect();
            let contribution: Vec<Option<f64>> = rows.iter().map(|r| Some(r.0 * 0.3 + r.1)).collect();
            let model = full_model(0.0).check(&encoder()).unwrap();
            let p = fit_pyramid(&PyramidParams::default(), "revenue", &revenue, Some((model, &contribution))).unwrap();
            let s = &p.profit.as_ref().unwrap().summary;
            for tiers in [&s.revenue_tiers, &s.contribution_tiers] {
                let customers: f64 = tiers.iter().map(|t| t.customer_share).sum();
                prop_assert!((customers - 1.0).abs() < 1e-9);
                let total: f64 = tiers.iter().map(|t| t.value_total).sum();
                let shares: f64 = tiers.iter().map(|t| t.value_share).sum();
                if total != 0.0 {
                    prop_assert!((shares - 1.0).abs() < 1e-6, "{shares}");
                }
            }
            let moved: usize = s.moves.iter().map(|m| m.2).sum();
            prop_assert_eq!(moved, s.tier_changes);
            prop_assert!(s.tier_changes <= rows.len());
        }
    }
}
