//! The words around names: unit markers ("Phường", "P.", "Q", "TP."), street, alley,
//! hamlet and house-number words, and the province aliases people write.

use std::collections::HashMap;

use crate::admin::UnitType;

use super::index::FxBuild;
use super::token::{SEP_DOT, SEP_HARD, TokenKind, Tokens};

/// What a marker announces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MarkerKind {
    /// An administrative unit of this type follows.
    Unit(UnitType),
    Street,
    /// An alley; the word as it is written in full ("Ngõ", "Hẻm"…).
    Alley(&'static str),
    /// Below the ward: tổ, khu phố, ấp, thôn, xóm…
    Hamlet,
    /// "số", "số nhà": a house number follows.
    House,
    /// "Việt Nam": says nothing about the place.
    Country,
}

impl MarkerKind {
    pub fn is_unit(self) -> bool {
        matches!(self, MarkerKind::Unit(_))
    }
}

/// When a marker word really is one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cond {
    Always,
    /// Written without marks ("ngo", "to", "so"), the word is also a name ("Ngô", "Tô",
    /// "Sở"): only a number after it makes it the marker.
    NumberIfPlain,
    /// A single letter ("Đ.", "Ng.", "K.") is a marker with a dot or a number after it.
    DotOrNumber,
    /// Only before a number ("F7", "SN 12").
    Number,
}

/// (words as written, what they announce, when). Longer forms are tried first.
const MARKERS: &[(&str, MarkerKind, Cond)] = &[
    (
        "thành phố",
        MarkerKind::Unit(UnitType::ThanhPho),
        Cond::Always,
    ),
    ("tp", MarkerKind::Unit(UnitType::ThanhPho), Cond::Always),
    ("t p", MarkerKind::Unit(UnitType::ThanhPho), Cond::Always),
    ("tỉnh", MarkerKind::Unit(UnitType::Tinh), Cond::Always),
    ("quận", MarkerKind::Unit(UnitType::Quan), Cond::Always),
    ("q", MarkerKind::Unit(UnitType::Quan), Cond::Always),
    ("huyện", MarkerKind::Unit(UnitType::Huyen), Cond::Always),
    ("h", MarkerKind::Unit(UnitType::Huyen), Cond::Always),
    ("thị xã", MarkerKind::Unit(UnitType::ThiXa), Cond::Always),
    ("tx", MarkerKind::Unit(UnitType::ThiXa), Cond::Always),
    ("phường", MarkerKind::Unit(UnitType::Phuong), Cond::Always),
    ("p", MarkerKind::Unit(UnitType::Phuong), Cond::Always),
    ("f", MarkerKind::Unit(UnitType::Phuong), Cond::Number),
    ("xã", MarkerKind::Unit(UnitType::Xa), Cond::Always),
    ("x", MarkerKind::Unit(UnitType::Xa), Cond::Always),
    (
        "thị trấn",
        MarkerKind::Unit(UnitType::ThiTran),
        Cond::Always,
    ),
    ("tt", MarkerKind::Unit(UnitType::ThiTran), Cond::Always),
    ("đặc khu", MarkerKind::Unit(UnitType::DacKhu), Cond::Always),
    ("đường", MarkerKind::Street, Cond::Always),
    ("đ", MarkerKind::Street, Cond::DotOrNumber),
    ("đg", MarkerKind::Street, Cond::Always),
    ("phố", MarkerKind::Street, Cond::Always),
    ("quốc lộ", MarkerKind::Street, Cond::Always),
    ("ql", MarkerKind::Street, Cond::Number),
    ("tỉnh lộ", MarkerKind::Street, Cond::Always),
    ("tl", MarkerKind::Street, Cond::Number),
    ("đại lộ", MarkerKind::Street, Cond::Always),
    ("hương lộ", MarkerKind::Street, Cond::Always),
    ("ngõ", MarkerKind::Alley("Ngõ"), Cond::NumberIfPlain),
    ("ng", MarkerKind::Alley("Ngõ"), Cond::DotOrNumber),
    ("ngách", MarkerKind::Alley("Ngách"), Cond::NumberIfPlain),
    ("hẻm", MarkerKind::Alley("Hẻm"), Cond::NumberIfPlain),
    ("hxh", MarkerKind::Alley("Hẻm"), Cond::Number),
    ("kiệt", MarkerKind::Alley("Kiệt"), Cond::NumberIfPlain),
    ("k", MarkerKind::Alley("Kiệt"), Cond::DotOrNumber),
    ("tổ dân phố", MarkerKind::Hamlet, Cond::Always),
    ("tdp", MarkerKind::Hamlet, Cond::Always),
    ("tổ", MarkerKind::Hamlet, Cond::NumberIfPlain),
    ("khu phố", MarkerKind::Hamlet, Cond::Always),
    ("kp", MarkerKind::Hamlet, Cond::Always),
    ("khu", MarkerKind::Hamlet, Cond::NumberIfPlain),
    ("ấp", MarkerKind::Hamlet, Cond::NumberIfPlain),
    ("thôn", MarkerKind::Hamlet, Cond::Always),
    ("xóm", MarkerKind::Hamlet, Cond::Always),
    ("khóm", MarkerKind::Hamlet, Cond::Always),
    ("bản", MarkerKind::Hamlet, Cond::NumberIfPlain),
    ("buôn", MarkerKind::Hamlet, Cond::NumberIfPlain),
    ("đội", MarkerKind::Hamlet, Cond::NumberIfPlain),
    ("số nhà", MarkerKind::House, Cond::Always),
    ("số", MarkerKind::House, Cond::NumberIfPlain),
    ("sn", MarkerKind::House, Cond::Number),
    ("nhà", MarkerKind::House, Cond::Number),
    ("việt nam", MarkerKind::Country, Cond::Always),
    ("vn", MarkerKind::Country, Cond::Always),
];

