//! The OpenAPI document, generated from the handler and response types (utoipa). The
//! customer record's fields are filled in from the bundle being served, so clients see
//! the real column names and types. Category values are left out: the document is public,
//! and the values seen in training are the bundle's business, not the caller's.

use super::error::ApiError;
use super::routes;
use crate::bundle::SchemaColumn;
use crate::data::ColumnKind;
use crate::score::{Answer, Offer, Propensity, Retention, Scorer, SegmentAnswer};
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::{OpenApi as Document, RefOr};
use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "custscore",
        description = "Segment, cross-sell and retention risk for each customer"
    ),
    paths(
        routes::score_one,
        routes::score_batch,
        super::decisions::next_best_action,
        routes::models,
        routes::segments,
        routes::rules,
        routes::reload,
        super::lifecycle::promote,
        super::lifecycle::rollback,
        super::access::reload_keys,
        routes::monitoring,
        super::outcomes::post_outcomes,
        super::outcomes::campaign,
        routes::healthz,
        routes::readyz,
        routes::metrics
    ),
    components(schemas(
        Answer,
        SegmentAnswer,
        Offer,
        Retention,
        Propensity,
        ApiError,
        routes::CustomerRecord,
        routes::BatchAnswer,
        routes::BatchItem,
        routes::ModelInfo,
        super::shadow::ShadowReport,
        routes::SegmentsInfo,
        routes::RulesInfo,
        routes::RuleInfo,
        routes::ReloadAnswer,
        super::access::KeysReloadAnswer,
        routes::Health,
        super::lifecycle::PromoteRequest,
        routes::MonitoringInfo,
        crate::outcomes::contacts::ContactArm,
        crate::outcomes::Arm,
        super::outcomes::OutcomeEvent,
        super::outcomes::OutcomesAnswer,
        super::outcomes::EventResult,
        super::outcomes::EventStatus,
        crate::outcomes::EventError,
        crate::outcomes::CampaignReport,
        crate::outcomes::evaluate::VersionReport,
        crate::outcomes::evaluate::Decile,
        crate::outcomes::evaluate::BandFigures,
        crate::outcomes::evaluate::ArmFigures,
        crate::outcomes::evaluate::Effect,
        crate::decisions::NextBestAction,
        crate::decisions::nba::Choice,
        crate::decisions::nba::Ineligible
    ))
)]
struct ApiDoc;

pub fn document(scorer: &Scorer) -> Document {
    let mut doc = ApiDoc::openapi();
    if let Some(components) = doc.components.as_mut() {
        components.schemas.insert(
            "CustomerRecord".to_string(),
            RefOr::T(customer_schema(scorer)),
        );
    }
    doc
}

fn customer_schema(scorer: &Scorer) -> Schema {
    let schema = &scorer.bundle().manifest.schema;
    let mut object = ObjectBuilder::new().description(Some(
        "One customer. Unknown fields are ignored; absent or null fields are missing values.",
    ));
    if let Some(id) = &schema.id {
        object = object.property(id, ObjectBuilder::new().schema_type(Type::String));
    }
    for column in &schema.columns {
        object = object.property(&column.name, field_schema(column));
    }
    Schema::Object(object.build())
}

fn field_schema(column: &SchemaColumn) -> ObjectBuilder {
    match column.kind {
        ColumnKind::Numeric => ObjectBuilder::new().schema_type(Type::Number),
        ColumnKind::Categorical => {
            ObjectBuilder::new()
                .schema_type(Type::String)
                .description(Some(
                    "a category; one never seen in training is scored as unknown",
                ))
        }
    }
}
