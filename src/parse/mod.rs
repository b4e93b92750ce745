//! The address parser: free text → house number, alley, street, hamlet, ward, district,
//! province, each unit resolved in both administrative maps.
//!
//! Pure: no I/O, no async, nothing of the HTTP or storage layers. [`Parser::new`] folds
//! every name of both maps into an index once; [`Parser::parse`] then reads an address in
//! a few microseconds.
//!
//! How it reads: the text is split into words (`token`), folded to ASCII with the marks
//! kept aside (`fold`). Every run of words that is a unit's name (or an alias, or a name
//! one edit away where a name is expected) is a candidate, scored by how it was written
//! (`resolve`): the marker before it ("Phường", "P.", "Q10", "TP."), whether the marks
//! agree, whether a street word or a house number comes before it. Candidates combine
//! into readings — a ward with the district and province around it in the same map, or
//! from the other map — and the best reading wins; readings of different places that
//! score the same make the answer ambiguous. What no unit took is read as house number,
//! alley, street and hamlet (`line`).
//!
//! Decisions:
//! - Marks are optional, case is ignored, đ is d; NFD text is composed first. Where the
//!   text has marks, a name written with the same marks beats one with others ("Sa Pa" vs
//!   "Sa Pả"); text without any marks cannot tell them apart and says so (ambiguous).
//! - A unit is known by its name; the marker is evidence, not a requirement: "Phường X"
//!   prefers a phường X, takes an xã X at a lower score, a district X lower still. A
//!   number alone ("7") is a unit only after a marker of its level ("P7", "Quận 7").
//! - Hierarchy: a ward counts its district and province only when they contain it — a
//!   legacy ward in its legacy district and province, a 2025 ward in its 2025 province.
//!   Across maps at a lower score: a 2025 ward with a legacy district whose wards went
//!   into it ("Phường Sài Gòn, Quận 1"), with a legacy province name ("Bà Rịa - Vũng
//!   Tàu", "Hà Tây" → their 2025 province), a legacy ward with its 2025 province.
//! - Position: units written next to each other in order score a little more, and unmarked
//!   words after a house number in the same comma part are taken for the street first.
//! - Equal readings: when no district is written, the 2025 reading comes first (that is
//!   the 2025 form); with a district, the legacy one. Different places at the same score
//!   → `ambiguous`, all of them in `alternatives`. A legacy ward and the 2025 ward it went
//!   into are one place.
//! - Both maps: a legacy ward gives its 2025 ward (the default target when split, the
//!   others as alternatives); a 2025 ward gives its legacy ward only when exactly one went
//!   into it (within a district written beside it), otherwise `legacy.ward` is `None` and
//!   the candidates are alternatives.
//! - A unit written with its marker that the answer contradicts is a [`Conflict`]; the
//!   answer is then `ambiguous`, with the other reading among the alternatives.
//! - One edit (wrong, missing, extra or swapped letter) in a name of 5+ letters is read,
//!   but only after a unit marker of its level or for a whole comma part that matched
//!   nothing, and at a lower score than any exact name.
//! - Above the ward: a marker's own words are not a name when its unit follows ("Thành
//!   phố Hà Nội"); a name inside a longer one written whole or after its marker is not
//!   read alone ("Chí Minh" in "Hồ Chí Minh"); a bare name that is a province's as well as
//!   a ward's or district's means the province ("Tuyên Quang").
//! - Limits: only the first 160 words are read (the rest is `unused`); street names are
//!   not known, so the street is the first run of words no unit took; a house number
//!   written after the street is not recognised; a bare slash chain "45/3/5" is read as
//!   house 5 in alley "45/3".

pub(crate) mod fold;
mod index;
mod lexicon;
mod line;
pub mod render;
mod resolve;
mod token;

use std::sync::Arc;

use unicode_normalization::{IsNormalized, UnicodeNormalization, is_nfc_quick};

use crate::admin::{
    AdminMaps, LegacyDistrictId, LegacyProvinceId, LegacyWardId, ProvinceId, UnitId, WardId,
};
use crate::code::Postcode;

pub use fold::{fold_words, strip_marks};
pub(crate) use index::within_one_edit;

/// Which map's form the address was written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Structure {
    /// Legacy units: ward, district, province (or a legacy ward without its district).
    Legacy,
    /// The 2025 form: a 2025 ward and its province, no district.
    Y2025,
    /// Units of both maps together ("Phường Sài Gòn, Quận 1").
    Mixed,
    /// No ward or district was read.
    Unknown,
}

