//! Products a customer holds, read from holdings columns of the customer table. Training
//! and scoring both go through [`product_held`], so a cell means the same thing in both.
//!
//! - Yes / 1 / true (any case): the column's product is held, named after the column;
//! - No / 0 / false / "No internet service"-style values / missing: nothing held;
//! - any other text (telco's internet_service = DSL, Fiber optic): the product
//!   `column=value` is held.

use super::CrossSellModel;
use crate::data::{Baskets, ColumnData, Table};
use crate::features::Value;
use crate::text_eq;
use std::borrow::Cow;

fn is_yes(text: &str) -> bool {
    ["yes", "y", "true", "1"]
        .iter()
        .any(|y| text.eq_ignore_ascii_case(y))
}

fn is_no(text: &str) -> bool {
    ["no", "n", "false", "0", "none", ""]
        .iter()
        .any(|n| text.eq_ignore_ascii_case(n))
        || text
            .get(..3)
            .is_some_and(|start| start.eq_ignore_ascii_case("no "))
}

/// What a holdings cell says is held.
enum Held<'v> {
    /// The column's own product (a yes).
    Column,
    /// The product `column=value` (any other text).
    Value(&'v str),
}

/// Read one holdings cell; `None` when it holds nothing.
fn read_cell<'v>(value: &'v Value) -> Option<Held<'v>> {
    match value {
        Value::Missing => None,
        Value::Number(x) => (*x == 1.0).then_some(Held::Column),
        Value::Text(t) => {
            let t = crate::data::trim(t);
            if is_yes(t) {
                Some(Held::Column)
            } else if is_no(t) || crate::data::is_missing(t) {
                None
            } else {
                Some(Held::Value(t))
            }
        }
    }
}

/// The product a holdings cell says the customer holds, if any.
pub fn product_held<'a>(column: &'a str, value: &Value) -> Option<Cow<'a, str>> {
    match read_cell(value)? {
        Held::Column => Some(Cow::Borrowed(column)),
        Held::Value(t) => Some(Cow::Owned(format!("{column}={t}"))),
    }
}

/// [`product_held`] then [`CrossSellModel::item_id`] without building item names, for
/// scoring: per holdings column, the column's own item and its `column=value` items.
#[derive(Debug, Clone, Default)]
pub struct HeldLookup {
    columns: Vec<HeldColumn>,
}

#[derive(Debug, Clone)]
struct HeldColumn {
    yes: Option<u32>,
    by_value: Vec<(String, u32)>,
    /// Answers worked out in advance for the spellings training saw in this column.
    known: Vec<(String, Option<u32>)>,
}

impl HeldLookup {
    /// One entry per column of `model.holdings`, in that order; `seen` gives the cell
    /// values training saw in a column, answered in advance.
    pub fn new<'a, S>(model: &CrossSellModel, seen: impl Fn(&str) -> S) -> Self
    where
        S: IntoIterator<Item = &'a str>,
    {
        let columns = model
            .holdings
            .iter()
            .map(|column| {
                let mut held = HeldColumn {
                    yes: model.item_id(column),
                    by_value: model
                        .items
                        .iter()
                        .enumerate()
                        .filter_map(|(id, item)| {
                            let value = item.strip_prefix(column.as_str())?.strip_prefix('=')?;
                            Some((value.to_string(), id as u32))
                        })
                        .collect(),
                    known: Vec::new(),
                };
                held.known = seen(column)
                    .into_iter()
                    .map(|v| (v.to_string(), held.work_out(&Value::Text(Cow::Borrowed(v)))))
                    .collect();
                held
            })
            .collect();
        HeldLookup { columns }
    }

    /// The model's item held according to holdings column `column` (by position).
    pub fn item(&self, column: usize, value: &Value) -> Option<u32> {
        let column = self.columns.get(column)?;
        if let Value::Text(t) = value {
            if let Some((_, known)) = column.known.iter().find(|(k, _)| text_eq::same(k, t)) {
                return *known;
            }
        }
        column.work_out(value)
    }
}

impl HeldColumn {
    /// [`product_held`] and the item's id, without naming the item.
    fn work_out(&self, value: &Value) -> Option<u32> {
        match read_cell(value)? {
            Held::Column => self.yes,
            Held::Value(t) => self
                .by_value
                .iter()
                .find(|(v, _)| v == t)
                .map(|(_, id)| *id),
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
        assert_eq!(product_held("tv", &text("NO internet")), None);
        assert_eq!(
            product_held("tv", &text("Nope")).as_deref(),
            Some("tv=Nope")
        );
    }

    #[test]
    fn the_lookup_agrees_with_naming_the_product() {
        let baskets = Baskets::from_lists(
            [
                vec!["tv", "internet_service=DSL"],
                vec!["internet_service=Fiber optic", "phone"],
                vec!["tv", "internet_service=DSL", "phone"],
                vec!["phone"],
            ]
            .into_iter()
            .map(|b| b.into_iter().map(String::from).collect::<Vec<_>>()),
        );
        let holdings: Vec<String> = ["tv", "internet_service", "phone"].map(String::from).into();
        let params = crate::models::rules::RulesParams {
            min_support: 0.2,
            ..Default::default()
        };
        let model = CrossSellModel::fit(&baskets, &params, holdings.clone());
        let lookup = HeldLookup::new(&model, |_| ["Yes", "DSL", "No", "NA", "Fiber optic"]);
        let cells = [
            text("Yes"),
            text(" DSL "),
            text("Fiber optic"),
            text("Satellite"),
            text("No"),
            text("NA"),
            text("1"),
            Value::Number(1.0),
            Value::Number(0.0),
            Value::Missing,
        ];
        for (at, column) in holdings.iter().enumerate() {
            for cell in &cells {
                let named = product_held(column, cell).and_then(|p| model.item_id(&p));
                assert_eq!(lookup.item(at, cell), named, "{column} {cell:?}");
            }
        }
    }
}
