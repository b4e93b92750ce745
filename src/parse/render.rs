//! Writing an address the ways people write it: a ward of either map (and optionally a
//! street, house number and alley) rendered in a named [`Style`]. The parser's accuracy
//! corpus and the forward-geocoding benchmark both render through here, so each style
//! also says which units it wrote and how ([`Rendered::units`]).
//!
//! Decisions:
//! - A legacy ward is written ward, district, province; a 2025 ward ward, province.
//!   [`Style::TwoLevel`] drops the legacy district (how old addresses are often written
//!   today); [`Style::Mixed`] writes a legacy ward with its 2025 province, a 2025 ward with
//!   the legacy district most of its wards came from.
//! - [`Style::Typo`] changes one letter (wrong, missing or swapped with its neighbour) of
//!   the ward's name, or of the district's or province's when the ward's has fewer than 5
//!   letters; a change that would spell another unit's name (or an alias) is never made,
//!   since no reader could see it: another change is drawn instead, deterministically from
//!   the seed.
//! - Aliases appear only in [`Style::Numbered`], and only the unmistakable ones (TP.HCM,
//!   HN).

use std::collections::HashSet;
use std::sync::Arc;

use unicode_normalization::UnicodeNormalization;

use crate::admin::{AdminMaps, LegacyDistrictId, LegacyWardId, Level, UnitId, UnitType, WardId};

use super::fold::{fold_words, strip_marks};
use super::lexicon::PROVINCE_ALIASES;

/// A way of writing an address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Style {
    /// "Số 12, Ngõ 3, Phố Đội Cấn, Phường Phúc Xá, Quận Ba Đình, Thành phố Hà Nội".
    Full,
    /// Full without the Vietnamese marks: "Phuong Phuc Xa, Quan Ba Dinh, Thanh pho Ha Noi".
    NoMarks,
    /// "12 Ng. 3 Phố Đội Cấn, P. Phúc Xá, Q. Ba Đình, TP. Hà Nội" ("Tỉnh" dropped).
    Abbreviated,
    /// Full, province first and the street last.
    ProvinceFirst,
    /// Full with every comma dropped.
    NoCommas,
    /// Full in capitals.
    UpperCase,
    /// Full, decomposed (NFD): marks as combining characters.
    Nfd,
    /// Full with one letter wrong, missing or swapped in a name of 5+ letters.
    Typo,
    /// Ward and province only: the 2025 form, and legacy wards written without district.
    TwoLevel,
    /// Old and new units together (see the module doc).
    Mixed,
    /// Compact with numbers glued: "P7, Q10, TP.HCM", "P.07", "Q.Ba Đình", "HN".
    Numbered,
    /// Names only, no unit words (but for numbered units: "phuong 7"), no marks, lower
    /// case: "phuc xa, ba dinh, ha noi".
    Bare,
}

impl Style {
    pub const ALL: [Style; 12] = [
        Style::Full,
        Style::NoMarks,
        Style::Abbreviated,
        Style::ProvinceFirst,
        Style::NoCommas,
        Style::UpperCase,
        Style::Nfd,
        Style::Typo,
        Style::TwoLevel,
        Style::Mixed,
        Style::Numbered,
        Style::Bare,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Style::Full => "full",
            Style::NoMarks => "no_marks",
            Style::Abbreviated => "abbreviated",
            Style::ProvinceFirst => "province_first",
            Style::NoCommas => "no_commas",
            Style::UpperCase => "upper_case",
            Style::Nfd => "nfd",
            Style::Typo => "typo",
            Style::TwoLevel => "two_level",
            Style::Mixed => "mixed",
            Style::Numbered => "numbered",
            Style::Bare => "bare",
        }
    }

    /// Whether the style keeps the Vietnamese marks of the names.
    pub fn keeps_marks(self) -> bool {
        !matches!(self, Style::NoMarks | Style::Bare)
    }
}

/// A ward of either map.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WardRef {
    Legacy(LegacyWardId),
    Y2025(WardId),
}

