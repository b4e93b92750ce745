//! Operations: liveness, readiness, status and the OpenAPI document.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use utoipa::OpenApi;

use super::{AppError, AppState};

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/v1/status", get(status))
        .route("/openapi.json", get(openapi))
}

/// The OpenAPI 3.1 document of the whole API.
#[derive(Debug, OpenApi)]
#[openapi(
    info(
        title = "vmap",
        description = "Address codes for Vietnam: 5-digit postal zone + 7 characters of an Open Location Code grid cell (~3 m).",
        license(name = "Apache-2.0")
    ),
    paths(
        super::reverse::reverse_one,
        super::reverse::reverse_many,
        super::codes::lookup_one,
        super::codes::lookup_many,
        super::zones::zone_by_postcode,
        super::zones::zone_of_point,
        super::assign::assign_list,
        super::addresses::register,
        super::addresses::edit,
        super::addresses::retire,
        status,
        healthz,
        readyz,
    ),
    components(schemas(super::Problem, super::FieldError)),
    modifiers(&BearerSecurity),
    tags(
        (name = "reverse", description = "Coordinate → nearest codes"),
        (name = "codes", description = "Code → address or cell"),
        (name = "zones", description = "Postal zones"),
        (name = "assign", description = "Codes for whole address lists"),
        (name = "addresses", description = "Register, move, edit, retire one address"),
        (name = "ops", description = "Health, readiness, status"),
    )
)]
pub struct ApiDoc;

/// Declares the bearer scheme the write endpoints name.
#[derive(Debug)]
struct BearerSecurity;

impl utoipa::Modify for BearerSecurity {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "ops", responses((status = 200, description = "Alive", body = String, example = "ok")))]
pub(super) async fn healthz() -> &'static str {
    "ok"
}

/// Readiness: the index is loaded and the database is available.
///
/// While the database is away the answer is 503 `database_unavailable` (degraded): answers
/// from memory (reverse, zones, status) go on, what needs the database answers 503.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "ops",
    responses(
        (status = 200, description = "Ready", body = String, example = "ready"),
        (status = 503, description = "Still loading (`not_ready`), or degraded: the database is unavailable (`database_unavailable`)", body = super::Problem, content_type = "application/problem+json"),
    )
)]
pub(super) async fn readyz(
    State(state): State<AppState>,
) -> Result<(StatusCode, &'static str), AppError> {
    if let Some(outage) = state.registry()?.database_outage() {
        return Err(AppError::DatabaseUnavailable(outage.reason));
    }
    Ok((StatusCode::OK, "ready"))
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct StatusBody {
    /// vmap's version.
    #[schema(example = "0.1.0")]
    pub version: String,
    /// Changes whenever any address does (the highest change sequence).
    #[schema(example = 1000000)]
    pub data_version: i64,
    #[schema(example = 1000000)]
    pub active_addresses: u64,
    #[schema(example = 0)]
    pub retired_addresses: u64,
    /// Points in the in-memory index (active and retired).
    #[schema(example = 1000000)]
    pub index_size: u64,
    #[schema(example = 9811)]
    pub zones: u64,
    /// Seconds it took to load the registry and build the index.
    #[schema(example = 2.5)]
    pub index_build_seconds: f64,
    /// Where the index came from at start-up: `snapshot` (the snapshot file, then the
    /// changes made since) or `database` (every row read).
    #[schema(example = "snapshot")]
    pub index_source: &'static str,
}

/// Data version, counts and index figures.
#[utoipa::path(
    get,
    path = "/v1/status",
    tag = "ops",
    responses(
        (status = 200, description = "Registry status", body = StatusBody),
        (status = 503, description = "Still loading", body = super::Problem, content_type = "application/problem+json"),
    )
)]
pub(super) async fn status(State(state): State<AppState>) -> Result<Json<StatusBody>, AppError> {
    let status = state.registry()?.status();
    Ok(Json(StatusBody {
        version: env!("CARGO_PKG_VERSION").to_owned(),
        data_version: status.data_version,
        active_addresses: status.n_active,
        retired_addresses: status.n_retired,
        index_size: status.n_indexed,
        zones: status.n_zones,
        index_build_seconds: status.build_duration.as_secs_f64(),
        index_source: if status.from_snapshot {
            "snapshot"
        } else {
            "database"
        },
    }))
}

async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