impl Structure {
    /// `legacy`, `2025`, `mixed`, `unknown`.
    pub fn as_str(self) -> &'static str {
        match self {
            Structure::Legacy => "legacy",
            Structure::Y2025 => "2025",
            Structure::Mixed => "mixed",
            Structure::Unknown => "unknown",
        }
    }
}

/// The address in the legacy map.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct LegacyView {
    pub province: Option<LegacyProvinceId>,
    pub district: Option<LegacyDistrictId>,
    pub ward: Option<LegacyWardId>,
    /// The legacy ward's postal code (Quyết định 2475), where known.
    pub postcode: Option<Postcode>,
}

/// The address in the 2025 map.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct View2025 {
    pub province: Option<ProvinceId>,
    pub ward: Option<WardId>,
}

/// A unit the text names that the answer contradicts.
#[derive(Debug, Clone, PartialEq)]
pub struct Conflict {
    /// As written, e.g. "Quận 3".
    pub text: String,
    /// What it names.
    pub unit: UnitId,
}

/// One reading of an address.
#[derive(Debug, Clone, PartialEq)]
pub struct Reading {
    pub structure: Structure,
    /// "12A", "7", "12/3".
    pub house_number: Option<String>,
    /// "Ngõ 34", "Hẻm 45/3", or a bare "45/3" from "45/3/5 …".
    pub alley: Option<String>,
    /// As written: "Phố Huế", "pho hue", "Lê Văn Sỹ".
    pub street: Option<String>,
    /// Below the ward: "Tổ 5, Khu phố 3", "Ấp Tân Hòa", "Thôn 2".
    pub hamlet: Option<String>,
    pub legacy: LegacyView,
    pub admin_2025: View2025,
    /// In [0, 1].
    pub confidence: f64,
    /// Another reading of a different place is as good as this one.
    pub ambiguous: bool,
    pub conflicts: Vec<Conflict>,
    /// Text nothing explained.
    pub unused: Vec<String>,
}

/// The answer: the best reading and the others, next best first.
#[derive(Debug, Clone, PartialEq)]
pub struct Parse {
    pub query: String,
    pub reading: Reading,
    pub alternatives: Vec<Reading>,
}

/// Reads addresses against both maps. Build once, share freely (`Sync`).
#[derive(Debug)]
pub struct Parser {
    maps: Arc<AdminMaps>,
    index: index::NameIndex,
    lexicon: lexicon::Lexicon,
}

impl Parser {
    pub fn new(maps: Arc<AdminMaps>) -> Parser {
        let index = index::NameIndex::new(&maps);
        Parser {
            maps,
            index,
            lexicon: lexicon::Lexicon::new(),
        }
    }

    pub fn maps(&self) -> &AdminMaps {
        &self.maps
    }

    /// Reads one address. Never fails: what cannot be read ends in `unused`.
    pub fn parse(&self, query: &str) -> Parse {
        // NFD text (combining marks) is composed first, so that the words and slices
        // handed back are NFC. A byte scan finds the marks before the tokenizer runs, so
        // such text is tokenized once, composed.
        let composed: String;
        let text = if has_combining_mark(query) && is_nfc_quick(query.chars()) != IsNormalized::Yes
        {
            composed = query.nfc().collect();
            &composed
        } else {
            query
        };
        let tokens = token::Tokens::tokenize(text);
        let mut parse = resolve::Work::new(self, text, tokens).run();
        parse.query = query.to_owned();
        parse
    }
}

/// Whether `text` holds a combining diacritical mark (U+0300–U+036F, what the tokenizer
/// reads as a mark of the letter before it): UTF-8 `CC 80`–`CD AF`.
fn has_combining_mark(text: &str) -> bool {
    let bytes = text.as_bytes();
    // `contains` on bytes is a memchr: most text has neither lead byte and is done here.
    if !bytes.contains(&0xCC) && !bytes.contains(&0xCD) {
        return false;
    }
    bytes.windows(2).any(|pair| match pair {
        [0xCC, second] => (0x80..=0xBF).contains(second),
        [0xCD, second] => (0x80..=0xAF).contains(second),
        _ => false,
    })
}

#[cfg(test)]
mod tests {
    use std::sync::OnceLock;

    use super::*;

