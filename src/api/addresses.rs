//! `POST /v1/addresses`, `PATCH` and `DELETE /v1/addresses/{code}`: one address at a time.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{patch, post};
use axum::{Json, Router};
use serde::{Deserialize, Deserializer, Serialize};

use super::bodies::{AddressBody, AddressStatusBody, LatLonBody};
use super::{ApiJson, AppError, AppState, FieldError};
use crate::address::{self, Address, AddressChange, AddressParts, InputError};
use crate::assign::RowErrorCode;
use crate::code::VmapCode;
use crate::point::LatLon;
use crate::registry::{AssignOptions, AssignOutcome, AssignRow};

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/addresses", post(register))
        .route("/v1/addresses/{code}", patch(edit).delete(retire))
}

/// A new address.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    #[schema(example = 21.0285, minimum = -90.0, maximum = 90.0)]
    pub lat: f64,
    #[schema(example = 105.8542, minimum = -180.0, maximum = 180.0)]
    pub lon: f64,
    #[schema(example = "12")]
    pub house_number: Option<String>,
    pub alley: Option<String>,
    #[schema(example = "Phố Hàng Bạc")]
    pub street: Option<String>,
    pub unit: Option<String>,
    pub address: Option<String>,
    /// Your own reference for the address.
    pub client_ref: Option<String>,
}

/// A registered address.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AddressResponse {
    #[schema(example = "110072VJ3CR5")]
    pub code: String,
    #[schema(example = "11007 2VJ3 CR5")]
    pub pretty: String,
    /// `created` or `existing` for a registration; the address's state otherwise.
    #[schema(example = "created")]
    pub outcome: String,
    pub status: AddressStatusBody,
    pub location: LatLonBody,
    /// Distance to the registered address that is the same place (`existing` only).
    pub distance_m: Option<f64>,
    pub address: Option<AddressBody>,
    pub successor: Option<String>,
}

impl AddressResponse {
    fn from_row(row: Address, outcome: &str) -> AddressResponse {
        AddressResponse {
            code: row.code.canonical(),
            pretty: row.code.pretty(),
            outcome: outcome.to_owned(),
            status: row.status.into(),
            location: row.location.into(),
            distance_m: None,
            address: Some(AddressBody::from(row.parts)),
            successor: row.successor.map(|code| code.canonical()),
        }
    }
}

fn parse_code(code: &str) -> Result<VmapCode, AppError> {
    VmapCode::parse(super::patterns::url_text("code", code)?)
        .map_err(|error| AppError::bad_code("code", &error))
}

/// Register one address: answers 201 with a new code, or 200 with the code of the same
/// place when it is already registered.
#[utoipa::path(
    post,
    path = "/v1/addresses",
    tag = "addresses",
    request_body = RegisterRequest,
    responses(
        (status = 201, description = "Registered under a new code", body = AddressResponse),
        (status = 200, description = "The same place is already registered", body = AddressResponse),
        (status = 401, description = "Missing or wrong bearer token", body = super::Problem, content_type = "application/problem+json"),
        (status = 400, description = "Malformed JSON", body = super::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid field, or outside coverage", body = super::Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body larger than the limit", body = super::Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not JSON", body = super::Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable (`database_unavailable`; see `Retry-After`), or the index is still loading", body = super::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub(super) async fn register(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<RegisterRequest>,
) -> Result<(StatusCode, Json<AddressResponse>), AppError> {
    let registry = state.registry()?;
    let parts = AddressParts {
        house_number: request.house_number,
        alley: request.alley,
        street: request.street,
        unit: request.unit,
        address: request.address,
        client_ref: request.client_ref,
    };
    let row = LatLon::new(request.lat, request.lon)
        .map_err(InputError::OutOfRange)
        .and_then(|location| {
            address::check_lengths(parts.named(), state.limits.max_field_chars)?;
            Ok(AssignRow { location, parts })
        })
        .map_err(|error| {
            let code = RowErrorCode::from(&error);
            AppError::invalid_fields(vec![FieldError::new(
                error.field(),
                code.as_str(),
                error.to_string(),
            )])
        })?;
    let outcomes = registry
        .assign_batch(std::slice::from_ref(&row), AssignOptions::default())
        .await?;
    let (code, outcome, distance_m) = match outcomes.into_iter().next() {
        Some(AssignOutcome::Created { code }) => (code, "created", None),
        Some(AssignOutcome::Existing { code, distance_m }) => (code, "existing", Some(distance_m)),
        Some(AssignOutcome::Failed(failure)) => {
            let code = RowErrorCode::from(&failure);
            return Err(AppError::invalid_fields(vec![FieldError::new(
                "lat",
                code.as_str(),
                failure.to_string(),
            )]));
        }
        None => {
            return Err(AppError::Internal(
                "registration answered nothing".to_owned(),
            ));
        }
    };
    let stored = registry
        .address(code)
        .await?
        .ok_or_else(|| AppError::Internal(format!("registered code {code} not found")))?;
    let mut response = AddressResponse::from_row(stored, outcome);
    response.distance_m = distance_m;
    let status = if outcome == "created" {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(response)))
}

/// JSON merge-patch for one text field: absent leaves it, `null` clears it.
fn present<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(deserializer).map(Some)
}

