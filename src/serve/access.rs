//! Access control over HTTP: one table says which scope every route needs, and one
//! middleware enforces it before any handler runs (lock-out, key, scope, rate limit),
//! then writes the audit line with the handler's status. A route missing from the table
//! is refused, so a new route is closed until it is given a scope.

use super::error::{ApiError, Code};
use super::state::AppState;
use crate::access::audit::{AuditEvent, AuditLog, Subjects};
use crate::access::limits::{Lockout, RateLimit, RateLimiter};
use crate::access::proxy::TrustedProxies;
use crate::access::{Key, KeyRing, KeysError, Scope};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::RETRY_AFTER;
use actix_web::{web, HttpMessage, HttpRequest, HttpResponse};
use arc_swap::ArcSwap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What a route needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Anyone (probes, metrics, the API description).
    Public,
    Scope(Scope),
}

/// One route: its method, pattern, handler (actix names a resource after its handler
/// function), the scope it needs and whether it is audited (it touches customer data or
/// changes state).
#[derive(Debug, Clone, Copy)]
pub struct RouteAccess {
    pub method: &'static str,
    pub pattern: &'static str,
    pub handler: &'static str,
    pub need: Need,
    pub audited: bool,
}

const fn route(
    method: &'static str,
    pattern: &'static str,
    handler: &'static str,
    need: Need,
    audited: bool,
) -> RouteAccess {
    RouteAccess {
        method,
        pattern,
        handler,
        need,
        audited,
    }
}

use Need::Public;
const SCORE: Need = Need::Scope(Scope::Score);
const READ: Need = Need::Scope(Scope::Read);
const OUTCOMES: Need = Need::Scope(Scope::OutcomesWrite);
const ADMIN: Need = Need::Scope(Scope::Admin);

/// Every route the service serves, with its scope. The route × scope test walks it.
pub const ROUTES: &[RouteAccess] = &[
    route("POST", "/v1/score", "score_one", SCORE, true),
    route("POST", "/v1/score/batch", "score_batch", SCORE, true),
    route(
        "POST",
        "/v1/next-best-action",
        "next_best_action",
        SCORE,
        true,
    ),
    route("GET", "/v1/models", "models", READ, false),
    route("GET", "/v1/segments", "segments", READ, false),
    route("GET", "/v1/rules", "rules", READ, false),
    route("GET", "/v1/monitoring", "monitoring", READ, false),
    route("GET", "/v1/campaigns/{name}", "campaign", READ, true),
    route("POST", "/v1/outcomes", "post_outcomes", OUTCOMES, true),
    route("POST", "/v1/admin/reload", "reload", ADMIN, true),
    route("POST", "/v1/admin/promote", "promote", ADMIN, true),
    route("POST", "/v1/admin/rollback", "rollback", ADMIN, true),
    route("POST", "/v1/admin/keys/reload", "reload_keys", ADMIN, true),
    route("GET", "/healthz", "healthz", Public, false),
    route("GET", "/readyz", "readyz", Public, false),
    route("GET", "/metrics", "metrics", Public, false),
    route("GET", "/openapi.json", "openapi", Public, false),
];

/// The route a resource name (`HttpRequest::match_name`) belongs to.
pub fn by_name(name: &str) -> Option<&'static RouteAccess> {
    ROUTES.iter().find(|r| r.handler == name)
}

/// The keys in force and their rate buckets: a keys reload swaps both at once, so a
/// bucket index always means the key it was made for.
pub struct Keyed {
    /// API keys, then the admin token (id `admin-token`, scope `admin`).
    pub keys: KeyRing,
    pub rate: Option<RateLimiter>,
}

impl Keyed {
    /// The bucket of callers without a key (an open server).
    fn anonymous(&self) -> usize {
        self.keys.len()
    }
}