impl WardRef {
    pub fn unit(self) -> UnitId {
        match self {
            WardRef::Legacy(id) => UnitId::LegacyWard(id),
            WardRef::Y2025(id) => UnitId::Ward(id),
        }
    }
}

/// The street part, each as it is written in full: "12A", "Ngõ 3" or "Hẻm 45/3", "Phố
/// Đội Cấn" or "Đường Lê Lợi" or "Quốc lộ 1A".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AddressLine {
    pub house_number: Option<String>,
    pub alley: Option<String>,
    pub street: Option<String>,
}

/// A unit as a rendering wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedUnit {
    pub unit: UnitId,
    /// The name as written, without its unit word: "Phúc Xá", "PHÚC XÁ", "07", "Phúc Xs",
    /// "HCM".
    pub written_name: String,
    /// The type its unit word says; `None` when no unit word was written.
    pub written_type: Option<UnitType>,
    /// The name carries the one-letter change of [`Style::Typo`].
    pub typo: bool,
    /// An alias was written, not the name.
    pub alias: bool,
}

/// An address rendered in a style, with what it names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub text: String,
    /// Lowest level first.
    pub units: Vec<RenderedUnit>,
}

/// Renders addresses; holds the folded names of every unit, to keep typos from spelling
/// another name.
#[derive(Debug)]
pub struct Renderer {
    maps: Arc<AdminMaps>,
    names: HashSet<String>,
}

/// How many one-letter changes are tried before giving the typo up.
const TYPO_ATTEMPTS: u64 = 64;

fn spaceless(text: &str) -> String {
    fold_words(text).replace(' ', "")
}

/// splitmix64: a well-mixed number from a seed, for deterministic choices.
fn mix(seed: u64) -> u64 {
    let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn abbreviation(unit_type: UnitType) -> Option<&'static str> {
    match unit_type {
        UnitType::Tinh => None,
        UnitType::ThanhPho => Some("TP."),
        UnitType::Quan => Some("Q."),
        UnitType::Huyen => Some("H."),
        UnitType::ThiXa => Some("TX."),
        UnitType::Phuong => Some("P."),
        UnitType::Xa => Some("X."),
        UnitType::ThiTran => Some("TT."),
        UnitType::DacKhu => Some("Đặc khu"),
    }
}

/// One unit to write: what it is and the name to write.
#[derive(Debug, Clone)]
struct Part {
    unit: UnitId,
    unit_type: UnitType,
    name: String,
    typo: bool,
}

impl Renderer {
    pub fn new(maps: Arc<AdminMaps>) -> Renderer {
        let mut names = HashSet::new();
        let units = maps
            .legacy_province_ids()
            .map(UnitId::LegacyProvince)
            .chain(maps.legacy_district_ids().map(UnitId::LegacyDistrict))
            .chain(maps.legacy_ward_ids().map(UnitId::LegacyWard))
            .chain(maps.province_ids().map(UnitId::Province))
            .chain(maps.ward_ids().map(UnitId::Ward));
        for unit in units {
            names.insert(spaceless(maps.short_name(unit)));
        }
        for &(alias, _) in PROVINCE_ALIASES {
            names.insert(spaceless(alias));
        }
        Renderer { maps, names }
    }

    pub fn maps(&self) -> &AdminMaps {
        &self.maps
    }

    /// The 2025 ward's legacy district: the one most of its legacy wards came from (the
    /// first seen among equals).
    pub fn main_source_district(&self, ward: WardId) -> Option<LegacyDistrictId> {
        let record = self.maps.ward(ward);
        let mut best: Option<(LegacyDistrictId, usize)> = None;
        for &district in &record.source_districts {
            let count = record
                .sources
                .iter()
                .filter(|&&source| self.maps.legacy_ward(source).district == district)
                .count();
            if best.is_none_or(|(_, known)| count > known) {
                best = Some((district, count));
            }
        }
        best.map(|(district, _)| district)
    }

