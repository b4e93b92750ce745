//! `GET /v1/reverse` and `POST /v1/reverse`: coordinate → nearest codes.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;

use super::bodies::{LatLonBody, NearbyAddressBody, ZoneBody, optional_display_string};
use super::geojson::{AnswerFormat, GeoJson, ReverseFeatureCollection, wants_geojson};
use super::{AppError, AppState, FieldError, Params};
use crate::code::VmapCode;
use crate::point::LatLon;
use crate::registry::{self, Registry, ReverseAnswer, ReverseQuery};

pub(super) fn router() -> Router<AppState> {
    Router::new().route(
        "/v1/reverse",
        get(reverse_one).post(super::reverse_batch::reverse_many),
    )
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
pub(super) fn reverse_query(
    limit: usize,
    radius_m: f64,
    errors: &mut Vec<FieldError>,
) -> ReverseQuery {
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

/// `POST /v1/reverse` as JSON (a schema; the answer is streamed by `reverse_batch`).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct BatchReverseResponse {
    /// One answer per point, in input order.
    pub results: Vec<BatchReverseResult>,
    /// With `zones=by_postcode`: each zone a result names, once, by postcode.
    #[schema(additional_properties)]
    pub zones: Option<std::collections::BTreeMap<String, ZoneBody>>,
}

/// One point's answer in a batch: [`ReverseBody`]'s members, those `fields` names.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct BatchReverseResult {
    /// The client's id for the point, when sent.
    pub id: Option<serde_json::Value>,
    pub query: Option<LatLonBody>,
    /// Nearest active addresses, nearest first, with the members `fields` names.
    pub addresses: Option<Vec<BatchAddress>>,
    /// The zone (`zones=inline`) or its postcode (`zones=by_postcode`); null outside
    /// coverage.
    pub zone: Option<ZoneOrPostcode>,
    #[schema(example = "111162RWXP69")]
    pub grid_code: Option<String>,
}

/// An address near a queried point, with the members `fields` names.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct BatchAddress {
    #[schema(example = "111162RWXP69")]
    pub code: Option<String>,
    #[schema(example = "11116")]
    pub postcode: Option<String>,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    pub distance_m: Option<f64>,
}

/// A zone whole, or its postcode.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[expect(dead_code, reason = "a schema only: `reverse_batch` writes the answer")]
#[serde(untagged)]
pub enum ZoneOrPostcode {
    Zone(Box<ZoneBody>),
    #[schema(example = "11116")]
    Postcode(String),
}

/// 413 naming `points` and `limit` when a batch asks for more than `max` addresses.
pub(super) fn check_answer_count(points: usize, limit: usize, max: usize) -> Result<(), AppError> {
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
