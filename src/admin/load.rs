//! Reading the four CSV files into [`AdminMaps`]. A row that cannot be used is reported as
//! a [`LoadProblem`] and skipped; only a file that cannot be read as CSV at all (or lacks a
//! column) is an [`AdminError`].

use std::collections::HashMap;

use crate::code::Postcode;
use crate::point::LatLon;

use super::problems::{AdminError, LoadProblem, ProblemKind, SourceFile};
use super::table::Table;
use super::types::*;
use super::{AdminMaps, shared};

/// The text of the four files (the embedded copies, or others of the same layout).
#[derive(Debug, Clone, Copy)]
pub struct Sources<'a> {
    pub legacy_wards: &'a str,
    pub wards_2025: &'a str,
    pub postcodes_2025: &'a str,
    pub links: &'a str,
}

fn parse_centroid(lat: &str, lon: &str) -> Option<LatLon> {
    let lat = lat.parse::<f64>().ok()?;
    let lon = lon.parse::<f64>().ok()?;
    LatLon::new(lat, lon).ok()
}

/// Short name and type from a full name, else from a fallback type (the column).
fn name_and_type(
    name: &str,
    level: Level,
    fallback: Option<UnitType>,
) -> Option<(UnitType, String)> {
    match UnitType::split_name(name, level) {
        Some((unit_type, short)) => Some((unit_type, short.to_owned())),
        None => fallback.map(|unit_type| (unit_type, name.trim().to_owned())),
    }
}

#[derive(Default)]
struct Builder {
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
    problems: Vec<LoadProblem>,
}

impl Builder {
    fn problem(&mut self, file: SourceFile, line: u64, code: &str, kind: ProblemKind) {
        self.problems.push(LoadProblem {
            file,
            line,
            code: code.to_owned(),
            kind,
        });
    }

    fn legacy(&mut self, text: &str) -> Result<(), AdminError> {
        let file = SourceFile::LegacyWards;
        let table = Table::read(
            file,
            text,
            &[
                "province_code",
                "province",
                "district_code",
                "district",
                "ward_code",
                "ward",
                "ward_type",
                "postcode",
                "lat",
                "lon",
            ],
        )?;
        for (line, record) in &table.rows {
            let line = *line;
            let province_code = table.get(record, "province_code");
            let province_name = table.get(record, "province");
            let district_code = table.get(record, "district_code");
            let district_name = table.get(record, "district");
            let Some(province) = self.legacy_province(file, line, province_code, province_name)
            else {
                continue;
            };
            let Some(district) =
                self.legacy_district(file, line, province, district_code, district_name)
            else {
                continue;
            };
            let ward_code = table.get(record, "ward_code");
            if ward_code.is_empty() {
                // One of the ward-less island districts: nothing more on this row.
                continue;
            }
            if self.legacy_ward_by_code.contains_key(ward_code) {
                self.problem(file, line, ward_code, ProblemKind::DuplicateCode);
                continue;
            }
            let ward_name = table.get(record, "ward");
            let column = table.get(record, "ward_type");
            let column_type = UnitType::from_ward_column(column);
            let Some((unit_type, short_name)) = name_and_type(ward_name, Level::Ward, column_type)
            else {
                self.problem(
                    file,
                    line,
                    ward_code,
                    ProblemKind::UnknownType(ward_name.to_owned()),
                );
                continue;
            };
            if column_type.is_some_and(|column_type| column_type != unit_type) {
                self.problem(
                    file,
                    line,
                    ward_code,
                    ProblemKind::TypeMismatch {
                        from_name: unit_type,
                        column: column.to_owned(),
                    },
                );
            }
            let postcode_text = table.get(record, "postcode");
            let postcode = if postcode_text.is_empty() {
                self.problem(file, line, ward_code, ProblemKind::MissingPostcode);
                None
            } else {
                match Postcode::parse(postcode_text) {
                    Ok(postcode) => Some(postcode),
                    Err(_) => {
                        self.problem(
                            file,
                            line,
                            ward_code,
                            ProblemKind::BadPostcode(postcode_text.to_owned()),
                        );
                        None
                    }
                }
            };
            let centroid = parse_centroid(table.get(record, "lat"), table.get(record, "lon"));
            if centroid.is_none() {
                self.problem(file, line, ward_code, ProblemKind::MissingCentroid);
            }
            let id = LegacyWardId(self.legacy_wards.len() as u32);
            self.legacy_ward_by_code.insert(ward_code.to_owned(), id);
            self.legacy_districts[district.index()].wards.push(id);
            self.legacy_wards.push(LegacyWard {
                code: ward_code.to_owned(),
                name: ward_name.to_owned(),
                short_name,
                unit_type,
                district,
                province,
                postcode,
                centroid,
                targets: Vec::new(),
            });
        }
        if self.legacy_wards.is_empty() {
            return Err(AdminError::Empty { file });
        }
        Ok(())
    }

