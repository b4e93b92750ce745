//! `POST /v1/convert`: addresses in the other administrative map, in input order, streamed
//! a chunk at a time (`stream.rs`).
//!
//! Decisions: an address is a string, or an object with the text and an optional `lat`/
//! `lon`; with a coordinate, the 2025 ward whose polygon holds it (else the nearest
//! boundary within 2 km) decides among a split legacy ward's targets (`method: point`).
//! A bad item (text longer than `--max-parse-chars`, half a coordinate, a coordinate out of
//! range) answers an `error` in its place and never stops the others; only the request's
//! shape and size are refused whole (422, 413). Parsing is CPU work: each chunk is read
//! on the blocking pool, its addresses in parallel (rayon), while the previous chunk is
//! being sent.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::routing::post;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::admin::{AdminUnitBody, LinkedWardBody};
use super::codes::ItemError;
use super::parse::ParseBody;
use super::{ApiJson, AppError, AppState, stream};
use crate::admin::{AdminMaps, UnitId};
use crate::convert::{Conversion, Method, convert};
use crate::point::LatLon;
use crate::registry::Registry;

pub(super) fn router() -> Router<AppState> {
    Router::new().route("/v1/convert", post(convert_many))
}

/// Addresses converted together, one chunk of the streamed answer.
const ADDRESSES_PER_CHUNK: usize = 1_024;

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ConvertRequest)]
pub struct ConvertRequest {
    /// Up to 10 000 addresses (configurable): text, or text with a coordinate.
    #[schema(example = json!([
        "12/3 Hẻm 45 Lê Văn Sỹ, P.13, Q. Phú Nhuận, TP.HCM",
        {"text": "Phường Phúc Xá, Quận Ba Đình, Hà Nội", "lat": 21.0466, "lon": 105.8479}
    ]))]
    pub addresses: Vec<ConvertInput>,
}

/// One address: its text alone, or with where it is.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
#[schema(as = ConvertInput)]
pub enum ConvertInput {
    Text(String),
    Located(LocatedAddress),
}

/// An address with an optional coordinate (WGS84 degrees; both or neither).
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = LocatedAddress)]
pub struct LocatedAddress {
    pub text: String,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
}

/// How the 2025 ward was decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = ConvertMethod)]
pub enum MethodBody {
    /// The text names the 2025 ward.
    Written,
    /// The legacy ward went whole into this 2025 ward.
    Whole,
    /// The legacy ward was split: its default target.
    Default,
    /// The legacy ward was split: the target holding the coordinate.
    Point,
    /// No ward was read.
    NoWard,
}

impl From<Method> for MethodBody {
    fn from(method: Method) -> MethodBody {
        match method {
            Method::Written => MethodBody::Written,
            Method::Whole => MethodBody::Whole,
            Method::Default => MethodBody::Default,
            Method::Point => MethodBody::Point,
            Method::NoWard => MethodBody::NoWard,
        }
    }
}

/// The address in the 2025 form.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = Converted2025)]
pub struct Converted2025Body {
    pub province: Option<AdminUnitBody>,
    pub ward: Option<AdminUnitBody>,
    /// The 2025 ward's Quyết định 2334 postal code.
    #[schema(example = "10000")]
    pub postcode: Option<String>,
    /// House number, alley and street as written, then the 2025 ward and province.
    #[schema(example = "12/3 Hẻm 45 Lê Văn Sỹ, Phường Phú Nhuận, Thành phố Hồ Chí Minh")]
    pub address: Option<String>,
    pub method: MethodBody,
    /// A legacy input: every 2025 ward its legacy ward went into, the chosen one first.
    pub candidates: Vec<LinkedWardBody>,
}

/// A legacy ward the address lies in, with its Quyết định 2475 postal code.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = ConvertedLegacy)]
pub struct ConvertedLegacyBody {
    pub province: AdminUnitBody,
    pub district: AdminUnitBody,
    pub ward: AdminUnitBody,
    #[schema(example = "11116")]
    pub postcode: Option<String>,
}

/// One address converted.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = ConvertItem)]
pub struct ConvertItem {
    /// The text as sent.
    pub input: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parse: Option<ParseBody>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub admin_2025: Option<Converted2025Body>,
    /// The legacy ward read, or for a 2025-form input every legacy ward it covers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub legacy: Option<Vec<ConvertedLegacyBody>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ItemError>,
}

/// The answer: one item per address, in input order.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = ConvertResponse)]
pub struct ConvertResponse {
    pub results: Vec<ConvertItem>,
}