    fn part(&self, unit: UnitId) -> Part {
        Part {
            unit,
            unit_type: self.maps.unit(unit).unit_type,
            name: self.maps.short_name(unit).to_owned(),
            typo: false,
        }
    }

    /// The units a style writes for a ward, lowest first.
    fn parts(&self, ward: WardRef, style: Style) -> Vec<Part> {
        let maps = &*self.maps;
        match ward {
            WardRef::Legacy(id) => {
                let record = maps.legacy_ward(id);
                let province_2025 = maps
                    .legacy_province(record.province)
                    .provinces_2025
                    .first()
                    .copied();
                let mut parts = vec![self.part(UnitId::LegacyWard(id))];
                if style != Style::TwoLevel {
                    parts.push(self.part(UnitId::LegacyDistrict(record.district)));
                }
                match (style, province_2025) {
                    (Style::Mixed, Some(province)) => {
                        parts.push(self.part(UnitId::Province(province)))
                    }
                    _ => parts.push(self.part(UnitId::LegacyProvince(record.province))),
                }
                parts
            }
            WardRef::Y2025(id) => {
                let record = maps.ward(id);
                let mut parts = vec![self.part(UnitId::Ward(id))];
                if style == Style::Mixed
                    && let Some(district) = self.main_source_district(id)
                {
                    parts.push(self.part(UnitId::LegacyDistrict(district)));
                }
                parts.push(self.part(UnitId::Province(record.province)));
                parts
            }
        }
    }

    /// One letter of `name` changed, or `None` when every change tried spells a name.
    fn typo(&self, name: &str, seed: u64) -> Option<String> {
        let chars: Vec<char> = name.chars().collect();
        let letters: Vec<usize> = (0..chars.len())
            .filter(|&idx| chars[idx].is_alphabetic())
            .collect();
        if letters.len() < 5 {
            return None;
        }
        let original = spaceless(name);
        for attempt in 0..TYPO_ATTEMPTS {
            let random = mix(seed ^ attempt.wrapping_mul(0x2545_f491_4f6c_dd1d));
            let at = letters[(random % letters.len() as u64) as usize];
            let mut changed = chars.clone();
            match (random >> 32) % 3 {
                0 => {
                    let replacement = (b'a' + ((random >> 40) % 26) as u8) as char;
                    changed[at] = if chars[at].is_uppercase() {
                        replacement.to_ascii_uppercase()
                    } else {
                        replacement
                    };
                }
                1 => {
                    changed.remove(at);
                }
                _ => {
                    let Some(&next) = letters.iter().find(|&&idx| idx == at + 1) else {
                        continue;
                    };
                    changed.swap(at, next);
                }
            }
            let text: String = changed.into_iter().collect();
            let key = spaceless(&text);
            if key != original && !self.names.contains(&key) {
                return Some(text);
            }
        }
        None
    }

    /// Renders a ward (with an optional street part) in a style. `seed` picks the typo
    /// and the way numbers are written; the same arguments give the same text.
    pub fn render(
        &self,
        ward: WardRef,
        line: Option<&AddressLine>,
        style: Style,
        seed: u64,
    ) -> Rendered {
        let mut parts = self.parts(ward, style);
        if style == Style::Typo {
            let target = parts
                .iter()
                .position(|part| part.name.chars().filter(|c| c.is_alphabetic()).count() >= 5);
            if let Some(idx) = target
                && let Some(changed) = self.typo(&parts[idx].name, seed)
            {
                parts[idx].name = changed;
                parts[idx].typo = true;
            }
        }
        let mut units = Vec::with_capacity(parts.len());
        let mut unit_texts = Vec::with_capacity(parts.len());
        for (idx, part) in parts.iter().enumerate() {
            let (text, unit) = self.write_unit(part, style, seed.wrapping_add(idx as u64));
            unit_texts.push(text);
            units.push(unit);
        }
        let line_text = line
            .map(|line| write_line(line, style))
            .filter(|t| !t.is_empty());
        let mut pieces: Vec<String> = Vec::with_capacity(unit_texts.len() + 1);
        if style == Style::ProvinceFirst {
            pieces.extend(unit_texts.into_iter().rev());
            pieces.extend(line_text);
        } else {
            pieces.extend(line_text);
            pieces.extend(unit_texts);
        }
        let separator = if style == Style::NoCommas { " " } else { ", " };
        let text = pieces.join(separator);
        let text = match style {
            Style::UpperCase => text.to_uppercase(),
            Style::Nfd => text.nfd().collect(),
            Style::NoMarks => strip_marks(&text),
            _ => text,
        };
        for unit in &mut units {
            unit.written_name = match style {
                Style::UpperCase => unit.written_name.to_uppercase(),
                Style::Nfd => unit.written_name.nfd().collect(),
                Style::NoMarks => strip_marks(&unit.written_name),
                _ => std::mem::take(&mut unit.written_name),
            };
        }
        Rendered { text, units }
    }

