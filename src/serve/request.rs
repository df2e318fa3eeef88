//! JSON customer → the Scorer's input values. What is accepted:
//! - the training columns as fields; unknown fields are ignored;
//! - a number or a string per field (a string holding a number is fine for numeric columns);
//! - `null`, an absent field, `""`, `"NA"`, `"NaN"`, `"null"` → missing (imputed);
//! - anything else (objects, arrays, booleans, text in a numeric column, `"inf"`) → 400 naming
//!   the field;
//! - the id field (when the bundle has one) must be a non-missing string or number: a
//!   record without an id is refused (400 naming the field), as batch rejects such a row.

use super::error::{json_error, ApiError, Code};
use crate::features::Value;
use crate::score::{ScoreError, Scorer};
use actix_web::error::JsonPayloadError;
use actix_web::http::header::{ACCEPT, CONTENT_LENGTH, CONTENT_TYPE};
use actix_web::web::{Bytes, BytesMut, Payload};
use actix_web::{mime, HttpMessage, HttpRequest};
use futures_core::Stream;
use serde_json::Value as Json;
use std::borrow::Cow;
use std::pin::Pin;

/// The body of a JSON request, read but not parsed, checked as actix's `JsonConfig` checks
/// it (a JSON content type, at most `limit` bytes), with the same error answers. Parsing
/// is left to the caller so that big bodies can be parsed off the async worker.
pub async fn json_body(
    req: &HttpRequest,
    payload: Payload,
    limit: usize,
) -> Result<Bytes, ApiError> {
    if BodyFormat::of(req) != Some(BodyFormat::Json) {
        return Err(json_error(JsonPayloadError::ContentType));
    }
    limited_body(req, payload, limit).await
}

/// The body of a request, read but not parsed, refused (413) past `limit` bytes.
pub async fn limited_body(
    req: &HttpRequest,
    payload: Payload,
    limit: usize,
) -> Result<Bytes, ApiError> {
    let declared = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if let Some(length) = declared.filter(|&n| n > limit) {
        return Err(json_error(JsonPayloadError::OverflowKnownLength {
            length,
            limit,
        }));
    }
    read_body(payload, declared, limit).await
}

/// The formats a batch of records comes in and is answered in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFormat {
    /// `application/json` (or a `+json` type).
    Json,
    /// `text/csv`: a header row, then one customer a row, as `custscore score` reads.
    Csv,
}

impl BodyFormat {
    /// The format the request's Content-Type names, if one of ours.
    pub fn of(req: &HttpRequest) -> Option<Self> {
        // The two plain forms nearly every client sends, without parsing a media type.
        let given = req.headers().get(CONTENT_TYPE).map(|v| v.as_bytes());
        match given {
            Some(v) if v.eq_ignore_ascii_case(b"application/json") => {
                return Some(BodyFormat::Json)
            }
            Some(v) if v.eq_ignore_ascii_case(b"text/csv") => return Some(BodyFormat::Csv),
            _ => {}
        }
        let m = req.mime_type().ok()??;
        if m.subtype() == mime::JSON || m.suffix() == Some(mime::JSON) {
            Some(BodyFormat::Json)
        } else if m.type_() == mime::TEXT && m.subtype() == mime::CSV {
            Some(BodyFormat::Csv)
        } else {
            None
        }
    }

    pub fn media_type(self) -> &'static str {
        match self {
            BodyFormat::Json => "application/json",
            BodyFormat::Csv => "text/csv",
        }
    }

    /// Whether the request's Accept header (all of them, as one list) takes an answer
    /// in this format. The most specific media range that matches decides, and `q=0`
    /// refuses. Ranges that do not parse are skipped; no Accept header, or one without
    /// a range that parses (`Accept:` left empty), takes anything.
    pub fn accepted_by(self, req: &HttpRequest) -> bool {
        let (kind, sub) = self
            .media_type()
            .split_once('/')
            .unwrap_or((self.media_type(), ""));
        let mut best: Option<(u8, bool)> = None;
        let mut any_range = false;
        let ranges = req
            .headers()
            .get_all(ACCEPT)
            .filter_map(|h| h.to_str().ok())
            .flat_map(|h| h.split(','));
        for range in ranges {
            let Ok(m) = range.trim().parse::<mime::Mime>() else {
                continue;
            };
            any_range = true;
            let specificity = match (m.type_().as_str(), m.subtype().as_str()) {
                (t, s) if t.eq_ignore_ascii_case(kind) && s.eq_ignore_ascii_case(sub) => 2,
                (t, "*") if t.eq_ignore_ascii_case(kind) => 1,
                ("*", "*") => 0,
                _ => continue,
            };
            let q = m.get_param("q").map(|q| q.as_str().trim().parse::<f32>());
            let takes = !matches!(q, Some(Ok(q)) if q <= 0.0);
            if best.is_none_or(|(s, _)| specificity > s) {
                best = Some((specificity, takes));
            }
        }
        match best {
            Some((_, takes)) => takes,
            None => !any_range,
        }
    }
}

