//! Unit candidates: every run of words that names a unit (exactly, by an alias, or one
//! edit away where a name is expected), scored by how it was written.
//!
//! Decisions: a candidate's quality is a product of independent factors — the match
//! (exact, alias, one edit), the marks (the text's against the name's), the marker before
//! it (its type, another type of the level, another level, none) and the context (in a
//! street part) — so that each piece of evidence lowers a reading without vetoing it;
//! the alternative, hard rules ("a unit needs its marker"), failed on the bare and
//! two-level forms people write.

use crate::admin::{LegacyDistrictId, LegacyProvinceId, Level, ProvinceId, UnitId, UnitType};

use super::super::index::{Entry, FUZZY_MIN_LETTERS};
use super::super::lexicon::{Marker, MarkerKind};
use super::super::token::{SEP_DOT, SEP_HARD, SEP_SLASH, TokenKind};
use super::Work;

/// How much each level counts in a reading: a ward says most about a place.
const WEIGHT_WARD: f32 = 1.0;
/// A district and a province confirm a ward alike; a district alone says more than a
/// province alone only through its marker, never by weight.
const WEIGHT_DISTRICT: f32 = 0.5;
const WEIGHT_PROVINCE: f32 = 0.5;

/// Match quality.
const Q_ALIAS: f32 = 0.95;
const Q_ONE_EDIT: f32 = 0.8;
/// The text has marks, and this name's are others ("Sa Pa" written, "Sa Pả" named; or
/// "Phường Nam" read as "Phương Nam").
const Q_OTHER_MARKS: f32 = 0.85;

/// What the word before a name says about it.
const Q_MARKER_OTHER_TYPE: f32 = 0.75;
const Q_MARKER_OTHER_LEVEL: f32 = 0.4;
const Q_NO_MARKER_PROVINCE: f32 = 0.95;
const Q_NO_MARKER: f32 = 0.9;
/// In the street part: after "Đường", "Ngõ", "Tổ", "Số" or a house number, in the same
/// comma part and before any unit marker. A street or hamlet name there, most likely.
const Q_IN_STREET_PART: f32 = 0.3;
/// A name inside a longer name found at the same place ("Vũng Tàu" in "Bà Rịa - Vũng
/// Tàu"): the longer one is what was written, most likely.
const Q_INSIDE_LONGER: f32 = 0.6;
/// A name inside a longer one that is its whole comma part, or is written after its own
/// marker ("Chí Minh" in "Thành phố Hồ Chí Minh" or in a part "Hồ Chí Minh"): the longer
/// one is what was written, all but surely.
const Q_INSIDE_WHOLE: f32 = 0.3;
/// A ward or district name written alone that is also a province's name ("Tuyên Quang",
/// "Lào Cai"): alone, people mean the province; the unit of that name stays an alternative.
const Q_NAMED_LIKE_PROVINCE: f32 = 0.45;
/// A name read from the words of a unit marker whose own name follows it ("Thành" of
/// "Thành phố Hà Nội" read as Xã Thanh, "Tỉnh Gia" of "Tỉnh Gia Lai" as Tĩnh Gia).
const Q_EATS_MARKER: f32 = 0.3;

/// What the candidates of one span of words say, for lowering the names inside it.
struct SpanFacts {
    start: usize,
    end: usize,
    /// A candidate on it is strong, or covers a whole comma part.
    whole: bool,
    /// A candidate on it is a province.
    province: bool,
    /// The earliest marker start of a strong candidate on it.
    strong_cover: Option<usize>,
}

/// What a candidate's unit lies in, looked up once so that fitting parents is a compare.
#[derive(Debug, Clone, Copy)]
pub(super) enum Up<'p> {
    LegacyWard {
        district: LegacyDistrictId,
        province: LegacyProvinceId,
        provinces_2025: &'p [ProvinceId],
    },
    Ward {
        province: ProvinceId,
        source_districts: &'p [LegacyDistrictId],
    },
    LegacyDistrict {
        province: LegacyProvinceId,
        provinces_2025: &'p [ProvinceId],
    },
    LegacyProvince {
        provinces_2025: &'p [ProvinceId],
    },
    Province,
}

