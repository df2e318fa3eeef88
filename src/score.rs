//! The Scorer: one customer record in, the answers out. `batch` and `serve` both call
//! it, so a customer gets the same answer from a file and from the API.

use crate::bundle::Bundle;
use crate::features::{EncodeError, Value};
use crate::models::classifier::explain::{push_reason, reason_texts};
use crate::models::classifier::{ReasonScratch, RiskScore, ValueInputs};
use crate::models::contribution::{Contribution, CostInputs, ValueBasis};
use crate::models::lifetime::{LifetimeAnswer, RepeatSummary};
use crate::models::offers::{CustomerItems, PurchaseHistory};
use crate::models::rfm::{RfmAnswer, RfmMeasures};
use crate::models::rules::{CrossSellModel, HeldLookup, ItemOffer};
use crate::numfmt;
use serde::Serialize;
use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Which segment a customer is in, and where they sit in the value pyramid.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct SegmentAnswer {
    pub id: usize,
    pub name: String,
    pub tier: String,
    /// Value quadrant (current value × lifetime value): invest / protect / maintain / let go.
    pub quadrant: Option<String>,
    /// Revenue less cost to serve (bundles trained with a cost model).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contribution: Option<f64>,
    /// Costs more to serve than it brings in (bundles trained with a cost model).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub loss_maker: Option<bool>,
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
    /// `contribution` when the CLV discounts the margin less the running cost to serve
    /// (bundles ranked by contribution); absent when it discounts the margin.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clv_basis: Option<String>,
}

