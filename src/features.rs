//! The fitted transform from a customer record to a numeric feature vector: impute,
//! standardize numbers, one-hot categories. It is fitted once at training, stored in the
//! bundle, and used unchanged by every model at training and at scoring time, so the two
//! can never disagree.

use crate::data::{is_missing_trimmed, ColumnData, Table, Text};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::collections::HashMap;

/// One input value as it arrives from a CSV cell or a JSON field.
#[derive(Debug, Clone, PartialEq)]
pub enum Value<'a> {
    Missing,
    Number(f64),
    Text(Cow<'a, str>),
}

impl Value<'_> {
    pub fn as_number(&self) -> Option<f64> {
        match self {
            Value::Number(v) => Some(*v),
            _ => None,
        }
    }

    pub fn as_text(&self) -> Option<&str> {
        match self {
            Value::Text(t) => Some(t),
            _ => None,
        }
    }
}

/// How one input column becomes features.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Encoding {
    /// Missing → median; then (x - mean) / std, on ln(1 + x) when `log` is set.
    Numeric {
        median: f64,
        mean: f64,
        std: f64,
        /// Only 0/1 seen in training: described as yes/no in segment names and reasons.
        binary: bool,
        /// Heavily right-skewed and never negative in training (spend, order counts): the
        /// log keeps a few big customers from owning the distance and the coefficients.
        #[serde(default)]
        log: bool,
        /// The training range; values outside it are scored at its edge (no model learned
        /// anything beyond it), and values far outside are named in warnings.
        #[serde(default)]
        range: Option<[f64; 2]>,
    },
    /// One feature per kept category, plus one for rare categories seen in training
    /// (`other`). A missing value or a value never seen in training sets none of them;
    /// the unseen case is reported as a warning with the answer.
    OneHot {
        categories: Vec<String>,
        other: Vec<String>,
    },
    /// Accepted in records, not used by any model (constant, identifier-like, or dropped).
    Ignored { numeric: bool, reason: String },
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct InputColumn {
    pub name: String,
    pub encoding: Encoding,
}

/// Skewness above which a non-negative column is modelled on the log scale.
const LOG_SKEW: f64 = 2.0;

impl Encoding {
    /// Raw value → model feature (numeric encodings; others pass through). A value outside
    /// the training range counts as the range's edge, so every feature stays finite.
    pub fn standardize(&self, x: f64) -> f64 {
        match self {
            Encoding::Numeric {
                mean,
                std,
                log,
                range,
                ..
            } => {
                let x = match range {
                    Some([low, high]) => x.clamp(*low, *high),
                    None => x,
                };
                let x = if *log { x.max(0.0).ln_1p() } else { x };
                (x - mean) / std
            }
            _ => x,
        }
    }

    /// A raw number fit for value arithmetic (CLV, tiers, quadrants): a value far outside
    /// the training range, already named in the warnings, counts as the range's nearest
    /// edge, so `1e308` cannot overflow a lifetime value to infinity.
    pub fn value_for_arithmetic(&self, x: f64) -> f64 {
        match self {
            Encoding::Numeric {
                range: Some([low, high]),
                ..
            } if self.is_far_outside(x) => x.clamp(*low, *high),
            _ => x,
        }
    }

    /// Is `x` far outside what training saw: below zero where training never was, or
    /// further beyond the range than the range is wide?
    pub fn is_far_outside(&self, x: f64) -> bool {
        let Encoding::Numeric {
            range: Some([low, high]),
            ..
        } = self
        else {
            return false;
        };
        let width = high - low;
        (x < 0.0 && *low >= 0.0) || x < low - width || x > high + width
    }

    /// Model feature → raw value: the inverse of `standardize`, for readable thresholds.
    pub fn unstandardize(&self, z: f64) -> f64 {
        match self {
            Encoding::Numeric { mean, std, log, .. } => {
                let x = z * std + mean;
                if *log {
                    x.exp_m1()
                } else {
                    x
                }
            }
            _ => z,
        }
    }
}

impl InputColumn {
    pub fn is_numeric(&self) -> bool {
        matches!(
            self.encoding,
            Encoding::Numeric { .. } | Encoding::Ignored { numeric: true, .. }
        )
    }
}

