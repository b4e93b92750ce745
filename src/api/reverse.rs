//! `GET /v1/reverse` and `POST /v1/reverse`: coordinate → nearest codes.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::bodies::{LatLonBody, NearbyAddressBody, ZoneBody, optional_display_string};
use super::geojson::{
    AnswerFormat, BatchReverseFeature, BatchReverseFeatureCollection, GeoJson,
    ReverseFeatureCollection, wants_geojson,
};
use super::{ApiJson, AppError, AppState, FieldError, Params, stream};
use crate::code::VmapCode;
use crate::point::LatLon;
use crate::registry::{self, Registry, ReverseAnswer, ReverseQuery};

pub(super) fn router() -> Router<AppState> {
    Router::new().route("/v1/reverse", get(reverse_one).post(reverse_many))
}

/// The answer for one point.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ReverseBody {
    /// The client's id for the point (batch requests).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<serde_json::Value>,
    pub query: LatLonBody,
    /// Nearest active addresses, nearest first.
    pub addresses: Vec<NearbyAddressBody>,
    /// The zone of the point; null outside coverage.
    pub zone: Option<ZoneBody>,
    /// The code a new address at exactly this point would get; null outside coverage.
    #[serde(serialize_with = "optional_display_string")]
    #[schema(value_type = Option<String>, example = "111162RWXP69")]
    pub grid_code: Option<VmapCode>,
}

impl ReverseBody {
    fn new(
        registry: &Registry,
        id: Option<serde_json::Value>,
        point: LatLon,
        answer: ReverseAnswer,
    ) -> ReverseBody {
        ReverseBody {
            id,
            query: point.into(),
            addresses: answer.addresses.into_iter().map(Into::into).collect(),
            zone: answer
                .zone
                .map(|zone| ZoneBody::resolved(registry.zones(), zone, answer.admin)),
            grid_code: answer.grid_code,
        }
    }
}

/// Reads `lat` and `lon`; every problem is reported at once.
pub(super) fn point_from_params(
    params: &Params,
    errors: &mut Vec<FieldError>,
) -> Result<LatLon, AppError> {
    let lat = params.required_f64("lat", errors);
    let lon = params.required_f64("lon", errors);
    let point = match (lat, lon) {
        (Some(lat), Some(lon)) => match LatLon::new(lat, lon) {
            Ok(point) => Some(point),
            Err(error) => {
                errors.push(FieldError::new(
                    error.field(),
                    "out_of_range",
                    error.to_string(),
                ));
                None
            }
        },
        _ => None,
    };
    match point {
        Some(point) if errors.is_empty() => Ok(point),
        _ => Err(AppError::invalid_fields(std::mem::take(errors))),
    }
}

/// The validated limit and radius; each one out of range is reported in `errors` (and the
/// defaults stand in, so that every other problem is reported too).
fn reverse_query(limit: usize, radius_m: f64, errors: &mut Vec<FieldError>) -> ReverseQuery {
    ReverseQuery::new(limit, radius_m).unwrap_or_else(|problems| {
        errors.extend(
            problems.iter().map(|problem| {
                FieldError::new(problem.field(), "out_of_range", problem.to_string())
            }),
        );
        ReverseQuery::default()
    })
}

