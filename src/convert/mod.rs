//! Conversion: a parsed address in the other map — a legacy address in its 2025 form (the
//! new ward and province, the address text rewritten, the QĐ 2334 postal code) and a 2025
//! address with the legacy wards it covers (and their QĐ 2475 postal codes).
//!
//! Pure: the parse and, when the caller has a coordinate, the 2025 ward holding it (the
//! caller finds it in the boundaries); no I/O.
//!
//! Decisions:
//! - A legacy ward split among several 2025 wards converts to its default target, with
//!   every target listed (default first); a coordinate inside one of the targets decides
//!   instead ([`Method::Point`]). A coordinate in none of them is not trusted over the
//!   text: the default stands and the method says so ([`Method::Default`]).
//! - A 2025 ward written in the text is kept as written ([`Method::Written`]); its legacy
//!   wards are the one the text names, else all that went into it (within a district
//!   written beside it), since no legacy polygons exist to pick one by a coordinate.
//! - The 2025 text keeps what the parser read below the ward (house number, alley,
//!   street, hamlet) as written, then the 2025 ward and province in full, as Vietnam Post
//!   writes them: `12/3 Hẻm 45 Lê Văn Sỹ, Phường Phú Nhuận, Thành phố Hồ Chí Minh`.

pub mod list;

use crate::admin::{AdminMaps, LegacyWardId, ProvinceId, WardId};
use crate::parse::{Reading, Structure};

/// How the 2025 ward was decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// The text names the 2025 ward itself.
    Written,
    /// The legacy ward went whole into one 2025 ward.
    Whole,
    /// The legacy ward was split; its default target (the coordinate, if any, lies in
    /// none of the targets).
    Default,
    /// The legacy ward was split; the coordinate lies in this target.
    Point,
    /// No ward was read: nothing to convert below the province.
    NoWard,
}

impl Method {
    /// `written`, `whole`, `default`, `point`, `no_ward`: the API's and the lists' word.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Written => "written",
            Method::Whole => "whole",
            Method::Default => "default",
            Method::Point => "point",
            Method::NoWard => "no_ward",
        }
    }
}

/// An address in both maps.
#[derive(Debug, Clone, PartialEq)]
pub struct Conversion {
    /// The 2025 ward.
    pub ward: Option<WardId>,
    /// The 2025 province (of the ward, or as read).
    pub province: Option<ProvinceId>,
    pub method: Method,
    /// Every 2025 ward the legacy ward went into, the chosen one first, then the default,
    /// then the others; empty for a 2025-form input.
    pub candidates: Vec<WardId>,
    /// The legacy wards the address lies in: the one read, else those the 2025 ward
    /// covers (within a written district).
    pub legacy_wards: Vec<LegacyWardId>,
    /// The address in the 2025 form; `None` when no ward or province was read.
    pub text: Option<String>,
}

