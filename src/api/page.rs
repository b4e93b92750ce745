//! The map page at `/`: its HTML, script and style, the vendored Leaflet, the page's
//! configuration (`/map/config.json`) and the offline reference places
//! (`/map/places.geojson`). Everything is embedded in the binary at build time, so the page
//! works with no internet; the page itself calls the public API (`/v1/reverse`,
//! `/v1/codes/{code}`, `/v1/addresses?bbox`, `POST /v1/assign?dry_run=true`).
//!
//! Decisions:
//! - Leaflet 1.9.4 (BSD-2-Clause, `assets/vendor/leaflet-1.9.4/LICENSE`) rather than
//!   MapLibre GL JS: 150 KB instead of 800 KB, no WebGL (headless browsers and old phones
//!   draw it), and raster tiles are what a `--tile-url` usually names.
//! - Assets are `include_bytes!` in a fixed table rather than a crate (`rust-embed`): a
//!   dozen files, known at build time; a file missing from `assets/` fails the build.
//! - Caching: vendored files carry their version in the path and are `immutable` for a year;
//!   the page's own files and its JSON are `no-cache` with an `ETag` (a CRC-32 of the bytes),
//!   so a new binary's page is picked up at once and an unchanged one costs a 304.
//! - The page routes are not in the OpenAPI document: they are a client of the API, not part
//!   of it (`/map/places.geojson` is the zone table's reference points, which
//!   `/v1/zones/{postcode}` already answers one by one).
//! - The basemap's URL and attribution reach the page as JSON data (`/map/config.json`), never
//!   spliced into HTML or script; the page shows the attribution as text. A
//!   `Content-Security-Policy` keeps scripts, styles and fetches to this origin; images may
//!   come from anywhere (the tiles' host is the operator's choice).

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Serialize;

use super::{AppError, AppState};
use crate::code::PostalScheme;
use crate::point::LatLon;
use crate::zones::ZoneTable;

/// The basemap the page draws under its layers: `serve --tile-url`, `--tile-attribution`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PageConfig {
    /// An XYZ tile URL template (`https://tile.example.org/{z}/{x}/{y}.png`); none: a plain
    /// background with the reference places.
    pub tile_url: Option<String>,
    /// Shown, as text, in the map's corner when tiles are drawn.
    pub tile_attribution: Option<String>,
}

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(index))
        .route("/map/assets/{*path}", get(asset))
        .route("/map/config.json", get(config))
        .route("/map/places.geojson", get(places))
}

