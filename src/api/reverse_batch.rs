//! `POST /v1/reverse`: the answers for many points at once, in the shape the client asks.
//!
//! Shape: `format` (or `Accept`) picks JSON (default), GeoJSON, NDJSON or CSV; `zones`
//! picks whether each result carries its zone whole (`inline`, the default) or its postcode,
//! with each zone listed once (`by_postcode`); `fields` picks which members appear.
//!
//! Decisions:
//! - `by_postcode` lists a zone as a property of the zone, the same for every point: its
//!   table row, and its own ward on its own map (a 2025 zone its 2025 ward, a legacy zone its
//!   legacy ward). What depends on the point (how its zone was found, the other map's ward:
//!   the legacy ward voted by nearby addresses, or the 2025 polygon) is given by `inline`
//!   only, and is then not computed at all. The list is the answer's `zones` member after
//!   `results` (a GeoJSON foreign member after `features`), in order of first use: it is
//!   known only once every point is answered, and the answer is streamed. In NDJSON a
//!   `{"zones":{…}}` line comes before the first result that uses a zone.
//! - A part nobody asked for is not computed (`ReverseParts`): without `zone` and
//!   `grid_code` a point costs one nearest-address search and nothing else.
//! - CSV has one row per address found (`rank` 1, 2, …), or one row with empty address
//!   columns for a point with none, so every point shows. The zone's columns are its
//!   postcode and, inline, both maps' names.
//! - With the defaults the bytes are those the endpoint always answered (a test holds it).

use axum::extract::State;
use axum::http::HeaderMap;
use serde::Deserialize;
use serde::ser::{SerializeMap, Serializer};

use super::bodies::ZoneBody;
use super::geojson::{FeatureType, GEOJSON_MEDIA_TYPE, PointGeometry, accepted_media_types};
use super::reverse::reverse_query;
use super::{ApiJson, AppError, AppState, FieldError, Params, stream};
use crate::point::LatLon;
use crate::registry::{self, Registry, ReverseAnswer, ReverseParts, ReverseQuery};
use crate::zones::{ZoneAdmin, ZoneId};

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
    #[serde(default, deserialize_with = "super::reverse::whole_number")]
    pub limit: Option<usize>,
    #[schema(example = 1000.0, minimum = 0.0, maximum = 50000.0)]
    pub radius_m: Option<f64>,
    /// `inline` (default): each result carries its zone whole. `by_postcode`: each result's
    /// `zone` is its postcode, and the answer's `zones` lists each zone once (the zone's own
    /// ward on its own map; the other map's ward, which depends on the point, only inline).
    /// Also a query parameter.
    pub zones: Option<ZonesMode>,
    /// The members each result shows, of `query`, `zone`, `grid_code` and the addresses'
    /// `code`, `postcode`, `lat`, `lon`, `distance_m` (`addresses` shows when one of these
    /// is named; `id` always shows when sent). Default: all. A part not shown is not
    /// computed. Also a query parameter, comma-separated.
    #[schema(example = json!(["code", "distance_m", "zone"]), min_items = 1)]
    pub fields: Option<Vec<FieldName>>,
}

/// How a batch answer gives each point's zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ZonesMode {
    Inline,
    ByPostcode,
}

impl ZonesMode {
    fn parse(text: &str) -> Option<ZonesMode> {
        match text {
            "inline" => Some(ZonesMode::Inline),
            "by_postcode" => Some(ZonesMode::ByPostcode),
            _ => None,
        }
    }
}

/// The media type of a batch answer.
/// A member `fields` may name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FieldName {
    Query,
    Zone,
    GridCode,
    Code,
    Postcode,
    Lat,
    Lon,
    DistanceM,
}

impl FieldName {
    fn as_str(self) -> &'static str {
        match self {
            FieldName::Query => "query",
            FieldName::Zone => "zone",
            FieldName::GridCode => "grid_code",
            FieldName::Code => "code",
            FieldName::Postcode => "postcode",
            FieldName::Lat => "lat",
            FieldName::Lon => "lon",
            FieldName::DistanceM => "distance_m",
        }
    }
}

/// The media type of a batch answer (`format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BatchFormat {
    Json,
    Geojson,
    Ndjson,
    Csv,
}

impl BatchFormat {
    const NAMES: [(&'static str, &'static str, BatchFormat); 4] = [
        ("json", "application/json", BatchFormat::Json),
        ("geojson", GEOJSON_MEDIA_TYPE, BatchFormat::Geojson),
        ("ndjson", "application/x-ndjson", BatchFormat::Ndjson),
        ("csv", "text/csv", BatchFormat::Csv),
    ];