/// A unit some words of the text may name.
#[derive(Debug, Clone, Copy)]
pub(super) struct Cand<'p> {
    /// First token of the name.
    pub(super) start: usize,
    /// One past its last token.
    pub(super) end: usize,
    /// First token covered: the unit marker's when one is read with it.
    pub(super) cover_start: usize,
    pub(super) unit: UnitId,
    /// Quality in (0, 1]: match, marks, marker and context.
    pub(super) quality: f32,
    /// Quality times the level's weight.
    pub(super) value: f32,
    /// Exact name (or alias) after a unit marker of its type.
    pub(super) strong: bool,
    pub(super) up: Up<'p>,
}

impl Cand<'_> {
    pub(super) fn overlaps(&self, other: &Cand<'_>) -> bool {
        self.cover_start < other.end && other.cover_start < self.end
    }

    pub(super) fn adjacent(&self, other: &Cand<'_>) -> bool {
        self.end == other.cover_start || other.end == self.cover_start
    }
}

fn level_weight(level: Level) -> f32 {
    match level {
        Level::Ward => WEIGHT_WARD,
        Level::District => WEIGHT_DISTRICT,
        Level::Province => WEIGHT_PROVINCE,
    }
}

/// How well a unit marker fits a unit: 1 for its type, less for another type of the
/// level, least for another level. "Thành phố" is a type of province and of district.
fn marker_fit(marker_type: UnitType, unit: UnitId, unit_type: UnitType) -> f32 {
    if marker_type == unit_type {
        return 1.0;
    }
    let level = unit.level();
    let same_level = match marker_type {
        UnitType::ThanhPho => matches!(level, Level::Province | Level::District),
        other => other.level() == level,
    };
    if same_level {
        Q_MARKER_OTHER_TYPE
    } else {
        Q_MARKER_OTHER_LEVEL
    }
}