/// The server's access settings, built at start; the keys can be reloaded.
pub struct Access {
    keyed: ArcSwap<Keyed>,
    /// No API keys configured: every route but the admin ones is open (loopback only).
    pub open: bool,
    pub lockout: Lockout,
    pub audit: Option<AuditLog>,
    /// Proxies whose forwarding header names the client (`--trusted-proxy`).
    pub proxies: TrustedProxies,
    /// The file the API keys were read from (what a keys reload reads again).
    pub keys_file: Option<PathBuf>,
    admin_token: Option<Key>,
    rate_limit: Option<RateLimit>,
    reloading: Mutex<()>,
}

/// Why a keys reload kept the keys in force.
#[derive(Debug, thiserror::Error)]
pub enum KeysReloadError {
    #[error("the server was started without --api-keys-file; there is no keys file to reload")]
    NoKeysFile,
    // Shown whole (HTTP detail, log line), so it embeds the keys error and its causes
    // instead of chaining them.
    #[error("{}; the keys in force are kept", crate::error_chain(.0))]
    Refused(KeysError),
}

impl Access {
    pub fn new(api_keys: Vec<Key>, admin_token: Option<Key>, lockout: Lockout) -> Self {
        let open = api_keys.is_empty();
        Access {
            keyed: ArcSwap::from_pointee(Keyed {
                keys: ring(api_keys, &admin_token),
                rate: None,
            }),
            open,
            lockout,
            audit: None,
            proxies: TrustedProxies::default(),
            keys_file: None,
            admin_token,
            rate_limit: None,
            reloading: Mutex::new(()),
        }
    }

    /// The keys in force (one load per request: a reload never changes them midway).
    pub fn keyed(&self) -> Arc<Keyed> {
        self.keyed.load_full()
    }

    /// Nothing to enforce or record on the routes open to all: no API keys, no audit
    /// log, no rate limit. Their requests then go through without a grant (`Authorized`).
    pub fn quiet(&self) -> bool {
        self.open && self.audit.is_none() && self.rate_limit.is_none()
    }

    /// Limit every key (and the anonymous caller) to `limit`.
    pub fn limit_rate(&mut self, limit: RateLimit, now: Instant) {
        self.rate_limit = Some(limit);
        let keys = self.keyed().keys.clone();
        let rate = Some(RateLimiter::new(limit, keys.len() + 1, now));
        self.keyed = ArcSwap::from_pointee(Keyed { keys, rate });
    }

    /// Read the keys file again and put its keys in force, or keep the old ones and say
    /// why. Buckets of keys that stay (by id) keep their tokens, so a reload does not
    /// refill a key that is over its limit. Returns the number of API keys now in force.
    pub fn reload_keys(&self) -> Result<usize, KeysReloadError> {
        let _one_at_a_time = self.reloading.lock().unwrap_or_else(|e| e.into_inner());
        let path = self.keys_file.as_ref().ok_or(KeysReloadError::NoKeysFile)?;
        let api_keys = crate::access::keys::read_keys(path).map_err(KeysReloadError::Refused)?;
        let count = api_keys.len();
        let keys = ring(api_keys, &self.admin_token);
        let old = self.keyed();
        let rate = self.rate_limit.map(|limit| {
            let now = Instant::now();
            let before = |i: usize| match keys.get(i) {
                Some(key) => old.keys.position(&key.id),
                None => Some(old.anonymous()),
            };
            match &old.rate {
                Some(rate) => rate.rekeyed(keys.len() + 1, before, now),
                None => RateLimiter::new(limit, keys.len() + 1, now),
            }
        });
        self.keyed.store(Arc::new(Keyed { keys, rate }));
        Ok(count)
    }
}

fn ring(api_keys: Vec<Key>, admin_token: &Option<Key>) -> KeyRing {
    KeyRing::new(api_keys.into_iter().chain(admin_token.clone()).collect())
}