/// What one feature is, so a model can say "contract = Month-to-month", not "feature 31".
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Feature {
    pub name: String,
    /// Index into [`FeatureEncoder::inputs`].
    pub input: usize,
    /// The category this one-hot feature stands for; `None` for a numeric feature.
    pub category: Option<String>,
}

/// Settings for fitting the encoder.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EncoderParams {
    /// Most frequent categories kept per column; the rest share one "other" feature.
    pub max_categories: usize,
}

impl Default for EncoderParams {
    fn default() -> Self {
        EncoderParams { max_categories: 30 }
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EncodeError {
    #[error("field `{column}`: {value} is not a number")]
    NotANumber { column: String, value: String },
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FeatureEncoder {
    pub inputs: Vec<InputColumn>,
    pub features: Vec<Feature>,
    /// Feature index of each input's first feature (one-hot blocks are contiguous).
    offsets: Vec<usize>,
    /// (category, feature index within its block) sorted by category, per input; rebuilt
    /// after loading. A binary search over a few names beats hashing each cell.
    #[serde(skip)]
    lookup: Vec<Vec<(String, usize)>>,
}

pub const OTHER: &str = "(other)";

impl FeatureEncoder {
    /// Fit on every column of the table; `ignore` names columns kept out of the models
    /// (with the reason shown to the user).
    pub fn fit(table: &Table, ignore: &[(String, String)], params: &EncoderParams) -> Self {
        let all: Vec<usize> = (0..table.rows()).collect();
        Self::fit_rows(table, &all, ignore, params)
    }

    /// [`fit`](Self::fit) on some rows of the table only: cross-validation fits one
    /// encoder per fold on that fold's training rows, so no held-out row shapes its
    /// medians, scales or category groups.
    pub fn fit_rows(
        table: &Table,
        rows: &[usize],
        ignore: &[(String, String)],
        params: &EncoderParams,
    ) -> Self {
        let inputs = table
            .columns
            .iter()
            .map(|column| {
                let ignored = ignore.iter().find(|(name, _)| *name == column.name);
                let encoding = match (ignored, &column.data) {
                    (Some((_, reason)), data) => Encoding::Ignored {
                        numeric: matches!(data, ColumnData::Numeric(_)),
                        reason: reason.clone(),
                    },
                    (None, ColumnData::Numeric(values)) => {
                        fit_numeric(&rows.iter().map(|&r| values[r]).collect::<Vec<_>>())
                    }
                    (None, ColumnData::Categorical(values)) => {
                        let picked: Vec<Option<Text>> =
                            rows.iter().map(|&r| values[r].clone()).collect();
                        fit_one_hot(&picked, params)
                    }
                };
                InputColumn {
                    name: column.name.clone(),
                    encoding,
                }
            })
            .collect();
        Self::from_inputs(inputs)
    }

    /// Build the feature list and lookups from the inputs (after fitting or loading).
    pub fn from_inputs(inputs: Vec<InputColumn>) -> Self {
        let mut features = Vec::new();
        let mut offsets = Vec::with_capacity(inputs.len());
        for (index, input) in inputs.iter().enumerate() {
            offsets.push(features.len());
            match &input.encoding {
                Encoding::Numeric { .. } => features.push(Feature {
                    name: input.name.clone(),
                    input: index,
                    category: None,
                }),
                Encoding::OneHot { categories, other } => {
                    let with_other = categories
                        .iter()
                        .chain((!other.is_empty()).then_some(&OTHER.to_string()))
                        .cloned()
                        .collect::<Vec<_>>();
                    for category in with_other {
                        features.push(Feature {
                            name: format!("{} = {}", input.name, category),
                            input: index,
                            category: Some(category),
                        });
                    }
                }
                Encoding::Ignored { .. } => {}
            }
        }
        let lookup = inputs.iter().map(category_lookup).collect();
        FeatureEncoder {
            inputs,
            features,
            offsets,
            lookup,
        }
    }

    /// Rebuild what serde skipped; call after deserializing.
    pub fn restore(self) -> Self {
        Self::from_inputs(self.inputs)
    }

    pub fn n_features(&self) -> usize {
        self.features.len()
    }

    /// The categories training saw in a column (kept and rare ones); none for others.
    pub fn categories(&self, name: &str) -> Vec<&str> {
        match self.input_index(name).map(|i| &self.inputs[i].encoding) {
            Some(Encoding::OneHot { categories, other }) => {
                categories.iter().chain(other).map(String::as_str).collect()
            }
            _ => Vec::new(),
        }
    }

    pub fn input_index(&self, name: &str) -> Option<usize> {
        self.inputs.iter().position(|i| i.name == name)
    }

    /// Check and normalise raw values (one per input, in input order): numbers for numeric
    /// columns, text for categorical ones.
    pub fn parse<'a>(&self, mut raw: Vec<Value<'a>>) -> Result<Vec<Value<'a>>, EncodeError> {
        self.parse_in_place(&mut raw)?;
        Ok(raw)
    }

    /// [`parse`](Self::parse) without moving the values.
    pub fn parse_in_place(&self, values: &mut [Value]) -> Result<(), EncodeError> {
        for (value, input) in values.iter_mut().zip(&self.inputs) {
            let raw = std::mem::replace(value, Value::Missing);
            *value = normalise(raw, input)?;
        }
        Ok(())
    }

    /// Write the features of one parsed record into `out` (cleared first). Values never
    /// seen in training are reported in `warnings`, never silently mapped to another.
    pub fn encode(&self, values: &[Value], out: &mut Vec<f64>, warnings: &mut Vec<String>) {
        out.clear();
        out.resize(self.features.len(), 0.0);
        for (index, (input, value)) in self.inputs.iter().zip(values).enumerate() {
            let at = self.offsets[index];
            match &input.encoding {
                Encoding::Numeric { median, .. } => {
                    let x = value.as_number().unwrap_or(*median);
                    if input.encoding.is_far_outside(x) {
                        warnings.push(far_outside_warning(input, x));
                    }
                    out[at] = input.encoding.standardize(x);
                }
                Encoding::OneHot { other, .. } => {
                    let Some(text) = value.as_text() else {
                        continue;
                    };
                    if let Some(slot) = category_slot(&self.lookup[index], text) {
                        out[at + slot] = 1.0;
                    } else if other.iter().any(|o| o == text) {
                        out[at + self.lookup[index].len()] = 1.0;
                    } else {
                        warnings.push(format!(
                            "field `{}`: category {} was not seen in training; scored as unknown",
                            input.name,
                            excerpt(text)
                        ));
                    }
                }
                Encoding::Ignored { .. } => {}
            }
        }
    }

    /// The training table as a row-major feature matrix, through the same `encode` that
    /// scoring uses.
    pub fn encode_table(&self, table: &Table) -> Vec<Vec<f64>> {
        let all: Vec<usize> = (0..table.rows()).collect();
        self.encode_rows(table, &all)
    }

    /// Some rows of the table as a row-major feature matrix, in the order given.
    pub fn encode_rows(&self, table: &Table, wanted: &[usize]) -> Vec<Vec<f64>> {
        let columns: Vec<_> = self
            .inputs
            .iter()
            .map(|input| table.column(&input.name))
            .collect();
        let mut rows = Vec::with_capacity(wanted.len());
        let mut warnings = Vec::new();
        for &row in wanted {
            let values = row_values(&columns, row);
            let mut features = Vec::new();
            self.encode(&values, &mut features, &mut warnings);
            rows.push(features);
        }
        rows
    }

    /// The training table as one row-major matrix, without a vector per row.
    pub fn encode_table_matrix(&self, table: &Table) -> ndarray::Array2<f64> {
        let all: Vec<usize> = (0..table.rows()).collect();
        self.encode_rows_matrix(table, &all)
    }

    /// Some rows of the table as one row-major matrix, in the order given: what
    /// [`encode_rows`](Self::encode_rows) gives, written straight into a single buffer.
    pub fn encode_rows_matrix(&self, table: &Table, wanted: &[usize]) -> ndarray::Array2<f64> {
        let columns: Vec<_> = self
            .inputs
            .iter()
            .map(|input| table.column(&input.name))
            .collect();
        let width = self.n_features();
        let mut flat = Vec::with_capacity(wanted.len() * width);
        let (mut features, mut warnings) = (Vec::with_capacity(width), Vec::new());
        for &row in wanted {
            self.encode(&row_values(&columns, row), &mut features, &mut warnings);
            // Training rows fitted the encoder, so its warnings are not news here.
            warnings.clear();
            flat.extend_from_slice(&features);
        }
        ndarray::Array2::from_shape_vec((wanted.len(), width), flat)
            .expect("every encoded row has the encoder's width")
    }
}

/// One table row as input values, for the given columns (`None` = absent → missing).
pub fn row_values<'a>(columns: &[Option<&'a crate::data::Column>], row: usize) -> Vec<Value<'a>> {
    columns
        .iter()
        .map(|column| match column.map(|c| &c.data) {
            Some(ColumnData::Numeric(v)) => v[row].map_or(Value::Missing, Value::Number),
            Some(ColumnData::Categorical(v)) => v[row]
                .as_deref()
                .map_or(Value::Missing, |t| Value::Text(Cow::Borrowed(t))),
            None => Value::Missing,
        })
        .collect()
}

