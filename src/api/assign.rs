//! `POST /v1/assign`: a whole address list in, the same list with codes out, streamed.
//!
//! Decisions:
//! - What can be checked before the answer begins is answered with a status: 413 for a
//!   declared `Content-Length` over `--max-assign-bytes`, or for a body that passes it
//!   within what is read first; 503 while the database is known to be away (not for a dry
//!   run); 422 for a list refused at its start ([`ListPeeker`], the reader's own rules on the
//!   first bytes, read before answering): `encoding` for a UTF-16 list; for CSV,
//!   `missing_column` naming `lat` and/or `lon` when the header (an empty body has none) has
//!   no such column, `reserved_column` or `duplicate_column` naming the column, and
//!   `header_too_large` for a header over `--max-row-bytes`. A header-only CSV that has
//!   `lat` and `lon` answers 200 with the header only.
//! - Once the answer has begun (200), a failure cannot change the status. The list then
//!   ends with one abort record in its own format — `status` `error`, `error_code`
//!   `stream_aborted`, `error_message` saying after how many rows and why — and the
//!   document is closed (the JSON array's `]`), so it still parses and no client takes it
//!   for the whole list. The rows above it are answered; the rest were not processed.
//!   Cutting the connection instead was the old behaviour: a lenient client read a CSV cut
//!   between batches, or an `[]` closed early, as a complete answer.
//! - One code for every cause (the database went away, the body passed its limit mid-way,
//!   the body failed or went silent, a server fault): whatever the cause, the remedy is the
//!   same — send the rows after the answered ones again — and the message says which it was.
//!   A chunked body that passes the limit is read no further: the rows read before it are
//!   answered, and the message says `… after N rows: … larger than B bytes …`.
//! - The answer declares `Trailer: vmap-status` and ends with `vmap-status: complete` or
//!   `aborted`, for clients that read trailers (hyper sends them only to a request with
//!   `TE: trailers`). The last record is the check that needs nothing more: an answer is
//!   complete unless its last record has `error_code` `stream_aborted`.

use std::io::Write;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use futures::StreamExt;
use http_body_util::StreamBody;
use hyper::body::Frame;
use serde::Deserialize;

use super::{AppError, AppState};
use crate::assign::format::{Format, GEOJSON_CONTENT_TYPE, ListPeeker, ReadLimits, WriterOptions};
use crate::assign::{self, AssignSettings};
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
    /// CSV answers: prefix with `'` every cell that starts with `=`, `+`, `-`, `@`, a tab or
    /// a carriage return, so a spreadsheet shows it as text rather than running it as a
    /// formula. Off by default, so the answer gives back every cell as sent.
    #[serde(default)]
    pub csv_safe: Option<String>,
    /// `geojson`: answer as one GeoJSON FeatureCollection, a Feature per row (its point, or
    /// `null` for a row without one), instead of the list's own format; so does
    /// `Accept: application/geo+json`.
    #[serde(default)]
    #[param(pattern = "^geojson$")]
    pub format: Option<String>,
}

/// Whether the answer is GeoJSON: `?format=geojson`, or an `Accept` naming
/// `application/geo+json` (the answer is otherwise in the list's own format, so `format`
/// takes no other value).
fn answers_geojson(format: Option<&str>, headers: &HeaderMap) -> Result<bool, AppError> {
    match format.map(str::trim) {
        None | Some("") => super::geojson::wants_geojson(None, headers),
        Some(text) if text.eq_ignore_ascii_case("geojson") => Ok(true),
        Some(other) => Err(AppError::invalid_field(
            "format",
            "invalid_value",
            format!(
                "format must be geojson (the answer is otherwise in the list's own format), got {other:?}"
            ),
        )),
    }
}

pub(super) fn parse_flag(name: &str, text: Option<&str>) -> Result<bool, AppError> {
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
    sender: tokio::sync::mpsc::Sender<Bytes>,
}