/// One target's calibrated probability, band and reasons (any target, attrition included).
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct Propensity {
    pub probability: f64,
    /// low / medium / high, at the target's band cut-offs.
    pub band: String,
    /// The (up to three) inputs that push this customer's probability up most, in words.
    pub reasons: Vec<String>,
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
    /// Every target's answer by target name, the attrition target's included (its
    /// probability is `retention`'s); empty when the bundle has no label.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub propensities: BTreeMap<String, Propensity>,
    /// Probabilistic lifetime value (BG/NBD + Gamma-Gamma; bundles trained from an order
    /// log, for records carrying the repeat-purchase summary).
    pub lifetime: Option<Box<LifetimeAnswer>>,
    /// RFM scores, cell, named group and lifecycle status (bundles trained from an order
    /// log, for records carrying recency, frequency and monetary).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rfm: Option<Box<RfmAnswer>>,
    /// Treatment response probability minus control response probability: what a contact
    /// changes (bundles trained with `--uplift`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uplift: Option<f64>,
    /// Things the caller should know about the input (e.g. categories never seen in
    /// training, scored as unknown).
    pub warnings: Vec<String>,
    pub model_version: String,
    /// The campaign this customer was recorded as a contact of, and their arm (only when
    /// the request named a campaign).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contact: Option<Box<crate::outcomes::contacts::ContactArm>>,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ScoreError {
    #[error(transparent)]
    Field(#[from] EncodeError),
    #[error("expected {expected} values, got {got}")]
    Arity { expected: usize, got: usize },
    #[error("the customer id `{field}` is missing")]
    MissingId { field: String },
}

impl ScoreError {
    /// The input field the error is about, for API error bodies.
    pub fn field(&self) -> Option<&str> {
        match self {
            ScoreError::Field(EncodeError::NotANumber { column, .. }) => Some(column),
            ScoreError::MissingId { field } => Some(field),
            ScoreError::Arity { .. } => None,
        }
    }
}

pub struct Scorer {
    bundle: Bundle,
    value_input: Option<usize>,
    /// The cost model's columns, when the bundle has one.
    cost_inputs: Option<CostInputs>,
    /// Input index of each holdings column of the cross-sell rules.
    holdings_inputs: Vec<Option<usize>>,
    held_items: HeldLookup,
    value_inputs: ValueInputs,
    /// Input index of each `transactions::LIFETIME_INPUTS` column, when the bundle has
    /// lifetime models.
    lifetime_inputs: Option<[usize; 4]>,
    /// Input index of each `rfm::RFM_INPUTS` column, when the bundle has an RFM model.
    rfm_inputs: Option<[usize; 5]>,
    /// The attrition target's name (the key of its propensity).
    attrition_name: Option<String>,
    /// Segment names and the version as CSV fields, quoted once here.
    segment_names_csv: Vec<String>,
    version_csv: String,
    /// The bundle's fixed texts as JSON strings, made at the first answer that needs them.
    json_texts: std::sync::OnceLock<JsonTexts>,
    /// Tells Scorers apart in the threads' remembered offers ([`remembered_offers`]).
    id: u64,
    /// Item sets of the log being scored (`score --transactions`), used instead of the
    /// bundle's.
    log_history: Option<PurchaseHistory>,
}

/// What the customer bought, for cross-sell from purchase history (order-log bundles).
#[derive(Debug, Clone, Copy)]
pub enum Bought<'h> {
    /// Not known: offers come from the record's holdings columns (or popularity).
    Unknown,
    /// The customer with this id: their items from the log being scored, else the bundle's.
    Customer(&'h str),
    /// These items (e.g. aggregated from raw events in a request).
    Items(&'h CustomerItems),
}

/// The scored CSV column of a bundle with an uplift model.
pub const UPLIFT_COLUMN: &str = "uplift";
/// The scored CSV columns of a bundle with a cost model: revenue less cost to serve, and
/// yes / no for a negative one.
pub const CONTRIBUTION_COLUMN: &str = "contribution";
pub const LOSS_MAKER_COLUMN: &str = "loss_maker";
/// Last CSV column when CLV and the quadrant run on contribution.
pub const CLV_BASIS_COLUMN: &str = "clv_basis";

/// A bundle's fixed texts as JSON string literals (quoted and escaped once), so that an
/// answer can be written without escaping them for every request.
#[derive(Debug)]
pub struct JsonTexts {
    pub segment_names: Vec<String>,
    pub items: Vec<String>,
    pub rules: Vec<String>,
    /// Per item: why it is offered when no rule fired ([`popular_text`]).
    pub popular: Vec<String>,
    pub version: String,
}

impl JsonTexts {
    fn of(bundle: &Bundle) -> Self {
        let json = |text: &str| serde_json::to_string(text).unwrap_or_default();
        let profiles = &bundle.segments.profiles;
        let rules = bundle.rules.as_ref();
        JsonTexts {
            segment_names: profiles.iter().map(|p| json(&p.name)).collect(),
            items: rules.map_or_else(Vec::new, |m| m.items.iter().map(|i| json(i)).collect()),
            rules: rules.map_or_else(Vec::new, |m| {
                (0..m.rules.len() as u32)
                    .map(|r| json(m.rule_text(r)))
                    .collect()
            }),
            popular: rules.map_or_else(Vec::new, |m| {
                (0..m.items.len() as u32)
                    .map(|item| json(&popular_text(m, item)))
                    .collect()
            }),
            version: json(&bundle.manifest.version),
        }
    }
}

/// Most distinct held-product sets a thread remembers for one Scorer.
const OFFER_CACHE_LIMIT: usize = 16_384;

/// Scorers a thread remembers offers for (the one served and a challenger, say); a new
/// one pushes the oldest out, so a reloaded bundle's offers are soon forgotten.
const SCORERS_PER_THREAD: usize = 2;

/// One Scorer's ranked offers by set of held products.
struct OffersSeen {
    scorer: u64,
    offers: HashMap<Vec<u32>, Arc<Vec<ItemOffer>>>,
}

thread_local! {
    static OFFERS_SEEN: RefCell<Vec<OffersSeen>> = const { RefCell::new(Vec::new()) };
}

/// The offers `rank` gives for `held`, remembered by this thread. Customers share few
/// distinct product sets (telco: at most 2^10), so most lookups skip the rule scan.
/// Each thread keeps its own: one map for all would have every hit write its lock and
/// the entry's count, cache lines that two workers scoring at once pass back and forth.
fn remembered_offers(
    scorer: u64,
    held: &[u32],
    rank: impl FnOnce() -> Vec<ItemOffer>,
) -> Arc<Vec<ItemOffer>> {
    OFFERS_SEEN.with(|seen| {
        let mut seen = seen.borrow_mut();
        let at = match seen.iter().position(|s| s.scorer == scorer) {
            Some(at) => at,
            None => {
                if seen.len() == SCORERS_PER_THREAD {
                    seen.remove(0);
                }
                seen.push(OffersSeen {
                    scorer,
                    offers: HashMap::new(),
                });
                seen.len() - 1
            }
        };
        let offers = &mut seen[at].offers;
        if let Some(hit) = offers.get(held) {
            return Arc::clone(hit);
        }
        let ranked = Arc::new(rank());
        if offers.len() < OFFER_CACHE_LIMIT {
            offers.insert(held.to_vec(), Arc::clone(&ranked));
        }
        ranked
    })
}

/// Buffers one thread reuses from one customer to the next. Fill `values` (one per input
/// column, in input order) and call [`Scorer::score_into`].
#[derive(Debug, Default)]
pub struct Scratch<'a> {
    pub values: Vec<Value<'a>>,
    features: Vec<f64>,
    reasons: ReasonScratch,
    held: Vec<u32>,
    warnings: Vec<String>,
    targets: Vec<RiskScore>,
}

impl<'a> Scratch<'a> {
    /// Buffers for a record whose values (in input order) are already read.
    pub fn with_values(values: Vec<Value<'a>>) -> Self {
        Scratch {
            values,
            ..Scratch::default()
        }
    }
}

/// One customer's answers as the Scorer found them, borrowing names from the bundle and
/// the record from the scratch: a batch writes this straight out, the service turns it
/// into an [`Answer`] with [`Scorer::answer`].
#[derive(Debug)]
pub struct Scored<'s, 'a> {
    pub segment: usize,
    pub segment_name: &'s str,
    pub tier: &'s str,
    pub risk: Option<RiskScore>,
    /// The other targets' answers, in the order of `Bundle::targets`.
    pub targets: &'s [RiskScore],
    pub offers: Arc<Vec<ItemOffer>>,
    pub lifetime: Option<LifetimeAnswer>,
    pub rfm: Option<RfmAnswer>,
    pub uplift: Option<f64>,
    /// Revenue and cost to serve (bundles with a cost model, records with every figure).
    pub contribution: Option<Contribution>,
    pub warnings: &'s [String],
    values: &'s [Value<'a>],
}

