//! POST /v1/next-best-action: one customer (the body of /v1/score) → every configured
//! action's expected value, best first, each with its sum in words.

use super::error::{ApiError, Code};
use super::request::{json_body, parse_json, record_from_json};
use super::routes::{isolated, json_response, off_worker_if_big, score_error, to_json};
use super::state::{AppState, Authorized};
use crate::access::audit::Subjects;
use crate::decisions::{Decider, NextBestAction};
use crate::score::Scratch;
use actix_web::{post, web, HttpRequest, HttpResponse};

/// The next best action for one customer.
#[utoipa::path(post, path = "/v1/next-best-action", request_body = super::routes::CustomerRecord,
    responses((status = 200, body = NextBestAction), (status = 400, body = ApiError),
              (status = 401, body = ApiError), (status = 404, body = ApiError),
              (status = 413, body = ApiError), (status = 415, body = ApiError)))]
#[post("/v1/next-best-action")]
pub async fn next_best_action(
    _: Authorized,
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    // The --actions file, else the actions the bundle being served keeps.
    let scorer = state.scorer();
    let Some(actions) = (state.actions.as_deref()).or(scorer.bundle().actions.as_ref()) else {
        return Err(ApiError::new(
            Code::NotFound,
            "no actions are configured: start the server with --actions FILE or train the bundle with --actions FILE",
        ));
    };
    let actions = actions.clone();
    let body = json_body(&req, payload, state.limits.max_body_bytes).await?;
    let (answer, (id, version)) = off_worker_if_big(&state, body.len(), move |shared| {
        let json = parse_json(&body)?;
        // Checked at start (or on load); a bundle reloaded since may lack a column an
        // --actions file's action reads.
        let decider = Decider::new(actions, &scorer)
            .map_err(|e| ApiError::new(Code::Internal, e.to_string()))?;
        isolated(&shared.metrics, || {
            let (id, values) = record_from_json(&scorer, &json, "")?;
            let mut scratch = Scratch::default();
            scratch.values = values;
            let scored = scorer
                .score_into(&mut scratch)
                .map_err(|e| score_error(e, ""))?;
            let answer = scorer.answer(id, &scored);
            let record = decider.record(&scorer, scored.values());
            let body = to_json(&decider.decide(&answer, &record))?;
            Ok((body, (answer.id, answer.model_version)))
        })
    })
    .await?;
    super::access::note(&req, Some(&version), || Subjects::Ids {
        customer_ids: vec![id],
    });
    Ok(json_response(answer))
}
