//! The closed loop over HTTP: campaign fields on the scoring routes record contacts,
//! `POST /v1/outcomes` stores events, `GET /v1/campaigns/{name}` evaluates a campaign.
//! Every database call runs on the blocking pool, one at a time per store.

use super::error::{ApiError, Code};
use super::request::{json_body, parse_json_array};
use super::state::{AppState, Authorized};
use crate::access::audit::Subjects;
use crate::outcomes::events::{self, EventError, EVENT_TYPES};
use crate::outcomes::{Campaign, CampaignReport, Contact, Store, StoreError};
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use std::sync::Mutex;
use utoipa::ToSchema;

/// The store the service records into, or why it could not be opened (the default
/// store in a read-only models folder must not stop the service from scoring).
pub struct OutcomesStore {
    store: Result<Mutex<Box<dyn Store>>, String>,
}

impl OutcomesStore {
    pub fn new(store: Box<dyn Store>) -> Self {
        OutcomesStore {
            store: Ok(Mutex::new(store)),
        }
    }

    pub fn unavailable(reason: String) -> Self {
        OutcomesStore { store: Err(reason) }
    }

    /// Fill the registry's realized AUCs from the store, already on a blocking thread; a
    /// missing or failing store leaves them out (the listing still answers).
    pub fn add_realized_aucs(&self, registry: &mut crate::lifecycle::Registry) {
        let Ok(store) = &self.store else { return };
        let mut store = store.lock().unwrap_or_else(|e| e.into_inner());
        match crate::outcomes::realized::realized_aucs(store.as_mut()) {
            Ok(realized) => crate::outcomes::realized::attach(registry, &realized),
            Err(e) => {
                tracing::warn!(error = %crate::error_chain(&e), "realized AUC left out of /v1/models")
            }
        }
    }

    /// Run `work` with the store, on the blocking pool.
    async fn with<T: Send + 'static>(
        state: &web::Data<AppState>,
        work: impl FnOnce(&mut dyn Store) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let state = state.clone();
        web::block(move || {
            let store = match state.outcomes.as_ref().map(|o| &o.store) {
                Some(Ok(store)) => store,
                Some(Err(reason)) => {
                    return Err(ApiError::new(Code::StoreUnavailable, reason.clone()))
                }
                None => {
                    return Err(ApiError::new(
                        Code::StoreUnavailable,
                        "this server has no outcomes store",
                    ))
                }
            };
            let mut store = store.lock().unwrap_or_else(|e| e.into_inner());
            work(store.as_mut()).map_err(|e| {
                let cause = crate::error_chain(&e);
                tracing::error!(error = %cause, "outcomes store failed");
                ApiError::new(
                    Code::StoreUnavailable,
                    format!("the outcomes store failed: {cause}"),
                )
            })
        })
        .await
        .map_err(|e| ApiError::new(Code::Internal, format!("the blocking pool failed: {e}")))?
    }
}

/// The optional `campaign` and `control_share` (default 0.1) fields of a scored record.
pub fn campaign_of(record: &Json, path: &str) -> Result<Option<Campaign>, ApiError> {
    let field = |name: &str| record.get(name).filter(|v| !v.is_null());
    let name = match field("campaign") {
        None => return Ok(None),
        Some(Json::String(s)) => s.as_str(),
        Some(_) => {
            return Err(ApiError::field(
                Code::InvalidField,
                format!("{path}campaign"),
                "expected the campaign name as a string",
            ))
        }
    };
    let share = match field("control_share") {
        None => 0.1,
        Some(Json::Number(n)) => n.as_f64().unwrap_or(f64::NAN),
        Some(_) => {
            return Err(ApiError::field(
                Code::InvalidField,
                format!("{path}control_share"),
                "expected a number from 0 to below 1",
            ))
        }
    };
    Campaign::new(name, share).map(Some).map_err(|e| {
        let name = match e {
            crate::outcomes::contacts::CampaignError::BadName => "campaign",
            crate::outcomes::contacts::CampaignError::BadShare(_) => "control_share",
        };
        ApiError::field(Code::InvalidField, format!("{path}{name}"), e.to_string())
    })
}

/// Store contacts before the answer that shows their arm goes out.
pub async fn record_contacts(
    state: &web::Data<AppState>,
    contacts: Vec<Contact>,
) -> Result<(), ApiError> {
    if contacts.is_empty() {
        return Ok(());
    }
    OutcomesStore::with(state, move |store| {
        store.record_contacts(&contacts).map(|_| ())
    })
    .await
}