    /// From `format` when given, else the first media type of `Accept` it knows (JSON when
    /// none).
    fn from_request(format: Option<&str>, headers: &HeaderMap) -> Result<BatchFormat, AppError> {
        if let Some(text) = format {
            return Self::NAMES
                .iter()
                .find(|(name, _, _)| *name == text)
                .map(|&(_, _, format)| format)
                .ok_or_else(|| {
                    AppError::invalid_field(
                        "format",
                        "invalid_value",
                        format!("format must be json, geojson, ndjson or csv, got {text:?}"),
                    )
                });
        }
        let accepted = accepted_media_types(headers).find_map(|media| {
            Self::NAMES
                .iter()
                .find(|(_, media_type, _)| media.eq_ignore_ascii_case(media_type))
                .map(|&(_, _, format)| format)
        });
        Ok(accepted.unwrap_or(BatchFormat::Json))
    }
}

/// Which members a result shows (see [`BatchReverseRequest::fields`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Fields {
    pub query: bool,
    pub zone: bool,
    pub grid_code: bool,
    pub code: bool,
    pub postcode: bool,
    pub lat: bool,
    pub lon: bool,
    pub distance_m: bool,
}

impl Fields {
    const ALL: Fields = Fields {
        query: true,
        zone: true,
        grid_code: true,
        code: true,
        postcode: true,
        lat: true,
        lon: true,
        distance_m: true,
    };

    /// The named members; an unknown name or an empty list is an error naming `fields`.
    fn parse<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<Fields, AppError> {
        let mut fields = Fields {
            query: false,
            zone: false,
            grid_code: false,
            code: false,
            postcode: false,
            lat: false,
            lon: false,
            distance_m: false,
        };
        let mut named = 0;
        for name in names {
            let slot = match name.trim() {
                "query" => &mut fields.query,
                "zone" => &mut fields.zone,
                "grid_code" => &mut fields.grid_code,
                "code" => &mut fields.code,
                "postcode" => &mut fields.postcode,
                "lat" => &mut fields.lat,
                "lon" => &mut fields.lon,
                "distance_m" => &mut fields.distance_m,
                other => {
                    return Err(AppError::invalid_field(
                        "fields",
                        "invalid_value",
                        format!(
                            "unknown field {other:?}; fields are query, zone, grid_code, code, \
                             postcode, lat, lon, distance_m"
                        ),
                    ));
                }
            };
            *slot = true;
            named += 1;
        }
        if named == 0 {
            return Err(AppError::invalid_field(
                "fields",
                "invalid_value",
                "fields names no field; leave it out for all of them",
            ));
        }
        Ok(fields)
    }

    pub(super) fn addresses(self) -> bool {
        self.code || self.postcode || self.lat || self.lon || self.distance_m
    }
}

/// The shape of one batch answer.
#[derive(Debug, Clone, Copy)]
struct Shape {
    format: BatchFormat,
    zones: ZonesMode,
    fields: Fields,
    csv_safe: bool,
}

impl Shape {
    /// Reads `format`, `zones`, `fields` and `csv_safe`; `zones` and `fields` may come in
    /// the body or the query (which wins).
    fn from_request(
        params: &Params,
        headers: &HeaderMap,
        request: &BatchReverseRequest,
    ) -> Result<Shape, AppError> {
        let format = BatchFormat::from_request(params.text("format"), headers)?;
        // The query wins over the body: a link or a proxy can then reshape a client's
        // answer without rewriting its body.
        let zones = match (params.text("zones"), request.zones) {
            (Some(text), _) => ZonesMode::parse(text).ok_or_else(|| {
                AppError::invalid_field(
                    "zones",
                    "invalid_value",
                    format!("zones must be inline or by_postcode, got {text:?}"),
                )
            })?,
            (None, Some(mode)) => mode,
            (None, None) => ZonesMode::Inline,
        };
        // The body's list is checked even when the query overrides it: a bad request is
        // refused whichever part of it would have been used.
        let body_fields = request
            .fields
            .as_ref()
            .map(|names| Fields::parse(names.iter().map(|name| name.as_str())))
            .transpose()?;
        let fields = match params.text("fields") {
            Some(text) => Fields::parse(text.split(','))?,
            None => body_fields.unwrap_or(Fields::ALL),
        };
        let csv_safe = super::assign::parse_flag("csv_safe", params.text("csv_safe"))?;
        Ok(Shape {
            format,
            zones,
            fields,
            csv_safe,
        })
    }

