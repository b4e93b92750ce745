//! The HTTP API (version 1): axum routes, one file per resource, merged here.
//!
//! [`app`] builds the router from an [`AppState`] and does no I/O of its own, so tests drive
//! it with `tower::ServiceExt::oneshot`; [`serve`] runs it on a bound listener, with the
//! connection timeouts of [`ConnectionLimits`] (`server.rs`).

mod addresses;
mod admin;
mod assign;
mod autocomplete;
mod bbox;
mod bodies;
mod codes;
mod convert;
mod drain;
pub mod error;
mod geocode;
mod geojson;
mod layers;
pub mod metrics;
mod ops;
mod page;
mod parse;
mod patterns;
mod rate_limit;
mod reverse;
mod reverse_batch;
mod reverse_csv;
mod search;
mod server;
mod stream;
mod zones;

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Query, Request};
use axum::http::request::Parts;
use axum::http::{HeaderValue, header};
use serde::de::DeserializeOwned;
use tower_http::compression::CompressionLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

pub use convert::ConvertItem;
pub use drain::Drain;
pub use error::{AppError, FieldError, Problem};
pub use ops::ApiDoc;
pub use page::PageConfig;
pub use parse::ParseBody;
pub use rate_limit::RateLimit;
pub use server::{ConnectionLimits, serve};

use crate::assign::format::ReadLimits;
use crate::registry::Registry;

/// Limits of the API; every one a config value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    /// Most points in one `POST /v1/reverse`, most codes in one `POST /v1/codes`.
    pub max_batch_items: usize,
    /// Most addresses one `POST /v1/reverse` may ask for: points × limit.
    pub max_batch_answers: usize,
    /// Batch requests (`POST /v1/reverse`, `POST /v1/codes`) answered at once; more
    /// answer 429.
    pub max_concurrent_batches: usize,
    /// Largest request body, bytes.
    pub max_body_bytes: usize,
    /// Longest a request may take (an assignment's streamed answer is not cut by it).
    pub request_timeout: Duration,
    /// Most rows of one `POST /v1/assign`; later rows answer `row_limit`.
    pub max_assign_rows: u64,
    /// Largest `POST /v1/assign` body, bytes.
    pub max_assign_bytes: u64,
    /// Assignments running at once; more answer 429.
    pub max_concurrent_assign: usize,
    /// Longest text of one field, characters.
    pub max_field_chars: usize,
    /// Longest address text `GET /v1/parse` reads (`q`), characters.
    pub max_parse_chars: usize,
    /// Most addresses in one `POST /v1/convert`.
    pub max_convert_items: usize,
    /// Longest cell of an assign list, any column, bytes.
    pub max_cell_bytes: usize,
    /// Longest row of an assign list, bytes.
    pub max_row_bytes: usize,
    /// Most features one `GET /v1/addresses?bbox` may ask for (`limit`).
    pub max_bbox_limit: usize,
}

impl Limits {
    /// The defaults, defined once: `Limits::default()` and the command line's defaults
    /// both read them.
    pub const DEFAULT: Limits = Limits {
        max_batch_items: 10_000,
        max_batch_answers: 100_000,
        max_concurrent_batches: 8,
        max_body_bytes: 16 * 1024 * 1024,
        request_timeout: Duration::from_secs(30),
        max_assign_rows: 1_000_000,
        max_assign_bytes: 512 * 1024 * 1024,
        max_concurrent_assign: 4,
        max_field_chars: crate::assign::DEFAULT_MAX_FIELD_CHARS,
        max_parse_chars: 1_000,
        max_convert_items: 10_000,
        max_cell_bytes: ReadLimits::DEFAULT.max_cell_bytes,
        max_row_bytes: ReadLimits::DEFAULT.max_row_bytes,
        max_bbox_limit: 5_000,
    };

    /// The byte limits of an assign list's cells and rows.
    pub fn read_limits(&self) -> ReadLimits {
        ReadLimits {
            max_cell_bytes: self.max_cell_bytes,
            max_row_bytes: self.max_row_bytes,
        }
    }
}

