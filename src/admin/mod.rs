//! The two administrative maps of Vietnam, and the links between them.
//!
//! *Legacy*: 63 provinces → districts → 10 035 wards (plus five island districts without
//! wards), in force until 30 June 2025, with the postal codes of Quyết định 2475 where
//! known. *2025*: 34 provinces → 3 321 wards, no districts, with the postal codes of Quyết
//! định 2334. The conversion links say which 2025 ward(s) each legacy ward went into (the
//! default target first) and so which legacy wards make up each 2025 ward.
//!
//! Pure data: the four CSV files are embedded (`data/`, provenance in `data/README.md`) and
//! parsed at load; nothing here does I/O. Rows with known faults are loaded as far as they
//! go and reported in [`AdminMaps::problems`], never fatal.
//!
//! Decisions:
//! - A unit's type comes from its name's prefix ("Phường 5" is a phường even where the
//!   `ward_type` column says xã); the column is used only when the name has no prefix, and
//!   a disagreement is reported.
//! - Legacy province → 2025 province links are derived from the ward links (provinces
//!   were merged whole, so each legacy province has exactly one in the shipped data).
//! - Shared postal numbers: see [`shared`]; [`AdminMaps::nests`] is what decoding asks.

mod load;
mod problems;
pub mod shared;
mod table;
mod types;

use std::collections::HashMap;

pub use load::Sources;
pub use problems::{AdminError, LoadProblem, ProblemKind, SourceFile};
pub use shared::{Holder, NumberRelation, SharedNumber};
pub use types::*;

use crate::code::Postcode;

/// `data/vn_wards_63.csv`: the legacy wards with districts, provinces and postal codes.
pub const LEGACY_WARDS_CSV: &str = include_str!("../../data/vn_wards_63.csv");
/// `data/vn_wards_34.csv`: the 2025 wards with their provinces.
pub const WARDS_2025_CSV: &str = include_str!("../../data/vn_wards_34.csv");
/// `data/vn_postcodes_2025.csv`: the 2025 postal codes and province prefixes.
pub const POSTCODES_2025_CSV: &str = include_str!("../../data/vn_postcodes_2025.csv");
/// `data/vn_wards_63_to_34.csv`: legacy ward → 2025 ward(s).
pub const LINKS_CSV: &str = include_str!("../../data/vn_wards_63_to_34.csv");

/// Both maps, the links between them and the lookups by code and postal code.
#[derive(Debug)]
pub struct AdminMaps {
    legacy_provinces: Vec<LegacyProvince>,
    legacy_districts: Vec<LegacyDistrict>,
    legacy_wards: Vec<LegacyWard>,
    provinces: Vec<Province>,
    wards: Vec<Ward>,
    legacy_province_by_code: HashMap<String, LegacyProvinceId>,
    legacy_district_by_code: HashMap<String, LegacyDistrictId>,
    legacy_ward_by_code: HashMap<String, LegacyWardId>,
    province_by_code: HashMap<String, ProvinceId>,
    ward_by_code: HashMap<String, WardId>,
    legacy_wards_by_postcode: HashMap<Postcode, Vec<LegacyWardId>>,
    ward_by_postcode: HashMap<Postcode, WardId>,
    shared_numbers: HashMap<Postcode, SharedNumber>,
    problems: Vec<LoadProblem>,
}

impl AdminMaps {
    /// The maps shipped in the binary.
    pub fn load_embedded() -> Result<AdminMaps, AdminError> {
        AdminMaps::load(Sources {
            legacy_wards: LEGACY_WARDS_CSV,
            wards_2025: WARDS_2025_CSV,
            postcodes_2025: POSTCODES_2025_CSV,
            links: LINKS_CSV,
        })
    }

    /// Maps from other files of the same layout.
    pub fn load(sources: Sources<'_>) -> Result<AdminMaps, AdminError> {
        load::load(sources)
    }

    /// Rows that were loaded in part or skipped.
    pub fn problems(&self) -> &[LoadProblem] {
        &self.problems
    }

    pub fn legacy_provinces(&self) -> &[LegacyProvince] {
        &self.legacy_provinces
    }