    fn write_unit(&self, part: &Part, style: Style, seed: u64) -> (String, RenderedUnit) {
        let mut unit = RenderedUnit {
            unit: part.unit,
            written_name: part.name.clone(),
            written_type: Some(part.unit_type),
            typo: part.typo,
            alias: false,
        };
        let numeric = part.name.bytes().all(|b| b.is_ascii_digit());
        let text = match style {
            // A number alone is no name anybody writes: "phuong 7", not "7".
            Style::Bare if numeric => {
                unit.written_name = part.name.clone();
                fold_words(&format!("{} {}", part.unit_type.prefix(), part.name))
            }
            Style::Bare => {
                unit.written_type = None;
                unit.written_name = fold_words(&part.name);
                unit.written_name.clone()
            }
            Style::Abbreviated => match abbreviation(part.unit_type) {
                Some(short) => format!("{short} {}", part.name),
                None => {
                    unit.written_type = None;
                    part.name.clone()
                }
            },
            Style::Numbered => {
                let province = part.unit.level() == Level::Province;
                match (province, part.name.as_str()) {
                    (true, "Hồ Chí Minh") => {
                        unit.alias = true;
                        unit.written_name = "HCM".to_owned();
                        "TP.HCM".to_owned()
                    }
                    (true, "Hà Nội") => {
                        unit.alias = true;
                        unit.written_type = None;
                        unit.written_name = "HN".to_owned();
                        "HN".to_owned()
                    }
                    _ => match abbreviation(part.unit_type) {
                        Some(short) if numeric => {
                            let letter = short.trim_end_matches('.');
                            match mix(seed) % 3 {
                                0 => format!("{letter}{}", part.name),
                                1 => {
                                    unit.written_name = format!("{:0>2}", part.name);
                                    format!("{short}{:0>2}", part.name)
                                }
                                _ => format!("{short} {}", part.name),
                            }
                        }
                        Some(short) if short.ends_with('.') => format!("{short}{}", part.name),
                        Some(word) => format!("{word} {}", part.name),
                        None => {
                            unit.written_type = None;
                            part.name.clone()
                        }
                    },
                }
            }
            _ => format!("{} {}", part.unit_type.prefix(), part.name),
        };
        (text, unit)
    }
}

