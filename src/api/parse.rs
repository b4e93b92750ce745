//! `GET /v1/parse?q=`: an address read against both administrative maps, in the shape of
//! DESIGN §9 (units `{"code","name","type"}`, `legacy` with its postal code, `admin_2025`,
//! `structure`, `confidence`, `ambiguous`, `alternatives`, `unused`).
//!
//! Decisions: beyond §9 a reading also carries `hamlet` (Tổ, Khu phố, Ấp, Thôn…, what the
//! parser reads below the ward), `admin_2025.postcode` (the 2025 ward's QĐ 2334 number,
//! the twin of `legacy.postcode`) and `conflicts` (units written with their marker that the
//! answer contradicts): extra keys a §9 client ignores. An alternative is the same object
//! without `alternatives`. Text that reads as nothing is a 200 with nothing resolved, not
//! an error: only a missing `q` or one longer than `--max-parse-chars` is a 422.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;

use super::admin::AdminUnitBody;
use super::{AppError, AppState, FieldError, Params};
use crate::admin::{AdminMaps, UnitId};
use crate::parse::{Conflict, Parse, Reading, Structure};

pub(super) fn router() -> Router<AppState> {
    Router::new().route("/v1/parse", get(parse_one))
}

/// Which map's form the address was written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(as = ParseStructure)]
pub enum StructureBody {
    /// Legacy units: ward, district, province.
    #[serde(rename = "legacy")]
    Legacy,
    /// A 2025 ward and its province, no district.
    #[serde(rename = "2025")]
    Y2025,
    /// Units of both maps together ("Phường Sài Gòn, Quận 1").
    #[serde(rename = "mixed")]
    Mixed,
    /// No ward or district was read.
    #[serde(rename = "unknown")]
    Unknown,
}

impl From<Structure> for StructureBody {
    fn from(structure: Structure) -> StructureBody {
        match structure {
            Structure::Legacy => StructureBody::Legacy,
            Structure::Y2025 => StructureBody::Y2025,
            Structure::Mixed => StructureBody::Mixed,
            Structure::Unknown => StructureBody::Unknown,
        }
    }
}

/// The address in the legacy map (63 provinces, districts; until 30 June 2025).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = ParsedLegacy)]
pub struct ParsedLegacyBody {
    pub province: Option<AdminUnitBody>,
    pub district: Option<AdminUnitBody>,
    pub ward: Option<AdminUnitBody>,
    /// The legacy ward's Quyết định 2475 postal code.
    #[schema(example = "11007")]
    pub postcode: Option<String>,
}

/// The address in the 2025 map (34 provinces, no districts).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = Parsed2025)]
pub struct Parsed2025Body {
    pub province: Option<AdminUnitBody>,
    pub ward: Option<AdminUnitBody>,
    /// The 2025 ward's Quyết định 2334 postal code.
    #[schema(example = "10000")]
    pub postcode: Option<String>,
}

/// Which map a unit belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(as = AdminMap)]
pub enum AdminMapBody {
    #[serde(rename = "legacy")]
    Legacy,
    #[serde(rename = "2025")]
    Y2025,
}

/// A unit written with its marker ("Quận 3") that the answer contradicts.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = ParseConflict)]
pub struct ConflictBody {
    /// As written.
    #[schema(example = "Quận 3")]
    pub text: String,
    pub unit: AdminUnitBody,
    pub map: AdminMapBody,
}

/// One reading of an address.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = ParseReading)]
pub struct ReadingBody {
    /// The text as sent.
    pub query: String,
    pub structure: StructureBody,
    #[schema(example = "12A")]
    pub house_number: Option<String>,
    #[schema(example = "Ngõ 34")]
    pub alley: Option<String>,
    #[schema(example = "Phố Huế")]
    pub street: Option<String>,
    /// Below the ward: "Tổ 5", "Khu phố 3", "Ấp Tân Hòa", "Thôn 2".
    pub hamlet: Option<String>,
    pub legacy: ParsedLegacyBody,
    pub admin_2025: Parsed2025Body,
    #[schema(minimum = 0.0, maximum = 1.0)]
    pub confidence: f64,
    /// Another reading of a different place is as good as this one, or a unit written
    /// contradicts it (see `conflicts`).
    pub ambiguous: bool,
    pub conflicts: Vec<ConflictBody>,
    /// Text nothing explained.
    pub unused: Vec<String>,
}

/// An address read against both maps: the best reading, and the others, next best first.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = ParseAnswer)]
pub struct ParseBody {
    #[serde(flatten)]
    pub reading: ReadingBody,
    pub alternatives: Vec<ReadingBody>,
}