    fn legacy_province(
        &mut self,
        file: SourceFile,
        line: u64,
        code: &str,
        name: &str,
    ) -> Option<LegacyProvinceId> {
        if let Some(&id) = self.legacy_province_by_code.get(code) {
            let known = &self.legacy_provinces[id.index()].name;
            if known != name {
                let expected = known.clone();
                self.problem(
                    file,
                    line,
                    code,
                    ProblemKind::ParentNameMismatch {
                        expected,
                        found: name.to_owned(),
                    },
                );
            }
            return Some(id);
        }
        let Some((unit_type, short_name)) = name_and_type(name, Level::Province, None) else {
            self.problem(file, line, code, ProblemKind::UnknownType(name.to_owned()));
            return None;
        };
        let id = LegacyProvinceId(self.legacy_provinces.len() as u32);
        self.legacy_province_by_code.insert(code.to_owned(), id);
        self.legacy_provinces.push(LegacyProvince {
            code: code.to_owned(),
            name: name.to_owned(),
            short_name,
            unit_type,
            districts: Vec::new(),
            provinces_2025: Vec::new(),
        });
        Some(id)
    }

    fn legacy_district(
        &mut self,
        file: SourceFile,
        line: u64,
        province: LegacyProvinceId,
        code: &str,
        name: &str,
    ) -> Option<LegacyDistrictId> {
        if let Some(&id) = self.legacy_district_by_code.get(code) {
            let known = &self.legacy_districts[id.index()].name;
            if known != name {
                let expected = known.clone();
                self.problem(
                    file,
                    line,
                    code,
                    ProblemKind::ParentNameMismatch {
                        expected,
                        found: name.to_owned(),
                    },
                );
            }
            return Some(id);
        }
        let Some((unit_type, short_name)) = name_and_type(name, Level::District, None) else {
            self.problem(file, line, code, ProblemKind::UnknownType(name.to_owned()));
            return None;
        };
        let id = LegacyDistrictId(self.legacy_districts.len() as u32);
        self.legacy_district_by_code.insert(code.to_owned(), id);
        self.legacy_provinces[province.index()].districts.push(id);
        self.legacy_districts.push(LegacyDistrict {
            code: code.to_owned(),
            name: name.to_owned(),
            short_name,
            unit_type,
            province,
            wards: Vec::new(),
            wards_2025: Vec::new(),
            island_target: None,
        });
        Some(id)
    }

    fn wards_2025(&mut self, text: &str) -> Result<(), AdminError> {
        let file = SourceFile::Wards2025;
        let table = Table::read(
            file,
            text,
            &[
                "province_code",
                "province",
                "ward_code",
                "ward",
                "ward_type",
                "lat",
                "lon",
                "area_km2",
            ],
        )?;
        for (line, record) in &table.rows {
            let line = *line;
            let province_code = table.get(record, "province_code");
            let province_name = table.get(record, "province");
            let province = match self.province_by_code.get(province_code) {
                Some(&id) => id,
                None => {
                    let Some((unit_type, short_name)) =
                        name_and_type(province_name, Level::Province, None)
                    else {
                        self.problem(
                            file,
                            line,
                            province_code,
                            ProblemKind::UnknownType(province_name.to_owned()),
                        );
                        continue;
                    };
                    let id = ProvinceId(self.provinces.len() as u32);
                    self.province_by_code.insert(province_code.to_owned(), id);
                    self.provinces.push(Province {
                        code: province_code.to_owned(),
                        name: province_name.to_owned(),
                        short_name,
                        unit_type,
                        postcode_prefixes: Vec::new(),
                        wards: Vec::new(),
                        legacy_provinces: Vec::new(),
                    });
                    id
                }
            };
            let ward_code = table.get(record, "ward_code");
            if self.ward_by_code.contains_key(ward_code) {
                self.problem(file, line, ward_code, ProblemKind::DuplicateCode);
                continue;
            }
            let ward_name = table.get(record, "ward");
            let column = table.get(record, "ward_type");
            let column_type = UnitType::from_ward_column(column);
            let Some((unit_type, short_name)) = name_and_type(ward_name, Level::Ward, column_type)
            else {
                self.problem(
                    file,
                    line,
                    ward_code,
                    ProblemKind::UnknownType(ward_name.to_owned()),
                );
                continue;
            };
            if column_type.is_some_and(|column_type| column_type != unit_type) {
                self.problem(
                    file,
                    line,
                    ward_code,
                    ProblemKind::TypeMismatch {
                        from_name: unit_type,
                        column: column.to_owned(),
                    },
                );
            }
            let centroid = parse_centroid(table.get(record, "lat"), table.get(record, "lon"));
            if centroid.is_none() {
                self.problem(file, line, ward_code, ProblemKind::MissingCentroid);
            }
            let area_km2 = table.get(record, "area_km2").parse::<f64>().ok();
            let id = WardId(self.wards.len() as u32);
            self.ward_by_code.insert(ward_code.to_owned(), id);
            self.provinces[province.index()].wards.push(id);
            self.wards.push(Ward {
                code: ward_code.to_owned(),
                name: ward_name.to_owned(),
                short_name,
                unit_type,
                province,
                postcode: None,
                centroid,
                area_km2,
                sources: Vec::new(),
                source_districts: Vec::new(),
            });
        }
        if self.wards.is_empty() {
            return Err(AdminError::Empty { file });
        }
        Ok(())
    }