impl Write for ChannelWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.sender
            .blocking_send(Bytes::copy_from_slice(buf))
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
/// `province`, `address` (a row without `lat` and `lon` is found from that text: `existing`
/// with the registered code, else `unmatched`); other columns are carried through (a UTF-16 list, or a CSV header
/// without `lat` or `lon`, with a column the answer adds or two columns for one thing,
/// answers 422). The answer is the same list in the same format and order, each row
/// with `code`, `status` (`created`, `existing`, `unmatched`, `error`), `postcode`,
/// `distance_m`, `error_code`, `error_message`, the 2025 ward's `postcode_2025`, `ward_2025`,
/// `province_2025`, `warning`, and for a text row `match_level`, `confidence`,
/// `matched_label`; it is streamed as rows are decided. With
/// `?format=geojson` (or `Accept: application/geo+json`) it is one GeoJSON
/// FeatureCollection instead: a Feature per row, its point as geometry (`null` for a row
/// without one), the row and those columns as properties. A bad row answers
/// `error` and never stops the others. A list that cannot be finished once the answer has
/// begun ends with one record with `error_code` `stream_aborted` saying after how many rows
/// and why, and with the trailer `vmap-status: aborted` (`complete` otherwise; sent to a
/// request with `TE: trailers`).
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
        (status = 200, description = "The list with codes, row for row, in the request's format; a list cut short ends with a `stream_aborted` record",
            headers(("Trailer" = String, description = "`vmap-status`: the trailer field that ends the answer, `complete` or `aborted` (sent when the request has `TE: trailers`)")),
            content(
                (String = "text/csv", example = "id,lat,lon,house_number,street,code,status,postcode,distance_m,error_code,error_message,postcode_2025,ward_2025,province_2025,warning,match_level,confidence,matched_label\nc-1,21.0285,105.8542,12,Phố Hàng Bạc,110242VH3CM4,created,11024,,,,11024,Phường Hoàn Kiếm,Thành phố Hà Nội,,,,\n"),
                ([Object] = "application/json"),
                (String = "application/x-ndjson"),
                (Object = "application/geo+json"),
            )),
        (status = 401, description = "Missing or wrong bearer token", body = super::Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body larger than the limit", body = super::Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not CSV, JSON or NDJSON", body = super::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid query parameter, or a list refused at its start: UTF-16 (`encoding`), or a CSV header without a `lat` or `lon` column (`missing_column`), with a column the answer adds (`reserved_column`) or two for one thing (`duplicate_column`), or over the row limit (`header_too_large`); `errors[]` names the column, `header` or `body`", body = super::Problem, content_type = "application/problem+json"),
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
    let csv_safe = parse_flag("csv_safe", query.csv_safe.as_deref())?;
    let geojson = answers_geojson(query.format.as_deref(), &headers)?;
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
            return Err(std::io::Error::other(BodyTooLarge { limit: max_bytes }));
        }
        Ok::<_, std::io::Error>(chunk)
    });
    let mut stream = Box::pin(stream);
    let read_ahead = read_ahead(&mut stream, format, limits.read_limits()).await?;
    let stream = futures::stream::iter(read_ahead).chain(stream);
    let input = tokio_util::io::SyncIoBridge::new(tokio_util::io::StreamReader::new(stream));

    let (sender, receiver) = tokio::sync::mpsc::channel::<Bytes>(16);
    let (end_sender, end_receiver) = tokio::sync::oneshot::channel::<Ending>();
    let settings = AssignSettings {
        options: AssignOptions {
            match_radius,
            dry_run,
        },
        max_rows: Some(limits.max_assign_rows),
        max_field_chars: limits.max_field_chars,
        read_limits: limits.read_limits(),
        writer: WriterOptions { csv_safe, geojson },
        ..AssignSettings::default()
    };
    let drain = state.drain();
    let task = tokio::spawn(async move {
        let _permit = permit;
        // On SIGTERM the list stops after the batch being decided, and its answer ends with
        // the abort record (see `drain.rs`).
        assign::run_until(
            registry,
            format,
            input,
            ChannelWriter { sender },
            settings,
            None,
            async move { drain.started().await },
        )
        .await
    });
    // Watches the task and tells the body how the list ended; an error, or even a panic, is
    // an abort (the engine has then written the abort record).
    tokio::spawn(async move {
        let ending = match task.await {
            Ok(Ok((summary, _))) => {
                tracing::info!(
                    rows = summary.rows,
                    created = summary.created,
                    existing = summary.existing,
                    unmatched = summary.unmatched,
                    errors = summary.errors,
                    rows_per_s = summary.rows_per_second() as u64,
                    "assigned a list"
                );
                Ending::Complete
            }
            Ok(Err(error)) => {
                tracing::warn!(%error, "assignment stopped");
                Ending::Aborted
            }
            Err(join_error) => {
                tracing::error!(%join_error, "assignment task failed");
                Ending::Aborted
            }
        };
        let _ = end_sender.send(ending);
    });
    let mut response = answer_body(receiver, end_receiver).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(match geojson {
            true => GEOJSON_CONTENT_TYPE,
            false => format.content_type(),
        }),
    );
    headers.insert(header::TRAILER, HeaderValue::from_static(STATUS_TRAILER));
    Ok(response)
}

