//! `Scope`: where a reading of address text allows results — the postal numbers of the
//! ward or district it names, its province, or anywhere. `search` and `autocomplete` narrow
//! by it alike.
//!
//! Decisions:
//! - A legacy ward's scope holds its own postal code and those of every 2025 ward it went
//!   into, and a 2025 ward's its own and its legacy wards': an address is filed under the
//!   zone of its code, and codes are minted in either table.

use foldhash::HashSet as FastSet;

use crate::admin::{AdminMaps, LegacyDistrictId, LegacyProvinceId, ProvinceId, WardId};
use crate::code::{PostalScheme, Postcode};
use crate::parse::Reading;
use crate::zones::ZoneTable;

/// Where a reading allows results.
pub(super) enum Scope {
    Anywhere,
    /// Postal codes (zone numbers).
    Numbers(FastSet<u32>),
    Province {
        legacy: Option<LegacyProvinceId>,
        y2025: Option<ProvinceId>,
    },
}

impl Scope {
    pub(super) fn of(reading: &Reading, maps: &AdminMaps) -> Scope {
        let mut numbers = FastSet::default();
        let add_ward = |numbers: &mut FastSet<u32>, ward: WardId| {
            let ward = maps.ward(ward);
            numbers.extend(ward.postcode.map(Postcode::value));
            for &source in &ward.sources {
                numbers.extend(maps.legacy_ward(source).postcode.map(Postcode::value));
            }
        };
        let add_legacy = |numbers: &mut FastSet<u32>, id| {
            let ward = maps.legacy_ward(id);
            numbers.extend(ward.postcode.map(Postcode::value));
            for &target in &ward.targets {
                numbers.extend(maps.ward(target).postcode.map(Postcode::value));
            }
        };
        if let Some(ward) = reading.legacy.ward {
            add_legacy(&mut numbers, ward);
        } else if let Some(ward) = reading.admin_2025.ward {
            add_ward(&mut numbers, ward);
        } else if let Some(district) = reading.legacy.district {
            add_district(maps, district, &mut numbers, add_legacy);
        } else if reading.legacy.province.is_some() || reading.admin_2025.province.is_some() {
            return Scope::Province {
                legacy: reading.legacy.province,
                y2025: reading.admin_2025.province,
            };
        } else {
            return Scope::Anywhere;
        }
        Scope::Numbers(numbers)
    }

    pub(super) fn allows(&self, zone_number: u32, zones: &ZoneTable, maps: &AdminMaps) -> bool {
        match self {
            Scope::Anywhere => true,
            Scope::Numbers(numbers) => numbers.contains(&zone_number),
            Scope::Province { legacy, y2025 } => {
                let Some(zone_id) = Postcode::new(zone_number).and_then(|p| zones.by_postcode(p))
                else {
                    return false;
                };
                let zone = zones.get(zone_id);
                match zone.scheme {
                    PostalScheme::Y2025 => y2025
                        .is_some_and(|province| maps.province(province).code == zone.province_code),
                    PostalScheme::Legacy => legacy.is_some_and(|province| {
                        maps.legacy_province(province).code == zone.province_code
                    }),
                }
            }
        }
    }

    pub(super) fn numbers(&self) -> Option<&FastSet<u32>> {
        match self {
            Scope::Numbers(numbers) => Some(numbers),
            _ => None,
        }
    }
}

fn add_district(
    maps: &AdminMaps,
    district: LegacyDistrictId,
    numbers: &mut FastSet<u32>,
    add_legacy: impl Fn(&mut FastSet<u32>, crate::admin::LegacyWardId),
) {
    for &ward in &maps.legacy_district(district).wards {
        add_legacy(numbers, ward);
    }
}