/// One embedded file.
struct Asset {
    path: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

macro_rules! asset {
    ($path:literal, $content_type:literal) => {
        Asset {
            path: $path,
            content_type: $content_type,
            body: include_bytes!(concat!("../../assets/", $path)),
        }
    };
}

/// Under `/map/assets/`; `vendor/` files are versioned by their folder.
const ASSETS: &[Asset] = &[
    asset!("map.js", "text/javascript; charset=utf-8"),
    asset!("map.css", "text/css; charset=utf-8"),
    asset!(
        "vendor/leaflet-1.9.4/leaflet.js",
        "text/javascript; charset=utf-8"
    ),
    asset!(
        "vendor/leaflet-1.9.4/leaflet.css",
        "text/css; charset=utf-8"
    ),
    asset!("vendor/leaflet-1.9.4/LICENSE", "text/plain; charset=utf-8"),
    asset!("vendor/leaflet-1.9.4/images/layers.png", "image/png"),
    asset!("vendor/leaflet-1.9.4/images/layers-2x.png", "image/png"),
    asset!("vendor/leaflet-1.9.4/images/marker-icon.png", "image/png"),
    asset!(
        "vendor/leaflet-1.9.4/images/marker-icon-2x.png",
        "image/png"
    ),
    asset!("vendor/leaflet-1.9.4/images/marker-shadow.png", "image/png"),
];

const INDEX_HTML: &[u8] = include_bytes!("../../assets/index.html");

const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self' 'unsafe-inline'; img-src * data: blob:; connect-src 'self' blob:; \
     object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

/// The map page.
async fn index(headers: HeaderMap) -> Response {
    let mut response = revalidated(&headers, "text/html; charset=utf-8", INDEX_HTML.to_vec());
    response.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    response
}

async fn asset(Path(path): Path<String>, headers: HeaderMap) -> Result<Response, AppError> {
    let asset = ASSETS
        .iter()
        .find(|asset| asset.path == path)
        .ok_or_else(|| AppError::NotFound(format!("the map page has no file {path:?}")))?;
    if asset.path.starts_with("vendor/") {
        return Ok((
            [
                (header::CONTENT_TYPE, asset.content_type),
                (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
            ],
            asset.body,
        )
            .into_response());
    }
    Ok(revalidated(
        &headers,
        asset.content_type,
        asset.body.to_vec(),
    ))
}

/// The basemap settings, for the page's script.
async fn config(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, AppError> {
    let body = serde_json::to_vec(state.page.as_ref())
        .map_err(|error| AppError::Internal(format!("map config: {error}")))?;
    Ok(revalidated(&headers, "application/json", body))
}

/// The reference points of the zones new codes are minted in, and one point per province:
/// the offline background.
async fn places(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, AppError> {
    let registry = state.registry()?;
    let body = serde_json::to_vec(&places_of(registry.zones()))
        .map_err(|error| AppError::Internal(format!("map places: {error}")))?;
    Ok(revalidated(&headers, "application/geo+json", body))
}

/// `body` with an `ETag`, `Cache-Control: no-cache`; 304 when the client holds it already.
fn revalidated(headers: &HeaderMap, content_type: &'static str, body: Vec<u8>) -> Response {
    let etag = format!("\"{:08x}-{:x}\"", crc32fast::hash(&body), body.len());
    let cached = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.split(',').any(|tag| tag.trim() == etag));
    let mut response = if cached {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        ([(header::CONTENT_TYPE, content_type)], body).into_response()
    };
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Ok(value) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, value);
    }
    response
}

#[derive(Debug, Serialize)]
struct PlacesBody {
    #[serde(rename = "type")]
    kind: &'static str,
    features: Vec<PlaceFeature>,
}

#[derive(Debug, Serialize)]
struct PlaceFeature {
    #[serde(rename = "type")]
    kind: &'static str,
    geometry: PointGeometry,
    properties: PlaceProperties,
}

#[derive(Debug, Serialize)]
struct PointGeometry {
    #[serde(rename = "type")]
    kind: &'static str,
    coordinates: [f64; 2],
}

#[derive(Debug, Serialize)]
struct PlaceProperties {
    /// `province` or `ward`.
    kind: &'static str,
    name: String,
    province: String,
    /// The ward's postal code; none for a province.
    #[serde(skip_serializing_if = "Option::is_none")]
    postcode: Option<String>,
}

fn feature(point: LatLon, properties: PlaceProperties) -> PlaceFeature {
    PlaceFeature {
        kind: "Feature",
        geometry: PointGeometry {
            kind: "Point",
            coordinates: [point.lon, point.lat],
        },
        properties,
    }
}

/// Every zone of the minting table at its reference point, and each province at the
/// reference point of its ward nearest the mean of its wards' (a real place on land, where
/// a plain mean of an archipelago province would fall in the sea). Provinces come first,
/// those with more wards first: the page labels places in this order and leaves out a label
/// that would overlap one already drawn.
fn places_of(zones: &ZoneTable) -> PlacesBody {
    let scheme = if zones.map_2025().is_some() {
        PostalScheme::Y2025
    } else {
        PostalScheme::Legacy
    };
    let mut by_province: Vec<(&str, &str, Vec<LatLon>)> = Vec::new();
    let mut features = Vec::new();
    for zone_id in zones.zone_ids(scheme) {
        let zone = zones.get(zone_id);
        match by_province
            .iter_mut()
            .find(|(code, _, _)| *code == zone.province_code)
        {
            Some((_, _, points)) => points.push(zone.center),
            None => by_province.push((&zone.province_code, &zone.province, vec![zone.center])),
        }
        features.push(feature(
            zone.center,
            PlaceProperties {
                kind: "ward",
                name: zone.ward.clone(),
                province: zone.province.clone(),
                postcode: Some(zone.postcode.to_string()),
            },
        ));
    }
    by_province.sort_by_key(|(_, _, points)| std::cmp::Reverse(points.len()));
    let provinces = by_province.into_iter().filter_map(|(_, name, points)| {
        let n_points = points.len() as f64;
        let mean_lat = points.iter().map(|point| point.lat).sum::<f64>() / n_points;
        let mean_lon = points.iter().map(|point| point.lon).sum::<f64>() / n_points;
        let distance =
            |point: &LatLon| (point.lat - mean_lat).powi(2) + (point.lon - mean_lon).powi(2);
        let point = points
            .iter()
            .min_by(|a, b| distance(a).total_cmp(&distance(b)))?;
        Some(feature(
            *point,
            PlaceProperties {
                kind: "province",
                name: name.to_owned(),
                province: name.to_owned(),
                postcode: None,
            },
        ))
    });
    let mut all: Vec<PlaceFeature> = provinces.collect();
    all.extend(features);
    PlacesBody {
        kind: "FeatureCollection",
        features: all,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_asset_has_a_body_and_the_page_names_them() {
        let page = String::from_utf8_lossy(INDEX_HTML);
        for asset in ASSETS {
            assert!(!asset.body.is_empty(), "{}", asset.path);
        }
        for named in ["map.js", "map.css", "vendor/leaflet-1.9.4/leaflet.js"] {
            assert!(
                page.contains(&format!("/map/assets/{named}")),
                "index.html does not load {named}"
            );
        }
    }

    #[test]
    fn an_unchanged_file_answers_304() {
        let first = revalidated(&HeaderMap::new(), "text/plain", b"abc".to_vec());
        let etag = first.headers()[header::ETAG].clone();
        let mut headers = HeaderMap::new();
        headers.insert(header::IF_NONE_MATCH, etag);
        let second = revalidated(&headers, "text/plain", b"abc".to_vec());
        assert_eq!(second.status(), StatusCode::NOT_MODIFIED);
        let third = revalidated(&headers, "text/plain", b"abd".to_vec());
        assert_eq!(third.status(), StatusCode::OK);
    }
}