    pub fn legacy_districts(&self) -> &[LegacyDistrict] {
        &self.legacy_districts
    }

    pub fn legacy_wards(&self) -> &[LegacyWard] {
        &self.legacy_wards
    }

    pub fn provinces(&self) -> &[Province] {
        &self.provinces
    }

    pub fn wards(&self) -> &[Ward] {
        &self.wards
    }

    /// Ids are only made by these maps, so indexing cannot fail for an id they gave out.
    pub fn legacy_province(&self, id: LegacyProvinceId) -> &LegacyProvince {
        &self.legacy_provinces[id.index()]
    }

    pub fn legacy_district(&self, id: LegacyDistrictId) -> &LegacyDistrict {
        &self.legacy_districts[id.index()]
    }

    pub fn legacy_ward(&self, id: LegacyWardId) -> &LegacyWard {
        &self.legacy_wards[id.index()]
    }

    pub fn province(&self, id: ProvinceId) -> &Province {
        &self.provinces[id.index()]
    }

    pub fn ward(&self, id: WardId) -> &Ward {
        &self.wards[id.index()]
    }

    /// Any unit as the API shows it.
    pub fn unit(&self, id: UnitId) -> Unit<'_> {
        match id {
            UnitId::LegacyProvince(id) => self.legacy_province(id).unit(),
            UnitId::LegacyDistrict(id) => self.legacy_district(id).unit(),
            UnitId::LegacyWard(id) => self.legacy_ward(id).unit(),
            UnitId::Province(id) => self.province(id).unit(),
            UnitId::Ward(id) => self.ward(id).unit(),
        }
    }

    /// The name proper of any unit ("Ba Đình" for "Quận Ba Đình").
    pub fn short_name(&self, id: UnitId) -> &str {
        match id {
            UnitId::LegacyProvince(id) => &self.legacy_province(id).short_name,
            UnitId::LegacyDistrict(id) => &self.legacy_district(id).short_name,
            UnitId::LegacyWard(id) => &self.legacy_ward(id).short_name,
            UnitId::Province(id) => &self.province(id).short_name,
            UnitId::Ward(id) => &self.ward(id).short_name,
        }
    }

    pub fn legacy_province_ids(&self) -> impl ExactSizeIterator<Item = LegacyProvinceId> {
        (0..self.legacy_provinces.len() as u32).map(LegacyProvinceId)
    }

    pub fn legacy_district_ids(&self) -> impl ExactSizeIterator<Item = LegacyDistrictId> {
        (0..self.legacy_districts.len() as u32).map(LegacyDistrictId)
    }

    pub fn legacy_ward_ids(&self) -> impl ExactSizeIterator<Item = LegacyWardId> {
        (0..self.legacy_wards.len() as u32).map(LegacyWardId)
    }

    pub fn province_ids(&self) -> impl ExactSizeIterator<Item = ProvinceId> {
        (0..self.provinces.len() as u32).map(ProvinceId)
    }

    pub fn ward_ids(&self) -> impl ExactSizeIterator<Item = WardId> {
        (0..self.wards.len() as u32).map(WardId)
    }

    pub fn legacy_province_by_code(&self, code: &str) -> Option<LegacyProvinceId> {
        self.legacy_province_by_code.get(code.trim()).copied()
    }

    pub fn legacy_district_by_code(&self, code: &str) -> Option<LegacyDistrictId> {
        self.legacy_district_by_code.get(code.trim()).copied()
    }

    pub fn legacy_ward_by_code(&self, code: &str) -> Option<LegacyWardId> {
        self.legacy_ward_by_code.get(code.trim()).copied()
    }

    pub fn province_by_code(&self, code: &str) -> Option<ProvinceId> {
        self.province_by_code.get(code.trim()).copied()
    }

    pub fn ward_by_code(&self, code: &str) -> Option<WardId> {
        self.ward_by_code.get(code.trim()).copied()
    }

    /// The legacy wards carrying a postal code (usually one; the legacy table has a few
    /// numbers on two wards).
    pub fn legacy_wards_by_postcode(&self, postcode: Postcode) -> &[LegacyWardId] {
        self.legacy_wards_by_postcode
            .get(&postcode)
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// The 2025 ward with a postal code (2025 codes are unique).
    pub fn ward_by_postcode(&self, postcode: Postcode) -> Option<WardId> {
        self.ward_by_postcode.get(&postcode).copied()
    }

    /// The five legacy island districts that had no wards, each with the đặc khu it became.
    pub fn island_districts(&self) -> impl Iterator<Item = (LegacyDistrictId, WardId)> + '_ {
        self.legacy_districts
            .iter()
            .enumerate()
            .filter_map(|(idx, district)| {
                let target = district.island_target?;
                district
                    .wards
                    .is_empty()
                    .then_some((LegacyDistrictId(idx as u32), target))
            })
    }

    /// The 2025 province(s) a legacy province went into.
    pub fn legacy_province_to_2025(&self, id: LegacyProvinceId) -> &[ProvinceId] {
        &self.legacy_province(id).provinces_2025
    }

    /// The default 2025 ward of a legacy ward (`None` only for a ward with no link).
    pub fn default_target(&self, id: LegacyWardId) -> Option<WardId> {
        self.legacy_ward(id).targets.first().copied()
    }

    /// Numbers in both tables, with how each legacy holder relates.
    pub fn shared_number(&self, postcode: Postcode) -> Option<&SharedNumber> {
        self.shared_numbers.get(&postcode)
    }

    /// Every number in both tables (in no particular order).
    pub fn shared_numbers(&self) -> impl Iterator<Item = &SharedNumber> {
        self.shared_numbers.values()
    }

    /// What a 5-digit number names in the two tables.
    pub fn number_relation(&self, postcode: Postcode) -> NumberRelation {
        if let Some(shared) = self.shared_numbers.get(&postcode) {
            return shared.relation();
        }
        match (
            self.ward_by_postcode.contains_key(&postcode),
            self.legacy_wards_by_postcode.contains_key(&postcode),
        ) {
            (true, _) => NumberRelation::Only2025,
            (false, true) => NumberRelation::OnlyLegacy,
            (false, false) => NumberRelation::Unknown,
        }
    }

    /// Whether reading `postcode` through either table gives nested places, so that
    /// decoding needs no choice: true for a number only one table has, and for a shared
    /// number whose every legacy holder went into the 2025 holder.
    pub fn nests(&self, postcode: Postcode) -> bool {
        matches!(
            self.number_relation(postcode),
            NumberRelation::Only2025 | NumberRelation::OnlyLegacy | NumberRelation::Nested
        )
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, HashSet};

    use super::*;

    fn maps() -> AdminMaps {
        AdminMaps::load_embedded().expect("embedded maps load")
    }

    fn postcode(text: &str) -> Postcode {
        Postcode::parse(text).expect("valid postcode")
    }

    #[test]
    fn both_maps_load_with_the_documented_counts() {
        let maps = maps();
        assert_eq!(maps.legacy_provinces().len(), 63);
        assert_eq!(maps.legacy_districts().len(), 696);
        assert_eq!(maps.legacy_wards().len(), 10_035);
        assert_eq!(maps.provinces().len(), 34);
        assert_eq!(maps.wards().len(), 3_321);
        let islands: Vec<_> = maps.island_districts().collect();
        assert_eq!(islands.len(), 5);
        for (district, target) in islands {
            assert_eq!(maps.ward(target).unit_type, UnitType::DacKhu);
            assert!(maps.ward(target).source_districts.contains(&district));
        }
        let split = maps
            .legacy_wards()
            .iter()
            .filter(|ward| ward.targets.len() > 1)
            .count();
        assert_eq!(split, 471);
        assert!(
            maps.legacy_wards()
                .iter()
                .all(|ward| !ward.targets.is_empty())
        );
        assert!(maps.wards().iter().all(|ward| ward.postcode.is_some()));
        for province in maps.legacy_provinces() {
            assert_eq!(province.provinces_2025.len(), 1, "{}", province.name);
        }
    }

    #[test]
    fn known_faults_are_reported_not_fatal() {
        let maps = maps();
        let count = |kind: fn(&ProblemKind) -> bool| {
            maps.problems().iter().filter(|p| kind(&p.kind)).count()
        };
        // The file's 224 empty postal codes are 219 wards and the 5 ward-less districts.
        assert_eq!(count(|k| matches!(k, ProblemKind::MissingPostcode)), 219);
        // "Phường 5" typed xã, "Thị trấn Ngọc Lặc" typed xã, …; and the four 2025 wards
        // whose names follow the decision rather than the ward_type column.
        assert_eq!(
            count(|k| matches!(k, ProblemKind::TypeMismatch { .. })),
            3 + 4
        );
        assert_eq!(count(|k| matches!(k, ProblemKind::LinkCount { .. })), 0);
        assert_eq!(count(|k| matches!(k, ProblemKind::Unreached)), 0);
        assert_eq!(
            count(|k| matches!(k, ProblemKind::PrefixMismatch { .. })),
            0
        );
        let ward = maps.legacy_ward(maps.legacy_ward_by_code("00694").expect("ward"));
        assert_eq!(ward.unit_type, UnitType::Phuong);
    }

    #[test]
    fn a_bad_row_is_reported_and_the_rest_loads() {
        let legacy = "province_code,province,district_code,district,ward_code,ward,ward_type,postcode,lat,lon\n\
            01,Thành phố Hà Nội,001,Quận Ba Đình,00001,Phường Phúc Xá,Phường,11116,21.04,105.84\n\
            01,Thành phố Hà Nội,001,Quận Ba Đình,00001,Phường Trùng,Phường,11117,21.04,105.84\n\
            01,Thành phố Hà Nội,001,Quận Ba Đình,00004,Trúc Bạch,,1111,x,105.84\n";
        let wards = "province_code,province,ward_code,ward,ward_type,lat,lon,area_km2\n\
            01,Thành phố Hà Nội,00004,Phường Ba Đình,Phường,21.03,105.83,2.9\n";
        let postcodes = "province_code,province,province_postcode_prefix,ward_code,ward,postcode\n\
            01,Thành phố Hà Nội,10 11,00004,Phường Ba Đình,11120\n\
            01,Thành phố Hà Nội,10 11,00009,Phường Nowhere,11121\n";
        let links = "old_province_code,old_district_code,old_ward_code,new_province_code,new_ward_code,is_default,n_targets,note\n\
            01,001,00001,01,00004,1,2,\n";
        let maps = AdminMaps::load(Sources {
            legacy_wards: legacy,
            wards_2025: wards,
            postcodes_2025: postcodes,
            links,
        })
        .expect("loads");
        assert_eq!(maps.legacy_wards().len(), 1);
        let kinds: Vec<&ProblemKind> = maps.problems().iter().map(|p| &p.kind).collect();
        assert!(kinds.contains(&&ProblemKind::DuplicateCode));
        assert!(kinds.contains(&&ProblemKind::UnknownType("Trúc Bạch".to_owned())));
        assert!(kinds.contains(&&ProblemKind::UnknownCode("00009".to_owned())));
        assert!(kinds.contains(&&ProblemKind::LinkCount {
            expected: 2,
            found: 1
        }));
        let missing_column = AdminMaps::load(Sources {
            legacy_wards: "province_code\n01\n",
            wards_2025: wards,
            postcodes_2025: postcodes,
            links,
        });
        assert!(matches!(
            missing_column,
            Err(AdminError::MissingColumn {
                file: SourceFile::LegacyWards,
                ..
            })
        ));
    }

    #[test]
    fn lookups_by_code_and_postcode() {
        let maps = maps();
        let phuc_xa = maps.legacy_ward_by_code("00001").expect("Phúc Xá");
        let ward = maps.legacy_ward(phuc_xa);
        assert_eq!(ward.name, "Phường Phúc Xá");
        assert_eq!(maps.legacy_district(ward.district).name, "Quận Ba Đình");
        assert_eq!(
            maps.legacy_province(ward.province).unit_type,
            UnitType::ThanhPho
        );
        assert_eq!(maps.legacy_wards_by_postcode(postcode("11116")), &[phuc_xa]);
        let target = maps.default_target(phuc_xa).expect("linked");
        assert_eq!(maps.ward(target).name, "Phường Hồng Hà");
        assert!(maps.ward(target).sources.contains(&phuc_xa));
        assert_eq!(maps.ward_by_postcode(postcode("11025")), Some(target));
        let district = maps.legacy_district(ward.district);
        assert_eq!(district.unit_type, UnitType::Quan);
        assert_eq!(district.short_name, "Ba Đình");
        let unit = maps.ward(target).unit();
        assert_eq!(
            (unit.code, unit.name, unit.unit_type.as_str()),
            ("00097", "Phường Hồng Hà", "phuong")
        );
    }

    /// The shared-number analysis of `data/README.md`, pinned.
    #[test]
    fn shared_numbers_nest_except_eleven_neighbours_and_two_faults() {
        let maps = maps();
        let shared: Vec<&SharedNumber> = maps.shared_numbers().collect();
        assert_eq!(shared.len(), 2_134, "numbers in both tables");
        assert_eq!(
            maps.wards().len() - shared.len(),
            1_187,
            "numbers new in 2025"
        );
        let reused = shared.iter().filter(|s| s.reused_from_source()).count();
        assert_eq!(
            reused, 2_122,
            "2025 numbers carried by one of the ward's own sources"
        );
        let mut by_relation: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        for number in &shared {
            let name = match number.relation() {
                NumberRelation::Nested => "nested",
                NumberRelation::Neighbour => "neighbour",
                NumberRelation::FarApart => "far",
                other => panic!("shared number with relation {other:?}"),
            };
            by_relation
                .entry(name)
                .or_default()
                .push(number.postcode.to_string());
        }
        assert_eq!(by_relation["nested"].len(), 2_121);
        assert_eq!(by_relation["neighbour"].len(), 11);
        let mut far = by_relation["far"].clone();
        far.sort();
        assert_eq!(far, ["66662", "92308"]);
        // Neighbours are near; the two far ones are across the country.
        for number in &shared {
            for &(_, holder, distance_km) in &number.legacy {
                let distance_km = distance_km.expect("both have centroids");
                match holder {
                    Holder::SameProvince => assert!(distance_km < 30.0, "{distance_km}"),
                    Holder::OtherProvince => assert!(distance_km > 1_000.0, "{distance_km}"),
                    Holder::WentIn => {}
                }
            }
        }
        // Both far holders carry a number outside their own province's 2025 prefixes: a
        // fault of the legacy table, not a reuse.
        for code in ["66662", "92308"] {
            let number = maps.shared_number(postcode(code)).expect("shared");
            for &(legacy, holder, _) in &number.legacy {
                if holder != Holder::OtherProvince {
                    continue;
                }
                let ward = maps.legacy_ward(legacy);
                let province_2025 = maps.ward(ward.targets[0]).province;
                let prefixes = &maps.province(province_2025).postcode_prefixes;
                assert!(
                    !prefixes
                        .iter()
                        .any(|prefix| code.starts_with(prefix.as_str()))
                );
            }
            assert!(!maps.nests(postcode(code)));
        }
        // 92308 also names the Kiên Giang ward that did go into its 2025 ward.
        let kien_giang = maps.shared_number(postcode("92308")).expect("shared");
        assert!(kien_giang.reused_from_source());
        assert!(maps.nests(postcode("11025")));
        assert_eq!(
            maps.number_relation(postcode("11116")),
            NumberRelation::OnlyLegacy
        );
        assert_eq!(
            maps.number_relation(postcode("99999")),
            NumberRelation::Unknown
        );
    }

    #[test]
    fn legacy_numbers_outside_their_provinces_prefixes() {
        let maps = maps();
        let outside: HashSet<&str> = maps
            .legacy_wards()
            .iter()
            .filter(|ward| {
                let Some(postcode) = ward.postcode else {
                    return false;
                };
                let text = postcode.to_string();
                let province_2025 = maps.ward(ward.targets[0]).province;
                !maps
                    .province(province_2025)
                    .postcode_prefixes
                    .iter()
                    .any(|prefix| text.starts_with(prefix.as_str()))
            })
            .map(|ward| ward.code.as_str())
            .collect();
        assert_eq!(outside.len(), 21);
        assert!(outside.contains("03389") && outside.contains("03331"));
    }
}
