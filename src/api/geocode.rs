//! `POST /v1/geocode`: many addresses' text → registered addresses, answered in input
//! order, streamed a chunk at a time (as `POST /v1/convert`).
//!
//! Decisions: an item is its text, or its parts (house number, alley, street, ward,
//! district, province), which are joined into one line the way an envelope writes them and
//! searched like `GET /v1/search?q=` — one reading of text whichever way it came. An item
//! that says nothing (no letter or digit) or is too long fails alone with an `error`; the
//! request fails only as a whole (413 over `--max-batch-items`, 422 for a bad `limit`).

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::routing::post;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::codes::ItemError;
use super::search::SearchResultBody;
use super::{ApiJson, AppError, AppState, FieldError, stream};
use crate::registry::Registry;

pub(super) fn router() -> Router<AppState> {
    Router::new().route("/v1/geocode", post(geocode_many))
}

/// Items geocoded together, one chunk of the streamed answer.
const ITEMS_PER_CHUNK: usize = 1_024;
const MAX_LIMIT: usize = 20;

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = GeocodeRequest)]
pub struct GeocodeRequest {
    /// Up to `--max-batch-items` (10 000) addresses.
    #[schema(example = json!([
        {"id": "o-1", "text": "9 ngõ 30 Bùi Thị Xuân, Hai Bà Trưng, Hà Nội"},
        {"id": "o-2", "house_number": "12", "street": "Lê Văn Sỹ", "ward": "Phường 13", "district": "Quận Phú Nhuận", "province": "TP.HCM"}
    ]))]
    pub addresses: Vec<GeocodeInput>,
    /// Results per address, 1–20 (default 1); a whole number (`3.0` too).
    #[serde(default, deserialize_with = "super::reverse::whole_number")]
    #[schema(minimum = 1, maximum = 20)]
    pub limit: Option<usize>,
}

/// One address: its text, or its parts.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = GeocodeInput)]
pub struct GeocodeInput {
    /// The client's reference, echoed.
    pub id: Option<String>,
    pub text: Option<String>,
    pub house_number: Option<String>,
    pub alley: Option<String>,
    pub street: Option<String>,
    pub ward: Option<String>,
    pub district: Option<String>,
    pub province: Option<String>,
}

impl GeocodeInput {
    /// The text searched: `text`, else the parts joined ("12 Ngõ 3 Phố Huế, Phường …").
    pub(super) fn line(&self) -> String {
        if let Some(text) = &self.text {
            return text.clone();
        }
        crate::geocode::parts_line(
            [&self.house_number, &self.alley, &self.street],
            [&self.ward, &self.district, &self.province],
        )
    }
}

/// One address's answer.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = GeocodeItem)]
pub struct GeocodeItem {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The text searched.
    pub input: String,
    /// Best first; empty when nothing matched or on error.
    pub results: Vec<SearchResultBody>,
    pub ambiguous: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ItemError>,
}

/// The answer: one item per address, in input order.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = GeocodeResponse)]
pub struct GeocodeResponse {
    pub results: Vec<GeocodeItem>,
}

/// Finds registered addresses for many texts at once, answered in input order.
///
/// Each address is searched as `GET /v1/search` does. Give `text`, or the parts.
#[utoipa::path(
    post,
    path = "/v1/geocode",
    tag = "search",
    request_body = GeocodeRequest,
    responses(
        (status = 200, description = "One item per address, in input order; an address that fails has `error`", body = GeocodeResponse),
        (status = 400, description = "Malformed JSON", body = super::Problem, content_type = "application/problem+json"),
        (status = 413, description = "Too many addresses, or body too large", body = super::Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not JSON", body = super::Problem, content_type = "application/problem+json"),
        (status = 422, description = "limit not valid", body = super::Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many batch requests at once (`too_busy`; see `Retry-After`)", body = super::Problem, content_type = "application/problem+json"),
        (status = 503, description = "Still loading", body = super::Problem, content_type = "application/problem+json"),
    )
)]
pub(super) async fn geocode_many(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<GeocodeRequest>,
) -> Result<axum::response::Response, AppError> {
    let deadline = tokio::time::Instant::now() + state.limits.request_timeout;
    let registry = state.registry()?.clone();
    let max = state.limits.max_batch_items;
    if request.addresses.len() > max {
        return Err(AppError::TooLarge(format!(
            "addresses: {} addresses sent, at most {max} per request",
            request.addresses.len()
        )));
    }
    let limit = request.limit.unwrap_or(1);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(AppError::invalid_fields(vec![FieldError::new(
            "limit",
            "out_of_range",
            format!("limit must be between 1 and {MAX_LIMIT}"),
        )]));
    }
    let settings = Settings {
        limit,
        max_chars: state.limits.max_parse_chars,
    };
    let permit = state.batch_permit()?;
    stream::answer_in_chunks(
        deadline,
        permit,
        request.addresses,
        ITEMS_PER_CHUNK,
        "geocoding",
        move |chunk| geocode_chunk(Arc::clone(&registry), chunk, settings),
    )
    .await
}

#[derive(Debug, Clone, Copy)]
struct Settings {
    limit: usize,
    max_chars: usize,
}

/// Geocodes a chunk on the blocking pool; each item as JSON.
async fn geocode_chunk(
    registry: Arc<Registry>,
    chunk: Vec<GeocodeInput>,
    settings: Settings,
) -> Result<Vec<Vec<u8>>, AppError> {
    tokio::task::spawn_blocking(move || {
        chunk
            .into_par_iter()
            .map(|input| {
                let item = geocode_one(&registry, input, settings);
                serde_json::to_vec(&item)
                    .map_err(|error| AppError::Internal(format!("geocode answer: {error}")))
            })
            .collect::<Result<Vec<_>, _>>()
    })
    .await
    .map_err(|error| AppError::Internal(format!("geocode task: {error}")))?
}

fn geocode_one(registry: &Registry, input: GeocodeInput, settings: Settings) -> GeocodeItem {
    let line = input.line();
    let failed = |code: &str, message: String| GeocodeItem {
        id: input.id.clone(),
        input: line.clone(),
        results: Vec::new(),
        ambiguous: false,
        error: Some(ItemError {
            code: code.to_owned(),
            message,
        }),
    };
    if !line.chars().any(char::is_alphanumeric) {
        return failed(
            "blank",
            "the address holds no letter or digit: give text or its parts".to_owned(),
        );
    }
    if line.chars().nth(settings.max_chars).is_some() {
        let max = settings.max_chars;
        return failed(
            "too_long",
            format!("the address is longer than {max} characters"),
        );
    }
    let answer = registry.search(&line, settings.limit, None);
    let body = super::search::SearchBody::new(registry, answer);
    GeocodeItem {
        id: input.id,
        input: line,
        results: body.results,
        ambiguous: body.ambiguous,
        error: None,
    }
}