    /// What each point's answer must compute.
    fn parts(self) -> ReverseParts {
        ReverseParts {
            zone: self.fields.zone,
            admin: self.fields.zone && self.zones == ZonesMode::Inline,
            grid_code: self.fields.grid_code,
        }
    }

    fn stream_shape(self) -> stream::StreamShape {
        match self.format {
            BatchFormat::Json => stream::StreamShape::Results,
            BatchFormat::Geojson => stream::StreamShape::FeatureCollection,
            BatchFormat::Ndjson => stream::StreamShape::Ndjson,
            BatchFormat::Csv => stream::StreamShape::Csv(super::reverse_csv::header(
                self.fields,
                self.zones,
                self.csv_safe,
            )),
        }
    }
}

/// One point's answer, written as the shape says.
pub(super) struct BatchResult<'a> {
    pub registry: &'a Registry,
    pub id: Option<&'a serde_json::Value>,
    pub point: LatLon,
    pub answer: &'a ReverseAnswer,
    pub fields: Fields,
    pub zones: ZonesMode,
}

impl BatchResult<'_> {
    /// The zone whole, as `inline` shows it.
    pub(super) fn zone_body(&self) -> Option<ZoneBody> {
        self.answer
            .zone
            .map(|zone| ZoneBody::resolved(self.registry.zones(), zone, self.answer.admin))
    }
}

impl BatchResult<'_> {
    /// The zone's postcode, as `by_postcode` shows it.
    pub(super) fn postcode(&self) -> Option<String> {
        self.answer
            .zone
            .map(|zone| self.registry.zones().get(zone.zone_id).postcode.to_string())
    }
}

impl serde::Serialize for BatchResult<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let fields = self.fields;
        let mut map = serializer.serialize_map(None)?;
        if let Some(id) = self.id {
            map.serialize_entry("id", id)?;
        }
        if fields.query {
            map.serialize_entry("query", &super::bodies::LatLonBody::from(self.point))?;
        }
        if fields.addresses() {
            let addresses: Vec<_> = self
                .answer
                .addresses
                .iter()
                .map(|address| Address { address, fields })
                .collect();
            map.serialize_entry("addresses", &addresses)?;
        }
        if fields.zone {
            match self.zones {
                ZonesMode::Inline => map.serialize_entry("zone", &self.zone_body())?,
                ZonesMode::ByPostcode => map.serialize_entry("zone", &self.postcode())?,
            }
        }
        if fields.grid_code {
            let grid_code = self.answer.grid_code.map(|code| code.to_string());
            map.serialize_entry("grid_code", &grid_code)?;
        }
        map.end()
    }
}

/// A nearby address with the chosen members, in `NearbyAddressBody`'s order.
struct Address<'a> {
    address: &'a registry::NearbyAddress,
    fields: Fields,
}

impl serde::Serialize for Address<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let (address, fields) = (self.address, self.fields);
        let mut map = serializer.serialize_map(None)?;
        if fields.code {
            map.serialize_entry("code", &address.code.to_string())?;
        }
        if fields.postcode {
            map.serialize_entry("postcode", &address.postcode.to_string())?;
        }
        if fields.lat {
            map.serialize_entry("lat", &address.lat)?;
        }
        if fields.lon {
            map.serialize_entry("lon", &address.lon)?;
        }
        if fields.distance_m {
            map.serialize_entry("distance_m", &address.distance_m)?;
        }
        map.end()
    }
}

/// A result as a GeoJSON feature: a Point at the queried point, the result as properties.
#[derive(serde::Serialize)]
struct ResultFeature<'a> {
    #[serde(rename = "type")]
    kind: FeatureType,
    geometry: PointGeometry,
    properties: &'a BatchResult<'a>,
}

/// The zones of `by_postcode`, each listed once in order of first use.
#[derive(Debug, Default)]
struct ZoneList {
    seen: std::collections::HashSet<ZoneId>,
    listed: Vec<ZoneId>,
}

impl ZoneList {
    /// Notes the zones of `answers`; returns those not seen before.
    fn note(&mut self, answers: &[ReverseAnswer]) -> Vec<ZoneId> {
        let mut new = Vec::new();
        for zone in answers.iter().filter_map(|answer| answer.zone) {
            if self.seen.insert(zone.zone_id) {
                new.push(zone.zone_id);
                self.listed.push(zone.zone_id);
            }
        }
        new
    }