/// A request the guard let through, and as whom. Handlers take `Authorized` / `Admin`,
/// which only check that this is present (or, for `Authorized`, that access is quiet).
pub struct Granted {
    key: usize,
    /// The keys and buckets the grant was made under (a batch's items are charged there).
    keyed: Arc<Keyed>,
    /// Whether handlers should say whose data they touched (audit or rate limits on).
    noting: bool,
    /// What the handler said it touched (kept here: one request extension, not two).
    seen: Option<Seen>,
}

impl Granted {
    /// The key's id; none for the anonymous caller of an open server.
    pub fn key_id(&self) -> Option<&Arc<str>> {
        self.keyed.keys.get(self.key).map(|k| &k.id)
    }
}

/// Whose data a handler touched, for the audit line and for charging a batch's items.
struct Seen {
    version: Option<Arc<str>>,
    subjects: Subjects,
}

/// The version as shared text: the same version as this thread's last request is not
/// copied again (one reference count, on this thread's own copy).
fn shared_version(version: &str) -> Arc<str> {
    thread_local! {
        static LAST: std::cell::RefCell<Option<Arc<str>>> = const { std::cell::RefCell::new(None) };
    }
    LAST.with_borrow_mut(|last| match last {
        Some(text) if **text == *version => text.clone(),
        _ => last.insert(Arc::from(version)).clone(),
    })
}

/// Called once by a handler that touched customer data: the version that scored and the
/// customers (ids for one record, a count for a batch).
pub fn note(req: &HttpRequest, version: Option<&str>, subjects: impl FnOnce() -> Subjects) {
    let mut extensions = req.extensions_mut();
    if let Some(granted) = extensions.get_mut::<Granted>().filter(|g| g.noting) {
        granted.seen = Some(Seen {
            version: version.map(shared_version),
            subjects: subjects(),
        });
    }
}

/// Whether the guard let this request through (for the handlers' extractors).
pub fn granted(req: &HttpRequest) -> bool {
    req.extensions().get::<Granted>().is_some()
}

/// Why a request is refused; its answer is built once, at the end.
struct Refusal {
    code: Code,
    detail: String,
    retry: Option<Duration>,
}

fn refuse(code: Code, detail: impl Into<String>, retry: Option<Duration>) -> Refusal {
    Refusal {
        code,
        detail: detail.into(),
        retry,
    }
}

impl Refusal {
    fn response(self) -> HttpResponse {
        let mut response = HttpResponse::build(self.code.status());
        if let Some(wait) = self.retry {
            // Whole seconds, rounded up: a client retrying then will be admitted.
            let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            response.insert_header((RETRY_AFTER, secs.max(1).to_string()));
        }
        response.json(ApiError::new(self.code, self.detail))
    }
}

/// The client's address: the peer's, or what a trusted proxy says it is.
fn client_address(req: &ServiceRequest, proxies: Option<&TrustedProxies>) -> Option<IpAddr> {
    let peer = req.peer_addr()?.ip();
    let Some(proxies) = proxies.filter(|p| p.trusts(peer)) else {
        return Some(peer);
    };
    let lines: Vec<&str> = req
        .headers()
        .get_all(proxies.header.name())
        .filter_map(|v| v.to_str().ok())
        .collect();
    Some(proxies.client(peer, &lines))
}

/// The key after `Bearer `. Checked a word at a time (`is_ascii`, `from_utf8`) where
/// `HeaderValue::to_str` tests each byte: a header from the wire holds no control bytes
/// but tab, so ASCII is what `to_str` accepts.
fn bearer(req: &ServiceRequest) -> Option<&str> {
    let value = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)?
        .as_bytes()
        .strip_prefix(b"Bearer ")?
        .trim_ascii();
    value
        .is_ascii()
        .then(|| std::str::from_utf8(value).ok())
        .flatten()
}