impl Scored<'_, '_> {
    /// The record's parsed values, one per input in input order.
    pub fn values(&self) -> &[Value<'_>] {
        self.values
    }
}

impl Scorer {
    pub fn new(bundle: Bundle) -> Self {
        let encoder = &bundle.encoder;
        let value_input = bundle
            .manifest
            .schema
            .value
            .as_deref()
            .and_then(|v| encoder.input_index(v));
        let cost_inputs = bundle.pyramid.as_ref().and_then(|p| {
            let model = &p.profit.as_ref()?.cost;
            model.inputs(encoder, &p.column)
        });
        if let Some(rules) = &bundle.rules {
            rules.rule_text(0); // write the rule texts now, not during the first request
        }
        let holdings_inputs = bundle.rules.as_ref().map_or(Vec::new(), |rules| {
            rules
                .holdings
                .iter()
                .map(|c| encoder.input_index(c))
                .collect()
        });
        let held_items = bundle
            .rules
            .as_ref()
            .map_or_else(HeldLookup::default, |rules| {
                HeldLookup::new(rules, |column| encoder.categories(column))
            });
        let value_inputs = bundle
            .retention
            .as_ref()
            .map_or_else(ValueInputs::default, |r| r.value_inputs(encoder));
        let lifetime_inputs = bundle.lifetime.as_ref().and_then(|_| {
            let [a, b, c, d] =
                crate::data::transactions::LIFETIME_INPUTS.map(|n| encoder.input_index(n));
            Some([a?, b?, c?, d?])
        });
        let rfm_inputs = bundle.rfm.as_ref().and_then(|_| {
            let [a, b, c, d, e] = crate::models::rfm::RFM_INPUTS.map(|n| encoder.input_index(n));
            Some([a?, b?, c?, d?, e?])
        });
        let segment_names_csv = bundle
            .segments
            .profiles
            .iter()
            .map(|p| CsvRow::quoted(&p.name))
            .collect();
        let version_csv = CsvRow::quoted(&bundle.manifest.version);
        let schema = &bundle.manifest.schema;
        let attrition_name = match schema.targets.iter().find(|t| t.attrition) {
            Some(t) => Some(t.name.clone()),
            None => schema.label.as_ref().map(|l| l.column.clone()),
        }
        .filter(|_| bundle.retention.is_some());
        Scorer {
            bundle,
            value_input,
            cost_inputs,
            holdings_inputs,
            held_items,
            value_inputs,
            lifetime_inputs,
            rfm_inputs,
            attrition_name,
            segment_names_csv,
            version_csv,
            json_texts: std::sync::OnceLock::new(),
            id: {
                static NEXT_ID: AtomicU64 = AtomicU64::new(0);
                NEXT_ID.fetch_add(1, Ordering::Relaxed)
            },
            log_history: None,
        }
    }

