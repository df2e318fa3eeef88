//! Access control over HTTP: one table says which scope every route needs, and one
//! middleware enforces it before any handler runs (lock-out, key, scope, rate limit),
//! then writes the audit line with the handler's status. A route missing from the table
//! is refused, so a new route is closed until it is given a scope.

use super::error::{ApiError, Code};
use super::state::AppState;
use crate::access::audit::{AuditEvent, AuditLog, Subjects};
use crate::access::limits::{Lockout, RateLimiter};
use crate::access::{KeyRing, Scope};
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Service, ServiceRequest, ServiceResponse};
use actix_web::http::header::RETRY_AFTER;
use actix_web::{web, HttpMessage, HttpRequest, HttpResponse};
use std::future::Future;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

/// What a route needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Anyone (probes, metrics, the API description).
    Public,
    Scope(Scope),
}

/// One route: its method, pattern, the scope it needs and whether it is audited (it
/// touches customer data or changes state).
#[derive(Debug, Clone, Copy)]
pub struct RouteAccess {
    pub method: &'static str,
    pub pattern: &'static str,
    pub need: Need,
    pub audited: bool,
}

const fn route(
    method: &'static str,
    pattern: &'static str,
    need: Need,
    audited: bool,
) -> RouteAccess {
    RouteAccess {
        method,
        pattern,
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
    route("POST", "/v1/score", SCORE, true),
    route("POST", "/v1/score/batch", SCORE, true),
    route("POST", "/v1/next-best-action", SCORE, true),
    route("GET", "/v1/models", READ, false),
    route("GET", "/v1/segments", READ, false),
    route("GET", "/v1/rules", READ, false),
    route("GET", "/v1/monitoring", READ, false),
    route("GET", "/v1/campaigns/{name}", READ, true),
    route("POST", "/v1/outcomes", OUTCOMES, true),
    route("POST", "/v1/admin/reload", ADMIN, true),
    route("POST", "/v1/admin/promote", ADMIN, true),
    route("POST", "/v1/admin/rollback", ADMIN, true),
    route("GET", "/healthz", Public, false),
    route("GET", "/readyz", Public, false),
    route("GET", "/metrics", Public, false),
    route("GET", "/openapi.json", Public, false),
];

fn lookup(pattern: &str) -> Option<&'static RouteAccess> {
    ROUTES.iter().find(|r| r.pattern == pattern)
}

/// The server's access settings, built once at start.
pub struct Access {
    /// API keys, then the admin token (id `admin-token`, scope `admin`).
    pub keys: KeyRing,
    /// No API keys configured: every route but the admin ones is open (loopback only).
    pub open: bool,
    pub rate: Option<RateLimiter>,
    pub lockout: Lockout,
    pub audit: Option<AuditLog>,
}

impl Access {
    /// The bucket of callers without a key (an open server).
    fn anonymous(&self) -> usize {
        self.keys.len()
    }

    /// Buckets needed by a rate limiter for these keys.
    pub fn buckets(keys: &KeyRing) -> usize {
        keys.len() + 1
    }
}

/// A request the guard let through, and as whom. Handlers take `Authorized` / `Admin`,
/// which only check that this is present.
#[derive(Clone)]
pub struct Granted {
    pub key_id: Option<Arc<str>>,
    key: usize,
    /// Whether handlers should say whose data they touched (audit or rate limits on).
    noting: bool,
}

/// Whose data a handler touched, for the audit line and for charging a batch's items.
struct Seen {
    version: Option<String>,
    subjects: Subjects,
}

