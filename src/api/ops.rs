//! Operations: liveness, readiness, status and the OpenAPI document.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use utoipa::OpenApi;

use super::patterns::Patterns;
use super::{AppError, AppState};

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/v1/status", get(status))
        .route("/openapi.json", get(openapi))
        .route("/metrics", get(super::metrics::metrics_text))
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
        super::reverse_batch::reverse_many,
        super::codes::lookup_one,
        super::codes::lookup_many,
        super::zones::zone_by_postcode,
        super::zones::zone_of_point,
        super::admin::provinces,
        super::admin::wards,
        super::admin::ward_boundary,
        super::parse::parse_one,
        super::search::search,
        super::autocomplete::autocomplete,
        super::geocode::geocode_many,
        super::convert::convert_many,
        super::assign::assign_list,
        super::bbox::addresses_in_box,
        super::addresses::register,
        super::addresses::edit,
        super::addresses::retire,
        status,
        healthz,
        readyz,
        super::metrics::metrics_text,
    ),
    components(schemas(
        super::Problem,
        super::FieldError,
        super::admin::FormatParam,
        super::geojson::AnswerFormat,
        super::reverse_batch::BatchFormat,
    )),
    modifiers(&BearerSecurity, &Patterns),
    tags(
        (name = "reverse", description = "Coordinate → nearest codes"),
        (name = "codes", description = "Code → address or cell"),
        (name = "zones", description = "Postal zones"),
        (name = "admin", description = "The two administrative maps: provinces, wards, 2025 ward boundaries"),
        (name = "parse", description = "Address text → house number, alley, street and units in both maps; conversion between the maps"),
        (name = "search", description = "Address text → registered addresses (forward geocoding); completions as it is typed"),
        (name = "assign", description = "Codes for whole address lists"),
        (name = "addresses", description = "The addresses of a box (GeoJSON); register, move, edit, retire one address"),
        (name = "ops", description = "Health, readiness, status, Prometheus metrics"),
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

/// Readiness: the index is loaded, the database is available and the server is not
/// draining.
///
/// While the database is away the answer is 503 `database_unavailable` (degraded): answers
/// from memory (reverse, zones, status) go on, what needs the database answers 503.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "ops",
    responses(
        (status = 200, description = "Ready", body = String, example = "ready"),
        (status = 503, description = "Still loading (`not_ready`), draining before exit (`shutting_down`), or degraded: the database is unavailable (`database_unavailable`)", body = super::Problem, content_type = "application/problem+json"),
    )
)]
pub(super) async fn readyz(
    State(state): State<AppState>,
) -> Result<(StatusCode, &'static str), AppError> {
    // The drain middleware answers first; this holds for a router without it too.
    if state.drain.is_draining() {
        return Err(AppError::ShuttingDown);
    }
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

async fn openapi(State(state): State<AppState>) -> Json<utoipa::openapi::OpenApi> {
    Json(document_for(&state))
}

/// The OpenAPI document as this server answers: write operations declare the bearer scheme
/// only when the server has tokens, and on a read-only server they say they are
/// unavailable (`x-unavailable`, a 403 response) — except an assign dry run.
pub fn document_for(state: &AppState) -> utoipa::openapi::OpenApi {
    use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
    let mut document = ApiDoc::openapi();
    for (path, item) in &mut document.paths.paths {
        let writes = [
            &mut item.post,
            &mut item.put,
            &mut item.patch,
            &mut item.delete,
        ];
        // The write operations are the ones that declare the bearer scheme.
        for operation in writes.into_iter().flatten() {
            if operation.security.is_none() {
                continue;
            }
            if !state.writes_need_token() {
                operation.security = None;
            }
            if !state.is_read_only() {
                continue;
            }
            let dry_run_only = path == "/v1/assign";
            let note = if dry_run_only {
                "Unavailable on this server, which is read-only, except with `dry_run=true`."
            } else {
                "Unavailable on this server, which is read-only: answers 403."
            };
            let description = operation.description.take().unwrap_or_default();
            operation.description = Some(format!("{note}\n\n{description}").trim().to_owned());
            let extensions = operation.extensions.get_or_insert_with(Default::default);
            extensions.insert(
                "x-unavailable".to_owned(),
                serde_json::Value::String(
                    if dry_run_only {
                        "except dry_run"
                    } else {
                        "read-only"
                    }
                    .to_owned(),
                ),
            );
            let forbidden = ResponseBuilder::new()
                .description("The server is read-only")
                .content(
                    "application/problem+json",
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("Problem")))
                        .build(),
                )
                .build();
            operation
                .responses
                .responses
                .insert("403".to_owned(), forbidden.into());
        }
    }
    if !state.writes_need_token()
        && let Some(components) = document.components.as_mut()
    {
        components.security_schemes.remove("bearer");
    }
    document
}
