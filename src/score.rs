//! The Scorer: one customer record in, the answers out. `batch` and `serve` both call
//! it, so a customer gets the same answer from a file and from the API.

use crate::bundle::Bundle;
use crate::features::{EncodeError, Value};
use crate::models::rules::{product_held, CrossSellModel, ItemOffer};
use serde::Serialize;
use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

/// Which segment a customer is in, and where they sit in the value pyramid.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct SegmentAnswer {
    pub id: usize,
    pub name: String,
    pub tier: String,
    /// Value quadrant (current value × lifetime value): invest / protect / maintain / let go.
    pub quadrant: Option<String>,
}

/// One product to offer, with the association rules that fired for it.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct Offer {
    pub item: String,
    pub score: f64,
    /// The firing rules in words, strongest first.
    pub because: Vec<String>,
}

/// How likely the customer is to leave, and why.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct Retention {
    /// Calibrated churn probability.
    pub probability: f64,
    /// low / medium / high.
    pub band: String,
    /// The (up to three) features that push this customer's risk up most, in words.
    pub reasons: Vec<String>,
    /// Customer lifetime value, when the bundle knows the customer's margin.
    pub clv: Option<f64>,
}

/// Everything the bundle says about one customer.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct Answer {
    pub id: String,
    pub segment: SegmentAnswer,
    /// Products to offer next, best first (empty when the bundle has no rules).
    pub cross_sell: Vec<Offer>,
    /// Retention risk (absent when the bundle has no churn model).
    pub retention: Option<Retention>,
    /// Things the caller should know about the input (e.g. categories never seen in
    /// training, scored as unknown).
    pub warnings: Vec<String>,
    pub model_version: String,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ScoreError {
    #[error(transparent)]
    Field(#[from] EncodeError),
    #[error("expected {expected} values, got {got}")]
    Arity { expected: usize, got: usize },
}

impl ScoreError {
    /// The input field the error is about, for API error bodies.
    pub fn field(&self) -> Option<&str> {
        match self {
            ScoreError::Field(EncodeError::NotANumber { column, .. }) => Some(column),
            ScoreError::Arity { .. } => None,
        }
    }
}

/// How much of the answer to build. The CSV output lists offered items only, so a batch
/// run writing CSV skips the texts of the rules behind each offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detail {
    Full,
    ItemsOnly,
}

pub struct Scorer {
    bundle: Bundle,
    value_input: Option<usize>,
    /// Input index of each holdings column of the cross-sell rules.
    holdings_inputs: Vec<Option<usize>>,
    /// Ranked offers by set of held products. Customers share few distinct product sets
    /// (telco: at most 2^10), so most lookups skip the rule scan; bounded for catalogues
    /// where sets rarely repeat.
    offers_seen: RwLock<HashMap<Vec<u32>, Arc<Vec<ItemOffer>>>>,
}

/// Most distinct held-product sets remembered by one Scorer.
const OFFER_CACHE_LIMIT: usize = 65_536;

impl Scorer {
    pub fn new(bundle: Bundle) -> Self {
        let value_input = bundle
            .manifest
            .schema
            .value
            .as_deref()
            .and_then(|v| bundle.encoder.input_index(v));
        if let Some(rules) = &bundle.rules {
            rules.rule_text(0); // write the rule texts now, not during the first request
        }
        let holdings_inputs = bundle.rules.as_ref().map_or(Vec::new(), |rules| {
            rules
                .holdings
                .iter()
                .map(|c| bundle.encoder.input_index(c))
                .collect()
        });
        Scorer {
            bundle,
            value_input,
            holdings_inputs,
            offers_seen: RwLock::new(HashMap::new()),
        }
    }

    pub fn bundle(&self) -> &Bundle {
        &self.bundle
    }

    pub fn version(&self) -> &str {
        &self.bundle.manifest.version
    }

    /// Input column names, in the order `score` expects their values.
    pub fn input_names(&self) -> impl Iterator<Item = &str> {
        self.bundle.encoder.inputs.iter().map(|i| i.name.as_str())
    }

    pub fn n_inputs(&self) -> usize {
        self.bundle.encoder.inputs.len()
    }

    /// Score one customer; `raw` holds one value per input column, in input order
    /// (`Value::Missing` for absent ones).
    pub fn score(&self, id: Cow<str>, raw: Vec<Value>) -> Result<Answer, ScoreError> {
        self.score_with(id, raw, Detail::Full)
    }

    /// Score one customer with the given level of detail.
    pub fn score_with(
        &self,
        id: Cow<str>,
        raw: Vec<Value>,
        detail: Detail,
    ) -> Result<Answer, ScoreError> {
        if raw.len() != self.n_inputs() {
            return Err(ScoreError::Arity {
                expected: self.n_inputs(),
                got: raw.len(),
            });
        }
        let encoder = &self.bundle.encoder;
        let values = encoder.parse(raw)?;
        let mut warnings = Vec::new();
        let mut features = Vec::with_capacity(encoder.n_features());
        encoder.encode(&values, &mut features, &mut warnings);
        let segment = self.bundle.segments.assign(&features);
        let tier = match (&self.bundle.pyramid, self.value_input) {
            (Some(pyramid), Some(at)) => pyramid.tier_of(values[at].as_number()).to_string(),
            _ => crate::models::segment::UNRANKED.to_string(),
        };
        let risk = self
            .bundle
            .retention
            .as_ref()
            .map(|r| r.assess(encoder, &values, &features));
        Ok(Answer {
            id: id.into_owned(),
            segment: SegmentAnswer {
                id: segment,
                name: self.bundle.segments.profiles[segment].name.clone(),
                tier,
                quadrant: risk.as_ref().and_then(|r| r.quadrant).map(String::from),
            },
            cross_sell: self.cross_sell(&values, detail),
            retention: risk.map(|r| Retention {
                probability: r.probability,
                band: r.band.to_string(),
                reasons: r.reasons,
                clv: r.clv,
            }),
            warnings,
            model_version: self.bundle.manifest.version.clone(),
        })
    }
}

