//! `POST /v1/score` with a customer's raw order events instead of their features, for
//! bundles trained from an order log:
//!
//! `{"customer_id": "17850", "events": [{"time": "2011-01-04 10:00", "order": "536365",
//!   "item": "85123A", "quantity": 6, "price": 2.55}, ...], "as_of": "2011-06-01"}`
//!
//! The events go through the same running totals per customer as training and `score
//! --transactions` (`CustomerTotals`), as of `as_of` (default: now, UTC), and the same item
//! sets for offers, so the answer equals batch scoring of the same log with `--cutoff`.
//! Per event: `time` (a date or date-time, as in logs), `order` (default: one order per
//! time), `item`, `quantity` (default 1), and `price` (line value = quantity × price) or
//! `amount` (the line value). A bad event is a 400 naming `events[i].field`.

use super::error::{ApiError, Code};
use super::request::kind;
use super::state::Served;
use crate::data::transactions::{parse_time, CustomerTotals, Event, TransactionSpec};
use crate::features::row_values;
use crate::models::offers::HistoryBuilder;
use crate::score::{Answer, Bought, Scorer, Scratch};
use serde_json::{Map, Value as Json};
use std::borrow::Cow;

/// Whether a `/v1/score` body may carry events: a byte search, so feature records pay
/// almost nothing before their usual parse.
pub fn may_have_events(body: &[u8]) -> bool {
    body.windows(8).any(|w| w == b"\"events\"")
}

/// The answer for a body with an `events` array; `None` when the body has none (then it
/// is a feature record).
pub fn score_events(served: &Served, json: &Json) -> Result<Option<Answer>, ApiError> {
    let scorer = &*served.scorer;
    let Json::Object(fields) = json else {
        return Ok(None);
    };
    let Some(events) = fields.get("events") else {
        return Ok(None);
    };
    let Some(spec) = scorer
        .bundle()
        .manifest
        .transactions
        .as_ref()
        .map(|t| &t.spec)
    else {
        // A customer table may have a column of that name: only a list is meant as events.
        if !events.is_array() {
            return Ok(None);
        }
        return Err(ApiError::field(
            Code::InvalidField,
            "events",
            "this bundle was not trained from an order log; send the customer's features instead",
        ));
    };
    let customer = customer_id(fields, scorer)?;
    let as_of = match fields.get("as_of") {
        None | Some(Json::Null) => chrono::Utc::now().naive_utc(),
        Some(Json::String(s)) => parse_time(s).ok_or_else(|| {
            ApiError::field(
                Code::InvalidField,
                "as_of",
                "expected a date like 2011-06-01 or 2011-06-01 10:00:00",
            )
        })?,
        Some(other) => {
            return Err(ApiError::field(
                Code::InvalidField,
                "as_of",
                format!("expected a date string, got {}", kind(other)),
            ))
        }
    };
    let events = parse_events(events, spec, &customer)?;
    let mut totals = CustomerTotals::new(Some(as_of), spec.churn_after_days);
    let mut items = scorer
        .bundle()
        .history
        .as_ref()
        .map(|h| HistoryBuilder::new(h.settings.clone(), Some(as_of)));
    for event in &events {
        totals.add(event);
        if let Some(items) = &mut items {
            items.add(event);
        }
    }
    let (table, _) = totals.table(spec, as_of, false);
    if table.rows() == 0 {
        return Err(ApiError::field(
            Code::InvalidField,
            "events",
            "no purchase before as_of: the customer has no features yet",
        ));
    }
    let bought = match (items, &scorer.bundle().rules) {
        (Some(items), Some(rules)) => items.finish(rules).customers.remove(&customer),
        _ => None,
    };
    let columns: Vec<_> = scorer.input_names().map(|n| table.column(n)).collect();
    let mut scratch = Scratch::default();
    scratch.values = row_values(&columns, 0);
    let bought = bought.as_ref().map_or(Bought::Unknown, Bought::Items);
    let scored = scorer
        .score_bought_into(&mut scratch, bought)
        .map_err(|e| ApiError::new(Code::Internal, e.to_string()))?;
    super::routes::observe(served.window.as_deref(), &scored);
    Ok(Some(scorer.answer(Cow::Borrowed(&customer), &scored)))
}