/// One event's fate.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EventStatus {
    Stored,
    /// Its key was stored before (or earlier in this request): counted once.
    Duplicate,
    Refused,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EventResult {
    pub index: usize,
    pub status: EventStatus,
    pub key: Option<String>,
    pub error: Option<EventError>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OutcomesAnswer {
    pub stored: usize,
    pub duplicates: usize,
    pub refused: usize,
    /// One entry per event, in request order.
    pub results: Vec<EventResult>,
}

/// An outcome event: `campaign`, `customer_id`, `type` (responded, purchased, churned,
/// retained), `time` (RFC 3339 or YYYY-MM-DD), optional `value` and `key`.
#[derive(ToSchema)]
#[schema(example = json!({"campaign": "spring", "customer_id": "7590-VHVEG", "type": "purchased", "time": "2024-05-01T10:00:00Z", "value": 49.0}))]
pub struct OutcomeEvent(#[allow(dead_code)] std::collections::HashMap<String, Json>);

/// Store outcome events (a JSON array). Sending an event twice stores it once; a bad
/// event is refused alone, naming its index and field.
#[utoipa::path(post, path = "/v1/outcomes", request_body = Vec<OutcomeEvent>,
    responses((status = 200, body = OutcomesAnswer), (status = 400, body = ApiError),
              (status = 413, body = ApiError), (status = 503, body = ApiError)))]
#[post("/v1/outcomes")]
pub async fn post_outcomes(
    _: Authorized,
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body = json_body(&req, payload, state.limits.max_body_bytes).await?;
    let items = parse_json_array(
        &body,
        state.limits.max_batch_items,
        "outcome events",
        "events",
    )?;
    super::access::note(&req, None, || Subjects::Count {
        customers: items.len(),
    });
    let checked: Vec<Result<events::Event, EventError>> = items
        .iter()
        .enumerate()
        .map(|(index, item)| {
            let at = format!("[{index}]");
            events::input_from_json(item, &at).and_then(|input| events::check(&input, &at))
        })
        .collect();
    let good: Vec<events::Event> = checked.iter().filter_map(|r| r.clone().ok()).collect();
    let new = OutcomesStore::with(&state, move |store| store.record_events(&good)).await?;
    Ok(HttpResponse::Ok().json(outcomes_answer(checked, new)))
}

fn outcomes_answer(
    checked: Vec<Result<events::Event, EventError>>,
    mut new: std::collections::HashSet<String>,
) -> OutcomesAnswer {
    let results: Vec<EventResult> = checked
        .into_iter()
        .enumerate()
        .map(|(index, result)| match result {
            // The first event of a key in the request is the stored one.
            Ok(event) => EventResult {
                index,
                status: match new.remove(&event.key) {
                    true => EventStatus::Stored,
                    false => EventStatus::Duplicate,
                },
                key: Some(event.key),
                error: None,
            },
            Err(error) => EventResult {
                index,
                status: EventStatus::Refused,
                key: None,
                error: Some(error),
            },
        })
        .collect();
    let count =
        |wanted: fn(&EventStatus) -> bool| results.iter().filter(|r| wanted(&r.status)).count();
    OutcomesAnswer {
        stored: count(|s| matches!(s, EventStatus::Stored)),
        duplicates: count(|s| matches!(s, EventStatus::Duplicate)),
        refused: count(|s| matches!(s, EventStatus::Refused)),
        results,
    }
}

#[derive(Debug, Deserialize)]
pub struct CampaignQuery {
    outcome: Option<String>,
}

/// How a campaign did (as `custscore evaluate --campaign NAME --json`); `?outcome=`
/// picks the event type (default churned).
#[utoipa::path(get, path = "/v1/campaigns/{name}",
    params(("name" = String, Path, description = "campaign name"),
           ("outcome" = Option<String>, Query, description = "event type counted as the outcome")),
    responses((status = 200, body = CampaignReport), (status = 400, body = ApiError),
              (status = 404, body = ApiError), (status = 503, body = ApiError)))]
#[get("/v1/campaigns/{name}")]
pub async fn campaign(
    _: Authorized,
    state: web::Data<AppState>,
    name: web::Path<String>,
    query: web::Query<CampaignQuery>,
) -> Result<HttpResponse, ApiError> {
    let outcome = query
        .into_inner()
        .outcome
        .unwrap_or_else(|| "churned".into());
    if !EVENT_TYPES.contains(&outcome.as_str()) {
        return Err(ApiError::field(
            Code::InvalidField,
            "outcome",
            format!("expected one of {}", EVENT_TYPES.join(", ")),
        ));
    }
    let name = name.into_inner();
    let campaign = name.clone();
    // Evaluating sorts every contact: on the blocking pool with the query.
    let report = OutcomesStore::with(&state, move |store| {
        let rows = store.campaign(&campaign, &outcome)?;
        Ok((!rows.is_empty()).then(|| crate::outcomes::evaluate(&campaign, &outcome, &rows)))
    })
    .await?;
    match report {
        Some(report) => Ok(HttpResponse::Ok().json(report)),
        None => Err(ApiError::new(
            Code::NotFound,
            format!("no contacts recorded for campaign `{name}`"),
        )),
    }
}