/// A change to an address (JSON merge patch: absent fields stay, `null` clears).
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EditRequest {
    /// New latitude (with `lon`): a corrected coordinate. The code stays.
    #[schema(example = 21.02851, minimum = -90.0, maximum = 90.0)]
    pub lat: Option<f64>,
    #[schema(example = 105.85421, minimum = -180.0, maximum = 180.0)]
    pub lon: Option<f64>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub house_number: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub alley: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub street: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub unit: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub address: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub client_ref: Option<Option<String>>,
}

/// Move (a corrected coordinate) or edit an address; its code stays. A move beyond what a
/// code of the address's zone can reach (0.45° from its reference point) is refused.
#[utoipa::path(
    patch,
    path = "/v1/addresses/{code}",
    tag = "addresses",
    params(("code" = String, Path, description = "The address's code", example = "110072VJ3CR5")),
    request_body = EditRequest,
    responses(
        (status = 200, description = "The address after the change", body = AddressResponse),
        (status = 400, description = "Malformed code or JSON", body = super::Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or wrong bearer token", body = super::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No address holds the code", body = super::Problem, content_type = "application/problem+json"),
        (status = 409, description = "The address is retired", body = super::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid field, or a move outside coverage or beyond what the code can reach (`too_far_from_reference`, naming `lat` and `lon`)", body = super::Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body larger than the limit", body = super::Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not JSON", body = super::Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable (`database_unavailable`; see `Retry-After`), or the index is still loading", body = super::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub(super) async fn edit(
    State(state): State<AppState>,
    Path(code): Path<String>,
    ApiJson(request): ApiJson<EditRequest>,
) -> Result<Json<AddressResponse>, AppError> {
    let registry = state.registry()?;
    let code = parse_code(&code)?;
    let mut errors = Vec::new();
    let location = match (request.lat, request.lon) {
        (None, None) => None,
        (Some(lat), Some(lon)) => match LatLon::new(lat, lon) {
            Ok(point) => Some(point),
            Err(error) => {
                errors.push(FieldError::new(
                    error.field(),
                    "out_of_range",
                    error.to_string(),
                ));
                None
            }
        },
        (Some(_), None) => {
            errors.push(FieldError::new(
                "lon",
                "missing",
                "a move needs both lat and lon",
            ));
            None
        }
        (None, Some(_)) => {
            errors.push(FieldError::new(
                "lat",
                "missing",
                "a move needs both lat and lon",
            ));
            None
        }
    };
    let change = AddressChange {
        location,
        house_number: request.house_number,
        alley: request.alley,
        street: request.street,
        unit: request.unit,
        address: request.address,
        client_ref: request.client_ref,
        ..AddressChange::default()
    };
    for error in address::too_long(change.named_texts(), state.limits.max_field_chars) {
        errors.push(FieldError::new(
            error.field(),
            RowErrorCode::from(&error).as_str(),
            error.to_string(),
        ));
    }
    if !errors.is_empty() {
        return Err(AppError::invalid_fields(errors));
    }
    if let Some(point) = location
        && registry.resolve_zone(point).is_none()
    {
        return Err(AppError::invalid_field(
            "lat",
            "outside_coverage",
            "the new coordinate is outside coverage",
        ));
    }
    let row = registry.update(code, change).await?;
    Ok(Json(AddressResponse::from_row(row, "updated")))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct RetireQuery {
    /// The code of the address that replaces this one.
    pub successor: Option<String>,
    /// `true` to replace the successor of an address retired already with another one
    /// (without it, that answers 409).
    #[param(value_type = Option<bool>)]
    pub replace_successor: Option<String>,
}

/// Retire an address: it leaves reverse answers at once; its code is never issued again and
/// still resolves, to the retired record and its successor. Retiring twice is harmless;
/// giving a retired address another successor than its own needs `replace_successor=true`.
#[utoipa::path(
    delete,
    path = "/v1/addresses/{code}",
    tag = "addresses",
    params(("code" = String, Path, description = "The address's code", example = "110072VJ3CR5"), RetireQuery),
    responses(
        (status = 200, description = "The retired address", body = AddressResponse),
        (status = 400, description = "Malformed code", body = super::Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or wrong bearer token", body = super::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No address holds the code", body = super::Problem, content_type = "application/problem+json"),
        (status = 409, description = "Retired already with another successor; `replace_successor=true` replaces it", body = super::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid successor or flag", body = super::Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable (`database_unavailable`; see `Retry-After`), or the index is still loading", body = super::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub(super) async fn retire(
    State(state): State<AppState>,
    Path(code): Path<String>,
    Query(query): Query<RetireQuery>,
) -> Result<Json<AddressResponse>, AppError> {
    let registry = state.registry()?;
    let code = parse_code(&code)?;
    let successor = match query
        .successor
        .as_deref()
        .map(|text| super::patterns::url_text("successor", text))
        .transpose()?
        .map(str::trim)
        .filter(|text| !text.is_empty())
    {
        None => None,
        Some(text) => {
            Some(VmapCode::parse(text).map_err(|error| AppError::bad_code("successor", &error))?)
        }
    };
    let replace_successor =
        super::assign::parse_flag("replace_successor", query.replace_successor.as_deref())?;
    let row = registry.retire(code, successor, replace_successor).await?;
    Ok(Json(AddressResponse::from_row(row, "retired")))
}