/// Converts one reading; `ward_at_point` is the 2025 ward whose polygon holds the address's
/// coordinate, when one was given.
pub fn convert(maps: &AdminMaps, reading: &Reading, ward_at_point: Option<WardId>) -> Conversion {
    // A legacy ward read (with its district, or alone) is the input's; a 2025 ward read
    // in the 2025 form is.
    let legacy_input = reading
        .legacy
        .ward
        .filter(|_| reading.structure != Structure::Y2025);
    let (ward, method, candidates, legacy_wards) = match legacy_input {
        Some(legacy) => {
            let targets = &maps.legacy_ward(legacy).targets;
            let (ward, method) = match (targets.as_slice(), ward_at_point) {
                ([], _) => (reading.admin_2025.ward, Method::NoWard),
                ([one], _) => (Some(*one), Method::Whole),
                (_, Some(at)) if targets.contains(&at) => (Some(at), Method::Point),
                // The parser may have read a target by the same words ("Phường Ngọc Hà").
                _ => (
                    reading.admin_2025.ward.or(targets.first().copied()),
                    Method::Default,
                ),
            };
            let mut candidates: Vec<WardId> = ward.into_iter().collect();
            candidates.extend(targets.iter().copied().filter(|&t| Some(t) != ward));
            (ward, method, candidates, vec![legacy])
        }
        None => match reading.admin_2025.ward {
            Some(ward) => {
                let legacy_wards = match reading.legacy.ward {
                    Some(legacy) => vec![legacy],
                    None => maps
                        .ward(ward)
                        .sources
                        .iter()
                        .copied()
                        .filter(|&source| {
                            reading.legacy.district.is_none_or(|district| {
                                maps.legacy_ward(source).district == district
                            })
                        })
                        .collect(),
                };
                (Some(ward), Method::Written, Vec::new(), legacy_wards)
            }
            None => (None, Method::NoWard, Vec::new(), Vec::new()),
        },
    };
    let province = ward
        .map(|ward| maps.ward(ward).province)
        .or(reading.admin_2025.province);
    let text = province.map(|province| {
        let line = [
            reading.house_number.as_deref(),
            reading.alley.as_deref(),
            reading.street.as_deref(),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
        [
            Some(line.as_str()).filter(|line| !line.is_empty()),
            reading.hamlet.as_deref(),
            ward.map(|ward| maps.ward(ward).name.as_str()),
            Some(maps.province(province).name.as_str()),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(", ")
    });
    Conversion {
        ward,
        province,
        method,
        candidates,
        legacy_wards,
        text,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, OnceLock};

    use super::*;
    use crate::parse::Parser;

    fn parser() -> &'static Parser {
        static PARSER: OnceLock<Parser> = OnceLock::new();
        PARSER.get_or_init(|| Parser::new(Arc::new(AdminMaps::load_embedded().expect("maps"))))
    }

    fn converted(text: &str, at: Option<WardId>) -> Conversion {
        let parser = parser();
        convert(parser.maps(), &parser.parse(text).reading, at)
    }

    #[test]
    fn a_legacy_address_gets_its_2025_form() {
        let conversion = converted("12/3 Hẻm 45 Lê Văn Sỹ, P.13, Q. Phú Nhuận, TP.HCM", None);
        assert_eq!(
            conversion.text.as_deref(),
            Some("12/3 Hẻm 45 Lê Văn Sỹ, Phường Phú Nhuận, Thành phố Hồ Chí Minh")
        );
        assert_eq!(conversion.legacy_wards.len(), 1);
        assert!(matches!(conversion.method, Method::Whole | Method::Default));
        assert_eq!(conversion.candidates.first().copied(), conversion.ward);
    }

    #[test]
    fn a_split_ward_gives_every_target_and_a_point_decides() {
        let maps = parser().maps();
        let split = maps
            .legacy_ward_ids()
            .find(|&id| maps.legacy_ward(id).targets.len() >= 2)
            .expect("a split legacy ward");
        let ward = maps.legacy_ward(split);
        let district = maps.legacy_district(ward.district);
        let province = maps.legacy_province(ward.province);
        let text = format!("{}, {}, {}", ward.name, district.name, province.name);
        let plain = converted(&text, None);
        assert_eq!(plain.legacy_wards, [split], "{text}");
        assert_eq!(plain.method, Method::Default);
        assert_eq!(plain.candidates.len(), ward.targets.len());
        let other = ward.targets[1];
        let by_point = converted(&text, Some(other));
        assert_eq!(by_point.method, Method::Point);
        assert_eq!(by_point.ward, Some(other));
        assert_eq!(by_point.candidates[0], other);
        // A point in none of the targets does not overrule the text.
        let elsewhere = maps
            .ward_ids()
            .find(|w| !ward.targets.contains(w))
            .expect("ward");
        assert_eq!(converted(&text, Some(elsewhere)).ward, plain.ward);
    }

    #[test]
    fn a_2025_address_gives_the_legacy_wards_it_covers() {
        let conversion = converted("Phường Sài Gòn, TP. Hồ Chí Minh", None);
        assert_eq!(conversion.method, Method::Written);
        assert!(conversion.legacy_wards.len() >= 2);
        assert_eq!(
            conversion.text.as_deref(),
            Some("Phường Sài Gòn, Thành phố Hồ Chí Minh")
        );
        let nothing = converted("!!!", None);
        assert_eq!(
            (nothing.ward, nothing.text, nothing.method),
            (None, None, Method::NoWard)
        );
    }
}
