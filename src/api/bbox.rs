//! `GET /v1/addresses?bbox=…`: the active addresses of a box as a GeoJSON FeatureCollection,
//! for maps. A box holding more than `limit` answers the `limit` nearest its centre and says
//! `truncated` (see `registry/area.rs`).

use axum::Router;
use axum::extract::State;
use axum::routing::get;

use super::geojson::{AddressFeature, AddressFeatureCollection, GeoJson};
use super::{AppError, AppState, FieldError, Params};
use crate::point::LatLonBox;

/// Features answered when the request names no `limit`.
pub const DEFAULT_BBOX_LIMIT: usize = 1_000;

pub(super) fn router() -> Router<AppState> {
    Router::new().route("/v1/addresses", get(addresses_in_box))
}

/// The active addresses in a box, as GeoJSON Points.
///
/// At most `limit` features: when the box holds more, the `limit` nearest the box's centre
/// (great-circle distance, ties by the older address) and `truncated: true`.
#[utoipa::path(
    get,
    path = "/v1/addresses",
    tag = "addresses",
    params(
        ("bbox" = String, Query, description = "min_lon,min_lat,max_lon,max_lat in WGS84 degrees, edges included", example = "105.80,21.00,105.90,21.10"),
        ("limit" = Option<usize>, Query, description = "Most features: 1 to the server's `--max-bbox-limit` (5 000 unless configured); 1 000 when absent", minimum = 1, maximum = 5000, example = 1000),
    ),
    responses(
        (status = 200, description = "The addresses as a GeoJSON FeatureCollection", body = AddressFeatureCollection, content_type = "application/geo+json"),
        (status = 400, description = "A query parameter given more than once", body = super::Problem, content_type = "application/problem+json"),
        (status = 422, description = "A bad `bbox` (`not_four_numbers`, `out_of_range`, `inverted`) or `limit` (`not_an_integer`, `out_of_range`); `errors[]` names each", body = super::Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable (`database_unavailable`; see `Retry-After`), or the index is still loading", body = super::Problem, content_type = "application/problem+json"),
    )
)]
pub(super) async fn addresses_in_box(
    State(state): State<AppState>,
    params: Params,
) -> Result<GeoJson<AddressFeatureCollection>, AppError> {
    let registry = state.registry()?;
    let mut errors = Vec::new();
    let max = state.limits.max_bbox_limit;
    let limit = params
        .optional_usize("limit", &mut errors)
        .unwrap_or(DEFAULT_BBOX_LIMIT.min(max));
    if !(1..=max).contains(&limit) {
        errors.push(FieldError::new(
            "limit",
            "out_of_range",
            format!("limit must be between 1 and {max}, got {limit}"),
        ));
    }
    let bbox = match params.text("bbox") {
        None => {
            errors.push(FieldError::new("bbox", "missing", "bbox is required"));
            None
        }
        Some(text) => match text.parse::<LatLonBox>() {
            Ok(bbox) => Some(bbox),
            Err(error) => {
                errors.push(FieldError::new("bbox", error.code(), error.to_string()));
                None
            }
        },
    };
    let bbox = match bbox {
        Some(bbox) if errors.is_empty() => bbox,
        _ => return Err(AppError::invalid_fields(errors)),
    };
    let answer = registry.addresses_in_box(bbox, limit).await?;
    let zones = registry.zones();
    let features = answer
        .addresses
        .into_iter()
        .map(|address| AddressFeature::new(zones, address))
        .collect();
    Ok(GeoJson(AddressFeatureCollection::new(
        features,
        answer.truncated,
        limit,
    )))
}
