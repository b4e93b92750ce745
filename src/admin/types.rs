//! Unit types, ids and the records of both maps.

use crate::code::Postcode;
use crate::point::LatLon;

/// What kind of administrative unit a name is, as its prefix says ("Phường", "Huyện"…).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum UnitType {
    /// Tỉnh: a province.
    Tinh,
    /// Thành phố: a centrally run city (province level) or a provincial city (district level).
    ThanhPho,
    /// Quận: an urban district.
    Quan,
    /// Huyện: a rural district.
    Huyen,
    /// Thị xã: a town (district level).
    ThiXa,
    /// Phường: an urban ward.
    Phuong,
    /// Xã: a rural commune.
    Xa,
    /// Thị trấn: a township (legacy map only).
    ThiTran,
    /// Đặc khu: a special zone (the islands, 2025 map only).
    DacKhu,
}

impl UnitType {
    pub const ALL: [UnitType; 9] = [
        UnitType::Tinh,
        UnitType::ThanhPho,
        UnitType::Quan,
        UnitType::Huyen,
        UnitType::ThiXa,
        UnitType::Phuong,
        UnitType::Xa,
        UnitType::ThiTran,
        UnitType::DacKhu,
    ];

    /// The machine name: `tinh`, `thanh_pho`, `quan`, `huyen`, `thi_xa`, `phuong`, `xa`,
    /// `thi_tran`, `dac_khu`.
    pub fn as_str(self) -> &'static str {
        match self {
            UnitType::Tinh => "tinh",
            UnitType::ThanhPho => "thanh_pho",
            UnitType::Quan => "quan",
            UnitType::Huyen => "huyen",
            UnitType::ThiXa => "thi_xa",
            UnitType::Phuong => "phuong",
            UnitType::Xa => "xa",
            UnitType::ThiTran => "thi_tran",
            UnitType::DacKhu => "dac_khu",
        }
    }

    /// The word written before the name: "Tỉnh", "Thành phố", "Quận"…
    pub fn prefix(self) -> &'static str {
        match self {
            UnitType::Tinh => "Tỉnh",
            UnitType::ThanhPho => "Thành phố",
            UnitType::Quan => "Quận",
            UnitType::Huyen => "Huyện",
            UnitType::ThiXa => "Thị xã",
            UnitType::Phuong => "Phường",
            UnitType::Xa => "Xã",
            UnitType::ThiTran => "Thị trấn",
            UnitType::DacKhu => "Đặc khu",
        }
    }

    /// The level this type belongs to. "Thành phố" is a province or a district; it answers
    /// [`Level::Province`] here and the caller that knows better decides.
    pub fn level(self) -> Level {
        match self {
            UnitType::Tinh | UnitType::ThanhPho => Level::Province,
            UnitType::Quan | UnitType::Huyen | UnitType::ThiXa => Level::District,
            UnitType::Phuong | UnitType::Xa | UnitType::ThiTran | UnitType::DacKhu => Level::Ward,
        }
    }

    /// Splits a full name into its type and the name proper, for the types allowed at
    /// `level` (case-insensitive on the prefix: the data writes "Thị Trấn" too).
    /// `None` when no allowed prefix starts the name.
    pub fn split_name(name: &str, level: Level) -> Option<(UnitType, &str)> {
        let allowed: &[UnitType] = match level {
            Level::Province => &[UnitType::Tinh, UnitType::ThanhPho],
            Level::District => &[
                UnitType::Quan,
                UnitType::Huyen,
                UnitType::ThiXa,
                UnitType::ThanhPho,
            ],
            Level::Ward => &[
                UnitType::Phuong,
                UnitType::Xa,
                UnitType::ThiTran,
                UnitType::DacKhu,
            ],
        };
        let trimmed = name.trim();
        for &unit_type in allowed {
            let prefix = unit_type.prefix();
            let Some(head) = trimmed.get(..prefix.len()) else {
                continue;
            };
            let rest = &trimmed[prefix.len()..];
            if head.to_lowercase() == prefix.to_lowercase() && rest.starts_with(' ') {
                let short = rest.trim();
                if !short.is_empty() {
                    return Some((unit_type, short));
                }
            }
        }
        None
    }

    /// The ward type the `ward_type` column names ("Phường", "Xã", "Thị trấn", "Đặc khu").
    pub fn from_ward_column(text: &str) -> Option<UnitType> {
        let lower = text.trim().to_lowercase();
        [
            UnitType::Phuong,
            UnitType::Xa,
            UnitType::ThiTran,
            UnitType::DacKhu,
        ]
        .into_iter()
        .find(|unit_type| unit_type.prefix().to_lowercase() == lower)
    }
}

/// The three levels of the legacy map; the 2025 map has no districts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Level {
    Province,
    District,
    Ward,
}

/// A unit as the API shows it: `{"code": "00004", "name": "Phường Ba Đình", "type": "phuong"}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unit<'a> {
    pub code: &'a str,
    pub name: &'a str,
    pub unit_type: UnitType,
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub(crate) u32);

        impl $name {
            /// Position in the map's table (the order of the source file).
            pub fn index(self) -> usize {
                self.0 as usize
            }
        }
    };
}

id_type!(
    /// A province of the legacy (63-province) map.
    LegacyProvinceId
);
id_type!(
    /// A district of the legacy map.
    LegacyDistrictId
);
id_type!(
    /// A ward (commune-level unit) of the legacy map.
    LegacyWardId
);
id_type!(
    /// A province of the 2025 (34-province) map.
    ProvinceId
);
id_type!(
    /// A ward (commune-level unit) of the 2025 map.
    WardId
);

