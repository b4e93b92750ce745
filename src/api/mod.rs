//! The HTTP API (version 1): axum routes, one file per resource, merged here.
//!
//! [`app`] builds the router from an [`AppState`] and does no I/O of its own, so tests drive
//! it with `tower::ServiceExt::oneshot`; [`serve`] runs it on a bound listener, with the
//! connection timeouts of [`ConnectionLimits`] (`server.rs`).

mod addresses;
mod assign;
mod bodies;
mod codes;
pub mod error;
mod ops;
mod reverse;
mod server;
mod zones;

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Query, Request};
use axum::http::header;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use tower_http::trace::TraceLayer;

pub use error::{AppError, FieldError, Problem};
pub use ops::ApiDoc;
pub use server::{ConnectionLimits, serve};

use crate::registry::Registry;

/// Limits of the API; every one a config value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    /// Most points in one `POST /v1/reverse`, most codes in one `POST /v1/codes`.
    pub max_batch_items: usize,
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
}

impl Limits {
    /// The defaults, defined once: `Limits::default()` and the command line's defaults
    /// both read them.
    pub const DEFAULT: Limits = Limits {
        max_batch_items: 10_000,
        max_body_bytes: 16 * 1024 * 1024,
        request_timeout: Duration::from_secs(30),
        max_assign_rows: 1_000_000,
        max_assign_bytes: 512 * 1024 * 1024,
        max_concurrent_assign: 4,
        max_field_chars: crate::assign::DEFAULT_MAX_FIELD_CHARS,
    };
}

impl Default for Limits {
    fn default() -> Limits {
        Limits::DEFAULT
    }
}

/// Shared by every handler. The registry is filled in once the index is built, so the
/// server can answer `/healthz` (and say "not ready") while it loads.
#[derive(Debug, Clone)]
pub struct AppState {
    registry: Arc<OnceLock<Arc<Registry>>>,
    pub limits: Limits,
    /// Bearer tokens that may write; empty means writes are open.
    tokens: Arc<Vec<String>>,
    assign_permits: Arc<tokio::sync::Semaphore>,
}

impl AppState {
    /// A state whose registry is set later with [`AppState::set_registry`].
    pub fn loading(limits: Limits) -> AppState {
        AppState {
            registry: Arc::new(OnceLock::new()),
            limits,
            tokens: Arc::new(Vec::new()),
            assign_permits: Arc::new(tokio::sync::Semaphore::new(limits.max_concurrent_assign)),
        }
    }

    /// Writes then need `Authorization: Bearer <one of tokens>`.
    pub fn with_tokens(mut self, tokens: Vec<String>) -> AppState {
        self.tokens = Arc::new(
            tokens
                .into_iter()
                .filter(|token| !token.is_empty())
                .collect(),
        );
        self
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
}

/// The whole API.
pub fn app(state: AppState) -> Router {
    build(state, true)
}

/// The API without its write endpoints (`serve --read-only`).
pub fn read_only_app(state: AppState) -> Router {
    build(state, false)
}

fn build(state: AppState, with_writes: bool) -> Router {
    let limits = state.limits;
    let writes = Router::new()
        .merge(assign::router())
        .merge(addresses::router())
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            require_token,
        ));
    Router::new()
        .merge(reverse::router())
        .merge(codes::router())
        .merge(zones::router())
        .merge(ops::router())
        .merge(if with_writes { writes } else { Router::new() })
        .fallback(|| async { AppError::NotFound("no such endpoint; see /openapi.json".to_owned()) })
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
        // 5xx are logged where they arise (AppError::Internal); 503 while loading is normal.
        .layer(TraceLayer::new_for_http().on_failure(()))
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
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(str::trim);
    let Some(presented) = presented else {
        return Err(AppError::Unauthorized(
            "writes need an Authorization: Bearer <token> header".to_owned(),
        ));
    };
    // Compare in constant time, so response timing does not leak a token prefix.
    let known = state.tokens.iter().fold(false, |found, token| {
        found
            | bool::from(subtle::ConstantTimeEq::ct_eq(
                token.as_bytes(),
                presented.as_bytes(),
            ))
    });
    if !known {
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

fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, AppError> {
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
        let Query(map) = Query::<HashMap<String, String>>::from_request_parts(parts, state)
            .await
            .map_err(|rejection| AppError::BadRequest {
                detail: rejection.body_text(),
                errors: Vec::new(),
            })?;
        Ok(Params(map))
    }
}

impl Params {
    fn raw(&self, name: &str) -> Option<&str> {
        self.0
            .get(name)
            .map(|value| value.trim())
            .filter(|value| !value.is_empty())
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

    pub fn optional_f64(&self, name: &str, errors: &mut Vec<FieldError>) -> Option<f64> {
        self.raw(name)
            .and_then(|text| parse_finite(name, text, errors))
    }

    pub fn optional_usize(&self, name: &str, errors: &mut Vec<FieldError>) -> Option<usize> {
        let text = self.raw(name)?;
        match text.parse::<usize>() {
            Ok(value) => Some(value),
            Err(_) => {
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