fn normalise<'a>(value: Value<'a>, input: &InputColumn) -> Result<Value<'a>, EncodeError> {
    Ok(match (value, input.is_numeric()) {
        (Value::Missing, _) => Value::Missing,
        (Value::Number(x), true) if x.is_finite() => Value::Number(x),
        (Value::Number(x), true) => {
            return Err(EncodeError::NotANumber {
                column: input.name.clone(),
                value: excerpt(&x.to_string()),
            })
        }
        (Value::Number(x), false) => Value::Text(Cow::Owned(format_number(x))),
        (Value::Text(t), true) => {
            // Numbers first: they are most cells, and a number is never a missing token.
            let cell = crate::data::trim(&t);
            match cell.parse::<f64>() {
                Ok(x) if x.is_finite() => Value::Number(x),
                _ if is_missing_trimmed(cell) => Value::Missing,
                _ => {
                    return Err(EncodeError::NotANumber {
                        column: input.name.clone(),
                        value: excerpt(&t),
                    })
                }
            }
        }
        (Value::Text(t), false) => {
            let cell = crate::data::trim(&t);
            if is_missing_trimmed(cell) {
                Value::Missing
            } else if cell.len() == t.len() {
                Value::Text(t)
            } else {
                Value::Text(Cow::Owned(cell.to_string()))
            }
        }
    })
}

