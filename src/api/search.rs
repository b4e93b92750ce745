//! `GET /v1/search?q=`: forward geocoding, address text → registered addresses, in the
//! shape of DESIGN §9 (`level`, `code` at level `address` only, `location`, `label`,
//! `zone`, `admin_2025`, `confidence`, `matched`, `unmatched`).
//!
//! Decisions: `ambiguous` is on the answer (the best two results cannot be told apart)
//! and repeated on the first result, where §9 puts it. Text that finds nothing is a 200
//! with no results; only a missing, blank or over-long `q`, or a bad `limit`/`near`, is a
//! 422. The search runs on the blocking pool: it parses and reads memory, a few
//! microseconds to a millisecond, and must not hold up the runtime's workers when a
//! broad query (a street name alone) reads thousands of addresses.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;

use super::bodies::{LatLonBody, ZoneBody};
use super::geocode::GeocodeInput;
use super::parse::{Parsed2025Body, check_query_length};
use super::{AppError, AppState, FieldError, Params};
use crate::admin::UnitId;
use crate::point::LatLon;
use crate::registry::{MatchLevel, Registry, SearchAnswer, SearchResult};

pub(super) fn router() -> Router<AppState> {
    Router::new().route("/v1/search", get(search))
}

/// Largest `limit`.
const MAX_LIMIT: usize = 20;
const DEFAULT_LIMIT: usize = 5;

/// How far a result got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = MatchLevel)]
pub enum MatchLevelBody {
    /// A registered address: its code.
    Address,
    /// The street was found, the house not: located at its registered house nearest in
    /// number.
    Street,
    Ward,
    District,
    Province,
}

impl From<MatchLevel> for MatchLevelBody {
    fn from(level: MatchLevel) -> MatchLevelBody {
        match level {
            MatchLevel::Address => MatchLevelBody::Address,
            MatchLevel::Street => MatchLevelBody::Street,
            MatchLevel::Ward => MatchLevelBody::Ward,
            MatchLevel::District => MatchLevelBody::District,
            MatchLevel::Province => MatchLevelBody::Province,
        }
    }
}

/// The parts of the query a result matched, as the registry writes them.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = SearchMatched)]
pub struct MatchedBody {
    /// House number and alley: "9 Ngõ 30".
    pub house_number: Option<String>,
    pub street: Option<String>,
    pub ward: Option<String>,
    pub district: Option<String>,
    pub province: Option<String>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = SearchResult)]
pub struct SearchResultBody {
    pub level: MatchLevelBody,
    /// Only at level `address`: a code is never made from text.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "110072VJ3CR5")]
    pub code: Option<String>,
    pub location: LatLonBody,
    #[schema(
        example = "9 Ngõ 30 Phố Bùi Thị Xuân, Phường Bùi Thị Xuân, Quận Hai Bà Trưng, Thành phố Hà Nội"
    )]
    pub label: String,
    /// The postal zone of the result (null above the ward).
    pub zone: Option<ZoneBody>,
    pub admin_2025: Parsed2025Body,
    /// In [0, 1].
    pub confidence: f64,
    pub ambiguous: bool,
    pub matched: MatchedBody,
    pub unmatched: Vec<String>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = SearchAnswer)]
pub struct SearchBody {
    /// Best first.
    pub results: Vec<SearchResultBody>,
    /// The best two results cannot be told apart.
    pub ambiguous: bool,
}

impl SearchBody {
    pub fn new(registry: &Registry, answer: SearchAnswer) -> SearchBody {
        let ambiguous = answer.ambiguous;
        SearchBody {
            results: answer
                .results
                .into_iter()
                .enumerate()
                .map(|(rank, result)| {
                    SearchResultBody::new(registry, result, rank == 0 && ambiguous)
                })
                .collect(),
            ambiguous,
        }
    }
}

impl SearchResultBody {
    fn new(registry: &Registry, result: SearchResult, ambiguous: bool) -> SearchResultBody {
        let zones = registry.zones();
        let maps = zones.map_2025().map(|map| map.admin());
        let ward = maps
            .zip(result.ward_2025)
            .map(|(maps, id)| (maps, maps.ward(id)));
        SearchResultBody {
            level: result.level.into(),
            code: result.code.map(|code| code.to_string()),
            location: result.location.into(),
            label: result.label,
            zone: result.zone.map(|zone_id| {
                let admin = registry.zone_admin(zone_id, Some(result.location));
                ZoneBody::new(zones, zone_id, None, admin)
            }),
            admin_2025: Parsed2025Body {
                province: ward
                    .map(|(maps, ward)| maps.unit(UnitId::Province(ward.province)).into()),
                ward: maps
                    .zip(result.ward_2025)
                    .map(|(maps, id)| maps.unit(UnitId::Ward(id)).into()),
                postcode: ward
                    .and_then(|(_, ward)| ward.postcode)
                    .map(|p| p.to_string()),
            },
            confidence: (result.confidence * 10_000.0).round() / 10_000.0,
            ambiguous,
            matched: MatchedBody {
                house_number: result.matched.place,
                street: result.matched.street,
                ward: result.matched.ward,
                district: result.matched.district,
                province: result.matched.province,
            },
            unmatched: result.unmatched,
        }
    }
}

