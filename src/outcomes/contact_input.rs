//! Contacts made outside custscore (another scoring run, a campaign tool), read from a
//! CSV record or a JSON object for `outcomes import --contacts`. The fields are those
//! `score --campaign` records: campaign, customer_id, time, arm and model_version are
//! required; churn_probability, risk_band, segment, segment_name and offers may be
//! given. The input row as scored is the CSV's other columns, or the JSON's `inputs`
//! object, kept as a JSON object of column → value (numbers as numbers, empty as null).

use super::contacts::{Arm, Contact};
use super::events::{parse_time, EventError};
use serde_json::{Map, Value};

/// The contact's own fields; every other CSV column is an input.
const CONTACT_FIELDS: &[&str] = &[
    "campaign",
    "customer_id",
    "time",
    "arm",
    "model_version",
    "churn_probability",
    "risk_band",
    "segment",
    "segment_name",
    "offers",
];

/// Longest campaign, customer id, version or band accepted (as for events).
const MAX_TEXT: usize = 200;

/// One CSV record → a contact; cells are trimmed and an empty cell is absent.
pub fn contact_from_csv(
    header: &[String],
    record: &csv::StringRecord,
    at: &str,
) -> Result<Contact, EventError> {
    let mut fields = Map::new();
    let mut inputs = Map::new();
    for (name, cell) in header.iter().zip(record.iter()) {
        let cell = cell.trim();
        if CONTACT_FIELDS.contains(&name.as_str()) {
            if !cell.is_empty() {
                fields.insert(name.clone(), Value::String(cell.to_string()));
            }
        } else {
            inputs.insert(name.clone(), input_cell(cell));
        }
    }
    fields.insert("inputs".to_string(), Value::Object(inputs));
    contact_from_json(&Value::Object(fields), at)
}

/// A CSV cell of the input row as JSON: a finite number, null when empty, else text.
fn input_cell(cell: &str) -> Value {
    if cell.is_empty() {
        return Value::Null;
    }
    match cell
        .parse::<f64>()
        .ok()
        .and_then(serde_json::Number::from_f64)
    {
        Some(n) => Value::Number(n),
        None => Value::String(cell.to_string()),
    }
}

/// One JSON object → a contact, each problem named by its field.
pub fn contact_from_json(json: &Value, at: &str) -> Result<Contact, EventError> {
    let Value::Object(object) = json else {
        return Err(refused(
            at,
            None,
            "expected a JSON object with campaign, customer_id, time, arm and model_version",
        ));
    };
    let text = |name: &str| -> Result<Option<String>, EventError> {
        let value = match object.get(name) {
            None | Some(Value::Null) => return Ok(None),
            Some(Value::String(s)) if s.trim().is_empty() => return Ok(None),
            Some(Value::String(s)) => s.trim().to_string(),
            Some(Value::Number(n)) => n.to_string(),
            Some(_) => return Err(refused(at, Some(name), "expected a string")),
        };
        if value.chars().count() > MAX_TEXT || value.chars().any(char::is_control) {
            return Err(refused(
                at,
                Some(name),
                format!("at most {MAX_TEXT} characters, no control characters"),
            ));
        }
        Ok(Some(value))
    };
    let required = |name: &str| text(name)?.ok_or_else(|| refused(at, Some(name), "missing"));
    let number = |name: &str| -> Result<Option<f64>, EventError> {
        let x = match object.get(name) {
            None | Some(Value::Null) => return Ok(None),
            Some(Value::Number(n)) => n.as_f64(),
            Some(Value::String(s)) if s.trim().is_empty() => return Ok(None),
            Some(Value::String(s)) => s.trim().parse::<f64>().ok(),
            Some(_) => None,
        };
        match x {
            Some(x) if x.is_finite() => Ok(Some(x)),
            _ => Err(refused(at, Some(name), "expected a finite number")),
        }
    };
    let campaign = required("campaign")?;
    let customer_id = required("customer_id")?;
    let contacted_at = parse_time(&required("time")?).ok_or_else(|| {
        refused(
            at,
            Some("time"),
            "expected RFC 3339 (2024-05-01T10:00:00Z) or YYYY-MM-DD[ HH:MM[:SS]] (UTC)",
        )
    })?;
    let arm_text = required("arm")?;
    let arm = Arm::parse(&arm_text.to_ascii_lowercase()).ok_or_else(|| {
        refused(
            at,
            Some("arm"),
            format!("`{arm_text}` is not treatment or control"),
        )
    })?;
    let model_version = required("model_version")?;
    let churn_probability = number("churn_probability")?;
    if churn_probability.is_some_and(|p| !(0.0..=1.0).contains(&p)) {
        return Err(refused(
            at,
            Some("churn_probability"),
            "must be between 0 and 1",
        ));
    }
    let segment = match number("segment")? {
        None => 0,
        Some(s) if s >= 0.0 && s.fract() == 0.0 && s < 1e6 => s as usize,
        Some(s) => {
            return Err(refused(
                at,
                Some("segment"),
                format!("{s} is not a segment number"),
            ))
        }
    };
    let inputs = match object.get("inputs") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(o)) if o.values().all(is_scalar) => o.clone(),
        Some(_) => {
            return Err(refused(
                at,
                Some("inputs"),
                "expected an object of column names to numbers, strings or null",
            ))
        }
    };
    Ok(Contact {
        campaign,
        customer_id,
        contacted_at,
        model_version,
        arm,
        churn_probability,
        risk_band: text("risk_band")?,
        segment,
        segment_name: text("segment_name")?.unwrap_or_default(),
        offers: text("offers")?.unwrap_or_default(),
        inputs: Value::Object(inputs).to_string(),
    })
}

