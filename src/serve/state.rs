//! What every request shares: the current Scorer (swapped atomically on reload), the
//! metrics, the credentials and the limits.

use super::access::{granted, Access};
use super::error::{ApiError, Code};
use super::metrics::Metrics;
use super::record::Names;
use crate::access::limits::{Lockout, LockoutPolicy};
use crate::access::{Key, KeyRing, Scope, Scopes};
use crate::bundle::{Bundle, BundleError};
use crate::lifecycle::{LifecycleError, Switch};
use crate::monitoring::{DriftReport, Thresholds, Window, WindowInfo, WindowSpan};
use crate::score::Scorer;
use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest};
use arc_swap::ArcSwap;
use std::future::{ready, Ready};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

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

/// Bearer credentials: the API keys (with their scopes) and the admin token (scope
/// `admin`). No API keys configured means the server only listens on loopback; no admin
/// token and no key with scope `admin` means the admin routes answer 403 (SIGHUP still
/// reloads).
#[derive(Clone, Default, Debug)]
pub struct Credentials {
    api_keys: Vec<Key>,
    admin_token: Option<Key>,
}

impl Credentials {
    /// Plain API keys (scopes `score` and `read`) and an admin token.
    pub fn new<S: AsRef<str>>(api_keys: &[S], admin_token: Option<&str>) -> Self {
        let plain = Scopes::of(&[Scope::Score, Scope::Read]);
        let keys = api_keys
            .iter()
            .enumerate()
            .map(|(i, k)| Key::new(format!("key{}", i + 1), plain, k.as_ref()))
            .collect();
        Credentials::with_keys(keys, admin_token)
    }

    pub fn with_keys(api_keys: Vec<Key>, admin_token: Option<&str>) -> Self {
        Credentials {
            api_keys,
            admin_token: admin_token
                .map(|t| Key::new("admin-token", Scopes::of(&[Scope::Admin]), t)),
        }
    }

    pub fn api_key_count(&self) -> usize {
        self.api_keys.len()
    }

    pub fn has_admin_token(&self) -> bool {
        self.admin_token.is_some()
    }

    /// Every key the server accepts: the API keys, then the admin token.
    pub fn ring(&self) -> KeyRing {
        KeyRing::new(
            self.api_keys
                .iter()
                .chain(&self.admin_token)
                .cloned()
                .collect(),
        )
    }

    /// The access settings these credentials start with (no rate limit, default lock-out).
    pub fn access(&self) -> Access {
        Access::new(
            self.api_keys.clone(),
            self.admin_token.clone(),
            Lockout::new(LockoutPolicy::default()),
        )
    }
}

/// What the bundle being served answers with, swapped whole on reload so that its parts
/// always belong to one bundle: the Scorer, the drift window its records are counted in
/// (none when monitoring is off or the bundle has no reference) and the body reader's
/// field names.
pub struct Served {
    pub scorer: Arc<Scorer>,
    pub window: Option<Arc<Window>>,
    pub names: Names,
}

impl Served {
    fn new(scorer: Scorer, monitoring: &Monitoring) -> Self {
        Served {
            window: new_window(&scorer, monitoring),
            names: Names::new(&scorer),
            scorer: Arc::new(scorer),
        }
    }
}

pub struct AppState {
    served: ArcSwap<Served>,
    pub monitoring: Monitoring,
    pub models: PathBuf,
    pub metrics: Metrics,
    /// Keys, rate limits, lock-out and the audit trail (`serve::access`).
    pub access: Access,
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
            served: ArcSwap::from_pointee(Served::new(scorer, &monitoring)),
            monitoring,
            models,
            metrics,
            access: credentials.access(),
            limits,
            shadow: None,
            outcomes: None,
            actions: None,
            reloading: Mutex::new(()),
        })
    }

    /// The scorer to use for one whole request (a reload never changes it midway).
    pub fn scorer(&self) -> Arc<Scorer> {
        Arc::clone(&self.served.load().scorer)
    }

    /// What to answer one request with, borrowed for its length: unlike [`Self::scorer`],
    /// no count of a shared `Arc` is written, which every worker would pass back and
    /// forth between cores on each request. Not to be held across an `.await`.
    pub fn served(&self) -> arc_swap::Guard<Arc<Served>> {
        self.served.load()
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
                let served = Served::new(Scorer::new(bundle), &self.monitoring);
                let version = served.scorer.version().to_string();
                self.served.store(Arc::new(served));
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
                tracing::warn!(error = %crate::error_chain(&e), serving = %previous, "bundle refused");
                Err(e)
            }
        }
    }

    /// The drift of the records in the window against the served bundle's reference.
    pub fn drift(&self) -> Option<DriftReport> {
        self.drift_and_window().map(|(report, _)| report)
    }

    /// The drift report and the window it was counted in (kind, span, rows).
    pub fn drift_and_window(&self) -> Option<(DriftReport, WindowInfo)> {
        let served = self.served.load();
        served.window.as_ref().map(|w| {
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

/// The app's state, borrowed from the request: the `web::Data` extractor would clone its
/// `Arc`, two atomic writes a request to a count every worker shares.
pub(super) fn app_state(req: &HttpRequest) -> Result<&actix_web::web::Data<AppState>, ApiError> {
    req.app_data::<actix_web::web::Data<AppState>>()
        .ok_or_else(|| ApiError::new(Code::Internal, "the server's state is not configured"))
}

/// A request the access guard let through for its route's scope (`serve::access`). On a
/// quiet server (no keys, audit or rate limit) the guard lets these routes through
/// without recording a grant, so that costs nothing per request.
pub struct Authorized;

impl FromRequest for Authorized {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let quiet = || {
            req.app_data::<actix_web::web::Data<AppState>>()
                .is_some_and(|state| state.access.quiet())
        };
        ready(match granted(req) || quiet() {
            true => Ok(Authorized),
            false => Err(unguarded()),
        })
    }
}

/// A request the access guard let through with scope `admin` (the admin token or a key
/// with that scope). Without either configured the admin routes are closed, even on a
/// loopback server without API keys: any local process could otherwise swap the bundle.
pub struct Admin;

impl FromRequest for Admin {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(match granted(req) {
            true => Ok(Admin),
            false => Err(unguarded()),
        })
    }
}

/// A handler reached without the guard's grant: the app was built without it (a bug).
fn unguarded() -> ApiError {
    ApiError::new(
        Code::Internal,
        "the access guard did not run for this route",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_compare_exactly_and_the_admin_token_has_scope_admin_only() {
        let ring = Credentials::new(&["key-one", "key-two"], Some("admin")).ring();
        let scopes = |k: &str| ring.find(k).and_then(|i| ring.get(i)).map(|k| k.scopes);
        assert_eq!(scopes("key-one").unwrap().names(), ["score", "read"]);
        assert!(scopes("key-two").is_some());
        for wrong in ["key-on", "key-one ", ""] {
            assert!(scopes(wrong).is_none(), "{wrong:?}");
        }
        assert_eq!(scopes("admin").unwrap().names(), ["admin"]);
        assert!(!Credentials::default().ring().grants(Scope::Admin));
    }

    #[test]
    fn keys_are_kept_as_digests_and_never_printed() {
        let creds = Credentials::new(&["sk-live-123"], Some("admin-secret"));
        let shown = format!("{creds:?} {creds:#?}");
        assert!(
            !shown.contains("sk-live-123") && !shown.contains("admin-secret"),
            "{shown}"
        );
        assert_eq!(creds.api_key_count(), 1);
    }
}