impl Work<'_> {
    /// `span_sig` is the signature of the words `start..end` (`Tokens::span_sig`), taken
    /// once by the caller for all the units those words name; unused for a one-edit match.
    pub(super) fn add_cand(
        &mut self,
        start: usize,
        end: usize,
        span_sig: u32,
        entry: &Entry,
        one_edit: bool,
    ) {
        let unit = entry.unit;
        let level = unit.level();
        let before = self.marker_before[start].filter(|marker| {
            // A marker and its name are one part of the address.
            self.tokens.tokens[start].sep & SEP_HARD == 0 && marker.end() == start
        });
        let unit_marker = match before {
            Some(Marker {
                kind: MarkerKind::Unit(marker_type),
                start: marker_start,
                ..
            }) => Some((marker_type, marker_start)),
            _ => None,
        };
        if entry.numeric {
            // "7" alone is a house number unless a marker of its level says otherwise.
            let fits = unit_marker.is_some_and(|(marker_type, _)| {
                marker_fit(marker_type, unit, entry.unit_type) > Q_MARKER_OTHER_LEVEL
            });
            if !fits {
                return;
            }
        }
        let q_match = if one_edit {
            Q_ONE_EDIT
        } else if entry.alias {
            Q_ALIAS
        } else {
            1.0
        };
        let marks_agree = one_edit || !self.tokens.any_marked || span_sig == entry.sig;
        let q_marks = if marks_agree { 1.0 } else { Q_OTHER_MARKS };
        let (q_marker, cover_start, marker_agrees) = match unit_marker {
            Some((marker_type, marker_start)) => {
                let fit = marker_fit(marker_type, unit, entry.unit_type);
                (fit, marker_start, fit >= 1.0)
            }
            None if level == Level::Province => (Q_NO_MARKER_PROVINCE, start, false),
            None => (Q_NO_MARKER, start, false),
        };
        if one_edit && unit_marker.is_some() && q_marker <= Q_MARKER_OTHER_LEVEL {
            // A typo and a marker of another level ("Quận Không" for Xã Krong): two doubts
            // in one name are no reading.
            return;
        }
        let q_context = if unit_marker.is_none() && self.in_street_part[start] {
            Q_IN_STREET_PART
        } else {
            1.0
        };
        let quality = q_match * q_marks * q_marker * q_context;
        let maps = self.maps();
        let up = match unit {
            UnitId::LegacyWard(id) => {
                let ward = maps.legacy_ward(id);
                Up::LegacyWard {
                    district: ward.district,
                    province: ward.province,
                    provinces_2025: &maps.legacy_province(ward.province).provinces_2025,
                }
            }
            UnitId::Ward(id) => {
                let ward = maps.ward(id);
                Up::Ward {
                    province: ward.province,
                    source_districts: &ward.source_districts,
                }
            }
            UnitId::LegacyDistrict(id) => {
                let district = maps.legacy_district(id);
                Up::LegacyDistrict {
                    province: district.province,
                    provinces_2025: &maps.legacy_province(district.province).provinces_2025,
                }
            }
            UnitId::LegacyProvince(id) => Up::LegacyProvince {
                provinces_2025: &maps.legacy_province(id).provinces_2025,
            },
            UnitId::Province(_) => Up::Province,
        };
        self.cands.push(Cand {
            start,
            end,
            cover_start,
            unit,
            quality,
            value: quality * level_weight(level),
            strong: marker_agrees && !one_edit,
            up,
        });
    }

    /// Every run of words that is a name, with every unit it names.
    pub(super) fn exact_candidates(&mut self) {
        let index = &self.parser.index;
        let n = self.n();
        for start in 0..n {
            if self.tokens.tokens[start].kind == TokenKind::Foreign {
                continue;
            }
            let last = n.min(start + index.max_words());
            for end in start + 1..=last {
                if end - 1 > start
                    && self.tokens.tokens[end - 1].sep & (SEP_HARD | SEP_SLASH | SEP_DOT) != 0
                {
                    break;
                }
                let Some(found) = index.lookup(self.tokens.span_key(start, end)) else {
                    break;
                };
                if !found.entries.is_empty() {
                    let span_sig = if self.tokens.any_marked {
                        self.tokens.span_sig(start, end)
                    } else {
                        0
                    };
                    for entry in found.entries {
                        self.add_cand(start, end, span_sig, entry, false);
                    }
                }
                if !found.prefix {
                    break;
                }
            }
        }
    }

    /// Lowers candidates whose words lie strictly inside another candidate's (exact or one
    /// edit away: "Thắng" inside "Ahường Thắng" after "Xã").
    ///
    /// Also lowers a name read from a unit marker's own words when a name of the marker's
    /// type follows the marker ("Thành" of "Thành phố Hà Nội").
    pub(super) fn demote_inner_names(&mut self) {
        // Against the distinct spans, not every other candidate: spans are a handful per
        // text, candidates can be many ("Phường 1" names 80), and this ran quadratic.
        let mut spans: Vec<SpanFacts> = Vec::with_capacity(self.cands.len());
        for cand in &self.cands {
            let whole = cand.strong || self.is_whole_part(cand.cover_start, cand.end);
            let province = matches!(cand.unit, UnitId::Province(_) | UnitId::LegacyProvince(_));
            let strong_cover = cand.strong.then_some(cand.cover_start);
            match spans
                .iter_mut()
                .find(|span| (span.start, span.end) == (cand.start, cand.end))
            {
                Some(span) => {
                    span.whole |= whole;
                    span.province |= province;
                    span.strong_cover = match (span.strong_cover, strong_cover) {
                        (Some(a), Some(b)) => Some(a.min(b)),
                        (a, b) => a.or(b),
                    };
                }
                None => spans.push(SpanFacts {
                    start: cand.start,
                    end: cand.end,
                    whole,
                    province,
                    strong_cover,
                }),
            }
        }
        for cand in &mut self.cands {
            let (start, end) = (cand.start, cand.end);
            let mut factor = 1.0_f32;
            for span in &spans {
                if span.start <= start && end <= span.end && (span.start, span.end) != (start, end)
                {
                    let q = if span.whole {
                        Q_INSIDE_WHOLE
                    } else {
                        Q_INSIDE_LONGER
                    };
                    factor = factor.min(q);
                }
                if span
                    .strong_cover
                    .is_some_and(|cover| cover <= start && start < span.start)
                {
                    factor = factor.min(Q_EATS_MARKER);
                }
            }
            let unmarked_lower = cand.cover_start == cand.start
                && !matches!(cand.unit, UnitId::Province(_) | UnitId::LegacyProvince(_));
            if unmarked_lower
                && spans
                    .iter()
                    .any(|span| span.province && (span.start, span.end) == (start, end))
            {
                factor = factor.min(Q_NAMED_LIKE_PROVINCE);
            }
            if factor < 1.0 {
                cand.quality *= factor;
                cand.value *= factor;
                cand.strong = false;
            }
        }
    }

    /// Whether tokens `start..end` are a whole comma part of the text.
    fn is_whole_part(&self, start: usize, end: usize) -> bool {
        let tokens = &self.tokens.tokens;
        let starts_part = start == 0 || tokens[start].sep & SEP_HARD != 0;
        let ends_part = end == self.n() || tokens[end].sep & SEP_HARD != 0;
        starts_part && ends_part
    }

    /// Where the name after a marker at `start` can end: the end of its part, or the next
    /// unit marker that is surely one (written with its marks, or before a number or
    /// after a dot: "Quận", "Q.", "P7"); a bare "quan" or "h" may be part of the name
    /// ("Quan Sơn", "Ea H'Leo").
    pub(super) fn name_boundary(&self, start: usize) -> usize {
        let tokens = &self.tokens.tokens;
        let mut idx = start + 1;
        while idx < self.n() {
            if tokens[idx].sep & SEP_HARD != 0 {
                break;
            }
            if let Some(marker) = self.markers[idx]
                && marker.kind.is_unit()
            {
                let next = tokens.get(marker.end());
                let sure = tokens[idx].marked
                    || next.is_some_and(|next| {
                        next.kind == TokenKind::Number || next.sep & SEP_DOT != 0
                    });
                if sure {
                    break;
                }
            }
            idx += 1;
        }
        idx
    }

    /// Names one edit away, tried only where a name is expected and none was found: after
    /// a unit marker, and for a whole part of the address that matched nothing.
    pub(super) fn one_edit_candidates(&mut self) {
        let n = self.n();
        let max_words = self.parser.index.max_words();
        let mut spans: Vec<(usize, usize)> = Vec::new();
        for start in 0..n {
            let Some(marker) = self.marker_before[start] else {
                continue;
            };
            if !marker.kind.is_unit() || self.tokens.tokens[start].sep & SEP_HARD != 0 {
                continue;
            }
            let boundary = self.name_boundary(start);
            let found = self
                .cands
                .iter()
                .any(|cand| cand.start == start && cand.end == boundary);
            if !found {
                for end in start + 1..=boundary.min(start + max_words) {
                    spans.push((start, end));
                }
            }
        }
        let mut part_start = 0;
        for idx in 1..=n {
            if idx < n && self.tokens.tokens[idx].sep & SEP_HARD == 0 {
                continue;
            }
            let (start, end) = (part_start, idx);
            part_start = idx;
            let words_only = self.tokens.tokens[start..end]
                .iter()
                .all(|token| token.kind == TokenKind::Word);
            let no_markers = (start..end).all(|pos| self.markers[pos].is_none());
            let matched = self
                .cands
                .iter()
                .any(|cand| cand.start < end && start < cand.end);
            if words_only && no_markers && !matched && end - start <= max_words {
                spans.push((start, end));
            }
        }
        let index = &self.parser.index;
        let mut found = Vec::new();
        for (start, end) in spans {
            if self.tokens.span_letters(start, end) + 1 < FUZZY_MIN_LETTERS {
                continue;
            }
            found.clear();
            index.lookup_one_edit(self.tokens.span_key(start, end), &mut found);
            for entry in found.iter().flat_map(|entries| entries.iter()) {
                self.add_cand(start, end, 0, entry, true);
            }
        }
    }
}
