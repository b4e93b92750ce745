//! `GET /v1/zones/{postcode}` and `GET /v1/zones?lat&lon`.

use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;

use super::{AppError, AppState, Params};
use crate::code::Postcode;
use crate::point::LatLon;
use crate::registry::ResolvedZone;
use crate::zones::{BoundingBox, WardType, ZoneId, ZoneMethod, ZoneTable};

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/zones/{postcode}", get(zone_by_postcode))
        .route("/v1/zones", get(zone_of_point))
}

/// A coordinate.
#[derive(Debug, Clone, Copy, Serialize, utoipa::ToSchema)]
pub struct LatLonBody {
    #[schema(example = 21.046798)]
    pub lat: f64,
    #[schema(example = 105.848112)]
    pub lon: f64,
}

impl From<LatLon> for LatLonBody {
    fn from(point: LatLon) -> LatLonBody {
        LatLonBody {
            lat: point.lat,
            lon: point.lon,
        }
    }
}

/// A postal zone.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ZoneBody {
    #[schema(value_type = String, example = "11116")]
    pub postcode: Postcode,
    #[schema(example = "00001")]
    pub ward_code: String,
    #[schema(example = "Phường Phúc Xá")]
    pub ward: String,
    pub ward_type: WardType,
    #[schema(example = "Quận Ba Đình")]
    pub district: String,
    #[schema(example = "Thành phố Hà Nội")]
    pub province: String,
    /// The reference point codes of this postal code are recovered through.
    pub reference: LatLonBody,
    pub bbox: BoundingBox,
    /// How the zone of a point was found (absent when looked up by postal code).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<ZoneMethod>,
}

impl ZoneBody {
    pub fn new(zones: &ZoneTable, zone_id: ZoneId, method: Option<ZoneMethod>) -> ZoneBody {
        let zone = zones.get(zone_id);
        ZoneBody {
            postcode: zone.postcode,
            ward_code: zone.ward_code.clone(),
            ward: zone.ward.clone(),
            ward_type: zone.ward_type,
            district: zone.district.clone(),
            province: zone.province.clone(),
            reference: zones.reference_of(zone_id).into(),
            bbox: zone.bbox,
            method,
        }
    }

    pub fn resolved(zones: &ZoneTable, resolved: ResolvedZone) -> ZoneBody {
        ZoneBody::new(zones, resolved.zone_id, Some(resolved.method))
    }
}

/// A zone by its postal code.
#[utoipa::path(
    get,
    path = "/v1/zones/{postcode}",
    tag = "zones",
    params(("postcode" = String, Path, description = "5-digit postal code", example = "11116")),
    responses(
        (status = 200, description = "The zone", body = ZoneBody),
        (status = 400, description = "Not a 5-digit postal code", body = super::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No zone has this postal code", body = super::Problem, content_type = "application/problem+json"),
    )
)]
pub(super) async fn zone_by_postcode(
    State(state): State<AppState>,
    Path(postcode): Path<String>,
) -> Result<Json<ZoneBody>, AppError> {
    let registry = state.registry()?;
    let postcode = Postcode::parse(&postcode).map_err(|error| AppError::BadRequest {
        detail: format!("postcode: {error}"),
        errors: vec![super::FieldError::new(
            "postcode",
            error.kind(),
            error.to_string(),
        )],
    })?;
    let zone_id = registry
        .zones()
        .by_postcode(postcode)
        .ok_or_else(|| AppError::NotFound(format!("no zone has postal code {postcode}")))?;
    Ok(Json(ZoneBody::new(registry.zones(), zone_id, None)))
}

/// The zone a point lies in (DESIGN §3 zone resolution).
#[utoipa::path(
    get,
    path = "/v1/zones",
    tag = "zones",
    params(
        ("lat" = f64, Query, description = "Latitude, WGS84 degrees", example = 21.0468),
        ("lon" = f64, Query, description = "Longitude, WGS84 degrees", example = 105.8481),
    ),
    responses(
        (status = 200, description = "The zone and how it was found", body = ZoneBody),
        (status = 404, description = "The point is outside coverage", body = super::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Missing or invalid lat/lon", body = super::Problem, content_type = "application/problem+json"),
    )
)]
pub(super) async fn zone_of_point(
    State(state): State<AppState>,
    params: Params,
) -> Result<Json<ZoneBody>, AppError> {
    let registry = state.registry()?;
    let point = super::reverse::point_from_params(&params, &mut Vec::new())?;
    let resolved = registry.resolve_zone(point).ok_or_else(|| {
        AppError::NotFound(format!(
            "({}, {}) is outside coverage: no zone within 50 km",
            point.lat, point.lon
        ))
    })?;
    Ok(Json(ZoneBody::resolved(registry.zones(), resolved)))
}