    /// Answer cross-sell from these item sets (those of the log being scored) rather than
    /// the bundle's.
    pub fn use_history(&mut self, history: PurchaseHistory) {
        self.log_history = Some(history);
    }

    pub fn bundle(&self) -> &Bundle {
        &self.bundle
    }

    /// What the pyramid ranks: revenue unless the bundle's cost model says contribution.
    pub fn value_basis(&self) -> ValueBasis {
        (self.bundle.pyramid.as_ref())
            .and_then(|p| p.profit.as_ref())
            .map_or(ValueBasis::Revenue, |p| p.cost.basis())
    }

    /// Do CLV and the quadrant run on contribution (margin less running costs)?
    pub fn clv_on_contribution(&self) -> bool {
        (self.bundle.retention.as_ref())
            .and_then(|r| r.value.as_ref())
            .is_some_and(|v| v.basis == crate::models::value::ClvBasis::Contribution)
    }

    /// Does the bundle compute contribution (and so write its columns)?
    pub fn has_cost_model(&self) -> bool {
        self.cost_inputs.is_some()
    }

    /// Segment names, item names, rule texts and the version as JSON strings.
    pub fn json_texts(&self) -> &JsonTexts {
        self.json_texts.get_or_init(|| JsonTexts::of(&self.bundle))
    }

    pub fn version(&self) -> &str {
        &self.bundle.manifest.version
    }

    /// Input column names, in the order `score` expects their values.
    pub fn input_names(&self) -> impl Iterator<Item = &str> {
        self.bundle.encoder.inputs.iter().map(|i| i.name.as_str())
    }

    /// The column naming each customer, when the bundle was trained with one.
    pub fn id_column(&self) -> Option<&str> {
        self.bundle.manifest.schema.id.as_deref()
    }

