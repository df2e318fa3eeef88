//! Outcome events: what happened to a contacted customer (responded, purchased,
//! churned, retained), from JSON or a CSV / JSON Lines file. Each event has a key, given
//! or derived from its fields, so an event sent twice is stored once.

use serde::Serialize;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// The event types a campaign can be evaluated on.
pub const EVENT_TYPES: &[&str] = &["responded", "purchased", "churned", "retained"];

/// Longest key, campaign or customer id accepted.
const MAX_TEXT: usize = 200;

/// A checked event, ready to store.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Event {
    pub key: String,
    pub campaign: String,
    pub customer_id: String,
    pub event_type: String,
    /// RFC 3339, UTC.
    pub time: String,
    pub value: Option<f64>,
}

/// Why one event was refused: where (`line 12`, `[3]`), which field, what was wrong.
#[derive(Debug, Clone, PartialEq, Serialize, thiserror::Error, utoipa::ToSchema)]
#[error("{at}: {}{message}", field.as_ref().map(|f| format!("field `{f}`: ")).unwrap_or_default())]
pub struct EventError {
    pub at: String,
    pub field: Option<String>,
    pub message: String,
}

/// One field of an event as it arrived.
#[derive(Debug, Clone, PartialEq)]
pub enum Field {
    Text(String),
    Number(f64),
}

/// The fields of one event as it arrived, by name; absent and empty fields are left out.
pub type EventInput = BTreeMap<String, Field>;

/// A JSON object → the event's fields; anything but strings, numbers and null is refused.
pub fn input_from_json(item: &serde_json::Value, at: &str) -> Result<EventInput, EventError> {
    let serde_json::Value::Object(object) = item else {
        return Err(refused(
            at,
            None,
            "expected a JSON object with campaign, customer_id, type and time",
        ));
    };
    let mut fields = EventInput::new();
    for (name, value) in object {
        let field = match value {
            serde_json::Value::Null => continue,
            serde_json::Value::String(s) if s.trim().is_empty() => continue,
            serde_json::Value::String(s) => Field::Text(s.trim().to_string()),
            serde_json::Value::Number(n) => match n.as_f64() {
                Some(x) => Field::Number(x),
                None => return Err(refused(at, Some(name), "number out of range")),
            },
            _ => return Err(refused(at, Some(name), "expected a string or a number")),
        };
        fields.insert(name.clone(), field);
    }
    Ok(fields)
}

fn refused(at: &str, field: Option<&str>, message: impl Into<String>) -> EventError {
    EventError {
        at: at.to_string(),
        field: field.map(String::from),
        message: message.into(),
    }
}

/// Check one event's fields and derive its key when none is given.
pub fn check(input: &EventInput, at: &str) -> Result<Event, EventError> {
    let text = |name: &str| -> Result<Option<String>, EventError> {
        match input.get(name) {
            None => Ok(None),
            Some(Field::Text(s)) => Ok(Some(s.clone())),
            Some(Field::Number(x)) => Ok(Some(number_text(*x))),
        }
    };
    let required = |name: &str| -> Result<String, EventError> {
        let value = text(name)?.ok_or_else(|| refused(at, Some(name), "missing"))?;
        if value.chars().count() > MAX_TEXT || value.chars().any(char::is_control) {
            return Err(refused(
                at,
                Some(name),
                format!("at most {MAX_TEXT} characters, no control characters"),
            ));
        }
        Ok(value)
    };
    let campaign = required("campaign")?;
    let customer_id = required("customer_id")?;
    let event_type = required("type")?;
    if !EVENT_TYPES.contains(&event_type.as_str()) {
        return Err(refused(
            at,
            Some("type"),
            format!("`{event_type}` is not one of {}", EVENT_TYPES.join(", ")),
        ));
    }
    let time = parse_time(&required("time")?).ok_or_else(|| {
        refused(
            at,
            Some("time"),
            "expected RFC 3339 (2024-05-01T10:00:00Z) or YYYY-MM-DD[ HH:MM[:SS]] (UTC)",
        )
    })?;
    let value = match input.get("value") {
        None => None,
        Some(Field::Number(x)) => Some(*x),
        Some(Field::Text(s)) => Some(
            s.parse::<f64>()
                .map_err(|_| refused(at, Some("value"), format!("`{s}` is not a number")))?,
        ),
    };
    if value.is_some_and(|v| !v.is_finite()) {
        return Err(refused(at, Some("value"), "must be a finite number"));
    }
    let key = match text("key")? {
        Some(key) if key.chars().count() <= MAX_TEXT => key,
        Some(_) => {
            return Err(refused(
                at,
                Some("key"),
                format!("at most {MAX_TEXT} characters"),
            ))
        }
        None => derived_key(&campaign, &customer_id, &event_type, &time, value),
    };
    Ok(Event {
        key,
        campaign,
        customer_id,
        event_type,
        time,
        value,
    })
}