/// `customer_id`, or the bundle's id column (the log's customer column), as text.
fn customer_id(fields: &Map<String, Json>, scorer: &Scorer) -> Result<String, ApiError> {
    let name = match scorer.id_column() {
        Some(column) if !fields.contains_key("customer_id") && fields.contains_key(column) => {
            column
        }
        _ => "customer_id",
    };
    let id = match fields.get(name) {
        Some(Json::String(s)) => s.trim().to_string(),
        Some(Json::Number(n)) => n.to_string(),
        _ => String::new(),
    };
    if crate::data::is_missing(&id) {
        return Err(ApiError::field(
            Code::InvalidField,
            name,
            "expected the customer id as a non-empty string or number",
        ));
    }
    Ok(id)
}

fn parse_events(
    events: &Json,
    spec: &TransactionSpec,
    customer: &str,
) -> Result<Vec<Event>, ApiError> {
    let Json::Array(events) = events else {
        return Err(ApiError::field(
            Code::InvalidField,
            "events",
            format!("expected an array of events, got {}", kind(events)),
        ));
    };
    if events.is_empty() {
        return Err(ApiError::field(
            Code::InvalidField,
            "events",
            "no events: send at least one purchase",
        ));
    }
    events
        .iter()
        .enumerate()
        .map(|(i, event)| parse_event(event, i, spec, customer))
        .collect()
}

/// One event as the log reader makes it from a line with the same values.
fn parse_event(
    json: &Json,
    index: usize,
    spec: &TransactionSpec,
    customer: &str,
) -> Result<Event, ApiError> {
    let bad = |field: &str, what: String| {
        ApiError::field(Code::InvalidField, format!("events[{index}].{field}"), what)
    };
    let Json::Object(fields) = json else {
        return Err(ApiError::field(
            Code::InvalidField,
            format!("events[{index}]"),
            format!("expected an event object, got {}", kind(json)),
        ));
    };
    let time = match fields.get("time") {
        Some(Json::String(s)) => parse_time(s).ok_or_else(|| {
            bad(
                "time",
                "not a date: expected e.g. 2011-06-01 or 2011-06-01 10:00:00".into(),
            )
        })?,
        Some(other) => {
            return Err(bad(
                "time",
                format!("expected a date string, got {}", kind(other)),
            ))
        }
        None => return Err(bad("time", "missing: every event needs its time".into())),
    };
    let number = |field: &str, default: Option<f64>| -> Result<Option<f64>, ApiError> {
        match fields.get(field) {
            None | Some(Json::Null) => Ok(default),
            Some(Json::Number(n)) => n
                .as_f64()
                .filter(|x| x.is_finite())
                .map(Some)
                .ok_or_else(|| bad(field, "number out of range".into())),
            Some(Json::String(s)) => crate::data::parse_number(s)
                .filter(|x| x.is_finite())
                .map(Some)
                .ok_or_else(|| bad(field, "not a number".into())),
            Some(other) => Err(bad(
                field,
                format!("expected a number, got {}", kind(other)),
            )),
        }
    };
    let quantity = number("quantity", Some(1.0))?.unwrap_or(1.0);
    let value = match (number("price", None)?, number("amount", None)?) {
        (Some(price), _) => quantity * price,
        (None, Some(amount)) => amount,
        (None, None) => {
            return Err(bad(
                "price",
                "missing: give `price` (per unit) or `amount` (the line value)".into(),
            ))
        }
    };
    let text = |field: &str| -> Result<Option<String>, ApiError> {
        match fields.get(field) {
            None | Some(Json::Null) => Ok(None),
            Some(Json::String(s)) => Ok(Some(s.trim().to_string()).filter(|s| !s.is_empty())),
            Some(Json::Number(n)) => Ok(Some(n.to_string())),
            Some(other) => Err(bad(
                field,
                format!("expected a string or a number, got {}", kind(other)),
            )),
        }
    };
    let order = text("order")?.unwrap_or_else(|| format!("{customer}@{time}"));
    let item = text("item")?.filter(|i| spec.item_col.is_some() && !spec.exclude_items.contains(i));
    Ok(Event {
        customer: Some(customer.to_string()),
        order,
        item,
        time,
        quantity,
        value,
    })
}
