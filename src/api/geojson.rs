//! GeoJSON (RFC 7946) answers: the one place features are built, for every endpoint that
//! answers `application/geo+json`.
//!
//! Decisions: the features are written with serde rather than the `geojson` crate: they are
//! always Points with flat properties, and plain structs carry the OpenAPI schema the
//! fuzzing checks answers against. Coordinates are `[lon, lat]`, as RFC 7946 orders them.

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::bodies::{AddressStatusBody, display_string};
use crate::address::Address;
use crate::zones::ZoneTable;

/// The media type of GeoJSON (RFC 7946 §12).
pub const GEOJSON_MEDIA_TYPE: &str = "application/geo+json";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub enum FeatureCollectionType {
    FeatureCollection,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub enum FeatureType {
    Feature,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub enum PointType {
    Point,
}

/// A GeoJSON Point.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, utoipa::ToSchema)]
pub struct PointGeometry {
    #[serde(rename = "type")]
    pub kind: PointType,
    /// `[lon, lat]`, WGS84 degrees.
    #[schema(example = json!([105.848112, 21.046798]))]
    pub coordinates: [f64; 2],
}

impl PointGeometry {
    pub fn new(lat: f64, lon: f64) -> PointGeometry {
        PointGeometry {
            kind: PointType::Point,
            coordinates: [lon, lat],
        }
    }
}

/// A registered address as the properties of a feature.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AddressProperties {
    #[serde(serialize_with = "display_string")]
    #[schema(value_type = String, example = "111162RWXP69")]
    pub code: crate::code::VmapCode,
    #[serde(serialize_with = "display_string")]
    #[schema(value_type = String, example = "11116")]
    pub postcode: crate::code::Postcode,
    pub status: AddressStatusBody,
    #[schema(example = "12")]
    pub house_number: Option<String>,
    pub alley: Option<String>,
    #[schema(example = "Phố Phúc Xá")]
    pub street: Option<String>,
    pub unit: Option<String>,
    pub address: Option<String>,
    pub client_ref: Option<String>,
    /// The ward of the zone the postal code names (null for a number no zone has).
    #[schema(example = "Phường Ba Đình")]
    pub ward: Option<String>,
    #[schema(example = "Thành phố Hà Nội")]
    pub province: Option<String>,
}

impl AddressProperties {
    pub fn new(zones: &ZoneTable, address: Address) -> AddressProperties {
        let zone = zones
            .by_postcode(address.code.postcode())
            .map(|zone_id| zones.get(zone_id));
        let parts = address.parts;
        AddressProperties {
            code: address.code,
            postcode: address.code.postcode(),
            status: address.status.into(),
            house_number: parts.house_number,
            alley: parts.alley,
            street: parts.street,
            unit: parts.unit,
            address: parts.address,
            client_ref: parts.client_ref,
            ward: zone.map(|zone| zone.ward.clone()),
            province: zone.map(|zone| zone.province.clone()),
        }
    }
}

/// A registered address as a Point feature.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AddressFeature {
    #[serde(rename = "type")]
    pub kind: FeatureType,
    pub geometry: PointGeometry,
    pub properties: AddressProperties,
}

impl AddressFeature {
    pub fn new(zones: &ZoneTable, address: Address) -> AddressFeature {
        AddressFeature {
            kind: FeatureType::Feature,
            geometry: PointGeometry::new(address.location.lat, address.location.lon),
            properties: AddressProperties::new(zones, address),
        }
    }
}

/// The addresses of a box, nearest its centre first.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AddressFeatureCollection {
    #[serde(rename = "type")]
    pub kind: FeatureCollectionType,
    pub features: Vec<AddressFeature>,
    /// More active addresses lie in the box than were answered (the answer then holds the
    /// `limit` nearest the box's centre).
    pub truncated: bool,
    /// The most features the answer could hold.
    #[schema(example = 1000)]
    pub limit: usize,
}

impl AddressFeatureCollection {
    pub fn new(features: Vec<AddressFeature>, truncated: bool, limit: usize) -> Self {
        AddressFeatureCollection {
            kind: FeatureCollectionType::FeatureCollection,
            features,
            truncated,
            limit,
        }
    }
}

/// A body serialized as JSON with the GeoJSON media type.
#[derive(Debug)]
pub struct GeoJson<T>(pub T);

impl<T: Serialize> IntoResponse for GeoJson<T> {
    fn into_response(self) -> Response {
        let mut response = axum::Json(self.0).into_response();
        if response.status().is_success() {
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(GEOJSON_MEDIA_TYPE),
            );
        }
        response
    }
}