/// The body's bytes, refused past `limit`. A body that arrives in one chunk is that
/// chunk, not a copy; a longer one is copied once into a buffer sized from
/// Content-Length, where growing by doubling would copy it again at every step.
async fn read_body(
    mut payload: Payload,
    declared: Option<usize>,
    limit: usize,
) -> Result<Bytes, ApiError> {
    let overflow = || json_error(JsonPayloadError::Overflow { limit });
    let Some(first) = next_chunk(&mut payload).await? else {
        return Ok(Bytes::new());
    };
    if first.len() > limit {
        return Err(overflow());
    }
    let Some(mut chunk) = next_chunk(&mut payload).await? else {
        return Ok(first);
    };
    let mut body = BytesMut::with_capacity(declared.unwrap_or(0).clamp(first.len(), limit));
    body.extend_from_slice(&first);
    loop {
        if body.len() + chunk.len() > limit {
            return Err(overflow());
        }
        body.extend_from_slice(&chunk);
        match next_chunk(&mut payload).await? {
            Some(next) => chunk = next,
            None => return Ok(body.freeze()),
        }
    }
}

async fn next_chunk(payload: &mut Payload) -> Result<Option<Bytes>, ApiError> {
    let next = std::future::poll_fn(|cx| Pin::new(&mut *payload).poll_next(cx)).await;
    next.transpose()
        .map_err(|e| ApiError::new(Code::InvalidJson, format!("could not read the body: {e}")))
}

/// Parse a body read by [`json_body`]; bad JSON is a 400 as with actix's extractor.
pub fn parse_json(body: &[u8]) -> Result<Json, ApiError> {
    serde_json::from_slice(body).map_err(json_syntax)
}

/// Parse a body that must be a JSON array of at most `limit` elements: `what` names the
/// elements expected ("customer objects") and `unit` how they are counted ("items").
pub fn parse_json_array(
    body: &[u8],
    limit: usize,
    what: &str,
    unit: &str,
) -> Result<Vec<Json>, ApiError> {
    let Json::Array(items) = parse_json(body)? else {
        return Err(ApiError::field(
            Code::InvalidJson,
            "body",
            format!("expected a JSON array of {what}"),
        ));
    };
    if items.len() > limit {
        return Err(ApiError::field(
            Code::TooManyItems,
            "body",
            format!("{} {unit}; at most {limit} per request", items.len()),
        ));
    }
    Ok(items)
}

/// The fields a record is read into: the inputs in input order, and the id column.
pub trait Fields {
    fn n_inputs(&self) -> usize;
    fn input_name(&self, at: usize) -> &str;
    fn id_column(&self) -> Option<&str>;
}

impl Fields for Scorer {
    fn n_inputs(&self) -> usize {
        Scorer::n_inputs(self)
    }

    fn input_name(&self, at: usize) -> &str {
        &self.bundle().encoder.inputs[at].name
    }

    fn id_column(&self) -> Option<&str> {
        Scorer::id_column(self)
    }
}

/// A record's values (one per input, in input order) and its id as sent (`None` when
/// absent or null), before the id rule of [`finish_id`].
#[derive(Debug, Clone, PartialEq)]
pub struct RawRecord<'a> {
    pub id: Option<Cow<'a, str>>,
    pub values: Vec<Value<'a>>,
}

/// Turn one JSON object into (id, values in the scorer's input order).
/// `path` prefixes field names in errors (`items[2].`) for batch requests.
pub fn record_from_json<'a>(
    scorer: &Scorer,
    body: &'a Json,
    path: &str,
) -> Result<(Cow<'a, str>, Vec<Value<'a>>), ApiError> {
    let raw = raw_from_tree(scorer, body, path)?;
    Ok((finish_id(scorer, raw.id, path)?, raw.values))
}

/// The values and id of a JSON tree by the rules in this module's head.
pub fn raw_from_tree<'a>(
    fields: &impl Fields,
    body: &'a Json,
    path: &str,
) -> Result<RawRecord<'a>, ApiError> {
    let Json::Object(map) = body else {
        return Err(not_an_object(path, kind(body)));
    };
    let values = (0..fields.n_inputs())
        .map(|at| {
            let name = fields.input_name(at);
            match map.get(name) {
                None | Some(Json::Null) => Ok(Value::Missing),
                Some(Json::Number(n)) => n
                    .as_f64()
                    .map(Value::Number)
                    .ok_or_else(|| out_of_range(path, name)),
                Some(Json::String(s)) => Ok(Value::Text(Cow::Borrowed(s.as_str()))),
                Some(other) => Err(bad_value(path, name, kind(other))),
            }
        })
        .collect::<Result<Vec<_>, _>>()?;
    let Some(column) = fields.id_column() else {
        return Ok(RawRecord { id: None, values });
    };
    let id = match map.get(column) {
        None | Some(Json::Null) => None,
        Some(Json::String(s)) => Some(Cow::Borrowed(s.as_str())),
        Some(Json::Number(n)) => Some(Cow::Owned(n.to_string())),
        Some(other) => return Err(id_error(path, column, kind(other))),
    };
    Ok(RawRecord { id, values })
}

