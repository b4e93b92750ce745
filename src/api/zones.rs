//! `GET /v1/zones/{postcode}` and `GET /v1/zones?lat&lon`.

use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};

use super::bodies::ZoneBody;
use super::{AppError, AppState, Params};
use crate::code::{PostalScheme, Postcode};

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/zones/{postcode}", get(zone_by_postcode))
        .route("/v1/zones", get(zone_of_point))
}

/// A zone by its postal code, of either table.
#[utoipa::path(
    get,
    path = "/v1/zones/{postcode}",
    tag = "zones",
    params(
        ("postcode" = String, Path, description = "5-digit postal code of either table", example = "11116"),
        ("table" = Option<super::admin::PostalSchemeBody>, Query, description = "Read the number in this table only (default: the 2025 table first, then the legacy one, as decoding does)"),
    ),
    responses(
        (status = 200, description = "The zone; `table` says which table the number was read in, `number` what it names in both", body = ZoneBody),
        (status = 400, description = "Not a 5-digit postal code, or a query parameter given more than once", body = super::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No zone has this postal code", body = super::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Unknown table", body = super::Problem, content_type = "application/problem+json"),
    )
)]
pub(super) async fn zone_by_postcode(
    State(state): State<AppState>,
    Path(postcode): Path<String>,
    params: Params,
) -> Result<Json<ZoneBody>, AppError> {
    let registry = state.registry()?;
    let postcode =
        Postcode::parse(super::patterns::url_text("postcode", &postcode)?).map_err(|error| {
            AppError::BadRequest {
                detail: format!("postcode: {error}"),
                errors: vec![super::FieldError::new(
                    "postcode",
                    error.kind(),
                    error.to_string(),
                )],
            }
        })?;
    let zones = registry.zones();
    let zone_id = match params.text("table") {
        None => zones.by_postcode(postcode),
        Some(text) => match PostalScheme::parse(text) {
            Some(scheme) => zones.by_postcode_in(postcode, scheme),
            None => {
                return Err(AppError::invalid_fields(vec![super::FieldError::new(
                    "table",
                    "invalid_value",
                    format!("table must be 2025 or legacy, got {text:?}"),
                )]));
            }
        },
    }
    .ok_or_else(|| AppError::NotFound(format!("no zone has postal code {postcode}")))?;
    let mut body = ZoneBody::new(zones, zone_id, None, registry.zone_admin(zone_id, None));
    body.number = zones
        .map_2025()
        .map(|map| map.admin().number_relation(postcode).into());
    Ok(Json(body))
}

/// The zone a new code at a point would be minted in: with the 2025 scheme the ward whose
/// polygon holds it (else the nearest boundary within 2 km); with the legacy scheme the
/// majority zone of the nearest registered addresses, else by bounding box, else the
/// nearest reference point within 50 km. Both maps are in `admin_2025` and `legacy`.
#[utoipa::path(
    get,
    path = "/v1/zones",
    tag = "zones",
    params(
        ("lat" = f64, Query, description = "Latitude, WGS84 degrees", minimum = -90.0, maximum = 90.0, example = 21.0468),
        ("lon" = f64, Query, description = "Longitude, WGS84 degrees", minimum = -180.0, maximum = 180.0, example = 105.8481),
    ),
    responses(
        (status = 200, description = "The zone and how it was found", body = ZoneBody),
        (status = 404, description = "The point is outside coverage", body = super::Problem, content_type = "application/problem+json"),
        (status = 400, description = "A query parameter given more than once", body = super::Problem, content_type = "application/problem+json"),
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
            "({}, {}) is outside coverage: {}",
            point.lat,
            point.lon,
            crate::zones::outside_coverage_rule(registry.postal_scheme())
        ))
    })?;
    let admin = registry.zone_admin(resolved.zone_id, Some(point));
    Ok(Json(ZoneBody::resolved(registry.zones(), resolved, admin)))
}
