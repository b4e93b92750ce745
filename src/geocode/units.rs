//! `UnitNames`: every unit of both maps (provinces, districts, wards; legacy and 2025)
//! sorted by its folded name, for completing a unit from its first letters.
//!
//! Decisions: a unit is filed under its name proper folded ("Phường Bến Nghé" → "ben
//! nghe"); the type word is read by the caller from what was typed ("Phường Bến Ng"), so
//! a prefix finds the name whether or not it was written. Names that are a number alone
//! ("Phường 7", "Quận 1") are marked: they are completed only after a unit word, as the
//! parser reads them. Each unit's location (a ward's centroid, else its zone's; a
//! district's or province's mean of its wards' centroids) is worked out once here, so that
//! ranking by `near` costs nothing per query. Built once per process over the embedded
//! maps (about 14 000 names; the README gives the time), never stored.

use crate::admin::{AdminMaps, UnitId, UnitType};
use crate::parse::fold_words;
use crate::point::LatLon;

/// One unit a name leads to.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct UnitName {
    pub unit: UnitId,
    pub unit_type: UnitType,
    /// The name is a number alone.
    pub numeric: bool,
    pub location: Option<LatLon>,
}

#[derive(Debug, Default)]
pub struct UnitNames {
    /// (folded name, unit), sorted.
    entries: Vec<(Box<str>, UnitName)>,
}

impl UnitNames {
    pub fn new(maps: &AdminMaps) -> UnitNames {
        let mut entries = Vec::new();
        let mut add = |id: UnitId, unit_type: UnitType, location: Option<LatLon>| {
            let folded = fold_words(maps.short_name(id));
            let numeric = folded.chars().all(|c| c.is_ascii_digit() || c == ' ');
            entries.push((
                folded.into_boxed_str(),
                UnitName {
                    unit: id,
                    unit_type,
                    numeric,
                    location,
                },
            ));
        };
        for id in maps.legacy_ward_ids() {
            let ward = maps.legacy_ward(id);
            add(UnitId::LegacyWard(id), ward.unit_type, ward.centroid);
        }
        for id in maps.ward_ids() {
            let ward = maps.ward(id);
            add(UnitId::Ward(id), ward.unit_type, ward.centroid);
        }
        for id in maps.legacy_district_ids() {
            let district = maps.legacy_district(id);
            let at = mean(
                district
                    .wards
                    .iter()
                    .filter_map(|&w| maps.legacy_ward(w).centroid),
            );
            add(UnitId::LegacyDistrict(id), district.unit_type, at);
        }
        for id in maps.province_ids() {
            let province = maps.province(id);
            let at = mean(province.wards.iter().filter_map(|&w| maps.ward(w).centroid));
            add(UnitId::Province(id), province.unit_type, at);
        }
        for id in maps.legacy_province_ids() {
            let province = maps.legacy_province(id);
            let wards = province
                .districts
                .iter()
                .flat_map(|&d| &maps.legacy_district(d).wards);
            let at = mean(wards.filter_map(|&w| maps.legacy_ward(w).centroid));
            add(UnitId::LegacyProvince(id), province.unit_type, at);
        }
        entries.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.unit.cmp(&b.1.unit)));
        UnitNames { entries }
    }

    /// Every unit whose folded name starts with `prefix`, in name order.
    pub fn with_prefix<'a>(&'a self, prefix: &'a str) -> impl Iterator<Item = (&'a str, UnitName)> {
        let first = self
            .entries
            .partition_point(|(name, _)| name.as_ref() < prefix);
        self.entries[first..]
            .iter()
            .take_while(move |(name, _)| name.starts_with(prefix))
            .map(|(name, unit)| (name.as_ref(), *unit))
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// The mean of some points (their centre, near enough within one province).
pub fn mean(points: impl Iterator<Item = LatLon>) -> Option<LatLon> {
    let (mut lat, mut lon, mut n) = (0.0, 0.0, 0.0);
    for point in points {
        lat += point.lat;
        lon += point.lon;
        n += 1.0;
    }
    (n > 0.0).then(|| LatLon {
        lat: lat / n,
        lon: lon / n,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_of_both_maps_are_found_by_the_first_letters_of_their_names() {
        let maps = AdminMaps::load_embedded().expect("maps");
        let names = UnitNames::new(&maps);
        assert!(names.len() > 13_000, "{}", names.len());
        let found: Vec<String> = names
            .with_prefix("ben ng")
            .map(|(_, unit)| maps.unit(unit.unit).name.to_owned())
            .collect();
        assert!(found.contains(&"Phường Bến Nghé".to_owned()), "{found:?}");
        let hanoi: Vec<UnitId> = names.with_prefix("ha noi").map(|(_, u)| u.unit).collect();
        assert!(hanoi.iter().any(|u| matches!(u, UnitId::Province(_))));
        assert!(hanoi.iter().any(|u| matches!(u, UnitId::LegacyProvince(_))));
        let one = names.with_prefix("1").next().expect("Quận 1, Phường 1…").1;
        assert!(one.numeric);
        assert!(names.with_prefix("zzz").next().is_none());
    }
}
