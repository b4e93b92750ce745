//! The per-client rate limit (`--rate-limit-per-s`, `--rate-limit-burst`; off by default).
//!
//! Decisions:
//! - A client is its bearer token when it presents one of the server's tokens, else its IP
//!   address (the peer of the connection; `X-Forwarded-For` is not read, since any client
//!   could write it: behind a proxy, limit at the proxy or give clients tokens). An unknown
//!   token counts as its IP, so made-up tokens cannot each get a fresh allowance.
//! - GCRA (`governor`): a steady rate with a burst, no timer per client. Clients not seen
//!   for a while are forgotten every [`FORGET_EVERY`] checks, so the table does not grow
//!   with every address that ever called.
//! - The probes and the scrape (`/healthz`, `/readyz`, `/metrics`) are never limited.
//! - A refused request answers 429 `rate_limited` problem+json with `Retry-After`: the
//!   seconds until the client may send again, rounded up.

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::Response;
use governor::clock::Clock;
use governor::{DefaultKeyedRateLimiter, Quota};

use super::{AppError, AppState};

/// Forget idle clients once every this many checks.
const FORGET_EVERY: u64 = 4_096;

/// How fast one client may send: `per_second` on average, `burst` at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub per_second: NonZeroU32,
    pub burst: NonZeroU32,
}

/// Who a request counts against.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Client {
    Token(String),
    Ip(IpAddr),
    /// No peer address (a router driven in process).
    Unknown,
}

/// The limiter of one server.
#[derive(Debug)]
pub(super) struct RateLimiter {
    limiter: DefaultKeyedRateLimiter<Client>,
    checks: AtomicU64,
}

impl RateLimiter {
    pub(super) fn new(limit: RateLimit) -> RateLimiter {
        RateLimiter {
            limiter: DefaultKeyedRateLimiter::keyed(
                Quota::per_second(limit.per_second).allow_burst(limit.burst),
            ),
            checks: AtomicU64::new(0),
        }
    }

    /// `Ok` when `client` may send now, else how many seconds it must wait.
    fn check(&self, client: &Client) -> Result<(), u64> {
        if self.checks.fetch_add(1, Ordering::Relaxed) % FORGET_EVERY == FORGET_EVERY - 1 {
            self.limiter.retain_recent();
        }
        self.limiter.check_key(client).map_err(|not_until| {
            let wait = not_until.wait_time_from(self.limiter.clock().now());
            // Whole seconds, rounded up: `Retry-After: 0` would invite an immediate retry.
            wait.as_secs_f64().ceil().max(1.0) as u64
        })
    }
}

fn exempt(path: &str) -> bool {
    matches!(path, "/healthz" | "/readyz" | "/metrics")
}

/// Answers 429 `rate_limited` to a client over its rate; a no-op without a limit.
pub(super) async fn limit_rate(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Result<Response, AppError> {
    let Some(limiter) = state.rate_limiter.as_ref() else {
        return Ok(next.run(request).await);
    };
    if exempt(request.uri().path()) {
        return Ok(next.run(request).await);
    }
    let client = client_of(&state, &request);
    if let Err(retry_after_s) = limiter.check(&client) {
        return Err(AppError::RateLimited { retry_after_s });
    }
    Ok(next.run(request).await)
}

fn client_of(state: &AppState, request: &Request) -> Client {
    let token = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(super::bearer_token)
        .filter(|token| state.is_known_token(token));
    if let Some(token) = token {
        return Client::Token(token.to_owned());
    }
    match request.extensions().get::<ConnectInfo<SocketAddr>>() {
        Some(ConnectInfo(peer)) => Client::Ip(peer.ip()),
        None => Client::Unknown,
    }
}

/// A limiter for `limit`, or none.
pub(super) fn limiter_for(limit: Option<RateLimit>) -> Option<Arc<RateLimiter>> {
    limit.map(|limit| Arc::new(RateLimiter::new(limit)))
}