    fn postcodes_2025(&mut self, text: &str) -> Result<(), AdminError> {
        let file = SourceFile::Postcodes2025;
        let table = Table::read(
            file,
            text,
            &[
                "province_code",
                "province_postcode_prefix",
                "ward_code",
                "postcode",
            ],
        )?;
        let mut owner: HashMap<Postcode, WardId> = HashMap::new();
        for (line, record) in &table.rows {
            let line = *line;
            let ward_code = table.get(record, "ward_code");
            let Some(&ward) = self.ward_by_code.get(ward_code) else {
                self.problem(
                    file,
                    line,
                    ward_code,
                    ProblemKind::UnknownCode(ward_code.to_owned()),
                );
                continue;
            };
            let province = self.wards[ward.index()].province;
            let province_code = table.get(record, "province_code");
            if self.provinces[province.index()].code != province_code {
                self.problem(
                    file,
                    line,
                    ward_code,
                    ProblemKind::UnknownCode(province_code.to_owned()),
                );
                continue;
            }
            let prefixes: Vec<String> = table
                .get(record, "province_postcode_prefix")
                .split_whitespace()
                .map(str::to_owned)
                .collect();
            if self.provinces[province.index()]
                .postcode_prefixes
                .is_empty()
            {
                self.provinces[province.index()].postcode_prefixes = prefixes;
            }
            let postcode_text = table.get(record, "postcode");
            let Ok(postcode) = Postcode::parse(postcode_text) else {
                self.problem(
                    file,
                    line,
                    ward_code,
                    ProblemKind::BadPostcode(postcode_text.to_owned()),
                );
                continue;
            };
            if owner.contains_key(&postcode) {
                self.problem(
                    file,
                    line,
                    ward_code,
                    ProblemKind::DuplicatePostcode { postcode },
                );
                continue;
            }
            let text = postcode.to_string();
            let fits = self.provinces[province.index()]
                .postcode_prefixes
                .iter()
                .any(|prefix| text.starts_with(prefix.as_str()));
            if !fits {
                self.problem(
                    file,
                    line,
                    ward_code,
                    ProblemKind::PrefixMismatch { postcode },
                );
            }
            owner.insert(postcode, ward);
            self.wards[ward.index()].postcode = Some(postcode);
        }
        Ok(())
    }

