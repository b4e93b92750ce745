//! The two administrative maps on the wire: the bodies every zone answer carries
//! (`admin_2025`, `legacy`), and `GET /v1/admin/provinces`, `GET /v1/admin/wards`,
//! `GET /v1/admin/wards/{ward_code}` (a 2025 ward's boundary as GeoJSON).
//!
//! Decisions: units are shaped as DESIGN §9's parse answer (`{"code","name","type"}`), so a
//! client reads one shape whether a unit came from text or from a point. Ward boundaries
//! are served for 2025 wards only: the legacy map has no polygons in vmap's data.

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;

use super::bodies::BoundingBoxBody;
use super::{AppError, AppState, FieldError, Params};
use crate::admin::{AdminMaps, LegacyWardId, Unit, UnitType, WardId};
use crate::code::PostalScheme;
use crate::zones::{Admin2025View, LegacyMethod, LegacyView, Map2025, Ward2025Method};

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/admin/provinces", get(provinces))
        .route("/v1/admin/wards", get(wards))
        .route("/v1/admin/wards/{ward_code}", get(ward_boundary))
}

/// An administrative unit: `{"code": "00004", "name": "Phường Ba Đình", "type": "phuong"}`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = AdminUnit)]
pub struct AdminUnitBody {
    #[schema(example = "00004")]
    pub code: String,
    #[schema(example = "Phường Ba Đình")]
    pub name: String,
    #[serde(rename = "type")]
    pub unit_type: UnitTypeBody,
}

impl From<Unit<'_>> for AdminUnitBody {
    fn from(unit: Unit<'_>) -> AdminUnitBody {
        AdminUnitBody {
            code: unit.code.to_owned(),
            name: unit.name.to_owned(),
            unit_type: unit.unit_type.into(),
        }
    }
}

/// The kind of an administrative unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = UnitType)]
pub enum UnitTypeBody {
    Tinh,
    ThanhPho,
    Quan,
    Huyen,
    ThiXa,
    Phuong,
    Xa,
    ThiTran,
    DacKhu,
}

impl From<UnitType> for UnitTypeBody {
    fn from(unit_type: UnitType) -> UnitTypeBody {
        match unit_type {
            UnitType::Tinh => UnitTypeBody::Tinh,
            UnitType::ThanhPho => UnitTypeBody::ThanhPho,
            UnitType::Quan => UnitTypeBody::Quan,
            UnitType::Huyen => UnitTypeBody::Huyen,
            UnitType::ThiXa => UnitTypeBody::ThiXa,
            UnitType::Phuong => UnitTypeBody::Phuong,
            UnitType::Xa => UnitTypeBody::Xa,
            UnitType::ThiTran => UnitTypeBody::ThiTran,
            UnitType::DacKhu => UnitTypeBody::DacKhu,
        }
    }
}

/// A postal table: `legacy` (Quyết định 2475, 2017) or `2025` (Quyết định 2334).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(as = PostalScheme)]
pub enum PostalSchemeBody {
    #[serde(rename = "legacy")]
    Legacy,
    #[serde(rename = "2025")]
    Y2025,
}

impl From<PostalScheme> for PostalSchemeBody {
    fn from(scheme: PostalScheme) -> PostalSchemeBody {
        match scheme {
            PostalScheme::Legacy => PostalSchemeBody::Legacy,
            PostalScheme::Y2025 => PostalSchemeBody::Y2025,
        }
    }
}

/// How the 2025 ward of a zone was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = Ward2025Method)]
pub enum Ward2025MethodBody {
    /// The zone is this 2025 ward.
    Zone,
    /// The ward's polygon holds the point.
    Polygon,
    /// In no polygon; this ward's boundary is the nearest, within 2 km.
    NearestBoundary,
    /// The legacy ward's default 2025 target (the point is in no ward).
    Conversion,
}

/// How the legacy ward of a zone was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = LegacyMethod)]
pub enum LegacyMethodBody {
    /// The zone is this legacy ward.
    Zone,
    /// Most of the nearest registered addresses carry legacy codes of this ward.
    Addresses,
    /// Of the legacy wards that went into the 2025 ward, the nearest centroid.
    NearestCentroid,
}

/// A zone on the 2025 map (34 provinces, no districts).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = Admin2025)]
pub struct Admin2025Body {
    pub province: AdminUnitBody,
    pub ward: AdminUnitBody,
    /// The ward's Quyết định 2334 postal code.
    #[schema(example = "10000")]
    pub postcode: Option<String>,
    pub method: Ward2025MethodBody,
}