/// Other names of provinces: (alias, the province's name in the maps). An alias names the
/// province of that name in each map that has one; a legacy-only name reaches its 2025
/// province through the hierarchy. "ĐN" is written for Đà Nẵng and Đồng Nai alike, so it
/// names both and the rest of the address decides.
pub(crate) const PROVINCE_ALIASES: &[(&str, &str)] = &[
    ("hn", "Hà Nội"),
    ("hà tây", "Hà Nội"),
    ("hcm", "Hồ Chí Minh"),
    ("tphcm", "Hồ Chí Minh"),
    ("sài gòn", "Hồ Chí Minh"),
    ("sg", "Hồ Chí Minh"),
    ("đn", "Đà Nẵng"),
    ("đn", "Đồng Nai"),
    ("hp", "Hải Phòng"),
    ("thừa thiên huế", "Huế"),
    ("tt huế", "Huế"),
    ("tth", "Huế"),
    ("brvt", "Bà Rịa - Vũng Tàu"),
    ("br vt", "Bà Rịa - Vũng Tàu"),
    ("đắc lắc", "Đắk Lắk"),
    ("đắc nông", "Đắk Nông"),
    ("bắc cạn", "Bắc Kạn"),
];

#[derive(Debug)]
struct MarkerDef {
    keys: Vec<String>,
    sigs: Vec<u32>,
    /// Whether each word has marks in its proper form.
    marked: Vec<bool>,
    kind: MarkerKind,
    cond: Cond,
}

/// A marker found in a text: where it starts, how many tokens it has, what it announces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Marker {
    pub start: usize,
    pub len: usize,
    pub kind: MarkerKind,
}

impl Marker {
    pub fn end(&self) -> usize {
        self.start + self.len
    }
}

#[derive(Debug)]
pub(crate) struct Lexicon {
    defs: Vec<MarkerDef>,
    by_first_key: HashMap<String, Vec<usize>, FxBuild>,
    /// The longest first word of any marker: longer words need no lookup.
    max_first_len: usize,
}

impl Lexicon {
    pub fn new() -> Lexicon {
        let mut defs: Vec<MarkerDef> = MARKERS
            .iter()
            .map(|&(words, kind, cond)| {
                let tokens = Tokens::tokenize(words);
                MarkerDef {
                    keys: tokens
                        .tokens
                        .iter()
                        .map(|token| tokens.key(token).to_owned())
                        .collect(),
                    sigs: tokens.tokens.iter().map(|token| token.sig).collect(),
                    marked: tokens.tokens.iter().map(|token| token.marked).collect(),
                    kind,
                    cond,
                }
            })
            .collect();
        // Longest first, so that "thị xã" wins over "xã" and "số nhà" over "số".
        defs.sort_by_key(|def| std::cmp::Reverse(def.keys.len()));
        let mut by_first_key: HashMap<String, Vec<usize>, FxBuild> = HashMap::default();
        for (idx, def) in defs.iter().enumerate() {
            if let Some(first) = def.keys.first() {
                by_first_key.entry(first.clone()).or_default().push(idx);
            }
        }
        let max_first_len = by_first_key.keys().map(String::len).max().unwrap_or(0);
        Lexicon {
            defs,
            by_first_key,
            max_first_len,
        }
    }