/// Decide a request that needs `scope`: the grant, or the answer refusing it.
fn decide(
    access: &Access,
    keyed: &Arc<Keyed>,
    scope: Scope,
    given: Option<&str>,
    client: Option<IpAddr>,
    now: Instant,
) -> Result<Granted, Refusal> {
    if let Some(wait) = client.and_then(|ip| access.lockout.locked(ip, now)) {
        return Err(refuse(
            Code::LockedOut,
            "too many invalid keys from this address; try again later",
            Some(wait),
        ));
    }
    let admin = scope == Scope::Admin;
    // An open server without any key hashes nothing.
    let keys = &keyed.keys;
    let found = given
        .filter(|_| !keys.is_empty())
        .and_then(|g| keys.find(g));
    let noting = access.audit.is_some() || keyed.rate.is_some();
    let grant = |key: usize| Granted {
        key,
        keyed: keyed.clone(),
        noting,
        seen: None,
    };
    match found {
        Some(i) if keys.get(i).is_some_and(|k| k.scopes.contains(scope)) => Ok(grant(i)),
        _ if access.open && !admin => Ok(grant(keyed.anonymous())),
        Some(i) => {
            let id = keys.get(i).map_or("", |k| &*k.id);
            let code = if admin {
                Code::AdminForbidden
            } else {
                Code::InsufficientScope
            };
            Err(refuse(
                code,
                format!("key `{id}` lacks the scope `{scope}` this route needs"),
                None,
            ))
        }
        None if admin && !keys.grants(Scope::Admin) => Err(refuse(
            Code::AdminForbidden,
            "admin routes are disabled: no admin token is configured \
             (--admin-token-file) and no key has scope `admin`; SIGHUP reloads the bundle",
            None,
        )),
        None if given.is_none() => Err(refuse(
            Code::MissingApiKey,
            format!("send a key with scope `{scope}` as `Authorization: Bearer <key>`"),
            None,
        )),
        None => {
            if let Some(ip) = client {
                if access.lockout.failed(ip, now) {
                    tracing::warn!(client = %ip, "address locked out after repeated invalid keys");
                }
            }
            let code = if admin {
                Code::AdminForbidden
            } else {
                Code::InvalidApiKey
            };
            Err(refuse(code, "the key is not valid", None))
        }
    }
}

/// What the gate does with a request: answer it with `refusal`, or let it through; and,
/// for an audited route, `watch` its answer.
pub struct Admission {
    pub refusal: Option<HttpResponse>,
    pub watch: Option<Watch>,
}

const THROUGH: Admission = Admission {
    refusal: None,
    watch: None,
};

/// Decide a request before any handler runs: lock-out, key, scope, rate limit. `route`
/// is the table's entry for the resource the path names (`named`: some resource does).
/// A quiet server lets its open routes through without a grant or any allocation.
pub fn admit(
    state: &AppState,
    req: &ServiceRequest,
    route: Option<&'static RouteAccess>,
    named: bool,
    now: Instant,
) -> Admission {
    let access = &state.access;
    let scope = match route.map(|r| r.need) {
        // No route matched: the not-found handler answers.
        None if !named => return THROUGH,
        None => {
            let refusal = refuse(
                Code::InsufficientScope,
                format!(
                    "route {} has no scope in the access table; refused",
                    req.match_pattern().unwrap_or_default()
                ),
                None,
            );
            return Admission {
                refusal: Some(refusal.response()),
                watch: None,
            };
        }
        Some(Public) => return THROUGH,
        Some(Need::Scope(scope)) => scope,
    };
    if access.quiet() && scope != Scope::Admin && access.lockout.is_idle() {
        return THROUGH;
    }
    let route = route.filter(|r| r.audited);
    let client = client_address(req, Some(&access.proxies));
    let keyed = access.keyed();
    let decision = decide(access, &keyed, scope, bearer(req), client, now).and_then(|granted| {
        match keyed.rate.as_ref().map(|rate| rate.admit(granted.key, now)) {
            Some(Err(wait)) => Err(refuse(
                Code::RateLimited,
                format!(
                    "over this key's rate limit; retry in {:.1} s",
                    wait.as_secs_f64()
                ),
                Some(wait),
            )),
            _ => Ok(granted),
        }
    });
    let watch = |refused| {
        route
            .filter(|_| access.audit.is_some() || keyed.rate.is_some())
            .map(|route| Watch {
                route,
                refused,
                client,
                at: now,
            })
    };
    match decision {
        Ok(granted) => {
            let watch = watch(None);
            // Quiet: `Authorized` needs no grant, and nothing reads it after.
            if !(access.quiet() && scope != Scope::Admin) {
                req.extensions_mut().insert(granted);
            }
            Admission {
                refusal: None,
                watch,
            }
        }
        Err(refusal) => {
            // Who was refused (a valid key without the scope, or over its limit).
            let who = route.filter(|_| access.audit.is_some()).and_then(|_| {
                let keys = &keyed.keys;
                Some(keys.get(keys.find(bearer(req)?)?)?.id.clone())
            });
            Admission {
                refusal: Some(refusal.response()),
                watch: watch(who),
            }
        }
    }
}