impl Admin2025Body {
    pub fn new(maps: &AdminMaps, view: Admin2025View) -> Admin2025Body {
        let ward = maps.ward(view.ward);
        Admin2025Body {
            province: maps.province(ward.province).unit().into(),
            ward: ward.unit().into(),
            postcode: ward.postcode.map(|postcode| postcode.to_string()),
            method: match view.method {
                Ward2025Method::Zone => Ward2025MethodBody::Zone,
                Ward2025Method::Polygon => Ward2025MethodBody::Polygon,
                Ward2025Method::NearestBoundary => Ward2025MethodBody::NearestBoundary,
                Ward2025Method::Conversion => Ward2025MethodBody::Conversion,
            },
        }
    }
}

/// A zone on the legacy map (63 provinces, districts, until 30 June 2025).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = LegacyAdmin)]
pub struct LegacyAdminBody {
    pub province: AdminUnitBody,
    pub district: AdminUnitBody,
    pub ward: AdminUnitBody,
    /// The ward's Quyết định 2475 postal code (null for the few wards without one).
    #[schema(example = "11116")]
    pub postcode: Option<String>,
    pub method: LegacyMethodBody,
}

impl LegacyAdminBody {
    pub fn new(maps: &AdminMaps, view: LegacyView) -> LegacyAdminBody {
        let mut body = LegacyAdminBody::of_ward(maps, view.ward);
        body.method = match view.method {
            LegacyMethod::Zone => LegacyMethodBody::Zone,
            LegacyMethod::Addresses => LegacyMethodBody::Addresses,
            LegacyMethod::NearestCentroid => LegacyMethodBody::NearestCentroid,
        };
        body
    }

    fn of_ward(maps: &AdminMaps, id: LegacyWardId) -> LegacyAdminBody {
        let ward = maps.legacy_ward(id);
        LegacyAdminBody {
            province: maps.legacy_province(ward.province).unit().into(),
            district: maps.legacy_district(ward.district).unit().into(),
            ward: ward.unit().into(),
            postcode: ward.postcode.map(|postcode| postcode.to_string()),
            method: LegacyMethodBody::Zone,
        }
    }
}

fn structure(params: &Params, errors: &mut Vec<FieldError>) -> PostalScheme {
    match params.text("structure") {
        None => PostalScheme::Y2025,
        Some(text) => PostalScheme::parse(text).unwrap_or_else(|| {
            errors.push(FieldError::new(
                "structure",
                "invalid_value",
                format!("structure must be 2025 or legacy, got {text:?}"),
            ));
            PostalScheme::Y2025
        }),
    }
}

fn map_2025(state: &AppState) -> Result<std::sync::Arc<super::Registry>, AppError> {
    let registry = state.registry()?.clone();
    if registry.zones().map_2025().is_none() {
        return Err(AppError::NotFound(
            "this server runs without the 2025 map".to_owned(),
        ));
    }
    Ok(registry)
}

fn maps_of(registry: &super::Registry) -> &Map2025 {
    registry
        .zones()
        .map_2025()
        .expect("checked by map_2025 before")
}

/// A province of either map.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = AdminProvince)]
pub struct ProvinceBody {
    #[serde(flatten)]
    pub unit: AdminUnitBody,
    /// 2025 provinces: the two-digit postal prefixes of Quyết định 2334.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub postcode_prefixes: Option<Vec<String>>,
    /// Legacy provinces: the 2025 province(s) they went into; 2025 provinces: the legacy
    /// provinces merged into them.
    pub linked: Vec<AdminUnitBody>,
}

/// The provinces of one map.
#[utoipa::path(
    get,
    path = "/v1/admin/provinces",
    tag = "admin",
    params(("structure" = Option<PostalSchemeBody>, Query, description = "Which map: 2025 (default) or legacy")),
    responses(
        (status = 200, description = "The provinces, in code order", body = [ProvinceBody]),
        (status = 400, description = "A query parameter given more than once", body = super::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Unknown structure", body = super::Problem, content_type = "application/problem+json"),
    )
)]
pub(super) async fn provinces(
    State(state): State<AppState>,
    params: Params,
) -> Result<Json<Vec<ProvinceBody>>, AppError> {
    let mut errors = Vec::new();
    let scheme = structure(&params, &mut errors);
    if !errors.is_empty() {
        return Err(AppError::invalid_fields(errors));
    }
    let registry = map_2025(&state)?;
    let maps = maps_of(&registry).admin();
    let mut answer: Vec<ProvinceBody> = match scheme {
        PostalScheme::Y2025 => maps
            .provinces()
            .iter()
            .map(|province| ProvinceBody {
                unit: province.unit().into(),
                postcode_prefixes: Some(province.postcode_prefixes.clone()),
                linked: province
                    .legacy_provinces
                    .iter()
                    .map(|&id| maps.legacy_province(id).unit().into())
                    .collect(),
            })
            .collect(),
        PostalScheme::Legacy => maps
            .legacy_provinces()
            .iter()
            .map(|province| ProvinceBody {
                unit: province.unit().into(),
                postcode_prefixes: None,
                linked: province
                    .provinces_2025
                    .iter()
                    .map(|&id| maps.province(id).unit().into())
                    .collect(),
            })
            .collect(),
    };
    answer.sort_by(|a, b| a.unit.code.cmp(&b.unit.code));
    Ok(Json(answer))
}