fn is_scalar(value: &Value) -> bool {
    matches!(
        value,
        Value::Null | Value::Number(_) | Value::String(_) | Value::Bool(_)
    )
}

fn refused(at: &str, field: Option<&str>, message: impl Into<String>) -> EventError {
    EventError {
        at: at.to_string(),
        field: field.map(String::from),
        message: message.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn csv_contact(header: &str, row: &str) -> Result<Contact, EventError> {
        let header: Vec<String> = header.split(',').map(String::from).collect();
        let record = csv::StringRecord::from(row.split(',').collect::<Vec<_>>());
        contact_from_csv(&header, &record, "line 2")
    }

    const HEADER: &str =
        "campaign,customer_id,time,arm,model_version,churn_probability,tenure,contract,charges";

    #[test]
    fn a_csv_row_keeps_its_other_columns_as_the_inputs() {
        let c = csv_contact(
            HEADER,
            "spring,42,2024-05-01,Control,v7,0.25,3,Month-to-month,",
        )
        .unwrap();
        assert_eq!(
            (c.campaign.as_str(), c.customer_id.as_str()),
            ("spring", "42")
        );
        assert_eq!(c.contacted_at, "2024-05-01T00:00:00Z");
        assert_eq!(c.arm, Arm::Control);
        assert_eq!(c.churn_probability, Some(0.25));
        let inputs: Value = serde_json::from_str(&c.inputs).unwrap();
        assert_eq!(
            inputs,
            serde_json::json!({"tenure": 3.0, "contract": "Month-to-month", "charges": null})
        );
    }

    #[test]
    fn each_bad_field_is_named() {
        let cases = [
            ("spring,42,2024-05-01,maybe,v7,0.2,1,a,2", "arm"),
            ("spring,42,yesterday,control,v7,0.2,1,a,2", "time"),
            ("spring,,2024-05-01,control,v7,0.2,1,a,2", "customer_id"),
            ("spring,42,2024-05-01,control,,0.2,1,a,2", "model_version"),
            (
                "spring,42,2024-05-01,control,v7,1.5,1,a,2",
                "churn_probability",
            ),
            (
                "spring,42,2024-05-01,control,v7,high,1,a,2",
                "churn_probability",
            ),
        ];
        for (row, field) in cases {
            let error = csv_contact(HEADER, row).unwrap_err();
            assert_eq!(error.field.as_deref(), Some(field), "{row}: {error}");
            assert_eq!(error.at, "line 2");
        }
    }

    #[test]
    fn json_inputs_must_be_an_object_of_plain_values() {
        let base = serde_json::json!({"campaign": "s", "customer_id": 7, "time": "2024-05-01T10:00:00+02:00",
            "arm": "treatment", "model_version": "v1", "segment": 2, "inputs": {"tenure": 3}});
        let c = contact_from_json(&base, "line 1").unwrap();
        assert_eq!((c.customer_id.as_str(), c.segment), ("7", 2));
        assert_eq!(c.contacted_at, "2024-05-01T08:00:00Z");
        let mut nested = base.clone();
        nested["inputs"] = serde_json::json!({"tenure": [3]});
        let error = contact_from_json(&nested, "line 1").unwrap_err();
        assert_eq!(error.field.as_deref(), Some("inputs"));
        let error = contact_from_json(&serde_json::json!([1]), "line 9").unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("line 9: expected a JSON object"),
            "{error}"
        );
    }

    proptest! {
        #[test]
        fn any_json_object_is_a_contact_or_a_named_refusal(
            arm in "[a-zA-Z]{0,10}", id in "\\PC{0,20}", p in proptest::num::f64::ANY, segment in -3i64..10
        ) {
            let json = serde_json::json!({"campaign": "s", "customer_id": id, "time": "2024-05-01",
                "arm": arm, "model_version": "v1", "churn_probability": p, "segment": segment});
            match contact_from_json(&json, "line 1") {
                Ok(c) => {
                    prop_assert!(matches!(arm.to_ascii_lowercase().as_str(), "treatment" | "control"));
                    prop_assert!(c.churn_probability.is_none_or(|p| (0.0..=1.0).contains(&p)));
                    prop_assert_eq!(c.segment as i64, segment);
                }
                Err(e) => prop_assert!(e.field.is_some(), "{}", e),
            }
        }
    }
}