/// The record's id by the Scorer's one rule (trimmed; refused when the bundle has an id
/// column and the record has none).
pub fn finish_id<'a>(
    scorer: &Scorer,
    raw: Option<Cow<'a, str>>,
    path: impl std::fmt::Display,
) -> Result<Cow<'a, str>, ApiError> {
    let missing = |e: ScoreError| {
        let column = scorer.id_column().unwrap_or_default();
        ApiError::field(Code::InvalidField, format!("{path}{column}"), e.to_string())
    };
    match raw {
        Some(Cow::Borrowed(s)) => scorer.record_id(Some(s)).map(Cow::Borrowed),
        other => scorer
            .record_id(other.as_deref())
            .map(|id| Cow::Owned(id.to_string())),
    }
    .map_err(missing)
}

/// A syntax error in a body, as actix's JSON extractor answers it.
pub fn json_syntax(e: serde_json::Error) -> ApiError {
    json_error(JsonPayloadError::Deserialize(e))
}

pub fn not_an_object(path: &str, kind: &str) -> ApiError {
    let field = if path.is_empty() {
        "body"
    } else {
        path.trim_end_matches('.')
    };
    ApiError::field(
        Code::InvalidJson,
        field,
        format!("expected a JSON object of customer fields, got {kind}"),
    )
}

pub fn bad_value(path: &str, name: &str, kind: &str) -> ApiError {
    ApiError::field(
        Code::InvalidField,
        format!("{path}{name}"),
        format!("expected a number or a string, got {kind}"),
    )
}

pub fn out_of_range(path: &str, name: &str) -> ApiError {
    ApiError::field(
        Code::InvalidField,
        format!("{path}{name}"),
        "number out of range",
    )
}

pub fn id_error(path: &str, column: &str, kind: &str) -> ApiError {
    ApiError::field(
        Code::InvalidField,
        format!("{path}{column}"),
        format!("expected the id as a string or a number, got {kind}"),
    )
}

pub(super) fn kind(value: &Json) -> &'static str {
    match value {
        Json::Null => "null",
        Json::Bool(_) => "a boolean",
        Json::Number(_) => "a number",
        Json::String(_) => "a string",
        Json::Array(_) => "an array",
        Json::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn request(content_type: Option<&str>, accept: &[&str]) -> HttpRequest {
        let mut req = TestRequest::default();
        if let Some(content_type) = content_type {
            req = req.insert_header(("content-type", content_type));
        }
        for value in accept {
            req = req.append_header((ACCEPT, *value));
        }
        req.to_http_request()
    }

    #[test]
    fn the_body_format_comes_from_the_content_type() {
        let of = |t| BodyFormat::of(&request(Some(t), &[]));
        assert_eq!(of("application/json"), Some(BodyFormat::Json));
        assert_eq!(of("application/vnd.api+json"), Some(BodyFormat::Json));
        assert_eq!(of("text/csv; charset=utf-8"), Some(BodyFormat::Csv));
        assert_eq!(of("TEXT/CSV"), Some(BodyFormat::Csv));
        for other in [
            "text/plain",
            "application/csv",
            "multipart/form-data",
            "nonsense",
        ] {
            assert_eq!(of(other), None, "{other}");
        }
        assert_eq!(BodyFormat::of(&request(None, &[])), None);
    }

    #[test]
    fn the_most_specific_accept_range_decides_and_q_0_refuses() {
        let takes =
            |format: BodyFormat, accept: &[&str]| format.accepted_by(&request(None, accept));
        let (json, csv) = (BodyFormat::Json, BodyFormat::Csv);
        assert!(
            takes(csv, &[]) && takes(json, &[]),
            "no Accept takes anything"
        );
        assert!(takes(csv, &["text/csv"]) && !takes(json, &["text/csv"]));
        assert!(takes(csv, &["text/*"]) && !takes(json, &["text/*"]));
        assert!(takes(csv, &["*/*"]) && takes(json, &["*/*"]));
        assert!(takes(json, &["application/json", "text/csv;q=0.2"]));
        assert!(takes(csv, &["application/json, text/csv;q=0.2"]));
        assert!(!takes(csv, &["*/*, text/csv;q=0"]), "the exact range wins");
        assert!(takes(csv, &["text/csv;q=0.5, */*;q=0"]));
        assert!(!takes(csv, &["text/*;q=0.0, */*"]));
        assert!(takes(csv, &["TEXT/CSV"]));
        assert!(!takes(csv, &["text/html", "application/json"]));
        assert!(takes(csv, &[""]) && takes(json, &["not a media range"]));
        assert!(!takes(csv, &["nonsense, application/json"]));
    }
}