fn far_outside_warning(input: &InputColumn, x: f64) -> String {
    let range = match input.encoding {
        Encoding::Numeric {
            range: Some([low, high]),
            ..
        } => format!("{}..{}", readable(low), readable(high)),
        _ => String::new(),
    };
    format!(
        "field `{}`: {} is far outside the training range {range}; scored as the nearest value in that range",
        input.name,
        readable(x)
    )
}

/// A value quoted for a message: whole when short, else its first 64 characters and its
/// length, so a megabyte sent by a client is not echoed back in every answer.
fn excerpt(text: &str) -> String {
    const KEEP: usize = 64;
    match text.char_indices().nth(KEEP) {
        None => format!("{text:?}"),
        Some((cut, _)) => format!("{:?}… ({} bytes)", &text[..cut], text.len()),
    }
}

/// Short for everyday numbers, scientific for huge ones (not 309 digits of 1e308).
fn readable(x: f64) -> String {
    if x.abs() >= 1e9 {
        format!("{x:e}")
    } else {
        crate::numfmt::short(x)
    }
}

/// Numbers arriving for a text column (JSON `1` for a `"1"` category) read as CSV would.
fn format_number(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        x.to_string()
    }
}

/// Feature slot of `text` in a sorted lookup: a scan for the usual handful of
/// categories (most differ in length, so few bytes are compared), else a binary search.
fn category_slot(known: &[(String, usize)], text: &str) -> Option<usize> {
    if known.len() <= 8 {
        known
            .iter()
            .find(|(c, _)| crate::text_eq::same(c, text))
            .map(|(_, slot)| *slot)
    } else {
        let found = known.binary_search_by(|(c, _)| c.as_str().cmp(text)).ok()?;
        Some(known[found].1)
    }
}