/// Finds registered addresses from their text.
///
/// The text is read like `GET /v1/parse` (either map, marks optional, abbreviations); its
/// ward narrows the search to the postal zones it covers, the street is matched (exactly
/// after folding, else with one edit for names of 5+ letters), then the house number and
/// alley. Each result says how far it got (`level`).
#[utoipa::path(
    get,
    path = "/v1/search",
    tag = "search",
    params(
        ("q" = Option<String>, Query, description = "The address text (at most --max-parse-chars characters); required unless parts are given", example = "9 ngõ 30 Bùi Thị Xuân, Hai Bà Trưng, Hà Nội"),
        ("house_number" = Option<String>, Query, description = "Structured form, without q: the house number"),
        ("alley" = Option<String>, Query, description = "Structured form: the alley (Ngõ, Ngách, Hẻm, Kiệt)"),
        ("street" = Option<String>, Query, description = "Structured form: the street"),
        ("ward" = Option<String>, Query, description = "Structured form: the ward (either map)"),
        ("district" = Option<String>, Query, description = "Structured form: the legacy district"),
        ("province" = Option<String>, Query, description = "Structured form: the province (either map)"),
        ("limit" = Option<usize>, Query, description = "Most results, 1–20 (default 5)", minimum = 1, maximum = 20),
        ("near" = Option<String>, Query, description = "`lat,lon`: among equally good results, the nearest first", example = "21.0285,105.8542"),
    ),
    responses(
        (status = 200, description = "Results, best first (none when nothing matched)", body = SearchBody),
        (status = 400, description = "A query parameter given more than once", body = super::Problem, content_type = "application/problem+json"),
        (status = 422, description = "q missing, blank or too long; limit or near not valid", body = super::Problem, content_type = "application/problem+json"),
        (status = 503, description = "Still loading", body = super::Problem, content_type = "application/problem+json"),
    )
)]
pub(super) async fn search(
    State(state): State<AppState>,
    params: Params,
) -> Result<Json<SearchBody>, AppError> {
    let structured = structured_query(&params);
    let text = params.text("q").map(str::to_owned).or(structured);
    let missing = "q is required: the address text to find (or its parts: house_number, \
                   alley, street, ward, district, province)";
    let (query, limit, near) = text_query(&state, &params, text, missing)?;
    let registry = state.registry()?;
    // Answered on the request's own task: a search takes 10–60 µs (p99.9 about 0.3 ms at
    // 25 M addresses), less than handing it to the blocking pool and back cost (two thread
    // switches; 16 700 searches/s over HTTP with the hand-off).
    let answer = registry.search(&query, limit, near);
    Ok(Json(SearchBody::new(registry, answer)))
}

/// The text, `limit` and `near` of a text query (`/v1/search`, `/v1/autocomplete`),
/// checked alike: 422 with `q` `missing` (saying `missing`), `blank` or `too_long`,
/// `limit` `out_of_range`, `near` `invalid_coordinate`; every field at fault at once.
pub(super) fn text_query(
    state: &AppState,
    params: &Params,
    text: Option<String>,
    missing: &str,
) -> Result<(String, usize, Option<LatLon>), AppError> {
    let mut errors = Vec::new();
    let query = match text {
        Some(text) if text.chars().any(char::is_alphanumeric) => Some(text),
        Some(_) => {
            errors.push(FieldError::new(
                "q",
                "blank",
                "q names nothing: it holds no letter or digit",
            ));
            None
        }
        None => {
            errors.push(FieldError::new("q", "missing", missing));
            None
        }
    };
    let limit = params.optional_usize("limit", &mut errors);
    if limit.is_some_and(|limit| !(1..=MAX_LIMIT).contains(&limit)) {
        errors.push(FieldError::new(
            "limit",
            "out_of_range",
            format!("limit must be between 1 and {MAX_LIMIT}"),
        ));
    }
    let near = params
        .text("near")
        .and_then(|text| parse_near(text, &mut errors));
    let Some(query) = query.filter(|_| errors.is_empty()) else {
        return Err(AppError::invalid_fields(errors));
    };
    check_query_length("q", &query, state.limits.max_parse_chars)?;
    Ok((query, limit.unwrap_or(DEFAULT_LIMIT), near))
}

/// The structured form (`?street=…&ward=…`) as one line, when any part is given and `q`
/// is not.
fn structured_query(params: &Params) -> Option<String> {
    let part = |name: &str| params.text(name).map(str::to_owned);
    let input = GeocodeInput {
        house_number: part("house_number"),
        alley: part("alley"),
        street: part("street"),
        ward: part("ward"),
        district: part("district"),
        province: part("province"),
        ..GeocodeInput::default()
    };
    let given = [
        &input.house_number,
        &input.alley,
        &input.street,
        &input.ward,
        &input.district,
        &input.province,
    ]
    .iter()
    .any(|part| part.is_some());
    given.then(|| input.line())
}

/// `near=lat,lon`, a valid WGS84 point.
fn parse_near(text: &str, errors: &mut Vec<FieldError>) -> Option<LatLon> {
    let point = text.split_once(',').and_then(|(lat, lon)| {
        let lat = lat.trim().parse::<f64>().ok()?;
        let lon = lon.trim().parse::<f64>().ok()?;
        LatLon::new(lat, lon).ok()
    });
    if point.is_none() {
        errors.push(FieldError::new(
            "near",
            "invalid_coordinate",
            "near must be lat,lon in WGS84 degrees, e.g. 21.0285,105.8542",
        ));
    }
    point
}