    /// The one rule for a record's id, for the API and batch alike: when the bundle has an
    /// id column, an absent or missing-token id is refused rather than scored as "".
    /// `raw` is the record's id value (None when absent); returns it trimmed.
    pub fn record_id<'a>(&self, raw: Option<&'a str>) -> Result<&'a str, ScoreError> {
        let Some(column) = self.id_column() else {
            return Ok(raw.map_or("", crate::data::trim));
        };
        match raw.map(crate::data::trim) {
            Some(id) if !crate::data::is_missing_trimmed(id) => Ok(id),
            _ => Err(ScoreError::MissingId {
                field: column.to_string(),
            }),
        }
    }

    pub fn n_inputs(&self) -> usize {
        self.bundle.encoder.inputs.len()
    }

    /// Score one customer; `raw` holds one value per input column, in input order
    /// (`Value::Missing` for absent ones).
    pub fn score(&self, id: Cow<str>, raw: Vec<Value>) -> Result<Answer, ScoreError> {
        self.score_observed(id, raw, |_| ())
    }

    /// [`score`](Self::score), showing the scored record to `observe` first: the
    /// service's drift window counts it there without keeping any value.
    pub fn score_observed(
        &self,
        id: Cow<str>,
        raw: Vec<Value>,
        observe: impl FnOnce(&Scored),
    ) -> Result<Answer, ScoreError> {
        let mut scratch = Scratch {
            values: raw,
            ..Scratch::default()
        };
        let scored = self.score_bought_into(&mut scratch, Bought::Customer(&id))?;
        observe(&scored);
        Ok(self.answer(id, &scored))
    }

    /// Score the customer whose values are in `scratch.values` (parsed in place).
    pub fn score_into<'s, 'a>(
        &'s self,
        scratch: &'s mut Scratch<'a>,
    ) -> Result<Scored<'s, 'a>, ScoreError> {
        self.score_bought_into(scratch, Bought::Unknown)
    }

    /// [`score_into`](Self::score_into), with cross-sell from what the customer bought.
    pub fn score_bought_into<'s, 'a>(
        &'s self,
        scratch: &'s mut Scratch<'a>,
        bought: Bought,
    ) -> Result<Scored<'s, 'a>, ScoreError> {
        if scratch.values.len() != self.n_inputs() {
            return Err(ScoreError::Arity {
                expected: self.n_inputs(),
                got: scratch.values.len(),
            });
        }
        let Scratch {
            values,
            features,
            reasons,
            held,
            warnings,
            targets,
        } = scratch;
        let encoder = &self.bundle.encoder;
        encoder.parse_in_place(values)?;
        warnings.clear();
        encoder.encode(values, features, warnings);
        let segment = self.bundle.segments.assign(features);
        let contribution =
            (self.cost_inputs.as_ref()).and_then(|c| c.contribution(encoder, values));
        let tier = match (&self.bundle.pyramid, self.value_input) {
            (Some(pyramid), _) if self.value_basis() == ValueBasis::Contribution => {
                pyramid.tier_of(contribution.map(|c| c.value()))
            }
            (Some(pyramid), Some(at)) => pyramid.tier_of(
                values[at]
                    .as_number()
                    .map(|x| encoder.inputs[at].encoding.value_for_arithmetic(x)),
            ),
            _ => crate::models::segment::UNRANKED,
        };
        let risk = self.bundle.retention.as_ref().map(|r| {
            let c = contribution.as_ref();
            r.score(encoder, &self.value_inputs, values, features, c, reasons)
        });
        targets.clear();
        for target in &self.bundle.targets {
            let none = ValueInputs::default();
            targets.push(
                target
                    .model
                    .score(encoder, &none, values, features, None, reasons),
            );
        }
        let lifetime = self.lifetime(values, warnings);
        let rfm = self.rfm(values);
        let uplift = self.bundle.uplift.as_ref().map(|m| m.uplift(features));
        Ok(Scored {
            segment,
            segment_name: &self.bundle.segments.profiles[segment].name,
            tier,
            risk,
            targets,
            lifetime,
            rfm,
            uplift,
            contribution,
            offers: self.cross_sell(values, held, bought),
            warnings,
            values,
        })
    }

    /// The owned answer, with texts for the reasons and for the rules behind each offer.
    pub fn answer(&self, id: Cow<str>, scored: &Scored) -> Answer {
        let encoder = &self.bundle.encoder;
        Answer {
            id: id.into_owned(),
            segment: SegmentAnswer {
                id: scored.segment,
                name: scored.segment_name.to_string(),
                tier: scored.tier.to_string(),
                quadrant: scored.risk.and_then(|r| r.quadrant).map(String::from),
                contribution: scored.contribution.map(|c| c.value()),
                loss_maker: scored.contribution.map(|c| c.loss_maker()),
            },
            cross_sell: self.offer_texts(&scored.offers),
            retention: scored.risk.map(|r| Retention {
                probability: r.probability,
                band: r.band.to_string(),
                reasons: reason_texts(encoder, scored.values, &r.reasons),
                clv: r.clv,
                clv_basis: self.clv_on_contribution().then(|| "contribution".into()),
            }),
            propensities: self.propensities(scored),
            lifetime: scored.lifetime.map(Box::new),
            rfm: scored.rfm.clone().map(Box::new),
            uplift: scored.uplift,
            warnings: scored.warnings.to_vec(),
            model_version: self.version().to_string(),
            contact: None,
        }
    }

    /// Every target's score by target name: the attrition target (when the bundle names
    /// one), then the others in bundle order.
    pub fn target_scores<'a>(
        &'a self,
        scored: &'a Scored,
    ) -> impl Iterator<Item = (&'a str, &'a RiskScore)> {
        let attrition = self.attrition_name.as_deref().zip(scored.risk.as_ref());
        let others = (self.bundle.targets.iter().map(|t| t.name.as_str())).zip(scored.targets);
        attrition.into_iter().chain(others)
    }

    fn propensities(&self, scored: &Scored) -> BTreeMap<String, Propensity> {
        self.target_scores(scored)
            .map(|(name, r)| {
                let answer = Propensity {
                    probability: r.probability,
                    band: r.band.to_string(),
                    reasons: reason_texts(&self.bundle.encoder, scored.values, &r.reasons),
                };
                (name.to_string(), answer)
            })
            .collect()
    }

    /// The lifetime answers for a record with the repeat-purchase summary; none when a
    /// figure is missing, and a warning when the figures cannot belong to one customer.
    fn lifetime(&self, values: &[Value], warnings: &mut Vec<String>) -> Option<LifetimeAnswer> {
        let (model, at) = (self.bundle.lifetime.as_ref()?, self.lifetime_inputs?);
        let [frequency, recency, age, monetary] =
            at.map(|i| values.get(i).and_then(Value::as_number));
        let summary = RepeatSummary {
            frequency: frequency?,
            recency: recency?,
            age: age?,
            monetary: monetary?,
        };
        if let Some(problem) = summary.problem() {
            warnings.push(format!(
                "no lifetime value: {problem} ({})",
                crate::data::transactions::LIFETIME_INPUTS.join(", ")
            ));
            return None;
        }
        Some(model.answer(&summary))
    }

    /// The RFM answer for a record with recency, frequency, monetary and age; none when
    /// the bundle has no RFM model or one of those is missing.
    fn rfm(&self, values: &[Value]) -> Option<RfmAnswer> {
        let (model, at) = (self.bundle.rfm.as_ref()?, self.rfm_inputs?);
        let measures = RfmMeasures::from_values(at.map(|i| values.get(i)?.as_number()))?;
        Some(model.answer(&measures))
    }

    /// The header line of a scored CSV file: [`Answer::csv_header`], then the lifetime
    /// columns when the bundle has lifetime models.
    pub fn write_csv_header(&self, out: &mut Vec<u8>) {
        let mut row = CsvRow::new(out);
        for column in Answer::csv_header() {
            row.field(column);
        }
        if let Some(model) = &self.bundle.lifetime {
            row.field("p_alive");
            row.field(&format!(
                "expected_purchases_{}d",
                model.settings.horizon_days
            ));
            row.field("expected_order_value");
            row.field("lifetime_clv");
        }
        if self.bundle.rfm.is_some() {
            for column in ["rfm_cell", "rfm_group", "lifecycle_status"] {
                row.field(column);
            }
        }
        for target in &self.bundle.targets {
            for part in ["probability", "band", "reasons"] {
                row.field(&format!("{}_{part}", target.name));
            }
        }
        if self.bundle.uplift.is_some() {
            row.field(UPLIFT_COLUMN);
        }
        if self.has_cost_model() {
            row.field(CONTRIBUTION_COLUMN);
            row.field(LOSS_MAKER_COLUMN);
        }
        if self.clv_on_contribution() {
            row.field(CLV_BASIS_COLUMN);
        }
        row.end();
    }

    /// Append one scored row, in the columns of [`Answer::csv_header`], to `out`; `field`
    /// is a buffer reused for the fields that are built from parts.
    pub fn write_csv(&self, out: &mut Vec<u8>, id: &str, scored: &Scored, field: &mut String) {
        let mut row = CsvRow::new(out);
        let risk = scored.risk.as_ref();
        row.field(id);
        // Numbers and the bundle's own names never need quoting (names are checked once,
        // when the Scorer is made).
        row.number(field, |f| numfmt::push_integer(f, scored.segment as u64));
        row.plain(&self.segment_names_csv[scored.segment]);
        row.field(scored.tier);
        row.number(field, |f| {
            if let Some(r) = risk {
                numfmt::push_fixed(f, r.probability, 4);
            }
        });
        row.plain(risk.map_or("", |r| r.band));
        row.built(field, |f| {
            for (i, reason) in risk.iter().flat_map(|r| r.reasons.iter()).enumerate() {
                if i > 0 {
                    f.push_str("; ");
                }
                push_reason(f, &self.bundle.encoder, reason, scored.values.get(reason.0));
            }
        });
        row.number(field, |f| {
            if let Some(clv) = risk.and_then(|r| r.clv) {
                numfmt::push_fixed(f, clv, 2);
            }
        });
        row.plain(risk.and_then(|r| r.quadrant).unwrap_or(""));
        row.built(field, |f| {
            let items = self.bundle.rules.as_ref().map_or(&[][..], |m| &m.items[..]);
            for (i, offer) in scored.offers.iter().enumerate() {
                if i > 0 {
                    f.push(';');
                }
                f.push_str(items.get(offer.item as usize).map_or("", String::as_str));
            }
        });
        row.plain(&self.version_csv);
        row.built(field, |f| f.push_str(&scored.warnings.join("; ")));
        if self.bundle.lifetime.is_some() {
            let l = scored.lifetime.as_ref();
            let figures = [
                l.map(|l| (l.p_alive, 4)),
                l.and_then(|l| l.expected_purchases).map(|x| (x, 4)),
                l.and_then(|l| l.expected_order_value).map(|x| (x, 2)),
                l.and_then(|l| l.clv).map(|x| (x, 2)),
            ];
            for figure in figures {
                row.number(field, |f| {
                    if let Some((x, decimals)) = figure {
                        numfmt::push_fixed(f, x, decimals);
                    }
                });
            }
        }
        if self.bundle.rfm.is_some() {
            let rfm = scored.rfm.as_ref();
            row.plain(rfm.map_or("", |a| a.cell.as_str()));
            row.field(rfm.map_or("", |a| a.group));
            row.plain(rfm.map_or("", |a| a.lifecycle));
        }
        for target in scored.targets {
            self.write_risk(&mut row, field, target, scored.values);
        }
        if self.bundle.uplift.is_some() {
            row.number(field, |f| {
                if let Some(uplift) = scored.uplift {
                    numfmt::push_fixed(f, uplift, 4);
                }
            });
        }
        if self.has_cost_model() {
            let c = scored.contribution;
            row.number(field, |f| {
                if let Some(c) = c {
                    numfmt::push_fixed(f, c.value(), 2);
                }
            });
            row.plain(c.map_or("", |c| if c.loss_maker() { "yes" } else { "no" }));
        }
        if self.clv_on_contribution() {
            row.plain("contribution");
        }
        row.end();
    }
}

