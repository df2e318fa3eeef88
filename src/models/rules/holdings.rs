//! Products a customer holds, read from holdings columns of the customer table. Training
//! and scoring both go through [`product_held`], so a cell means the same thing in both.
//!
//! - Yes / 1 / true (any case): the column's product is held, named after the column;
//! - No / 0 / false / "No internet service"-style values / missing: nothing held;
//! - any other text (telco's internet_service = DSL, Fiber optic): the product
//!   `column=value` is held.

use crate::data::{Baskets, ColumnData, Table};
use crate::features::Value;
use std::borrow::Cow;

fn is_yes(text: &str) -> bool {
    ["yes", "y", "true", "1"]
        .iter()
        .any(|y| text.eq_ignore_ascii_case(y))
}

fn is_no(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    ["no", "n", "false", "0", "none", ""].contains(&lower.as_str()) || lower.starts_with("no ")
}

/// The product a holdings cell says the customer holds, if any.
pub fn product_held<'a>(column: &'a str, value: &Value) -> Option<Cow<'a, str>> {
    match value {
        Value::Missing => None,
        Value::Number(x) => (*x == 1.0).then_some(Cow::Borrowed(column)),
        Value::Text(t) => {
            let t = t.trim();
            if is_yes(t) {
                Some(Cow::Borrowed(column))
            } else if is_no(t) || crate::data::is_missing(t) {
                None
            } else {
                Some(Cow::Owned(format!("{column}={t}")))
            }
        }
    }
}

/// One basket per customer row: the products held across `columns` (columns absent from
/// the table hold nothing).
pub fn holdings_baskets(table: &Table, columns: &[String]) -> Baskets {
    let present: Vec<(&str, &ColumnData)> = columns
        .iter()
        .filter_map(|c| table.column(c).map(|col| (c.as_str(), &col.data)))
        .collect();
    let rows = (0..table.rows()).map(|row| {
        present
            .iter()
            .filter_map(|(name, data)| {
                let value = match data {
                    ColumnData::Numeric(v) => v[row].map_or(Value::Missing, Value::Number),
                    ColumnData::Categorical(v) => v[row]
                        .as_deref()
                        .map_or(Value::Missing, |t| Value::Text(Cow::Borrowed(t))),
                };
                product_held(name, &value).map(Cow::into_owned)
            })
            .collect::<Vec<String>>()
    });
    Baskets::from_lists(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(t: &str) -> Value<'_> {
        Value::Text(Cow::Borrowed(t))
    }

    #[test]
    fn cells_map_to_products() {
        assert_eq!(product_held("tv", &text("Yes")).as_deref(), Some("tv"));
        assert_eq!(product_held("tv", &text("true")).as_deref(), Some("tv"));
        assert_eq!(
            product_held("tv", &Value::Number(1.0)).as_deref(),
            Some("tv")
        );
        assert_eq!(product_held("tv", &Value::Number(0.0)), None);
        assert_eq!(product_held("tv", &text("No")), None);
        assert_eq!(product_held("tv", &text("No internet service")), None);
        assert_eq!(product_held("tv", &Value::Missing), None);
        assert_eq!(
            product_held("internet_service", &text("Fiber optic")).as_deref(),
            Some("internet_service=Fiber optic")
        );
    }
}
