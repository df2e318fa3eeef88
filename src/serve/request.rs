//! JSON customer → the Scorer's input values. What is accepted:
//! - the training columns as fields; unknown fields are ignored;
//! - a number or a string per field (a string holding a number is fine for numeric columns);
//! - `null`, an absent field, `""`, `"NA"`, `"NaN"`, `"null"` → missing (imputed);
//! - anything else (objects, arrays, booleans, text in a numeric column, `"inf"`) → 400 naming
//!   the field.

use super::error::{ApiError, Code};
use crate::features::Value;
use crate::score::Scorer;
use serde_json::Value as Json;
use std::borrow::Cow;

/// Turn one JSON object into (id, values in the scorer's input order).
/// `path` prefixes field names in errors (`items[2].`) for batch requests.
pub fn record_from_json<'a>(
    scorer: &Scorer,
    body: &'a Json,
    path: &str,
) -> Result<(Cow<'a, str>, Vec<Value<'a>>), ApiError> {
    let Json::Object(fields) = body else {
        let field = if path.is_empty() {
            "body"
        } else {
            path.trim_end_matches('.')
        };
        return Err(ApiError::field(
            Code::InvalidJson,
            field,
            format!(
                "expected a JSON object of customer fields, got {}",
                kind(body)
            ),
        ));
    };
    let values = scorer
        .input_names()
        .map(|name| match fields.get(name) {
            None | Some(Json::Null) => Ok(Value::Missing),
            Some(Json::Number(n)) => n.as_f64().map(Value::Number).ok_or_else(|| {
                ApiError::field(
                    Code::InvalidField,
                    format!("{path}{name}"),
                    "number out of range",
                )
            }),
            Some(Json::String(s)) => Ok(Value::Text(Cow::Borrowed(s.as_str()))),
            Some(other) => Err(ApiError::field(
                Code::InvalidField,
                format!("{path}{name}"),
                format!("expected a number or a string, got {}", kind(other)),
            )),
        })
        .collect::<Result<Vec<_>, _>>()?;
    let id = scorer
        .bundle()
        .manifest
        .schema
        .id
        .as_deref()
        .and_then(|id| fields.get(id))
        .map_or(Cow::Borrowed(""), |v| match v {
            Json::String(s) => Cow::Borrowed(s.as_str()),
            Json::Null => Cow::Borrowed(""),
            other => Cow::Owned(other.to_string()),
        });
    Ok((id, values))
}

fn kind(value: &Json) -> &'static str {
    match value {
        Json::Null => "null",
        Json::Bool(_) => "a boolean",
        Json::Number(_) => "a number",
        Json::String(_) => "a string",
        Json::Array(_) => "an array",
        Json::Object(_) => "an object",
    }
}
