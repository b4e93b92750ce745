//! The one error type at the HTTP edge: every failure leaves as RFC 9457 problem+json.
//!
//! Client errors say what is wrong and, in `errors[]`, which field; server errors say only
//! that something failed, and the detail goes to the log.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::assign::format::ListError;
use crate::code::CodeError;
use crate::registry::RegistryError;

/// A problem with one field of a request.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct FieldError {
    /// The field, as a path into the request: `lat`, `points[3].lon`, `code`.
    #[schema(example = "lat")]
    pub field: String,
    /// Machine-readable reason.
    #[schema(example = "out_of_range")]
    pub code: String,
    #[schema(example = "lat must be a finite number of degrees between -90 and 90")]
    pub message: String,
}

impl FieldError {
    pub fn new(
        field: impl Into<String>,
        code: impl Into<String>,
        message: impl Into<String>,
    ) -> FieldError {
        FieldError {
            field: field.into(),
            code: code.into(),
            message: message.into(),
        }
    }
}

/// How long a client is told to wait (`Retry-After`, seconds) while the database is away:
/// an outage outlasts a request, and retrying sooner only adds load as it ends.
pub const DATABASE_RETRY_AFTER_S: u64 = 5;

/// The problem+json body (RFC 9457).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Problem {
    #[serde(rename = "type")]
    #[schema(example = "https://vmap.dev/problems/invalid-parameter")]
    pub problem_type: String,
    /// Machine-readable: the last part of `type`, in snake case (`invalid_parameter`,
    /// `database_unavailable`, `too_busy`, …).
    #[schema(example = "invalid_parameter")]
    pub code: String,
    #[schema(example = "Invalid parameter")]
    pub title: String,
    #[schema(example = 422)]
    pub status: u16,
    #[schema(example = "lat must be a finite number of degrees between -90 and 90")]
    pub detail: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The request is not well-formed (unparseable JSON, a malformed code).
    #[error("{detail}")]
    BadRequest {
        detail: String,
        errors: Vec<FieldError>,
    },
    /// Well-formed, but values are wrong.
    #[error("{detail}")]
    Invalid {
        detail: String,
        errors: Vec<FieldError>,
    },
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    TooLarge(String),
    /// Too large, because of the values of these fields (413 naming them).
    #[error("{detail}")]
    TooLargeFields {
        detail: String,
        errors: Vec<FieldError>,
    },
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    TooBusy(String),
    /// This client sent more than its rate (`--rate-limit-per-s`); it may send again in
    /// `retry_after_s` seconds.
    #[error("too many requests from this client; retry in {retry_after_s} s")]
    RateLimited { retry_after_s: u64 },
    /// The server drains before it exits (SIGTERM): new work goes to another replica.
    #[error("the server is shutting down; retry on another replica or in a moment")]
    ShuttingDown,
    #[error("the index is still loading")]
    NotReady,
    #[error(
        "this server is read-only (serve --read-only): it answers reads and assign dry runs only"
    )]
    ReadOnly,
    #[error("the request took too long")]
    Timeout,
    /// The database is unreachable, locked or read-only; the reason goes to the log only.
    #[error(
        "the database is unavailable (unreachable, locked or read-only); answers from memory, \
         such as /v1/reverse and /v1/zones, go on; retry later"
    )]
    DatabaseUnavailable(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl AppError {
    /// A 422 naming one field.
    pub fn invalid_field(field: &str, code: &str, message: impl Into<String>) -> AppError {
        let message = message.into();
        AppError::Invalid {
            detail: format!("{field}: {message}"),
            errors: vec![FieldError::new(field, code, message)],
        }
    }

    /// A 422 for several fields at once.
    pub fn invalid_fields(errors: Vec<FieldError>) -> AppError {
        AppError::Invalid {
            detail: joined_detail(&errors),
            errors,
        }
    }

    /// A 400 for a malformed code, with the position and reason.
    pub fn bad_code(field: &str, error: &CodeError) -> AppError {
        AppError::BadRequest {
            detail: format!("malformed code: {error}"),
            errors: vec![FieldError::new(field, error.kind(), error.to_string())],
        }
    }

    fn parts(&self) -> (StatusCode, &'static str, &'static str) {
        match self {
            AppError::BadRequest { .. } => (StatusCode::BAD_REQUEST, "bad-request", "Bad request"),
            AppError::Invalid { .. } => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid-parameter",
                "Invalid parameter",
            ),
            AppError::NotFound(_) => (StatusCode::NOT_FOUND, "not-found", "Not found"),
            AppError::TooLarge(_) | AppError::TooLargeFields { .. } => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "too-large",
                "Request too large",
            ),
            AppError::UnsupportedMediaType(_) => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                "Unsupported media type",
            ),
            AppError::Conflict(_) => (StatusCode::CONFLICT, "conflict", "Conflict"),
            AppError::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthorized", "Unauthorized"),
            AppError::TooBusy(_) => (
                StatusCode::TOO_MANY_REQUESTS,
                "too-busy",
                "Too many requests",
            ),
            AppError::RateLimited { .. } => (
                StatusCode::TOO_MANY_REQUESTS,
                "rate-limited",
                "Too many requests",
            ),
            AppError::ShuttingDown => (
                StatusCode::SERVICE_UNAVAILABLE,
                "shutting-down",
                "Shutting down",
            ),
            AppError::NotReady => (StatusCode::SERVICE_UNAVAILABLE, "not-ready", "Not ready"),
            AppError::ReadOnly => (StatusCode::FORBIDDEN, "read-only", "Read-only server"),
            AppError::Timeout => (
                StatusCode::SERVICE_UNAVAILABLE,
                "timeout",
                "Request timed out",
            ),
            AppError::DatabaseUnavailable(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "database-unavailable",
                "Database unavailable",
            ),
            AppError::Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "Internal server error",
            ),
        }
    }
}