/// The trailer field that says how an answer ended: `complete` or `aborted`.
const STATUS_TRAILER: &str = "vmap-status";

/// How the list ended, as the watcher saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ending {
    Complete,
    Aborted,
}

/// The answer: what the list writer writes, then the `vmap-status` trailer once the writer
/// is done (every sender dropped) and the watcher has said how the list ended. The body
/// always ends normally; how the list ended is in its last record and in the trailer.
fn answer_body(
    data: tokio::sync::mpsc::Receiver<Bytes>,
    ending: tokio::sync::oneshot::Receiver<Ending>,
) -> Body {
    let data = tokio_stream::wrappers::ReceiverStream::new(data)
        .map(|bytes| Ok::<_, std::convert::Infallible>(Frame::data(bytes)));
    let trailer = futures::stream::once(async move {
        // A watcher gone without a word did not see the list complete.
        let status = match ending.await {
            Ok(Ending::Complete) => "complete",
            Ok(Ending::Aborted) | Err(_) => "aborted",
        };
        let mut trailers = HeaderMap::new();
        trailers.insert(STATUS_TRAILER, HeaderValue::from_static(status));
        Ok(Frame::trailers(trailers))
    });
    Body::new(StreamBody::new(data.chain(trailer)))
}

/// The body passed `--max-assign-bytes`.
#[derive(Debug, thiserror::Error)]
#[error("the list is larger than {limit} bytes (--max-assign-bytes)")]
struct BodyTooLarge {
    limit: u64,
}

/// Reads the start of the body before the answer begins, and returns what it read.
///
/// Reading before answering is what makes hyper send "100 Continue" to a client that sent
/// `Expect: 100-continue` (curl does for bodies over 1 MiB; it otherwise waits a second
/// before uploading). The parts read are pushed through a [`ListPeeker`] until it judges the
/// list's start: a list it refuses (UTF-16; for CSV, a header without `lat` or `lon`, with a
/// column the answer adds or two for one thing, or over the row limit) is 422, by the
/// reader's own rules. JSON must then start as an array. A body over the limit within what
/// is read is 413.
async fn read_ahead<S>(
    stream: &mut S,
    format: Format,
    limits: ReadLimits,
) -> Result<Vec<std::io::Result<Bytes>>, AppError>
where
    S: futures::Stream<Item = std::io::Result<Bytes>> + Unpin,
{
    let mut chunks = Vec::new();
    let mut peeker = ListPeeker::new(format, limits);
    let verdict = loop {
        match stream.next().await {
            Some(Ok(chunk)) => {
                let verdict = peeker.push(&chunk);
                chunks.push(Ok(chunk));
                if let Some(verdict) = verdict {
                    break verdict;
                }
            }
            Some(Err(error)) => {
                if let Some(too_large) = error
                    .get_ref()
                    .and_then(|inner| inner.downcast_ref::<BodyTooLarge>())
                {
                    return Err(AppError::TooLarge(format!("{too_large}; split it")));
                }
                // Any other fault of the body is the reader's to report, in the answer.
                chunks.push(Err(error));
                return Ok(chunks);
            }
            None => break peeker.finish(),
        }
    };
    verdict?;
    if format == Format::Json {
        let first = chunks.iter().find_map(|chunk| match chunk {
            Ok(bytes) if !bytes.is_empty() => Some(bytes.as_ref()),
            _ => None,
        });
        check_json_start(first.unwrap_or_default())?;
    }
    Ok(chunks)
}

/// A JSON list is an array: a body that opens with anything else (`{`, a NUL, text) is not a
/// list with bad rows but no list at all, and is refused before the answer begins.
fn check_json_start(chunk: &[u8]) -> Result<(), AppError> {
    let text = chunk.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(chunk);
    match text.iter().find(|byte| !byte.is_ascii_whitespace()) {
        None | Some(b'[') => Ok(()),
        Some(_) => Err(AppError::invalid_field(
            "body",
            "not_an_array",
            "a JSON list is an array of rows: [{\"lat\": …, \"lon\": …}, …]",
        )),
    }
}