    /// `{"11116":{…},…}` for `zone_ids`: each zone as a property of the zone (its own
    /// ward on its own map; see the module's decisions).
    fn json(registry: &Registry, zone_ids: &[ZoneId]) -> Result<Vec<u8>, serde_json::Error> {
        let zones = registry.zones();
        let mut out = Vec::with_capacity(zone_ids.len() * 512 + 2);
        let mut serializer = serde_json::Serializer::new(&mut out);
        let mut map = serializer.serialize_map(Some(zone_ids.len()))?;
        for &zone_id in zone_ids {
            let admin = ZoneAdmin {
                admin_2025: zones.ward_2025_of_zone(zone_id),
                legacy: zones.legacy_view_of_zone(zone_id),
            };
            let body = ZoneBody::new(zones, zone_id, None, admin);
            map.serialize_entry(&body.postcode, &body)?;
        }
        map.end()?;
        Ok(out)
    }
}

/// Reverse for many points at once, answered in input order.
///
/// The answer is streamed a chunk of points at a time (see `stream.rs`); each chunk is
/// answered under one read lock, so a write that lands while a large batch is answered
/// may show in its later chunks only. `format` (or `Accept`) picks JSON, GeoJSON (a
/// feature per point: a Point at the queried point, its answer as properties), NDJSON (a
/// line per point) or CSV (a row per address found). `zones=by_postcode` gives each
/// result's zone as its postcode and lists each zone once in `zones`, after the results
/// (in NDJSON, a `{"zones":{…}}` line before the first result that uses it). `fields`
/// picks the members.
#[utoipa::path(
    post,
    path = "/v1/reverse",
    tag = "reverse",
    params(
        ("format" = Option<BatchFormat>, Query, description = "`json` (default), `geojson`, `ndjson` or `csv`; else the first of `application/json`, `application/geo+json`, `application/x-ndjson`, `text/csv` in `Accept`"),
        ("zones" = Option<ZonesMode>, Query, description = "`inline` (default) or `by_postcode`; or in the body"),
        ("fields" = Option<String>, Query, description = "Comma-separated members to show, of query, zone, grid_code, code, postcode, lat, lon, distance_m; or in the body", example = "code,distance_m,zone", pattern = r"^(query|zone|grid_code|code|postcode|lat|lon|distance_m)(,(query|zone|grid_code|code|postcode|lat|lon|distance_m))*$"),
        ("csv_safe" = Option<bool>, Query, description = "CSV: put a `'` before every cell that starts like a spreadsheet formula"),
    ),
    request_body(content = BatchReverseRequest, example = json!({"points": [{"lat": 21.0468, "lon": 105.8481, "id": "a"}, {"lat": 10.7769, "lon": 106.7009, "id": "b"}], "limit": 1})),
    responses(
        (status = 200, description = "One answer per point, in input order (CSV: a row per address found, or one with empty address columns); with `zones=by_postcode` the answer's `zones` lists each zone once", content(
            (super::reverse::BatchReverseResponse = "application/json"),
            (super::geojson::BatchReverseFeatureCollection = "application/geo+json"),
            (String = "application/x-ndjson"),
            (String = "text/csv"),
        )),
        (status = 400, description = "Malformed JSON", body = super::Problem, content_type = "application/problem+json"),
        (status = 413, description = "Too many points, too many addresses asked for (points × limit; `errors[]` names `points` and `limit`), or body too large", body = super::Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not JSON", body = super::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid point, limit, radius, `format`, `zones` or `fields`; `errors[]` names each", body = super::Problem, content_type = "application/problem+json"),
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
    let shape = Shape::from_request(&params, &headers, &request)?;
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
    let query = reverse_query(limit, radius_m, &mut errors).with_parts(shape.parts());
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
    super::reverse::check_answer_count(
        points.len(),
        query.limit(),
        state.limits.max_batch_answers,
    )?;
    let permit = state.batch_permit()?;
    let (results, response) = stream::batch_stream(deadline, shape.stream_shape());
    let results = results.holding(permit);
    let runtime = tokio::runtime::Handle::current();
    let ids: Vec<Option<serde_json::Value>> =
        request.points.into_iter().map(|point| point.id).collect();
    tokio::task::spawn_blocking(move || {
        answer_points(&registry, &points, &ids, query, shape, results, &runtime);
    });
    Ok(response)
}