/// Any unit of either map.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum UnitId {
    LegacyProvince(LegacyProvinceId),
    LegacyDistrict(LegacyDistrictId),
    LegacyWard(LegacyWardId),
    Province(ProvinceId),
    Ward(WardId),
}

impl UnitId {
    pub fn level(self) -> Level {
        match self {
            UnitId::LegacyProvince(_) | UnitId::Province(_) => Level::Province,
            UnitId::LegacyDistrict(_) => Level::District,
            UnitId::LegacyWard(_) | UnitId::Ward(_) => Level::Ward,
        }
    }

    /// Whether the unit belongs to the legacy map (districts always do).
    pub fn is_legacy(self) -> bool {
        matches!(
            self,
            UnitId::LegacyProvince(_) | UnitId::LegacyDistrict(_) | UnitId::LegacyWard(_)
        )
    }
}

/// A province of the legacy map (until 30 June 2025).
#[derive(Debug, Clone)]
pub struct LegacyProvince {
    pub code: String,
    /// "Thành phố Hà Nội".
    pub name: String,
    /// "Hà Nội".
    pub short_name: String,
    pub unit_type: UnitType,
    pub districts: Vec<LegacyDistrictId>,
    /// The 2025 provinces its wards went into (one for every province of the shipped data:
    /// provinces were merged whole).
    pub provinces_2025: Vec<ProvinceId>,
}

/// A district of the legacy map. Districts were abolished on 1 July 2025.
#[derive(Debug, Clone)]
pub struct LegacyDistrict {
    pub code: String,
    pub name: String,
    pub short_name: String,
    pub unit_type: UnitType,
    pub province: LegacyProvinceId,
    pub wards: Vec<LegacyWardId>,
    /// The 2025 wards that received any of its wards (or the district itself, for the
    /// ward-less island districts), in first-seen order.
    pub wards_2025: Vec<WardId>,
    /// For the five island districts without wards: the đặc khu they became.
    pub island_target: Option<WardId>,
}

/// A ward of the legacy map with its Quyết định 2475 postal code where known.
#[derive(Debug, Clone)]
pub struct LegacyWard {
    pub code: String,
    pub name: String,
    pub short_name: String,
    pub unit_type: UnitType,
    pub district: LegacyDistrictId,
    pub province: LegacyProvinceId,
    pub postcode: Option<Postcode>,
    pub centroid: Option<LatLon>,
    /// The 2025 wards it went into, the default target first (one for 9 564 wards; 2–5
    /// for the 471 that were split).
    pub targets: Vec<WardId>,
}

/// A province of the 2025 map (since 1 July 2025).
#[derive(Debug, Clone)]
pub struct Province {
    pub code: String,
    pub name: String,
    pub short_name: String,
    pub unit_type: UnitType,
    /// The two-digit postal prefixes of Quyết định 2334, e.g. `["90", "91", "92"]`.
    pub postcode_prefixes: Vec<String>,
    pub wards: Vec<WardId>,
    /// The legacy provinces that went into it.
    pub legacy_provinces: Vec<LegacyProvinceId>,
}

/// A ward of the 2025 map with its Quyết định 2334 postal code.
#[derive(Debug, Clone)]
pub struct Ward {
    pub code: String,
    pub name: String,
    pub short_name: String,
    pub unit_type: UnitType,
    pub province: ProvinceId,
    pub postcode: Option<Postcode>,
    pub centroid: Option<LatLon>,
    pub area_km2: Option<f64>,
    /// The legacy wards that went (wholly or in part) into it.
    pub sources: Vec<LegacyWardId>,
    /// The legacy districts those wards belonged to, plus a ward-less island district
    /// that became this ward; first-seen order.
    pub source_districts: Vec<LegacyDistrictId>,
}

macro_rules! unit_view {
    ($record:ty) => {
        impl $record {
            /// The unit as the API shows it.
            pub fn unit(&self) -> Unit<'_> {
                Unit {
                    code: &self.code,
                    name: &self.name,
                    unit_type: self.unit_type,
                }
            }
        }
    };
}

unit_view!(LegacyProvince);
unit_view!(LegacyDistrict);
unit_view!(LegacyWard);
unit_view!(Province);
unit_view!(Ward);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_name_takes_the_prefix_of_the_level() {
        assert_eq!(
            UnitType::split_name("Thành phố Hà Nội", Level::Province),
            Some((UnitType::ThanhPho, "Hà Nội"))
        );
        assert_eq!(
            UnitType::split_name("Thị Trấn Ái Tử", Level::Ward),
            Some((UnitType::ThiTran, "Ái Tử"))
        );
        assert_eq!(
            UnitType::split_name("Thị xã Sơn Tây", Level::District),
            Some((UnitType::ThiXa, "Sơn Tây"))
        );
        assert_eq!(
            UnitType::split_name("Quận 1", Level::District),
            Some((UnitType::Quan, "1"))
        );
        // "Xã" is no district prefix, and a prefix alone is no name.
        assert_eq!(UnitType::split_name("Xã Tân Phú", Level::District), None);
        assert_eq!(UnitType::split_name("Phường", Level::Ward), None);
        // A prefix must be a whole word.
        assert_eq!(UnitType::split_name("Xãa Tân", Level::Ward), None);
    }

    #[test]
    fn ward_column_names_are_case_insensitive() {
        assert_eq!(
            UnitType::from_ward_column("Thị trấn"),
            Some(UnitType::ThiTran)
        );
        assert_eq!(
            UnitType::from_ward_column("ĐẶC KHU"),
            Some(UnitType::DacKhu)
        );
        assert_eq!(UnitType::from_ward_column(""), None);
    }
}
