//! A point on the 2025 map as a list row shows it, and whether the units a row writes
//! (its `ward`, `district`, `province` text) hold the row's point.
//!
//! Decisions:
//! - The row's unit columns are read by the address parser, joined as one address
//!   (`ward, district, province`): in either map, abbreviated, without marks, with a typo,
//!   as people write them. The parser reads the ward in the district and province written
//!   beside it, so a "Phường 1" is the one of the row's own district.
//! - A warning means the text names real units and the point lies outside one of them. When
//!   the text reads equally well as several places (`ambiguous`), every reading must
//!   contradict the point. Text that names no known unit is no evidence: no warning.
//! - Only the units the text wrote count: for a legacy reading, its 2025 ward is derived
//!   (a split ward's default target) and is not held against the point.
//! - Legacy units have no boundaries: a legacy ward holds the point when it went (wholly
//!   or in part) into the point's 2025 ward, a legacy district or province when one of
//!   its wards did. So a split ward holds each of its parts, and the check never blames a
//!   row for the 2025 conversion.

use crate::admin::{Province, UnitId, Ward};
use crate::parse::{Reading, Structure};
use crate::point::LatLon;

use super::ZoneTable;

/// The units a row writes, as text.
#[derive(Debug, Clone, Copy, Default)]
pub struct WrittenUnits<'a> {
    pub ward: Option<&'a str>,
    pub district: Option<&'a str>,
    pub province: Option<&'a str>,
}

/// A point on the 2025 map: the ward whose boundary holds it (or the nearest within
/// 2 km) and its province.
#[derive(Debug, Clone, Copy)]
pub struct Place2025<'z> {
    pub ward: &'z Ward,
    pub province: &'z Province,
    /// Whether the row's written units, read by the parser, name a unit that does not hold
    /// the point (in every reading of an ambiguous text).
    pub mismatch: bool,
}

impl ZoneTable {
    /// The point's 2025 ward and province, and whether `written` contradicts them. `None`
    /// without the 2025 map or outside its coverage.
    pub fn place_2025(&self, point: LatLon, written: WrittenUnits<'_>) -> Option<Place2025<'_>> {
        let map = self.map_2025()?;
        let admin = map.admin();
        let here = self.ward_2025_at(point)?.ward;
        let ward = admin.ward(here);
        let province = admin.province(ward.province);
        let holds = |unit: UnitId| match unit {
            UnitId::Ward(id) => id == here,
            UnitId::LegacyWard(id) => ward.sources.contains(&id),
            UnitId::LegacyDistrict(id) => ward.source_districts.contains(&id),
            UnitId::Province(id) => id == ward.province,
            UnitId::LegacyProvince(id) => province.legacy_provinces.contains(&id),
        };
        let text = [written.ward, written.district, written.province]
            .into_iter()
            .flatten()
            .map(str::trim)
            .filter(|text| !text.is_empty())
            .collect::<Vec<_>>()
            .join(", ");
        let mismatch = !text.is_empty() && {
            let parse = map.parser().parse(&text);
            let alternatives = parse.reading.ambiguous.then_some(&parse.alternatives);
            let mut readings =
                std::iter::once(&parse.reading).chain(alternatives.into_iter().flatten());
            readings.all(|reading| contradicts(reading, &holds))
        };
        Some(Place2025 {
            ward,
            province,
            mismatch,
        })
    }
}

/// Whether `reading` names a unit (of those its text wrote) that does not hold the point.
fn contradicts(reading: &Reading, holds: &impl Fn(UnitId) -> bool) -> bool {
    let legacy = &reading.legacy;
    let written_2025_ward = match reading.structure {
        // A legacy reading's 2025 ward is derived from its legacy ward.
        Structure::Legacy => None,
        _ => reading.admin_2025.ward,
    };
    let units = [
        legacy.ward.map(UnitId::LegacyWard),
        legacy.district.map(UnitId::LegacyDistrict),
        legacy.province.map(UnitId::LegacyProvince),
        written_2025_ward.map(UnitId::Ward),
        reading.admin_2025.province.map(UnitId::Province),
    ];
    units.into_iter().flatten().any(|unit| !holds(unit))
}