/// Nearest registered addresses to a point.
#[utoipa::path(
    get,
    path = "/v1/reverse",
    tag = "reverse",
    params(
        ("lat" = f64, Query, description = "Latitude, WGS84 degrees", minimum = -90.0, maximum = 90.0, example = 21.0468),
        ("lon" = f64, Query, description = "Longitude, WGS84 degrees", minimum = -180.0, maximum = 180.0, example = 105.8481),
        ("limit" = Option<usize>, Query, description = "How many addresses (1–100, default 1)", minimum = 1, maximum = 100, example = 3),
        ("radius_m" = Option<f64>, Query, description = "Search radius in metres (0–50 000, default 1 000)", minimum = 0.0, maximum = 50000.0, example = 500),
        ("format" = Option<AnswerFormat>, Query, description = "`geojson` answers a GeoJSON FeatureCollection (as does `Accept: application/geo+json`); `json` by default"),
    ),
    responses(
        (status = 200, description = "Nearest addresses, zone and grid code; as GeoJSON, the addresses are the features and the rest foreign members", content(
            (ReverseBody = "application/json"),
            (ReverseFeatureCollection = "application/geo+json"),
        )),
        (status = 400, description = "A query parameter given more than once", body = super::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Missing or invalid parameter", body = super::Problem, content_type = "application/problem+json"),
    )
)]
pub(super) async fn reverse_one(
    State(state): State<AppState>,
    headers: HeaderMap,
    params: Params,
) -> Result<Response, AppError> {
    let registry = state.registry()?;
    let geojson = wants_geojson(params.text("format"), &headers)?;
    let mut errors = Vec::new();
    let limit = params
        .optional_usize("limit", &mut errors)
        .unwrap_or(registry::DEFAULT_LIMIT);
    let radius_m = params
        .optional_f64("radius_m", &mut errors)
        .unwrap_or(registry::DEFAULT_RADIUS_M);
    let query = reverse_query(limit, radius_m, &mut errors);
    let point = point_from_params(&params, &mut errors)?;
    let answer = registry.reverse(point, query);
    let body = ReverseBody::new(registry, None, point, answer);
    Ok(if geojson {
        GeoJson(ReverseFeatureCollection::new(body)).into_response()
    } else {
        Json(body).into_response()
    })
}

/// One point of a batch.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchPoint {
    #[schema(example = 21.0468, minimum = -90.0, maximum = 90.0)]
    pub lat: f64,
    #[schema(example = 105.8481, minimum = -180.0, maximum = 180.0)]
    pub lon: f64,
    /// Any JSON value; echoed back.
    #[serde(default)]
    #[schema(value_type = Option<serde_json::Value>, example = "p1")]
    pub id: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchReverseRequest {
    /// Up to 10 000 points (configurable).
    pub points: Vec<BatchPoint>,
    #[schema(example = 1, minimum = 1, maximum = 100)]
    #[serde(default, deserialize_with = "whole_number")]
    pub limit: Option<usize>,
    #[schema(example = 1000.0, minimum = 0.0, maximum = 50000.0)]
    pub radius_m: Option<f64>,
}

