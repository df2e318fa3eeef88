//! JSON customer → the Scorer's input slots in one pass over the request body, with
//! strings borrowed from the body: no JSON value tree, no map of owned keys.
//!
//! The rules are those of [`super::request::raw_from_tree`] (the tree path, which records
//! naming a campaign still take), answer for answer and error for error: bad JSON is the
//! parser's own error, a duplicate field keeps its last value, a field error names the
//! first bad input in input order, then the id. A proptest holds the two paths equal.

use super::error::{ApiError, Code};
use super::json_text::plain_len;
use super::request::{
    bad_value, id_error, json_syntax, not_an_object, out_of_range, Fields, RawRecord,
};
use crate::features::Value;
use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Number, Value as Json};
use std::borrow::Cow;
use std::fmt;

mod flat;

/// Fields that make a record a campaign contact: such records are read through the JSON
/// tree, where the campaign rules live.
const CAMPAIGN_FIELDS: [&str; 2] = ["campaign", "control_share"];

/// One record body, the names taken for it alone.
#[cfg(test)]
fn read_record<'a>(
    fields: &impl Fields,
    body: &'a [u8],
) -> Result<Option<RawRecord<'a>>, ApiError> {
    read_record_named(fields, &Names::new(fields), body)
}

/// One record body, with the `fields`' names prepared once (the service keeps them per
/// bundle). `Ok(None)`: the record names a campaign (use the tree path).
pub fn read_record_named<'a>(
    fields: &impl Fields,
    names: &Names,
    body: &'a [u8],
) -> Result<Option<RawRecord<'a>>, ApiError> {
    let shape = match flat::record(names, body) {
        Some(shape) => shape,
        None => parse(body, RecordSeed { names })?,
    };
    shape.into_record(fields, ItemPath::Body).transpose()
}

/// A body's records, each read or refused on its own.
pub type BatchRecords<'a> = Vec<Result<RawRecord<'a>, ApiError>>;

/// One batch body, the names taken for it alone.
#[cfg(test)]
fn read_batch<'a>(
    fields: &impl Fields,
    body: &'a [u8],
    limit: usize,
) -> Result<Option<BatchRecords<'a>>, ApiError> {
    read_batch_named(fields, &Names::new(fields), body, limit)
}

/// One batch body: a JSON array of at most `limit` records, each read or refused on its
/// own (`[i].field` in errors). `Ok(None)`: some record names a campaign.
pub fn read_batch_named<'a>(
    fields: &impl Fields,
    names: &Names,
    body: &'a [u8],
    limit: usize,
) -> Result<Option<BatchRecords<'a>>, ApiError> {
    let read = match flat::batch(names, body) {
        Some(shapes) => Batch::Records(shapes),
        None => parse(body, BatchSeed { names })?,
    };
    let Batch::Records(shapes) = read else {
        return Err(ApiError::field(
            Code::InvalidJson,
            "body",
            "expected a JSON array of customer objects",
        ));
    };
    if shapes.len() > limit {
        return Err(ApiError::field(
            Code::TooManyItems,
            "body",
            format!("{} items; at most {limit} per request", shapes.len()),
        ));
    }
    let mut records = Vec::with_capacity(shapes.len());
    for (index, shape) in shapes.into_iter().enumerate() {
        match shape.into_record(fields, ItemPath::Item(index)) {
            Some(record) => records.push(record),
            None => return Ok(None),
        }
    }
    Ok(Some(records))
}

fn parse<'a, T>(body: &'a [u8], seed: impl DeserializeSeed<'a, Value = T>) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let value = seed.deserialize(&mut de).map_err(json_syntax)?;
    de.end().map_err(json_syntax)?;
    Ok(value)
}

/// Where a record sits, for the field names in its errors (`[2].tenure`); written only
/// when there is an error to name.
#[derive(Clone, Copy)]
pub enum ItemPath {
    Body,
    Item(usize),
}

impl fmt::Display for ItemPath {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            ItemPath::Body => Ok(()),
            ItemPath::Item(index) => write!(f, "[{index}]."),
        }
    }
}

