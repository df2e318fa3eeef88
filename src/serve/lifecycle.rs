//! The registry over HTTP: promote and roll back behind the admin token (switching
//! CURRENT through the same library code as `custscore models`, then reloading).

use super::error::{ApiError, Code};
use super::request::json_body;
use super::state::{Admin, AppState};
use crate::bundle::BundleError;
use crate::lifecycle::{registry, Action, LifecycleError, Switch};
use actix_web::{post, web, HttpRequest, HttpResponse};
use serde::Deserialize;
use utoipa::ToSchema;

/// The version to make CURRENT.
#[derive(Deserialize, ToSchema)]
pub struct PromoteRequest {
    pub version: String,
}

/// Verify the version, make it CURRENT, record it in the history and serve it.
#[utoipa::path(post, path = "/v1/admin/promote", request_body = PromoteRequest,
    responses((status = 200, description = "CURRENT switched and served"),
              (status = 400, body = ApiError), (status = 403, body = ApiError),
              (status = 404, body = ApiError), (status = 409, body = ApiError)))]
#[post("/v1/admin/promote")]
pub async fn promote(
    _: Admin,
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body = json_body(&req, payload, state.limits.max_body_bytes).await?;
    let request: PromoteRequest = serde_json::from_slice(&body).map_err(|e| {
        ApiError::field(
            Code::InvalidField,
            "version",
            format!("expected {{\"version\": \"<version>\"}}: {e}"),
        )
    })?;
    switch(state, move |models| {
        registry::promote(
            models,
            &request.version,
            Action::Promote,
            "POST /v1/admin/promote",
        )
    })
    .await
}

/// Make the previous champion CURRENT again and serve it.
#[utoipa::path(post, path = "/v1/admin/rollback",
    responses((status = 200, description = "CURRENT switched and served"),
              (status = 403, body = ApiError), (status = 409, body = ApiError)))]
#[post("/v1/admin/rollback")]
pub async fn rollback(_: Admin, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    switch(state, |models| {
        registry::rollback(models, "POST /v1/admin/rollback")
    })
    .await
}

async fn switch(
    state: web::Data<AppState>,
    change: impl FnOnce(&std::path::Path) -> Result<Switch, LifecycleError> + Send + 'static,
) -> Result<HttpResponse, ApiError> {
    let state = state.into_inner();
    let outcome = web::block(move || state.switch(change))
        .await
        .map_err(|e| ApiError::new(Code::Internal, e.to_string()))?;
    match outcome {
        Ok(switch) => Ok(HttpResponse::Ok().json(switch)),
        Err(e) => Err(api_error(e)),
    }
}

fn api_error(e: LifecycleError) -> ApiError {
    let code = match &e {
        LifecycleError::Bundle(BundleError::InvalidVersion { .. }) => Code::InvalidField,
        LifecycleError::NoSuchVersion { .. } => Code::NotFound,
        LifecycleError::Refused { .. }
        | LifecycleError::NoPrevious { .. }
        | LifecycleError::Locked { .. }
        | LifecycleError::ChampionMoved { .. } => Code::BundleRefused,
        _ => Code::Internal,
    };
    ApiError::new(code, crate::error_chain(&e))
}