/// A whole number, also written with a zero fraction (`9.0`), as JSON Schema's `integer`
/// allows.
pub(super) fn whole_number<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<usize>, D::Error> {
    let number: Option<serde_json::Number> = serde::Deserialize::deserialize(deserializer)?;
    number
        .map(|number| {
            super::whole_number(&number.to_string()).ok_or_else(|| {
                serde::de::Error::custom(format!("expected a whole number, got {number}"))
            })
        })
        .transpose()
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct BatchReverseResponse {
    /// One answer per point, in input order.
    pub results: Vec<ReverseBody>,
}

/// Reverse for many points at once, answered in input order.
///
/// The answer is streamed a chunk of points at a time (see `stream.rs`); each chunk is
/// answered under one read lock, so a write that lands while a large batch is answered
/// may show in its later chunks only. As GeoJSON each point is a feature: a Point at the
/// queried point whose properties are that point's JSON answer.
#[utoipa::path(
    post,
    path = "/v1/reverse",
    tag = "reverse",
    params(
        ("format" = Option<AnswerFormat>, Query, description = "`geojson` answers a GeoJSON FeatureCollection, one feature per point (as does `Accept: application/geo+json`); `json` by default"),
    ),
    request_body(content = BatchReverseRequest, example = json!({"points": [{"lat": 21.0468, "lon": 105.8481, "id": "a"}, {"lat": 10.7769, "lon": 106.7009, "id": "b"}], "limit": 1})),
    responses(
        (status = 200, description = "One answer per point, in input order; as GeoJSON, one feature per point: a Point at the queried point with its answer as properties", content(
            (BatchReverseResponse = "application/json"),
            (BatchReverseFeatureCollection = "application/geo+json"),
        )),
        (status = 400, description = "Malformed JSON", body = super::Problem, content_type = "application/problem+json"),
        (status = 413, description = "Too many points, too many addresses asked for (points × limit; `errors[]` names `points` and `limit`), or body too large", body = super::Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not JSON", body = super::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid point, limit, radius or `format`; `errors[]` names each", body = super::Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many batch requests at once (`too_busy`; see `Retry-After`)", body = super::Problem, content_type = "application/problem+json"),
    )
)]
pub(super) async fn reverse_many(
    State(state): State<AppState>,
    headers: HeaderMap,
    params: Params,
    ApiJson(request): ApiJson<BatchReverseRequest>,
) -> Result<axum::response::Response, AppError> {
    let deadline = tokio::time::Instant::now() + state.limits.request_timeout;
    let registry = state.registry()?.clone();
    let geojson = wants_geojson(params.text("format"), &headers)?;
    let max = state.limits.max_batch_items;
    if request.points.len() > max {
        return Err(AppError::TooLarge(format!(
            "points: {} points sent, at most {max} per request",
            request.points.len()
        )));
    }
    let mut errors = Vec::new();
    let limit = request.limit.unwrap_or(registry::DEFAULT_LIMIT);
    let radius_m = request.radius_m.unwrap_or(registry::DEFAULT_RADIUS_M);
    let query = reverse_query(limit, radius_m, &mut errors);
    let mut points = Vec::with_capacity(request.points.len());
    for (idx, point) in request.points.iter().enumerate() {
        match LatLon::new(point.lat, point.lon) {
            Ok(point) => points.push(point),
            Err(error) => errors.push(FieldError::new(
                format!("points[{idx}].{}", error.field()),
                "out_of_range",
                error.to_string(),
            )),
        }
    }
    if !errors.is_empty() {
        return Err(AppError::invalid_fields(errors));
    }
    check_answer_count(points.len(), query.limit(), state.limits.max_batch_answers)?;
    let permit = state.batch_permit()?;
    let shape = stream::StreamShape::geojson_if(geojson);
    let (mut results, response) = stream::batch_stream(deadline, shape);
    let runtime = tokio::runtime::Handle::current();
    // The answers of each chunk are found and written out as JSON on every core: for
    // thousands of points the JSON is megabytes, and writing it on one thread took longer
    // than the queries.
    tokio::task::spawn_blocking(move || {
        use rayon::prelude::*;
        let _permit = permit;
        let mut ids = request.points.into_iter().map(|point| point.id);
        for chunk in points.chunks(stream::points_per_chunk(query.limit())) {
            let answers = registry.reverse_many(chunk, query);
            let chunk_ids: Vec<_> = ids.by_ref().take(chunk.len()).collect();
            let items = chunk_ids
                .into_par_iter()
                .zip(chunk.par_iter())
                .zip(answers)
                .map(|((id, &point), answer)| {
                    let body = ReverseBody::new(&registry, id, point, answer);
                    if geojson {
                        serde_json::to_vec(&BatchReverseFeature::new(body))
                    } else {
                        serde_json::to_vec(&body)
                    }
                })
                .collect::<Result<Vec<_>, _>>();
            let sent = match items {
                Ok(items) => runtime.block_on(results.send(&items)),
                Err(error) => {
                    tracing::error!(%error, "batch reverse answer could not be written");
                    return;
                }
            };
            if let Err(error) = sent {
                tracing::debug!(%error, "batch reverse answer stopped");
                return;
            }
        }
        if let Err(error) = runtime.block_on(results.finish()) {
            tracing::debug!(%error, "batch reverse answer stopped");
        }
    });
    Ok(response)
}

/// 413 naming `points` and `limit` when a batch asks for more than `max` addresses.
fn check_answer_count(points: usize, limit: usize, max: usize) -> Result<(), AppError> {
    let asked = points.saturating_mul(limit);
    if asked <= max {
        return Ok(());
    }
    let message = format!(
        "{points} points × limit {limit} asks for {asked} addresses, at most {max} per request; \
         send fewer points or a lower limit"
    );
    Err(AppError::TooLargeFields {
        detail: message.clone(),
        errors: vec![
            FieldError::new("points", "too_many_answers", message.clone()),
            FieldError::new("limit", "too_many_answers", message),
        ],
    })
}
