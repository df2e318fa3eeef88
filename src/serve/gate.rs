//! The one middleware every request passes: access control (`access` decides), then the
//! request's metrics, log line and id. Written by hand rather than as `wrap_fn` layers so
//! that a server without keys, audit or rate limit pays for one route lookup and the
//! metrics only: no request extension, no boxed future, no copy of the route pattern.

use super::access::{self, RouteAccess};
use super::state::AppState;
use actix_web::body::{BoxBody, EitherBody, MessageBody};
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::web;
use pin_project_lite::pin_project;
use std::cell::Cell;
use std::future::{ready, Future, Ready};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::task::{Context, Poll};
use std::time::Instant;

/// `App::wrap(Gate::new(state))`: the state is the one the app serves.
pub struct Gate {
    state: web::Data<AppState>,
}

impl Gate {
    pub fn new(state: web::Data<AppState>) -> Self {
        Gate { state }
    }
}

impl<S, B> Transform<S, ServiceRequest> for Gate
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = actix_web::Error;
    type Transform = GateService<S>;
    type InitError = ();
    type Future = Ready<Result<GateService<S>, ()>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(GateService {
            service,
            state: Rc::new(self.state.clone()),
        }))
    }
}

/// One worker's gate. Its requests hold the state through an `Rc` of the worker's own:
/// cloning the shared `Arc` would write a count every worker shares on each request.
pub struct GateService<S> {
    service: S,
    state: Rc<web::Data<AppState>>,
}

impl<S, B> Service<ServiceRequest> for GateService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = actix_web::Error;
    type Future = GateFuture<S::Future>;

    actix_web::dev::forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        let started = Instant::now();
        let request_id = request_id(&req);
        // Resolved once, before routing, by the resource's name (no pattern string built).
        let name = req.match_name();
        let route = name.and_then(access::by_name);
        let admission = access::admit(&self.state, &req, route, name.is_some(), started);
        let (call, refused) = match admission.refusal {
            None => (Some(self.service.call(req)), None),
            Some(refusal) => (None, Some(req.into_response(refusal))),
        };
        GateFuture {
            call,
            refused,
            watch: admission.watch,
            route,
            started,
            request_id,
            state: Rc::clone(&self.state),
        }
    }
}

pin_project! {
    pub struct GateFuture<F> {
        #[pin]
        call: Option<F>,
        refused: Option<ServiceResponse<BoxBody>>,
        watch: Option<access::Watch>,
        route: Option<&'static RouteAccess>,
        started: Instant,
        request_id: Option<HeaderValue>,
        state: Rc<web::Data<AppState>>,
    }
}

impl<F, B> Future for GateFuture<F>
where
    F: Future<Output = Result<ServiceResponse<B>, actix_web::Error>>,
    B: MessageBody + 'static,
{
    type Output = Result<ServiceResponse<EitherBody<B>>, actix_web::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut response = match (this.call.as_pin_mut(), this.refused.take()) {
            (Some(call), _) => match call.poll(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Ready(Ok(response)) => response.map_into_left_body(),
            },
            (None, Some(refused)) => refused.map_into_right_body(),
            (None, None) => {
                return Poll::Ready(Err(actix_web::error::ErrorInternalServerError(
                    "request polled after its answer",
                )))
            }
        };
        if let Some(watch) = this.watch.take() {
            watch.answered(this.state, &response);
        }
        observe(
            this.state,
            &response,
            *this.route,
            *this.started,
            this.request_id,
        );
        if let Some(id) = this.request_id.take() {
            response.headers_mut().insert(X_REQUEST_ID, id);
        }
        Poll::Ready(Ok(response))
    }
}

/// A header name made at compile time: looking one up by `&str` parses the name first.
const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The caller's `x-request-id` when it is a sane token, else a fresh one.
fn request_id(req: &ServiceRequest) -> Option<HeaderValue> {
    let given = req.headers().get(X_REQUEST_ID).filter(|v| {
        let v = v.as_bytes();
        v.len() <= 64 && v.iter().all(|&c| c.is_ascii_alphanumeric() || c == b'-')
    });
    match given {
        Some(value) => Some(value.clone()),
        None => fresh_request_id(),
    }
}

/// `<process id in hex>-<number>`, written on the stack (one copy, into the value).
fn fresh_request_id() -> Option<HeaderValue> {
    static PREFIX: OnceLock<String> = OnceLock::new();
    let prefix = PREFIX.get_or_init(|| format!("{:x}-", std::process::id()));
    let mut buffer = [0u8; 20];
    let digits = crate::numfmt::integer_digits(next_request_number(), &mut buffer);
    let mut id = [0u8; 40];
    let len = prefix.len() + digits.len();
    id.get_mut(..prefix.len())?
        .copy_from_slice(prefix.as_bytes());
    id.get_mut(prefix.len()..len)?.copy_from_slice(digits);
    HeaderValue::from_bytes(&id[..len]).ok()
}

/// Request numbers, unique in the process: each thread takes a block of them at a time,
/// so that workers do not pass one shared counter's cache line back and forth on every
/// request. A worker's numbers rise with its requests; across workers they interleave.
fn next_request_number() -> u64 {
    const BLOCK: u64 = 1024;
    static NEXT_BLOCK: AtomicU64 = AtomicU64::new(1);
    thread_local! {
        static OWN: Cell<(u64, u64)> = const { Cell::new((0, 0)) };
    }
    OWN.with(|own| {
        let (mut next, mut end) = own.get();
        if next == end {
            next = NEXT_BLOCK.fetch_add(BLOCK, Ordering::Relaxed);
            end = next + BLOCK;
        }
        own.set((next + 1, end));
        next
    })
}

/// Count, time and log one request by its route pattern; never log bodies or paths.
/// The log line's fields are only formatted when debug logging is on.
fn observe<B>(
    state: &AppState,
    res: &ServiceResponse<B>,
    route: Option<&'static RouteAccess>,
    started: Instant,
    request_id: &Option<HeaderValue>,
) {
    let request = res.request();
    let route = route.map_or("unmatched", |r| r.pattern);
    let status = res.status().as_u16();
    let seconds = started.elapsed().as_secs_f64();
    state
        .metrics
        .observe_request(route, request.method().as_str(), status, seconds);
    tracing::debug!(
        request_id = request_id.as_ref().and_then(|v| v.to_str().ok()),
        method = %request.method(),
        route,
        status,
        micros = (seconds * 1e6) as u64,
        "request"
    );
}

#[cfg(test)]
mod tests {
    use super::next_request_number;
    use std::collections::HashSet;

    #[test]
    fn request_numbers_are_unique_across_threads_and_rise_within_one() {
        let per_thread: Vec<Vec<u64>> = std::thread::scope(|scope| {
            let threads: Vec<_> = (0..4)
                .map(|_| scope.spawn(|| (0..3_000).map(|_| next_request_number()).collect()))
                .collect();
            threads.into_iter().map(|t| t.join().unwrap()).collect()
        });
        for numbers in &per_thread {
            assert!(numbers.windows(2).all(|w| w[0] < w[1]));
        }
        let all: HashSet<u64> = per_thread.iter().flatten().copied().collect();
        assert_eq!(all.len(), 12_000);
        assert!(!all.contains(&0));
    }
}
