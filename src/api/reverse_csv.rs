//! `POST /v1/reverse` as CSV: a row per address found, so a spreadsheet or a GIS tool takes
//! the answer as it is.
//!
//! Decisions: one row per address (`rank` 1, 2, …) rather than numbered column groups, so
//! the columns do not depend on `limit`; a point with no address within the radius still
//! has its row, with the address columns empty, so no point goes missing. `id` is the
//! client's string as it was, any other JSON value as its JSON text. The zone's columns
//! are its postcode and, with `zones=inline`, both maps' names (the zone's own, the 2025
//! ward and province, the legacy ward, district and province).

use super::reverse_batch::{BatchResult, Fields, ZonesMode};
use crate::assign::format::safe_cell;

/// The zone's columns with `zones=inline`, after `zone_postcode`.
const INLINE_ZONE_COLUMNS: [&str; 13] = [
    "zone_method",
    "ward_code",
    "ward",
    "district",
    "province",
    "ward_2025_code",
    "ward_2025",
    "province_2025",
    "postcode_2025",
    "legacy_ward_code",
    "legacy_ward",
    "legacy_district",
    "legacy_province",
];

/// The header line (with its `\n`) of an answer shaped by `fields` and `zones`.
pub(super) fn header(fields: Fields, zones: ZonesMode, csv_safe: bool) -> Vec<u8> {
    let mut columns = vec!["id"];
    if fields.query {
        columns.extend(["query_lat", "query_lon"]);
    }
    if fields.addresses() {
        columns.push("rank");
    }
    for (shown, column) in [
        (fields.code, "code"),
        (fields.postcode, "postcode"),
        (fields.lat, "lat"),
        (fields.lon, "lon"),
        (fields.distance_m, "distance_m"),
        (fields.grid_code, "grid_code"),
        (fields.zone, "zone_postcode"),
    ] {
        if shown {
            columns.push(column);
        }
    }
    if fields.zone && zones == ZonesMode::Inline {
        columns.extend(INLINE_ZONE_COLUMNS);
    }
    let mut writer = csv::Writer::from_writer(Vec::new());
    // Writing to a Vec cannot fail; an empty header would only drop the line.
    let _ = writer.write_record(
        columns
            .iter()
            .map(|cell| safe_cell(cell.as_bytes(), csv_safe)),
    );
    writer.into_inner().unwrap_or_default()
}

/// The rows of one point's answer, each with its `\n`.
pub(super) fn rows(result: &BatchResult<'_>, csv_safe: bool) -> Result<Vec<u8>, csv::Error> {
    let fields = result.fields;
    let id = match result.id {
        None => String::new(),
        Some(serde_json::Value::String(text)) => text.clone(),
        Some(other) => other.to_string(),
    };
    let mut point_cells = vec![id];
    if fields.query {
        point_cells.extend([result.point.lat.to_string(), result.point.lon.to_string()]);
    }
    let zone_cells = zone_cells(result);
    let grid_code = result
        .answer
        .grid_code
        .map(|code| code.to_string())
        .unwrap_or_default();
    let mut writer = csv::Writer::from_writer(Vec::with_capacity(256));
    let mut write = |address: Option<(usize, &crate::registry::NearbyAddress)>| {
        let mut cells = point_cells.clone();
        if fields.addresses() {
            cells.push(
                address
                    .map(|(rank, _)| rank.to_string())
                    .unwrap_or_default(),
            );
        }
        let address = address.map(|(_, address)| address);
        for (shown, cell) in [
            (fields.code, address.map(|a| a.code.to_string())),
            (fields.postcode, address.map(|a| a.postcode.to_string())),
            (fields.lat, address.map(|a| a.lat.to_string())),
            (fields.lon, address.map(|a| a.lon.to_string())),
            (fields.distance_m, address.map(|a| a.distance_m.to_string())),
        ] {
            if shown {
                cells.push(cell.unwrap_or_default());
            }
        }
        if fields.grid_code {
            cells.push(grid_code.clone());
        }
        cells.extend(zone_cells.iter().cloned());
        writer.write_record(
            cells
                .iter()
                .map(|cell| safe_cell(cell.as_bytes(), csv_safe)),
        )
    };
    if !fields.addresses() || result.answer.addresses.is_empty() {
        write(None)?;
    } else {
        for (rank, address) in result.answer.addresses.iter().enumerate() {
            write(Some((rank + 1, address)))?;
        }
    }
    writer
        .into_inner()
        .map_err(|error| csv::Error::from(error.into_error()))
}

/// `zone_postcode` and, inline, [`INLINE_ZONE_COLUMNS`]; empty cells outside coverage.
fn zone_cells(result: &BatchResult<'_>) -> Vec<String> {
    if !result.fields.zone {
        return Vec::new();
    }
    let inline = result.zones == ZonesMode::Inline;
    let width = if inline {
        1 + INLINE_ZONE_COLUMNS.len()
    } else {
        1
    };
    if !inline {
        return vec![result.postcode().unwrap_or_default()];
    }
    let Some(zone) = result.zone_body() else {
        return vec![String::new(); width];
    };
    let method = zone
        .method
        .and_then(|method| serde_json::to_value(method).ok())
        .and_then(|value| value.as_str().map(str::to_owned))
        .unwrap_or_default();
    let (ward_2025_code, ward_2025, province_2025, postcode_2025) = match &zone.admin_2025 {
        Some(admin) => (
            admin.ward.code.clone(),
            admin.ward.name.clone(),
            admin.province.name.clone(),
            admin.postcode.clone().unwrap_or_default(),
        ),
        None => Default::default(),
    };
    let (legacy_ward_code, legacy_ward, legacy_district, legacy_province) = match &zone.legacy {
        Some(legacy) => (
            legacy.ward.code.clone(),
            legacy.ward.name.clone(),
            legacy.district.name.clone(),
            legacy.province.name.clone(),
        ),
        None => Default::default(),
    };
    vec![
        zone.postcode,
        method,
        zone.ward_code,
        zone.ward,
        zone.district,
        zone.province,
        ward_2025_code,
        ward_2025,
        province_2025,
        postcode_2025,
        legacy_ward_code,
        legacy_ward,
        legacy_district,
        legacy_province,
    ]
}