/// Answers `points` chunk by chunk into `results` (on a blocking thread).
fn answer_points(
    registry: &Registry,
    points: &[LatLon],
    ids: &[Option<serde_json::Value>],
    query: ReverseQuery,
    shape: Shape,
    mut results: stream::ResultsSender,
    runtime: &tokio::runtime::Handle,
) {
    let mut zone_list = ZoneList::default();
    let per_chunk = stream::points_per_chunk(query.limit());
    for (chunk_idx, chunk) in points.chunks(per_chunk).enumerate() {
        let answers = registry.reverse_many(chunk, query);
        let chunk_ids = &ids[chunk_idx * per_chunk..][..chunk.len()];
        let mut items = Vec::with_capacity(chunk.len() + 1);
        if shape.zones == ZonesMode::ByPostcode && shape.format == BatchFormat::Ndjson {
            let new = zone_list.note(&answers);
            if !new.is_empty() {
                match ZoneList::json(registry, &new) {
                    Ok(zones) => items.push([&b"{\"zones\":"[..], &zones, b"}\n"].concat()),
                    Err(error) => return log_failure(&error),
                }
            }
        } else if shape.zones == ZonesMode::ByPostcode {
            zone_list.note(&answers);
        }
        match write_items(registry, chunk, chunk_ids, &answers, shape) {
            Ok(written) => items.extend(written),
            Err(error) => return log_failure(&*error),
        }
        if let Err(error) = runtime.block_on(results.send(&items)) {
            tracing::debug!(%error, "batch reverse answer stopped");
            return;
        }
    }
    let members = match (shape.zones, shape.format) {
        (ZonesMode::ByPostcode, BatchFormat::Json | BatchFormat::Geojson) => {
            match ZoneList::json(registry, &zone_list.listed) {
                Ok(zones) => [&b",\"zones\":"[..], &zones].concat(),
                Err(error) => return log_failure(&error),
            }
        }
        _ => Vec::new(),
    };
    if let Err(error) = runtime.block_on(results.finish_with_members(&members)) {
        tracing::debug!(%error, "batch reverse answer stopped");
    }
}

fn log_failure(error: &dyn std::error::Error) {
    tracing::error!(%error, "batch reverse answer could not be written");
}

/// Each point's answer as bytes, made on every core: for thousands of points the answer is
/// megabytes, and writing it on one thread took longer than the queries.
fn write_items(
    registry: &Registry,
    chunk: &[LatLon],
    ids: &[Option<serde_json::Value>],
    answers: &[ReverseAnswer],
    shape: Shape,
) -> Result<Vec<Vec<u8>>, Box<dyn std::error::Error + Send + Sync>> {
    use rayon::prelude::*;
    ids.par_iter()
        .zip(chunk.par_iter())
        .zip(answers.par_iter())
        .map(|((id, &point), answer)| {
            let result = BatchResult {
                registry,
                id: id.as_ref(),
                point,
                answer,
                fields: shape.fields,
                zones: shape.zones,
            };
            let bytes = match shape.format {
                BatchFormat::Json => serde_json::to_vec(&result)?,
                BatchFormat::Geojson => serde_json::to_vec(&ResultFeature {
                    kind: FeatureType::Feature,
                    geometry: PointGeometry::new(point.lat, point.lon),
                    properties: &result,
                })?,
                BatchFormat::Ndjson => {
                    let mut line = serde_json::to_vec(&result)?;
                    line.push(b'\n');
                    line
                }
                BatchFormat::Csv => super::reverse_csv::rows(&result, shape.csv_safe)?,
            };
            Ok(bytes)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_name_known_members_only() {
        let fields = Fields::parse(["code", " distance_m"]).ok();
        assert_eq!(
            fields.map(|fields| (
                fields.code,
                fields.distance_m,
                fields.zone,
                fields.addresses()
            )),
            Some((true, true, false, true))
        );
        assert!(Fields::parse(["zone"]).is_ok_and(|fields| !fields.addresses()));
        assert!(Fields::parse(["code", "ward"]).is_err());
        assert!(Fields::parse(Vec::<&str>::new()).is_err());
    }

    #[test]
    fn the_format_is_asked_by_name_or_by_accept() {
        let mut headers = HeaderMap::new();
        assert_eq!(
            BatchFormat::from_request(None, &headers).ok(),
            Some(BatchFormat::Json)
        );
        headers.insert(
            axum::http::header::ACCEPT,
            axum::http::HeaderValue::from_static("text/html, text/csv;q=0.9"),
        );
        assert_eq!(
            BatchFormat::from_request(None, &headers).ok(),
            Some(BatchFormat::Csv)
        );
        assert_eq!(
            BatchFormat::from_request(Some("ndjson"), &headers).ok(),
            Some(BatchFormat::Ndjson)
        );
        assert!(BatchFormat::from_request(Some("xml"), &headers).is_err());
    }
}