/// One JSON value as a record field sees it.
#[derive(Clone)]
enum Scalar<'a> {
    Null,
    Number(Number),
    Text(Cow<'a, str>),
    /// An array, object or boolean: named by its kind in errors.
    Other(&'static str),
}

/// A record as parsed, before the rules: what each input slot and the id field held.
enum Shape<'a> {
    Object {
        /// One value per input, in input order; `Missing` where the JSON was bad.
        values: Vec<Value<'a>>,
        /// The JSON each input could not take, by input; empty when there was none.
        bad: Vec<Option<Scalar<'a>>>,
        id: Scalar<'a>,
        campaign: bool,
    },
    /// The body (or batch item) was not an object: its kind.
    NotObject(&'static str),
}

impl<'a> Shape<'a> {
    /// The record by the rules, or `None` when it names a campaign.
    fn into_record(
        self,
        fields: &impl Fields,
        path: ItemPath,
    ) -> Option<Result<RawRecord<'a>, ApiError>> {
        match self {
            Shape::NotObject(kind) => Some(Err(not_an_object(&path.to_string(), kind))),
            Shape::Object { campaign: true, .. } => None,
            Shape::Object {
                values, bad, id, ..
            } => Some(checked(fields, values, bad, id, path)),
        }
    }
}

/// Input values in input order, the first bad one refused, then the id's type checked.
fn checked<'a>(
    fields: &impl Fields,
    values: Vec<Value<'a>>,
    bad: Vec<Option<Scalar<'a>>>,
    id: Scalar<'a>,
    path: ItemPath,
) -> Result<RawRecord<'a>, ApiError> {
    let path = || path.to_string();
    let mut first_bad = bad.iter().enumerate();
    if let Some((at, json)) = first_bad.find_map(|(at, b)| b.as_ref().map(|b| (at, b))) {
        return Err(match json {
            Scalar::Other(kind) => bad_value(&path(), fields.input_name(at), kind),
            _ => out_of_range(&path(), fields.input_name(at)),
        });
    }
    let id = match id {
        Scalar::Null => None,
        Scalar::Text(s) => Some(s),
        Scalar::Number(n) => Some(Cow::Owned(n.to_string())),
        Scalar::Other(kind) => {
            let column = fields.id_column().unwrap_or_default();
            return Err(id_error(&path(), column, kind));
        }
    };
    Ok(RawRecord { id, values })
}

/// The names a body's fields are matched against. Taking them from the bundle costs
/// about as much as reading a short record, so the service takes them once per bundle.
pub struct Names {
    inputs: Vec<Box<str>>,
    id: Option<Box<str>>,
    /// Some input is also the id or a campaign field. Usually not, and then a field
    /// that names an input needs no other test.
    shared: bool,
    /// Each input's name with its closing quote and colon (`tenure":`), as a compact
    /// body writes it; empty unless every input name is plain (no quote, backslash or
    /// control byte), so that a body's name equal to one byte for byte is that name
    /// (see `flat`).
    keys: Vec<Box<[u8]>>,
    /// The id's name the same way, when it is plain and no input shares it.
    id_key: Option<Box<[u8]>>,
}

impl Names {
    pub fn new(fields: &impl Fields) -> Self {
        let inputs: Vec<Box<str>> = (0..fields.n_inputs())
            .map(|at| fields.input_name(at).into())
            .collect();
        let id: Option<Box<str>> = fields.id_column().map(Into::into);
        let shared = inputs
            .iter()
            .any(|name| id.as_deref() == Some(&**name) || CAMPAIGN_FIELDS.contains(&&**name));
        let is_plain = |name: &str| plain_len(name.as_bytes()) == name.len();
        let key = |name: &str| [name.as_bytes(), b"\":"].concat().into_boxed_slice();
        let keys = match inputs.iter().all(|name| is_plain(name)) {
            true => inputs.iter().map(|name| key(name)).collect(),
            false => Vec::new(),
        };
        let id_key = id
            .as_deref()
            .filter(|id| !shared && is_plain(id) && !CAMPAIGN_FIELDS.contains(id))
            .map(key);
        Names {
            inputs,
            id,
            shared,
            keys,
            id_key,
        }
    }

    /// The input `name` fills, looked for from `next` on (bodies usually list fields in
    /// input order, so this is one comparison) and then from the start.
    fn slot(&self, name: &str, next: usize) -> Option<usize> {
        let n = self.inputs.len();
        let next = next.min(n);
        if self.inputs.get(next).is_some_and(|input| **input == *name) {
            return Some(next);
        }
        if !self.shared && self.id.as_deref() == Some(name) {
            return None;
        }
        (next..n)
            .chain(0..next)
            .find(|&at| *self.inputs[at] == *name)
    }
}

