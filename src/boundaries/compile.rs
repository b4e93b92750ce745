//! GeoJSON sequence (one Feature per line) → boundary file.

use std::io::{BufRead, Write};

use geo::{GeodesicArea, Orient, orient::Direction};
use rayon::prelude::*;
use serde_json::Value;

use super::format::{self, UNITS_PER_DEGREE};
use super::{BoundaryError, RawWard, WardSummary, reference, to_degrees};

/// What [`compile`] wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct CompileSummary {
    pub n_wards: usize,
    pub n_parts: usize,
    pub n_rings: usize,
    /// Vertices as GeoJSON counts them (closing vertices included), after dropping repeats.
    pub n_vertices: usize,
    /// Consecutive repeated vertices dropped.
    pub n_repeated_vertices_dropped: usize,
    pub n_bytes: usize,
}

/// Reads a GeoJSON sequence of ward Features (properties `ward_code`, `province_code`,
/// `ward`; a `MultiPolygon` or `Polygon` with coordinates of at most 5 decimals) and writes
/// the boundary file: wards sorted by code, each with its geodesic area and reference point.
pub fn compile(
    geojsonseq: impl BufRead,
    mut out: impl Write,
) -> Result<CompileSummary, BoundaryError> {
    let mut wards: Vec<(usize, RawWard)> = Vec::new();
    let mut n_repeated_vertices_dropped = 0;
    for (line_idx, line) in geojsonseq.lines().enumerate() {
        let line_number = line_idx + 1;
        let line = line.map_err(|source| BoundaryError::Read {
            line: line_number,
            source,
        })?;
        // RFC 8142 sequences start each record with a record separator; accept both.
        let text = line.trim_start_matches('\u{1e}').trim();
        if text.is_empty() {
            continue;
        }
        let (ward, dropped) = parse_feature(text).map_err(|reason| BoundaryError::Input {
            line: line_number,
            reason,
        })?;
        n_repeated_vertices_dropped += dropped;
        wards.push((line_number, ward));
    }
    wards.sort_by_key(|(_, ward)| ward.ward_code);
    for pair in wards.windows(2) {
        if pair[0].1.ward_code == pair[1].1.ward_code {
            return Err(BoundaryError::Input {
                line: pair[1].0,
                reason: format!(
                    "ward code {:05} already appeared on line {}",
                    pair[1].1.ward_code, pair[0].0
                ),
            });
        }
    }
    let summarised: Vec<(RawWard, WardSummary)> = wards
        .into_par_iter()
        .map(|(_, ward)| {
            let summary = summarise(&ward)?;
            Ok((ward, summary))
        })
        .collect::<Result<_, BoundaryError>>()?;
    let bytes = format::encode(&summarised);
    out.write_all(&bytes).map_err(BoundaryError::Write)?;
    out.flush().map_err(BoundaryError::Write)?;
    let rings = summarised
        .iter()
        .flat_map(|(ward, _)| &ward.parts)
        .flatten();
    Ok(CompileSummary {
        n_wards: summarised.len(),
        n_parts: summarised.iter().map(|(ward, _)| ward.parts.len()).sum(),
        n_rings: rings.clone().count(),
        n_vertices: rings.map(|ring| ring.len() + 1).sum(),
        n_repeated_vertices_dropped,
        n_bytes: bytes.len(),
    })
}

fn summarise(ward: &RawWard) -> Result<WardSummary, BoundaryError> {
    let polygon = multi_polygon(ward);
    let reference = reference::choose(&polygon).map_err(|reason| BoundaryError::Reference {
        ward_code: format!("{:05}", ward.ward_code),
        reason,
    })?;
    Ok(WardSummary {
        area_m2: polygon.orient(Direction::Default).geodesic_area_unsigned(),
        reference_lon: reference.x(),
        reference_lat: reference.y(),
    })
}

fn multi_polygon(ward: &RawWard) -> geo::MultiPolygon<f64> {
    let ring = |ring: &Vec<[i32; 2]>| {
        geo::LineString::from(
            ring.iter()
                .chain(ring.first())
                .map(|&vertex| {
                    let [x, y] = to_degrees(vertex);
                    geo::coord! { x: x, y: y }
                })
                .collect::<Vec<_>>(),
        )
    };
    geo::MultiPolygon::new(
        ward.parts
            .iter()
            .filter_map(|part| {
                let (exterior, interiors) = part.split_first()?;
                Some(geo::Polygon::new(
                    ring(exterior),
                    interiors.iter().map(ring).collect(),
                ))
            })
            .collect(),
    )
}