impl ParseBody {
    pub fn new(maps: &AdminMaps, parse: &Parse) -> ParseBody {
        ParseBody {
            reading: ReadingBody::new(maps, &parse.query, &parse.reading),
            alternatives: parse
                .alternatives
                .iter()
                .map(|reading| ReadingBody::new(maps, &parse.query, reading))
                .collect(),
        }
    }
}

impl ReadingBody {
    pub fn new(maps: &AdminMaps, query: &str, reading: &Reading) -> ReadingBody {
        let unit = |id: UnitId| AdminUnitBody::from(maps.unit(id));
        let legacy = &reading.legacy;
        let current = &reading.admin_2025;
        ReadingBody {
            query: query.to_owned(),
            structure: reading.structure.into(),
            house_number: reading.house_number.clone(),
            alley: reading.alley.clone(),
            street: reading.street.clone(),
            hamlet: reading.hamlet.clone(),
            legacy: ParsedLegacyBody {
                province: legacy.province.map(|id| unit(UnitId::LegacyProvince(id))),
                district: legacy.district.map(|id| unit(UnitId::LegacyDistrict(id))),
                ward: legacy.ward.map(|id| unit(UnitId::LegacyWard(id))),
                postcode: legacy.postcode.map(|postcode| postcode.to_string()),
            },
            admin_2025: Parsed2025Body {
                province: current.province.map(|id| unit(UnitId::Province(id))),
                ward: current.ward.map(|id| unit(UnitId::Ward(id))),
                postcode: current
                    .ward
                    .and_then(|id| maps.ward(id).postcode)
                    .map(|postcode| postcode.to_string()),
            },
            // The parser scores in f32: four decimals say all it knows (0.95, not
            // 0.949999988079071).
            confidence: (reading.confidence.clamp(0.0, 1.0) * 10_000.0).round() / 10_000.0,
            ambiguous: reading.ambiguous,
            conflicts: reading
                .conflicts
                .iter()
                .map(|conflict| ConflictBody::new(maps, conflict))
                .collect(),
            unused: reading.unused.clone(),
        }
    }
}

impl ConflictBody {
    fn new(maps: &AdminMaps, conflict: &Conflict) -> ConflictBody {
        ConflictBody {
            text: conflict.text.clone(),
            unit: maps.unit(conflict.unit).into(),
            map: if conflict.unit.is_legacy() {
                AdminMapBody::Legacy
            } else {
                AdminMapBody::Y2025
            },
        }
    }
}

/// Reads one address: house number, alley, street, and the units in both maps.
///
/// Marks are optional, case is ignored, NFD is composed; units in any order, abbreviated
/// ("P.", "Q10", "TP.HCM"), one letter wrong in a name of 5+ letters; legacy and 2025
/// names together are resolved and contradictions reported in `conflicts`.
#[utoipa::path(
    get,
    path = "/v1/parse",
    tag = "parse",
    params(
        ("q" = String, Query, description = "The address text (at most --max-parse-chars characters)", example = "12/3 Hẻm 45 Lê Văn Sỹ, P.13, Q. Phú Nhuận, TP.HCM"),
    ),
    responses(
        (status = 200, description = "The best reading and its alternatives; text that names nothing reads as nothing resolved", body = ParseBody),
        (status = 400, description = "A query parameter given more than once", body = super::Problem, content_type = "application/problem+json"),
        (status = 422, description = "q missing or too long", body = super::Problem, content_type = "application/problem+json"),
        (status = 503, description = "Still loading", body = super::Problem, content_type = "application/problem+json"),
    )
)]
pub(super) async fn parse_one(
    State(state): State<AppState>,
    params: Params,
) -> Result<Json<ParseBody>, AppError> {
    let Some(query) = params.text("q") else {
        return Err(AppError::invalid_fields(vec![FieldError::new(
            "q",
            "missing",
            "q is required: the address text to read",
        )]));
    };
    check_query_length("q", query, state.limits.max_parse_chars)?;
    let registry = state.registry()?;
    let map = registry
        .zones()
        .map_2025()
        .ok_or_else(|| AppError::NotFound("this server runs without the 2025 map".to_owned()))?;
    let parse = map.parser().parse(query);
    Ok(Json(ParseBody::new(map.admin(), &parse)))
}

/// 422 `too_long` naming `field` when the text has more than `max_chars` characters.
pub(super) fn check_query_length(
    field: &str,
    text: &str,
    max_chars: usize,
) -> Result<(), AppError> {
    if text.chars().nth(max_chars).is_some() {
        return Err(AppError::invalid_fields(vec![FieldError::new(
            field,
            "too_long",
            format!("{field} is longer than {max_chars} characters"),
        )]));
    }
    Ok(())
}