    fn links(&mut self, text: &str) -> Result<(), AdminError> {
        let file = SourceFile::Links;
        let table = Table::read(
            file,
            text,
            &[
                "old_district_code",
                "old_ward_code",
                "new_ward_code",
                "is_default",
                "n_targets",
            ],
        )?;
        let mut expected_targets: HashMap<LegacyWardId, (u64, usize)> = HashMap::new();
        for (line, record) in &table.rows {
            let line = *line;
            let new_code = table.get(record, "new_ward_code");
            let Some(&ward) = self.ward_by_code.get(new_code) else {
                self.problem(
                    file,
                    line,
                    new_code,
                    ProblemKind::UnknownCode(new_code.to_owned()),
                );
                continue;
            };
            let old_code = table.get(record, "old_ward_code");
            if old_code.is_empty() {
                let district_code = table.get(record, "old_district_code");
                let Some(&district) = self.legacy_district_by_code.get(district_code) else {
                    self.problem(
                        file,
                        line,
                        district_code,
                        ProblemKind::UnknownCode(district_code.to_owned()),
                    );
                    continue;
                };
                self.legacy_districts[district.index()].island_target = Some(ward);
                push_unique(
                    &mut self.legacy_districts[district.index()].wards_2025,
                    ward,
                );
                push_unique(&mut self.wards[ward.index()].source_districts, district);
                continue;
            }
            let Some(&legacy) = self.legacy_ward_by_code.get(old_code) else {
                self.problem(
                    file,
                    line,
                    old_code,
                    ProblemKind::UnknownCode(old_code.to_owned()),
                );
                continue;
            };
            let n_targets = table.get(record, "n_targets").parse::<usize>().unwrap_or(0);
            expected_targets.entry(legacy).or_insert((line, n_targets));
            let targets = &mut self.legacy_wards[legacy.index()].targets;
            if targets.contains(&ward) {
                self.problem(file, line, old_code, ProblemKind::DuplicateCode);
                continue;
            }
            if table.get(record, "is_default") == "1" {
                targets.insert(0, ward);
            } else {
                targets.push(ward);
            }
            let district = self.legacy_wards[legacy.index()].district;
            push_unique(&mut self.wards[ward.index()].sources, legacy);
            push_unique(&mut self.wards[ward.index()].source_districts, district);
            push_unique(
                &mut self.legacy_districts[district.index()].wards_2025,
                ward,
            );
        }
        for idx in 0..self.legacy_wards.len() {
            let id = LegacyWardId(idx as u32);
            let found = self.legacy_wards[idx].targets.len();
            let (line, expected) = expected_targets.get(&id).copied().unwrap_or((0, 1));
            if found != expected {
                let code = self.legacy_wards[idx].code.clone();
                self.problem(
                    file,
                    line,
                    &code,
                    ProblemKind::LinkCount { expected, found },
                );
            }
        }
        for idx in 0..self.wards.len() {
            if self.wards[idx].sources.is_empty() && self.wards[idx].source_districts.is_empty() {
                let code = self.wards[idx].code.clone();
                self.problem(SourceFile::Wards2025, 0, &code, ProblemKind::Unreached);
            }
        }
        // Province-level links follow from the ward-level ones.
        for ward in &self.legacy_wards {
            for &target in &ward.targets {
                let province_2025 = self.wards[target.index()].province;
                push_unique(
                    &mut self.legacy_provinces[ward.province.index()].provinces_2025,
                    province_2025,
                );
                push_unique(
                    &mut self.provinces[province_2025.index()].legacy_provinces,
                    ward.province,
                );
            }
        }
        Ok(())
    }
}

fn push_unique<T: PartialEq>(items: &mut Vec<T>, item: T) {
    if !items.contains(&item) {
        items.push(item);
    }
}

pub(super) fn load(sources: Sources<'_>) -> Result<AdminMaps, AdminError> {
    let mut builder = Builder::default();
    builder.legacy(sources.legacy_wards)?;
    builder.wards_2025(sources.wards_2025)?;
    builder.postcodes_2025(sources.postcodes_2025)?;
    builder.links(sources.links)?;
    let mut legacy_wards_by_postcode: HashMap<Postcode, Vec<LegacyWardId>> = HashMap::new();
    for (idx, ward) in builder.legacy_wards.iter().enumerate() {
        if let Some(postcode) = ward.postcode {
            legacy_wards_by_postcode
                .entry(postcode)
                .or_default()
                .push(LegacyWardId(idx as u32));
        }
    }
    let ward_by_postcode: HashMap<Postcode, WardId> = builder
        .wards
        .iter()
        .enumerate()
        .filter_map(|(idx, ward)| Some((ward.postcode?, WardId(idx as u32))))
        .collect();
    let mut maps = AdminMaps {
        legacy_provinces: builder.legacy_provinces,
        legacy_districts: builder.legacy_districts,
        legacy_wards: builder.legacy_wards,
        provinces: builder.provinces,
        wards: builder.wards,
        legacy_province_by_code: builder.legacy_province_by_code,
        legacy_district_by_code: builder.legacy_district_by_code,
        legacy_ward_by_code: builder.legacy_ward_by_code,
        province_by_code: builder.province_by_code,
        ward_by_code: builder.ward_by_code,
        legacy_wards_by_postcode,
        ward_by_postcode,
        shared_numbers: HashMap::new(),
        problems: builder.problems,
    };
    maps.shared_numbers = shared::analyse(&maps);
    Ok(maps)
}