/// An audited request's route, client and arrival, kept until its answer is known; the
/// key is the grant's, or for a refused request `refused`.
pub struct Watch {
    route: &'static RouteAccess,
    refused: Option<Arc<str>>,
    client: Option<IpAddr>,
    at: Instant,
}

impl Watch {
    /// Charge a batch's items to its key and write the audit line.
    pub fn answered<B>(self, state: &AppState, response: &ServiceResponse<B>) {
        let access = &state.access;
        let granted = response.request().extensions_mut().remove::<Granted>();
        let seen = granted.as_ref().and_then(|g| g.seen.as_ref());
        if let (Some(g), Some(Subjects::Count { customers })) =
            (&granted, seen.map(|s| &s.subjects))
        {
            if let Some(rate) = &g.keyed.rate {
                rate.charge(g.key, customers.saturating_sub(1), self.at);
            }
        }
        let Some(audit) = &access.audit else {
            return;
        };
        let mut granted = granted;
        let (version, subjects) = match granted.as_mut().and_then(|g| g.seen.take()) {
            Some(seen) => (seen.version, Some(seen.subjects)),
            None => (None, None),
        };
        // Routes that do not say (promote, refusals): the version serving now.
        let model_version = version.unwrap_or_else(|| shared_version(state.scorer().version()));
        audit.record(AuditEvent {
            at: self.at,
            key_id: granted
                .as_ref()
                .and_then(Granted::key_id)
                .or(self.refused.as_ref()),
            client: self.client,
            method: self.route.method,
            route: self.route.pattern,
            model_version: Some(&model_version),
            subjects,
            status: response.status().as_u16(),
        });
    }
}

/// Read the keys file again (`keys revoke` / `keys create` take effect without a restart);
/// a file that cannot be read keeps the keys in force and answers why.
#[utoipa::path(post, path = "/v1/admin/keys/reload",
    responses((status = 200, body = KeysReloadAnswer), (status = 409, body = ApiError),
              (status = 403, body = ApiError)))]
#[actix_web::post("/v1/admin/keys/reload")]
pub async fn reload_keys(
    _: super::state::Admin,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let state = state.into_inner();
    let outcome = web::block(move || state.access.reload_keys())
        .await
        .map_err(|e| ApiError::new(Code::Internal, e.to_string()))?;
    match outcome {
        Ok(keys) => {
            tracing::info!(keys, "API keys reloaded");
            Ok(HttpResponse::Ok().json(KeysReloadAnswer { keys }))
        }
        Err(e) => {
            tracing::warn!(error = %e, "API keys not reloaded");
            Err(ApiError::new(Code::KeysRefused, e.to_string()))
        }
    }
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct KeysReloadAnswer {
    /// API keys in force now (the admin token not counted).
    pub keys: usize,
}
