//! `POST /v1/assign`: a whole address list in, the same list with codes out, streamed.

use std::io::Write;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use futures::StreamExt;
use serde::Deserialize;

use super::{AppError, AppState};
use crate::assign::{self, AssignSettings, format::Format};
use crate::registry::{AssignOptions, MAX_MATCH_RADIUS_M, MatchRadius};

pub(super) fn router() -> Router<AppState> {
    Router::new().route("/v1/assign", post(assign_list))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct AssignQuery {
    /// Decide codes but register nothing.
    #[serde(default)]
    pub dry_run: Option<String>,
    /// Same-place radius in metres (default 3, at most 50).
    #[serde(default)]
    pub match_radius_m: Option<String>,
}

fn parse_flag(name: &str, text: Option<&str>) -> Result<bool, AppError> {
    match text.map(str::trim) {
        None | Some("") => Ok(false),
        Some("true" | "1" | "yes") => Ok(true),
        Some("false" | "0" | "no") => Ok(false),
        Some(other) => Err(AppError::invalid_field(
            name,
            "not_a_boolean",
            format!("{name} must be true or false, got {other:?}"),
        )),
    }
}

/// Whether `uri` asks for an assign dry run (which writes nothing, so a read-only server
/// serves it). A malformed flag is not one: the handler then answers 422.
pub(super) fn is_dry_run(uri: &axum::http::Uri) -> bool {
    uri.path() == "/v1/assign"
        && Query::<AssignQuery>::try_from_uri(uri).is_ok_and(|Query(query)| {
            matches!(parse_flag("dry_run", query.dry_run.as_deref()), Ok(true))
        })
}

/// Sends what the list writer writes to the response body, chunk by chunk.
struct ChannelWriter {
    sender: tokio::sync::mpsc::Sender<Result<Bytes, std::io::Error>>,
}

impl Write for ChannelWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.sender
            .blocking_send(Ok(Bytes::copy_from_slice(buf)))
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "client went away"))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Assign codes to an address list.
///
/// The body is CSV (`text/csv`; header row; `,` or `;`; UTF-8 with or without BOM), a JSON
/// array (`application/json`) or NDJSON (`application/x-ndjson`) of rows with `lat`, `lon`
/// and optionally `id`, `house_number`, `alley`, `street`, `unit`, `ward`, `district`,
/// `province`, `address`; other columns are carried through. The answer is the same list in
/// the same format and order, each row with `code`, `status` (`created`, `existing`,
/// `error`), `postcode`, `distance_m`, `error_code`, `error_message`; it is streamed as rows
/// are decided. A bad row answers `error` and never stops the others.
#[utoipa::path(
    post,
    path = "/v1/assign",
    tag = "assign",
    params(AssignQuery),
    request_body(
        description = "The list: CSV, JSON array or NDJSON",
        content(
            (String = "text/csv", example = "id,lat,lon,house_number,street\nc-1,21.0285,105.8542,12,Phố Hàng Bạc\n"),
            ([Object] = "application/json", example = json!([{"id": "c-1", "lat": 21.0285, "lon": 105.8542, "house_number": "12", "street": "Phố Hàng Bạc"}])),
            (String = "application/x-ndjson", example = "{\"id\":\"c-1\",\"lat\":21.0285,\"lon\":105.8542}\n"),
        )
    ),
    responses(
        (status = 200, description = "The list with codes, row for row, in the request's format",
            content(
                (String = "text/csv", example = "id,lat,lon,house_number,street,code,status,postcode,distance_m,error_code,error_message\nc-1,21.0285,105.8542,12,Phố Hàng Bạc,110072VJ3CR5,created,11007,,,\n"),
                ([Object] = "application/json"),
                (String = "application/x-ndjson"),
            )),
        (status = 401, description = "Missing or wrong bearer token", body = super::Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body larger than the limit", body = super::Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not CSV, JSON or NDJSON", body = super::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid query parameter", body = super::Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many assignments running at once", body = super::Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable (`database_unavailable`; see `Retry-After`), or the index is still loading", body = super::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub(super) async fn assign_list(
    State(state): State<AppState>,
    Query(query): Query<AssignQuery>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, AppError> {
    let registry = state.registry()?.clone();
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("");
    let format = Format::from_content_type(content_type).ok_or_else(|| {
        AppError::UnsupportedMediaType(format!(
            "send the list as text/csv, application/json or application/x-ndjson, not {content_type:?}"
        ))
    })?;
    let dry_run = parse_flag("dry_run", query.dry_run.as_deref())?;
    let match_radius = match query.match_radius_m.as_deref().map(str::trim) {
        None | Some("") => MatchRadius::default(),
        Some(text) => match text
            .parse::<f64>()
            .ok()
            .and_then(|value| MatchRadius::new(value).ok())
        {
            Some(radius) => radius,
            None => {
                return Err(AppError::invalid_field(
                    "match_radius_m",
                    "out_of_range",
                    format!(
                        "match_radius_m must be a number between 0 and {MAX_MATCH_RADIUS_M}, got {text:?}"
                    ),
                ));
            }
        },
    };
    // While the database is known to be away, say so at once: the streamed answer would
    // otherwise begin 200 and break off at the first batch. A dry run needs no database.
    if !dry_run && let Some(outage) = registry.database_outage() {
        return Err(AppError::DatabaseUnavailable(outage.reason));
    }
    let limits = state.limits;
    let declared_length = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if declared_length.is_some_and(|length| length > limits.max_assign_bytes) {
        return Err(AppError::TooLarge(format!(
            "the list is larger than {} bytes; split it",
            limits.max_assign_bytes
        )));
    }
    let permit = state
        .assign_permits
        .clone()
        .try_acquire_owned()
        .map_err(|_| {
            AppError::TooBusy(format!(
                "{} assignments are running; retry shortly",
                limits.max_concurrent_assign
            ))
        })?;

    // The request body as a blocking reader, cut off at the byte limit.
    let max_bytes = limits.max_assign_bytes;
    let mut seen: u64 = 0;
    let stream = body.into_data_stream().map(move |chunk| {
        let chunk = chunk.map_err(std::io::Error::other)?;
        seen += chunk.len() as u64;
        if seen > max_bytes {
            return Err(std::io::Error::other(format!(
                "the list is larger than {max_bytes} bytes"
            )));
        }
        Ok::<_, std::io::Error>(chunk)
    });
    // Read the first chunk before answering: a client that sent `Expect: 100-continue`
    // (curl does for bodies over 1 MiB) gets its "100 Continue" only while the request body
    // is read before the response starts; otherwise it waits a second before uploading.
    let mut stream = Box::pin(stream);
    let first_chunk = stream.next().await;
    let stream = futures::stream::iter(first_chunk).chain(stream);
    let input = tokio_util::io::SyncIoBridge::new(tokio_util::io::StreamReader::new(stream));

    let (sender, receiver) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(16);
    let error_sender = sender.clone();
    let settings = AssignSettings {
        options: AssignOptions {
            match_radius,
            dry_run,
        },
        max_rows: Some(limits.max_assign_rows),
        max_field_chars: limits.max_field_chars,
        ..AssignSettings::default()
    };
    let task = tokio::spawn(async move {
        let _permit = permit;
        assign::run(
            registry,
            format,
            input,
            ChannelWriter { sender },
            settings,
            None,
        )
        .await
    });
    // Watches the task: an error, or even a panic, must cut the answer short rather than
    // end it as if the list were complete.
    tokio::spawn(async move {
        let failure = match task.await {
            Ok(Ok((summary, _))) => {
                tracing::info!(
                    rows = summary.rows,
                    created = summary.created,
                    existing = summary.existing,
                    errors = summary.errors,
                    rows_per_s = summary.rows_per_second() as u64,
                    "assigned a list"
                );
                return;
            }
            Ok(Err(error)) => error.to_string(),
            Err(join_error) => {
                tracing::error!(%join_error, "assignment task failed");
                "the assignment failed".to_owned()
            }
        };
        tracing::warn!(%failure, "assignment stopped");
        let _ = error_sender.send(Err(std::io::Error::other(failure))).await;
    });
    let body = Body::from_stream(tokio_stream::wrappers::ReceiverStream::new(receiver));
    let mut response = body.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    Ok(response)
}