impl Scorer {
    /// Products to offer, from the products the record's holdings columns say are held.
    fn cross_sell(&self, values: &[Value], detail: Detail) -> Vec<Offer> {
        let Some(model) = &self.bundle.rules else {
            return Vec::new();
        };
        let mut held = Vec::with_capacity(self.holdings_inputs.len());
        for (at, column) in self.holdings_inputs.iter().zip(&model.holdings) {
            let Some(value) = at.and_then(|at| values.get(at)) else {
                continue;
            };
            if let Some(id) = product_held(column, value).and_then(|p| model.item_id(&p)) {
                held.push(id);
            }
        }
        held.sort_unstable();
        self.ranked_offers(model, held)
            .iter()
            .map(|offer| Offer {
                item: model.items[offer.item as usize].clone(),
                score: offer.score,
                because: match (detail, offer.because.is_empty()) {
                    (Detail::ItemsOnly, _) => Vec::new(),
                    (Detail::Full, true) => vec![format!(
                        "popular: held by {:.0}% of customers (no rule fired)",
                        100.0 * model.popularity(offer.item)
                    )],
                    (Detail::Full, false) => offer
                        .because
                        .iter()
                        .map(|&r| model.rule_text(r).to_string())
                        .collect(),
                },
            })
            .collect()
    }

    /// The model's ranked offers for a (sorted) set of held products, remembered.
    fn ranked_offers(&self, model: &CrossSellModel, held: Vec<u32>) -> Arc<Vec<ItemOffer>> {
        let seen = |cache: &HashMap<Vec<u32>, Arc<Vec<ItemOffer>>>| cache.get(&held).cloned();
        if let Some(hit) = self.offers_seen.read().ok().and_then(|c| seen(&c)) {
            return hit;
        }
        let offers = Arc::new(model.offers(&held, model.params.top_n));
        if let Ok(mut cache) = self.offers_seen.write() {
            if cache.len() < OFFER_CACHE_LIMIT {
                cache.insert(held, offers.clone());
            }
        }
        offers
    }
}

impl Answer {
    /// Columns of a scored CSV row, in order (see `csv_fields`).
    pub fn csv_header() -> &'static [&'static str] {
        &[
            "id",
            "segment",
            "segment_name",
            "tier",
            "churn_probability",
            "risk_band",
            "reasons",
            "clv",
            "quadrant",
            "cross_sell",
            "model_version",
            "warnings",
        ]
    }

    pub fn csv_fields(&self) -> Vec<String> {
        vec![
            self.id.clone(),
            self.segment.id.to_string(),
            self.segment.name.clone(),
            self.segment.tier.clone(),
            self.retention
                .as_ref()
                .map_or(String::new(), |r| fixed(r.probability, 4)),
            self.retention
                .as_ref()
                .map_or(String::new(), |r| r.band.clone()),
            self.retention
                .as_ref()
                .map_or(String::new(), |r| r.reasons.join("; ")),
            self.retention
                .as_ref()
                .and_then(|r| r.clv)
                .map_or(String::new(), |v| fixed(v, 2)),
            self.segment.quadrant.clone().unwrap_or_default(),
            self.cross_sell
                .iter()
                .map(|o| o.item.as_str())
                .collect::<Vec<_>>()
                .join(";"),
            self.model_version.clone(),
            self.warnings.join("; "),
        ]
    }
}

/// `x` with `decimals` digits after the point, by integer arithmetic (a batch writes millions
/// of these; `format!("{:.4}")` takes the exact, slow path).
fn fixed(x: f64, decimals: u32) -> String {
    let scale = 10u64.pow(decimals);
    let scaled = (x * scale as f64).round();
    if !scaled.is_finite() || scaled.abs() >= 9e15 {
        return format!("{x:.*}", decimals as usize);
    }
    let n = scaled as i64;
    let sign = if n < 0 { "-" } else { "" };
    let n = n.unsigned_abs();
    format!(
        "{sign}{}.{:0width$}",
        n / scale,
        n % scale,
        width = decimals as usize
    )
}

#[cfg(test)]
mod tests {
    use super::fixed;

    #[test]
    fn fixed_point_matches_the_usual_formatting() {
        for x in [
            0.0, 0.5, 0.33147956, 1.0, 895.0903, -12.345678, 123456.789, 1e-9, -0.00004,
        ] {
            for d in [2, 4] {
                let ours = fixed(x, d);
                let std = format!("{x:.*}", d as usize);
                let same = ours == std || ours == std.replacen("-0.", "0.", 1);
                assert!(same, "{x} at {d}: {ours} vs {std}");
            }
        }
    }
}