/// `field: message; field: message`.
fn joined_detail(errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(|error| format!("{}: {}", error.field, error.message))
        .collect::<Vec<_>>()
        .join("; ")
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let (status, slug, title) = self.parts();
        let detail = match &self {
            AppError::Internal(detail) => {
                tracing::error!(%detail, "request failed");
                "the server failed to answer; the incident is logged".to_owned()
            }
            // The outage itself is logged once by the registry; each answer only here.
            AppError::DatabaseUnavailable(reason) => {
                tracing::debug!(%reason, "answered 503: the database is unavailable");
                self.to_string()
            }
            other => other.to_string(),
        };
        let retry_after = match self {
            AppError::DatabaseUnavailable(_) => Some(DATABASE_RETRY_AFTER_S),
            AppError::RateLimited { retry_after_s } => Some(retry_after_s),
            _ if status == StatusCode::TOO_MANY_REQUESTS
                || status == StatusCode::SERVICE_UNAVAILABLE =>
            {
                Some(1)
            }
            _ => None,
        };
        let errors = match self {
            AppError::BadRequest { errors, .. }
            | AppError::Invalid { errors, .. }
            | AppError::TooLargeFields { errors, .. } => errors,
            _ => Vec::new(),
        };
        let problem = Problem {
            problem_type: format!("https://vmap.dev/problems/{slug}"),
            code: slug.replace('-', "_"),
            title: title.to_owned(),
            status: status.as_u16(),
            detail,
            errors,
        };
        let mut response = (status, Json(problem)).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if status == StatusCode::UNAUTHORIZED {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"vmap\""),
            );
        }
        if let Some(seconds) = retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

impl From<RegistryError> for AppError {
    fn from(error: RegistryError) -> AppError {
        match error {
            RegistryError::UnknownPostcode(postcode) => {
                AppError::NotFound(format!("no zone has postal code {postcode}"))
            }
            RegistryError::Code(error) => AppError::bad_code("code", &error),
            RegistryError::NotRegistered(code) => {
                AppError::NotFound(format!("no address holds code {code}"))
            }
            RegistryError::SuccessorConflict { .. } => AppError::Conflict(error.to_string()),
            RegistryError::Retired(code) => {
                AppError::Conflict(format!("address {code} is retired and cannot be changed"))
            }
            RegistryError::MoveTooFar { .. } => {
                let message = error.to_string();
                AppError::invalid_fields(vec![
                    FieldError::new("lat", "too_far_from_reference", message.clone()),
                    FieldError::new("lon", "too_far_from_reference", message),
                ])
            }
            RegistryError::StatusChangeNotAllowed => {
                AppError::invalid_field("body", "invalid", error.to_string())
            }
            RegistryError::SelfSuccessor
            | RegistryError::SuccessorRetired(_)
            | RegistryError::SuccessorNotRegistered(_) => {
                AppError::invalid_field("successor", "invalid_successor", error.to_string())
            }
            other if other.is_database_unavailable() => {
                AppError::DatabaseUnavailable(other.to_string())
            }
            other => AppError::Internal(other.to_string()),
        }
    }
}

/// A list refused at its start: 422, one entry in `errors[]` for each field it names.
impl From<ListError> for AppError {
    fn from(refusal: ListError) -> AppError {
        let code = refusal.code();
        AppError::invalid_fields(
            refusal
                .fields()
                .into_iter()
                .map(|(field, message)| FieldError::new(field, code, message))
                .collect(),
        )
    }
}

/// The longest body of a bare error response that is quoted as the problem's detail.
const BARE_DETAIL_BYTES: usize = 4 * 1024;

/// Turns an error answered by axum itself (405 with `Allow`, a path that is not UTF-8, a
/// body over the limit, an unmatched method…) into problem+json, keeping its status and
/// headers; vmap's own errors already are and pass through untouched.
pub(super) async fn problem_for_bare_errors(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let method = request.method().clone();
    let response = next.run(request).await;
    let status = response.status();
    let is_problem = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|value| value.as_bytes().starts_with(b"application/problem+json"));
    if !(status.is_client_error() || status.is_server_error()) || is_problem {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, BARE_DETAIL_BYTES)
        .await
        .map(|bytes| String::from_utf8_lossy(&bytes).trim().to_owned())
        .unwrap_or_default();
    let reason = status.canonical_reason().unwrap_or("Error");
    let detail = match status {
        // axum adds `Allow` to the answer after this layer has seen it.
        StatusCode::METHOD_NOT_ALLOWED => {
            format!("this endpoint does not answer {method}; the Allow header lists what it does")
        }
        _ if status.is_server_error() => {
            tracing::error!(%status, detail = %text, "request failed");
            "the server failed to answer; the incident is logged".to_owned()
        }
        _ if text.is_empty() => reason.to_owned(),
        _ => text,
    };
    let slug = reason.to_ascii_lowercase().replace([' ', '\''], "-");
    let problem = Problem {
        problem_type: format!("https://vmap.dev/problems/{slug}"),
        title: reason.to_owned(),
        status: status.as_u16(),
        code: slug.replace('-', "_"),
        detail,
        errors: Vec::new(),
    };
    let body = serde_json::to_vec(&problem).unwrap_or_default();
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, axum::body::Body::from(body))
}