/// The street part in a style.
fn write_line(line: &AddressLine, style: Style) -> String {
    let house = line.house_number.as_deref();
    let alley = line.alley.as_deref();
    let street = line.street.as_deref();
    match style {
        Style::Abbreviated | Style::Numbered => {
            let alley_short =
                alley.map(|alley| alley.replacen("Ngõ ", "Ng.", 1).replacen("Kiệt ", "K.", 1));
            let street_short = street.map(|street| street.replacen("Đường ", "Đ.", 1));
            // "Hẻm 45/3" and house 5 are written "45/3/5", as in the south.
            let chain = match (house, alley) {
                (Some(house), Some(alley)) if alley.starts_with("Hẻm ") => {
                    Some(format!("{}/{house}", &alley["Hẻm ".len()..]))
                }
                _ => None,
            };
            match chain {
                Some(chain) => [Some(chain), street_short]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>(),
                None => [house.map(str::to_owned), alley_short, street_short]
                    .into_iter()
                    .flatten()
                    .collect(),
            }
            .join(" ")
        }
        Style::Bare => fold_words(
            &[
                house.map(|house| format!("so {house}")),
                alley.map(str::to_owned),
                street.map(str::to_owned),
            ]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" "),
        ),
        Style::NoCommas => [
            house.map(|house| format!("Số {house}")),
            alley.map(str::to_owned),
            street.map(str::to_owned),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" "),
        _ => [
            house.map(|house| format!("Số {house}")),
            alley.map(str::to_owned),
            street.map(str::to_owned),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(", "),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn renderer() -> Renderer {
        Renderer::new(Arc::new(AdminMaps::load_embedded().expect("maps")))
    }

    #[test]
    fn styles_write_what_they_say() {
        let renderer = renderer();
        let maps = renderer.maps();
        let phuc_xa = WardRef::Legacy(maps.legacy_ward_by_code("00001").expect("ward"));
        let line = AddressLine {
            house_number: Some("12".to_owned()),
            alley: Some("Ngõ 3".to_owned()),
            street: Some("Phố Đội Cấn".to_owned()),
        };
        let text = |style| renderer.render(phuc_xa, Some(&line), style, 7).text;
        assert_eq!(
            text(Style::Full),
            "Số 12, Ngõ 3, Phố Đội Cấn, Phường Phúc Xá, Quận Ba Đình, Thành phố Hà Nội"
        );
        assert_eq!(
            text(Style::Abbreviated),
            "12 Ng.3 Phố Đội Cấn, P. Phúc Xá, Q. Ba Đình, TP. Hà Nội"
        );
        assert_eq!(
            text(Style::Bare),
            "so 12 ngo 3 pho doi can, phuc xa, ba dinh, ha noi"
        );
        assert_eq!(
            text(Style::ProvinceFirst),
            "Thành phố Hà Nội, Quận Ba Đình, Phường Phúc Xá, Số 12, Ngõ 3, Phố Đội Cấn"
        );
        assert_eq!(
            text(Style::TwoLevel),
            "Số 12, Ngõ 3, Phố Đội Cấn, Phường Phúc Xá, Thành phố Hà Nội"
        );
        assert!(text(Style::Numbered).ends_with("P.Phúc Xá, Q.Ba Đình, HN"));
        assert_eq!(text(Style::NoMarks), strip_marks(&text(Style::Full)));
        assert_ne!(text(Style::Nfd), text(Style::Full));
        let typo = renderer.render(phuc_xa, None, Style::Typo, 7);
        assert!(typo.units[0].typo);
        assert_ne!(typo.units[0].written_name, "Phúc Xá");
        assert!(!typo.text.contains("Phúc Xá,"));
    }

    #[test]
    fn mixed_writes_old_and_new_together() {
        let renderer = renderer();
        let maps = renderer.maps();
        let sai_gon = maps
            .ward_ids()
            .find(|&id| maps.ward(id).name == "Phường Sài Gòn")
            .expect("ward");
        let mixed = renderer.render(WardRef::Y2025(sai_gon), None, Style::Mixed, 1);
        assert_eq!(mixed.text, "Phường Sài Gòn, Quận 1, Thành phố Hồ Chí Minh");
        let legacy = maps.ward(sai_gon).sources[0];
        let mixed = renderer.render(WardRef::Legacy(legacy), None, Style::Mixed, 1);
        assert!(matches!(mixed.units[2].unit, UnitId::Province(_)));
    }

    #[test]
    fn typos_never_spell_another_name() {
        let renderer = renderer();
        let maps = renderer.maps();
        for id in maps.legacy_ward_ids().take(500) {
            let rendered = renderer.render(WardRef::Legacy(id), None, Style::Typo, 3);
            for unit in rendered.units.iter().filter(|unit| unit.typo) {
                let key = spaceless(&unit.written_name);
                assert!(!renderer.names.contains(&key), "{}", unit.written_name);
            }
        }
    }
}
