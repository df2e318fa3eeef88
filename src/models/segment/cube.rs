//! The value cube of analytic CRM: segment × value tier × value quadrant, with how many
//! customers, how much value and what churn rate each cell holds. Campaigns are planned
//! from it ("protect the platinum customers of segment 2").

use crate::models::value::QUADRANTS;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One training customer's place in the cube.
#[derive(Debug, Clone)]
pub struct CubeRow<'a> {
    pub segment: usize,
    pub tier: &'a str,
    /// `None` when the bundle has no value model.
    pub quadrant: Option<&'a str>,
    pub value: Option<f64>,
    pub churned: Option<bool>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CubeCell {
    pub segment: usize,
    pub tier: String,
    /// "-" when the bundle has no value model.
    pub quadrant: String,
    pub customers: usize,
    /// Sum of the value column over the cell's customers (0 without a value column).
    pub value: f64,
    /// Share of the cell's labelled customers who churned; `None` without a label.
    pub churn_rate: Option<f64>,
}

/// (customers, value, churned, labelled) of one cell while counting.
type Tally = (usize, f64, usize, usize);

/// Count the rows into cells, ordered by segment, then tier (in `tiers` order, top first;
/// others after) and quadrant (protect, invest, maintain, let go).
pub fn value_cube<'a>(
    rows: impl IntoIterator<Item = CubeRow<'a>>,
    tiers: &[&str],
) -> Vec<CubeCell> {
    let mut cells: BTreeMap<(usize, &str, &str), Tally> = BTreeMap::new();
    for row in rows {
        let key = (row.segment, row.tier, row.quadrant.unwrap_or("-"));
        let cell = cells.entry(key).or_default();
        cell.0 += 1;
        cell.1 += row.value.unwrap_or(0.0);
        if let Some(churned) = row.churned {
            cell.2 += usize::from(churned);
            cell.3 += 1;
        }
    }
    let mut cells: Vec<CubeCell> = cells
        .into_iter()
        .map(
            |((segment, tier, quadrant), (customers, value, churned, labelled))| CubeCell {
                segment,
                tier: tier.to_string(),
                quadrant: quadrant.to_string(),
                customers,
                value,
                churn_rate: (labelled > 0).then(|| churned as f64 / labelled as f64),
            },
        )
        .collect();
    let rank = |names: &[&str], name: &str| names.iter().position(|n| *n == name);
    cells.sort_by_key(|c| {
        let tier = rank(tiers, &c.tier).unwrap_or(usize::MAX);
        let quadrant = rank(&QUADRANTS, &c.quadrant).unwrap_or(usize::MAX);
        (c.segment, tier, quadrant)
    });
    cells
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_count_value_and_churn() {
        let row = |segment, tier, value, churned| CubeRow {
            segment,
            tier,
            quadrant: Some("protect"),
            value: Some(value),
            churned,
        };
        let cube = value_cube(
            [
                row(1, "lead", 3.0, None),
                row(1, "gold", 10.0, Some(true)),
                row(1, "gold", 5.0, Some(false)),
                row(1, "gold", 1.0, None),
                row(0, "lead", 2.0, None),
            ],
            &["gold", "lead"],
        );
        assert_eq!(cube.len(), 3);
        assert_eq!((cube[0].segment, cube[0].churn_rate), (0, None));
        assert_eq!((cube[1].tier.as_str(), cube[1].customers), ("gold", 3));
        assert_eq!(cube[1].value, 16.0);
        assert_eq!(cube[1].churn_rate, Some(0.5));
        assert_eq!(cube[2].tier, "lead");
    }
}