impl Scorer {
    /// A target's probability, band and reasons as three CSV fields.
    fn write_risk(&self, row: &mut CsvRow, field: &mut String, risk: &RiskScore, values: &[Value]) {
        row.number(field, |f| numfmt::push_fixed(f, risk.probability, 4));
        row.plain(risk.band);
        row.built(field, |f| {
            for (i, reason) in risk.reasons.iter().enumerate() {
                if i > 0 {
                    f.push_str("; ");
                }
                push_reason(f, &self.bundle.encoder, reason, values.get(reason.0));
            }
        });
    }
}

/// `text` as one CSV field, quoted only if it must be (as scored rows write fields).
pub fn csv_field(text: &str) -> String {
    CsvRow::quoted(text)
}

/// One CSV record appended to a byte buffer: fields quoted only when they hold a comma,
/// a quote or a line break (as the csv crate writes them), lines ended by `\n`.
struct CsvRow<'o> {
    out: &'o mut Vec<u8>,
    first: bool,
}

impl<'o> CsvRow<'o> {
    fn new(out: &'o mut Vec<u8>) -> Self {
        CsvRow { out, first: true }
    }

    /// A field known to need no quoting (a number, a fixed word, a pre-quoted name).
    fn plain(&mut self, text: &str) {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        self.out.extend_from_slice(text.as_bytes());
    }