/// A record's fields as they are read: each input's slot, the id, and whether a
/// campaign is named. Both readers (serde's and [`flat`]) place fields through it.
struct FieldsSeen<'de, 'f> {
    names: &'f Names,
    values: Vec<Value<'de>>,
    /// Made only when an input gets JSON it cannot take (see [`Shape::Object`]).
    bad: Vec<Option<Scalar<'de>>>,
    id: Scalar<'de>,
    campaign: bool,
    /// Bodies usually list fields in input order: look from just after the last match.
    next: usize,
}

impl<'de, 'f> FieldsSeen<'de, 'f> {
    fn new(names: &'f Names) -> Self {
        FieldsSeen {
            names,
            values: vec![Value::Missing; names.inputs.len()],
            bad: Vec::new(),
            id: Scalar::Null,
            campaign: false,
            next: 0,
        }
    }

    /// One field; a name seen twice keeps its last value.
    fn field(&mut self, name: &str, value: Scalar<'de>) {
        match self.names.slot(name, self.next) {
            Some(at) => self.input(at, name, value),
            None => self.not_input(name, value),
        }
    }

    /// A field named as input `at`: found by [`Names::slot`], or the input after the
    /// last placed (`next`), which bodies listing inputs in order name.
    fn input(&mut self, at: usize, name: &str, value: Scalar<'de>) {
        if self.names.shared {
            self.not_input(name, value.clone());
        }
        match slot(value) {
            Ok(value) => self.place(at, value),
            Err(json) => {
                let n = self.values.len();
                self.next = at + 1;
                if self.bad.is_empty() {
                    self.bad.resize_with(n, || None);
                }
                self.values[at] = Value::Missing;
                self.bad[at] = Some(json);
            }
        }
    }

    /// A value input `at` can take, placed in its slot (any other role the field has, see
    /// [`Names::shared`], is the caller's to note).
    #[inline]
    fn place(&mut self, at: usize, value: Value<'de>) {
        self.next = at + 1;
        self.values[at] = value;
        if let Some(bad) = self.bad.get_mut(at) {
            *bad = None;
        }
    }

    /// The roles a field may have besides an input: the id, a campaign field.
    fn not_input(&mut self, name: &str, value: Scalar<'de>) {
        self.campaign |= CAMPAIGN_FIELDS.contains(&name);
        if self.names.id.as_deref() == Some(name) {
            self.id = value;
        }
    }

    fn finish(self) -> Shape<'de> {
        Shape::Object {
            values: self.values,
            bad: self.bad,
            id: self.id,
            campaign: self.campaign,
        }
    }
}

struct RecordSeed<'f> {
    names: &'f Names,
}

impl<'de> DeserializeSeed<'de> for RecordSeed<'_> {
    type Value = Shape<'de>;

    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<Shape<'de>, D::Error> {
        de.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for RecordSeed<'_> {
    type Value = Shape<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object of customer fields")
    }

    fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Shape<'de>, M::Error> {
        let mut seen = FieldsSeen::new(self.names);
        while let Some(key) = map.next_key_seed(KeySeed)? {
            let value = map.next_value_seed(ScalarSeed)?;
            seen.field(&key, value);
        }
        Ok(seen.finish())
    }

    fn visit_seq<S: SeqAccess<'de>>(self, mut seq: S) -> Result<Shape<'de>, S::Error> {
        while seq.next_element::<Json>()?.is_some() {}
        Ok(Shape::NotObject("an array"))
    }

    fn visit_unit<E>(self) -> Result<Shape<'de>, E> {
        Ok(Shape::NotObject("null"))
    }

    fn visit_bool<E>(self, _: bool) -> Result<Shape<'de>, E> {
        Ok(Shape::NotObject("a boolean"))
    }

    fn visit_u64<E>(self, _: u64) -> Result<Shape<'de>, E> {
        Ok(Shape::NotObject("a number"))
    }

    fn visit_i64<E>(self, _: i64) -> Result<Shape<'de>, E> {
        Ok(Shape::NotObject("a number"))
    }

    fn visit_f64<E>(self, x: f64) -> Result<Shape<'de>, E> {
        // As serde_json's tree: a float it cannot hold as a number becomes null.
        Ok(Shape::NotObject(if x.is_finite() {
            "a number"
        } else {
            "null"
        }))
    }

    fn visit_str<E>(self, _: &str) -> Result<Shape<'de>, E> {
        Ok(Shape::NotObject("a string"))
    }
}