fn category_lookup(input: &InputColumn) -> Vec<(String, usize)> {
    let mut lookup: Vec<(String, usize)> = match &input.encoding {
        Encoding::OneHot { categories, .. } => categories
            .iter()
            .enumerate()
            .map(|(i, c)| (c.clone(), i))
            .collect(),
        _ => Vec::new(),
    };
    lookup.sort();
    lookup
}

fn fit_numeric(values: &[Option<f64>]) -> Encoding {
    let mut present: Vec<f64> = values.iter().flatten().copied().collect();
    if present.is_empty() {
        return Encoding::Ignored {
            numeric: true,
            reason: "no values".into(),
        };
    }
    present.sort_by(f64::total_cmp);
    let median = crate::models::stats::median_sorted(&present);
    let log = present[0] >= 0.0 && skewness(&present) > LOG_SKEW;
    // Standardize the imputed (and possibly logged) column, as the models will see it.
    let scaled: Vec<f64> = values
        .iter()
        .map(|v| v.unwrap_or(median))
        .map(|x| if log { x.ln_1p() } else { x })
        .collect();
    let n = scaled.len() as f64;
    let mean = scaled.iter().sum::<f64>() / n;
    let var = scaled.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n;
    if !var.is_finite() {
        return Encoding::Ignored {
            numeric: true,
            reason: "values too large to standardise".into(),
        };
    }
    let std = if var > 0.0 { var.sqrt() } else { 1.0 };
    let binary = present.iter().all(|&x| x == 0.0 || x == 1.0);
    Encoding::Numeric {
        median,
        mean,
        std,
        binary,
        log,
        range: Some([present[0], present[present.len() - 1]]),
    }
}

/// Sample skewness (third standardized moment); 0 for a constant column.
fn skewness(values: &[f64]) -> f64 {
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let m2 = values.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n;
    let m3 = values.iter().map(|x| (x - mean).powi(3)).sum::<f64>() / n;
    if m2 == 0.0 {
        0.0
    } else {
        m3 / m2.powf(1.5)
    }
}