    /// The longest marker that starts at token `start`, if any.
    pub fn marker_at(&self, tokens: &Tokens, start: usize) -> Option<Marker> {
        let first = tokens.tokens.get(start)?;
        let key = tokens.key(first);
        if key.len() > self.max_first_len {
            return None;
        }
        let candidates = self.by_first_key.get(key)?;
        candidates.iter().find_map(|&def_idx| {
            let def = &self.defs[def_idx];
            self.matches(def, tokens, start).then_some(Marker {
                start,
                len: def.keys.len(),
                kind: def.kind,
            })
        })
    }

    fn matches(&self, def: &MarkerDef, tokens: &Tokens, start: usize) -> bool {
        let end = start + def.keys.len();
        if end > tokens.tokens.len() {
            return false;
        }
        let mut plain = true;
        for (offset, (key, &sig)) in def.keys.iter().zip(&def.sigs).enumerate() {
            let token = &tokens.tokens[start + offset];
            if tokens.key(token) != key || (offset > 0 && token.sep & SEP_HARD != 0) {
                return false;
            }
            // Written with marks, they must be this word's marks: "Quán" is no "Quận".
            if token.marked {
                if token.sig != sig {
                    return false;
                }
                plain = false;
            } else if tokens.any_marked && def.keys.len() > 1 && def.marked[offset] {
                // In a text with marks, a two-word marker is written with them: "Đình
                // Thi Xã Nam Đông" holds no "thị xã".
                return false;
            }
        }
        // A marker announces something: it never ends the text or its part.
        let Some(next) = tokens.tokens.get(end) else {
            return false;
        };
        if next.sep & SEP_HARD != 0 {
            return false;
        }
        let next_is_number = next.kind == TokenKind::Number;
        match def.cond {
            Cond::Always => true,
            Cond::NumberIfPlain => !plain || next_is_number,
            Cond::DotOrNumber => next_is_number || next.sep & SEP_DOT != 0,
            Cond::Number => next_is_number,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> Vec<(usize, MarkerKind)> {
        let lexicon = Lexicon::new();
        let tokens = Tokens::tokenize(text);
        (0..tokens.tokens.len())
            .filter_map(|idx| lexicon.marker_at(&tokens, idx))
            .map(|marker| (marker.start, marker.kind))
            .collect()
    }

    #[test]
    fn markers_need_what_follows_them() {
        assert_eq!(
            kinds("Thị xã Sơn Tây"),
            [
                (0, MarkerKind::Unit(UnitType::ThiXa)),
                (1, MarkerKind::Unit(UnitType::Xa))
            ]
        );
        // "Ngô Quyền" is a street name; "ngo 12" is an alley; "Ngõ Huế" too.
        assert_eq!(kinds("Ngô Quyền"), []);
        assert_eq!(kinds("ngo quyen"), []);
        assert_eq!(kinds("ngo 12"), [(0, MarkerKind::Alley("Ngõ"))]);
        assert_eq!(kinds("Ngõ Huế"), [(0, MarkerKind::Alley("Ngõ"))]);
        assert_eq!(kinds("Đ. Lê Lợi"), [(0, MarkerKind::Street)]);
        assert_eq!(kinds("D Lê Lợi"), []);
        assert_eq!(kinds("F7"), [(0, MarkerKind::Unit(UnitType::Phuong))]);
        assert_eq!(kinds("Quán Thánh"), []);
        // Nothing to announce at the end of a part.
        assert_eq!(kinds("Lê Lợi, Phường"), []);
        assert_eq!(
            kinds("T.P Huế"),
            [
                (0, MarkerKind::Unit(UnitType::ThanhPho)),
                (1, MarkerKind::Unit(UnitType::Phuong))
            ]
        );
    }
}