/// The input value a field's JSON gives, or the JSON it could not take.
fn slot(value: Scalar<'_>) -> Result<Value<'_>, Scalar<'_>> {
    match value {
        Scalar::Null => Ok(Value::Missing),
        Scalar::Number(ref n) => n.as_f64().map(Value::Number).ok_or(value),
        Scalar::Text(s) => Ok(Value::Text(s)),
        Scalar::Other(_) => Err(value),
    }
}

/// A field name, borrowed unless it holds escapes.
struct KeySeed;

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = Cow<'de, str>;

    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<Cow<'de, str>, D::Error> {
        de.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a field name")
    }

    fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Cow<'de, str>, E> {
        Ok(Cow::Borrowed(s))
    }

    fn visit_str<E>(self, s: &str) -> Result<Cow<'de, str>, E> {
        Ok(Cow::Owned(s.to_owned()))
    }

    fn visit_string<E>(self, s: String) -> Result<Cow<'de, str>, E> {
        Ok(Cow::Owned(s))
    }
}

/// A field's value. Arrays and objects are read as JSON values and dropped: serde's
/// `IgnoredAny` would be cheaper, but its errors on bad JSON are worded differently.
struct ScalarSeed;

impl<'de> DeserializeSeed<'de> for ScalarSeed {
    type Value = Scalar<'de>;

    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<Scalar<'de>, D::Error> {
        de.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ScalarSeed {
    type Value = Scalar<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E>(self) -> Result<Scalar<'de>, E> {
        Ok(Scalar::Null)
    }

    fn visit_bool<E>(self, _: bool) -> Result<Scalar<'de>, E> {
        Ok(Scalar::Other("a boolean"))
    }

    fn visit_u64<E>(self, n: u64) -> Result<Scalar<'de>, E> {
        Ok(Scalar::Number(n.into()))
    }

    fn visit_i64<E>(self, n: i64) -> Result<Scalar<'de>, E> {
        Ok(Scalar::Number(n.into()))
    }

    fn visit_f64<E>(self, x: f64) -> Result<Scalar<'de>, E> {
        Ok(Number::from_f64(x).map_or(Scalar::Null, Scalar::Number))
    }

    fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Scalar<'de>, E> {
        Ok(Scalar::Text(Cow::Borrowed(s)))
    }

    fn visit_str<E>(self, s: &str) -> Result<Scalar<'de>, E> {
        Ok(Scalar::Text(Cow::Owned(s.to_owned())))
    }

    fn visit_string<E>(self, s: String) -> Result<Scalar<'de>, E> {
        Ok(Scalar::Text(Cow::Owned(s)))
    }

    fn visit_seq<S: SeqAccess<'de>>(self, mut seq: S) -> Result<Scalar<'de>, S::Error> {
        while seq.next_element::<Json>()?.is_some() {}
        Ok(Scalar::Other("an array"))
    }

    fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Scalar<'de>, M::Error> {
        while map.next_entry::<String, Json>()?.is_some() {}
        Ok(Scalar::Other("an object"))
    }
}

/// A batch body: the records of an array, or something else.
enum Batch<'a> {
    Records(Vec<Shape<'a>>),
    NotArray,
}

struct BatchSeed<'f> {
    names: &'f Names,
}