/// A whole number without a fraction (`42`, not `42.0`), so an id sent as a number or as
/// a string is the same id.
fn number_text(x: f64) -> String {
    match x.fract() == 0.0 && x.abs() < 1e15 {
        true => format!("{}", x as i64),
        false => x.to_string(),
    }
}

/// RFC 3339 with any offset, or a naive date/time read as UTC → `YYYY-MM-DDTHH:MM:SSZ`.
pub fn parse_time(text: &str) -> Option<String> {
    let utc = match chrono::DateTime::parse_from_rfc3339(text.trim()) {
        Ok(t) => t.with_timezone(&chrono::Utc).naive_utc(),
        Err(_) => crate::data::transactions::parse_time(text)?,
    };
    Some(utc.format("%Y-%m-%dT%H:%M:%SZ").to_string())
}

/// The key of an event sent without one: a hash of its checked fields, so the same
/// event written differently (`2024-05-01` vs `2024-05-01T00:00:00Z`) is the same key.
fn derived_key(
    campaign: &str,
    customer_id: &str,
    event_type: &str,
    time: &str,
    value: Option<f64>,
) -> String {
    let mut hash = Sha256::new();
    for part in [campaign, customer_id, event_type, time] {
        hash.update(part.as_bytes());
        hash.update([0x1f]);
    }
    if let Some(v) = value {
        hash.update(v.to_bits().to_be_bytes());
    }
    let digest = hash.finalize();
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("derived:{hex}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn input(pairs: &[(&str, &str)]) -> EventInput {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), Field::Text(v.to_string())))
            .collect()
    }

    const GOOD: &[(&str, &str)] = &[
        ("campaign", "spring"),
        ("customer_id", "42"),
        ("type", "purchased"),
        ("time", "2024-05-01"),
        ("value", "19.5"),
    ];

    #[test]
    fn a_good_event_is_normalised_and_keyed() {
        let event = check(&input(GOOD), "line 2").unwrap();
        assert_eq!(event.time, "2024-05-01T00:00:00Z");
        assert_eq!(event.value, Some(19.5));
        assert!(event.key.starts_with("derived:"));
        let mut same = input(GOOD);
        same.insert(
            "time".into(),
            Field::Text("2024-05-01T02:00:00+02:00".into()),
        );
        same.insert("customer_id".into(), Field::Number(42.0));
        assert_eq!(check(&same, "x").unwrap().key, event.key);
        let mut keyed = input(GOOD);
        keyed.insert("key".into(), Field::Text("crm-1".into()));
        assert_eq!(check(&keyed, "x").unwrap().key, "crm-1");
    }

    #[test]
    fn each_bad_field_is_named() {
        let cases = [
            ("type", Some("bought"), "not one of"),
            ("time", Some("yesterday"), "RFC 3339"),
            ("value", Some("ten"), "not a number"),
            ("value", Some("inf"), "finite"),
            ("campaign", None, "missing"),
            ("customer_id", None, "missing"),
        ];
        for (field, value, needle) in cases {
            let mut fields = input(GOOD);
            match value {
                Some(v) => fields.insert(field.into(), Field::Text(v.into())),
                None => fields.remove(field),
            };
            let error = check(&fields, "line 7").unwrap_err();
            assert_eq!(error.field.as_deref(), Some(field));
            assert!(error.to_string().starts_with("line 7: field"), "{error}");
            assert!(error.message.contains(needle), "{error}");
        }
    }

    #[test]
    fn json_objects_become_fields_and_other_shapes_are_refused() {
        let json = serde_json::json!({"campaign": "c", "customer_id": 7, "type": "responded",
            "time": "2024-01-01", "value": null, "extra": ""});
        let fields = input_from_json(&json, "[0]").unwrap();
        assert_eq!(fields.get("customer_id"), Some(&Field::Number(7.0)));
        assert!(!fields.contains_key("value") && !fields.contains_key("extra"));
        assert_eq!(check(&fields, "[0]").unwrap().customer_id, "7");
        let error = input_from_json(&serde_json::json!({"value": [1]}), "[3]").unwrap_err();
        assert_eq!(
            (error.at.as_str(), error.field.as_deref()),
            ("[3]", Some("value"))
        );
        assert!(input_from_json(&serde_json::json!([1]), "[4]").is_err());
    }

    proptest! {
        #[test]
        fn any_input_is_an_event_or_an_error_never_a_panic(
            pairs in prop::collection::vec(
                (prop::sample::select(vec!["campaign", "customer_id", "type", "time", "value", "key"]),
                 ".{0,30}"), 0..8)
        ) {
            let fields: EventInput = pairs.into_iter()
                .map(|(k, v)| (k.to_string(), Field::Text(v))).collect();
            if let Ok(event) = check(&fields, "line 1") {
                prop_assert!(EVENT_TYPES.contains(&event.event_type.as_str()));
                prop_assert!(event.time.ends_with('Z'));
                prop_assert_eq!(check(&fields, "line 1").unwrap().key, event.key);
            }
        }
    }
}
