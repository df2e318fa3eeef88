//! What every request shares: the current Scorer (swapped atomically on reload), the
//! metrics, the credentials and the limits.

use super::error::{ApiError, Code};
use super::metrics::Metrics;
use crate::bundle::{Bundle, BundleError};
use crate::score::Scorer;
use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest};
use arc_swap::ArcSwap;
use std::future::{ready, Ready};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

#[derive(Debug, Clone)]
pub struct Limits {
    pub max_body_bytes: usize,
    pub max_batch_items: usize,
}

/// Bearer credentials. No API keys configured means the server only listens on loopback.
#[derive(Debug, Clone, Default)]
pub struct Credentials {
    pub api_keys: Vec<String>,
    pub admin_token: Option<String>,
}

pub struct AppState {
    scorer: ArcSwap<Scorer>,
    pub models: PathBuf,
    pub metrics: Metrics,
    pub credentials: Credentials,
    pub limits: Limits,
    reloading: Mutex<()>,
}

impl AppState {
    pub fn new(
        scorer: Scorer,
        models: PathBuf,
        credentials: Credentials,
        limits: Limits,
    ) -> Result<Self, prometheus::Error> {
        let metrics = Metrics::new()?;
        metrics.serving(scorer.version());
        Ok(AppState {
            scorer: ArcSwap::from_pointee(scorer),
            models,
            metrics,
            credentials,
            limits,
            reloading: Mutex::new(()),
        })
    }

    /// The scorer to use for one whole request (a reload never changes it midway).
    pub fn scorer(&self) -> Arc<Scorer> {
        self.scorer.load_full()
    }

    /// Load and verify the CURRENT bundle, then swap it in. A bundle that fails any check
    /// is refused and the one being served stays.
    pub fn reload(&self) -> Result<(String, String), BundleError> {
        let _one_at_a_time = self.reloading.lock().unwrap_or_else(|e| e.into_inner());
        let previous = self.scorer().version().to_string();
        match Bundle::load(&self.models, None) {
            Ok(bundle) => {
                let scorer = Scorer::new(bundle);
                let version = scorer.version().to_string();
                self.scorer.store(Arc::new(scorer));
                self.metrics.serving(&version);
                self.metrics.reloads.with_label_values(&["ok"]).inc();
                tracing::info!(previous = %previous, version = %version, "bundle reloaded");
                Ok((previous, version))
            }
            Err(e) => {
                self.metrics.reloads.with_label_values(&["refused"]).inc();
                tracing::warn!(error = %e, serving = %previous, "bundle refused");
                Err(e)
            }
        }
    }
}

fn bearer(req: &HttpRequest) -> Option<&str> {
    req.headers()
        .get(actix_web::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

/// Compare secrets in time independent of where they differ.
fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

fn state(req: &HttpRequest) -> Result<&AppState, ApiError> {
    req.app_data::<web::Data<AppState>>()
        .map(|d| d.get_ref())
        .ok_or_else(|| ApiError::new(Code::Internal, "application state is missing"))
}

/// A request that passed the API-key check (or the server runs without keys).
pub struct Authorized;

impl FromRequest for Authorized {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(state(req).and_then(|state| {
            let keys = &state.credentials.api_keys;
            if keys.is_empty() {
                return Ok(Authorized);
            }
            match bearer(req) {
                None => Err(ApiError::new(
                    Code::MissingApiKey,
                    "send an API key as `Authorization: Bearer <key>`",
                )),
                Some(key) if keys.iter().any(|k| same_secret(k, key)) => Ok(Authorized),
                Some(_) => Err(ApiError::new(
                    Code::InvalidApiKey,
                    "the API key is not valid",
                )),
            }
        }))
    }
}

/// A request carrying the admin token. Without a configured token, admin routes are open
/// only when the server runs without API keys (loopback-only).
pub struct Admin;

impl FromRequest for Admin {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(state(req).and_then(|state| {
            let creds = &state.credentials;
            match (&creds.admin_token, bearer(req)) {
                (Some(token), Some(given)) if same_secret(token, given) => Ok(Admin),
                (Some(_), None) => Err(ApiError::new(
                    Code::MissingApiKey,
                    "send the admin token as `Authorization: Bearer <token>`",
                )),
                (Some(_), Some(_)) => Err(ApiError::new(
                    Code::AdminForbidden,
                    "this route needs the admin token",
                )),
                (None, _) if creds.api_keys.is_empty() => Ok(Admin),
                (None, _) => Err(ApiError::new(
                    Code::AdminForbidden,
                    "admin routes are disabled: no admin token is configured",
                )),
            }
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_compare_exactly() {
        assert!(same_secret("abc", "abc"));
        assert!(!same_secret("abc", "abd"));
        assert!(!same_secret("abc", "abcd"));
    }
}
