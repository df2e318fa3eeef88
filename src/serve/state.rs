//! What every request shares: the current Scorer (swapped atomically on reload), the
//! metrics, the credentials and the limits.

use super::error::{ApiError, Code};
use super::metrics::Metrics;
use crate::bundle::{Bundle, BundleError};
use crate::lifecycle::{LifecycleError, Switch};
use crate::monitoring::{DriftReport, Thresholds, Window, WindowInfo, WindowSpan};
use crate::score::Scorer;
use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest};
use arc_swap::{ArcSwap, ArcSwapOption};
use sha2::{Digest as _, Sha256};
use std::fmt;
use std::future::{ready, Ready};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use subtle::{Choice, ConstantTimeEq};

#[derive(Debug, Clone)]
pub struct Limits {
    pub max_body_bytes: usize,
    pub max_batch_items: usize,
}

/// Drift monitoring of what the service scores.
#[derive(Debug, Clone, Copy)]
pub struct Monitoring {
    /// Off: nothing is counted and `/v1/monitoring` answers 404.
    pub enabled: bool,
    /// The newest N records, or what was scored in the last span of time.
    pub window: WindowSpan,
    pub thresholds: Thresholds,
}

impl Default for Monitoring {
    fn default() -> Self {
        Monitoring {
            enabled: true,
            window: WindowSpan::Records(10_000),
            thresholds: Thresholds::default(),
        }
    }
}

/// A secret kept only as its sha256: comparing digests of equal length in constant time
/// says nothing about a guess's length or where it first differs, and a memory dump or a
/// log line never shows the secret itself.
#[derive(Clone, PartialEq, Eq)]
struct Digest([u8; 32]);

impl Digest {
    fn of(secret: &str) -> Self {
        let mut out = [0u8; 32];
        out.copy_from_slice(&Sha256::digest(secret.as_bytes()));
        Digest(out)
    }

    fn matches(&self, other: &Digest) -> Choice {
        self.0[..].ct_eq(&other.0[..])
    }
}

/// Bearer credentials. No API keys configured means the server only listens on loopback;
/// no admin token means the admin routes answer 403 (SIGHUP still reloads).
#[derive(Clone, Default)]
pub struct Credentials {
    api_keys: Vec<Digest>,
    admin_token: Option<Digest>,
}

impl Credentials {
    pub fn new<S: AsRef<str>>(api_keys: &[S], admin_token: Option<&str>) -> Self {
        Credentials {
            api_keys: api_keys.iter().map(|k| Digest::of(k.as_ref())).collect(),
            admin_token: admin_token.map(Digest::of),
        }
    }

    pub fn api_key_count(&self) -> usize {
        self.api_keys.len()
    }

    pub fn has_admin_token(&self) -> bool {
        self.admin_token.is_some()
    }

    /// Whether `given` is one of the API keys. Every key is compared, so the time taken
    /// does not tell which key matched, or whether one did.
    pub fn is_api_key(&self, given: &str) -> bool {
        let given = Digest::of(given);
        let any = self
            .api_keys
            .iter()
            .fold(Choice::from(0), |found, key| found | key.matches(&given));
        any.into()
    }

    pub fn is_admin_token(&self, given: &str) -> bool {
        let given = Digest::of(given);
        self.admin_token
            .as_ref()
            .is_some_and(|token| token.matches(&given).into())
    }
}

/// Counts only: credentials reach logs through `Debug` of the options and state.
impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("api_keys", &self.api_keys.len())
            .field("admin_token", &self.has_admin_token())
            .finish()
    }
}

pub struct AppState {
    scorer: ArcSwap<Scorer>,
    /// The drift window of the bundle being served (swapped with it on reload).
    window: ArcSwapOption<Window>,
    pub monitoring: Monitoring,
    pub models: PathBuf,
    pub metrics: Metrics,
    pub credentials: Credentials,
    pub limits: Limits,
    /// The challenger scoring a share of the records off the response path, if any.
    pub shadow: Option<super::shadow::Shadow>,
    /// Where contacts and outcome events go.
    pub outcomes: Option<super::outcomes::OutcomesStore>,
    /// The actions of POST /v1/next-best-action, when configured.
    pub actions: Option<Arc<crate::decisions::ActionSet>>,
    reloading: Mutex<()>,
}