    /// A number written into `buffer` (cleared first) by `build`.
    fn number(&mut self, buffer: &mut String, build: impl FnOnce(&mut String)) {
        buffer.clear();
        build(buffer);
        self.plain(buffer);
    }

    fn field(&mut self, text: &str) {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        if text
            .bytes()
            .any(|b| matches!(b, b',' | b'"' | b'\n' | b'\r'))
        {
            self.out.push(b'"');
            for part in text.split_inclusive('"') {
                self.out.extend_from_slice(part.as_bytes());
                if part.ends_with('"') {
                    self.out.push(b'"');
                }
            }
            self.out.push(b'"');
        } else {
            self.out.extend_from_slice(text.as_bytes());
        }
    }

    /// A field written into `buffer` (cleared first) by `build`.
    fn built(&mut self, buffer: &mut String, build: impl FnOnce(&mut String)) {
        buffer.clear();
        build(buffer);
        self.field(buffer);
    }

    /// `text` as one CSV field, quoted if it must be.
    fn quoted(text: &str) -> String {
        let mut out = Vec::new();
        CsvRow::new(&mut out).field(text);
        String::from_utf8(out).unwrap_or_default()
    }

    fn end(self) {
        self.out.push(b'\n');
    }
}

impl Scorer {
    /// Ranked offers: from the customer's own items when they are known, else for the
    /// products the record's holdings columns say are held.
    fn cross_sell(
        &self,
        values: &[Value],
        held: &mut Vec<u32>,
        bought: Bought,
    ) -> Arc<Vec<ItemOffer>> {
        let Some(model) = &self.bundle.rules else {
            return Arc::default();
        };
        held.clear();
        if let Some(items) = self.items_of(bought) {
            // Not remembered: purchase histories rarely repeat, and can be long.
            let offers = model.offers_from(items.antecedent(), &items.bought, model.params.top_n);
            return Arc::new(offers);
        }
        for (column, at) in self.holdings_inputs.iter().enumerate() {
            let value = at.and_then(|at| values.get(at));
            if let Some(id) = value.and_then(|v| self.held_items.item(column, v)) {
                held.push(id);
            }
        }
        held.sort_unstable();
        self.ranked_offers(model, held)
    }

