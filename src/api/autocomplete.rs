//! `GET /v1/autocomplete?q=PARTIAL[&limit][&near]`: search-as-you-type, the text typed so
//! far → completions (`Registry::autocomplete`).
//!
//! Decisions on the shape, `{"results": [...]}` best first, each:
//! - `kind` (`address`, `street`, `ward`, `district`, `province`) says what the suggestion
//!   *is*; `/v1/search`'s `level` says how far a match got, another meaning, hence another
//!   name, over the same values.
//! - `label` (as Vietnam Post writes it, as `/v1/search` labels), `code` (addresses only:
//!   a code is never made from text), `location`, `zone` (the postal zone of an address,
//!   street or ward, the same object as `/v1/search`'s) and `admin_2025` (the 2025 ward and
//!   province, as in `/v1/search`) keep `/v1/search`'s names and shapes; absent rather than
//!   null when they do not apply, since answers are sent on every keystroke.
//! - `completion`: the text to put in the box when the suggestion is picked (see
//!   `registry/autocomplete.rs`); `unit` (`{code, name, type}`) and `map` (`legacy` or
//!   `2025`) for wards, districts and provinces, because both maps answer.
//! - No `confidence` or `ambiguous`: a prefix names many things on purpose.
//!
//! The same 422s as `/v1/search` (`q` missing, blank or too long, `limit` out of range,
//! `near` not a coordinate), and like it the work runs on the blocking pool.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;

use super::admin::AdminUnitBody;
use super::bodies::{LatLonBody, ZoneBody};
use super::parse::{AdminMapBody, Parsed2025Body};
use super::search::text_query;
use super::{AppError, AppState, Params};
use crate::admin::UnitId;
use crate::registry::{MatchLevel, Registry, Suggestion};

pub(super) fn router() -> Router<AppState> {
    Router::new().route("/v1/autocomplete", get(autocomplete))
}

/// What a suggestion is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = SuggestionKind)]
pub enum SuggestionKindBody {
    /// A registered address: its code.
    Address,
    /// A street of a ward, located at its middle registered house.
    Street,
    Ward,
    District,
    Province,
}

impl From<MatchLevel> for SuggestionKindBody {
    fn from(level: MatchLevel) -> SuggestionKindBody {
        match level {
            MatchLevel::Address => SuggestionKindBody::Address,
            MatchLevel::Street => SuggestionKindBody::Street,
            MatchLevel::Ward => SuggestionKindBody::Ward,
            MatchLevel::District => SuggestionKindBody::District,
            MatchLevel::Province => SuggestionKindBody::Province,
        }
    }
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = Suggestion)]
pub struct SuggestionBody {
    pub kind: SuggestionKindBody,
    #[schema(example = "Đường Lê Văn Sỹ, Phường 13, Quận Phú Nhuận, Thành phố Hồ Chí Minh")]
    pub label: String,
    /// The text to put in the search box when this suggestion is picked.
    #[schema(example = "12 Đường Lê Văn Sỹ, Phường 13, Quận Phú Nhuận, Thành phố Hồ Chí Minh")]
    pub completion: String,
    /// Only for `address`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "700102VH3CR5")]
    pub code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<LatLonBody>,
    /// The postal zone of an address, street or ward.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zone: Option<ZoneBody>,
    /// The 2025 ward the suggestion is in or names, and its province.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub admin_2025: Option<Parsed2025Body>,
    /// Wards, districts and provinces: the unit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit: Option<AdminUnitBody>,
    /// Wards, districts and provinces: the map the unit is of.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub map: Option<AdminMapBody>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = AutocompleteAnswer)]
pub struct AutocompleteBody {
    /// Best first.
    pub results: Vec<SuggestionBody>,
}

impl SuggestionBody {
    pub fn new(registry: &Registry, suggestion: &Suggestion) -> SuggestionBody {
        let zones = registry.zones();
        let maps = zones.map_2025().map(|map| map.admin());
        let admin_2025 = maps.zip(suggestion.ward_2025).map(|(maps, id)| {
            let ward = maps.ward(id);
            Parsed2025Body {
                province: Some(maps.unit(UnitId::Province(ward.province)).into()),
                ward: Some(maps.unit(UnitId::Ward(id)).into()),
                postcode: ward.postcode.map(|p| p.to_string()),
            }
        });
        let unit = maps.zip(suggestion.unit);
        SuggestionBody {
            kind: suggestion.kind.into(),
            label: suggestion.label.clone(),
            completion: suggestion.completion.clone(),
            code: suggestion.code.map(|code| code.to_string()),
            location: suggestion.location.map(Into::into),
            zone: suggestion.zone.map(|zone_id| {
                let admin = registry.zone_admin(zone_id, suggestion.location);
                ZoneBody::new(zones, zone_id, None, admin)
            }),
            admin_2025,
            unit: unit.map(|(maps, id)| maps.unit(id).into()),
            map: unit.map(|(_, id)| {
                if id.is_legacy() {
                    AdminMapBody::Legacy
                } else {
                    AdminMapBody::Y2025
                }
            }),
        }
    }
}

/// Completes an address as it is typed.
///
/// The last word of `q` is a prefix: street names and ward, district and province names
/// (both maps) are completed from it, folded (marks and case optional; the marks typed
/// exactly as the name has them rank first); a house number typed before a street lists
/// that street's registered houses whose number starts with it. Text before the last
/// comma narrows, as in `/v1/search`: a ward, district or province written there keeps
/// streets and units within it.
#[utoipa::path(
    get,
    path = "/v1/autocomplete",
    tag = "search",
    params(
        ("q" = String, Query, description = "The text typed so far (at most --max-parse-chars characters)", example = "12 Lê V"),
        ("limit" = Option<usize>, Query, description = "Most suggestions, 1–20 (default 5)", minimum = 1, maximum = 20),
        ("near" = Option<String>, Query, description = "`lat,lon`: among equally good suggestions, the nearest first", example = "10.79,106.67"),
    ),
    responses(
        (status = 200, description = "Suggestions, best first (none when nothing starts so)", body = AutocompleteBody),
        (status = 400, description = "A query parameter given more than once", body = super::Problem, content_type = "application/problem+json"),
        (status = 422, description = "q missing, blank or too long; limit or near not valid", body = super::Problem, content_type = "application/problem+json"),
        (status = 503, description = "Still loading", body = super::Problem, content_type = "application/problem+json"),
    )
)]
pub(super) async fn autocomplete(
    State(state): State<AppState>,
    params: Params,
) -> Result<Json<AutocompleteBody>, AppError> {
    let text = params.text("q").map(str::to_owned);
    let missing = "q is required: the text typed so far";
    let (query, limit, near) = text_query(&state, &params, text, missing)?;
    let registry = state.registry()?;
    // On the request's own task, as `/v1/search`: a suggestion takes 30–300 µs, the
    // blocking pool's hand-off as much again.
    let suggestions = registry.autocomplete(&query, limit, near);
    Ok(Json(AutocompleteBody {
        results: suggestions
            .iter()
            .map(|suggestion| SuggestionBody::new(registry, suggestion))
            .collect(),
    }))
}