    fn parser() -> &'static Parser {
        static PARSER: OnceLock<Parser> = OnceLock::new();
        PARSER.get_or_init(|| Parser::new(Arc::new(AdminMaps::load_embedded().expect("maps"))))
    }

    /// "ward, district, province" of a reading in the legacy map, names in full.
    fn legacy(reading: &Reading) -> String {
        let maps = parser().maps();
        let view = &reading.legacy;
        [
            view.ward.map(|id| maps.legacy_ward(id).name.as_str()),
            view.district
                .map(|id| maps.legacy_district(id).name.as_str()),
            view.province
                .map(|id| maps.legacy_province(id).name.as_str()),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(", ")
    }

    fn current(reading: &Reading) -> String {
        let maps = parser().maps();
        let view = &reading.admin_2025;
        [
            view.ward.map(|id| maps.ward(id).name.as_str()),
            view.province.map(|id| maps.province(id).name.as_str()),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(", ")
    }

    fn show(parse: &Parse) -> String {
        let r = &parse.reading;
        format!(
            "{:?} | legacy: {} | 2025: {} | house {:?} alley {:?} street {:?} hamlet {:?} | conf {:.2} amb {} | unused {:?} | conflicts {:?} | {} alternatives",
            r.structure,
            legacy(r),
            current(r),
            r.house_number,
            r.alley,
            r.street,
            r.hamlet,
            r.confidence,
            r.ambiguous,
            r.unused,
            r.conflicts
                .iter()
                .map(|c| c.text.as_str())
                .collect::<Vec<_>>(),
            parse.alternatives.len()
        )
    }

    /// Reads `text` and checks its units in both maps ("ward, district, province" as
    /// [`legacy`] and [`current`] write them) and whether it is ambiguous.
    #[track_caller]
    fn check(text: &str, legacy_units: &str, units_2025: &str, ambiguous: bool) -> Parse {
        let parse = parser().parse(text);
        let reading = &parse.reading;
        assert_eq!(legacy(reading), legacy_units, "{text:?}: {}", show(&parse));
        assert_eq!(current(reading), units_2025, "{text:?}: {}", show(&parse));
        assert_eq!(reading.ambiguous, ambiguous, "{text:?}: {}", show(&parse));
        parse
    }

    const HCM: &str = "Thành phố Hồ Chí Minh";
    const PHUC_XA: &str = "Phường Phúc Xá, Quận Ba Đình, Thành phố Hà Nội";
    const HONG_HA: &str = "Phường Hồng Hà, Thành phố Hà Nội";

    #[test]
    fn reads_the_forms_people_write() {
        // Marks, case, spaces, commas, order, control characters and emoji.
        for text in [
            "Phường Phúc Xá, Quận Ba Đình, Hà Nội",
            "PHƯỜNG PHÚC XÁ, QUẬN BA ĐÌNH, HÀ NỘI",
            "Phuong Phuc Xa,Quan Ba Dinh,Ha Noi",
            "Phuong  Phuc   Xa  Quan Ba Dinh  Ha Noi",
            "Ha Noi, Ba Dinh, Phuc Xa",
            "TP Hà Nội, Q. Ba Đình, P. Phúc Xá, số 12 phố Đội Cấn",
            "Phường Phúc Xá, Ba Đình, HN",
            "Phường Phúc Xá, Quận Ba Đình, Hà Nội\u{0}\u{1b}",
            "😀 Phường Phúc Xá 🏠, Ba Đình, Hà Nội",
            "Phường Phúc Xs, Quận Ba Đình, Hà Nội",
        ] {
            check(text, PHUC_XA, HONG_HA, false);
        }
        let nfd: String = "Phường Phúc Xá, Quận Ba Đình, Hà Nội".nfd().collect();
        check(&nfd, PHUC_XA, HONG_HA, false);
        let ward_12 = format!("Phường 12, Quận 10, {HCM}");
        let hoa_hung = format!("Phường Hòa Hưng, {HCM}");
        check("P12 Q10 TPHCM", &ward_12, &hoa_hung, false);
        check("p.12, q.10, tp.hcm", &ward_12, &hoa_hung, false);
        let ward_7 = format!("Phường 7, Quận 8, {HCM}");
        let binh_dong = format!("Phường Bình Đông, {HCM}");
        for text in [
            "P.07 Q.8 Tp HCM",
            "Phường 7, Quận 8, Sài Gòn",
            "phuong 7 quan 8 sg",
        ] {
            check(text, &ward_7, &binh_dong, false);
        }
        check(
            "Phường Phú Hội, Quận Thuận Hóa, Huế",
            "Phường Phú Hội, Quận Thuận Hóa, Thành phố Huế",
            "Phường Thuận Hóa, Thành phố Huế",
            false,
        );
        check(
            "TT. Tân Phú, H. Tân Phú, Đồng Nai",
            "Thị trấn Tân Phú, Huyện Tân Phú, Tỉnh Đồng Nai",
            "Xã Tân Phú, Tỉnh Đồng Nai",
            false,
        );
        check(
            "Phường Láng Thưnợg, Quận Đống Đa, Thành phố Hà Nội",
            "Phường Láng Thượng, Quận Đống Đa, Thành phố Hà Nội",
            "Phường Láng, Thành phố Hà Nội",
            false,
        );
        check(
            "Số 2, Đường Đinh Công Tráng, Phường Tam Quan ắc, Thị xã Hoài Nhơn, Tỉnh Bình Định",
            "Phường Tam Quan Bắc, Thị xã Hoài Nhơn, Tỉnh Bình Định",
            "Phường Hoài Nhơn Bắc, Tỉnh Gia Lai",
            false,
        );
    }

    #[test]
    fn reads_house_alley_street_and_hamlet() {
        let parse = check(
            "12/3 Hẻm 45 Lê Văn Sỹ, P.13, Q. Phú Nhuận, TP.HCM",
            &format!("Phường 13, Quận Phú Nhuận, {HCM}"),
            &format!("Phường Phú Nhuận, {HCM}"),
            false,
        );
        let reading = &parse.reading;
        assert_eq!(reading.structure, Structure::Legacy);
        assert_eq!(reading.house_number.as_deref(), Some("12/3"));
        assert_eq!(reading.alley.as_deref(), Some("Hẻm 45"));
        assert_eq!(reading.street.as_deref(), Some("Lê Văn Sỹ"));
        assert!(reading.unused.is_empty());

        let parse = check(
            "so 7 ngo 12 pho hue, hai ba trung, ha noi",
            "Quận Hai Bà Trưng, Thành phố Hà Nội",
            "Phường Hai Bà Trưng, Thành phố Hà Nội",
            false,
        );
        let reading = &parse.reading;
        assert_eq!(reading.house_number.as_deref(), Some("7"));
        assert_eq!(reading.alley.as_deref(), Some("Ngõ 12"));
        assert_eq!(reading.street.as_deref(), Some("pho hue"));

        let parse = check(
            "Ngõ 12 ngách 34 số 5 phố Huế, Phường Phố Huế, Quận Hai Bà Trưng, Hà Nội",
            "Phường Phố Huế, Quận Hai Bà Trưng, Thành phố Hà Nội",
            "Phường Hai Bà Trưng, Thành phố Hà Nội",
            false,
        );
        assert_eq!(parse.reading.house_number.as_deref(), Some("5"));
        assert_eq!(parse.reading.alley.as_deref(), Some("Ngõ 12, Ngách 34"));
        assert_eq!(parse.reading.street.as_deref(), Some("phố Huế"));

        let parse = check(
            "Kiệt 12 Đường Lê Lợi, Phường Phú Hội, TP Huế",
            "Phường Phú Hội, Quận Thuận Hóa, Thành phố Huế",
            "Phường Thuận Hóa, Thành phố Huế",
            false,
        );
        assert_eq!(parse.reading.alley.as_deref(), Some("Kiệt 12"));
        assert_eq!(parse.reading.street.as_deref(), Some("Đường Lê Lợi"));

        let parse = check(
            "Đg Lê Lợi, P. Bến Nghé, Q.1, TPHCM",
            &format!("Phường Bến Nghé, Quận 1, {HCM}"),
            &format!("Phường Sài Gòn, {HCM}"),
            false,
        );
        assert_eq!(parse.reading.street.as_deref(), Some("Đg Lê Lợi"));

        let parse = check(
            "Tổ 5, Khu phố 3, P. Linh Trung, TP. Thủ Đức, TP.HCM",
            &format!("Phường Linh Trung, Thành phố Thủ Đức, {HCM}"),
            &format!("Phường Linh Xuân, {HCM}"),
            false,
        );
        assert_eq!(parse.reading.hamlet.as_deref(), Some("Tổ 5, Khu phố 3"));
    }

    #[test]
    fn reads_the_2025_form_and_mixed_names() {
        let parse = check(
            "Phường Sài Gòn, TP. Hồ Chí Minh",
            &format!("Quận 1, {HCM}"),
            &format!("Phường Sài Gòn, {HCM}"),
            false,
        );
        assert_eq!(parse.reading.structure, Structure::Y2025);
        // Several legacy wards went into Phường Sài Gòn: none is picked, all are offered.
        assert!(parse.reading.legacy.ward.is_none());
        assert!(parse.alternatives.len() >= 2, "{}", show(&parse));
        assert!(parse.alternatives.iter().all(|a| a.legacy.ward.is_some()));

        let parse = check(
            "Phường Sài Gòn, Quận 1, TP.HCM",
            &format!("Quận 1, {HCM}"),
            &format!("Phường Sài Gòn, {HCM}"),
            false,
        );
        assert_eq!(parse.reading.structure, Structure::Mixed);
        assert!(parse.reading.conflicts.is_empty());

        // Sài Gòn took no ward of Quận 3: resolved, and the contradiction reported.
        let parse = check(
            "Phường Sài Gòn, Quận 3, TP.HCM",
            &format!("Quận 1, {HCM}"),
            &format!("Phường Sài Gòn, {HCM}"),
            true,
        );
        let conflicts: Vec<&str> = parse
            .reading
            .conflicts
            .iter()
            .map(|c| c.text.as_str())
            .collect();
        assert_eq!(conflicts, ["Quận 3"]);

        check(
            "Xã Hiệp Hòa, Huyện Đức Hòa, Tỉnh Tây Ninh",
            "Xã Hiệp Hòa, Huyện Đức Hòa, Tỉnh Long An",
            "Xã Hiệp Hòa, Tỉnh Tây Ninh",
            false,
        );
        check(
            "Huyện Côn Đảo, Bà Rịa - Vũng Tàu",
            "Huyện Côn Đảo, Tỉnh Bà Rịa - Vũng Tàu",
            &format!("Đặc khu Côn Đảo, {HCM}"),
            false,
        );
    }

    #[test]
    fn equally_good_readings_are_ambiguous_with_both() {
        // "Phường 1" of which province? Many; Hồ Chí Minh took several provinces' wards.
        let parse = parser().parse("Phường 1, Hồ Chí Minh");
        assert!(parse.reading.ambiguous, "{}", show(&parse));
        assert!(parse.alternatives.len() >= 2, "{}", show(&parse));
        let first = parse.reading.confidence;
        assert!(
            parse
                .alternatives
                .iter()
                .all(|a| a.confidence <= first + 1e-9)
        );
        // Without marks "Sa Pa" and "Sa Pả" cannot be told apart.
        let parse = parser().parse("phuong sa pa, sa pa, lao cai");
        assert!(parse.reading.ambiguous, "{}", show(&parse));
        assert!(!parse.alternatives.is_empty());
        // With them they can.
        check(
            "Phường Sa Pả, Thị xã Sa Pa, Lào Cai",
            "Phường Sa Pả, Thị xã Sa Pa, Tỉnh Lào Cai",
            "Phường Sa Pa, Tỉnh Lào Cai",
            false,
        );
    }

    #[test]
    fn a_province_alone_is_the_province() {
        // The marker's words are not a name ("Thành" is no Xã Thanh, "Tỉnh Gia" no Tĩnh
        // Gia), a name inside the province's is not a ward ("Chí Minh"), a province of
        // both maps is one place, and a bare name that is also a ward's is the province.
        for (text, province) in [
            ("Thành phố Hà Nội", "Thành phố Hà Nội"),
            ("Tỉnh Gia Lai", "Tỉnh Gia Lai"),
            ("Hồ Chí Minh", "Thành phố Hồ Chí Minh"),
            ("TP.HCM", "Thành phố Hồ Chí Minh"),
            ("Tuyên Quang", "Tỉnh Tuyên Quang"),
            ("12 Lê Lợi, Thành phố Hồ Chí Minh", "Thành phố Hồ Chí Minh"),
        ] {
            let parse = parser().parse(text);
            let reading = &parse.reading;
            assert_eq!(current(reading), province, "{text:?}: {}", show(&parse));
            assert!(
                !reading.ambiguous && reading.legacy.ward.is_none(),
                "{}",
                show(&parse)
            );
        }
        // A typo after a marker of another level is no reading.
        let parse = parser().parse("Khu tập thể X, Quận Không Có, Tỉnh Không Có");
        assert_eq!(
            parse.reading.legacy,
            LegacyView::default(),
            "{}",
            show(&parse)
        );
        assert_eq!(parse.reading.admin_2025, View2025::default());
    }

    #[test]
    fn text_that_names_nothing_resolves_nothing() {
        let long = "!? ".repeat(3_334);
        for text in [
            "",
            "!!!,,,",
            "😀🏠🇻🇳",
            "\u{0}\u{7}\u{1b}",
            "\u{301}\u{300}",
            long.as_str(),
        ] {
            let parse = parser().parse(text);
            assert_eq!(parse.reading.structure, Structure::Unknown, "{text:?}");
            assert!(parse.reading.legacy.ward.is_none() && parse.reading.admin_2025.ward.is_none());
            assert_eq!(parse.query, text);
        }
        // 10 000 characters of unit words: read up to the word limit, the rest unused.
        let parse = parser().parse(&"Phường 1 ".repeat(1_112));
        assert!(!parse.reading.unused.is_empty());
        assert!((0.0..=1.0).contains(&parse.reading.confidence));
    }
}