/// Called once by a handler that touched customer data: the version that scored and the
/// customers (ids for one record, a count for a batch).
pub fn note(req: &HttpRequest, version: Option<&str>, subjects: impl FnOnce() -> Subjects) {
    let noting = req.extensions().get::<Granted>().is_some_and(|g| g.noting);
    if noting {
        req.extensions_mut().insert(Seen {
            version: version.map(String::from),
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

fn bearer(req: &ServiceRequest) -> Option<&str> {
    req.headers()
        .get(actix_web::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

/// Decide a request that needs `scope`: the grant, or the answer refusing it.
fn decide(
    access: &Access,
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
    let found = given
        .filter(|_| !access.keys.is_empty())
        .and_then(|g| access.keys.find(g));
    let noting = access.audit.is_some() || access.rate.is_some();
    let grant = |key: usize| Granted {
        key_id: access.keys.get(key).map(|k| k.id.clone()),
        key,
        noting,
    };
    match found {
        Some(i) if access.keys.get(i).is_some_and(|k| k.scopes.contains(scope)) => Ok(grant(i)),
        _ if access.open && !admin => Ok(grant(access.anonymous())),
        Some(i) => {
            let id = access.keys.get(i).map_or("", |k| &*k.id);
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
        None if admin && !access.keys.grants(Scope::Admin) => Err(refuse(
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

/// The middleware: `App::wrap_fn(access::guard)`.
pub fn guard<S, B>(
    req: ServiceRequest,
    service: &S,
) -> impl Future<Output = Result<ServiceResponse<EitherBody<B>>, actix_web::Error>> + 'static
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error>,
    S::Future: 'static,
    B: MessageBody + 'static,
{
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let pattern = req.match_pattern();
    let route = pattern.as_deref().map(lookup);
    let now = Instant::now();
    let client = req.peer_addr().map(|a| a.ip());
    let decision = match (&state, route) {
        // No route matched: the not-found handler answers.
        (_, None) => Ok(None),
        (None, _) => Err(refuse(Code::Internal, "application state is missing", None)),
        (Some(_), Some(None)) => Err(refuse(
            Code::InsufficientScope,
            format!(
                "route {} has no scope in the access table; refused",
                pattern.as_deref().unwrap_or_default()
            ),
            None,
        )),
        (Some(_), Some(Some(r))) if r.need == Public => Ok(None),
        (Some(state), Some(Some(r))) => {
            let Need::Scope(scope) = r.need else {
                unreachable!("public routes are let through above")
            };
            let access = &state.access;
            decide(access, scope, bearer(&req), client, now).and_then(|granted| {
                match access
                    .rate
                    .as_ref()
                    .map(|rate| rate.admit(granted.key, now))
                {
                    Some(Err(wait)) => Err(refuse(
                        Code::RateLimited,
                        format!(
                            "over this key's rate limit; retry in {:.1} s",
                            wait.as_secs_f64()
                        ),
                        Some(wait),
                    )),
                    _ => Ok(Some(granted)),
                }
            })
        }
    };
    let audited = route.flatten().filter(|r| r.audited);
    let audit = audited.and(state.clone());
    let who = match &decision {
        Ok(granted) => granted.as_ref().and_then(|g| g.key_id.clone()),
        // Who was refused (a valid key without the scope, or over its limit).
        Err(_) => audit.as_ref().and_then(|state| {
            let keys = &state.access.keys;
            Some(keys.get(keys.find(bearer(&req)?)?)?.id.clone())
        }),
    };
    let granted = decision.as_ref().ok().cloned().flatten();
    let call = match decision {
        Ok(granted) => {
            if let Some(granted) = granted {
                req.extensions_mut().insert(granted);
            }
            Ok(service.call(req))
        }
        Err(refusal) => Err(req.into_response(refusal.response())),
    };
    async move {
        let response = match call {
            Ok(pending) => pending.await?.map_into_left_body(),
            Err(refused) => refused.map_into_right_body(),
        };
        if let (Some(state), Some(route)) = (audit, audited) {
            after(&state, &response, granted, who, route, client);
        }
        Ok(response)
    }
}

/// Charge a batch's items to its key and write the audit line.
fn after<B>(
    state: &AppState,
    response: &ServiceResponse<B>,
    granted: Option<Granted>,
    who: Option<Arc<str>>,
    route: &'static RouteAccess,
    client: Option<IpAddr>,
) {
    let access = &state.access;
    let seen = response.request().extensions_mut().remove::<Seen>();
    if let (
        Some(rate),
        Some(g),
        Some(Seen {
            subjects: Subjects::Count { customers },
            ..
        }),
    ) = (&access.rate, &granted, &seen)
    {
        rate.charge(g.key, customers.saturating_sub(1), Instant::now());
    }
    let Some(audit) = &access.audit else {
        return;
    };
    let (version, subjects) = match seen {
        Some(seen) => (seen.version, Some(seen.subjects)),
        None => (None, None),
    };
    audit.record(AuditEvent {
        time: SystemTime::now(),
        key_id: who,
        client,
        method: route.method,
        route: route.pattern,
        model_version: version.or_else(|| Some(state.scorer().version().to_string())),
        subjects,
        status: response.status().as_u16(),
    });
}