impl<'de> DeserializeSeed<'de> for BatchSeed<'_> {
    type Value = Batch<'de>;

    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<Batch<'de>, D::Error> {
        de.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for BatchSeed<'_> {
    type Value = Batch<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON array of customer objects")
    }

    fn visit_seq<S: SeqAccess<'de>>(self, mut seq: S) -> Result<Batch<'de>, S::Error> {
        let mut shapes = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(shape) = seq.next_element_seed(RecordSeed { names: self.names })? {
            shapes.push(shape);
        }
        Ok(Batch::Records(shapes))
    }

    fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Batch<'de>, M::Error> {
        while map.next_entry::<String, Json>()?.is_some() {}
        Ok(Batch::NotArray)
    }

    fn visit_unit<E>(self) -> Result<Batch<'de>, E> {
        Ok(Batch::NotArray)
    }

    fn visit_bool<E>(self, _: bool) -> Result<Batch<'de>, E> {
        Ok(Batch::NotArray)
    }

    fn visit_u64<E>(self, _: u64) -> Result<Batch<'de>, E> {
        Ok(Batch::NotArray)
    }

    fn visit_i64<E>(self, _: i64) -> Result<Batch<'de>, E> {
        Ok(Batch::NotArray)
    }

    fn visit_f64<E>(self, _: f64) -> Result<Batch<'de>, E> {
        Ok(Batch::NotArray)
    }

    fn visit_str<E>(self, _: &str) -> Result<Batch<'de>, E> {
        Ok(Batch::NotArray)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::serve::request::{parse_json, parse_json_array, raw_from_tree};
    use proptest::prelude::*;
    use serde_json::Value as Json;

    struct Schema {
        inputs: Vec<&'static str>,
        id: Option<&'static str>,
    }

    impl Fields for Schema {
        fn n_inputs(&self) -> usize {
            self.inputs.len()
        }
        fn input_name(&self, at: usize) -> &str {
            self.inputs[at]
        }
        fn id_column(&self) -> Option<&str> {
            self.id
        }
    }

    fn telco() -> Schema {
        Schema {
            inputs: vec!["tenure", "contract", "monthly_charges", "paperless"],
            id: Some("customer_id"),
        }
    }

    /// The tree path: the whole body as a `serde_json::Value`, then the rules.
    fn by_tree<'a>(fields: &Schema, body: &'a Json) -> Result<RawRecord<'a>, ApiError> {
        raw_from_tree(fields, body, "")
    }

    #[test]
    fn fields_are_read_borrowed_in_input_order_whatever_the_body_order() {
        let body = br#"{"paperless": "Yes", "x": [1, {"a": 2}], "tenure": 12, "customer_id": 7, "contract": null}"#;
        let raw = read_record(&telco(), body).unwrap().unwrap();
        assert_eq!(raw.id.as_deref(), Some("7"));
        assert_eq!(
            raw.values,
            vec![
                Value::Number(12.0),
                Value::Missing,
                Value::Missing,
                Value::Text(Cow::Borrowed("Yes"))
            ]
        );
        assert!(matches!(raw.values[3], Value::Text(Cow::Borrowed(_))));
    }

    #[test]
    fn the_first_bad_input_in_input_order_is_named_then_the_id() {
        let body = br#"{"paperless": true, "contract": [1], "customer_id": {}}"#;
        let error = read_record(&telco(), body).unwrap_err();
        assert_eq!(error.field.as_deref(), Some("contract"));
        assert_eq!(error.detail, "expected a number or a string, got an array");
        let error = read_record(&telco(), br#"{"customer_id": false}"#).unwrap_err();
        assert_eq!(error.field.as_deref(), Some("customer_id"));
        assert_eq!(
            error.detail,
            "expected the id as a string or a number, got a boolean"
        );
    }

    /// A bundle may train on a column named as the id or a campaign field: the field
    /// then fills the input and keeps its other role, as on the tree path.
    #[test]
    fn an_input_named_as_the_id_or_a_campaign_keeps_both_roles() {
        let fields = Schema {
            inputs: vec!["customer_id", "tenure"],
            id: Some("customer_id"),
        };
        let body = br#"{"customer_id":"a1","tenure":3}"#;
        let raw = read_record(&fields, body).unwrap().unwrap();
        assert_eq!(raw.id.as_deref(), Some("a1"));
        assert_eq!(
            raw.values,
            vec![Value::Text(Cow::Borrowed("a1")), Value::Number(3.0)]
        );
        let fields = Schema {
            inputs: vec!["campaign", "tenure"],
            id: None,
        };
        assert!(read_record(&fields, br#"{"campaign":"c1"}"#)
            .unwrap()
            .is_none());
    }

    #[test]
    fn a_record_naming_a_campaign_goes_to_the_tree_path() {
        let fields = telco();
        assert!(read_record(&fields, br#"{"campaign": "c1", "tenure": 1}"#)
            .unwrap()
            .is_none());
        let batch = br#"[{"tenure": 1}, {"control_share": 0.2}]"#;
        assert!(read_batch(&fields, batch, 10).unwrap().is_none());
        // Syntax errors and a non-array body are answered before that.
        assert!(read_record(&fields, br#"{"campaign": "c1",}"#).is_err());
        assert!(read_batch(&fields, br#"{"campaign": "c1"}"#, 10).is_err());
    }

    fn json_value() -> impl Strategy<Value = Json> {
        let leaf = prop_oneof![
            Just(Json::Null),
            any::<bool>().prop_map(Json::Bool),
            any::<i64>().prop_map(Json::from),
            any::<u64>().prop_map(Json::from),
            (-1e12f64..1e12).prop_map(Json::from),
            "[a-zA-Z0-9 .\"\\\\\u{e9}\n-]{0,12}".prop_map(Json::String),
            prop_oneof![Just(" NA "), Just("null"), Just(""), Just("7590-VHVEG")]
                .prop_map(|s| Json::String(s.into())),
        ];
        leaf.prop_recursive(3, 12, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..3).prop_map(Json::Array),
                prop::collection::vec(("[a-z]{1,3}", inner), 0..3)
                    .prop_map(|kv| Json::Object(kv.into_iter().collect())),
            ]
        })
    }

    /// A record's text: fields in any order, duplicates and escaped names included, values
    /// written as JSON or as raw number spellings the tree turns into floats.
    fn record_text() -> impl Strategy<Value = String> {
        let key = prop_oneof![
            Just("tenure"),
            Just("contract"),
            Just("monthly_charges"),
            Just("paperless"),
            Just("customer_id"),
            Just("te\\u006eure"),
            Just("tenur"),
            Just("tenure2"),
            Just("other"),
        ];
        let value = prop_oneof![
            4 => json_value().prop_map(|v| v.to_string()),
            1 => prop_oneof![Just("1e5"), Just("-0"), Just("18446744073709551616"), Just("-0.0"), Just("2.5E-3")]
                .prop_map(String::from),
        ];
        // Compact, spaced, and spaced before the colon too.
        let colon = prop_oneof![Just(":"), Just(": "), Just(" : ")];
        let comma = prop_oneof![Just(","), Just(", ")];
        (prop::collection::vec((key, colon, value), 0..8), comma).prop_map(|(fields, comma)| {
            let inner: Vec<String> = fields
                .iter()
                .map(|(k, colon, v)| format!("\"{k}\"{colon}{v}"))
                .collect();
            format!("{{{}}}", inner.join(comma))
        })
    }

    /// A body: a record, another JSON value, or either cut short or with trailing bytes.
    fn body_text() -> impl Strategy<Value = String> {
        let whole = prop_oneof![
            4 => record_text(),
            1 => json_value().prop_map(|v| v.to_string()),
        ];
        (whole, 0..6u8, any::<prop::sample::Index>()).prop_map(|(text, damage, at)| {
            let mut cut = at.index(text.len() + 1);
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            match damage {
                0 => text[..cut].to_string(),
                1 => format!("{text} x"),
                2 => format!("  {text}\n"),
                _ => text,
            }
        })
    }

    proptest! {
        #[test]
        fn a_record_reads_as_through_the_json_tree(body in body_text()) {
            let fields = telco();
            let direct = read_record(&fields, body.as_bytes()).map(|r| r.expect("no campaign"));
            let tree = parse_json(body.as_bytes());
            let through_tree = tree.as_ref().map_err(Clone::clone).and_then(|t| by_tree(&fields, t));
            prop_assert_eq!(direct, through_tree, "{}", body);
        }

        #[test]
        fn a_batch_reads_as_through_the_json_tree(
            items in prop::collection::vec(body_text(), 0..5),
            limit in 0..5usize,
            bracket in any::<bool>(),
        ) {
            let fields = telco();
            let body = match bracket {
                true => format!("[{}]", items.join(",")),
                false => items.join(","),
            };
            let direct = read_batch(&fields, body.as_bytes(), limit).map(|r| r.expect("no campaign"));
            let tree = parse_json_array(body.as_bytes(), limit, "customer objects", "items");
            let through_tree = tree.as_ref().map_err(Clone::clone).map(|items| {
                items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| raw_from_tree(&fields, item, &format!("[{i}].")))
                    .collect::<Vec<_>>()
            });
            prop_assert_eq!(direct, through_tree, "{}", body);
        }
    }
}
