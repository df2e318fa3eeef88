//! `train --from-campaign NAME --uplift`: the arm of each contact taken out of the
//! campaign table, and the uplift model fitted on the encoded contacts.

use super::training::ARM_COLUMN;
use super::Arm;
use crate::data::{ColumnData, Table};
use crate::models::uplift::{fit_uplift, UpliftError, UpliftModel, UpliftParams};
use ndarray::{Array2, Axis};

/// Remove [`ARM_COLUMN`] from the table; each row's arm (`Some(true)` = treatment,
/// `None` when the cell is not an arm).
pub fn split_arm(table: &mut Table) -> Vec<Option<bool>> {
    match table.remove_column(ARM_COLUMN).map(|c| c.data) {
        Some(ColumnData::Categorical(cells)) => cells
            .iter()
            .map(|c| {
                c.as_deref()
                    .and_then(Arm::parse)
                    .map(|a| a == Arm::Treatment)
            })
            .collect(),
        _ => vec![None; table.rows()],
    }
}

/// Fit on the rows with a known arm and outcome.
pub fn fit(
    matrix: &Array2<f64>,
    treated: &[Option<bool>],
    responded: &[Option<bool>],
    params: &UpliftParams,
) -> Result<UpliftModel, UpliftError> {
    let known: Vec<usize> = (0..treated.len())
        .filter(|&i| treated[i].is_some() && responded.get(i).copied().flatten().is_some())
        .collect();
    let pick = |v: &[Option<bool>]| {
        known
            .iter()
            .map(|&i| v[i] == Some(true))
            .collect::<Vec<_>>()
    };
    let x = matrix.select(Axis(0), &known);
    fit_uplift(x.view(), &pick(treated), &pick(responded), params)
}