impl Default for Limits {
    fn default() -> Limits {
        Limits::DEFAULT
    }
}

/// Shared by every handler. The registry is filled in once the index is built, so the
/// server can answer `/healthz` (and say "not ready") while it loads.
///
/// One `Arc` around the whole state: every request clones it several times (the handler's
/// `State` and each `from_fn_with_state` layer), and one reference count costs less than
/// one per field, which showed in profiles of `GET /v1/search` under load.
#[derive(Debug, Clone)]
pub struct AppState(Arc<SharedState>);

impl std::ops::Deref for AppState {
    type Target = SharedState;
    fn deref(&self) -> &SharedState {
        &self.0
    }
}

/// What an [`AppState`] holds; set up by `AppState`'s builder methods before serving.
#[derive(Debug, Clone)]
pub struct SharedState {
    registry: Arc<OnceLock<Arc<Registry>>>,
    pub limits: Limits,
    /// Bearer tokens that may write; empty means writes are open.
    tokens: Arc<Vec<String>>,
    /// Writes answer 403 (dry runs still work): `serve --read-only`.
    read_only: bool,
    assign_permits: Arc<tokio::sync::Semaphore>,
    batch_permits: Arc<tokio::sync::Semaphore>,
    /// Set once the server drains before it exits.
    drain: Drain,
    /// Per-client rate limit; none by default.
    rate_limiter: Option<Arc<rate_limit::RateLimiter>>,
    /// Origins CORS answers allow; none (CORS off) by default.
    cors_origins: Arc<Vec<HeaderValue>>,
    /// The map page's basemap (`--tile-url`); none by default.
    page: Arc<PageConfig>,
}

impl AppState {
    /// A state whose registry is set later with [`AppState::set_registry`].
    pub fn loading(limits: Limits) -> AppState {
        AppState(Arc::new(SharedState {
            registry: Arc::new(OnceLock::new()),
            limits,
            tokens: Arc::new(Vec::new()),
            read_only: false,
            assign_permits: Arc::new(tokio::sync::Semaphore::new(limits.max_concurrent_assign)),
            batch_permits: Arc::new(tokio::sync::Semaphore::new(limits.max_concurrent_batches)),
            drain: Drain::new(),
            rate_limiter: None,
            cors_origins: Arc::new(Vec::new()),
            page: Arc::new(PageConfig::default()),
        }))
    }

    /// The state to change while it is being set up. Set-up comes before the state is
    /// shared; were it shared, the change would go to a copy held by this handle only.
    fn setting_up(&mut self) -> &mut SharedState {
        Arc::make_mut(&mut self.0)
    }

    /// The map page then draws this basemap under its layers.
    pub fn with_page(mut self, page: PageConfig) -> AppState {
        self.setting_up().page = Arc::new(page);
        self
    }

    /// Each client may then send `limit.per_second` requests a second on average
    /// (`limit.burst` at once); more answer 429 `rate_limited`.
    pub fn with_rate_limit(mut self, limit: Option<RateLimit>) -> AppState {
        self.setting_up().rate_limiter = rate_limit::limiter_for(limit);
        self
    }

    /// Browsers may then call the API from these origins (`*`: from any).
    pub fn with_cors_origins(mut self, origins: Vec<HeaderValue>) -> AppState {
        self.setting_up().cors_origins = Arc::new(origins);
        self
    }

    /// The drain switch the server flips on SIGTERM; the router answers by it.
    pub fn drain(&self) -> Drain {
        self.drain.clone()
    }

    /// Writes then need `Authorization: Bearer <one of tokens>`.
    pub fn with_tokens(mut self, tokens: Vec<String>) -> AppState {
        self.setting_up().tokens = Arc::new(
            tokens
                .into_iter()
                .filter(|token| !token.is_empty())
                .collect(),
        );
        self
    }