impl AppState {
    pub fn new(
        scorer: Scorer,
        models: PathBuf,
        credentials: Credentials,
        limits: Limits,
        monitoring: Monitoring,
    ) -> Result<Self, prometheus::Error> {
        let metrics = Metrics::new()?;
        metrics.serving(scorer.version());
        Ok(AppState {
            window: ArcSwapOption::new(new_window(&scorer, &monitoring)),
            monitoring,
            scorer: ArcSwap::from_pointee(scorer),
            models,
            metrics,
            credentials,
            limits,
            shadow: None,
            outcomes: None,
            actions: None,
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
        self.reload_locked()
    }

    /// Move CURRENT with `change` (the registry's promote or rollback, which verify the
    /// target first), then reload it; one at a time with reloads.
    pub fn switch(
        &self,
        change: impl FnOnce(&std::path::Path) -> Result<Switch, LifecycleError>,
    ) -> Result<Switch, LifecycleError> {
        let _one_at_a_time = self.reloading.lock().unwrap_or_else(|e| e.into_inner());
        let switch = change(&self.models)?;
        self.reload_locked()?;
        Ok(switch)
    }

    fn reload_locked(&self) -> Result<(String, String), BundleError> {
        let previous = self.scorer().version().to_string();
        match Bundle::load(&self.models, None) {
            Ok(bundle) => {
                let scorer = Scorer::new(bundle);
                let version = scorer.version().to_string();
                let window = new_window(&scorer, &self.monitoring);
                self.scorer.store(Arc::new(scorer));
                self.window.store(window);
                self.metrics.serving(&version);
                self.metrics.reloads.with_label_values(&["ok"]).inc();
                if let Some(shadow) = &self.shadow {
                    shadow.follow_served(&version);
                }
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

    /// The drift window to count `scorer`'s records in: none when monitoring is off, the
    /// bundle has no reference, or a reload is swapping scorer and window right now.
    pub fn window_for(&self, scorer: &Scorer) -> Option<Arc<Window>> {
        let window = self.window.load_full()?;
        (window.version() == scorer.version()).then_some(window)
    }

    /// The drift of the records in the window against the served bundle's reference.
    pub fn drift(&self) -> Option<DriftReport> {
        self.drift_and_window().map(|(report, _)| report)
    }

    /// The drift report and the window it was counted in (kind, span, rows).
    pub fn drift_and_window(&self) -> Option<(DriftReport, WindowInfo)> {
        let window = self.window.load();
        window.as_ref().map(|w| {
            let report = w.report(self.monitoring.thresholds);
            let info = w.info(report.records);
            (report, info)
        })
    }
}

fn new_window(scorer: &Scorer, monitoring: &Monitoring) -> Option<Arc<Window>> {
    let bundle = scorer.bundle();
    let reference = bundle.drift.clone().filter(|_| monitoring.enabled)?;
    Some(Arc::new(Window::new(
        reference,
        &bundle.encoder,
        monitoring.window,
        scorer.version(),
    )))
}

fn bearer(req: &HttpRequest) -> Option<&str> {
    req.headers()
        .get(actix_web::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
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
            let creds = &state.credentials;
            if creds.api_key_count() == 0 {
                return Ok(Authorized);
            }
            match bearer(req) {
                None => Err(ApiError::new(
                    Code::MissingApiKey,
                    "send an API key as `Authorization: Bearer <key>`",
                )),
                Some(key) if creds.is_api_key(key) => Ok(Authorized),
                Some(_) => Err(ApiError::new(
                    Code::InvalidApiKey,
                    "the API key is not valid",
                )),
            }
        }))
    }
}

/// A request carrying the admin token. Without a configured token the admin routes are
/// closed, even on a loopback server without API keys: any local process could otherwise
/// swap the bundle. SIGHUP still reloads.
pub struct Admin;

impl FromRequest for Admin {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(state(req).and_then(|state| {
            let creds = &state.credentials;
            if !creds.has_admin_token() {
                return Err(ApiError::new(
                    Code::AdminForbidden,
                    "admin routes are disabled: no admin token is configured \
                     (--admin-token-file); SIGHUP reloads the bundle",
                ));
            }
            match bearer(req) {
                Some(given) if creds.is_admin_token(given) => Ok(Admin),
                Some(_) => Err(ApiError::new(
                    Code::AdminForbidden,
                    "this route needs the admin token",
                )),
                None => Err(ApiError::new(
                    Code::MissingApiKey,
                    "send the admin token as `Authorization: Bearer <token>`",
                )),
            }
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_compare_exactly() {
        let creds = Credentials::new(&["key-one", "key-two"], Some("admin"));
        assert!(creds.is_api_key("key-one"));
        assert!(creds.is_api_key("key-two"));
        assert!(!creds.is_api_key("key-on"));
        assert!(!creds.is_api_key("key-one "));
        assert!(!creds.is_api_key(""));
        assert!(
            !creds.is_api_key("admin"),
            "the admin token is not an API key"
        );
        assert!(creds.is_admin_token("admin"));
        assert!(!creds.is_admin_token("key-one"));
        assert!(!Credentials::default().is_admin_token(""));
    }

    #[test]
    fn keys_are_kept_as_digests_and_never_printed() {
        let creds = Credentials::new(&["sk-live-123"], Some("admin-secret"));
        let shown = format!("{creds:?} {creds:#?}");
        assert!(
            !shown.contains("sk-live-123") && !shown.contains("admin-secret"),
            "{shown}"
        );
        assert!(shown.contains("api_keys: 1"), "{shown}");
        assert!(creds.api_keys[0] == Digest::of("sk-live-123"));
    }
}
