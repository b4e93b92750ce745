//! A point on the 2025 map as a list row shows it, and whether the units a row writes
//! (its `ward`, `district`, `province` text) hold the row's point.
//!
//! Decisions:
//! - Names are matched exactly, ignoring case, Unicode form and spacing, with or without
//!   the unit's type ("Phường Phúc Xá" or "Phúc Xá"); marks count ("Phuc Xa" is no name
//!   here). Abbreviations, missing marks and typos are the address parser's job.
//! - A text that names no known unit is no evidence: no warning. A warning means the text
//!   names real units and none of them holds the point.
//! - Legacy units have no boundaries: a legacy ward holds the point when it went (wholly
//!   or in part) into the point's 2025 ward, a legacy district or province when one of
//!   its wards did. So a split ward holds each of its parts, and the check never blames a
//!   row for the 2025 conversion.

use std::collections::HashMap;

use unicode_normalization::UnicodeNormalization;

use crate::admin::{AdminMaps, Province, UnitId, Ward};
use crate::point::LatLon;

use super::ZoneTable;

/// Every unit name of both maps, folded, by level.
#[derive(Debug, Default)]
pub(super) struct WrittenNames {
    wards: HashMap<String, Vec<UnitId>>,
    districts: HashMap<String, Vec<UnitId>>,
    provinces: HashMap<String, Vec<UnitId>>,
}

impl WrittenNames {
    pub(super) fn new(admin: &AdminMaps) -> WrittenNames {
        let mut names = WrittenNames::default();
        fn add(map: &mut HashMap<String, Vec<UnitId>>, unit: UnitId, full: &str, short: &str) {
            for name in [full, short] {
                let units = map.entry(fold_name(name)).or_default();
                if !units.contains(&unit) {
                    units.push(unit);
                }
            }
        }
        for id in admin.legacy_ward_ids() {
            let ward = admin.legacy_ward(id);
            add(
                &mut names.wards,
                UnitId::LegacyWard(id),
                &ward.name,
                &ward.short_name,
            );
        }
        for id in admin.ward_ids() {
            let ward = admin.ward(id);
            add(
                &mut names.wards,
                UnitId::Ward(id),
                &ward.name,
                &ward.short_name,
            );
        }
        for id in admin.legacy_district_ids() {
            let district = admin.legacy_district(id);
            let unit = UnitId::LegacyDistrict(id);
            add(
                &mut names.districts,
                unit,
                &district.name,
                &district.short_name,
            );
        }
        for id in admin.legacy_province_ids() {
            let province = admin.legacy_province(id);
            let unit = UnitId::LegacyProvince(id);
            add(
                &mut names.provinces,
                unit,
                &province.name,
                &province.short_name,
            );
        }
        for id in admin.province_ids() {
            let province = admin.province(id);
            let unit = UnitId::Province(id);
            add(
                &mut names.provinces,
                unit,
                &province.name,
                &province.short_name,
            );
        }
        names
    }
}

/// Lower case, composed (NFC), single spaces.
fn fold_name(text: &str) -> String {
    let composed: String = text.nfc().flat_map(char::to_lowercase).collect();
    composed.split_whitespace().collect::<Vec<_>>().join(" ")
}

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
    /// Whether the row's written units name units none of which holds the point.
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
        let names = map.written_names();
        let contradicts = |text: Option<&str>, by_name: &HashMap<String, Vec<UnitId>>| {
            let Some(text) = text.filter(|text| !text.trim().is_empty()) else {
                return false;
            };
            by_name
                .get(&fold_name(text))
                .is_some_and(|units| !units.iter().any(|&unit| holds(unit)))
        };
        let mismatch = contradicts(written.ward, &names.wards)
            || contradicts(written.district, &names.districts)
            || contradicts(written.province, &names.provinces);
        Some(Place2025 {
            ward,
            province,
            mismatch,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_fold_case_form_and_spacing_but_keep_marks() {
        assert_eq!(fold_name("  Phường  PHÚC Xá "), "phường phúc xá");
        let decomposed: String = "Phúc Xá".nfd().collect();
        assert_eq!(fold_name(&decomposed), "phúc xá");
        assert_ne!(fold_name("Phuc Xa"), fold_name("Phúc Xá"));
    }
}