    /// Writes then answer 403 problem+json; reads and assign dry runs are served.
    pub fn read_only(mut self) -> AppState {
        self.setting_up().read_only = true;
        self
    }

    /// Whether `presented` is one of the server's tokens.
    fn is_known_token(&self, presented: &str) -> bool {
        // Compare in constant time, so response timing does not leak a token prefix.
        self.tokens.iter().fold(false, |found, token| {
            found
                | bool::from(subtle::ConstantTimeEq::ct_eq(
                    token.as_bytes(),
                    presented.as_bytes(),
                ))
        })
    }

    /// Whether writes need a bearer token.
    pub fn writes_need_token(&self) -> bool {
        !self.tokens.is_empty()
    }

    pub fn is_read_only(&self) -> bool {
        self.read_only
    }

    pub fn ready(registry: Arc<Registry>, limits: Limits) -> AppState {
        let state = AppState::loading(limits);
        state.set_registry(registry);
        state
    }

    pub fn set_registry(&self, registry: Arc<Registry>) {
        // Set once at start-up; a second call would be a programming error and is ignored.
        let _ = self.registry.set(registry);
    }

    pub fn registry(&self) -> Result<&Arc<Registry>, AppError> {
        self.registry.get().ok_or(AppError::NotReady)
    }

    /// A slot for one batch request, held until its answer is sent; 429 when every slot is
    /// taken.
    fn batch_permit(&self) -> Result<tokio::sync::OwnedSemaphorePermit, AppError> {
        self.batch_permits.clone().try_acquire_owned().map_err(|_| {
            AppError::TooBusy(format!(
                "{} batch requests are being answered; retry shortly",
                self.limits.max_concurrent_batches
            ))
        })
    }
}

/// The whole API; with a [read-only](AppState::read_only) state, writes answer 403.
///
/// Decisions: a read-only server still routes its write endpoints, to answer them 403
/// problem+json saying why (a 404 would read as a wrong URL), and serves assign dry runs,
/// which write nothing. Every error leaves as problem+json, axum's own ones (405 with
/// `Allow`, a path that is not UTF-8) included: see [`error::problem_for_bare_errors`].
///
/// Answers are compressed (gzip or brotli, as the client's `Accept-Encoding` asks) when
/// larger than 32 bytes, streamed ones included: tower-http's compression passes the
/// trailers (`vmap-status`) through after the compressed data, and every streamed answer
/// still ends as a whole document. The cost is that a compressed stream arrives in the
/// compressor's blocks rather than row by row; a client that wants rows as they are
/// decided sends no `Accept-Encoding`.
pub fn app(state: AppState) -> Router {
    metrics::init();
    let limits = state.limits;
    let cors = layers::cors(&state.cors_origins);
    let writes = Router::new()
        .merge(assign::router())
        .merge(addresses::router())
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            require_token,
        ))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            refuse_writes_when_read_only,
        ));
    let router = Router::new()
        .merge(reverse::router())
        .merge(bbox::router())
        .merge(codes::router())
        .merge(zones::router())
        .merge(admin::router())
        .merge(parse::router())
        .merge(search::router())
        .merge(autocomplete::router())
        .merge(geocode::router())
        .merge(convert::router())
        .merge(ops::router())
        .merge(page::router())
        .merge(writes)
        .fallback(|| async {
            AppError::NotFound("no such endpoint; see /openapi.json".to_owned())
        });
    // Before the handlers, after the route is known: a refused request is counted under its
    // route. Without a limit there is no layer at all (each layer costs every request).
    let router = if state.rate_limiter.is_some() {
        router.layer(axum::middleware::from_fn_with_state(
            state.clone(),
            rate_limit::limit_rate,
        ))
    } else {
        router
    };
    let router = router
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            drain::refuse_while_draining,
        ))
        .with_state(state)
        .layer(axum::extract::DefaultBodyLimit::max(limits.max_body_bytes))
        .layer(axum::middleware::from_fn(move |request, next| {
            timeout(limits.request_timeout, request, next)
        }))
        // A panic answers 500 problem+json instead of dropping the connection.
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(|_panic| {
            use axum::response::IntoResponse;
            AppError::Internal("a handler panicked".to_owned()).into_response()
        }))
        .layer(axum::middleware::from_fn(error::problem_for_bare_errors))
        // Counts the status the client gets, problem+json conversions included.
        .layer(axum::middleware::from_fn(metrics::count_requests))
        .layer(CompressionLayer::new())
        // 5xx are logged where they arise (AppError::Internal); 503 while loading is normal.
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(layers::request_span)
                .on_failure(()),
        )
        // Outside the trace layer, so the span has the id; an id the client sent is kept.
        .layer(PropagateRequestIdLayer::new(layers::REQUEST_ID))
        .layer(SetRequestIdLayer::new(layers::REQUEST_ID, MakeRequestUuid));
    match cors {
        Some(cors) => router.layer(cors),
        None => router,
    }
}