/// Whether the client asked for GeoJSON: `?format=geojson` (`?format=json` for plain JSON),
/// else an `Accept` header naming `application/geo+json`.
pub fn wants_geojson(
    format: Option<&str>,
    headers: &axum::http::HeaderMap,
) -> Result<bool, super::AppError> {
    let format = format.map(|text| match text {
        "json" => Ok(AnswerFormat::Json),
        "geojson" => Ok(AnswerFormat::Geojson),
        other => Err(super::AppError::invalid_fields(vec![
            super::FieldError::new(
                "format",
                "invalid_value",
                format!("format must be json or geojson, got {other:?}"),
            ),
        ])),
    });
    match format.transpose()? {
        Some(format) => Ok(format == AnswerFormat::Geojson),
        None => Ok(accepted_media_types(headers)
            .any(|media| media.eq_ignore_ascii_case(GEOJSON_MEDIA_TYPE))),
    }
}

/// The media types `Accept` lists, in order, without their parameters (`;q=…`).
pub fn accepted_media_types(headers: &axum::http::HeaderMap) -> impl Iterator<Item = &str> {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .filter_map(|media| media.split(';').next().map(str::trim))
}

/// `json` (the default) or `geojson`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AnswerFormat {
    Json,
    Geojson,
}

/// An address near the queried point as a Point feature.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct NearbyFeature {
    #[serde(rename = "type")]
    pub kind: FeatureType,
    pub geometry: PointGeometry,
    pub properties: super::bodies::NearbyAddressBody,
}

/// `GET /v1/reverse` as GeoJSON: the nearest addresses as features, nearest first; the
/// answer's other fields are foreign members.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ReverseFeatureCollection {
    #[serde(rename = "type")]
    pub kind: FeatureCollectionType,
    pub features: Vec<NearbyFeature>,
    pub query: super::bodies::LatLonBody,
    /// The zone of the point; null outside coverage.
    pub zone: Option<super::bodies::ZoneBody>,
    /// The code a new address at exactly this point would get; null outside coverage.
    #[schema(example = "111162RWXP69")]
    pub grid_code: Option<String>,
}

impl ReverseFeatureCollection {
    pub fn new(body: super::reverse::ReverseBody) -> ReverseFeatureCollection {
        ReverseFeatureCollection {
            kind: FeatureCollectionType::FeatureCollection,
            features: body
                .addresses
                .into_iter()
                .map(|address| NearbyFeature {
                    kind: FeatureType::Feature,
                    geometry: PointGeometry::new(address.lat, address.lon),
                    properties: address,
                })
                .collect(),
            query: body.query,
            zone: body.zone,
            grid_code: body.grid_code.map(|code| code.canonical()),
        }
    }
}

/// `GET /v1/codes/{code}` as GeoJSON: a Point at the address (or the unregistered cell's
/// centre) with the answer as its properties.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CodeFeature {
    #[serde(rename = "type")]
    pub kind: FeatureType,
    pub geometry: PointGeometry,
    pub properties: super::codes::CodeBody,
}

impl CodeFeature {
    pub fn new(body: super::codes::CodeBody) -> CodeFeature {
        CodeFeature {
            kind: FeatureType::Feature,
            geometry: PointGeometry::new(body.location.lat, body.location.lon),
            properties: body,
        }
    }
}

/// One point of `POST /v1/reverse` as a feature: a Point at the queried point (not at an
/// address: a point may have none nearby) with the point's whole JSON answer (`id`,
/// `query`, `addresses`, `zone`, `grid_code`) as its properties.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct BatchReverseFeature {
    #[serde(rename = "type")]
    pub kind: FeatureType,
    pub geometry: PointGeometry,
    pub properties: super::reverse::BatchReverseResult,
}

/// `POST /v1/reverse` as GeoJSON: one feature per point, in input order.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct BatchReverseFeatureCollection {
    #[serde(rename = "type")]
    pub kind: FeatureCollectionType,
    pub features: Vec<BatchReverseFeature>,
    /// With `zones=by_postcode`: each zone a feature names, once, by postcode.
    #[schema(additional_properties)]
    pub zones: Option<std::collections::BTreeMap<String, super::bodies::ZoneBody>>,
}

/// One code of `POST /v1/codes` as a feature: a Point at the address (or the unregistered
/// cell's centre) with the item's JSON as its properties; a code with no answer (malformed,
/// or an unknown postal code) has a null geometry and its `error` in the properties.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CodeItemFeature {
    #[serde(rename = "type")]
    pub kind: FeatureType,
    pub geometry: Option<PointGeometry>,
    pub properties: super::codes::CodeItem,
}

impl CodeItemFeature {
    pub fn new(item: super::codes::CodeItem) -> CodeItemFeature {
        CodeItemFeature {
            kind: FeatureType::Feature,
            geometry: item
                .result
                .as_ref()
                .map(|body| PointGeometry::new(body.location.lat, body.location.lon)),
            properties: item,
        }
    }
}

/// `POST /v1/codes` as GeoJSON: one feature per code, in input order.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CodesFeatureCollection {
    #[serde(rename = "type")]
    pub kind: FeatureCollectionType,
    pub features: Vec<CodeItemFeature>,
}
