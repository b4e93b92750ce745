//! `GET /v1/codes/{code}` and `POST /v1/codes`: code → address or cell.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::bodies::{AddressBody, AddressStatusBody, CellBody, LatLonBody, ZoneBody};
use super::geojson::{
    AnswerFormat, CodeFeature, CodeItemFeature, CodesFeatureCollection, GeoJson, wants_geojson,
};
use super::{ApiJson, AppError, AppState, Params, stream};
use crate::code::VmapCode;
use crate::registry::{CodeLookup, Registry, RegistryError};

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/codes/{code}", get(lookup_one))
        .route("/v1/codes", post(lookup_many))
}

/// What a code names.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CodeBody {
    #[schema(example = "111162RWXP69")]
    pub code: String,
    #[schema(example = "11116 2RWX P69")]
    pub pretty: String,
    /// Whether an address holds this code.
    pub registered: bool,
    /// `active` or `retired` when registered.
    pub status: Option<AddressStatusBody>,
    /// The address's coordinate when registered, else the cell centre.
    pub location: LatLonBody,
    /// The full plus code of the cell, recovered through the zone.
    #[schema(example = "7PH72RWX+P69")]
    pub plus_code: String,
    pub cell: CellBody,
    pub zone: ZoneBody,
    pub address: Option<AddressBody>,
    /// The code that replaces a retired address, when there is one.
    pub successor: Option<String>,
    /// RFC 3339.
    pub created_at: Option<String>,
    pub updated_at: Option<String>,
}

fn rfc3339(ms: i64) -> String {
    let time = std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms.max(0) as u64);
    humantime::format_rfc3339_millis(time).to_string()
}

fn code_body(registry: &Registry, lookup: CodeLookup) -> CodeBody {
    match lookup {
        CodeLookup::Registered {
            address,
            zone_id,
            cell,
        } => CodeBody {
            code: address.code.canonical(),
            pretty: address.code.pretty(),
            registered: true,
            status: Some(address.status.into()),
            location: address.location.into(),
            plus_code: address
                .code
                .full_olc(registry.zones().reference_of(zone_id)),
            cell: cell.into(),
            zone: ZoneBody::new(
                registry.zones(),
                zone_id,
                None,
                registry.zone_admin(zone_id, Some(address.location)),
            ),
            address: Some(AddressBody::from(address.parts)),
            successor: address.successor.map(|code| code.canonical()),
            created_at: Some(rfc3339(address.created_at_ms)),
            updated_at: Some(rfc3339(address.updated_at_ms)),
        },
        CodeLookup::Unregistered {
            code,
            zone_id,
            cell,
        } => CodeBody {
            code: code.canonical(),
            pretty: code.pretty(),
            registered: false,
            status: None,
            location: cell.center().into(),
            plus_code: code.full_olc(registry.zones().reference_of(zone_id)),
            cell: cell.into(),
            zone: ZoneBody::new(
                registry.zones(),
                zone_id,
                None,
                registry.zone_admin(zone_id, Some(cell.center())),
            ),
            address: None,
            successor: None,
            created_at: None,
            updated_at: None,
        },
    }
}

/// Where a code is: the registered address, or the decoded cell when none holds it.
#[utoipa::path(
    get,
    path = "/v1/codes/{code}",
    tag = "codes",
    params(
        ("code" = String, Path, description = "A vmap code; any case, spaces, hyphens and '+' are accepted", example = "11116 2RWX P69"),
        ("format" = Option<AnswerFormat>, Query, description = "`geojson` answers a GeoJSON Feature (as does `Accept: application/geo+json`); `json` by default"),
    ),
    responses(
        (status = 200, description = "The address, or the unregistered cell; as GeoJSON, a Point at the address (or the cell's centre) with the answer as its properties", content(
            (CodeBody = "application/json"),
            (CodeFeature = "application/geo+json"),
        )),
        (status = 400, description = "Malformed code; `errors[]` says which character and why", body = super::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No zone has the code's postal code", body = super::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Unknown `format`", body = super::Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable (`database_unavailable`; see `Retry-After`), or the index is still loading", body = super::Problem, content_type = "application/problem+json"),
    )
)]
pub(super) async fn lookup_one(
    State(state): State<AppState>,
    Path(code): Path<String>,
    headers: HeaderMap,
    params: Params,
) -> Result<Response, AppError> {
    let registry = state.registry()?;
    let geojson = wants_geojson(params.text("format"), &headers)?;
    let code = VmapCode::parse(super::patterns::url_text("code", &code)?)
        .map_err(|error| AppError::bad_code("code", &error))?;
    let lookup = registry.lookup(code).await?;
    let body = code_body(registry, lookup);
    Ok(if geojson {
        GeoJson(CodeFeature::new(body)).into_response()
    } else {
        Json(body).into_response()
    })
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CodesRequest {
    /// Up to 10 000 codes (configurable).
    #[schema(example = json!(["111162RWXP69", "11116 2RWX P69-2", "1111I2RWXP69"]))]
    pub codes: Vec<String>,
}

/// Why one code of a batch has no answer.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ItemError {
    /// `invalid_character`, `too_short`, `too_long`, `invalid_suffix`, `unknown_postcode`, …
    #[schema(example = "invalid_character")]
    pub code: String,
    #[schema(
        example = "character 'I' at position 5: the first 5 characters are the postal code and must be digits"
    )]
    pub message: String,
}