/// `serve --read-only`: writes answer 403; an assign dry run goes through.
async fn refuse_writes_when_read_only(
    axum::extract::State(state): axum::extract::State<AppState>,
    request: Request,
    next: axum::middleware::Next,
) -> Result<axum::response::Response, AppError> {
    if state.read_only && !assign::is_dry_run(request.uri()) {
        return Err(AppError::ReadOnly);
    }
    Ok(next.run(request).await)
}

/// The token of an `Authorization: Bearer <token>` header; the scheme's case does not
/// matter (RFC 9110 §11.1).
fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim_start().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|token| !token.is_empty())
}

async fn timeout(
    limit: Duration,
    request: Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => AppError::Timeout.into_response(),
    }
}

/// Lets a write through when tokens are not configured or the request carries one of them.
async fn require_token(
    axum::extract::State(state): axum::extract::State<AppState>,
    request: Request,
    next: axum::middleware::Next,
) -> Result<axum::response::Response, AppError> {
    if state.tokens.is_empty() {
        return Ok(next.run(request).await);
    }
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(bearer_token);
    let Some(presented) = presented else {
        return Err(AppError::Unauthorized(
            "writes need an Authorization: Bearer <token> header".to_owned(),
        ));
    };
    if !state.is_known_token(presented) {
        return Err(AppError::Unauthorized(
            "the bearer token is not valid".to_owned(),
        ));
    }
    Ok(next.run(request).await)
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}

/// A JSON body whose every failure is an [`AppError`] naming the field at fault.
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = AppError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.split(';').next())
            .map(str::trim)
            .is_some_and(|mime| mime == "application/json" || mime.ends_with("+json"));
        if !is_json {
            return Err(AppError::UnsupportedMediaType(
                "send the body as JSON with Content-Type: application/json".to_owned(),
            ));
        }
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|rejection| {
                if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                    AppError::TooLarge(format!(
                        "request body is larger than the limit: {rejection}"
                    ))
                } else {
                    AppError::BadRequest {
                        detail: rejection.body_text(),
                        errors: Vec::new(),
                    }
                }
            })?;
        parse_json(&bytes).map(ApiJson)
    }
}

/// Every JSON body of the API is an object: serde would also read a struct from an array
/// of its fields in order, which no client means.
fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, AppError> {
    let first = bytes.iter().find(|byte| !byte.is_ascii_whitespace());
    if first.is_some_and(|&byte| byte != b'{')
        && serde_json::from_slice::<serde::de::IgnoredAny>(bytes).is_ok()
    {
        return Err(AppError::invalid_field(
            "body",
            "not_an_object",
            "the body must be a JSON object",
        ));
    }
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
        match inner.classify() {
            serde_json::error::Category::Data => {
                let field = if path == "." { "body".to_owned() } else { path };
                AppError::invalid_field(&field, "invalid_value", inner.to_string())
            }
            _ => AppError::BadRequest {
                detail: format!("malformed JSON: {inner}"),
                errors: vec![FieldError::new("body", "malformed_json", inner.to_string())],
            },
        }
    })?;
    deserializer.end().map_err(|error| AppError::BadRequest {
        detail: format!("malformed JSON: {error}"),
        errors: vec![FieldError::new("body", "malformed_json", error.to_string())],
    })?;
    Ok(value)
}