impl ConvertItem {
    pub fn new(maps: &AdminMaps, parse: ParseBody, conversion: &Conversion) -> ConvertItem {
        let unit = |id: UnitId| AdminUnitBody::from(maps.unit(id));
        let linked = |ward: crate::admin::WardId| LinkedWardBody {
            unit: unit(UnitId::Ward(ward)),
            postcode: maps.ward(ward).postcode.map(|p| p.to_string()),
        };
        ConvertItem {
            input: parse.reading.query.clone(),
            admin_2025: Some(Converted2025Body {
                province: conversion.province.map(|id| unit(UnitId::Province(id))),
                ward: conversion.ward.map(|id| unit(UnitId::Ward(id))),
                postcode: conversion
                    .ward
                    .and_then(|id| maps.ward(id).postcode)
                    .map(|p| p.to_string()),
                address: conversion.text.clone(),
                method: conversion.method.into(),
                candidates: conversion.candidates.iter().map(|&w| linked(w)).collect(),
            }),
            legacy: Some(
                conversion
                    .legacy_wards
                    .iter()
                    .map(|&id| {
                        let ward = maps.legacy_ward(id);
                        ConvertedLegacyBody {
                            province: unit(UnitId::LegacyProvince(ward.province)),
                            district: unit(UnitId::LegacyDistrict(ward.district)),
                            ward: unit(UnitId::LegacyWard(id)),
                            postcode: ward.postcode.map(|p| p.to_string()),
                        }
                    })
                    .collect(),
            ),
            parse: Some(parse),
            error: None,
        }
    }

    fn failed(input: String, code: &str, message: String) -> ConvertItem {
        ConvertItem {
            input,
            parse: None,
            admin_2025: None,
            legacy: None,
            error: Some(ItemError {
                code: code.to_owned(),
                message,
            }),
        }
    }
}

/// Converts many addresses between the legacy and the 2025 map.
///
/// Each address is parsed as `GET /v1/parse` does, then given in the 2025 form (ward,
/// province, postal code, the address rewritten) and with the legacy ward(s) it lies in. A
/// split legacy ward lists every 2025 target, default first, unless a coordinate decides.
/// The answer is streamed a chunk of addresses at a time.
#[utoipa::path(
    post,
    path = "/v1/convert",
    tag = "parse",
    request_body = ConvertRequest,
    responses(
        (status = 200, description = "One item per address, in input order", body = ConvertResponse),
        (status = 400, description = "Malformed JSON", body = super::Problem, content_type = "application/problem+json"),
        (status = 413, description = "Too many addresses or body too large", body = super::Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not JSON", body = super::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Wrong JSON shape", body = super::Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many batch requests at once (`too_busy`; see `Retry-After`)", body = super::Problem, content_type = "application/problem+json"),
        (status = 503, description = "Still loading", body = super::Problem, content_type = "application/problem+json"),
    )
)]
pub(super) async fn convert_many(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<ConvertRequest>,
) -> Result<axum::response::Response, AppError> {
    let deadline = tokio::time::Instant::now() + state.limits.request_timeout;
    let registry = state.registry()?.clone();
    if registry.zones().map_2025().is_none() {
        return Err(AppError::NotFound(
            "this server runs without the 2025 map".to_owned(),
        ));
    }
    let max = state.limits.max_convert_items;
    if request.addresses.len() > max {
        return Err(AppError::TooLarge(format!(
            "addresses: {} addresses sent, at most {max} per request",
            request.addresses.len()
        )));
    }
    let max_chars = state.limits.max_parse_chars;
    let permit = state.batch_permit()?;
    stream::answer_in_chunks(
        deadline,
        permit,
        request.addresses,
        ADDRESSES_PER_CHUNK,
        "conversion",
        move |chunk| convert_chunk(Arc::clone(&registry), chunk, max_chars),
    )
    .await
}

/// Converts a chunk on the blocking pool; each item as JSON.
async fn convert_chunk(
    registry: Arc<Registry>,
    chunk: Vec<ConvertInput>,
    max_chars: usize,
) -> Result<Vec<Vec<u8>>, AppError> {
    tokio::task::spawn_blocking(move || {
        chunk
            .into_par_iter()
            .map(|input| {
                let item = convert_one(&registry, input, max_chars);
                serde_json::to_vec(&item)
                    .map_err(|error| AppError::Internal(format!("conversion answer: {error}")))
            })
            .collect::<Result<Vec<_>, _>>()
    })
    .await
    .map_err(|error| AppError::Internal(format!("conversion task: {error}")))?
}

fn convert_one(registry: &Registry, input: ConvertInput, max_chars: usize) -> ConvertItem {
    let (text, lat, lon) = match input {
        ConvertInput::Text(text) => (text, None, None),
        ConvertInput::Located(located) => (located.text, located.lat, located.lon),
    };
    if text.chars().nth(max_chars).is_some() {
        let message = format!("text is longer than {max_chars} characters");
        return ConvertItem::failed(text, "too_long", message);
    }
    let point = match (lat, lon) {
        (None, None) => None,
        (Some(lat), Some(lon)) => match LatLon::new(lat, lon) {
            Ok(point) => Some(point),
            Err(error) => return ConvertItem::failed(text, "invalid_location", error.to_string()),
        },
        _ => {
            let message = "lat and lon go together: give both or neither".to_owned();
            return ConvertItem::failed(text, "invalid_location", message);
        }
    };
    let zones = registry.zones();
    let Some(map) = zones.map_2025() else {
        let message = "this server runs without the 2025 map".to_owned();
        return ConvertItem::failed(text, "no_2025_map", message);
    };
    let parse = map.parser().parse(&text);
    let ward_at_point = point
        .and_then(|point| zones.ward_2025_at(point))
        .map(|view| view.ward);
    let conversion = convert(map.admin(), &parse.reading, ward_at_point);
    ConvertItem::new(
        map.admin(),
        ParseBody::new(map.admin(), &parse),
        &conversion,
    )
}