/// One Feature line → the ward, and how many repeated vertices were dropped.
fn parse_feature(text: &str) -> Result<(RawWard, usize), String> {
    let feature: Value =
        serde_json::from_str(text).map_err(|error| format!("not a JSON object: {error}"))?;
    let property = |name: &str| {
        feature
            .pointer(&format!("/properties/{name}"))
            .and_then(Value::as_str)
            .ok_or_else(|| format!("properties.{name} is missing or not a string"))
    };
    let ward_code = digits(property("ward_code")?, 5, "ward_code")?;
    let province_code = digits(property("province_code")?, 2, "province_code")?;
    let name = property("ward")?.to_owned();
    let geometry_type = feature
        .pointer("/geometry/type")
        .and_then(Value::as_str)
        .ok_or("geometry.type is missing")?;
    let coordinates = feature
        .pointer("/geometry/coordinates")
        .and_then(Value::as_array)
        .ok_or("geometry.coordinates is missing or not an array")?;
    let polygons: Vec<&Value> = match geometry_type {
        "MultiPolygon" => coordinates.iter().collect(),
        "Polygon" => vec![&feature["geometry"]["coordinates"]],
        other => return Err(format!("geometry type {other} is not a (Multi)Polygon")),
    };
    let mut dropped = 0;
    let mut parts = Vec::with_capacity(polygons.len());
    for (part_idx, polygon) in polygons.into_iter().enumerate() {
        let rings = polygon
            .as_array()
            .filter(|rings| !rings.is_empty())
            .ok_or_else(|| format!("polygon {part_idx} has no rings"))?;
        let mut part = Vec::with_capacity(rings.len());
        for (ring_idx, ring) in rings.iter().enumerate() {
            let (ring, ring_dropped) = parse_ring(ring)
                .map_err(|reason| format!("polygon {part_idx}, ring {ring_idx}: {reason}"))?;
            dropped += ring_dropped;
            part.push(ring);
        }
        parts.push(part);
    }
    if parts.is_empty() {
        return Err("the geometry has no polygon".to_owned());
    }
    Ok((
        RawWard {
            ward_code,
            province_code,
            name,
            parts,
        },
        dropped,
    ))
}

/// A closed GeoJSON ring → its 1e-5° vertices without the closing one and without
/// consecutive repeats (counted).
fn parse_ring(ring: &Value) -> Result<(Vec<[i32; 2]>, usize), String> {
    let positions = ring.as_array().ok_or("not an array of positions")?;
    let mut vertices: Vec<[i32; 2]> = Vec::with_capacity(positions.len());
    for position in positions {
        let pair = position
            .as_array()
            .filter(|pair| pair.len() >= 2)
            .ok_or("a position is not [lon, lat]")?;
        let mut vertex = [0i32; 2];
        for (axis, limit) in [(0, 180.0), (1, 90.0)] {
            let value = pair[axis].as_f64().ok_or("a coordinate is not a number")?;
            let units = (value * UNITS_PER_DEGREE).round();
            if value.is_nan() || value.abs() > limit || units / UNITS_PER_DEGREE != value {
                return Err(format!(
                    "coordinate {value} is out of range or has more than 5 decimals"
                ));
            }
            vertex[axis] = units as i32;
        }
        vertices.push(vertex);
    }
    if vertices.len() < 4 || vertices.first() != vertices.last() {
        return Err("a ring needs at least 4 positions, the last repeating the first".to_owned());
    }
    vertices.pop();
    let before = vertices.len();
    vertices.dedup();
    while vertices.len() > 1 && vertices.first() == vertices.last() {
        vertices.pop();
    }
    if vertices.len() < 3 {
        return Err("fewer than 3 distinct vertices".to_owned());
    }
    Ok((vertices.clone(), before - vertices.len()))
}

fn digits(text: &str, len: usize, field: &str) -> Result<u32, String> {
    if text.len() != len || !text.bytes().all(|byte| byte.is_ascii_digit()) {
        return Err(format!("{field} {text:?} is not {len} digits"));
    }
    text.parse()
        .map_err(|_| format!("{field} {text:?} is not {len} digits"))
}