/// Query parameters as text, parsed field by field so that each error names its field.
#[derive(Debug)]
pub struct Params(HashMap<String, String>);

impl<S: Send + Sync> FromRequestParts<S> for Params {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Query(pairs) = Query::<Vec<(String, String)>>::from_request_parts(parts, state)
            .await
            .map_err(|rejection| AppError::BadRequest {
                detail: rejection.body_text(),
                errors: Vec::new(),
            })?;
        let mut map = HashMap::with_capacity(pairs.len());
        for (name, value) in pairs {
            // `?limit=1&limit=100` has no one meaning; neither value is picked silently.
            if map.contains_key(&name) {
                return Err(AppError::BadRequest {
                    detail: format!("{name} is given more than once"),
                    errors: vec![FieldError::new(
                        name.clone(),
                        "duplicate",
                        format!("{name} is given more than once"),
                    )],
                });
            }
            map.insert(name, value);
        }
        Ok(Params(map))
    }
}

impl Params {
    /// The parameter's text, trimmed; `Some("")` when it is given empty (`?limit=`), which
    /// is an error rather than "absent": the client meant something.
    fn raw(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(|value| value.trim())
    }

    /// A required finite number.
    pub fn required_f64(&self, name: &str, errors: &mut Vec<FieldError>) -> Option<f64> {
        match self.raw(name) {
            None => {
                errors.push(FieldError::new(
                    name,
                    "missing",
                    format!("{name} is required"),
                ));
                None
            }
            Some(text) => parse_finite(name, text, errors),
        }
    }

    /// The parameter's text exactly as given (not trimmed): for values the document gives
    /// a pattern or a list of.
    pub fn text(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    pub fn optional_f64(&self, name: &str, errors: &mut Vec<FieldError>) -> Option<f64> {
        self.raw(name)
            .and_then(|text| parse_finite(name, text, errors))
    }

    pub fn optional_usize(&self, name: &str, errors: &mut Vec<FieldError>) -> Option<usize> {
        let text = self.raw(name)?;
        match whole_number(text) {
            Some(value) => Some(value),
            None => {
                errors.push(FieldError::new(
                    name,
                    "not_an_integer",
                    format!("{name} must be a whole number, got {text:?}"),
                ));
                None
            }
        }
    }
}

/// A whole number, also written as a decimal with no fraction (`9.0`): JSON Schema's
/// `integer` holds both, and clients generated from the document send either.
pub(crate) fn whole_number(text: &str) -> Option<usize> {
    text.parse::<usize>().ok().or_else(|| {
        text.parse::<f64>()
            .ok()
            .filter(|value| value.fract() == 0.0 && *value >= 0.0 && *value <= usize::MAX as f64)
            .map(|value| value as usize)
    })
}

fn parse_finite(name: &str, text: &str, errors: &mut Vec<FieldError>) -> Option<f64> {
    match text.parse::<f64>() {
        Ok(value) if value.is_finite() => Some(value),
        _ => {
            errors.push(FieldError::new(
                name,
                "not_a_number",
                format!("{name} must be a finite decimal number, got {text:?}"),
            ));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bearer_scheme_is_case_insensitive() {
        assert_eq!(bearer_token("Bearer abc"), Some("abc"));
        assert_eq!(bearer_token("bearer abc"), Some("abc"));
        assert_eq!(bearer_token("BEARER   abc "), Some("abc"));
        assert_eq!(bearer_token("Basic abc"), None);
        assert_eq!(bearer_token("Bearer"), None);
        assert_eq!(bearer_token("Bearer  "), None);
        assert_eq!(bearer_token("Bearerabc"), None);
    }
}
