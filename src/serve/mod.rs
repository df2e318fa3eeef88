//! The REST scoring service (actix-web). `app` builds the exact application that `run`
//! serves and that the tests start, so there is one configuration to get right.

pub mod access;
mod answer_json;
pub mod cli;
mod decisions;
pub mod error;
mod events_body;
mod gate;
mod json_text;
mod lifecycle;
mod metrics;
mod openapi;
pub mod outcomes;
mod record;
mod request;
mod routes;
pub mod shadow;
mod state;
pub mod tls;

pub use state::{AppState, Credentials, Limits, Monitoring};

use crate::bundle::{Bundle, BundleError};
use crate::config::{ConfigError, TrainConfig};
use crate::progress::Progress;
use crate::score::Scorer;
use crate::train::TrainError;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::{web, App, HttpServer};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub models: PathBuf,
    pub addr: SocketAddr,
    pub api_keys_file: Option<PathBuf>,
    pub admin_token_file: Option<PathBuf>,
    pub limits: Limits,
    pub monitoring: Monitoring,
    pub workers: usize,
    /// How long an idle connection waits for its next request (zero: one request a
    /// connection).
    pub keep_alive: std::time::Duration,
    /// Connections queued by the kernel before they are accepted.
    pub backlog: u32,
    /// Poll CURRENT this often and reload when it names another version (replicas on
    /// one shared models folder converge by themselves).
    pub watch_interval: Option<std::time::Duration>,
    /// Score a share of the records with another version too, off the response path.
    pub shadow: Option<shadow::ShadowOptions>,
    /// Where contacts and outcome events are kept.
    pub outcomes: crate::outcomes::StoreLocation,
    /// The location was named by the user: failing to open it stops the start.
    pub outcomes_required: bool,
    /// Actions for POST /v1/next-best-action.
    pub actions: Option<crate::decisions::ActionSet>,
    /// Rate limits, lock-out and the audit trail.
    pub access: AccessOptions,
    /// Serve HTTPS with this certificate chain and key.
    pub tls: Option<tls::TlsFiles>,
}