fn fit_one_hot(values: &[Option<Text>], params: &EncoderParams) -> Encoding {
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for v in values.iter().flatten() {
        *counts.entry(v).or_default() += 1;
    }
    let mut ranked: Vec<(&str, usize)> = counts.into_iter().collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let split = ranked.len().min(params.max_categories);
    let mut categories: Vec<String> = ranked[..split].iter().map(|(c, _)| c.to_string()).collect();
    let mut other: Vec<String> = ranked[split..].iter().map(|(c, _)| c.to_string()).collect();
    categories.sort();
    other.sort();
    Encoding::OneHot { categories, other }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{Column, DataQuality};

    fn table() -> Table {
        Table {
            source: "t".into(),
            sha256: String::new(),
            ids: vec!["1".into(), "2".into(), "3".into(), "4".into()],
            lines: vec![2, 3, 4, 5],
            columns: vec![
                Column {
                    name: "tenure".into(),
                    data: ColumnData::Numeric(vec![Some(1.0), Some(3.0), None, Some(5.0)]),
                },
                Column {
                    name: "plan".into(),
                    data: ColumnData::Categorical(vec![
                        Some("a".into()),
                        Some("b".into()),
                        Some("a".into()),
                        None,
                    ]),
                },
            ],
            quality: DataQuality::default(),
        }
    }

    #[test]
    fn imputes_standardizes_and_one_hots() {
        let enc = FeatureEncoder::fit(&table(), &[], &EncoderParams::default());
        let names: Vec<&str> = enc.features.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["tenure", "plan = a", "plan = b"]);
        let rows = enc.encode_table(&table());
        // Missing tenure → median 3 → mean 3 → 0.
        assert_eq!(rows[2][0], 0.0);
        assert_eq!(&rows[2][1..], &[1.0, 0.0]);
        assert_eq!(&rows[3][1..], &[0.0, 0.0]);
        let mean: f64 = rows.iter().map(|r| r[0]).sum::<f64>() / 4.0;
        assert!(mean.abs() < 1e-12);
    }

    #[test]
    fn unseen_category_is_reported_not_mapped() {
        let enc = FeatureEncoder::fit(&table(), &[], &EncoderParams::default());
        let values = enc
            .parse(vec![Value::Number(3.0), Value::Text("zzz".into())])
            .unwrap();
        let (mut out, mut warnings) = (Vec::new(), Vec::new());
        enc.encode(&values, &mut out, &mut warnings);
        assert_eq!(&out[1..], &[0.0, 0.0]);
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].contains("`plan`"));
    }

    #[test]
    fn text_in_numeric_field_is_an_error_naming_it() {
        let enc = FeatureEncoder::fit(&table(), &[], &EncoderParams::default());
        let err = enc
            .parse(vec![Value::Text("ten".into()), Value::Missing])
            .unwrap_err();
        assert_eq!(err.to_string(), "field `tenure`: \"ten\" is not a number");
    }

    #[test]
    fn a_huge_value_is_quoted_short_in_errors_and_warnings() {
        let enc = FeatureEncoder::fit(&table(), &[], &EncoderParams::default());
        let huge = "é".repeat(500_000);
        let err = enc
            .parse(vec![Value::Text(huge.as_str().into()), Value::Missing])
            .unwrap_err()
            .to_string();
        assert!(err.len() < 300, "{} bytes", err.len());
        assert!(err.ends_with("… (1000000 bytes) is not a number"), "{err}");
        let values = enc
            .parse(vec![Value::Missing, Value::Text(huge.as_str().into())])
            .unwrap();
        let (mut out, mut warnings) = (Vec::new(), Vec::new());
        enc.encode(&values, &mut out, &mut warnings);
        assert!(warnings[0].len() < 300, "{}", warnings[0].len());
    }

    #[test]
    fn rare_categories_share_the_other_feature() {
        let params = EncoderParams { max_categories: 1 };
        let enc = FeatureEncoder::fit(&table(), &[], &params);
        let names: Vec<&str> = enc.features.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["tenure", "plan = a", "plan = (other)"]);
        let values = enc
            .parse(vec![Value::Missing, Value::Text("b".into())])
            .unwrap();
        let (mut out, mut warnings) = (Vec::new(), Vec::new());
        enc.encode(&values, &mut out, &mut warnings);
        assert_eq!(&out[1..], &[0.0, 1.0]);
        assert!(warnings.is_empty());
    }

    #[test]
    fn skewed_spend_is_modelled_on_the_log_scale() {
        let mut values: Vec<Option<f64>> = (0..99).map(|i| Some(f64::from(i % 10))).collect();
        values.push(Some(100_000.0));
        let Encoding::Numeric { log, .. } = fit_numeric(&values) else {
            panic!("numeric")
        };
        assert!(log);
        let enc = fit_numeric(&values);
        for x in [0.0, 3.0, 100_000.0] {
            assert!((enc.unstandardize(enc.standardize(x)) - x).abs() < 1e-6 * x.max(1.0));
        }
        let symmetric: Vec<Option<f64>> = (0..100).map(|i| Some(f64::from(i))).collect();
        assert!(matches!(
            fit_numeric(&symmetric),
            Encoding::Numeric { log: false, .. }
        ));
    }

    #[test]
    fn survives_a_json_round_trip() {
        let enc = FeatureEncoder::fit(&table(), &[], &EncoderParams::default());
        let json = serde_json::to_string(&enc).unwrap();
        let back: FeatureEncoder = serde_json::from_str::<FeatureEncoder>(&json)
            .unwrap()
            .restore();
        assert_eq!(back.encode_table(&table()), enc.encode_table(&table()));
    }

    fn encode_one(enc: &FeatureEncoder, raw: Vec<Value>) -> (Vec<f64>, Vec<String>) {
        let values = enc.parse(raw).unwrap();
        let (mut out, mut warnings) = (Vec::new(), Vec::new());
        enc.encode(&values, &mut out, &mut warnings);
        (out, warnings)
    }

    #[test]
    fn numbers_outside_the_training_range_score_at_its_edge() {
        let mut t = table();
        t.columns.push(Column {
            name: "senior".into(),
            data: ColumnData::Numeric(vec![Some(0.0), Some(1.0), Some(0.0), Some(0.0)]),
        });
        let enc = FeatureEncoder::fit(&t, &[], &EncoderParams::default());
        let text = || Value::Text("a".into());
        let (edge, warnings) =
            encode_one(&enc, vec![Value::Number(5.0), text(), Value::Number(1.0)]);
        assert!(warnings.is_empty(), "{warnings:?}");
        // A finite 1e308 in a 0/1 column once standardised to infinity.
        for huge in [1e308, -1e308, f64::MAX] {
            let (out, warnings) =
                encode_one(&enc, vec![Value::Number(huge), text(), Value::Number(huge)]);
            assert!(out.iter().all(|x| x.is_finite()), "{out:?}");
            assert_eq!(warnings.len(), 2, "{warnings:?}");
            assert!(warnings[0].contains("`tenure`") && warnings[0].contains("e308"));
        }
        let (out, _) = encode_one(
            &enc,
            vec![Value::Number(1e308), text(), Value::Number(1e308)],
        );
        assert_eq!(out, edge);
        // Negative tenure where training never had one is named, however small.
        let (_, warnings) = encode_one(&enc, vec![Value::Number(-1.0), text(), Value::Missing]);
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].contains("`tenure`: -1 is far outside the training range 1..5"));
        // Just past the edge: scored at the edge, nothing to warn about.
        let (out, warnings) = encode_one(&enc, vec![Value::Number(6.0), text(), Value::Missing]);
        assert!(warnings.is_empty());
        assert_eq!(out[0], edge[0]);
    }

    #[test]
    fn non_finite_numbers_are_refused_by_name() {
        let enc = FeatureEncoder::fit(&table(), &[], &EncoderParams::default());
        for cell in ["inf", "-inf", "NaN1", "1e999"] {
            let err = enc
                .parse(vec![Value::Text(cell.into()), Value::Missing])
                .unwrap_err();
            assert!(err.to_string().starts_with("field `tenure`"), "{err}");
        }
        assert!(enc
            .parse(vec![Value::Number(f64::INFINITY), Value::Missing])
            .is_err());
    }

    #[test]
    fn a_column_too_large_to_standardise_is_left_out() {
        let values = vec![Some(1e308), Some(-1e308), Some(1.0)];
        assert!(matches!(fit_numeric(&values), Encoding::Ignored { .. }));
    }

    #[test]
    fn bundles_without_a_range_still_score() {
        let mut enc = fit_numeric(&[Some(1.0), Some(2.0), Some(3.0)]);
        if let Encoding::Numeric { range, .. } = &mut enc {
            *range = None;
        }
        assert_eq!(enc.standardize(2.0), 0.0);
        assert!(!enc.is_far_outside(1e6));
    }

    #[test]
    fn an_encoder_fitted_on_some_rows_sees_only_them() {
        let t = table();
        let enc = FeatureEncoder::fit_rows(&t, &[0, 1], &[], &EncoderParams::default());
        let Encoding::Numeric { median, range, .. } = enc.inputs[0].encoding else {
            panic!("numeric")
        };
        assert_eq!((median, range), (2.0, Some([1.0, 3.0])));
        assert_eq!(enc.encode_rows(&t, &[3, 0]).len(), 2);
    }

    #[test]
    fn the_matrix_holds_the_rows_encode_rows_gives() {
        let t = table();
        let enc = FeatureEncoder::fit_rows(&t, &[0, 1], &[], &EncoderParams::default());
        let wanted = [3, 0, 2];
        let rows = enc.encode_rows(&t, &wanted);
        let matrix = enc.encode_rows_matrix(&t, &wanted);
        assert_eq!(matrix.dim(), (3, enc.n_features()));
        for (row, expected) in matrix.rows().into_iter().zip(&rows) {
            assert_eq!(row.to_vec(), *expected);
        }
        assert_eq!(enc.encode_table_matrix(&t).nrows(), t.rows());
    }
}