    /// Offers as items with the rules behind them in words.
    fn offer_texts(&self, offers: &[ItemOffer]) -> Vec<Offer> {
        let Some(model) = &self.bundle.rules else {
            return Vec::new();
        };
        offers
            .iter()
            .map(|offer| Offer {
                item: model.items[offer.item as usize].clone(),
                score: offer.score,
                because: match offer.because.is_empty() {
                    true => vec![popular_text(model, offer.item)],
                    false => offer
                        .because
                        .iter()
                        .map(|&r| model.rule_text(r).to_string())
                        .collect(),
                },
            })
            .collect()
    }

    /// The model's ranked offers for a (sorted) set of held products, remembered.
    fn ranked_offers(&self, model: &CrossSellModel, held: &[u32]) -> Arc<Vec<ItemOffer>> {
        remembered_offers(self.id, held, || model.offers(held, model.params.top_n))
    }

    /// The customer's items: given, or looked up in the log's or the bundle's history.
    fn items_of<'h>(&'h self, bought: Bought<'h>) -> Option<&'h CustomerItems> {
        match bought {
            Bought::Unknown => None,
            Bought::Items(items) => Some(items),
            Bought::Customer(id) => self
                .log_history
                .as_ref()
                .or(self.bundle.history.as_ref())?
                .items_of(id),
        }
    }
}

/// Why an item is offered when no rule fired for the customer.
pub fn popular_text(model: &CrossSellModel, item: u32) -> String {
    format!(
        "popular: held by {:.0}% of customers (no rule fired)",
        100.0 * model.popularity(item)
    )
}

impl Answer {
    /// The calibrated answer for `target` (a target name, e.g. `churn` or `upgraded`).
    pub fn propensity(&self, target: &str) -> Option<&Propensity> {
        self.propensities.get(target)
    }

    /// Columns of a scored CSV row, in order (see `Scorer::write_csv`).
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
}

/// A bundle with every answer the telco set-up gives (segments, tiers, quadrants,
/// cross-sell rules, churn risk with reasons and CLV), trained on the 400-row fixture.
#[cfg(test)]
pub(crate) fn telco_400_scorer() -> Scorer {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut config =
        crate::config::TrainConfig::load(&root.join("training-data/custscore.toml")).unwrap();
    config.data.customers = Some(root.join("tests/fixtures/telco_400.csv"));
    let bundle = crate::train::train(&config, &crate::progress::Progress::silent()).unwrap();
    Scorer::new(bundle)
}

#[cfg(test)]
mod tests {
    use super::{remembered_offers, CsvRow, ItemOffer, SCORERS_PER_THREAD};
    use proptest::prelude::*;
    use std::sync::Arc;

    #[test]
    fn offers_are_ranked_once_per_scorer_and_set_and_the_oldest_scorer_is_forgotten() {
        let offer = |item| ItemOffer {
            item,
            score: 0.5,
            lift: 1.0,
            because: Vec::new(),
        };
        let ranked = std::cell::Cell::new(0);
        let rank = |scorer: u64, held: &[u32]| {
            remembered_offers(scorer, held, || {
                ranked.set(ranked.get() + 1);
                vec![offer(held.len() as u32)]
            })
        };
        // Ids far from those real Scorers take, so other tests on this thread don't meet them.
        let first = rank(u64::MAX, &[1, 2]);
        assert!(Arc::ptr_eq(&first, &rank(u64::MAX, &[1, 2])));
        assert_eq!(rank(u64::MAX, &[3]).len(), 1);
        assert_eq!(rank(u64::MAX - 1, &[1, 2])[0].item, 2);
        assert_eq!(ranked.get(), 3);
        for other in 2..=SCORERS_PER_THREAD as u64 {
            rank(u64::MAX - other, &[1, 2]);
        }
        // The first scorer was pushed out: its set is ranked again.
        rank(u64::MAX, &[1, 2]);
        assert_eq!(ranked.get(), 4 + SCORERS_PER_THREAD - 1);
    }

    proptest! {
        #[test]
        fn csv_rows_are_written_as_the_csv_crate_writes_them(
            fields in prop::collection::vec("[a-z ,\"\r\n;·=]{0,20}", 2..6)
        ) {
            let mut ours = Vec::new();
            let mut row = CsvRow::new(&mut ours);
            for f in &fields {
                row.field(f);
            }
            row.end();
            let mut theirs = csv::Writer::from_writer(Vec::new());
            theirs.write_record(&fields).unwrap();
            prop_assert_eq!(String::from_utf8(ours).unwrap(), String::from_utf8(theirs.into_inner().unwrap()).unwrap());
        }
    }
}