#[derive(Debug, Clone, Default)]
pub struct AccessOptions {
    pub rate_limit: Option<crate::access::limits::RateLimit>,
    pub lockout: crate::access::limits::LockoutPolicy,
    pub audit_log: Option<PathBuf>,
    pub audit_max_bytes: u64,
    /// Peers whose forwarding header names the client.
    pub proxies: crate::access::proxy::TrustedProxies,
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("{}: {reason}", path.display())]
    Credentials { path: PathBuf, reason: String },
    #[error("refusing to listen on {0} without API keys: pass --api-keys-file (env CUSTSCORE_API_KEYS_FILE) or bind to 127.0.0.1")]
    OpenWithoutKeys(SocketAddr),
    #[error(transparent)]
    Bundle(#[from] BundleError),
    #[error("no bundle yet, and the default training failed")]
    Train(#[from] TrainError),
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("cannot listen on {addr}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("server stopped with an error")]
    Server(#[from] std::io::Error),
    #[error("metrics")]
    Metrics(#[from] prometheus::Error),
    #[error(transparent)]
    Shadow(#[from] shadow::ShadowError),
    #[error(transparent)]
    Outcomes(#[from] crate::outcomes::StoreError),
    #[error(transparent)]
    Actions(#[from] crate::decisions::ActionsError),
    #[error(transparent)]
    Keys(#[from] crate::access::KeysError),
    #[error(transparent)]
    Audit(#[from] crate::access::audit::AuditError),
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
}

/// Load the CURRENT bundle; on a first start with none, train the default one first.
pub fn load_or_train(models: &Path) -> Result<Bundle, ServeError> {
    match Bundle::load(models, None) {
        Err(BundleError::NoBundle { .. }) => {
            eprintln!(
                "no bundle in {}: training the default one from {} first",
                models.display(),
                crate::config::DEFAULT_CONFIG
            );
            let config = TrainConfig::load_or_default(None)?;
            let progress = Progress::for_terminal();
            let mut bundle = crate::train::train(&config, &progress)?;
            bundle.save(models)?;
            progress.finish();
            Ok(Bundle::load(models, None)?)
        }
        other => Ok(other?),
    }
}

fn read_secrets(path: &Path) -> Result<Vec<String>, ServeError> {
    let text = std::fs::read_to_string(path).map_err(|e| ServeError::Credentials {
        path: path.to_path_buf(),
        reason: format!("cannot read: {e}"),
    })?;
    let secrets: Vec<String> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(String::from)
        .collect();
    if secrets.is_empty() {
        return Err(ServeError::Credentials {
            path: path.to_path_buf(),
            reason: "holds no key (one per line; # starts a comment)".into(),
        });
    }
    Ok(secrets)
}

pub fn credentials(options: &ServeOptions) -> Result<Credentials, ServeError> {
    let api_keys = match &options.api_keys_file {
        Some(path) => crate::access::keys::read_keys(path)?,
        None => Vec::new(),
    };
    let admin_token = match &options.admin_token_file {
        Some(path) => read_secrets(path)?.into_iter().next(),
        None => None,
    };
    if api_keys.is_empty() && !options.addr.ip().is_loopback() {
        return Err(ServeError::OpenWithoutKeys(options.addr));
    }
    Ok(Credentials::with_keys(api_keys, admin_token.as_deref()))
}

/// The application: routes, limits, JSON errors, metrics and request logging.
pub fn app(
    state: web::Data<AppState>,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let gate_state = state.clone();
    App::new()
        .app_data(state)
        .wrap(gate::Gate::new(gate_state))
        .service(routes::score_batch)
        .service(routes::score_one)
        .service(decisions::next_best_action)
        .service(routes::models)
        .service(routes::segments)
        .service(routes::rules)
        .service(routes::reload)
        .service(lifecycle::promote)
        .service(lifecycle::rollback)
        .service(access::reload_keys)
        .service(routes::monitoring)
        .service(outcomes::post_outcomes)
        .service(outcomes::campaign)
        .service(routes::healthz)
        .service(routes::readyz)
        .service(routes::metrics)
        .service(routes::openapi)
        .default_service(web::route().to(routes::not_found))
}

/// Serve until SIGTERM/SIGINT (in-flight requests finish); SIGHUP reloads the bundle and
/// the keys file.
pub fn run(options: ServeOptions) -> Result<(), ServeError> {
    let credentials = credentials(&options)?;
    let bundle = load_or_train(&options.models)?;
    let scorer = Scorer::new(bundle);
    let version = scorer.version().to_string();
    let mut state = AppState::new(
        scorer,
        options.models.clone(),
        credentials.clone(),
        options.limits.clone(),
        options.monitoring,
    )?;
    state.outcomes = Some(open_outcomes(&options)?);
    if let Some(actions) = options.actions.clone() {
        // Checked against the bundle now, so a column typo stops the start.
        crate::decisions::Decider::new(actions.clone(), &state.scorer())?;
        state.actions = Some(std::sync::Arc::new(actions));
    }
    state.access.keys_file = options.api_keys_file.clone();
    let limits_note = access_controls(&mut state, &options.access)?;
    if let Some(shadowing) = &options.shadow {
        let shadow = start_shadow(&state, &options.models, shadowing)?;
        shadow.follow_served(&version);
        match shadow.report().stopped {
            None => eprintln!(
                "shadowing bundle {} on a {} share of /v1/score and /v1/score/batch",
                shadowing.version, shadowing.share
            ),
            Some(why) => eprintln!("not shadowing: {why}"),
        }
        state.shadow = Some(shadow);
    }
    let state = web::Data::new(state);
    let auth = match (credentials.api_key_count(), credentials.has_admin_token()) {
        (0, true) => "no API keys: listening on loopback only, admin token set".to_string(),
        (0, false) => {
            "no API keys: listening on loopback only, admin routes disabled (no admin token)"
                .to_string()
        }
        (n, true) => format!("{n} API key(s), admin token set"),
        (n, false) => format!("{n} API key(s), admin routes disabled (no admin token)"),
    };
    tracing::info!(addr = %options.addr, version = %version, auth = %auth, "custscore serving");
    let scheme = if options.tls.is_some() {
        "https"
    } else {
        "http"
    };
    eprintln!(
        "serving bundle {version} on {scheme}://{} ({auth}; {limits_note})",
        options.addr
    );
    let tls = options.tls.as_ref().map(tls::server_config).transpose()?;
    actix_web::rt::System::new().block_on(async move {
        let factory_state = state.clone();
        let server = HttpServer::new(move || app(factory_state.clone()))
            .workers(options.workers.max(1))
            .keep_alive(keep_alive(options.keep_alive))
            .backlog(options.backlog)
            .shutdown_timeout(30);
        let server = match tls {
            Some(config) => server.bind_rustls_0_23(options.addr, config),
            None => server.bind(options.addr),
        }
        .map_err(|source| ServeError::Bind {
            addr: options.addr,
            source,
        })?
        .run();
        if let Some(interval) = options.watch_interval {
            actix_web::rt::spawn(watch_current(state.clone(), interval));
        }
        let stopped = state.clone();
        actix_web::rt::spawn(reload_on_hangup(state));
        let served = server.await.map_err(ServeError::Server);
        // A graceful stop loses no audit line: the writer writes what is left first.
        if let Some(audit) = &stopped.access.audit {
            audit.close();
        }
        served
    })
}

/// Rate limits, lock-out and the audit trail from the options; what is on, for the log.
fn access_controls(state: &mut AppState, options: &AccessOptions) -> Result<String, ServeError> {
    let access = &mut state.access;
    access.lockout = crate::access::limits::Lockout::new(options.lockout);
    access.proxies = options.proxies.clone();
    if let Some(limit) = options.rate_limit {
        access.limit_rate(limit, Instant::now());
    }
    if let Some(path) = &options.audit_log {
        let failures = state.metrics.audit_failures.clone();
        access.audit = Some(crate::access::audit::AuditLog::start(
            path,
            options.audit_max_bytes,
            failures,
        )?);
    }
    let mut notes = Vec::new();
    if let Some(limit) = options.rate_limit {
        notes.push(format!(
            "rate limit {}/s per key, burst {}",
            limit.rate, limit.burst
        ));
    }
    if options.lockout.failures > 0 {
        notes.push(format!(
            "lock-out after {} invalid keys in {} s for {} s",
            options.lockout.failures,
            options.lockout.window.as_secs(),
            options.lockout.cooldown.as_secs()
        ));
    }
    if let Some(path) = &options.audit_log {
        notes.push(format!("audit log {}", path.display()));
    }
    if !options.proxies.ranges.is_empty() {
        notes.push(format!(
            "client address from {} of {} trusted proxy range(s)",
            options.proxies.header.name(),
            options.proxies.ranges.len()
        ));
    }
    Ok(match notes.is_empty() {
        true => "no rate limit, no lock-out, no audit log".into(),
        false => notes.join(", "),
    })
}

/// The outcomes store. One named with --outcomes-db must open; the default one may not
/// (a read-only models folder): then scoring goes on and the campaign routes answer 503.
fn open_outcomes(options: &ServeOptions) -> Result<outcomes::OutcomesStore, ServeError> {
    let location = options.outcomes.describe();
    match crate::outcomes::open(&options.outcomes) {
        Ok(store) => {
            eprintln!("recording contacts and outcome events in {location}");
            Ok(outcomes::OutcomesStore::new(store))
        }
        Err(e) if !options.outcomes_required => {
            let cause = crate::error_chain(&e);
            tracing::warn!(error = %cause, "no outcomes store: campaign fields and /v1/outcomes answer 503");
            eprintln!("no outcomes store ({cause}); pass --outcomes-db to record campaigns");
            Ok(outcomes::OutcomesStore::unavailable(format!(
                "no outcomes store: {cause}; start the server with --outcomes-db"
            )))
        }
        Err(e) => Err(e.into()),
    }
}

/// Load and verify the challenger bundle, then start its thread.
fn start_shadow(
    state: &AppState,
    models: &Path,
    options: &shadow::ShadowOptions,
) -> Result<shadow::Shadow, ServeError> {
    let bundle = Bundle::load(models, Some(&options.version)).map_err(|reason| {
        shadow::ShadowError::Load {
            version: options.version.clone(),
            reason,
        }
    })?;
    let metrics = state.metrics.shadow()?;
    Ok(shadow::Shadow::start(
        Scorer::new(bundle),
        options.clone(),
        metrics,
    )?)
}

async fn reload_on_hangup(state: web::Data<AppState>) {
    use tokio::signal::unix::{signal, SignalKind};
    let Ok(mut hangups) = signal(SignalKind::hangup()) else {
        tracing::warn!("cannot listen for SIGHUP; reload with POST /v1/admin/reload");
        return;
    };
    while hangups.recv().await.is_some() {
        let state = state.clone();
        let _ = web::block(move || {
            let _ = state.reload();
            if state.access.keys_file.is_some() {
                match state.access.reload_keys() {
                    Ok(keys) => tracing::info!(keys, "API keys reloaded (SIGHUP)"),
                    Err(e) => tracing::warn!(error = %e, "API keys not reloaded (SIGHUP)"),
                }
            }
        })
        .await;
    }
}

/// actix's keep-alive setting for `--keep-alive` seconds (0: none).
fn keep_alive(idle: std::time::Duration) -> actix_web::http::KeepAlive {
    if idle.is_zero() {
        actix_web::http::KeepAlive::Disabled
    } else {
        actix_web::http::KeepAlive::Timeout(idle)
    }
}

/// Reload whenever CURRENT names a version other than the one served. The reload
/// verifies the bundle before swapping; a refused version is logged once, not at every
/// poll, and the served one stays.
async fn watch_current(state: web::Data<AppState>, interval: std::time::Duration) {
    let mut refused: Option<String> = None;
    loop {
        actix_web::rt::time::sleep(interval).await;
        let folder = state.models.clone();
        let Ok(Ok(current)) = web::block(move || crate::bundle::current_version(&folder)).await
        else {
            continue;
        };
        if current == state.scorer().version() || refused.as_ref() == Some(&current) {
            continue;
        }
        let reloading = state.clone();
        refused = match web::block(move || reloading.reload()).await {
            Ok(Ok(_)) => None,
            _ => Some(current),
        };
    }
}