/// One result of a batch lookup: `result` or `error`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CodeItem {
    /// The code as sent.
    pub input: String,
    /// Whether the code is well-formed (a known postal code is checked apart).
    pub well_formed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<CodeBody>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ItemError>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CodesResponse {
    /// One item per code, in input order.
    pub results: Vec<CodeItem>,
}

/// Codes looked up and sent together, one chunk of a streamed answer: each is a query.
const CODES_PER_CHUNK: usize = 256;

/// Validate and look up many codes; each answers alone.
///
/// The answer is streamed a chunk of codes at a time (see `stream.rs`). The first chunk is
/// looked up before the answer starts, so a database that is away answers 503; should it
/// fail later, the answer is cut short (the connection closes) rather than end as if
/// complete. As GeoJSON each code is a feature: a Point at the address (or the cell's
/// centre) whose properties are the item; an item without an answer has a null geometry.
#[utoipa::path(
    post,
    path = "/v1/codes",
    tag = "codes",
    params(
        ("format" = Option<AnswerFormat>, Query, description = "`geojson` answers a GeoJSON FeatureCollection, one feature per code (as does `Accept: application/geo+json`); `json` by default"),
    ),
    request_body = CodesRequest,
    responses(
        (status = 200, description = "One item per code, in input order; as GeoJSON, one feature per code (a null geometry for a code without an answer) with the item as properties", content(
            (CodesResponse = "application/json"),
            (CodesFeatureCollection = "application/geo+json"),
        )),
        (status = 400, description = "Malformed JSON", body = super::Problem, content_type = "application/problem+json"),
        (status = 413, description = "Too many codes or body too large", body = super::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Wrong JSON shape, or unknown `format`", body = super::Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not JSON", body = super::Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many batch requests at once (`too_busy`; see `Retry-After`)", body = super::Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable (`database_unavailable`; see `Retry-After`), or the index is still loading", body = super::Problem, content_type = "application/problem+json"),
    )
)]
pub(super) async fn lookup_many(
    State(state): State<AppState>,
    headers: HeaderMap,
    params: Params,
    ApiJson(request): ApiJson<CodesRequest>,
) -> Result<axum::response::Response, AppError> {
    let deadline = tokio::time::Instant::now() + state.limits.request_timeout;
    let registry = state.registry()?.clone();
    let geojson = wants_geojson(params.text("format"), &headers)?;
    let max = state.limits.max_batch_items;
    if request.codes.len() > max {
        return Err(AppError::TooLarge(format!(
            "codes: {} codes sent, at most {max} per request",
            request.codes.len()
        )));
    }
    let permit = state.batch_permit()?;
    let mut codes = request.codes.into_iter();
    let first = lookup_chunk(&registry, codes.by_ref().take(CODES_PER_CHUNK), geojson).await?;
    let shape = stream::StreamShape::geojson_if(geojson);
    let (results, response) = stream::batch_stream(deadline, shape);
    let mut results = results.holding(permit);
    tokio::spawn(async move {
        let mut chunk = first;
        loop {
            if let Err(error) = results.send(&chunk).await {
                tracing::debug!(%error, "batch code lookup answer stopped");
                return;
            }
            if codes.len() == 0 {
                break;
            }
            let next = codes.by_ref().take(CODES_PER_CHUNK);
            chunk = match lookup_chunk(&registry, next, geojson).await {
                Ok(chunk) => chunk,
                Err(error) => {
                    tracing::warn!(%error, "batch code lookup cut short");
                    return;
                }
            };
        }
        if let Err(error) = results.finish().await {
            tracing::debug!(%error, "batch code lookup answer stopped");
        }
    });
    Ok(response)
}

/// Looks up `codes`, each answering alone; returns each item as JSON (as a GeoJSON Feature
/// when `geojson`). Fails only when the database does.
async fn lookup_chunk(
    registry: &Registry,
    codes: impl Iterator<Item = String>,
    geojson: bool,
) -> Result<Vec<Vec<u8>>, AppError> {
    let mut items = Vec::new();
    for input in codes {
        let item = code_item(registry, input).await?;
        let json = if geojson {
            serde_json::to_vec(&CodeItemFeature::new(item))
        } else {
            serde_json::to_vec(&item)
        };
        let json =
            json.map_err(|error| AppError::Internal(format!("batch code lookup answer: {error}")))?;
        items.push(json);
    }
    Ok(items)
}

async fn code_item(registry: &Registry, input: String) -> Result<CodeItem, AppError> {
    let outcome = match VmapCode::parse(&input) {
        Err(error) => Err(ItemError {
            code: error.kind().to_owned(),
            message: error.to_string(),
        }),
        Ok(code) => match registry.lookup(code).await {
            Ok(lookup) => Ok(code_body(registry, lookup)),
            Err(RegistryError::UnknownPostcode(postcode)) => Err(ItemError {
                code: "unknown_postcode".to_owned(),
                message: format!("no zone has postal code {postcode}"),
            }),
            Err(other) => return Err(other.into()),
        },
    };
    Ok(match outcome {
        Ok(body) => CodeItem {
            input,
            well_formed: true,
            result: Some(body),
            error: None,
        },
        Err(error) => CodeItem {
            input,
            well_formed: error.code == "unknown_postcode",
            result: None,
            error: Some(error),
        },
    })
}