/// A ward of either map, with its links into the other.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = AdminWard)]
pub struct WardBody {
    #[serde(flatten)]
    pub unit: AdminUnitBody,
    #[schema(example = "10000")]
    pub postcode: Option<String>,
    /// Legacy wards only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub district: Option<AdminUnitBody>,
    /// 2025 wards only: the polygon's bounding box.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bbox: Option<BoundingBoxBody>,
    /// 2025 wards: the legacy wards they absorbed (wholly or in part).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub legacy_wards: Option<Vec<LinkedWardBody>>,
    /// Legacy wards: the 2025 wards they went into, the default target first.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub targets_2025: Option<Vec<LinkedWardBody>>,
}

/// A ward of the other map, with its postal code.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = LinkedWard)]
pub struct LinkedWardBody {
    #[serde(flatten)]
    pub unit: AdminUnitBody,
    pub postcode: Option<String>,
}

/// The wards of one province of one map.
#[utoipa::path(
    get,
    path = "/v1/admin/wards",
    tag = "admin",
    params(
        ("province" = String, Query, description = "Province code (2 digits) of the chosen map", example = "01"),
        ("structure" = Option<PostalSchemeBody>, Query, description = "Which map: 2025 (default) or legacy"),
    ),
    responses(
        (status = 200, description = "The province's wards, in code order", body = [WardBody]),
        (status = 400, description = "A query parameter given more than once", body = super::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No province of this map has this code", body = super::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Missing province or unknown structure", body = super::Problem, content_type = "application/problem+json"),
    )
)]
pub(super) async fn wards(
    State(state): State<AppState>,
    params: Params,
) -> Result<Json<Vec<WardBody>>, AppError> {
    let mut errors = Vec::new();
    let scheme = structure(&params, &mut errors);
    let province = match params.text("province") {
        Some(text) if is_digits(text, 2) => Some(text.to_owned()),
        Some(text) => {
            errors.push(FieldError::new(
                "province",
                "invalid_value",
                format!("province must be a 2-digit province code, got {text:?}"),
            ));
            None
        }
        None => {
            errors.push(FieldError::new(
                "province",
                "missing",
                "province is required",
            ));
            None
        }
    };
    let Some(province) = province.filter(|_| errors.is_empty()) else {
        return Err(AppError::invalid_fields(errors));
    };
    let registry = map_2025(&state)?;
    let map = maps_of(&registry);
    let maps = map.admin();
    let not_found = || AppError::NotFound(format!("no {scheme} province has code {province}"));
    let linked = |id: WardId| {
        let ward = maps.ward(id);
        LinkedWardBody {
            unit: ward.unit().into(),
            postcode: ward.postcode.map(|postcode| postcode.to_string()),
        }
    };
    let mut answer: Vec<WardBody> = match scheme {
        PostalScheme::Y2025 => {
            let id = maps.province_by_code(&province).ok_or_else(not_found)?;
            maps.province(id)
                .wards
                .iter()
                .map(|&id| {
                    let ward = maps.ward(id);
                    WardBody {
                        unit: ward.unit().into(),
                        postcode: ward.postcode.map(|postcode| postcode.to_string()),
                        district: None,
                        bbox: map
                            .boundary_ward(id)
                            .map(|boundary| map.index().ward(boundary).bbox.into()),
                        legacy_wards: Some(
                            ward.sources
                                .iter()
                                .map(|&source| {
                                    let legacy = maps.legacy_ward(source);
                                    LinkedWardBody {
                                        unit: legacy.unit().into(),
                                        postcode: legacy.postcode.map(|p| p.to_string()),
                                    }
                                })
                                .collect(),
                        ),
                        targets_2025: None,
                    }
                })
                .collect()
        }
        PostalScheme::Legacy => {
            let id = maps
                .legacy_province_by_code(&province)
                .ok_or_else(not_found)?;
            maps.legacy_province(id)
                .districts
                .iter()
                .flat_map(|&district| maps.legacy_district(district).wards.iter())
                .map(|&id| {
                    let ward = maps.legacy_ward(id);
                    WardBody {
                        unit: ward.unit().into(),
                        postcode: ward.postcode.map(|postcode| postcode.to_string()),
                        district: Some(maps.legacy_district(ward.district).unit().into()),
                        bbox: None,
                        legacy_wards: None,
                        targets_2025: Some(ward.targets.iter().map(|&id| linked(id)).collect()),
                    }
                })
                .collect()
        }
    };
    answer.sort_by(|a, b| a.unit.code.cmp(&b.unit.code));
    Ok(Json(answer))
}

/// Only `geojson`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(as = BoundaryFormat)]
pub enum FormatParam {
    #[serde(rename = "geojson")]
    Geojson,
}

impl FormatParam {
    fn parse(text: &str) -> Option<FormatParam> {
        (text == "geojson").then_some(FormatParam::Geojson)
    }
}

/// A 2025 ward's boundary as a GeoJSON Feature.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = WardFeature)]
pub struct WardFeatureBody {
    /// Always `Feature`.
    #[serde(rename = "type")]
    #[schema(example = "Feature")]
    pub kind: &'static str,
    pub properties: WardBody,
    pub geometry: MultiPolygonBody,
}

/// A GeoJSON MultiPolygon: parts → rings (exterior first) → `[lon, lat]` positions, each
/// ring closed.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = MultiPolygon)]
pub struct MultiPolygonBody {
    /// Always `MultiPolygon`.
    #[serde(rename = "type")]
    #[schema(example = "MultiPolygon")]
    pub kind: &'static str,
    pub coordinates: Vec<Vec<Vec<Vec<f64>>>>,
}

/// A 2025 ward's boundary (GeoJSON Feature, `application/geo+json`).
#[utoipa::path(
    get,
    path = "/v1/admin/wards/{ward_code}",
    tag = "admin",
    params(
        ("ward_code" = String, Path, description = "5-digit code of a 2025 ward", example = "00004"),
        ("format" = Option<FormatParam>, Query, description = "Only geojson (the default)"),
    ),
    responses(
        (status = 200, description = "The ward and its boundary", body = WardFeatureBody, content_type = "application/geo+json"),
        (status = 400, description = "Not a 5-digit ward code, or a query parameter given more than once", body = super::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No 2025 ward has this code", body = super::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Unknown format", body = super::Problem, content_type = "application/problem+json"),
    )
)]
pub(super) async fn ward_boundary(
    State(state): State<AppState>,
    Path(ward_code): Path<String>,
    params: Params,
) -> Result<Response, AppError> {
    if let Some(format) = params.text("format")
        && FormatParam::parse(format).is_none()
    {
        return Err(AppError::invalid_fields(vec![FieldError::new(
            "format",
            "invalid_value",
            format!("format must be geojson, got {format:?}"),
        )]));
    }
    if !is_digits(&ward_code, 5) {
        return Err(AppError::BadRequest {
            detail: format!("ward_code must be 5 digits, got {ward_code:?}"),
            errors: vec![FieldError::new(
                "ward_code",
                "invalid_value",
                "a ward code is 5 digits",
            )],
        });
    }
    let registry = map_2025(&state)?;
    let map = maps_of(&registry);
    let maps = map.admin();
    let not_found = || AppError::NotFound(format!("no 2025 ward has code {ward_code}"));
    let id = maps.ward_by_code(&ward_code).ok_or_else(not_found)?;
    let boundary = map.boundary_ward(id).ok_or_else(not_found)?;
    let ward = maps.ward(id);
    let coordinates = map
        .index()
        .boundaries()
        .multi_polygon(boundary)
        .0
        .iter()
        .map(|polygon| {
            std::iter::once(polygon.exterior())
                .chain(polygon.interiors())
                .map(|ring| ring.coords().map(|c| vec![c.x, c.y]).collect())
                .collect()
        })
        .collect();
    let feature = WardFeatureBody {
        kind: "Feature",
        properties: WardBody {
            unit: ward.unit().into(),
            postcode: ward.postcode.map(|postcode| postcode.to_string()),
            district: None,
            bbox: Some(map.index().ward(boundary).bbox.into()),
            legacy_wards: None,
            targets_2025: None,
        },
        geometry: MultiPolygonBody {
            kind: "MultiPolygon",
            coordinates,
        },
    };
    Ok((
        [(header::CONTENT_TYPE, "application/geo+json")],
        Json(feature),
    )
        .into_response())
}

fn is_digits(text: &str, n: usize) -> bool {
    text.len() == n && text.bytes().all(|byte| byte.is_ascii_digit())
}
